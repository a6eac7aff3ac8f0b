"""Per-phase sparklines (voltage and current L1-L3) and import/export power, from the model's histories.

Two layouts: the full one (a row per series, hidden when the meter does not send it) and a compact
two-line strip for small terminals. Only the visible layout is updated, and a sparkline's data is
replaced only when its history gained a point.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TypeVar

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Label, Sparkline, Static

from meterui.model import MeterModel, ReadingState
from meterui.widgets.formatting import format_value

W = TypeVar("W", bound=Widget)

SPARK_POINTS = 120
"""Points per sparkline (the newest ones; e.g. 5 minutes at one push every 2.5 s)."""


@dataclass(frozen=True, slots=True)
class Series:
    quantity: str
    group: str
    label: str
    kind: str
    """CSS class: ``-voltage``, ``-current``, ``-import``, ``-export``."""


SERIES: tuple[Series, ...] = (
    Series("voltage_l1", "Voltage", "L1", "-voltage"),
    Series("voltage_l2", "", "L2", "-voltage"),
    Series("voltage_l3", "", "L3", "-voltage"),
    Series("current_l1", "Current", "L1", "-current"),
    Series("current_l2", "", "L2", "-current"),
    Series("current_l3", "", "L3", "-current"),
    Series("active_power_import", "Power", "+P", "-import"),
    Series("active_power_export", "", "-P", "-export"),
)


def _series(
    model: MeterModel, quantity: str, meter: str | None = None
) -> tuple[ReadingState | None, deque[tuple[float, float]] | None]:
    """The reading with ``quantity`` of ``meter`` (``None``: the most recently updated across meters) and
    its history from the same meter."""
    state = model.latest(quantity, meter)
    if state is None:
        return None, None
    return state, model.history(state.id, meter)


def short_meter(meter: str, width: int = 8) -> str:
    """A meter label short enough for the compact strip: its last ``width`` characters (``…20003774``)."""
    return meter if len(meter) <= width else "…" + meter[-width:]


def _stamp(history: deque[tuple[float, float]] | None) -> tuple[int, float] | None:
    if not history:
        return None
    return len(history), history[-1][0]


def _with_unit(state: ReadingState | None) -> str:
    if state is None:
        return "-"
    unit = f" {state.unit}" if state.unit else ""
    return f"{format_value(state.value)}{unit}"


def _tail(history: deque[tuple[float, float]]) -> list[float]:
    """The newest values for a sparkline. A single value is doubled: Textual draws one value as a full bar
    but a constant series as a flat line, so a constant reading looks the same from its first point on."""
    start = max(0, len(history) - SPARK_POINTS)
    values = [history[i][1] for i in range(start, len(history))]
    return values * 2 if len(values) == 1 else values


class SeriesRow(Horizontal):
    """``Voltage L1 ▁▂▃▅▆▇ 232.9 V``."""

    def __init__(self, series: Series) -> None:
        super().__init__(classes=f"series-row {series.kind}")
        self.series = series
        self._stamp: tuple[int, float] | None = None
        self._value = ""
        self._spark = Sparkline([], classes=self.series.kind)
        self._label = Label("", classes="value")

    def compose(self) -> ComposeResult:
        yield Label(self.series.group, classes="group")
        yield Label(self.series.label, classes="phase")
        yield self._spark
        yield self._label

    def forget(self) -> None:
        """Another meter is charted: redraw from its history on the next :meth:`show`."""
        self._stamp = None
        self._value = ""

    def show(self, state: ReadingState | None, history: deque[tuple[float, float]] | None) -> None:
        self.display = state is not None
        if state is None:
            return
        stamp = _stamp(history)
        if stamp != self._stamp:
            self._stamp = stamp
            self._spark.data = _tail(history) if history else []
        value = _with_unit(state)
        if value != self._value:
            self._value = value
            self._label.update(value, layout=False)  # fixed width (CSS): no layout pass


class PhaseBars(Widget):
    """Voltage, current and power sparklines. Call :meth:`update_from` with the model."""

    DEFAULT_CSS = """
    PhaseBars {
        height: auto;
        width: 1fr;
        padding: 0 1;
    }
    PhaseBars #phase-full { height: auto; }
    PhaseBars .series-row { height: 1; }
    PhaseBars .series-row .group { width: 8; color: $text-muted; }
    PhaseBars .series-row .phase { width: 3; color: $text-muted; }
    PhaseBars .series-row Sparkline { width: 1fr; margin: 0 1; }
    PhaseBars .series-row .value { width: 11; text-align: right; }
    PhaseBars Sparkline.-voltage > .sparkline--max-color { color: $accent; }
    PhaseBars Sparkline.-voltage > .sparkline--min-color { color: $accent 40%; }
    PhaseBars Sparkline.-current > .sparkline--max-color { color: $secondary; }
    PhaseBars Sparkline.-current > .sparkline--min-color { color: $secondary 40%; }
    PhaseBars Sparkline.-import > .sparkline--max-color { color: $warning; }
    PhaseBars Sparkline.-import > .sparkline--min-color { color: $warning 40%; }
    PhaseBars Sparkline.-export > .sparkline--max-color { color: $success; }
    PhaseBars Sparkline.-export > .sparkline--min-color { color: $success 40%; }
    PhaseBars #phase-empty { color: $text-muted; height: auto; }
    PhaseBars #phase-meter { color: $text-muted; height: 1; display: none; text-wrap: nowrap; text-overflow: ellipsis; }
    PhaseBars.-many #phase-meter { display: block; }
    PhaseBars.-compact #phase-meter { display: none; }
    PhaseBars #phase-compact { height: auto; display: none; }
    PhaseBars #compact-power { height: 1; }
    PhaseBars #compact-power Label { width: auto; }
    PhaseBars #compact-power .name { color: $text-muted; }
    PhaseBars #compact-power Sparkline { width: 1fr; max-width: 30; margin: 0 1; }
    PhaseBars #compact-power .value { margin-right: 2; min-width: 8; }
    PhaseBars #compact-phases { height: 1; }
    PhaseBars.-compact #phase-full { display: none; }
    PhaseBars.-compact #phase-compact { display: block; }
    """

    compact: reactive[bool] = reactive(False)
    """Show the two-line strip instead of a row per series."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._model: MeterModel | None = None
        self.meter: str | None = None
        """The meter charted (``None``: the first one); with several meters it is named above the charts."""
        self._meter_text = ""
        self._compact_stamps: dict[str, tuple[int, float] | None] = {}
        self._compact_text: dict[str, str] = {}
        self._rows = tuple(SeriesRow(series) for series in SERIES)
        self._found: dict[str, Widget] = {}
        """The compact strip's sparklines and texts and the full layout's notes, by id: found once (a DOM
        query per refresh cost idle CPU on a Pi, issue #8)."""

    def _child(self, widget_id: str, kind: type[W]) -> W:
        found = self._found.get(widget_id)
        if not isinstance(found, kind):
            found = self._found[widget_id] = self.query_one(f"#{widget_id}", kind)
        return found

    def compose(self) -> ComposeResult:
        with Vertical(id="phase-full"):
            yield Static("", id="phase-meter")
            yield Static("No voltage, current or power readings yet.", id="phase-empty")
            for row in self._rows:
                row.display = False
                yield row
        with Vertical(id="phase-compact"):
            with Horizontal(id="compact-power"):
                yield Label("Import", classes="name")
                yield Sparkline([], id="spark-import", classes="-import")
                yield Label("-", id="value-import", classes="value")
                yield Label("Export", classes="name")
                yield Sparkline([], id="spark-export", classes="-export")
                yield Label("-", id="value-export", classes="value")
            yield Static("", id="compact-phases")

    def watch_compact(self, compact: bool) -> None:
        self.set_class(compact, "-compact")
        if self._model is not None and self.is_mounted:
            self.update_from(self._model, self.meter)

    def update_from(self, model: MeterModel, meter: str | None = None) -> None:
        """Refresh from ``meter``'s latest values and histories (cheap when nothing changed); ``meter``
        ``None`` charts the first meter. With several meters the charted one is named."""
        meters = model.meters()
        if meter not in meters:
            meter = meters[0] if meters else None
        if meter != self.meter:
            self.meter = meter
            self._compact_stamps.clear()  # another meter's histories: redraw the compact sparklines
            for row in self._rows:
                row.forget()
        self._model = model
        many = len(meters) > 1
        self.set_class(many, "-many")
        text = f"Meter {meter} · select a row to chart another" if many and meter else ""  # fits 120 columns
        if text != self._meter_text:
            self._meter_text = text
            self._child("phase-meter", Static).update(text, layout=False)  # one line, full width
        if self.compact:
            self._update_compact(model)
        else:
            self._update_full(model)

    def _update_full(self, model: MeterModel) -> None:
        any_data = False
        for row in self._rows:
            state, history = _series(model, row.series.quantity, self.meter)
            any_data = any_data or state is not None
            row.show(state, history)
        self._child("phase-empty", Static).display = not any_data

    def _update_compact(self, model: MeterModel) -> None:
        for direction in ("import", "export"):
            state, history = _series(model, f"active_power_{direction}", self.meter)
            stamp = _stamp(history)
            if stamp != self._compact_stamps.get(direction):
                self._compact_stamps[direction] = stamp
                self._child(f"spark-{direction}", Sparkline).data = _tail(history) if history else []
            self._set_text(f"value-{direction}", _with_unit(state))
        parts = []
        if len(model.meters()) > 1 and self.meter is not None:
            parts.append(f"[$text-muted]meter[/] {short_meter(self.meter).replace('[', chr(92) + '[')}")
        for phase in ("l1", "l2", "l3"):
            volt = model.latest(f"voltage_{phase}", self.meter)
            amp = model.latest(f"current_{phase}", self.meter)
            if volt is None and amp is None:
                continue
            values = " ".join(_with_unit(s) for s in (volt, amp) if s is not None)
            parts.append(f"[$text-muted]{phase.upper()}[/] {values}")
        self._set_text("compact-phases", "   ".join(parts) if parts else "[$text-muted]No phase readings yet.[/]")

    def _set_text(self, widget_id: str, text: str) -> None:
        if self._compact_text.get(widget_id) != text:
            self._compact_text[widget_id] = text
            # the phases line has a fixed size; the power values are width: auto (a layout pass)
            self._child(widget_id, Static).update(text, layout=widget_id != "compact-phases")
