"""Number, value and age formatting shared by the live widgets (kept free of DataTable, so the first
paint does not import it)."""

from __future__ import annotations

import math
import re


def format_number(value: float, *, integer: bool = False) -> str:
    """A number as people read meters: ``232.9``, ``1.76``, ``77130``, no float noise.

    ``integer`` prints an integral float without a decimal point (min/max of an integer register).
    """
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    if integer and value.is_integer():
        return str(int(value))
    if abs(value) >= 1e10:
        return f"{value:.0f}"
    text = f"{value:.10g}"
    if "e" in text:
        text = f"{value:.6f}".rstrip("0")
    if "." not in text:
        text += ".0"
    return text


def format_value(value: object) -> str:
    """A reading's value for display (numbers via :func:`format_number`; ISO clocks without ``T``)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format_number(value)
    text = str(value)
    if len(text) >= 19 and text[4:5] == "-" and text[10:11] == "T":  # 2023-08-21T23:23:00+02:00
        text = text[:10] + " " + text[11:]
    return text


def format_age(seconds: float | None) -> str:
    """``2s``, ``1m05s``, ``2h03m``, ``3d04h``; ``-`` when unknown. Negative ages (clock skew) are 0."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


KILO_UNITS = {"Wh": "kWh", "varh": "kvarh", "VAh": "kVAh"}
"""Energy units shown in thousands in the app (people read meters in kWh); JSON keeps the meter's unit."""


def display_unit(unit: str | None) -> str | None:
    """The unit the app shows for a reading in ``unit`` (``Wh`` → ``kWh``; others unchanged)."""
    return KILO_UNITS.get(unit, unit) if unit is not None else None


def format_reading(value: object, unit: str | None) -> tuple[str, str | None]:
    """A reading's value and unit as the app shows them: energies in kWh with three decimals
    (``12347660 Wh`` → ``12347.660 kWh``), everything else as :func:`format_value`."""
    if unit in KILO_UNITS and isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return f"{value / 1000:.3f}", KILO_UNITS[unit]
    return format_value(value), unit


_REMEDY = re.compile(r"\b(check|pass|enter|try|give|press|use|set|plug|is needed|are needed)\b", re.IGNORECASE)


def format_error(message: str) -> str:
    """An error message with its remedy first: ``encrypted frame (…): a key is needed; pass --key``
    becomes ``a key is needed; pass --key · encrypted frame (…)``, so a narrow line keeps the advice.

    The remedy is what follows the last ``": "`` outside parentheses, when it says what to do."""
    depth = 0
    split = -1
    for i, ch in enumerate(message):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        elif ch == ":" and depth == 0 and message[i + 1 : i + 2] == " ":
            split = i
    if split <= 0:
        return message
    head, remedy = message[:split].strip(), message[split + 2 :].strip()
    if not _REMEDY.search(remedy):
        return message
    return f"{remedy} · {head}"


def format_age_coarse(seconds: float | None) -> str:
    """An age that changes rarely, for the live table: ``<10s``, ``10s`` … ``50s`` (tens of seconds,
    rounded down), ``1m`` … ``59m``, ``1h`` … ``23h``, ``1d`` …; ``-`` when unknown.

    A table cell that changes repaints the whole table (issue #8: idle CPU on a Pi); with these steps a
    reading refreshed every few seconds never changes its age text between two pushes."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    s = max(0, int(seconds))
    if s < 10:
        return "<10s"
    if s < 60:
        return f"{s // 10 * 10}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


_COARSE_STEPS = ((10, 10), (60, 10), (3600, 60), (86400, 3600))
"""(below this age, the coarse age text changes every this many seconds); beyond: every day."""


def next_coarse_change(seconds: float | None) -> float:
    """Seconds from an age of ``seconds`` until :func:`format_age_coarse` shows another text (``inf``: never).

    The live table's 1 Hz tick touches its age column only then (idle CPU on a Pi, issue #8)."""
    if seconds is None or not math.isfinite(seconds):
        return math.inf
    s = max(0.0, seconds)
    for below, step in _COARSE_STEPS:
        if s < below:
            return (s // step + 1) * step - s
    return (s // 86400 + 1) * 86400 - s
