"""Turn a decoded DLMS notification body into readings (protocols.md §3.5, §4.5).

The body is walked generically: an OBIS octet-string followed by a value (and optionally a
``{scaler, unit}`` structure) is one register; structures and arrays are walked recursively (Aidon's
array of items, the Austrian mixed top level). Lists without scalers are scaled from their list
specification; lists without OBIS codes are laid out positionally (``lists.POSITIONAL``). Anything
left over is still reported, with a positional id (``body[3]``), never dropped.
"""

from __future__ import annotations

from meterui.protocol import axdr, lists, obis
from meterui.protocol.cosem import CosemDateTime, unit_symbol
from meterui.protocol.message import Reading
from meterui.protocol.spans import Node


class BodyResult:
    __slots__ = ("clock", "list_id", "meter_id", "readings")

    def __init__(self) -> None:
        self.readings: list[Reading] = []
        self.list_id: str | None = None
        self.meter_id: str | None = None
        self.clock: str | None = None


_elements = axdr.elements


def _is_obis(node: Node) -> bool:
    return node.kind == axdr.OCTET_STRING and isinstance(node.value, bytes) and len(node.value) == 6


def _is_scaler_unit(node: Node) -> bool:
    if node.kind != axdr.STRUCTURE:
        return False
    el = _elements(node)
    return len(el) == 2 and el[0].kind == axdr.INTEGER and el[1].kind == axdr.ENUM


def _is_item(node: Node) -> bool:
    """A structure whose first element is an OBIS code: ``{OBIS, value[, scaler-unit]}``."""
    if node.kind != axdr.STRUCTURE:
        return False
    el = _elements(node)
    return bool(el) and _is_obis(el[0])


def _scaled(raw: int | float, scaler: int) -> int | float:
    if scaler == 0:
        return raw
    if scaler > 0:
        return raw * 10**scaler
    return raw / 10**-scaler


def looks_like_datetime(raw: bytes) -> bool:
    """A 12-byte octet-string that is plausibly a COSEM date-time (Blue Book 4.1.6.1)."""
    if len(raw) != 12:
        return False
    year = raw[0] << 8 | raw[1]
    month, day = raw[2], raw[3]
    return ((year == 0xFFFF or 1990 <= year < 2200) and (1 <= month <= 12 or month >= 0xFD)
            and (1 <= day <= 31 or day >= 0xFD) and (raw[5] < 24 or raw[5] == 0xFF))


def _plain_value(node: Node, buf: bytes, invert: bool) -> tuple[int | float | str, bool]:
    """The JSON-able value of an element and whether it is numeric."""
    kind = node.kind
    v = node.value
    if kind in axdr.NUMERIC_TAGS:
        return v, True  # type: ignore[return-value]
    if kind == axdr.OCTET_STRING:
        raw: bytes = v  # type: ignore[assignment]
        if looks_like_datetime(raw):
            dt = CosemDateTime.from_bytes(raw)
            node.note = "date-time"  # the lazily built value leaf gets one child per field
            iso = dt.iso(invert)
            if iso is not None:
                return iso, False
        return axdr.text_value(raw, kind), False
    if isinstance(v, CosemDateTime):
        return (v.iso(invert) or str(v)), False
    if isinstance(v, bool):
        return int(v), True
    if v is None:
        return "", False
    return str(v), False


def interpret_body(body: Node, buf: bytes, invert_deviation: bool = False) -> BodyResult:
    """Walk a notification body and collect readings."""
    result = BodyResult()
    top = _elements(body) if body.kind in (axdr.STRUCTURE, axdr.ARRAY) else [body]

    # List version id as a bare leading string (Kamstrup), or a positional layout (Kaifa NO).
    first_text = None
    if top and top[0].kind in axdr.STRING_TAGS:
        first_text = axdr.text_value(top[0].value, top[0].kind) if top[0].kind == axdr.OCTET_STRING \
            else top[0].value
    if body.kind == axdr.STRUCTURE and not any(_is_obis(e) or _is_item(e) for e in top):
        spec = lists.match_positional([e.kind for e in top], first_text)
        if spec is not None:
            _positional(spec, top, buf, result, invert_deviation)
            return result

    pending: list[tuple[Node, Node, Node | None]] = []  # (obis, value, scaler-unit)
    bare: list[tuple[str, Node]] = []
    _walk(top, "body", pending, bare, result)
    # Identify the list and meter type first: the list specification decides unscaled units.
    for obis_node, value_node, _ in pending:
        key = obis.obis_key(obis_node.value)
        if key == (1, 0, 2, 129):
            result.list_id = str(_plain_value(value_node, buf, invert_deviation)[0])
    if result.list_id is None and first_text is not None and bare and bare[0][1] is top[0]:
        result.list_id = str(first_text)
        node = bare.pop(0)[1]
        node.note = "list version identifier"
        result.readings.append(Reading(obis.LIST_ID_OBIS, "List version identifier", str(first_text), None,
                                       "list_id", node))
    meter_type = None
    for obis_node, value_node, _ in pending:
        if obis.obis_key(obis_node.value) in ((1, 96, 1, 1), (0, 96, 1, 7)):
            meter_type = str(_plain_value(value_node, buf, invert_deviation)[0])
    scaling = lists.scaling_for(result.list_id, meter_type)

    for obis_node, value_node, su_node in pending:
        _register(obis_node, value_node, su_node, scaling, buf, result, invert_deviation)
    for key, node in bare:
        value, _ = _plain_value(node, buf, invert_deviation)
        result.readings.append(Reading(key, f"Unlabelled {axdr.TYPE_NAMES.get(node.kind, 'element')}",
                                       value, None, None, node))
        node.note = "no OBIS code in the list"
    return result


def _walk(elements: list[Node], path: str, pending: list[tuple[Node, Node, Node | None]],
          bare: list[tuple[str, Node]], result: BodyResult) -> None:
    i = 0
    n = len(elements)
    while i < n:
        e = elements[i]
        if _is_obis(e):
            key = obis.obis_key(e.value)
            nxt = elements[i + 1] if i + 1 < n else None
            if key in obis.PUSH_SETUP_KEYS or nxt is None or _is_obis(nxt) or _is_item(nxt):
                # A lone OBIS code: a push-setup identifier or a code whose value is absent.
                e.note = obis.describe(e.value)
                e.label = "OBIS code"
                result.readings.append(Reading(obis.obis_text(e.value), (obis.lookup(e.value) or
                                       obis.ObisInfo("OBIS code")).name, obis.obis_text(e.value), None,
                                       None, e))
                i += 1
                continue
            su = elements[i + 2] if i + 2 < n and _is_scaler_unit(elements[i + 2]) else None
            pending.append((e, nxt, su))
            i += 3 if su is not None else 2
            continue
        if e.kind in (axdr.STRUCTURE, axdr.ARRAY):
            sub = _elements(e)
            if _is_scaler_unit(e):
                bare.append((f"{path}[{i}]", e))
            else:
                _walk(sub, f"{path}[{i}]", pending, bare, result)
            i += 1
            continue
        if e.kind in (axdr.NULL, axdr.DONT_CARE):
            i += 1
            continue
        bare.append((f"{path}[{i}]", e))
        i += 1


def _register(obis_node: Node, value_node: Node, su_node: Node | None, scaling: lists.Scaling | None,
              buf: bytes, result: BodyResult, invert: bool) -> None:
    raw_obis: bytes = obis_node.value
    code, name, quantity, unit, described = obis.resolve(raw_obis)
    obis_node.label = "OBIS code"
    obis_node.note = described
    kind = value_node.kind
    if kind in axdr.NUMERIC_TAGS:
        value = value_node.value
        if su_node is not None:
            el = _elements(su_node)
            scaler = el[0].value
            unit = unit_symbol(el[1].value)
            if scaler:
                value = _scaled(value, scaler)
            su_node.label = "scaler-unit"
            su_node.note = f"×10^{scaler} {unit or ''}"
        elif scaling is not None:
            rule = scaling.get((raw_obis[2], raw_obis[3]))
            if rule is not None:
                value = _scaled(value, rule[0])
                unit = rule[1]
                value_node.note = f"list scaling ×10^{rule[0]} {unit or ''}"
    else:
        value, _ = _plain_value(value_node, buf, invert)
        unit = None
        if quantity is not None:
            if quantity == "meter_clock" and isinstance(value, str):
                result.clock = result.clock or value
            elif quantity == "meter_id":
                result.meter_id = result.meter_id or str(value)
            elif quantity == "list_id":
                result.list_id = str(value)
    if not value_node.note:
        value_node.note = name
    result.readings.append(Reading(code, name, value, unit, quantity, value_node))


def _positional(spec: lists.PositionalList, top: list[Node], buf: bytes, result: BodyResult,
                invert: bool) -> None:
    scaling = lists.scaling_for(spec.list_id, None) or {}
    result.list_id = spec.list_id
    for field, node in zip(spec.fields, top, strict=True):
        raw_obis = bytes(int(x) for x in field.obis.split("."))
        info = obis.lookup(raw_obis)
        value, numeric = _plain_value(node, buf, invert)
        unit = info.unit if info else None
        if numeric:
            rule = scaling.get((raw_obis[2], raw_obis[3]))
            if rule is not None and isinstance(value, int | float):
                value = _scaled(value, rule[0])
                unit = rule[1]
        else:
            unit = None
        quantity = info.quantity if info else None
        name = info.name if info else field.obis
        node.note = f"{name} (positional, {spec.name})"
        if quantity == "meter_clock" and isinstance(value, str):
            result.clock = result.clock or value
        if quantity == "meter_id":
            result.meter_id = str(value)
        result.readings.append(Reading(field.obis, name, value, unit, quantity, node))
