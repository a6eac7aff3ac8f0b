"""Plausibility checks for values that may be off by a power of ten (meter-lists.md §3.3).

A frame cannot tell a Swedish Kamstrup (energy in Wh) from a Norwegian one (10 Wh), or a meter that sends
voltage in 0.01 V: these checks look at the values over time and suggest a ``--scale`` override. Pure and
UI-free: the live screen's owner calls :func:`plausibility` with the readings it keeps.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import NamedTuple

VOLTAGE_MAX = 1000.0
"""No customer-port meter measures more than this phase voltage; above it the unit is probably 0.1/0.01 V."""
ENERGY_RATIO = 10**0.5
"""Energy growth this many times faster (or slower) than ∫P: off by a power of ten (√10: halfway in log)."""
MIN_ENERGY_SPAN_WH = 50.0
"""Integrated energy below this is too little to judge the energy counter's unit by."""

_VOLTAGE_QUANTITIES = frozenset({"voltage_l1", "voltage_l2", "voltage_l3"})


class Warning_(NamedTuple):
    """One plausibility finding: what looks off, and the override that would fix it."""

    group: str
    """The ``--scale`` group (``voltage``, ``energy``)."""
    factor: float
    """The factor that would bring the values into range (e.g. 0.1)."""
    message: str


def check_voltage(volts: float) -> Warning_ | None:
    """A phase voltage above 1000 V: suggest the power of ten that brings it near 230 V."""
    if not math.isfinite(volts) or volts <= VOLTAGE_MAX:
        return None
    exp = round(math.log10(volts / 230.0))
    factor = 10.0 ** -max(exp, 1)
    return Warning_(
        "voltage",
        factor,
        f"voltage {volts:g} V is implausible: the meter probably sends "
        f"{factor:g} V units (try --scale voltage={factor:g})",
    )


def check_energy(
    samples_power: Sequence[tuple[float, float]], energy_start: tuple[float, float], energy_end: tuple[float, float]
) -> Warning_ | None:
    """Compare the energy counter's growth with the integrated active power.

    ``samples_power``: (time in s, import power in W) pairs; ``energy_start``/``energy_end``: (time, Wh).
    Returns a warning when the counter grew a power of ten faster or slower than ∫P over the same span."""
    t0, e0 = energy_start
    t1, e1 = energy_end
    if t1 <= t0:
        return None
    pts = sorted((t, p) for t, p in samples_power if t0 <= t <= t1 and math.isfinite(p))
    if len(pts) < 2:
        return None
    integral_wh = 0.0
    for (ta, pa), (tb, pb) in itertools.pairwise(pts):
        integral_wh += (pa + pb) / 2.0 * (tb - ta) / 3600.0
    grown = e1 - e0
    if integral_wh < MIN_ENERGY_SPAN_WH or grown <= 0:
        return None
    ratio = grown / integral_wh
    if 1 / ENERGY_RATIO <= ratio <= ENERGY_RATIO:
        return None
    exp = round(math.log10(ratio))
    if exp == 0:
        return None
    factor = 10.0**-exp
    return Warning_(
        "energy",
        factor,
        f"the energy counter grew {ratio:.3g}× the integrated power: it is probably "
        f"in units {factor:g}× what is shown (try --scale energy={factor:g})",
    )


def plausibility(
    readings_over_time: Sequence[tuple[float, Sequence[tuple[str | None, str | None, int | float | str, str | None]]]],
) -> list[Warning_]:
    """All findings for a series of messages: ``[(time s, [(quantity, id, value, unit), …]), …]``.

    Checks: any phase voltage above 1000 V; the import energy (``active_energy_import``) against the
    integrated import power (``active_power_import``) between its first and last reading."""
    out: list[Warning_] = []
    seen: set[str] = set()
    power: list[tuple[float, float]] = []
    energy: list[tuple[float, float]] = []
    for t, readings in readings_over_time:
        for quantity, _rid, value, unit in readings:
            if not isinstance(value, int | float):
                continue
            if quantity in _VOLTAGE_QUANTITIES and "voltage" not in seen:
                w = check_voltage(float(value))
                if w is not None:
                    out.append(w)
                    seen.add("voltage")
            elif quantity == "active_power_import":
                power.append((t, float(value) * (1000.0 if unit == "kW" else 1.0)))
            elif quantity == "active_energy_import":
                energy.append((t, float(value) * (1000.0 if unit == "kWh" else 1.0)))
    if len(energy) >= 2:
        w = check_energy(power, energy[0], energy[-1])
        if w is not None:
            out.append(w)
    return out
