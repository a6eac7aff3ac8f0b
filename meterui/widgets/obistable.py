"""The live OBIS table: one row per (meter, reading id), updated in place.

Rows are added only for new reading ids; every other refresh goes through
:meth:`~textual.widgets.DataTable.update_cell`, and only for cells whose text changed. Ages are coarse
(``<10s``, ``20s``, ``3m``: :func:`format_age_coarse`) because any changed cell repaints the whole table:
between pushes a quiet line repaints nothing. With more than one meter the rows are grouped under a header
row per meter. The columns adapt to the table's width: min/max go first, then the OBIS code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import events
from textual.cache import LRUCache
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from meterui.model import MeterModel, ReadingState
from meterui.widgets.formatting import (
    KILO_UNITS,
    display_unit,
    format_age,
    format_age_coarse,
    format_number,
    format_reading,
    format_value,
    next_coarse_change,
)

__all__ = [
    "HEADER_ID",
    "KEY_SEP",
    "ObisTable",
    "format_age",
    "format_number",
    "format_value",
    "plan_columns",
    "row_key",
]

KEY_SEP = "\x1f"
"""Separates the meter and the reading id in a row key (neither contains it)."""
HEADER_ID = "\x1e"
"""The reading id of a meter's group header row."""

# column key → (label, width); ``None`` width = shares the leftover space (name, value)
_FIXED: dict[str, tuple[str, int]] = {
    "code": ("Code", 15),
    "unit": ("Unit", 5),
    "min": ("Min", 10),
    "max": ("Max", 10),
    "age": ("Age", 6),
}
_ORDER = ("code", "name", "value", "unit", "min", "max", "age")
_NAME_MIN, _NAME_PREF, _NAME_MAX = 14, 24, 30
_VALUE_MIN, _VALUE_PREF, _VALUE_MAX = 10, 16, 25
_RIGHT = frozenset({"value", "min", "max", "age"})
_CACHES = ("_cell_render_cache", "_row_render_cache", "_row_renderable_cache", "_line_cache")


# -- formatting (shared with the other live widgets) ------------------------------------------------
def row_key(meter: str, reading_id: str) -> str:
    """The row key of a reading of a meter (also used for the group header, ``reading_id=HEADER_ID``)."""
    return f"{meter}{KEY_SEP}{reading_id}"


@dataclass(frozen=True, slots=True)
class _Layout:
    columns: tuple[str, ...]
    widths: tuple[int, ...]


def plan_columns(width: int) -> _Layout:
    """Which columns fit in ``width`` cells, and how wide (each column also takes 2 cells of padding).

    Min/max go first when space is short, then the OBIS code. Name and value share what is left:
    both up to a comfortable width, then the name (up to 30), then the value (IDs, clocks).
    """
    avail = max(0, width - 2)  # leave room for a vertical scrollbar
    for drop in ((), ("min", "max"), ("min", "max", "code")):
        columns = tuple(c for c in _ORDER if c not in drop)
        fixed = sum(_FIXED[c][1] + 2 for c in columns if c in _FIXED)
        spare = avail - fixed - 4  # name and value padding
        if spare >= _NAME_PREF + _VALUE_MIN or drop == ("min", "max", "code"):
            value = max(_VALUE_MIN, min(_VALUE_PREF, spare - _NAME_PREF))
            name = max(_NAME_MIN, min(_NAME_MAX, spare - value))
            value = max(value, min(_VALUE_MAX, spare - name))
            widths = tuple(_FIXED[c][1] if c in _FIXED else name if c == "name" else value for c in columns)
            return _Layout(columns, widths)
    raise AssertionError("unreachable")


class ObisTable(DataTable[Text | str]):
    """Readings of every meter: code, name, value, unit, min, max, age.

    Feed it with :meth:`refresh_from`; it keeps no reference to the model between calls except
    for re-laying out on resize.
    """

    DEFAULT_CSS = """
    ObisTable {
        width: 1fr;
        height: 1fr;
        scrollbar-size-vertical: 1;
    }
    ObisTable > .datatable--header {
        text-style: bold;
        color: $text-muted;
    }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes, cursor_type="row")
        self._layout: _Layout | None = None
        self._structure: list[tuple[str, list[str]]] = []
        self._grouped = False
        self._cells: dict[tuple[str, str], str] = {}
        self._model: MeterModel | None = None
        self._now: float = 0.0
        self._dirty: set[str] = set()
        self._ages_due = -math.inf
        self._seen: dict[str, tuple[object, ...]] = {}
        """Per row, the reading's (count, last update, min, max) when its cells were last set: a row whose
        reading did not change since is skipped (only its age may be due)."""
        """The ``now`` at which the first age text changes (:meth:`refresh_ages` does nothing before)."""
        self._row_local = all(hasattr(getattr(self, name, None), "keys") for name in _CACHES) and hasattr(self, "_data")
        """Textual's DataTable has the caches :meth:`_flush` relies on (else cells go through update_cell)."""
        self.rebuilds = 0
        """How many times the rows were rebuilt (new meter, width change): for tests and benchmarks."""

    # -- public API ------------------------------------------------------------------------------
    @property
    def layout_columns(self) -> tuple[str, ...]:
        """The column keys currently shown."""
        return self._layout.columns if self._layout else ()

    def refresh_from(self, model: MeterModel, now: float) -> None:
        """Show the model's readings; ``now`` (UNIX seconds) is the reference for the age column."""
        self._model = model
        if self._layout is None:
            self._set_layout(plan_columns(self.size.width or 80))
        structure = [(meter, [s.id for s in model.readings(meter)]) for meter in model.meters()]
        grouped = len(structure) > 1
        if grouped != self._grouped or not self._extends(structure):
            self._rebuild(structure, grouped)
        else:
            self._append(structure)
        ages = not self._now <= now < self._ages_due  # an age text may have changed since the last call
        self._now = now
        due = math.inf
        for meter, _ in structure:
            for state in model.readings(meter):
                key = row_key(meter, state.id)
                seen = (state.count, state.last_update, state.min, state.max)
                if self._seen.get(key) != seen:
                    self._seen[key] = seen
                    self._update_row(meter, state)
                elif ages:
                    self._set(key, "age", self._age_cell(state))
                due = min(due, next_coarse_change(now - state.last_update))
        self._ages_due = now + due
        self._flush()

    def refresh_ages(self, now: float) -> None:
        """Re-render only the age column (the 1 Hz tick), and only once an age text is due to change: the
        coarse ages of a meter that pushes every few seconds never do, so a tick then costs nothing."""
        if self._model is None or (self._now <= now < self._ages_due):
            return
        self._now = now
        if "age" not in self.layout_columns:
            self._ages_due = math.inf
            return
        due = math.inf
        for meter, ids in self._structure:
            for rid in ids:
                state = self._model.get(rid, meter)
                if state is not None:
                    self._set(row_key(meter, rid), "age", self._age_cell(state))
                    due = min(due, next_coarse_change(now - state.last_update))
        self._ages_due = now + due
        self._flush()

    # -- layout ----------------------------------------------------------------------------------
    def on_resize(self, event: events.Resize) -> None:
        layout = plan_columns(event.size.width)
        if layout != self._layout:
            self._set_layout(layout)
            if self._model is not None:
                self._structure = []
                self.refresh_from(self._model, self._now)

    def _set_layout(self, layout: _Layout) -> None:
        self._layout = layout
        self.clear(columns=True)
        self._cells.clear()
        self._seen.clear()
        self._dirty.clear()
        self._structure = []
        for key, width in zip(layout.columns, layout.widths, strict=True):
            label = _FIXED[key][0] if key in _FIXED else key.capitalize()
            self.add_column(Text(label, justify="right" if key in _RIGHT else "left"), width=width, key=key)

    # -- rows ------------------------------------------------------------------------------------
    def _extends(self, structure: Sequence[tuple[str, list[str]]]) -> bool:
        """Can ``structure`` be reached from the current rows by appending rows at the end?"""
        old = self._structure
        if len(structure) < len(old):
            return False
        if len(structure) > len(old) and self._grouped:
            return True  # a new meter (with its header) goes after the existing groups
        for i, (meter, ids) in enumerate(old):
            new_meter, new_ids = structure[i]
            if new_meter != meter or new_ids[: len(ids)] != ids:
                return False
            if len(new_ids) > len(ids) and i != len(structure) - 1:
                return False  # new ids in a group that is not the last one
        return True

    def _rebuild(self, structure: list[tuple[str, list[str]]], grouped: bool) -> None:
        self.rebuilds += 1
        cursor_key = self._cursor_key()
        self.clear()
        self._cells.clear()
        self._seen.clear()
        self._dirty.clear()
        self._structure = []
        self._grouped = grouped
        self._append(structure)
        if cursor_key is not None and cursor_key in self._row_locations:
            self.move_cursor(row=self.get_row_index(cursor_key), animate=False, scroll=False)

    def _append(self, structure: list[tuple[str, list[str]]]) -> None:
        for i, (meter, ids) in enumerate(structure):
            if i >= len(self._structure):
                self._structure.append((meter, []))
                if self._grouped:
                    self._add_header(meter, len(ids))
            have = self._structure[i][1]
            for rid in ids[len(have) :]:
                self.add_row(*(Text("", end="") for _ in self.layout_columns), key=row_key(meter, rid))
                have.append(rid)

    def _add_header(self, meter: str, count: int) -> None:
        columns = self.layout_columns
        widths = self._layout.widths if self._layout else ()
        text = f"▸ meter {meter}"
        cells: list[Text | str] = [Text("", end="") for _ in columns]
        style = "bold"
        if widths and len(text) <= widths[0]:
            cells[0] = Text(text, style=style)
        else:  # spread over the first two columns
            cells[0] = Text("▸ meter", style=style)
            if len(cells) > 1:
                cells[1] = Text(meter, style=style)
        self.add_row(*cells, key=row_key(meter, HEADER_ID))

    def _cursor_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:  # the cursor may point past the rows while they change
            return None
        return key.value

    # -- cells -----------------------------------------------------------------------------------
    def _fit(self, column: str, text: str) -> str:
        """Shorten ``text`` to the column with an ellipsis (the table would crop it silently)."""
        layout = self._layout
        if layout is None or column not in layout.columns:
            return text
        width = layout.widths[layout.columns.index(column)]
        return text if len(text) <= width else text[: max(0, width - 1)] + "…"

    def _update_row(self, meter: str, state: ReadingState) -> None:
        key = row_key(meter, state.id)
        columns = self.layout_columns
        integer = isinstance(state.value, int) and not isinstance(state.value, bool)
        for column in columns:
            if column == "code":
                self._set(key, column, self._fit(column, state.id))
            elif column == "name":
                self._set(key, column, self._fit(column, state.name))
            elif column == "value":
                text = self._fit(column, format_reading(state.value, state.unit)[0])
                self._set(key, column, Text(text, justify="right", style="bold" if state.is_numeric else ""))
            elif column == "unit":
                self._set(key, column, display_unit(state.unit) or "")
            elif column in ("min", "max"):
                number = state.min if column == "min" else state.max
                if number is None:
                    text = ""
                elif state.unit in KILO_UNITS:
                    text = format_reading(number, state.unit)[0]
                else:
                    text = format_number(number, integer=integer)
                self._set(key, column, Text(text, justify="right", style="dim"))
            elif column == "age":
                self._set(key, column, self._age_cell(state))

    def _age_cell(self, state: ReadingState) -> Text:
        return Text(format_age_coarse(self._now - state.last_update), justify="right", style="dim")

    def _set(self, key: str, column: str, value: Text | str) -> None:
        """Update one cell if its text or style changed. Plain strings become :class:`~rich.text.Text` as they
        are: DataTable would read a ``str`` cell as markup (a name with ``[…]`` in it would lose it), and
        parsing it again at each repaint was a good part of the first readings' paint (issue #8)."""
        stamp = value.plain + "\x00" + str(value.style) + str(value.justify) if isinstance(value, Text) else value
        if self._cells.get((key, column)) == stamp:
            return
        self._cells[(key, column)] = stamp
        if isinstance(value, str):
            value = Text(value, end="")
        if not self._row_local:
            self.update_cell(key, column, value)
            return
        self._data[RowKey(key)][ColumnKey(column)] = value
        self._dirty.add(key)

    def _flush(self) -> None:
        """Repaint the rows whose cells changed, and only those (issue #8: idle CPU on a Pi).

        ``update_cell`` bumps the table's update count, which is part of every cached row's and cell's
        key: one changed cell re-renders every visible row. Here the changed rows' cached renders are
        dropped instead, and only their regions repainted; the other rows keep theirs, and are not sent."""
        if not self._dirty:
            return
        dirty = {RowKey(key) for key in self._dirty}
        self._dirty.clear()
        caches: tuple[LRUCache[Any, Any], ...] = (self._cell_render_cache, self._row_render_cache)
        for cache in caches:  # both keyed (row key, …)
            for cache_key in [k for k in cache.keys() if k[0] in dirty]:  # noqa: SIM118 (an LRUCache)
                cache.discard(cache_key)
        self._row_renderable_cache.clear()  # keyed by row index: cheap to rebuild (no rendering)
        self._line_cache.clear()  # lines are joined from the row renders above
        # and only those rows' lines go to the terminal: the compositor re-joins and re-sends just them
        for key in dirty:
            index = self._row_locations.get(key)
            if index is not None:
                self.refresh_row(index)
