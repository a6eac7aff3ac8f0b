"""The line-health strip: where the bytes come from and whether they make sense.

Two lines: the state and the source (``● connected  /dev/ttyUSB0 2400 8E1 · last frame 2s ago ·
every 2.5s``), then the counters (bytes, frames ok/bad, decrypt failures, the last error). The
colour says it at a glance: green healthy, yellow bad frames in the last minute or a silent line,
red disconnected.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from textual.content import Content
from textual.widgets import Static

from meterui.pipeline import PipelineStats
from meterui.widgets.formatting import format_age, format_error

if TYPE_CHECKING:
    from meterui.export.mqtt import ExporterStatus

BAD_WINDOW = 60.0
"""Bad frames within this many seconds turn the strip yellow."""
STALE_MIN = 15.0
"""A live line is "silent" when the last frame is older than max(this, 3 × the push interval)."""
OVERDUE = 1.5
"""A frame is overdue once this many push intervals have passed since the last one. Only then does the strip
show the last frame's age, ticking each second; while frames come on time it says how often they come
(``every 2.5s``) and its counters move with each push, so a quiet second repaints nothing (idle CPU on a Pi,
issue #8)."""

LEVELS = ("ok", "warn", "error", "idle")


def format_bytes(n: int) -> str:
    if n < 1000:
        return f"{n} B"
    for unit, size in (("kB", 1e3), ("MB", 1e6), ("GB", 1e9)):
        if n < size * 1000 or unit == "GB":
            return f"{n / size:.1f} {unit}"
    return f"{n} B"  # pragma: no cover


def format_speed(speed: float) -> str:
    return "max" if math.isinf(speed) else f"×{speed:g}"


def is_replay(stats: PipelineStats) -> bool:
    return stats.source.startswith("replay")


def overdue(age: float, interval: float | None) -> bool:
    """Is a frame ``age`` seconds after the last one overdue, for a meter pushing every ``interval`` seconds
    (``None``: not known yet, so every age is shown)?"""
    return interval is None or age >= OVERDUE * interval


class LineHealth(Static):
    """Source, state and counters of the pipeline. Call :meth:`update_from` with the stats."""

    DEFAULT_CSS = """
    LineHealth {
        height: 2;
        padding: 0 1;
        border-left: outer $success;
        background: $boost;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        &.-warn { border-left: outer $warning; }
        &.-error { border-left: outer $error; }
        &.-idle { border-left: outer $panel-lighten-2; }
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes)
        self.add_class("-idle")
        self.level = "idle"
        self._bad_seen = 0
        self._bad_at: float | None = None
        self._shown: tuple[object, ...] | None = None
        self._exporter: list[tuple[str, str] | str] = []
        """The MQTT exporter's segment of the second line (:meth:`set_exporter`)."""

    def update_from(self, stats: PipelineStats | None, now: float) -> None:
        """Redraw from a stats snapshot; ``now`` is the reference for the last frame's age."""
        if stats is None:
            self._show(
                "idle", Content.assemble(("○ no source", "bold $text-muted"), "  press s to choose the meter's port")
            )
            return
        if stats.frames_bad > self._bad_seen:
            self._bad_at = now
        elif stats.frames_bad < self._bad_seen:  # a new run: counters restarted
            self._bad_at = None
        self._bad_seen = stats.frames_bad

        level, state = self._level(stats, now)
        colour = {"ok": "$success", "warn": "$warning", "error": "$error", "idle": "$text-muted"}[level]
        source = stats.source
        if is_replay(stats) and stats.speed != 1.0:
            source += f" {format_speed(stats.speed)}"
        first: list[tuple[str, str] | str] = [(f"● {state}", f"bold {colour}"), "  ", (source, "bold")]
        first += self._session_segment(stats)
        if stats.paused:
            first += ["  ", ("⏸ paused", "bold $accent")]
        if stats.last_message_time is not None and overdue(now - stats.last_message_time, stats.mean_push_interval):
            first += [("  ·  ", "$text-muted"), f"last frame {format_age(now - stats.last_message_time)} ago"]
        if stats.mean_push_interval is not None:
            first += [("  ·  ", "$text-muted"), f"every {stats.mean_push_interval:.3g}s"]

        sep = ("  ·  ", "$text-muted")
        second: list[tuple[str, str] | str] = [
            f"{format_bytes(stats.bytes_received)} received",
            sep,
            f"frames {stats.frames_ok} ok",
        ]
        if stats.frames_bad:
            second += [", ", (f"{stats.frames_bad} bad", "$warning" if level == "warn" else "")]
        if stats.decrypt_failures:
            plural = "s" if stats.decrypt_failures != 1 else ""
            second += [sep, (f"{stats.decrypt_failures} decrypt failure{plural}", "$warning")]
        if stats.skipped_bytes:
            second += [sep, f"{format_bytes(stats.skipped_bytes)} skipped"]
        if stats.dropped:
            second += [sep, (f"{stats.dropped} dropped while paused", "$warning")]
        if stats.module_event:
            second += [sep, (f"module: {stats.module_event}", "$warning" if stats.module_trouble else "")]
        if stats.last_error and level == "error":
            second += [sep, (format_error(stats.last_error), "$error")]
        second += self._exporter
        self._show(level, Content.assemble(*first, "\n", *second))

    @staticmethod
    def _session_segment(stats: PipelineStats) -> list[tuple[str, str] | str]:
        """The B-route session's state in plain words (scanning, joined, transmit limit…), if one runs."""
        if not stats.session_state:
            return []
        from meterui.broute.session import STATE_WORDS, TROUBLE_STATES

        word = STATE_WORDS.get(stats.session_state, stats.session_state)
        style = "$warning" if stats.session_state in TROUBLE_STATES else "$success"
        return [("  ·  ", "$text-muted"), (f"B-route: {word}", style)]

    def set_exporter(self, status: ExporterStatus | None) -> None:
        """The MQTT exporter's state for the next :meth:`update_from` (``None``: no exporter), e.g.
        ``MQTT ● 123 published`` or ``MQTT down, 5 queued`` (issue #11)."""
        if status is None:
            self._exporter = []
            return
        sep = ("  ·  ", "$text-muted")
        if status.state == "connected":
            part: list[tuple[str, str] | str] = [("MQTT ●", "$success"), f" {status.published} published"]
        elif status.state == "connecting":
            part = [("MQTT connecting…", "$text-muted")]
        elif status.state == "refused":
            part = [("MQTT refused: check user and password", "$error")]
        elif status.state == "closed":
            part = [("MQTT closed", "$text-muted"), f", {status.published} published"]
        else:
            part = [("MQTT down", "$warning")]
        if status.queued and status.state != "connected":
            part.append(f", {status.queued} queued")
        if status.dropped:
            part.append((f", {status.dropped} dropped", "$warning"))
        self._exporter = [sep, *part]

    def _level(self, stats: PipelineStats, now: float) -> tuple[str, str]:
        """(colour level, state word)."""
        replay = is_replay(stats)
        if stats.finished:
            if stats.last_error and not replay:
                return "error", "stopped"
            return ("error", "stopped") if stats.last_error and not stats.frames else ("idle", "finished")
        if not stats.connected:
            if not stats.last_error and not stats.bytes_received and not stats.frames:
                return "idle", "connecting"  # just started: not a failure yet
            return "error", "disconnected"
        state = "replaying" if replay else "connected"
        if stats.paused:
            return "ok", state
        if self._bad_at is not None and now - self._bad_at < BAD_WINDOW:
            return "warn", state
        if stats.decrypt_failures and not stats.frames_ok:
            return "warn", state
        if stats.module_trouble:
            return "warn", state
        if not replay and stats.last_message_time is not None:
            limit = max(STALE_MIN, 3 * (stats.mean_push_interval or 0.0))
            if now - stats.last_message_time > limit:
                return "warn", "silent"
        return "ok", state

    def _show(self, level: str, content: Content) -> None:
        if level != self.level:
            for name in LEVELS:
                self.set_class(name == level, f"-{name}")
            self.level = level
        key = (content.plain, tuple(content.spans))
        if key != self._shown:
            self._shown = key
            self.update(content, layout=False)  # a fixed 2-line strip: no layout pass for a new age (issue #8)
