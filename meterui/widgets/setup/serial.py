"""Wizard step 3: the line settings (baud rate, parity, data and stop bits), filled in from the preset."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Grid, Horizontal
from textual.widgets import Input, Label, RadioButton, RadioSet, Select, Static

from meterui.config import Config
from meterui.presets import PARITY_NAMES, Preset
from meterui.sources.base import line_settings
from meterui.widgets.setup.base import WizardStep

BAUD_RATES = (300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
PARITIES = ("N", "E", "O")
BYTESIZES = (7, 8)
STOP_BITS = (1, 2)


def _stopbits(value: float) -> int:
    return 2 if value >= 2 else 1


class SerialStep(WizardStep):
    STEP_ID: ClassVar[str] = "serial"
    LABEL: ClassVar[str] = "Serial"
    QUESTION: ClassVar[str] = "Serial settings (the preset filled these in)"

    def __init__(self, initial: Config) -> None:
        super().__init__(initial)
        self._applied_preset: str | None = initial.preset
        self._preset: Preset | None = None
        self._parity = "E"
        self._bytesize = 8
        self._stopbits = 1

    def compose(self) -> ComposeResult:
        with Grid(id="serial-grid"):
            yield Label("Baud rate")
            with Horizontal(id="baud-row"):
                yield Select([(str(b), b) for b in BAUD_RATES], allow_blank=False, value=2400, compact=True, id="baud")
                yield Label("other:", id="baud-other-label")
                yield Input("", placeholder="e.g. 250000", compact=True, id="baud-other", restrict=r"\d*", max_length=8)
            yield Label("Parity")
            yield self._radio("parity", [f"{PARITY_NAMES[p]} ({p})" for p in PARITIES])
            yield Label("Data bits")
            yield self._radio("bytesize", [str(b) for b in BYTESIZES])
            yield Label("Stop bits")
            yield self._radio("stopbits", [str(s) for s in STOP_BITS])
        yield Static(id="serial-summary")
        yield Static("", id="serial-error", classes="error")
        yield Static(id="serial-note", classes="hint")

    @staticmethod
    def _radio(name: str, labels: list[str]) -> RadioSet:
        radio = RadioSet(*[RadioButton(label) for label in labels], id=name)
        radio.compact = True
        return radio

    def on_mount(self) -> None:
        cfg = self.initial
        self.set_serial(cfg.baudrate, cfg.parity, cfg.bytesize, cfg.stopbits)

    def shown(self, preset: Preset, config: Config) -> None:
        self._preset = preset
        self.apply_preset(preset)
        self._show_summary()
        self.query_one("#baud").focus()

    def apply_preset(self, p: Preset) -> None:
        """Fill the settings from the chosen preset, unless it is the one already applied."""
        if p.id == self._applied_preset:
            return
        self._applied_preset = p.id
        if p.id != "generic":
            self.set_serial(p.baudrate, p.parity, p.bytesize, p.stopbits)

    def leave(self) -> bool:
        if self._baudrate() is None:
            self.query_one("#serial-error", Static).update("The other baud rate must be a number from 50 to 4000000.")
            self.query_one("#baud-other", Input).focus()
            return False
        return True

    def apply(self, config: Config) -> Config:
        baud, parity, bytesize, stop = self.serial_settings()
        return replace(config, baudrate=baud, parity=parity, bytesize=bytesize, stopbits=stop)

    def set_serial(self, baudrate: int, parity: str, bytesize: int, stopbits: float) -> None:
        other = self.query_one("#baud-other", Input)
        if baudrate in BAUD_RATES:
            self.query_one("#baud", Select).value = baudrate
            other.value = ""
        else:
            other.value = str(baudrate)
        self._parity = parity.upper() if parity.upper() in PARITIES else "N"
        self._bytesize = bytesize if bytesize in BYTESIZES else 8
        self._stopbits = _stopbits(stopbits)
        for name, index in (
            ("parity", PARITIES.index(self._parity)),
            ("bytesize", BYTESIZES.index(self._bytesize)),
            ("stopbits", STOP_BITS.index(self._stopbits)),
        ):
            list(self.query_one(f"#{name}", RadioSet).query(RadioButton))[index].value = True
        self._show_summary()

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

    def _show_summary(self) -> None:
        baud, parity, bytesize, stop = self.serial_settings()
        line = line_settings(baud, bytesize, parity, stop)
        p = self._preset
        text = Text.assemble("Settings: ", (line, "bold"))
        if p is not None and p.id != "generic":
            if line == p.serial:
                text.append(f"  (as the {p.label} preset)", "dim")
            else:
                text.append(f"  (the {p.label} preset says {p.serial})", "yellow")
        self.query_one("#serial-summary", Static).update(text)
        self.query_one("#serial-note", Static).update(p.note if p is not None and p.id != "generic" else "")

    @on(RadioSet.Changed)
    def _radio_changed(self, event: RadioSet.Changed) -> None:
        event.stop()
        if event.index < 0:
            return
        if event.radio_set.id == "parity":
            self._parity = PARITIES[event.index]
        elif event.radio_set.id == "bytesize":
            self._bytesize = BYTESIZES[event.index]
        elif event.radio_set.id == "stopbits":
            self._stopbits = STOP_BITS[event.index]
        self._changed()

    @on(Select.Changed, "#baud")
    @on(Input.Changed, "#baud-other")
    def _changed(self) -> None:
        self.query_one("#serial-error", Static).update("")
        self._show_summary()
