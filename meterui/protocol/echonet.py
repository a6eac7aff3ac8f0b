"""ECHONET Lite frame decoding for the Japanese B-route (protocols.md §6.6–§6.7).

:func:`decode_edata` reads one ECHONET Lite frame (EDATA format 1: ``EHD1 10 | EHD2 81 | TID |
SEOJ | DEOJ | ESV | OPC | OPC × (EPC, PDC, EDT)``) into a decode tree whose leaves tile the frame,
and turns the properties of the low-voltage smart electric energy meter class ``0x0288`` into
:class:`~meterui.protocol.message.Reading` objects.

Everything known about properties lives in the tables :data:`METER_PROPERTIES` and
:data:`NODE_PROFILE_PROPERTIES` (ECHONET Lite spec, Appendix "Detailed Requirements for ECHONET
Device Objects" §3.3.25 and the node profile, as summarised in protocols.md §6.6–§6.7).

Cumulative energy (E0/E3/EA/EB/E2/E4) is only meaningful in kWh once the coefficient (D3) and
the unit (E1) are known; that per-meter knowledge is kept in :class:`EchonetState`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from meterui.protocol.errors import DecodeError, MeterError, TruncatedError
from meterui.protocol.message import Reading
from meterui.protocol.spans import Node, leaf

EHD1_ECHONET_LITE = 0x10
"""EHD1 for ECHONET Lite (ECHONET Lite spec §3.2.1)."""
EHD2_FORMAT1 = 0x81
"""EHD2 for the specified message format, EDATA format 1 (ECHONET Lite spec §3.2.2)."""

ESV_NAMES: dict[int, str] = {
    0x50: "SetI_SNA",
    0x51: "SetC_SNA",
    0x52: "Get_SNA",
    0x53: "INF_SNA",
    0x5E: "SetGet_SNA",
    0x60: "SetI",
    0x61: "SetC",
    0x62: "Get",
    0x63: "INF_REQ",
    0x6E: "SetGet",
    0x71: "Set_Res",
    0x72: "Get_Res",
    0x73: "INF",
    0x74: "INFC",
    0x7A: "INFC_Res",
    0x7E: "SetGet_Res",
}
"""ECHONET Lite service codes (ECHONET Lite spec §3.2.5, protocols.md §6.6)."""

ESV_SETGET = frozenset({0x5E, 0x6E, 0x7E})
"""Services whose EDATA carries two property lists (OPCSet, then OPCGet)."""
ESV_WITH_VALUES = frozenset({0x52, 0x53, 0x72, 0x73, 0x74, 0x5E, 0x7E})
"""Responses and notifications whose EDTs are meter values (readings are made from these)."""

EOJ_NAMES: dict[int, str] = {
    0x028801: "low-voltage smart meter",
    0x05FF01: "controller",
    0x0EF001: "node profile",
}
"""Object instances met on the B-route (protocols.md §6.6)."""
CLASS_NAMES: dict[int, str] = {
    0x0288: "low-voltage smart electric energy meter",
    0x05FF: "controller",
    0x0EF0: "node profile",
}
METER_CLASS = 0x0288
NODE_PROFILE_CLASS = 0x0EF0

UNIT_EXPONENTS: dict[int, int] = {
    0x00: 0,
    0x01: -1,
    0x02: -2,
    0x03: -3,
    0x04: -4,
    0x0A: 1,
    0x0B: 2,
    0x0C: 3,
    0x0D: 4,
}
"""E1 (unit for cumulative energy) code → power of ten of kWh (protocols.md §6.7)."""

NO_DATA_U32 = 0xFFFFFFFE
"""Cumulative / history sentinel: no data (protocols.md §6.7)."""
OVERFLOW_U32 = 0xFFFFFFFF


def eoj_name(eoj: int) -> str:
    """A readable name for a 3-byte EOJ (class group, class, instance)."""
    name = EOJ_NAMES.get(eoj)
    if name is not None:
        return name
    cls = CLASS_NAMES.get(eoj >> 8)
    return f"{cls} #{eoj & 0xFF}" if cls else "unknown object"


def unit_multiplier(code: int) -> int | float | None:
    """The kWh multiplier for an E1 unit code (``0x01`` → 0.1), ``None`` for an unknown code."""
    exp = UNIT_EXPONENTS.get(code)
    if exp is None:
        return None
    return 10**exp if exp >= 0 else 1 / 10**-exp


class EchonetState:
    """Per-meter scaling state for cumulative energy: coefficient (D3) and unit (E1).

    kWh = raw × D3 × E1 multiplier (protocols.md §6.7, [SMDN-LV]). ``scale`` returns ``None`` until
    both are known. A fractional multiplier 10^-n is applied as ``raw * d3 / 10**n`` so that
    86536 × 1 × 0.1 gives exactly 8653.6.
    """

    __slots__ = ("coefficient", "unit_code")

    def __init__(self, coefficient: int | None = None, unit_code: int | None = None) -> None:
        self.coefficient = coefficient
        self.unit_code = unit_code

    @property
    def ready(self) -> bool:
        return self.coefficient is not None and self.unit_code in UNIT_EXPONENTS

    def scale(self, raw: int) -> int | float | None:
        if self.coefficient is None or self.unit_code not in UNIT_EXPONENTS:
            return None
        exp = UNIT_EXPONENTS[self.unit_code]
        value = raw * self.coefficient
        return value * 10**exp if exp >= 0 else value / 10**-exp

    def describe(self) -> str:
        if not self.ready:
            missing = [n for n, v in (("D3", self.coefficient), ("E1", self.unit_code)) if v is None]
            return f"raw count ({' and '.join(missing) or 'E1'} not seen yet)"
        return f"× {self.coefficient} (D3) × {unit_multiplier(self.unit_code or 0)} kWh (E1)"

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"EchonetState(coefficient={self.coefficient!r}, unit_code={self.unit_code!r})"


@dataclass(slots=True)
class EchonetFrame:
    """The result of :func:`decode_edata`. ``error`` is set when the frame could not be fully decoded."""

    node: Node
    readings: list[Reading] = field(default_factory=list)
    clock: str | None = None
    error: MeterError | None = None
    warnings: list[str] = field(default_factory=list)
    tid: int | None = None
    seoj: int | None = None
    deoj: int | None = None
    esv: int | None = None


# -- property table -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PropertySpec:
    """How to read one EPC: its name, the EDT kind and size, and what readings it makes."""

    name: str
    kind: str
    """``enum``, ``hex``, ``text``, ``time``, ``date``, ``uint``, ``int``, ``unit``, ``energy``,
    ``current``, ``energy_at``, ``history``, ``propmap``, ``eojlist``, ``classlist``."""
    size: int | None = None
    """Exact PDC, or ``None`` when variable."""
    quantity: str | None = None
    unit: str | None = None
    labels: Mapping[int, str] | None = None
    parts: tuple[str | None, ...] = ()
    """Quantities of the two phases for ``current`` (R, T)."""


_MAPS = {
    0x9D: PropertySpec("status change announcement property map", "propmap"),
    0x9E: PropertySpec("Set property map", "propmap"),
    0x9F: PropertySpec("Get property map", "propmap"),
}

METER_PROPERTIES: dict[int, PropertySpec] = {
    0x80: PropertySpec("operation status", "enum", 1, labels={0x30: "ON", 0x31: "OFF"}),
    0x88: PropertySpec("fault status", "enum", 1, labels={0x41: "fault", 0x42: "no fault"}),
    0x8A: PropertySpec("maker code", "hex", 3),
    0x8D: PropertySpec("serial number", "text", quantity="meter_id"),
    0x97: PropertySpec("current time", "time", 2),
    0x98: PropertySpec("current date", "date", 4),
    **_MAPS,
    0xC0: PropertySpec("route B identification number", "hex"),
    0xD0: PropertySpec("1-minute cumulative energy", "hex"),
    0xD3: PropertySpec("coefficient", "uint", 4),
    0xD7: PropertySpec("effective digits", "uint", 1),
    0xE0: PropertySpec("cumulative energy (normal)", "energy", 4, quantity="active_energy_import"),
    0xE1: PropertySpec("unit for cumulative energy", "unit", 1),
    0xE2: PropertySpec("cumulative energy history 1 (normal)", "history", 194),
    0xE3: PropertySpec("cumulative energy (reverse)", "energy", 4, quantity="active_energy_export"),
    0xE4: PropertySpec("cumulative energy history 1 (reverse)", "history", 194),
    0xE5: PropertySpec("day for history 1", "uint", 1),
    0xE7: PropertySpec("instantaneous power", "int", 4, quantity="active_power_import", unit="W"),
    0xE8: PropertySpec("instantaneous current", "current", 4, unit="A", parts=("current_l1", "current_l3")),
    0xEA: PropertySpec("cumulative energy at fixed time (normal)", "energy_at", 11, quantity="active_energy_import"),
    0xEB: PropertySpec("cumulative energy at fixed time (reverse)", "energy_at", 11, quantity="active_energy_export"),
    0xEC: PropertySpec("cumulative energy history 2", "hex"),
    0xED: PropertySpec("day for history 2", "hex"),
    0xEE: PropertySpec("cumulative energy history 3", "hex"),
    0xEF: PropertySpec("day for history 3", "hex"),
}
"""Low-voltage smart electric energy meter class 0x0288 (ECHONET Device Objects appendix §3.3.25,
protocols.md §6.7)."""

NODE_PROFILE_PROPERTIES: dict[int, PropertySpec] = {
    0x80: PropertySpec("operation status", "enum", 1, labels={0x30: "ON", 0x31: "OFF"}),
    0x82: PropertySpec("version information", "hex"),
    0x83: PropertySpec("identification number", "hex"),
    0x8A: PropertySpec("maker code", "hex", 3),
    **_MAPS,
    0xD3: PropertySpec("number of self-node instances", "uint", 3),
    0xD4: PropertySpec("number of self-node classes", "uint", 2),
    0xD5: PropertySpec("instance list notification", "eojlist"),
    0xD6: PropertySpec("self-node instance list S", "eojlist"),
    0xD7: PropertySpec("self-node class list S", "classlist"),
}
"""Node profile class 0x0EF0 (ECHONET Lite spec §6.11.1)."""

PROPERTY_TABLES: dict[int, dict[int, PropertySpec]] = {
    METER_CLASS: METER_PROPERTIES,
    NODE_PROFILE_CLASS: NODE_PROFILE_PROPERTIES,
}


def property_spec(eoj_class: int, epc: int) -> PropertySpec | None:
    """The table entry for ``epc`` of the object class ``eoj_class`` (2 bytes), if known."""
    table = PROPERTY_TABLES.get(eoj_class)
    return None if table is None else table.get(epc)


# -- decoding -------------------------------------------------------------------------------------


class _Ctx:
    """What the EDT decoders share while one frame is decoded."""

    __slots__ = ("buffer", "clock_date", "clock_time", "readings", "state", "values", "warnings")

    def __init__(self, buffer: str, state: EchonetState, values: bool) -> None:
        self.buffer = buffer
        self.state = state
        self.values = values
        self.readings: list[Reading] = []
        self.warnings: list[str] = []
        self.clock_time: str | None = None
        self.clock_date: str | None = None

    def reading(
        self,
        rid: str,
        name: str,
        value: int | float | str,
        node: Node,
        unit: str | None = None,
        quantity: str | None = None,
    ) -> None:
        if self.values:
            self.readings.append(Reading(rid, name, value, unit, quantity, node))


def _hex(b: bytes) -> str:
    return b.hex().upper()


def _text_value(b: bytes) -> str:
    """Printable ASCII as text (NUL/space padding stripped), anything else as uppercase hex."""
    try:
        s = b.decode("ascii")
    except UnicodeDecodeError:
        return _hex(b)
    stripped = s.strip("\x00 ")
    return stripped if stripped.isprintable() else _hex(b)


def _signed_sentinel(raw: int, bits: int) -> str | None:
    """ECHONET Lite signed-integer codes: max−1 no data, max overflow, min underflow (§6.7)."""
    top = (1 << (bits - 1)) - 1
    if raw == top - 1:
        return "no data"
    if raw == top:
        return "overflow"
    if raw == -top - 1:
        return "underflow"
    return None


def _valid_time(h: int, mi: int, s: int = 0) -> bool:
    return h < 24 and mi < 60 and s < 60


def _valid_date(y: int, mo: int, d: int) -> bool:
    return 1 <= mo <= 12 and 1 <= d <= 31


def _energy(ctx: _Ctx, raw: int) -> tuple[int | float, str | None, str]:
    """Scale a cumulative raw count; returns (value, unit, note)."""
    scaled = ctx.state.scale(raw)
    if scaled is None:
        return raw, None, ctx.state.describe()
    return scaled, "kWh", f"{raw} {ctx.state.describe()} = {scaled} kWh"


_EdtDecoder = Callable[[_Ctx, PropertySpec, int, bytes, Node, int], None]


def _dec_enum(ctx: _Ctx, spec: PropertySpec, epc: int, edt: bytes, node: Node, start: int) -> None:
    b = edt[0]
    label = (spec.labels or {}).get(b, "unknown")
    node.value = f"{label} (0x{b:02X})"
    ctx.reading(f"{epc:02X}", spec.name, node.value, node)


def _dec_hex(ctx: _Ctx, spec: PropertySpec, epc: int, edt: bytes, node: Node, start: int) -> None:
    node.value = _hex(edt)
    ctx.reading(f"{epc:02X}", spec.name, node.value, node, quantity=spec.quantity)


def _dec_text(ctx: _Ctx, spec: PropertySpec, epc: int, edt: bytes, node: Node, start: int) -> None:
    node.value = _text_value(edt)
    ctx.reading(f"{epc:02X}", spec.name, node.value, node, quantity=spec.quantity)


def _dec_time(ctx: _Ctx, spec: PropertySpec, epc: int, edt: bytes, node: Node, start: int) -> None:
    h, mi = edt[0], edt[1]
    node.value = f"{h:02d}:{mi:02d}"
    if _valid_time(h, mi):
        ctx.clock_time = node.value
    else:
        node.note = "invalid time"
    ctx.reading(f"{epc:02X}", spec.name, node.value, node)


def _dec_date(ctx: _Ctx, spec: PropertySpec, epc: int, edt: bytes, node: Node, start: int) -> None:
    y, mo, d = int.from_bytes(edt[0:2], "big"), edt[2], edt[3]
    node.value = f"{y:04d}-{mo:02d}-{d:02d}"
    if _valid_date(y, mo, d):
        ctx.clock_date = node.value
    else:
        node.note = "invalid date"
    ctx.reading(f"{epc:02X}", spec.name, node.value, node)


def _dec_uint(ctx: _Ctx, spec: PropertySpec, epc: int, edt: bytes, node: Node, start: int) -> None:
    node.value = int.from_bytes(edt, "big")
    ctx.reading(f"{epc:02X}", spec.name, node.value, node, spec.unit, spec.quantity)


def _dec_int(ctx: _Ctx, spec: PropertySpec, epc: int, edt: bytes, node: Node, start: int) -> None:
    raw = int.from_bytes(edt, "big", signed=True)
    sentinel = _signed_sentinel(raw, 8 * len(edt))
    if sentinel is not None:
        node.value = f"{sentinel} (0x{_hex(edt)})"
        return
    node.value = raw
    if spec.unit:
        node.note = f"{raw} {spec.unit}" + (" (negative: export)" if raw < 0 else "")
    ctx.reading(f"{epc:02X}", spec.name, raw, node, spec.unit, spec.quantity)


def _dec_unit(ctx: _Ctx, spec: PropertySpec, epc: int, edt: bytes, node: Node, start: int) -> None:
    mult = unit_multiplier(edt[0])
    if mult is None:
        node.value = f"unknown (0x{edt[0]:02X})"
        ctx.warnings.append(f"E1: unknown unit code 0x{edt[0]:02X}")
        return
    node.value = f"{mult} kWh"
    ctx.reading(f"{epc:02X}", spec.name, mult, node, "kWh")


def _dec_energy(ctx: _Ctx, spec: PropertySpec, epc: int, edt: bytes, node: Node, start: int) -> None:
    raw = int.from_bytes(edt, "big")
    if raw in (NO_DATA_U32, OVERFLOW_U32):
        node.value = f"{'no data' if raw == NO_DATA_U32 else 'overflow'} (0x{raw:08X})"
        return
    value, unit, note = _energy(ctx, raw)
    node.value, node.note = value, note
    ctx.reading(f"{epc:02X}", spec.name, value, node, unit, spec.quantity)


def _dec_current(ctx: _Ctx, spec: PropertySpec, epc: int, edt: bytes, node: Node, start: int) -> None:
    for i, phase in enumerate(("R", "T")):
        part = edt[2 * i : 2 * i + 2]
        raw = int.from_bytes(part, "big", signed=True)
        child = leaf(node, phase, f"{phase} phase current", ctx.buffer, start + 2 * i, start + 2 * i + 2)
        sentinel = _signed_sentinel(raw, 16)
        if sentinel is not None:
            child.value = f"{sentinel} (0x{_hex(part)})"
            child.note = "no reading"
            continue
        child.value = raw / 10
        child.note = f"{raw} × 0.1 A"
        quantity = spec.parts[i] if i < len(spec.parts) else None
        ctx.reading(f"{epc:02X}.{phase}", f"{spec.name} {phase}", raw / 10, child, spec.unit, quantity)


def _dec_energy_at(ctx: _Ctx, spec: PropertySpec, epc: int, edt: bytes, node: Node, start: int) -> None:
    b = ctx.buffer
    y = int.from_bytes(edt[0:2], "big")
    mo, d, h, mi, s = edt[2], edt[3], edt[4], edt[5], edt[6]
    leaf(node, "year", "year", b, start, start + 2, y)
    for k, (name, v) in enumerate((("month", mo), ("day", d), ("hour", h), ("minute", mi), ("second", s))):
        leaf(node, name, name, b, start + 2 + k, start + 3 + k, v)
    stamp = f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}"
    raw = int.from_bytes(edt[7:11], "big")
    val = leaf(node, "value", "cumulative energy", b, start + 7, start + 11, raw)
    node.value = stamp
    if not (_valid_date(y, mo, d) and _valid_time(h, mi, s)):
        node.note = "invalid date-time"
    rid = f"{epc:02X}"
    if raw in (NO_DATA_U32, OVERFLOW_U32):
        val.value = f"{'no data' if raw == NO_DATA_U32 else 'overflow'} (0x{raw:08X})"
    else:
        value, unit, note = _energy(ctx, raw)
        val.value, val.note = value, note
        ctx.reading(rid, spec.name, value, val, unit, spec.quantity)
    ctx.reading(f"{rid}.time", f"{spec.name}: time", stamp, node)


def _dec_history(ctx: _Ctx, spec: PropertySpec, epc: int, edt: bytes, node: Node, start: int) -> None:
    b, rid = ctx.buffer, f"{epc:02X}"
    day = int.from_bytes(edt[0:2], "big")
    day_node = leaf(node, "day", "day (0 = today, n = n days ago)", b, start, start + 2, day)
    ctx.reading(f"{rid}.day", f"{spec.name}: day", day, day_node)
    for slot in range(48):
        off = 2 + 4 * slot
        raw = int.from_bytes(edt[off : off + 4], "big")
        label = f"{slot // 2:02d}:{30 * (slot % 2):02d}"
        child = leaf(node, f"slots[{slot}]", f"slot {label}", b, start + off, start + off + 4)
        if raw in (NO_DATA_U32, OVERFLOW_U32):
            child.value = f"{'no data' if raw == NO_DATA_U32 else 'overflow'} (0x{raw:08X})"
            continue
        value, unit, note = _energy(ctx, raw)
        child.value, child.note = value, note
        ctx.reading(f"{rid}.{slot:02d}", f"{spec.name}: {label}", value, child, unit)
    node.value = f"day {day}"


def _propmap_epcs(edt: bytes) -> list[int]:
    count = edt[0]
    if count < 16:
        return list(edt[1 : 1 + count])
    return [0x80 + 16 * j + i for j in range(8) for i in range(16) if edt[1 + i] >> j & 1]


def _dec_propmap(ctx: _Ctx, spec: PropertySpec, epc: int, edt: bytes, node: Node, start: int) -> None:
    b = ctx.buffer
    epcs = sorted(_propmap_epcs(edt))
    listed = " ".join(f"{e:02X}" for e in epcs)
    leaf(node, "count", "number of properties", b, start, start + 1, edt[0])
    if len(edt) > 1:
        body = leaf(node, "map", "EPC list" if edt[0] < 16 else "bitmap", b, start + 1, start + len(edt), listed)
        if edt[0] >= 16 and len(epcs) != edt[0]:
            body.note = f"bitmap has {len(epcs)} bits set"
    node.value = listed
    ctx.reading(f"{epc:02X}", spec.name, listed, node)


def _dec_eojlist(ctx: _Ctx, spec: PropertySpec, epc: int, edt: bytes, node: Node, start: int) -> None:
    b = ctx.buffer
    leaf(node, "count", "number of instances", b, start, start + 1, edt[0])
    for k in range(edt[0]):
        eoj = int.from_bytes(edt[1 + 3 * k : 4 + 3 * k], "big")
        leaf(node, f"eoj[{k}]", "EOJ", b, start + 1 + 3 * k, start + 4 + 3 * k, f"{eoj:06X}", eoj_name(eoj))
    node.value = f"{edt[0]} instance(s)"


def _dec_classlist(ctx: _Ctx, spec: PropertySpec, epc: int, edt: bytes, node: Node, start: int) -> None:
    b = ctx.buffer
    leaf(node, "count", "number of classes", b, start, start + 1, edt[0])
    for k in range(edt[0]):
        cls = int.from_bytes(edt[1 + 2 * k : 3 + 2 * k], "big")
        leaf(
            node,
            f"class[{k}]",
            "class",
            b,
            start + 1 + 2 * k,
            start + 3 + 2 * k,
            f"{cls:04X}",
            CLASS_NAMES.get(cls, ""),
        )
    node.value = f"{edt[0]} class(es)"


def _expected_size(spec: PropertySpec, edt: bytes) -> int | None:
    """The PDC this EDT must have (``None`` = any non-empty length)."""
    if spec.kind == "propmap":
        return 1 + edt[0] if edt[0] < 16 else 17
    if spec.kind == "eojlist":
        return 1 + 3 * edt[0]
    if spec.kind == "classlist":
        return 1 + 2 * edt[0]
    return spec.size


_DECODERS: dict[str, _EdtDecoder] = {
    "enum": _dec_enum,
    "hex": _dec_hex,
    "text": _dec_text,
    "time": _dec_time,
    "date": _dec_date,
    "uint": _dec_uint,
    "int": _dec_int,
    "unit": _dec_unit,
    "energy": _dec_energy,
    "current": _dec_current,
    "energy_at": _dec_energy_at,
    "history": _dec_history,
    "propmap": _dec_propmap,
    "eojlist": _dec_eojlist,
    "classlist": _dec_classlist,
}


@dataclass(slots=True)
class _Prop:
    node: Node
    epc: int
    pdc: int
    start: int
    """Offset of the EDT (just after PDC)."""
    complete: bool = False
    """All PDC bytes of the EDT are present."""


def _need(data: bytes, pos: int, n: int, path: str) -> None:
    if pos + n > len(data):
        raise TruncatedError(pos, n, len(data) - pos, path=path)


def _update_state(state: EchonetState, props: list[_Prop], data: bytes, esv: int) -> None:
    """Learn D3/E1 from a meter response before any cumulative value in the frame is scaled."""
    for p in props:
        if p.epc == 0xD3:
            if p.pdc == 4:
                coefficient = int.from_bytes(data[p.start : p.start + 4], "big")
                if coefficient > 0:
                    state.coefficient = coefficient
            elif p.pdc == 0 and esv == 0x52:
                state.coefficient = 1
        elif p.epc == 0xE1 and p.pdc == 1 and data[p.start] in UNIT_EXPONENTS:
            state.unit_code = data[p.start]


def _decode_edt(ctx: _Ctx, table: dict[int, PropertySpec] | None, p: _Prop, data: bytes, esv: int) -> None:
    epc, b = p.epc, ctx.buffer
    spec = None if table is None else table.get(epc)
    if spec is not None:
        p.node.label = spec.name
    if p.pdc == 0:
        if esv in (0x50, 0x51, 0x52, 0x53, 0x5E):
            p.node.value = "not available"
            if esv == 0x52 and epc == 0xD3 and table is METER_PROPERTIES:
                p.node.note = "not available: coefficient is 1"
        else:
            p.node.value = "(no EDT)"
        return
    edt = data[p.start : p.start + p.pdc]
    node = Node("edt", "EDT", b, p.start, p.start + p.pdc, parent=p.node)
    if spec is None:
        node.value = _hex(edt)
        if table is METER_PROPERTIES:
            ctx.reading(f"{epc:02X}", f"property 0x{epc:02X}", node.value, node)
        return
    expected = _expected_size(spec, edt)
    if expected is not None and expected != p.pdc:
        node.value = _hex(edt)
        node.note = f"{spec.name}: expected {expected} byte(s), got {p.pdc}"
        ctx.warnings.append(f"EPC {epc:02X}: PDC {p.pdc}, expected {expected}")
        return
    _DECODERS[spec.kind](ctx, spec, epc, edt, node, p.start)
    p.node.value = node.value


def _read_props(
    data: bytes, parent: Node, buffer: str, pos: int, count: int, first_index: int, props: list[_Prop]
) -> int:
    """Read ``count`` (EPC, PDC, EDT) triples from ``pos``; append them to ``props``.

    Leaves are only attached once their bytes are known to be there, so on a
    :class:`TruncatedError` everything attached so far still tiles ``[0, pos)``.
    """
    for k in range(count):
        index = first_index + k
        path = f"{parent.path}/props[{index}]"
        _need(data, pos, 2, path)
        epc, pdc = data[pos], data[pos + 1]
        prop = Node(f"props[{index}]", f"property 0x{epc:02X}", buffer, pos, pos + 2, parent=parent)
        leaf(prop, "epc", "EPC", buffer, pos, pos + 1, f"{epc:02X}")
        leaf(prop, "pdc", "PDC", buffer, pos + 1, pos + 2, pdc)
        pos += 2
        props.append(_Prop(prop, epc, pdc, pos))
        if pos + pdc > len(data):
            prop.note = f"EDT runs past the end of the frame ({len(data) - pos} of {pdc} bytes)"
        _need(data, pos, pdc, f"{path}/edt")
        props[-1].complete = True
        prop.end = pos + pdc
        pos += pdc
    return pos


def decode_edata(
    data: bytes,
    parent: Node | None = None,
    state: EchonetState | None = None,
    *,
    buffer: str = "edata",
    key: str = "edata",
) -> EchonetFrame:
    """Decode one ECHONET Lite frame (ECHONET Lite spec §3.2, protocols.md §6.6).

    The frame node (``key``, spanning all of ``data`` in ``buffer``) is attached to ``parent`` when
    given. ``state`` holds the meter's D3/E1 and is updated from this frame (D3/E1 in the same frame
    as E0 are applied to it). Never raises: a malformed frame returns with ``error`` set (a
    :class:`DecodeError`), the parsed part kept in the tree and the rest in an ``undecoded`` leaf.
    """
    root = Node(key, "ECHONET Lite frame", buffer, 0, len(data))
    result = EchonetFrame(root)
    if not data:
        result.error = DecodeError("empty ECHONET Lite frame", offset=0, path=key)
        return result
    if parent is not None:
        parent.add(root)
    if state is None:
        state = EchonetState()
    pos = 0
    props: list[_Prop] = []
    esv = 0
    try:
        ehd1 = data[0]
        leaf(
            root,
            "ehd1",
            "EHD1",
            buffer,
            0,
            1,
            f"{ehd1:02X}",
            "ECHONET Lite" if ehd1 == EHD1_ECHONET_LITE else "not ECHONET Lite",
        )
        if ehd1 != EHD1_ECHONET_LITE:
            raise DecodeError(f"EHD1 {ehd1:02X}: not an ECHONET Lite frame", offset=0, path=f"{key}/ehd1")
        _need(data, 1, 1, f"{key}/ehd2")
        ehd2 = data[1]
        leaf(
            root,
            "ehd2",
            "EHD2",
            buffer,
            1,
            2,
            f"{ehd2:02X}",
            "format 1" if ehd2 == EHD2_FORMAT1 else ("format 2" if ehd2 == 0x82 else "unknown"),
        )
        if ehd2 != EHD2_FORMAT1:
            what = "format 2 (arbitrary) EDATA is not supported" if ehd2 == 0x82 else "unknown format"
            raise DecodeError(f"EHD2 {ehd2:02X}: {what}", offset=1, path=f"{key}/ehd2")
        _need(data, 2, 10, f"{key}/tid")
        result.tid = int.from_bytes(data[2:4], "big")
        leaf(root, "tid", "TID", buffer, 2, 4, result.tid)
        result.seoj = int.from_bytes(data[4:7], "big")
        result.deoj = int.from_bytes(data[7:10], "big")
        leaf(root, "seoj", "SEOJ", buffer, 4, 7, f"{result.seoj:06X}", eoj_name(result.seoj))
        leaf(root, "deoj", "DEOJ", buffer, 7, 10, f"{result.deoj:06X}", eoj_name(result.deoj))
        esv = result.esv = data[10]
        leaf(root, "esv", "ESV", buffer, 10, 11, f"{esv:02X}", ESV_NAMES.get(esv, "unknown service"))
        opc = data[11]
        leaf(root, "opc", "OPC" if esv not in ESV_SETGET else "OPCSet", buffer, 11, 12, opc)
        pos = _read_props(data, root, buffer, 12, opc, 0, props)
        if esv in ESV_SETGET:
            _need(data, pos, 1, f"{key}/opc_get")
            opc_get = data[pos]
            leaf(root, "opc_get", "OPCGet", buffer, pos, pos + 1, opc_get)
            pos = _read_props(data, root, buffer, pos + 1, opc_get, opc, props)
    except MeterError as exc:
        result.error = exc
        pos = max((c.end for c in root.children or ()), default=0)  # tiled so far
    if pos < len(data):
        if result.error is None:
            leaf(root, "trailing", "trailing bytes", buffer, pos, len(data), _hex(data[pos:]))
            result.warnings.append(f"{len(data) - pos} byte(s) after the last property")
        else:
            leaf(root, "undecoded", "undecoded", buffer, pos, len(data), _hex(data[pos:]), fault=result.error.kind)
    if result.seoj is None or result.deoj is None:
        return result
    # Requests describe the destination object; responses and notifications the source.
    obj = result.deoj if 0x60 <= esv <= 0x6F else result.seoj
    table = PROPERTY_TABLES.get(obj >> 8)
    is_meter = table is METER_PROPERTIES
    complete = [p for p in props if p.complete]
    if is_meter and esv in ESV_WITH_VALUES:
        _update_state(state, complete, data, esv)
    ctx = _Ctx(buffer, state, values=is_meter and esv in ESV_WITH_VALUES)
    for p in complete:
        _decode_edt(ctx, table, p, data, esv)
    result.readings = ctx.readings
    result.warnings.extend(ctx.warnings)
    if ctx.clock_date and ctx.clock_time:
        result.clock = f"{ctx.clock_date}T{ctx.clock_time}:00"
    return result
