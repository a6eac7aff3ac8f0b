"""One small line that says what the source is doing: playing, paused, finished, at what speed, and
(on screens that browse messages) whether the view follows the newest message.

The app owns the state: :attr:`MeterApp.play_state <meterui.app.MeterApp.play_state>` is a reactive
:class:`PlayState` the app replaces whenever the user pauses, resumes, steps or changes speed (and
when a batch of messages reports a change). Every :class:`PlayStateView` watches it, so the text is
right on every screen the moment a key is pressed, not at the next frame.

A screen that browses messages sets :attr:`PlayStateView.following` (``True``: the view jumps to
each new message; ``False``: the user is looking at an older one); ``None`` (the default) leaves
that part out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static


@dataclass(frozen=True, slots=True)
class PlayState:
    """What the source is doing, as the UI shows it."""

    source: str = "none"
    """``"none"`` (no source yet), ``"live"`` (a port) or ``"replay"`` (a file)."""
    paused: bool = False
    speed: float = 1.0
    """Replay speed (``math.inf``: as fast as possible); not shown for live sources."""
    finished: bool = False
    """The run is over (end of a replay, or the source stopped)."""


def speed_label(speed: float) -> str:
    return "max" if math.isinf(speed) else f"×{speed:g}"


def describe(state: PlayState, following: bool | None = None) -> Content:
    """The state line, e.g. ``▶ playing ×10 · following newest`` or ``⏸ paused ×1``."""
    parts: list[tuple[str, str] | str] = []
    if state.source == "none":
        parts.append(("○ no source", "$text-muted"))
    elif state.finished:
        parts.append(("■ ended", "bold $text-muted"))
    elif state.paused:
        parts.append(("⏸ paused", "bold $text-warning"))
    elif state.source == "live":
        parts.append(("● live", "bold $text-success"))
    else:
        parts.append(("▶ playing", "bold $text-success"))
    if state.source == "replay":
        parts += [" ", speed_label(state.speed)]
    if following is not None:
        parts += [(" · ", "$text-muted"), "following newest" if following else "browsing"]
    return Content.assemble(*parts)


class PlayStateView(Static):
    """The play state, kept current from the app's ``play_state`` reactive (when the app has one)."""

    DEFAULT_CSS = """
    PlayStateView {
        width: auto;
        height: 1;
        padding: 0 1;
        text-wrap: nowrap;
    }
    """

    following: reactive[bool | None] = reactive(None)
    """Does the host screen follow the newest message? ``None``: not applicable, not shown."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes, markup=False)
        self.state = PlayState()

    def on_mount(self) -> None:
        if isinstance(getattr(self.app, "play_state", None), PlayState):
            self.watch(self.app, "play_state", self.show_state, init=True)
        else:
            self._redraw()

    def show_state(self, state: PlayState) -> None:
        """Show ``state`` (called by the app's reactive; tests may call it directly)."""
        self.state = state
        self._redraw()

    def watch_following(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        self.update(describe(self.state, self.following))

    @property
    def text(self) -> str:
        """The state as plain text (what the user reads)."""
        return describe(self.state, self.following).plain
