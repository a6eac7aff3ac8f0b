"""Wizard step 4: the grid operator's keys (masked) and the per-installation meter profile.

Key messages never contain what was typed. The meter profile is the scaling override (``energy=0.1``)
and the time zone for meter clocks without a deviation, both checked with
:func:`meterui.config.meter_profile` (issue #9).
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Input, Label, Static

from meterui.config import Config, meter_profile
from meterui.presets import Preset
from meterui.protocol.errors import KeyFormatError
from meterui.protocol.keys import parse_key
from meterui.widgets.setup.base import WizardStep

KEY_FIELDS = {"key": "encryption key", "auth-key": "authentication key"}
KEY_PLACEHOLDERS = {
    "key": "32 hex digits, e.g. from the letter or the customer portal",
    "auth-key": "32 hex digits (only some meters need it)",
}


def _key_text(key: bytes | None) -> str:
    return key.hex().upper() if key else ""


class KeysStep(WizardStep):
    STEP_ID: ClassVar[str] = "keys"
    LABEL: ClassVar[str] = "Keys"
    QUESTION: ClassVar[str] = "Keys from your grid operator"

    def __init__(self, initial: Config) -> None:
        super().__init__(initial)
        self._preset: Preset | None = None

    def compose(self) -> ComposeResult:
        cfg = self.initial
        yield Static(id="keys-status")
        for field, key in zip(KEY_FIELDS, (cfg.key, cfg.auth_key), strict=True):
            yield Label(KEY_FIELDS[field].capitalize(), id=f"{field}-label", classes="field-label")
            yield Input(_key_text(key), password=True, id=field, compact=True, placeholder=KEY_PLACEHOLDERS[field])
            yield Static("", id=f"{field}-error", classes="error")
        yield Static("Spaces, colons and 0x are fine: paste the key just as you got it.", classes="hint")
        with Horizontal(id="profile-row"):
            yield Label("Scaling:", classes="inline-label")
            yield Input(cfg.scale, placeholder="none, e.g. energy=0.1", compact=True, id="scale")
            yield Label("Time zone:", classes="inline-label")
            yield Input(cfg.timezone, placeholder="system or Europe/Oslo", compact=True, id="timezone")
        yield Static("", id="profile-error", classes="hint")

    def on_mount(self) -> None:
        for field in KEY_FIELDS:
            self.validate_key(field)
        self.validate_profile()

    def shown(self, preset: Preset, config: Config) -> None:
        self._preset = preset
        self._show_status()
        self.query_one("#key").focus()

    def leave(self) -> bool:
        bad = [field for field in KEY_FIELDS if not self.validate_key(field)]
        if bad:
            self.query_one(f"#{bad[0]}", Input).focus()
            return False
        if not self.validate_profile():
            self.query_one("#scale", Input).focus()
            return False
        return True

    def apply(self, config: Config) -> Config:
        key, auth_key = self.keys()
        scale, zone = self.profile()
        return replace(config, key=key, auth_key=auth_key, scale=scale, timezone=zone)

    # -- keys --------------------------------------------------------------------------------------
    def validate_key(self, field: str) -> bool:
        """Check one key input live; the message never contains what was typed."""
        value = self.query_one(f"#{field}", Input).value
        out = self.query_one(f"#{field}-error", Static)
        try:
            key = parse_key(value, KEY_FIELDS[field])
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

    def keys(self) -> tuple[bytes | None, bytes | None]:
        """The parsed keys (``None`` for an empty or invalid field)."""
        out: list[bytes | None] = []
        for field in KEY_FIELDS:
            try:
                out.append(parse_key(self.query_one(f"#{field}", Input).value))
            except KeyFormatError:
                out.append(None)
        return out[0], out[1]

    @on(Input.Changed, "#key")
    @on(Input.Changed, "#auth-key")
    def _key_changed(self, event: Input.Changed) -> None:
        event.stop()
        if event.input.id is not None:
            self.validate_key(event.input.id)
            if self._preset is not None:
                self._show_status()

    def _show_status(self) -> None:
        p = self._preset
        if p is None:
            return
        if p.needs_key or p.needs_auth_key:
            status = Text.assemble(
                (p.label, "bold"),
                " encrypts its data: you need the ",
                (p.keys_text, "bold"),
                " from your grid operator (they differ for every meter).",
            )
        elif p.id == "generic":
            status = Text(
                "Only needed if your meter encrypts its data (the listen test will tell you). "
                "Otherwise leave these empty."
            )
        else:
            status = Text.assemble((p.label, "bold"), " sends its data unencrypted: no keys needed.")
            filled = [KEY_FIELDS[f] for f in KEY_FIELDS if self.query_one(f"#{f}", Input).value.strip()]
            if filled:
                status.append(
                    f" The {' and the '.join(filled)} filled in below will not be used: clear "
                    f"{'them' if len(filled) > 1 else 'it'}, or go back and pick your meter if it "
                    "does encrypt."
                )
            else:
                status.append(" Leave these empty.")
        self.query_one("#keys-status", Static).update(status)
        for field, needed in (("key", p.needs_key), ("auth-key", p.needs_auth_key)):
            label = KEY_FIELDS[field].capitalize()
            suffix = " (needed)" if needed else " (not needed for this meter)" if p.id != "generic" else ""
            self.query_one(f"#{field}-label", Label).update(label + suffix)

    # -- meter profile (issue #9) ------------------------------------------------------------------
    def profile(self) -> tuple[str, str]:
        """(scale text, time zone name) as typed (an empty zone is ``system``)."""
        scale = self.query_one("#scale", Input).value.strip()
        zone = self.query_one("#timezone", Input).value.strip() or "system"
        return scale, zone

    def validate_profile(self) -> bool:
        scale, zone = self.profile()
        out = self.query_one("#profile-error", Static)
        try:
            meter_profile(scale, zone)
        except ValueError as exc:
            out.set_classes("error")
            out.update(f"✗ {' '.join(str(exc).split())}")
            return False
        out.set_classes("hint")
        out.update(
            "Scaling only if readings are 10× off (groups energy, power, voltage, current, pf); "
            "the zone is for meter clocks sent without one."
        )
        return True

    @on(Input.Changed, "#scale")
    @on(Input.Changed, "#timezone")
    def _profile_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.validate_profile()
