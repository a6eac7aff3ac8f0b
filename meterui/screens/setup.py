"""The setup wizard: port → meter preset → serial settings → keys → listen test, then save.

Returns the chosen :class:`~meterui.config.Config` through ``dismiss`` (``None`` when cancelled); the
caller saves it, unless the wizard was made with ``save=True``. Port enumeration, the listen test and
saving run in thread workers: nothing here blocks the UI thread. Keys are typed into masked inputs and
never shown, logged or echoed in an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import (
    Button,
    ContentSwitcher,
    Input,
    Label,
    OptionList,
    ProgressBar,
    RadioButton,
    RadioSet,
    Select,
    Static,
)
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState, get_current_worker

from meterui.commissioning import ListenCounts, ListenReport, Verdict, listen
from meterui.config import Config, ConfigError, save_config
from meterui.presets import PARITY_NAMES, PRESETS, Preset, countries, get_preset
from meterui.protocol.decoder import StreamDecoder
from meterui.protocol.errors import KeyFormatError
from meterui.protocol.keys import parse_key
from meterui.sources.base import Source, line_settings
from meterui.sources.serial_port import PortInfo, SerialSource, list_serial_ports

STEPS: list[tuple[str, str]] = [
    ("port", "Port"),
    ("preset", "Meter"),
    ("serial", "Serial"),
    ("keys", "Keys"),
    ("listen", "Listen"),
]
QUESTIONS = {
    "port": "Which serial port is the meter cable plugged into?",
    "preset": "Which meter, or which grid operator?",
    "serial": "Serial settings (the preset filled these in)",
    "keys": "Keys from your grid operator",
    "listen": "Listening to the meter",
}
BAUD_RATES = (300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
PARITIES = ("N", "E", "O")
BYTESIZES = (7, 8)
STOP_BITS = (1, 2)
KEY_FIELDS = {"key": "encryption key", "auth-key": "authentication key"}
FIXES: dict[str, tuple[str, str]] = {
    "no-bytes": ("port", "Change port"),
    "port-error": ("port", "Change port"),
    "no-frames": ("serial", "Serial settings"),
    "bad-frames": ("serial", "Serial settings"),
    "no-key": ("keys", "Enter the key"),
    "wrong-key": ("keys", "Check the keys"),
    "auth-failed": ("keys", "Check the keys"),
    "p1-text": ("preset", "Choose the meter"),
    "module-text": ("preset", "Choose the meter"),
    "undecoded": ("preset", "Choose the meter"),
}
"""Listen verdict code → (the step that fixes it, the fix button's label). After a failing verdict that
button has the focus, and Save needs a second, deliberate press."""

SourceFactory = Callable[[Config], Source]
"""Builds the listen test's source from the chosen settings."""


def _port_prompt(port: PortInfo) -> Text:
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


def _preset_prompt(preset: Preset) -> Text:
    keys = {
        (True, True): "key + auth key",
        (True, False): "key",
        (False, True): "auth key",
        (False, False): "",
    }[(preset.needs_key, preset.needs_auth_key)]
    text = Text.assemble(f"  {preset.name:<26.26} ", (f"{preset.serial:<11}", "dim"))
    if not preset.decoded:
        text.append("not decoded yet" + (f", {keys}" if keys else ""), "italic yellow")
    elif keys:
        text.append(keys, "italic")
    return text


def _stopbits(value: float) -> int:
    return 2 if value >= 2 else 1


class SetupWizard(ModalScreen[Config | None]):
    """Five steps to a working meter connection; ``dismiss(Config)`` on Save, ``None`` on cancel."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "enter", "Next", show=False, priority=True),
    ]
    AUTO_FOCUS = None

    DEFAULT_CSS = """
    SetupWizard {
        align: center middle;
        background: $background 60%;

        #wizard {
            width: 100%; max-width: 110; height: 100%; max-height: 34;
            border: round $accent; border-title-style: bold; background: $surface;
            padding: 0 1;
        }
        #steps { height: 1; color: $text-muted; }
        #question { height: 1; text-style: bold; margin-bottom: 1; }
        ContentSwitcher { height: 1fr; }
        ContentSwitcher > Vertical { height: 1fr; }
        .hint { color: $text-muted; height: auto; }
        .error { color: $text-error; height: auto; }
        .good { color: $text-success; height: auto; }
        .field-label { height: 1; margin-top: 1; }

        #ports { height: 1fr; min-height: 3; }
        #port-row { height: 3; }
        #port-row Input { width: 1fr; }
        #port-row Button { width: 12; margin-left: 1; }

        #presets { height: 1fr; min-height: 4; }
        #preset-details { height: auto; min-height: 3; padding: 0 1; border-left: tall $accent; }

        #serial-grid {
            grid-size: 2; grid-columns: 12 1fr; grid-rows: 1; grid-gutter: 1 1; height: auto;
            margin-bottom: 1;
        }
        #serial-grid Label { width: 100%; }
        #baud-row { height: 1; }
        #baud { width: 16; }
        #baud-other-label { width: auto; margin: 0 1 0 2; }
        #baud-other { width: 12; }
        #serial-grid RadioSet { layout: horizontal; width: auto; height: 1; }
        #serial-grid RadioButton { width: auto; margin-right: 2; }
        #serial-summary { height: auto; }
        #serial-note { margin-top: 1; }

        #keys-status { height: auto; }
        #keys-pane Input { width: 100%; max-width: 60; }

        #listen-status { height: auto; }
        #listen-progress { height: 1; margin: 1 0; }
        #listen-progress Bar { width: 1fr; }
        #counters { height: auto; }
        #verdict { height: auto; min-height: 4; margin-top: 1; padding: 0 1; border: round $border; }
        #verdict.-ok { border: round $success; }
        #verdict.-warn { border: round $warning; }
        #verdict.-error { border: round $error; }
        #verdict.-pending { border: round $border; color: $text-muted; }

        #buttons { height: 3; align-horizontal: right; }
        #buttons Button { margin-left: 1; min-width: 10; }
        #buttons #cancel { margin-left: 0; }
        #buttons .spacer { width: 1fr; }
    }
    """

    class PortsListed(Message):
        """The port list was refreshed (posted from a worker thread)."""

        def __init__(self, ports: list[PortInfo]) -> None:
            super().__init__()
            self.ports = ports

    class ListenProgress(Message):
        """Live counters during a listen test; replaces an unhandled older one."""

        def __init__(self, run: int, counts: ListenCounts) -> None:
            super().__init__()
            self.run = run
            self.counts = counts

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, SetupWizard.ListenProgress)

    class ListenFinished(Message):
        """A listen test ended."""

        def __init__(self, run: int, report: ListenReport) -> None:
            super().__init__()
            self.run = run
            self.report = report

    class Saved(Message):
        """The config file was written (``save=True``), or could not be (``error``)."""

        def __init__(self, config: Config, error: str | None) -> None:
            super().__init__()
            self.config = config
            self.error = error

    def __init__(
        self,
        initial: Config | None = None,
        ports: list[PortInfo] | None = None,
        listen_seconds: float = 5.0,
        *,
        save: bool = False,
        config_file: Path | None = None,
        source_factory: SourceFactory | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """``ports`` fixes the port list (tests, or a caller that already listed them); ``None`` lists
        them in a worker. ``listen_seconds`` is the shortest listen; presets whose meters push less
        often listen one push interval plus a second. ``save=True`` writes the config (to
        ``config_file`` or the default path) before dismissing. ``source_factory`` builds the source
        for the listen test from the chosen settings (default: a :class:`SerialSource`)."""
        super().__init__(name=name, id=id, classes=classes)
        self.initial = initial or Config()
        self._ports: list[PortInfo] = list(ports) if ports is not None else []
        self._list_ports_on_mount = ports is None
        self.listen_seconds = listen_seconds
        self.save = save
        self.config_file = config_file
        self.source_factory = source_factory
        self.step = 0
        self.report: ListenReport | None = None
        self._run = 0
        self._applied_preset: str | None = self.initial.preset
        start = get_preset(self.initial.preset) or get_preset("generic")
        assert start is not None
        self._preset_id: str = start.id
        self._parity = "E"
        self._bytesize = 8
        self._stopbits = 1
        self._save_armed = False
        self._pending_text = ""

    # -- layout ------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        cfg = self.initial
        with Vertical(id="wizard") as box:
            box.border_title = "Set up the meter connection"
            box.border_subtitle = "Enter: next · Esc: cancel"
            yield Static(id="steps")
            yield Label(id="question")
            with ContentSwitcher(initial="port-pane"):
                with Vertical(id="port-pane"):
                    yield OptionList(id="ports")
                    with Horizontal(id="port-row"):
                        yield Input(cfg.port or "", placeholder="/dev/ttyUSB0, socket://host:port or rfc2217://…",
                                    id="port")
                        yield Button("Refresh", id="refresh")
                    yield Static("", id="port-error", classes="error")
                    yield Static("Pick a port, or type a device path or a network URL "
                                 "(socket://host:port for a TCP serial adapter).", classes="hint")
                with Vertical(id="preset-pane"):
                    yield OptionList(*self._preset_options(), id="presets")
                    yield Static(id="preset-details")
                with Vertical(id="serial-pane"):
                    with Grid(id="serial-grid"):
                        yield Label("Baud rate")
                        with Horizontal(id="baud-row"):
                            yield Select([(str(b), b) for b in BAUD_RATES], allow_blank=False, value=2400,
                                         compact=True, id="baud")
                            yield Label("other:", id="baud-other-label")
                            yield Input("", placeholder="e.g. 250000", compact=True, id="baud-other",
                                        restrict=r"\d*", max_length=8)
                        yield Label("Parity")
                        yield self._radio("parity", [f"{PARITY_NAMES[p]} ({p})" for p in PARITIES])
                        yield Label("Data bits")
                        yield self._radio("bytesize", [str(b) for b in BYTESIZES])
                        yield Label("Stop bits")
                        yield self._radio("stopbits", [str(s) for s in STOP_BITS])
                    yield Static(id="serial-summary")
                    yield Static("", id="serial-error", classes="error")
                    yield Static(id="serial-note", classes="hint")
                with Vertical(id="keys-pane"):
                    yield Static(id="keys-status")
                    yield Label("Encryption key", id="key-label", classes="field-label")
                    yield Input(self._key_text(cfg.key), password=True, id="key",
                                placeholder="32 hex digits, e.g. from the letter or the customer portal")
                    yield Static("", id="key-error", classes="error")
                    yield Label("Authentication key", id="auth-key-label", classes="field-label")
                    yield Input(self._key_text(cfg.auth_key), password=True, id="auth-key",
                                placeholder="32 hex digits (only some meters need it)")
                    yield Static("", id="auth-key-error", classes="error")
                    yield Static("Spaces, colons and 0x are fine: paste the key just as you got it.",
                                 classes="hint")
                with Vertical(id="listen-pane"):
                    yield Static(id="listen-status")
                    yield ProgressBar(total=100, show_eta=False, id="listen-progress")
                    yield Static(id="counters")
                    yield Static(id="verdict", classes="-pending")
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="cancel")
                yield Static(classes="spacer")
                yield Button("Back", id="back")
                yield Button("Next", id="next", variant="primary")
                yield Button("Listen again", id="again")
                yield Button("Fix", id="fix", variant="primary")
                yield Button("Save", id="save", variant="success")

    def _radio(self, name: str, labels: list[str]) -> RadioSet:
        radio = RadioSet(*[RadioButton(label) for label in labels], id=name)
        radio.compact = True
        return radio

    @staticmethod
    def _key_text(key: bytes | None) -> str:
        return key.hex().upper() if key else ""

    def _preset_options(self) -> list[Option]:
        options: list[Option] = []
        for country in countries():
            options.append(Option(Text(country, "bold"), id=f"country-{country}", disabled=True))
            options.extend(Option(_preset_prompt(p), id=p.id) for p in PRESETS if p.country == country)
        return options

    def on_mount(self) -> None:
        self._show_ports(self._ports)
        if self._list_ports_on_mount:
            self._refresh_ports()
        presets = self.query_one("#presets", OptionList)
        presets.highlighted = presets.get_option_index(self._preset_id)
        self._set_serial(self.initial.baudrate, self.initial.parity, self.initial.bytesize, self.initial.stopbits)
        self._show_preset_details()
        self._validate_key("key")
        self._validate_key("auth-key")
        self._show_step()

    # -- properties --------------------------------------------------------------------------------
    @property
    def step_id(self) -> str:
        return STEPS[self.step][0]

    @property
    def preset(self) -> Preset:
        preset = get_preset(self._preset_id)
        assert preset is not None
        return preset

    @property
    def listen_duration(self) -> float:
        """The listen test's length: ``listen_seconds``, or one push interval plus a second."""
        interval = self.preset.interval
        return max(self.listen_seconds, interval + 1) if interval else self.listen_seconds

    # -- navigation --------------------------------------------------------------------------------
    def _show_step(self) -> None:
        parts = Text()
        for i, (_, label) in enumerate(STEPS):
            if i:
                parts.append("  ›  ", "dim")
            style = "bold reverse" if i == self.step else ("" if i < self.step else "dim")
            parts.append(f" {i + 1} {label} ", style)
        self.query_one("#steps", Static).update(parts)
        self.query_one("#question", Label).update(QUESTIONS[self.step_id])
        self.query_one(ContentSwitcher).current = f"{self.step_id}-pane"
        last = self.step == len(STEPS) - 1
        self.query_one("#back", Button).display = self.step > 0
        self.query_one("#next", Button).display = not last
        self.query_one("#again", Button).display = last
        self.query_one("#save", Button).display = last
        self.query_one("#fix", Button).display = last and self._fix_step() is not None
        if self.step_id == "keys":
            self._show_keys_status()
        elif self.step_id == "serial":
            self._show_serial_summary()
        self._focus_step()

    def _focus_step(self) -> None:
        target = {
            "port": "#ports" if self._ports else "#port",
            "preset": "#presets",
            "serial": "#baud",
            "keys": "#key",
            "listen": None,  # nothing while listening (Enter must not save untested settings): see _show_verdict
        }[self.step_id]
        if target is None:
            self.set_focus(None)
        else:
            self.query_one(target).focus()

    def action_enter(self) -> None:
        """Enter moves on from anywhere, except on a button (which it presses) or an open drop-down."""
        focused = self.focused
        if isinstance(focused, Button) or (focused is not None and any(
                isinstance(node, Select) and node.expanded for node in focused.ancestors_with_self)):
            raise SkipAction()
        self.action_next()

    def action_next(self) -> None:
        if self.step_id == "listen" or not self._leave_step():
            return
        self.step += 1
        self._show_step()
        if self.step_id == "listen":
            self.start_listen()

    def action_back(self) -> None:
        if self.step == 0:
            return
        if self.step_id == "listen":
            self._stop_listen()
        self.step -= 1
        self._show_step()

    def action_cancel(self) -> None:
        self._stop_listen()
        self.dismiss(None)

    def _leave_step(self) -> bool:
        """Check the current step before moving on; show what is wrong and return ``False`` if not."""
        step = self.step_id
        if step == "port":
            if not self.port:
                self.query_one("#port-error", Static).update("Choose a port from the list, or type one.")
                self.query_one("#port", Input).focus()
                return False
            self.query_one("#port-error", Static).update("")
        elif step == "preset":
            self._apply_preset()
        elif step == "serial":
            if self._baudrate() is None:
                self.query_one("#serial-error", Static).update("The other baud rate must be a number from 50 "
                                                               "to 4000000.")
                self.query_one("#baud-other", Input).focus()
                return False
        elif step == "keys":
            bad = [field for field in KEY_FIELDS if not self._validate_key(field)]
            if bad:
                self.query_one(f"#{bad[0]}", Input).focus()
                return False
        return True

    @on(Button.Pressed, "#next")
    def _next_pressed(self) -> None:
        self.action_next()

    @on(Button.Pressed, "#back")
    def _back_pressed(self) -> None:
        self.action_back()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    @on(Input.Submitted)
    def _input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_next()

    # -- step 1: port ------------------------------------------------------------------------------
    @property
    def port(self) -> str:
        return self.query_one("#port", Input).value.strip()

    def _show_ports(self, ports: list[PortInfo]) -> None:
        self._ports = ports
        lst = self.query_one("#ports", OptionList)
        lst.clear_options()
        if not ports:
            lst.add_option(Option(Text("No serial ports found. Plug in the adapter and press Refresh, or "
                                       "type the port below.", "italic"), disabled=True))
            return
        lst.add_options(Option(_port_prompt(p), id=p.device) for p in ports)
        current = self.port
        index = next((i for i, p in enumerate(ports) if p.device == current), None)
        if index is None and not current:
            index = 0
            self.query_one("#port", Input).value = ports[0].device
        lst.highlighted = index

    @on(OptionList.OptionHighlighted, "#ports")
    def _port_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id is not None:
            self.query_one("#port", Input).value = event.option.id
            self.query_one("#port-error", Static).update("")

    @on(Button.Pressed, "#refresh")
    def _refresh_pressed(self) -> None:
        self._refresh_ports()

    @work(thread=True, exclusive=True, group="ports", exit_on_error=False)
    def _refresh_ports(self) -> None:
        ports = list_serial_ports()
        self.post_message(self.PortsListed(ports))

    def on_setup_wizard_ports_listed(self, message: PortsListed) -> None:
        self._show_ports(message.ports)

    # -- step 2: preset ----------------------------------------------------------------------------
    @on(OptionList.OptionHighlighted, "#presets")
    def _preset_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id is not None and get_preset(event.option.id) is not None:
            self._preset_id = event.option.id
            self._show_preset_details()

    def _show_preset_details(self) -> None:
        p = self.preset
        needs = {
            (True, True): "needs the encryption key and the authentication key",
            (True, False): "needs the encryption key",
            (False, True): "needs the authentication key",
            (False, False): "no keys needed",
        }[(p.needs_key, p.needs_auth_key)]
        text = Text.assemble((p.label, "bold"), f" · {p.meters}\n", (p.serial, "bold"), f" · {needs}")
        if not p.decoded:
            text.append(" · not decoded by meterui yet", "bold yellow")
        if p.note:
            text.append(f"\n{p.note}", "italic")
        self.query_one("#preset-details", Static).update(text)

    def _apply_preset(self) -> None:
        """Fill the serial settings from the chosen preset, unless it is the one already applied."""
        if self._preset_id == self._applied_preset:
            return
        p = self.preset
        self._applied_preset = p.id
        if p.id != "generic":
            self._set_serial(p.baudrate, p.parity, p.bytesize, p.stopbits)

    # -- step 3: serial settings -------------------------------------------------------------------
    def _set_serial(self, baudrate: int, parity: str, bytesize: int, stopbits: float) -> None:
        other = self.query_one("#baud-other", Input)
        if baudrate in BAUD_RATES:
            self.query_one("#baud", Select).value = baudrate
            other.value = ""
        else:
            other.value = str(baudrate)
        self._parity = parity.upper() if parity.upper() in PARITIES else "N"
        self._bytesize = bytesize if bytesize in BYTESIZES else 8
        self._stopbits = _stopbits(stopbits)
        for name, index in (("parity", PARITIES.index(self._parity)), ("bytesize", BYTESIZES.index(self._bytesize)),
                            ("stopbits", STOP_BITS.index(self._stopbits))):
            list(self.query_one(f"#{name}", RadioSet).query(RadioButton))[index].value = True
        self._show_serial_summary()

    def _baudrate(self) -> int | None:
        other = self.query_one("#baud-other", Input).value.strip()
        if other:
            rate = int(other) if other.isdigit() else 0
            return rate if 50 <= rate <= 4_000_000 else None
        value = self.query_one("#baud", Select).value
        return value if isinstance(value, int) else 2400

    def serial_settings(self) -> tuple[int, str, int, int]:
        """(baud rate, parity, data bits, stop bits) as currently set (an invalid typed rate → 2400)."""
        return self._baudrate() or 2400, self._parity, self._bytesize, self._stopbits

    def _show_serial_summary(self) -> None:
        baud, parity, bytesize, stop = self.serial_settings()
        line = line_settings(baud, bytesize, parity, stop)
        p = self.preset
        text = Text.assemble("Settings: ", (line, "bold"))
        if p.id != "generic":
            if line == p.serial:
                text.append(f"  (as the {p.label} preset)", "dim")
            else:
                text.append(f"  (the {p.label} preset says {p.serial})", "yellow")
        self.query_one("#serial-summary", Static).update(text)
        self.query_one("#serial-note", Static).update(p.note if p.id != "generic" else "")

    @on(RadioSet.Changed)
    def _radio_changed(self, event: RadioSet.Changed) -> None:
        if event.index < 0:
            return
        if event.radio_set.id == "parity":
            self._parity = PARITIES[event.index]
        elif event.radio_set.id == "bytesize":
            self._bytesize = BYTESIZES[event.index]
        elif event.radio_set.id == "stopbits":
            self._stopbits = STOP_BITS[event.index]
        self._serial_changed()

    @on(Select.Changed, "#baud")
    def _serial_changed(self) -> None:
        self.query_one("#serial-error", Static).update("")
        self._show_serial_summary()

    @on(Input.Changed, "#baud-other")
    def _baud_other_changed(self) -> None:
        self._serial_changed()

    # -- step 4: keys ------------------------------------------------------------------------------
    def _validate_key(self, field: str) -> bool:
        """Check one key input live; the message never contains what was typed."""
        value = self.query_one(f"#{field}", Input).value
        out = self.query_one(f"#{field}-error", Static)
        what = KEY_FIELDS[field]
        try:
            key = parse_key(value, what)
        except KeyFormatError as exc:
            out.set_classes("error")
            out.update(f"✗ {exc.message[:1].upper()}{exc.message[1:]}.")
            return False
        if key is None:
            out.set_classes("hint")
            out.update("")
        else:
            out.set_classes("good")
            out.update("✓ 16 bytes, looks right")
        return True

    @on(Input.Changed, "#key")
    @on(Input.Changed, "#auth-key")
    def _key_changed(self, event: Input.Changed) -> None:
        if event.input.id is not None:
            self._validate_key(event.input.id)
            if self.step_id == "keys":
                self._show_keys_status()

    def _show_keys_status(self) -> None:
        p = self.preset
        if p.needs_key or p.needs_auth_key:
            status = Text.assemble((p.label, "bold"), " encrypts its data: you need the ", (p.keys_text, "bold"),
                                   " from your grid operator (they differ for every meter).")
        elif p.id == "generic":
            status = Text("Only needed if your meter encrypts its data (the listen test will tell you). "
                          "Otherwise leave these empty.")
        else:
            status = Text.assemble((p.label, "bold"), " sends its data unencrypted: no keys needed.")
            filled = [KEY_FIELDS[f] for f in KEY_FIELDS if self.query_one(f"#{f}", Input).value.strip()]
            if filled:
                status.append(f" The {' and the '.join(filled)} filled in below will not be used: clear "
                              f"{'them' if len(filled) > 1 else 'it'}, or go back and pick your meter if it "
                              "does encrypt.")
            else:
                status.append(" Leave these empty.")
        self.query_one("#keys-status", Static).update(status)
        for field, needed in (("key", p.needs_key), ("auth-key", p.needs_auth_key)):
            label = KEY_FIELDS[field].capitalize()
            suffix = " (needed)" if needed else " (not needed for this meter)" if p.id != "generic" else ""
            self.query_one(f"#{field}-label", Label).update(label + suffix)

    def keys(self) -> tuple[bytes | None, bytes | None]:
        """The parsed keys (``None`` for an empty or invalid field)."""
        out: list[bytes | None] = []
        for field in KEY_FIELDS:
            try:
                out.append(parse_key(self.query_one(f"#{field}", Input).value))
            except KeyFormatError:
                out.append(None)
        return out[0], out[1]

    # -- the result --------------------------------------------------------------------------------
    def config(self) -> Config:
        """The settings as chosen so far."""
        baud, parity, bytesize, stop = self.serial_settings()
        key, auth_key = self.keys()
        return replace(self.initial, port=self.port or None, baudrate=baud, parity=parity, bytesize=bytesize,
                       stopbits=stop, preset=self._preset_id, key=key, auth_key=auth_key)

    def _fix_step(self) -> str | None:
        """The step that fixes the last failing listen verdict (``None``: it did not fail, or no step can)."""
        report = self.report
        if report is None or report.verdict.code == "ok":
            return None
        fix = FIXES.get(report.verdict.code)
        return fix[0] if fix is not None else None

    def _failed(self) -> bool:
        return self.report is not None and self.report.verdict.code != "ok"

    @on(Button.Pressed, "#fix")
    def _fix_pressed(self) -> None:
        step = self._fix_step()
        if step is None:
            return
        self._stop_listen()
        self.step = [s for s, _ in STEPS].index(step)
        self._show_step()

    def _set_save(self, *, armed: bool = False) -> None:
        """Save as it should read: plain after a working listen, a deliberate two-step after a failing one."""
        save = self.query_one("#save", Button)
        self._save_armed = armed
        if not self._failed():
            save.label, save.variant = "Save", "success"
        elif armed:
            save.label, save.variant = "Really save?", "error"
        else:
            save.label, save.variant = "Save anyway", "default"

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        if self.step_id == "listen" and self._failed() and not self._save_armed:
            self._set_save(armed=True)
            self.query_one("#listen-status", Static).update(Text.assemble(
                ("These settings did not work in the listen test.", "bold"),
                " Press ", ("Really save?", "bold"), " to save them all the same, or ", (self._fix_label(), "bold"),
                " to fix them."))
            return
        self._stop_listen()
        config = self.config()
        if self.save:
            self.query_one("#save", Button).disabled = True
            self._save_config(config)
        else:
            self.dismiss(config)

    @work(thread=True, exclusive=True, group="save", exit_on_error=False)
    def _save_config(self, config: Config) -> None:
        try:
            save_config(config, self.config_file)
        except ConfigError as exc:
            self.post_message(self.Saved(config, str(exc)))
            return
        self.post_message(self.Saved(config, None))

    def on_setup_wizard_saved(self, message: Saved) -> None:
        if message.error is None:
            self.dismiss(message.config)
            return
        self.query_one("#save", Button).disabled = False
        self._show_verdict(Verdict("error", "Could not save the settings", message.error, "save-error"))

    # -- step 5: listen ----------------------------------------------------------------------------
    def _fix_label(self) -> str:
        report = self.report
        fix = FIXES.get(report.verdict.code) if report is not None else None
        return fix[1] if fix is not None else "Back"

    def start_listen(self) -> None:
        """(Re)start the listen test with the settings chosen so far."""
        self._run += 1
        self.report = None
        self._set_save()
        self.query_one("#fix", Button).display = False
        if self.step_id == "listen":
            self.set_focus(None)
        cfg = self.config()
        seconds = self.listen_duration
        self.query_one("#again", Button).disabled = True
        bar = self.query_one("#listen-progress", ProgressBar)
        bar.update(total=seconds, progress=0)
        self.query_one("#listen-status", Static).update(Text.assemble(
            "Listening on ", (cfg.port or "?", "bold"), " at ", (cfg.describe_serial(), "bold"),
            f" for {seconds:g} s…"))
        self._show_counts(ListenCounts(seconds))
        verdict = self.query_one("#verdict", Static)
        verdict.set_classes("-pending")
        verdict.border_title = None
        self._pending_text = ""
        self._show_pending(ListenCounts(seconds))
        self._listen(self._run, cfg, seconds)

    def _stop_listen(self) -> None:
        self._run += 1  # late messages from the old run are ignored
        self.workers.cancel_group(self, "listen")

    def _make_source(self, cfg: Config) -> Source:
        if self.source_factory is not None:
            return self.source_factory(cfg)
        return SerialSource(cfg.port or "", cfg.baudrate, cfg.parity, cfg.bytesize, cfg.stopbits)

    @work(thread=True, exclusive=True, group="listen", exit_on_error=False)
    def _listen(self, run: int, cfg: Config, seconds: float) -> None:
        worker = get_current_worker()
        source = self._make_source(cfg)
        decoder = StreamDecoder(cfg.key, cfg.auth_key, invert_deviation=cfg.invert_deviation)
        report = listen(source, decoder, seconds,
                        on_progress=lambda counts: self.post_message(self.ListenProgress(run, counts)),
                        should_stop=lambda: worker.is_cancelled)
        if not worker.is_cancelled:
            self.post_message(self.ListenFinished(run, report))

    def on_setup_wizard_listen_progress(self, message: ListenProgress) -> None:
        if message.run == self._run:
            self._show_counts(message.counts)
            self._show_pending(message.counts)

    def _show_pending(self, c: ListenCounts) -> None:
        """While listening, the verdict box says what the counters say so far."""
        if c.decrypt_failed and not c.decrypt_ok:
            text = f"Frames arrive, but {c.decrypt_failed} could not be decrypted so far… still listening."
        elif c.messages_ok or c.checksum_ok:
            n = c.messages_ok or c.checksum_ok
            text = f"Frames arrive: {n} read so far… listening to the end for a verdict."
        elif c.checksum_bad:
            text = f"Frames arrive, but {c.checksum_bad} failed the checksum so far… still listening."
        elif c.bytes_in:
            text = f"{c.bytes_in} bytes so far, no complete frame yet… still listening."
        else:
            text = "Waiting for data from the meter…"
        if text != self._pending_text:
            self._pending_text = text
            self.query_one("#verdict", Static).update(text)

    def on_setup_wizard_listen_finished(self, message: ListenFinished) -> None:
        if message.run != self._run:
            return
        self.report = message.report
        counts = message.report.counts
        self._show_counts(counts)
        cfg = self.config()
        self.query_one("#listen-status", Static).update(Text.assemble(
            "Listened on ", (cfg.port or "?", "bold"), " at ", (cfg.describe_serial(), "bold"),
            f" for {counts.seconds:g} s."))
        self._show_verdict(message.report.verdict)
        self.query_one("#again", Button).disabled = False
        self._after_verdict()

    def _after_verdict(self) -> None:
        """Focus what comes next: Save after a working listen, else what fixes it (Save needs two presses)."""
        self._set_save()
        fix = self.query_one("#fix", Button)
        step = self._fix_step()
        fix.display = step is not None
        if step is not None:
            fix.label = self._fix_label()
        if self.step_id != "listen":
            return
        if not self._failed():
            self.query_one("#save", Button).focus()
        elif step is not None:
            fix.focus()
        else:
            self.query_one("#again", Button).focus()

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        reason = f"{type(error).__name__}: {error}" if error is not None else "unknown error"
        if event.worker.group == "listen":
            self.query_one("#again", Button).disabled = False
            self._show_verdict(Verdict("error", "The listen test failed", reason, "internal-error"))
        elif event.worker.group == "ports":
            self.query_one("#port-error", Static).update(f"Could not list the serial ports ({reason}).")
        elif event.worker.group == "save":
            self.query_one("#save", Button).disabled = False
            self._show_verdict(Verdict("error", "Could not save the settings", reason, "save-error"))

    def _show_counts(self, c: ListenCounts) -> None:
        self.query_one("#listen-progress", ProgressBar).update(total=c.seconds, progress=c.elapsed)
        bad = "bold red" if c.checksum_bad else ""
        failed = "bold red" if c.decrypt_failed else ""
        self.query_one("#counters", Static).update(Text.assemble(
            "Bytes ", (f"{c.bytes_in:<7}", "bold"),
            "Frames ok ", (f"{c.checksum_ok:<4}", "bold"), "bad ", (f"{c.checksum_bad:<5}", bad or "bold"),
            "Decrypted ok ", (f"{c.decrypt_ok:<4}", "bold"), "failed ", (f"{c.decrypt_failed}", failed or "bold"),
        ))

    def _show_verdict(self, verdict: Verdict) -> None:
        widget = self.query_one("#verdict", Static)
        widget.set_classes(f"-{verdict.level}")
        icon = {"ok": "✓", "warn": "!", "error": "✗"}[verdict.level]
        widget.border_title = {"ok": "Result", "warn": "Result: almost", "error": "Result: not yet"}[verdict.level]
        widget.update(Text.assemble((f"{icon} {verdict.title}", "bold"), "\n", verdict.advice))

    @on(Button.Pressed, "#again")
    def _again_pressed(self) -> None:
        self.start_listen()
