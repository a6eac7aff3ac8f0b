"""COSEM value types: date-time, scaler-unit and the unit table (DLMS Blue Book §4.1.6.1, §4.3.2)."""

from __future__ import annotations

from meterui.protocol.spans import Node

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import tzinfo

# Blue Book unit enumeration (protocols.md §3.3, from Gurux `Unit`). Symbols are what we display;
# SI_UNITS maps the ones the JSON contract names to themselves.
UNITS: dict[int, str] = {
    1: "a",
    2: "mo",
    3: "wk",
    4: "d",
    5: "h",
    6: "min",
    7: "s",
    8: "°",
    9: "°C",
    10: "currency",
    11: "m",
    12: "m/s",
    13: "m3",
    14: "m3",
    15: "m3/h",
    16: "m3/h",
    17: "m3/d",
    18: "m3/d",
    19: "l",
    20: "kg",
    21: "N",
    22: "Nm",
    23: "Pa",
    24: "bar",
    25: "J",
    26: "J/h",
    27: "W",
    28: "VA",
    29: "var",
    30: "Wh",
    31: "VAh",
    32: "varh",
    33: "A",
    34: "C",
    35: "V",
    36: "V/m",
    37: "F",
    38: "Ω",
    39: "Ωm2/m",
    40: "Wb",
    41: "T",
    42: "A/m",
    43: "H",
    44: "Hz",
    45: "1/(Wh)",
    46: "1/(varh)",
    47: "1/(VAh)",
    48: "V2h",
    49: "A2h",
    50: "kg/s",
    51: "S",
    52: "K",
    53: "1/(V2h)",
    54: "1/(A2h)",
    55: "1/m3",
    56: "%",
    57: "Ah",
    60: "Wh/m3",
    61: "J/m3",
    62: "mol %",
    63: "g/m3",
    64: "Pa s",
    65: "J/kg",
    70: "dBm",
    71: "dBµV",
    72: "dB",
    254: "other",
    255: "",
}
UNIT_NAMES: dict[int, str] = {
    13: "m3 (volume)",
    14: "m3 (corrected volume)",
    27: "W (active power)",
    28: "VA (apparent power)",
    29: "var (reactive power)",
    30: "Wh (active energy)",
    31: "VAh (apparent energy)",
    32: "varh (reactive energy)",
    33: "A (current)",
    35: "V (voltage)",
    44: "Hz (frequency)",
    255: "count (no unit)",
}


JSON_UNITS = frozenset({"W", "kW", "var", "kvar", "VA", "Wh", "kWh", "varh", "kvarh", "V", "A", "Hz", "m3"})
"""The unit symbols readings may carry (the JSON contract); others are described in the tree only."""
_SYMBOLS: dict[int, str | None] = {code: (sym if sym in JSON_UNITS else None) for code, sym in UNITS.items()}


def unit_symbol(code: int) -> str | None:
    """A reading's unit for a Blue Book unit enum: one of :data:`JSON_UNITS`, else ``None``."""
    return _SYMBOLS.get(code)


def unit_text(code: int) -> str:
    """Any unit enum as display text (``°C``, ``%``, ``unit 200``), for the inspector."""
    sym = UNITS.get(code)
    return f"unit {code}" if sym is None else (sym or "no unit")


def zone_offset(year: int, month: int, day: int, hour: int, minute: int, second: int, tz: tzinfo) -> str:
    """``+HH:MM`` of a local time in ``tz`` (for clocks whose deviation is "not specified")."""
    from datetime import datetime  # only with a zone: ``meterui decode`` of one frame starts without it

    try:
        off = datetime(year, month, day, hour, minute, min(second, 59), tzinfo=tz).utcoffset()
    except ValueError:
        return ""
    if off is None:
        return ""
    mins = int(off.total_seconds()) // 60
    return f"{'+' if mins >= 0 else '-'}{abs(mins) // 60:02d}:{abs(mins) % 60:02d}"


def datetime_iso(b: bytes, invert_deviation: bool = False, tz: tzinfo | None = None) -> str | None:
    """ISO text of a 12-byte COSEM date-time (fast path of :meth:`CosemDateTime.iso`). A deviation of
    "not specified" gives no offset, or the offset of the configured zone ``tz`` at that local time."""
    year = b[0] << 8 | b[1]
    month, day, hour, minute, second = b[2], b[3], b[5], b[6], b[7]
    if year == 0xFFFF or not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    if hour == 0xFF:
        return f"{year:04d}-{month:02d}-{day:02d}"
    if minute == 0xFF:
        minute = 0
    if second == 0xFF:
        second = 0
    if hour > 23 or minute > 59 or second > 60:
        return None
    text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    dev = b[9] << 8 | b[10]
    if dev == 0x8000:
        return text if tz is None else text + zone_offset(year, month, day, hour, minute, second, tz)
    off = -(dev - 0x10000 if dev & 0x8000 else dev)
    if not -900 <= off <= 900:
        return text
    if invert_deviation:
        off = -off
    return f"{text}{'+' if off >= 0 else '-'}{abs(off) // 60:02d}:{abs(off) % 60:02d}"


_MONTH_SPECIAL = {0xFD: "DST end", 0xFE: "DST begin", 0xFF: "not specified"}
_DAY_SPECIAL = {0xFD: "2nd last", 0xFE: "last", 0xFF: "not specified"}


class CosemDateTime:
    """A COSEM date-time (12 bytes), date (5) or time (4), with not-specified fields as ``None``."""

    __slots__ = ("day", "deviation", "hour", "hundredths", "minute", "month", "second", "status", "weekday", "year")

    def __init__(
        self,
        year: int | None,
        month: int | None,
        day: int | None,
        weekday: int | None,
        hour: int | None,
        minute: int | None,
        second: int | None,
        hundredths: int | None,
        deviation: int | None,
        status: int | None,
    ) -> None:
        self.year = year
        self.month = month
        self.day = day
        self.weekday = weekday
        self.hour = hour
        self.minute = minute
        self.second = second
        self.hundredths = hundredths
        self.deviation = deviation
        self.status = status

    @classmethod
    def from_bytes(cls, b: bytes) -> CosemDateTime:
        """Blue Book 4.1.6.1: year(2) month day weekday hour minute second hundredths deviation(2) status."""
        year = (b[0] << 8) | b[1]
        dev = (b[9] << 8) | b[10]
        return cls(
            None if year == 0xFFFF else year,
            None if b[2] >= 0xFD or b[2] == 0 else b[2],
            None if b[3] >= 0xFD or b[3] == 0 else b[3],
            None if b[4] == 0xFF else b[4],
            None if b[5] == 0xFF else b[5],
            None if b[6] == 0xFF else b[6],
            None if b[7] == 0xFF else b[7],
            None if b[8] == 0xFF else b[8],
            None if dev == 0x8000 else (dev - 0x10000 if dev & 0x8000 else dev),
            None if b[11] == 0xFF else b[11],
        )

    @classmethod
    def date_from_bytes(cls, b: bytes) -> CosemDateTime:
        year = (b[0] << 8) | b[1]
        return cls(
            None if year == 0xFFFF else year,
            None if b[2] >= 0xFD or b[2] == 0 else b[2],
            None if b[3] >= 0xFD or b[3] == 0 else b[3],
            None if b[4] == 0xFF else b[4],
            None,
            None,
            None,
            None,
            None,
            None,
        )

    @classmethod
    def time_from_bytes(cls, b: bytes) -> CosemDateTime:
        return cls(
            None,
            None,
            None,
            None,
            None if b[0] == 0xFF else b[0],
            None if b[1] == 0xFF else b[1],
            None if b[2] == 0xFF else b[2],
            None if b[3] == 0xFF else b[3],
            None,
            None,
        )

    @property
    def utc_offset_minutes(self) -> int | None:
        """Offset of local time from UTC. The Blue Book deviation is minutes from local to UTC, so the
        offset is its negation (−60 → UTC+01:00); see protocols.md §3.2."""
        return None if self.deviation is None else -self.deviation

    def iso(self, invert_deviation: bool = False, tz: tzinfo | None = None) -> str | None:
        """ISO-8601 text, with the UTC offset when a deviation is given; ``None`` without a full date."""
        if self.year is None or self.month is None or self.day is None:
            return None
        if not (1 <= self.month <= 12 and 1 <= self.day <= 31):
            return None
        text = f"{self.year:04d}-{self.month:02d}-{self.day:02d}"
        if self.hour is None:
            return text
        if self.hour > 23 or (self.minute or 0) > 59 or (self.second or 0) > 60:
            return None
        text += f"T{self.hour:02d}:{self.minute or 0:02d}:{self.second or 0:02d}"
        off = self.utc_offset_minutes
        if off is not None and -900 <= off <= 900:
            if invert_deviation:
                off = -off
            sign = "+" if off >= 0 else "-"
            text += f"{sign}{abs(off) // 60:02d}:{abs(off) % 60:02d}"
        elif off is None and tz is not None:
            text += zone_offset(self.year, self.month, self.day, self.hour, self.minute or 0, self.second or 0, tz)
        return text

    def __str__(self) -> str:
        iso = self.iso()
        if iso is not None:
            return iso
        parts = [
            "----" if self.year is None else f"{self.year:04d}",
            "--" if self.month is None else f"{self.month:02d}",
            "--" if self.day is None else f"{self.day:02d}",
        ]
        text = "-".join(parts)
        if self.hour is not None or self.minute is not None:
            text += " " + ":".join("--" if v is None else f"{v:02d}" for v in (self.hour, self.minute, self.second))
        return text

    def __repr__(self) -> str:  # pragma: no cover
        return f"CosemDateTime({self})"


def annotate_datetime(value: Node, buf: bytes, dt: CosemDateTime) -> None:
    """Split a 12-byte date-time value leaf into one child per field."""
    s, b = value.start, value.buffer
    raw = buf[s : s + 12]
    Node("year", "year", b, s, s + 2, dt.year, "not specified" if dt.year is None else "", value)
    Node("month", "month", b, s + 2, s + 3, dt.month, _MONTH_SPECIAL.get(raw[2], ""), value)
    Node("day", "day of month", b, s + 3, s + 4, dt.day, _DAY_SPECIAL.get(raw[3], ""), value)
    Node("weekday", "day of week", b, s + 4, s + 5, dt.weekday, "", value)
    Node("hour", "hour", b, s + 5, s + 6, dt.hour, "", value)
    Node("minute", "minute", b, s + 6, s + 7, dt.minute, "", value)
    Node("second", "second", b, s + 7, s + 8, dt.second, "", value)
    Node("hundredths", "hundredths", b, s + 8, s + 9, dt.hundredths, "", value)
    Node(
        "deviation",
        "deviation (min local→UTC)",
        b,
        s + 9,
        s + 11,
        dt.deviation,
        "not specified" if dt.deviation is None else f"UTC{-dt.deviation:+d} min",
        value,
    )
    Node("status", "clock status", b, s + 11, s + 12, dt.status, clock_status_text(dt.status), value)


def clock_status_text(status: int | None) -> str:
    if status is None:
        return "not specified"
    bits = []
    for bit, name in (
        (0x01, "invalid"),
        (0x02, "doubtful"),
        (0x04, "different clock base"),
        (0x08, "invalid status"),
        (0x80, "DST active"),
    ):
        if status & bit:
            bits.append(name)
    return ", ".join(bits) if bits else "ok"
