"""Help: every key binding, grouped by screen (``?`` or F1).

Each section is a two-column grid, so a description that wraps stays in its column (a hanging indent)
at 80x24 too; the border says how to close the screen, and the scrollbar has its own gutter.
"""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
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
    ("space", "pause / resume the source (replays and live); the footer says which, the state line shows it"),
    (
        "n",
        "next message: steps the source one message (pausing it) on the live screen, or in the inspector"
        " when the newest frame is selected",
    ),
    ("p", "previous frame (opens the inspector)"),
    ("g", "go to frame number…"),
    ("+ / -", "replay speed ×1 → ×10 → max"),
    ("q / Ctrl+C", "quit"),
]
INSPECTOR_KEYS: list[tuple[str, str]] = [
    ("n / p", "next / previous frame; n on the newest steps the source"),
    ("g", "go to frame N"),
    ("f / F", "filter: all → bad only → ok only / by protocol"),
    ("/", "search for an OBIS code (1.0.1.7.0.255) or hex bytes (7E A0)"),
    ("N", "next search hit"),
    ("G", "back to the newest frame, following new ones"),
    ("tab", "focus: frame list → tree → hex"),
    ("arrows", "move in the tree or the hex view (they follow each other); j / k in the hex view too"),
    ("escape", "back to the live dashboard"),
]
LIVE_KEYS: list[tuple[str, str]] = [
    ("enter", "on a reading: open the newest frame that carried it, its bytes highlighted"),
    ("c", "switch between the full charts and a compact strip (the strip suits an 80x24 window)"),
    ("r", "reset min / max"),
    ("h", "B-route session: the meter's 30-minute history"),
]
HISTORY_KEYS: list[tuple[str, str]] = [
    ("← / →", "earlier / later day"),
    ("f", "fetch the last 7 days from the meter"),
    ("escape", "back to the live dashboard"),
]
WIZARD_KEYS: list[tuple[str, str]] = [
    ("enter", "next step"),
    ("escape", "cancel"),
    ("ctrl+v", "paste a key (or shift+insert; spaces, colons and 0x are fine)"),
]


SECTIONS: list[tuple[str, list[tuple[str, str]]]] = [
    ("Everywhere", GLOBAL_KEYS),
    ("Inspector", INSPECTOR_KEYS),
    ("Live", LIVE_KEYS),
    ("History (B-route, h)", HISTORY_KEYS),
    ("Setup wizard", WIZARD_KEYS),
]
CLOSE_HINT = "esc, q or ? closes"


def help_table() -> Table:
    """Every section as rows of a two-column grid: key, then a description that wraps in its column."""
    width = max(len(key) for _, keys in SECTIONS for key, _ in keys)
    grid = Table.grid(padding=(0, 2), expand=True)
    grid.add_column(width=width + 2, no_wrap=True)  # two spaces of indent before the key
    grid.add_column(ratio=1, overflow="fold")
    grid.add_row(Text("meterui", style="bold"), "smart-meter customer-port monitor and frame inspector")
    for title, keys in SECTIONS:
        grid.add_row("", "")
        grid.add_row(Text(title, style="bold underline"), "")
        for key, text in keys:
            grid.add_row(Text("  " + key, style="bold"), text)
    grid.add_row("", "")
    grid.add_row("", "Keys are never shown: the encryption and authentication keys are masked everywhere.")
    return grid


class HelpScreen(ModalScreen[None]):
    """All key bindings. Escape, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,f1", "dismiss", "Close", show=True),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90%; max-width: 100; height: 90%;
        border: round $accent; background: $surface; padding: 0 0 0 1;
        border-subtitle-align: right; border-subtitle-color: $text-muted;
        scrollbar-gutter: stable; scrollbar-size-vertical: 1;
    }
    HelpScreen #help-text { padding-right: 1; }
    """

    def compose(self) -> ComposeResult:
        scroll = VerticalScroll()
        scroll.border_title = "Help"
        scroll.border_subtitle = CLOSE_HINT
        with scroll:
            yield Static(help_table(), id="help-text")

    def action_dismiss(self, result: None = None) -> None:  # type: ignore[override]
        self.dismiss(None)
