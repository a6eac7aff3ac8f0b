"""The B-route meter's 30-minute history: one day's half-hour energy as a bar chart.

Opened with ``h`` on the live screen when the source is a B-route session. ``f`` asks the session for
the last :data:`FETCH_DAYS` days (``BrouteSession.request_history``); ``←``/``→`` step one day back or
forward; ``escape`` goes back. The bars are the energy used in each half hour: the difference of two
consecutive cumulative values the meter keeps (E2, import; E4, export, when it has any).
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Static

from meterui.widgets.footer import Footer
from meterui.widgets.powerplot import PlotextPlot

if TYPE_CHECKING:
    from meterui.broute.history import HistoryPoint
    from meterui.broute.session import BrouteSession

FETCH_DAYS = 7
"""Days fetched by ``f`` (today and the six before it)."""
MAX_DAY = 99


def half_hour_energy(points: list[HistoryPoint]) -> list[tuple[dt.datetime, float]]:
    """(start of the half hour, energy used in it) from cumulative points, in time order.

    Only neighbours exactly 30 minutes apart give a bar; a counter that went backwards gives none.
    """
    ordered = sorted(points, key=lambda p: p.time)
    out: list[tuple[dt.datetime, float]] = []
    for a, b in itertools.pairwise(ordered):
        if b.time - a.time == dt.timedelta(minutes=30) and b.value >= a.value:
            out.append((a.time, float(b.value) - float(a.value)))
    return out


class HistoryScreen(Screen[None]):
    """One day of the meter's half-hour history (see the module docstring)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "day(1)", "Day", key_display="←/→"),  # one footer entry for both: 80 columns fit
        Binding("right", "day(-1)", "Later day", show=False),
        Binding("f", "fetch", "Fetch"),
        Binding("escape", "back", "Back"),
    ]
    FRAME_KEYS: ClassVar[bool] = False
    """The app's n / p / g (frame stepping) are off here: n would pause the session, p and g leave."""
    DEFAULT_CSS = """
    HistoryScreen { layout: vertical; }
    HistoryScreen #history-status { height: auto; padding: 0 1; }
    HistoryScreen PlotextPlot { height: 1fr; }
    """

    def __init__(self, session: BrouteSession | None, *, day: int = 1, name: str | None = None) -> None:
        super().__init__(name=name)
        self.session = session
        self.day = day
        """Days before the meter's date: 0 today, 1 yesterday (the default)."""
        self._fetched = False
        self._shown: object = None

    def compose(self) -> ComposeResult:
        yield Static("", id="history-status")
        yield PlotextPlot()
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.refresh_view()
        self.set_interval(1.0, self.refresh_view)

    @property
    def status(self) -> Static:
        return self.query_one("#history-status", Static)

    def _points(self, direction: str) -> list[HistoryPoint]:
        session = self.session
        if session is None:
            return []
        try:  # filled by the pipeline's thread: take a copy
            return list(session.history.get((direction, self.day), []))
        except RuntimeError:
            return []

    def message(self) -> str:
        """What the status line says about the day shown."""
        session = self.session
        if session is None:
            return "History needs a B-route session (meterui monitor --port … --broute-id …)."
        label = {0: "today", 1: "yesterday"}.get(self.day, f"{self.day} days ago")
        imports = self._points("import")
        if imports:
            date = imports[0].time.date().isoformat()
            total = sum(e for _, e in half_hour_energy(imports))
            unit = imports[0].unit or "counts"
            return f"Half-hour energy used on {date} ({label}): {total:.3f} {unit} in total.  ←/→ day, f fetch again"
        if session.state != "joined":
            return f"The B-route session is not joined (now: {session.state}): history can be fetched once it is."
        if self._fetched:
            return f"No history for {label} yet: waiting for the meter (or it keeps none for that day)."
        return f"No history for {label} yet: press f to fetch the last {FETCH_DAYS} days."

    def refresh_view(self) -> None:
        imports = self._points("import")
        exports = self._points("export")
        text = self.message()
        key = (text, len(imports), len(exports), self.day)
        if key == self._shown:
            return
        self._shown = key
        self.status.update(text)
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        bars = half_hour_energy(imports)
        if bars:
            labels = [t.strftime("%H:%M") for t, _ in bars]
            xs = [float(x) for x in range(1, len(bars) + 1)]
            plt.bar(xs, [e for _, e in bars], label="import", color="orange")
            back = dict(half_hour_energy(exports))
            if any(back.values()):  # a line over the bars, on the import half hours
                plt.plot(xs, [back.get(t, 0.0) for t, _ in bars], label="export", color="green")
            plt.xticks(xs[::6], labels[::6])
            plt.ylabel(imports[0].unit or "")
        plot.refresh()

    def action_day(self, delta: int) -> None:
        self.day = max(0, min(MAX_DAY, self.day + delta))
        self.refresh_view()

    def action_fetch(self) -> None:
        session = self.session
        if session is None or session.state != "joined":
            self.refresh_view()
            return
        session.request_history(max(FETCH_DAYS, self.day + 1))
        self._fetched = True
        self.refresh_view()

    def action_back(self) -> None:
        self.app.pop_screen()
