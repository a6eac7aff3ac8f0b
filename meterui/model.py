"""UI-free state built from decoded messages: latest values, min/max, bounded histories.

Memory is flat over any number of frames: one :class:`ReadingState` per (meter, reading id), one
``deque(maxlen=N)`` history per numeric reading, and counters. The number of meters is capped too
(least recently heard evicted), so a noisy stream cannot grow state without bound.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass

from meterui.protocol.message import Message, Reading

DEFAULT_METER = "meter"
DEFAULT_HISTORY = 600
MAX_METERS = 32
MAX_READINGS_PER_METER = 512


def _numeric(value: object) -> float | None:
    """The value as a float when it is a real number (not bool, not NaN/inf), else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass(slots=True)
class ReadingState:
    """The latest state of one reading of one meter."""

    id: str
    name: str
    unit: str | None
    quantity: str | None
    value: int | float | str
    min: float | None
    """Smallest numeric value seen (``None`` if never numeric)."""
    max: float | None
    last_update: float
    """UNIX time of the last update (the message's arrival time when known)."""
    count: int

    @property
    def is_numeric(self) -> bool:
        return _numeric(self.value) is not None


class MeterModel:
    """Per-meter readings and histories, fed with :meth:`update`.

    Not thread-safe: update and read it from one thread (the UI thread, from posted messages).
    """

    def __init__(
        self, history: int = DEFAULT_HISTORY, max_meters: int = MAX_METERS, max_readings: int = MAX_READINGS_PER_METER
    ) -> None:
        if history < 1:
            raise ValueError("history must be at least 1")
        self.history_size = history
        self.max_meters = max_meters
        self.max_readings = max_readings
        self._reset()

    def _reset(self) -> None:
        self._readings: OrderedDict[str, OrderedDict[str, ReadingState]] = OrderedDict()
        self._history: dict[tuple[str, str], deque[tuple[float, float]]] = {}
        self._last_heard: dict[str, float] = {}
        # global counters
        self.messages = 0
        self.ok = 0
        self.errors = 0
        self.errors_by_layer: dict[str, int] = {}
        self.readings_seen = 0
        self.last_update: float | None = None
        self.last_message: Message | None = None
        """The most recent message (one object, replaced each update)."""

    # -- feeding -----------------------------------------------------------------------------------
    def update(self, messages: Iterable[Message], now: float | None = None) -> None:
        """Fold messages into the state. ``now`` stamps messages without an arrival time."""
        for message in messages:
            stamp = message.received if message.received is not None else (now if now is not None else time.time())
            self.messages += 1
            self.last_update = stamp
            self.last_message = message
            if message.error is not None:
                self.errors += 1
                layer = message.error.layer
                self.errors_by_layer[layer] = self.errors_by_layer.get(layer, 0) + 1
            else:
                self.ok += 1
            if not message.readings:
                continue
            meter = message.meter or DEFAULT_METER
            table = self._meter_table(meter)
            self._last_heard[meter] = stamp
            for reading in message.readings:
                self._apply(meter, table, reading, stamp)

    def _meter_table(self, meter: str) -> OrderedDict[str, ReadingState]:
        table = self._readings.get(meter)
        if table is None:
            if len(self._readings) >= self.max_meters:
                oldest = min(self._readings, key=lambda m: self._last_heard.get(m, 0.0))
                self._forget(oldest)
            table = OrderedDict()
            self._readings[meter] = table
        return table

    def _forget(self, meter: str) -> None:
        table = self._readings.pop(meter, None)
        self._last_heard.pop(meter, None)
        for rid in table or ():
            self._history.pop((meter, rid), None)

    def _apply(self, meter: str, table: OrderedDict[str, ReadingState], reading: Reading, stamp: float) -> None:
        self.readings_seen += 1
        number = _numeric(reading.value)
        state = table.get(reading.id)
        if state is None:
            if len(table) >= self.max_readings:
                return
            state = ReadingState(
                reading.id, reading.name, reading.unit, reading.quantity, reading.value, number, number, stamp, 1
            )
            table[reading.id] = state
        else:
            state.name = reading.name
            state.unit = reading.unit
            state.quantity = reading.quantity
            state.value = reading.value
            state.last_update = stamp
            state.count += 1
            if number is not None:
                state.min = number if state.min is None else min(state.min, number)
                state.max = number if state.max is None else max(state.max, number)
        if number is not None:
            key = (meter, reading.id)
            hist = self._history.get(key)
            if hist is None:
                hist = self._history[key] = deque(maxlen=self.history_size)
            hist.append((stamp, number))

    def reset_minmax(self) -> None:
        """Forget min/max (the next value starts them again); histories are kept."""
        for table in self._readings.values():
            for state in table.values():
                number = _numeric(state.value)
                state.min = state.max = number

    def clear(self) -> None:
        """Forget everything."""
        self._reset()

    # -- queries -----------------------------------------------------------------------------------
    def meters(self) -> list[str]:
        """Meter labels in the order first heard."""
        return list(self._readings)

    def readings(self, meter: str | None = None) -> list[ReadingState]:
        """The readings of ``meter`` (default: the first meter) in the order first seen."""
        if meter is None:
            meter = next(iter(self._readings), None)
        table = self._readings.get(meter) if meter is not None else None
        return list(table.values()) if table else []

    def get(self, reading_id: str, meter: str | None = None) -> ReadingState | None:
        """One reading by id; without ``meter``, the most recently updated across meters."""
        if meter is not None:
            table = self._readings.get(meter)
            return table.get(reading_id) if table else None
        found = [t[reading_id] for t in self._readings.values() if reading_id in t]
        return max(found, key=lambda s: s.last_update) if found else None

    def latest(self, quantity: str, meter: str | None = None) -> ReadingState | None:
        """The most recently updated reading with this quantity: of ``meter``, or across meters (``None``)."""
        best: ReadingState | None = None
        if meter is not None:
            one = self._readings.get(meter)
            tables = [one] if one is not None else []
        else:
            tables = list(self._readings.values())
        for table in tables:
            for state in table.values():
                if state.quantity == quantity and (best is None or state.last_update >= best.last_update):
                    best = state
        return best

    def history(self, reading_id: str, meter: str | None = None) -> deque[tuple[float, float]]:
        """``(time, value)`` pairs, oldest first, at most ``history`` of them (empty if none)."""
        if meter is None:
            state_meter = self._meter_of(reading_id)
            if state_meter is None:
                return deque(maxlen=self.history_size)
            meter = state_meter
        return self._history.get((meter, reading_id)) or deque(maxlen=self.history_size)

    def values(self, reading_id: str, meter: str | None = None) -> list[float]:
        """Just the values of :meth:`history` (for sparklines)."""
        return [v for _, v in self.history(reading_id, meter)]

    def _meter_of(self, reading_id: str) -> str | None:
        best: tuple[float, str] | None = None
        for meter, table in self._readings.items():
            state = table.get(reading_id)
            if state is not None and (best is None or state.last_update >= best[0]):
                best = (state.last_update, meter)
        return None if best is None else best[1]
