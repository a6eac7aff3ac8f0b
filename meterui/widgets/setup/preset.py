"""Wizard step 2: which meter or grid operator (the presets table, grouped by country)."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from meterui.config import Config
from meterui.presets import PRESETS, Preset, countries, get_preset
from meterui.widgets.setup.base import WizardStep

_KEY_WORDS: dict[tuple[bool, bool], tuple[str, str]] = {
    (True, True): ("key + auth key", "needs the encryption key and the authentication key"),
    (True, False): ("key", "needs the encryption key"),
    (False, True): ("auth key", "needs the authentication key"),
    (False, False): ("", "no keys needed"),
}
"""(needs key, needs auth key) → (the list's short words, the details' sentence)."""
_BROUTE_WORDS = ("ID + password", "needs the B-route ID and password")


def _key_words(preset: Preset) -> tuple[str, str]:
    """What the preset asks for: short words for the list, a sentence for the details."""
    if preset.session == "broute":
        return _BROUTE_WORDS
    return _KEY_WORDS[(preset.needs_key, preset.needs_auth_key)]


def preset_prompt(preset: Preset) -> Text:
    keys = _key_words(preset)[0]
    text = Text.assemble(f"  {preset.name:<26.26} ", (f"{preset.serial:<11}", "dim"))
    if not preset.decoded:
        text.append("not decoded yet" + (f", {keys}" if keys else ""), "italic yellow")
    elif keys:
        text.append(keys, "italic")
    return text


def preset_details(p: Preset) -> Text:
    needs = _key_words(p)[1]
    text = Text.assemble((p.label, "bold"), f" · {p.meters}\n", (p.serial, "bold"), f" · {needs}")
    if not p.decoded:
        text.append(" · not decoded by meterui yet", "bold yellow")
    if p.note:
        text.append(f"\n{p.note}", "italic")
    return text


class PresetStep(WizardStep):
    STEP_ID: ClassVar[str] = "preset"
    LABEL: ClassVar[str] = "Meter"
    QUESTION: ClassVar[str] = "Which meter, or which grid operator?"

    class Changed(Message):
        """Another preset is highlighted (the steps that follow may change: B-route)."""

        def __init__(self, preset: Preset) -> None:
            super().__init__()
            self.preset = preset

    def __init__(self, initial: Config) -> None:
        super().__init__(initial)
        start = get_preset(initial.preset) or get_preset("generic")
        assert start is not None
        self.preset: Preset = start

    def compose(self) -> ComposeResult:
        options: list[Option] = []
        for country in countries():
            options.append(Option(Text(country, "bold"), id=f"country-{country}", disabled=True))
            options.extend(Option(preset_prompt(p), id=p.id) for p in PRESETS if p.country == country)
        yield OptionList(*options, id="presets")
        yield Static(id="preset-details")

    def on_mount(self) -> None:
        presets = self.query_one("#presets", OptionList)
        presets.highlighted = presets.get_option_index(self.preset.id)
        self.query_one("#preset-details", Static).update(preset_details(self.preset))

    def shown(self, preset: Preset, config: Config) -> None:
        self.query_one("#presets").focus()

    def apply(self, config: Config) -> Config:
        return replace(config, preset=self.preset.id)

    @on(OptionList.OptionHighlighted, "#presets")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        preset = get_preset(event.option.id)
        if preset is not None and preset is not self.preset:
            self.preset = preset
            self.query_one("#preset-details", Static).update(preset_details(preset))
            self.post_message(self.Changed(preset))
