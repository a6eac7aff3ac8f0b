"""Small defects found by using meterui as a new user would (review round after issues #6–#11).

Each test here failed before its fix.
"""

from __future__ import annotations

import pytest
from textual.binding import Binding

from meterui.screens.help import SECTIONS
from meterui.screens.history import HistoryScreen
from meterui.screens.inspector import InspectorScreen
from meterui.screens.live import LiveScreen

KEY_DISPLAY = {"left": "←", "right": "→", "slash": "/", "question_mark": "?"}


def _help_keys(title: str) -> set[str]:
    """The keys one help section names (``f / F`` names ``f`` and ``F``)."""
    keys: set[str] = set()
    for section, rows in SECTIONS:
        if section.startswith(title):
            for key, _text in rows:
                keys.update(part.strip() for part in key.split(" / "))
    return keys


@pytest.mark.parametrize(
    ("screen", "title"), [(LiveScreen, "Live"), (InspectorScreen, "Inspector"), (HistoryScreen, "History")]
)
def test_help_names_every_key_of_each_screen(screen: type, title: str) -> None:
    named = _help_keys(title)
    assert named, f"no help section for {title}"
    for binding in screen.BINDINGS:
        assert isinstance(binding, Binding)
        key = binding.key.split(",")[0]
        assert KEY_DISPLAY.get(key, key) in named, f"{title}: {key} ({binding.description}) is not in the help"
