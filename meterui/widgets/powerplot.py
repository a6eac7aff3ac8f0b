"""Active power (import and export) over time, drawn with textual-plotext.

The x axis is "time ago" relative to the ``now`` handed in (``-5m``, ``-30s``, ``now``), so
snapshots are deterministic and no timezone is involved. The plot is rebuilt at most every :data:`MIN_REDRAW`
seconds when new points arrive (a pending change is drawn by a one-shot timer, not a poll), and otherwise
only every :data:`AXIS_DRIFT` seconds so the axis keeps up with the clock on a quiet line.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque

from rich.text import Text
from textual.app import ComposeResult
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Static
from textual_plotext import PlotextPlot as _PlotextPlot

from meterui.model import MeterModel
from meterui.widgets.formatting import format_number

MIN_REDRAW = 10.0
"""Seconds between two redraws of the plot, at least: the plot is at most this far behind the newest reading.
A redraw costs several milliseconds of plotext, the largest part of the live screen's idle CPU (issue #8: a Pi),
and a 25-minute window some 120 braille dots wide moves one dot every 12 s anyway. The table and the
sparklines (``Power +P``) show every push at once."""
PENDING_SLACK = 1.0
"""A pending redraw waits this much longer than :data:`MIN_REDRAW`: the next push (on a meter that pushes every
few seconds) then draws it along with its own screen update, one repaint instead of two; the timer draws it
when no push comes."""
AXIS_DRIFT = 10.0
"""Redraw a quiet plot after this many seconds so "time ago" stays right."""
PLOT_POINTS = 600

_DIRECTIONS = (("import", "active_power_import", "orange"), ("export", "active_power_export", "green"))

log = logging.getLogger(__name__)


class PlotextPlot(_PlotextPlot):
    """A PlotextPlot whose render never raises: plotext can fail on edge-case data (e.g. an IndexError
    while building the legend), and a chart must not take the whole app down."""

    render_failures = 0

    def render(self):  # type: ignore[no-untyped-def]
        try:
            return super().render()
        except Exception as exc:
            type(self).render_failures += 1
            log.debug("plotext render failed: %r", exc)
            return Text("(chart unavailable for this data)", style="dim")


def _tick_label(seconds_ago: float) -> str:
    s = round(seconds_ago)
    if s == 0:
        return "now"
    if s % 3600 == 0:
        return f"-{s // 3600}h"
    if s % 60 == 0:
        return f"-{s // 60}m"
    if s >= 60:
        return f"-{s // 60}m{s % 60:02d}"
    return f"-{s}s"


def time_ticks(span: float, count: int = 5) -> list[float]:
    """Round tick positions (seconds ago, ≥ 0) covering ``span`` seconds, about ``count`` of them."""
    steps = (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
    step = next((s for s in steps if span / s <= count), steps[-1])
    ticks: list[float] = []
    t = 0.0
    while t <= span + 1e-9:
        ticks.append(t)
        t += step
    return ticks


def thin(xs: list[float], ys: list[float], lo: float, hi: float, columns: int) -> tuple[list[float], list[float]]:
    """The points of a line plot that draw the same line at ``columns`` dots across ``[lo, hi]`` (idle CPU
    on a Pi, issue #8): plotext draws a segment between every two consecutive points, in Python.

    - Of each run of consecutive points in one dot column, the first, lowest, highest and last are kept, in
      time order: connected, they cover the same dots in that column (its lowest to its highest value) and
      join the neighbouring columns where all the points did, so peaks and dips are never lost.
    - A point between two kept points of the same value is dropped: the line through it is flat either way
      (a meter that never exports draws its export series with two points, not six hundred).

    Points outside ``[lo, hi]`` count as the first or last column."""
    n = len(xs)
    keep: list[int]
    if n <= 4 * columns or columns <= 0 or hi <= lo:
        keep = list(range(n))
    else:
        scale = columns / (hi - lo)
        last = columns - 1

        def column_of(i: int) -> int:
            return min(last, max(0, int((xs[i] - lo) * scale)))

        keep = []
        start = 0
        while start < n:
            column = column_of(start)
            end = low = high = start
            while end + 1 < n and column_of(end + 1) == column:
                end += 1
                if ys[end] < ys[low]:
                    low = end
                elif ys[end] > ys[high]:
                    high = end
            keep.extend(sorted({start, low, high, end}))
            start = end + 1
    flat = [k for j, k in enumerate(keep) if 0 < j < len(keep) - 1 and ys[keep[j - 1]] == ys[k] == ys[keep[j + 1]]]
    if flat:
        dropped = set(flat)
        keep = [k for k in keep if k not in dropped]
    if len(keep) == n:
        return xs, ys
    return [xs[i] for i in keep], [ys[i] for i in keep]


def value_ticks(top: float, count: int = 4) -> list[float]:
    """Round tick values from 0 up to ``top`` (1, 2, 2.5 or 5 × 10^k apart), about ``count`` of them."""
    if top <= 0:
        return [0.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [i * step for i in range(int(top / step + 1e-9) + 1)]


class PowerPlot(Widget):
    """Import and export power over time. Call :meth:`update_from` with the model and ``now``."""

    DEFAULT_CSS = """
    PowerPlot {
        height: 1fr;
        width: 1fr;
    }
    PowerPlot > PlotextPlot { height: 1fr; }
    PowerPlot > #plot-empty {
        height: 1fr;
        content-align: center middle;
        color: $text-muted;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None, min_redraw: float = MIN_REDRAW) -> None:
        super().__init__(id=id, classes=classes)
        self.min_redraw = min_redraw
        self._model: MeterModel | None = None
        self._now = 0.0
        self._stamp: tuple[object, ...] | None = None
        self._drawn_now: float | None = None
        self._drawn_at = -float("inf")  # monotonic time of the last draw
        self._pending: Timer | None = None
        self.meter: str | None = None
        """The meter charted (the one selected in the live table; ``None``: no data yet)."""
        self._many = False
        self.draws = 0
        """How many times the plot was rebuilt (for tests and benchmarks)."""

    def compose(self) -> ComposeResult:
        yield Static("No power readings yet: the plot starts with the first frame.", id="plot-empty")
        plot = PlotextPlot()
        plot.display = False
        yield plot

    def update_from(self, model: MeterModel, now: float, meter: str | None = None) -> None:
        """Note new data of ``meter`` (``None``: the first meter); redraws now, or at most :attr:`min_redraw`
        seconds after the last draw. With several meters the title names the charted one."""
        meters = model.meters()
        self.meter = meter if meter in meters else (meters[0] if meters else None)
        self._many = len(meters) > 1
        self._model, self._now = model, now
        stamp = (*self._data_stamp(model, self.meter), self.meter, self._many)
        changed = stamp != self._stamp
        drift = self._drawn_now is not None and now - self._drawn_now >= AXIS_DRIFT and stamp[0] is not None
        if not changed and not drift:
            return
        wait = self.min_redraw - (time.monotonic() - self._drawn_at)
        if wait <= 0:
            if self._pending is not None:
                self._pending.stop()
                self._pending = None
            self._draw()
        elif self._pending is None:
            self._pending = self.set_timer(wait + PENDING_SLACK, self._draw_pending)

    def follow_clock(self, now: float) -> None:
        """The screen's 1 Hz tick: redraw once the "time ago" axis is :data:`AXIS_DRIFT` seconds behind the
        clock, else nothing (new data comes through :meth:`update_from`)."""
        if self._model is None or self._drawn_now is None or now - self._drawn_now < AXIS_DRIFT:
            return
        self.update_from(self._model, now, self.meter)

    def _draw_pending(self) -> None:
        self._pending = None
        self._draw()

    @staticmethod
    def _data_stamp(model: MeterModel, meter: str | None) -> tuple[object, ...]:
        stamp: list[object] = []
        for _, quantity, _ in _DIRECTIONS:
            state = model.latest(quantity, meter)
            history = model.history(state.id, meter) if state is not None else None
            stamp.append((state.id, len(history), history[-1][0]) if state is not None and history else None)
        return tuple(stamp)

    def _draw(self) -> None:
        model, now = self._model, self._now
        if model is None:
            return
        meter = self.meter
        self._stamp = (*self._data_stamp(model, meter), meter, self._many)
        series: list[tuple[str, str, list[float], list[float]]] = []
        unit = "W"
        for label, quantity, colour in _DIRECTIONS:
            state = model.latest(quantity, meter)
            if state is None:
                continue
            history: deque[tuple[float, float]] = model.history(state.id, meter)
            if not history:
                continue
            unit = state.unit or unit
            # only points inside the window and finite: plotext fails on a labelled series it drops whole
            points = [
                (t - now, v)
                for t, v in list(history)[-PLOT_POINTS:]
                if t <= now and math.isfinite(t) and math.isfinite(v)
            ]
            if points:
                series.append((label, colour, [x for x, _ in points], [v for _, v in points]))
        empty = self.query_one("#plot-empty", Static)
        plot = self.query_one(PlotextPlot)
        if not series:
            empty.display, plot.display = True, False
            return
        empty.display, plot.display = False, True
        self.draws += 1
        self._drawn_now, self._drawn_at = now, time.monotonic()
        peak = max((abs(v) for *_, ys in series for v in ys), default=0.0)
        scale = 1.0
        if unit == "W" and peak >= 10_000:
            unit, scale = "kW", 1000.0
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        oldest = min(xs[0] for _, _, xs, _ in series)
        span = max(10.0, -oldest)
        columns = 2 * max(1, plot.size.width or self.size.width or 80)  # braille: two dots per cell
        for label, colour, xs, ys in series:
            xs, ys = thin(xs, ys, -span, 0.0, columns)
            plt.plot(xs, [y / scale for y in ys], label=label, color=colour, marker="braille")
        ticks = time_ticks(span)
        plt.xticks([-t for t in ticks], [_tick_label(t) for t in ticks])
        plt.xlim(-span, 0)
        top = max(peak / scale * 1.1, 1.0)
        yticks = value_ticks(top)
        plt.yticks(yticks, [format_number(round(v, 3), integer=True) for v in yticks])
        plt.ylim(0, top)
        plt.title(f"Active power ({unit})" + (f" · meter {meter}" if self._many and meter else ""))
        plot.refresh()
