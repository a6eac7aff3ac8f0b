"""Wizard step 1: which serial port (listed in a worker, or typed: a device path or a pyserial URL)."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from meterui.config import Config
from meterui.presets import Preset
from meterui.sources.serial_port import PortInfo, list_serial_ports
from meterui.widgets.setup.base import WizardStep


def port_prompt(port: PortInfo) -> Text:
    text = Text.assemble((port.device, "bold"))
    if port.description:
        text.append(f"  {port.description}")
    extra = []
    if port.vid_pid:
        extra.append(port.vid_pid)
    if port.serial_number:
        extra.append(f"SN {port.serial_number}")
    if extra:
        text.append(f"  {'  '.join(extra)}", "dim")
    return text


class PortStep(WizardStep):
    STEP_ID: ClassVar[str] = "port"
    LABEL: ClassVar[str] = "Port"
    QUESTION: ClassVar[str] = "Which serial port is the meter cable plugged into?"

    class Listed(Message):
        """The port list was refreshed (posted from a worker thread)."""

        def __init__(self, ports: list[PortInfo]) -> None:
            super().__init__()
            self.ports = ports

    def __init__(self, initial: Config, ports: list[PortInfo] | None) -> None:
        """``ports`` fixes the list (tests, or a caller that listed them); ``None`` lists them in a worker."""
        super().__init__(initial)
        self._ports: list[PortInfo] = list(ports) if ports is not None else []
        self._list_on_mount = ports is None

    def compose(self) -> ComposeResult:
        yield OptionList(id="ports")
        with Horizontal(id="port-row"):
            yield Input(
                self.initial.port or "", placeholder="/dev/ttyUSB0, socket://host:port or rfc2217://…", id="port"
            )
            yield Button("Refresh", id="refresh")
        yield Static("", id="port-error", classes="error")
        yield Static(
            "Pick a port, or type a device path or a network URL (socket://host:port for a TCP serial adapter).",
            classes="hint",
        )

    def on_mount(self) -> None:
        self._show_ports(self._ports)
        if self._list_on_mount:
            self.refresh_ports()

    @property
    def port(self) -> str:
        return self.query_one("#port", Input).value.strip()

    def shown(self, preset: Preset, config: Config) -> None:
        self.query_one("#ports" if self._ports else "#port").focus()

    def leave(self) -> bool:
        if not self.port:
            self.query_one("#port-error", Static).update("Choose a port from the list, or type one.")
            self.query_one("#port", Input).focus()
            return False
        self.query_one("#port-error", Static).update("")
        return True

    def apply(self, config: Config) -> Config:
        return replace(config, port=self.port or None)

    def _show_ports(self, ports: list[PortInfo]) -> None:
        self._ports = ports
        lst = self.query_one("#ports", OptionList)
        lst.clear_options()
        if not ports:
            lst.add_option(
                Option(
                    Text(
                        "No serial ports found. Plug in the adapter and press Refresh, or type the port below.",
                        "italic",
                    ),
                    disabled=True,
                )
            )
            return
        lst.add_options(Option(port_prompt(p), id=p.device) for p in ports)
        current = self.port
        index = next((i for i, p in enumerate(ports) if p.device == current), None)
        if index is None and not current:
            index = 0
            self.query_one("#port", Input).value = ports[0].device
        lst.highlighted = index

    @on(OptionList.OptionHighlighted, "#ports")
    def _port_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option.id is not None:
            self.query_one("#port", Input).value = event.option.id
            self.query_one("#port-error", Static).update("")

    @on(Button.Pressed, "#refresh")
    def _refresh_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.refresh_ports()

    @work(thread=True, exclusive=True, group="ports", exit_on_error=False)
    def refresh_ports(self) -> None:
        self.post_message(self.Listed(list_serial_ports()))

    def on_port_step_listed(self, message: Listed) -> None:
        self._show_ports(message.ports)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.group == "ports":
            error = event.worker.error
            reason = f"{type(error).__name__}: {error}" if error is not None else "unknown error"
            self.query_one("#port-error", Static).update(f"Could not list the serial ports ({reason}).")
