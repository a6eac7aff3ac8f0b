"""The meter's 30-minute history (E2/E4 after E5) as points the app can plot.

History 1 is one day of 48 cumulative values, slot ``k`` at ``00:00 + 30·k`` minutes meter time,
for day ``n`` = n days before the meter's current date (protocols.md §6.7). Values are taken from
the decoded message's readings (already scaled by D3 × E1 when those are known).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from meterui.protocol.message import Message

DIRECTIONS = {"E2": "import", "E4": "export"}


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """One half-hour cumulative energy value; ``value`` is in ``unit`` (``kWh``, or ``None`` = raw count)."""

    time: dt.datetime
    """Meter local time (naive) at which the cumulative value was taken."""
    direction: str
    """``import`` (E2) or ``export`` (E4)."""
    value: int | float
    unit: str | None


def _base_date(meter_date: str | None, now: float) -> dt.date:
    if meter_date:
        try:
            return dt.date.fromisoformat(meter_date)
        except ValueError:
            pass
    return dt.datetime.fromtimestamp(now).date()


def history_points(msg: Message, meter_date: str | None, now: float) -> list[tuple[str, int, list[HistoryPoint]]]:
    """``(direction, day, points)`` for each E2/E4 property in ``msg``; slots without data are left out."""
    out: list[tuple[str, int, list[HistoryPoint]]] = []
    base = _base_date(meter_date, now)
    for epc, direction in DIRECTIONS.items():
        day = next((r.value for r in msg.readings if r.id == f"{epc}.day"), None)
        if not isinstance(day, int):
            continue
        date = base - dt.timedelta(days=day)
        points = []
        for r in msg.readings:
            prefix, _, slot = r.id.partition(".")
            if prefix != epc or not slot.isdigit() or isinstance(r.value, str):
                continue
            k = int(slot)
            when = dt.datetime(date.year, date.month, date.day) + dt.timedelta(minutes=30 * k)
            points.append(HistoryPoint(when, direction, r.value, r.unit))
        out.append((direction, day, points))
    return out


def history2_points(edt: bytes, coefficient: int, unit_kwh: int | float | None) -> list[HistoryPoint]:
    """Points of an EC (history 2) EDT: ``YYYY MM DD hh mm`` (6 bytes), the slot count, then per slot
    normal and reverse cumulative energy (4 + 4 bytes), newest first, 30 minutes apart
    (protocols.md §6.7). Without E1 the values stay raw counts (``unit`` ``None``)."""
    if len(edt) < 7:
        return []
    year, month, day, hour, minute, count = int.from_bytes(edt[0:2], "big"), *edt[2:7]
    try:
        newest = dt.datetime(year, month, day, hour, minute)
    except ValueError:
        return []
    out: list[HistoryPoint] = []
    for k in range(min(count, (len(edt) - 7) // 8)):
        when = newest - dt.timedelta(minutes=30 * k)
        for j, direction in enumerate(("import", "export")):
            raw = int.from_bytes(edt[7 + 8 * k + 4 * j : 11 + 8 * k + 4 * j], "big")
            if raw >= 0xFFFFFFFE:
                continue
            if unit_kwh is None:
                out.append(HistoryPoint(when, direction, raw, None))
            else:
                value = raw * coefficient * unit_kwh
                out.append(HistoryPoint(when, direction, round(value, 6), "kWh"))
    return sorted(out, key=lambda p: (p.time, p.direction))
