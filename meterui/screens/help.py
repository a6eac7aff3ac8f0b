"""Help: every key binding, grouped by screen (``?`` or F1)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

GLOBAL_KEYS: list[tuple[str, str]] = [
    ("l", "live dashboard: OBIS table, per-phase sparklines, power plot, line health"),
    ("i", "inspector: frame list, structure tree and annotated hex"),
    ("s", "setup wizard: port, serial settings, meter preset, keys, listen test"),
    ("? / F1", "this help"),
    ("space", "pause / resume the source (replays and live)"),
    ("n", "next message (steps one message when paused)"),
    ("p", "previous frame (opens the inspector)"),
    ("g", "go to frame number…"),
    ("+ / -", "replay speed ×1 → ×10 → max"),
    ("q / Ctrl+C", "quit"),
]
INSPECTOR_KEYS: list[tuple[str, str]] = [
    ("n / p", "next / previous frame"),
    ("g", "go to frame N"),
    ("f", "filter: all → bad only → ok only"),
    ("/", "search for an OBIS code (1.0.1.7.0.255) or hex bytes (7E A0)"),
    ("N", "next search hit"),
    ("tab", "focus: frame list → tree → hex"),
    ("arrows / hjkl", "move in the tree or the hex view (they follow each other)"),
]
LIVE_KEYS: list[tuple[str, str]] = [
    ("enter", "on a reading: open the newest frame that carried it, its bytes highlighted"),
    ("c", "switch between the full charts and a compact strip (the strip suits an 80x24 window)"),
    ("r", "reset min / max"),
]
WIZARD_KEYS: list[tuple[str, str]] = [
    ("enter", "next step"),
    ("escape", "cancel"),
    ("ctrl+v / shift+insert", "paste a key (spaces, colons and 0x are fine)"),
]


def _section(title: str, keys: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in keys)
    rows = "\n".join(f"  [b]{k:<{width}}[/b]  {text}" for k, text in keys)
    return f"[b $accent]{title}[/]\n{rows}\n"


class HelpScreen(ModalScreen[None]):
    """All key bindings. Escape, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,f1", "dismiss", "Close", show=True),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90%; max-width: 100; height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    """

    def compose(self) -> ComposeResult:
        text = "\n".join([
            "[b]meterui[/b]: smart-meter customer-port monitor and frame inspector\n",
            _section("Everywhere", GLOBAL_KEYS),
            _section("Inspector", INSPECTOR_KEYS),
            _section("Live", LIVE_KEYS),
            _section("Setup wizard", WIZARD_KEYS),
            "Keys are never shown: the encryption and authentication keys are masked everywhere.",
        ])
        with VerticalScroll():
            yield Static(text, id="help-text")

    def action_dismiss(self, result: None = None) -> None:  # type: ignore[override]
        self.dismiss(None)
