"""The shared vocabulary for readings: every quantity name meterui emits, with its canonical unit.

``Reading.quantity`` is one of :data:`QUANTITIES` (or ``None`` for an element without a normalised
meaning). Readings carry the unit the meter sent (``W`` or ``kW``, ``Wh`` or ``kWh``…);
:func:`to_canonical` converts a value to the quantity's canonical unit, so widgets and exporters never
guess. UI-free and dependency-free: the decoder tables, the widgets and exporters import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["power", "energy", "voltage", "current", "ratio", "frequency", "volume", "text", "time"]


@dataclass(frozen=True, slots=True)
class Quantity:
    name: str
    unit: str | None
    """The canonical unit (SI symbol; ``None`` for text, times and ratios)."""
    kind: Kind
    short: str
    """A short label for tight spaces (``P+``, ``U1``)."""
    phase: int | None = None


def _q(name: str, unit: str | None, kind: Kind, short: str, phase: int | None = None) -> Quantity:
    return Quantity(name, unit, kind, short, phase)


_TABLE = [
    _q("active_power_import", "W", "power", "P+"),
    _q("active_power_export", "W", "power", "P-"),
    _q("reactive_power_import", "var", "power", "Q+"),
    _q("reactive_power_export", "var", "power", "Q-"),
    *[_q(f"active_power_import_l{p}", "W", "power", f"P{p}+", p) for p in (1, 2, 3)],
    *[_q(f"active_power_export_l{p}", "W", "power", f"P{p}-", p) for p in (1, 2, 3)],
    *[_q(f"voltage_l{p}", "V", "voltage", f"U{p}", p) for p in (1, 2, 3)],
    *[_q(f"current_l{p}", "A", "current", f"I{p}", p) for p in (1, 2, 3)],
    _q("active_energy_import", "Wh", "energy", "A+"),
    _q("active_energy_export", "Wh", "energy", "A-"),
    _q("reactive_energy_import", "varh", "energy", "R+"),
    _q("reactive_energy_export", "varh", "energy", "R-"),
    _q("active_energy_import_t1", "Wh", "energy", "A+T1"),
    _q("active_energy_import_t2", "Wh", "energy", "A+T2"),
    _q("active_energy_export_t1", "Wh", "energy", "A-T1"),
    _q("active_energy_export_t2", "Wh", "energy", "A-T2"),
    _q("power_factor", None, "ratio", "PF"),
    _q("frequency", "Hz", "frequency", "f"),
    _q("meter_id", None, "text", "ID"),
    _q("meter_type", None, "text", "type"),
    _q("list_id", None, "text", "list"),
    _q("meter_clock", None, "time", "clock"),
    _q("gas_volume", "m3", "volume", "gas"),
]

QUANTITY: dict[str, Quantity] = {q.name: q for q in _TABLE}
"""Every quantity by name."""
QUANTITIES = frozenset(QUANTITY)

_PREFIXES = {"k": 1e3, "M": 1e6, "m": 1e-3}


def canonical_unit(quantity: str) -> str | None:
    """The canonical unit of ``quantity``; ``KeyError`` for a name that is not in the vocabulary."""
    return QUANTITY[quantity].unit


def to_canonical(quantity: str, value: float, unit: str | None) -> float | None:
    """``value`` in ``unit`` converted to the quantity's canonical unit (``2.5 kW`` → ``2500.0``).

    ``None`` when it cannot be converted (another dimension, or no unit where one is needed): never a
    guess.
    """
    target = QUANTITY[quantity].unit if quantity in QUANTITY else None
    if target is None or unit is None:
        return None
    if unit == target:
        return float(value)
    prefix, rest = unit[:1], unit[1:]
    if rest == target and prefix in _PREFIXES:
        return float(value) * _PREFIXES[prefix]
    return None
