"""Turn a decoded DLMS notification body into readings (protocols.md §3.5, §4.5).

The body is walked generically: an OBIS octet-string followed by a value (and optionally a
``{scaler, unit}`` structure) is one register; structures and arrays are walked recursively (Aidon's
array of items, the Austrian mixed top level). Lists without scalers are scaled from their list
specification; lists without OBIS codes are laid out positionally (``lists.POSITIONAL``). Anything
left over is still reported, with a positional id (``body[3]``), never dropped.

The walk runs over the flat A-XDR tape (``axdr.parse_tape``), not over nodes, so decoding stays cheap;
the notes it makes for the inspector are kept in :class:`BodyResult.notes` and applied to the nodes
when the body's subtree is built.
"""

from __future__ import annotations

from meterui.protocol import axdr, lists, obis
from meterui.protocol.axdr import COUNT, NEXT, TAG, VALUE, Tape
from meterui.protocol.cosem import CosemDateTime, datetime_iso, unit_symbol, unit_text
from meterui.protocol.message import Reading
from meterui.protocol.spans import Node

_OCTET = axdr.OCTET_STRING
_STRUCT = axdr.STRUCTURE
_NUMERIC = axdr.NUMERIC_TAGS


class BodyResult:
    __slots__ = ("clock", "list_id", "meter_id", "notes", "readings")

    def __init__(self) -> None:
        self.readings: list[Reading] = []
        self.list_id: str | None = None
        self.meter_id: str | None = None
        self.clock: str | None = None
        self.notes: dict[tuple[int, int], tuple[str | None, str]] = {}
        """(start, end) of an element → (new label or None, note), applied to the nodes lazily."""


def looks_like_datetime(raw: bytes) -> bool:
    """A 12-byte octet-string that is plausibly a COSEM date-time (Blue Book 4.1.6.1)."""
    if len(raw) != 12:
        return False
    year = raw[0] << 8 | raw[1]
    month, day = raw[2], raw[3]
    return ((year == 0xFFFF or 1990 <= year < 2200) and (1 <= month <= 12 or month >= 0xFD)
            and (1 <= day <= 31 or day >= 0xFD) and (raw[5] < 24 or raw[5] == 0xFF))


def _scaled(raw: int | float, scaler: int) -> int | float:
    if scaler == 0:
        return raw
    if scaler > 0:
        return raw * 10**scaler
    return raw / 10**-scaler


class _Walker:
    """Interprets one tape; keeps the state a walk needs in one place."""

    __slots__ = ("bare", "bname", "invert", "notes", "pending", "result", "tape", "top")

    def __init__(self, tape: Tape, bname: str, top: Node, invert: bool, notes: bool = False) -> None:
        self.notes = notes
        """Make notes for the inspector (only when the subtree is built, not on the hot path)."""
        self.tape = tape
        self.bname = bname
        self.top = top
        self.invert = invert
        self.result = BodyResult()
        self.pending: list[tuple[int, int, int, int]] = []  # (obis, value, scaler-unit, item struct) or -1
        self.bare: list[tuple[str, int]] = []

    # -- element predicates ------------------------------------------------------------------------
    def is_obis(self, i: int) -> bool:
        t = self.tape[i]
        return t[TAG] == _OCTET and len(t[VALUE]) == 6  # type: ignore[arg-type]

    def is_scaler_unit(self, i: int) -> bool:
        tape = self.tape
        t = tape[i]
        if t[TAG] != _STRUCT or t[COUNT] != 2:
            return False
        first = tape[i + 1]
        return first[TAG] == axdr.INTEGER and tape[first[NEXT]][TAG] == axdr.ENUM

    def is_item(self, i: int) -> bool:
        t = self.tape[i]
        return t[TAG] == _STRUCT and t[COUNT] >= 1 and self.is_obis(i + 1)

    def children(self, i: int) -> list[int]:
        return axdr.tape_children(self.tape, i)

    # -- values ------------------------------------------------------------------------------------
    def plain_value(self, i: int) -> tuple[int | float | str, bool]:
        """The JSON-able value of an element and whether it is numeric."""
        t = self.tape[i]
        kind, v = t[TAG], t[VALUE]
        if kind in _NUMERIC:
            return v, True  # type: ignore[return-value]
        if kind == _OCTET:
            raw: bytes = v  # type: ignore[assignment]
            if looks_like_datetime(raw):
                if self.notes:
                    self.result.notes[(t[1], t[2])] = (None, "date-time")
                iso = datetime_iso(raw, self.invert)
                if iso is not None:
                    return iso, False
            return axdr.text_value(raw, kind), False
        if isinstance(v, CosemDateTime):
            return (v.iso(self.invert) or str(v)), False
        if isinstance(v, bool):
            return int(v), True
        if v is None:
            return "", False
        return str(v), False

    def reading(self, rid: str, name: str, value: int | float | str, unit: str | None, quantity: str | None,
                i: int) -> None:
        t = self.tape[i]
        self.result.readings.append(Reading(rid, name, value, unit, quantity, None,
                                            (self.top, self.bname, t[1], t[2])))

    def note(self, i: int, note: str, label: str | None = None) -> None:
        if not self.notes:
            return
        t = self.tape[i]
        key = (t[1], t[2])
        old = self.result.notes.get(key)
        if old is not None and old[1] == "date-time":
            note = "date-time"  # keep the flag that splits the value into fields
        self.result.notes[key] = (label, note)

    # -- the walk ----------------------------------------------------------------------------------
    def walk(self, elements: list[int], path: str) -> None:
        tape = self.tape
        i = 0
        n = len(elements)
        while i < n:
            e = elements[i]
            t = tape[e]
            kind = t[TAG]
            if kind == _OCTET and len(t[VALUE]) == 6:  # type: ignore[arg-type]
                raw: bytes = t[VALUE]  # type: ignore[assignment]
                nxt = elements[i + 1] if i + 1 < n else -1
                if (obis.obis_key(raw) in obis.PUSH_SETUP_KEYS or nxt < 0 or self.is_obis(nxt)
                        or self.is_item(nxt)):
                    # a lone OBIS code: a push-setup identifier, or a code whose value is absent
                    text, name, _, _, described = obis.resolve(raw)
                    self.note(e, described, "OBIS code")
                    self.reading(text, name, text, None, None, e)
                    i += 1
                    continue
                if i + 2 < n and tape[elements[i + 2]][VALUE] is axdr.PARTIAL:
                    i += 3  # its scaler-unit was cut short: the value's scale is unknown
                    continue
                su = elements[i + 2] if i + 2 < n and self.is_scaler_unit(elements[i + 2]) else -1
                self.pending.append((e, nxt, su, -1))
                i += 3 if su >= 0 else 2
                continue
            if t[VALUE] is axdr.PARTIAL and kind == _STRUCT and self.is_item(e):
                i += 1  # an {OBIS, value, scaler-unit} item cut short: its value cannot be trusted
                continue
            if kind == _STRUCT and 2 <= t[COUNT] <= 3:
                # the common {OBIS, value[, scaler-unit]} item, without recursing
                o = tape[e + 1]
                if o[TAG] == _OCTET and len(o[VALUE]) == 6:  # type: ignore[arg-type,index]
                    vi = o[NEXT]
                    if t[COUNT] == 2:
                        self.pending.append((e + 1, vi, -1, e))
                        i += 1
                        continue
                    si = tape[vi][NEXT]
                    if self.is_scaler_unit(si):
                        self.pending.append((e + 1, vi, si, e))
                        i += 1
                        continue
            if kind == _STRUCT or kind == axdr.ARRAY:
                if self.is_scaler_unit(e):
                    self.bare.append((f"{path}[{i}]", e))
                else:
                    self.walk(self.children(e), f"{path}[{i}]")
                i += 1
                continue
            if kind != axdr.NULL and kind != axdr.DONT_CARE:
                self.bare.append((f"{path}[{i}]", e))
            i += 1

    def register(self, oi: int, vi: int, si: int, scaling: lists.Scaling | None, item: int = -1) -> None:
        tape = self.tape
        raw_obis: bytes = tape[oi][VALUE]  # type: ignore[assignment]
        code, name, quantity, unit, described = obis.resolve(raw_obis)
        notes = self.notes
        if notes:
            self.note(oi, described, "OBIS code")
        vt = tape[vi]
        if vt[TAG] in _NUMERIC:
            value = vt[VALUE]
            if si >= 0:
                c1 = si + 1
                scaler: int = tape[c1][VALUE]  # type: ignore[assignment]
                unit = unit_symbol(tape[tape[c1][NEXT]][VALUE])  # type: ignore[arg-type]
                if scaler:
                    value = _scaled(value, scaler)  # type: ignore[arg-type]
                if notes:
                    self.note(si, f"×10^{scaler} {unit_text(tape[tape[c1][NEXT]][VALUE])}",  # type: ignore[arg-type]
                              "scaler-unit")
                    self.note(vi, name)
            elif scaling is not None:
                rule = scaling.get((raw_obis[2], raw_obis[3]))
                if rule is not None:
                    value = _scaled(value, rule[0])  # type: ignore[arg-type]
                    unit = rule[1]
                    if notes:
                        self.note(vi, f"{name}; list scaling ×10^{rule[0]} {unit or ''}")
                elif notes:
                    self.note(vi, name)
            elif notes:
                self.note(vi, name)
        else:
            value, _ = self.plain_value(vi)
            unit = None
            self.note(vi, name)
            result = self.result
            if quantity == "meter_clock" and isinstance(value, str):
                result.clock = result.clock or value
            elif quantity == "meter_id":
                result.meter_id = result.meter_id or str(value)
            elif quantity == "list_id":
                result.list_id = str(value)
        if notes and item >= 0:
            self.note(item, f"{name} = {value}{' ' + unit if unit else ''}")
        self.reading(code, name, value, unit, quantity, vi)  # type: ignore[arg-type]


def interpret_tape(tape: Tape, bname: str, top: Node, invert_deviation: bool = False,
                   notes: bool = False) -> BodyResult:
    """Collect readings from a body tape; ``top`` is the (lazy) body node readings point into.

    With ``notes`` the walk also labels the elements for the inspector (:attr:`BodyResult.notes`)."""
    w = _Walker(tape, bname, top, invert_deviation, notes)
    result = w.result
    body = tape[0]
    top_elems = w.children(0) if body[TAG] in (axdr.STRUCTURE, axdr.ARRAY) else [0]

    # A list version id as a bare leading string (Kamstrup), or a positional layout (Kaifa NO).
    first_text = None
    if top_elems:
        f = tape[top_elems[0]]
        if f[TAG] in axdr.STRING_TAGS:
            first_text = axdr.text_value(f[VALUE], f[TAG]) if f[TAG] == _OCTET else f[VALUE]  # type: ignore[arg-type]
    if body[TAG] == _STRUCT and not any(w.is_obis(e) or w.is_item(e) for e in top_elems):
        spec = lists.match_positional([tape[e][TAG] for e in top_elems], first_text)  # type: ignore[arg-type]
        if spec is not None:
            _positional(w, spec, top_elems)
            return result

    w.walk(top_elems, "body")
    # Identify the list and the meter type first: the list specification decides unscaled units.
    meter_type = None
    for oi, vi, _, _ in w.pending:
        key = obis.obis_key(tape[oi][VALUE])  # type: ignore[arg-type]
        if key == (1, 0, 2, 129):
            result.list_id = str(w.plain_value(vi)[0])
        elif key in ((1, 96, 1, 1), (0, 96, 1, 7)):
            meter_type = str(w.plain_value(vi)[0])
    bare = w.bare
    if result.list_id is None and first_text is not None and bare and bare[0][1] == top_elems[0]:
        result.list_id = str(first_text)
        e = bare.pop(0)[1]
        w.note(e, "list version identifier")
        w.reading(obis.LIST_ID_OBIS, "List version identifier", str(first_text), None, "list_id", e)
    scaling = lists.scaling_for(result.list_id, meter_type)
    for oi, vi, si, item in w.pending:
        w.register(oi, vi, si, scaling, item)
    for rid, e in bare:
        value, _ = w.plain_value(e)
        w.note(e, "no OBIS code in the list")
        w.reading(rid, f"Unlabelled {axdr.TYPE_NAMES.get(tape[e][TAG], 'element')}", value, None, None, e)
    return result


def _positional(w: _Walker, spec: lists.PositionalList, elems: list[int]) -> None:
    result = w.result
    scaling = lists.scaling_for(spec.list_id, None) or {}
    result.list_id = spec.list_id
    for field, e in zip(spec.fields, elems, strict=True):
        raw_obis = obis.parse_obis(field.obis)
        code, name, quantity, unit, _ = obis.resolve(raw_obis)
        value, numeric = w.plain_value(e)
        if numeric:
            rule = scaling.get((raw_obis[2], raw_obis[3]))
            if rule is not None and isinstance(value, int | float):
                value = _scaled(value, rule[0])
                unit = rule[1]
        else:
            unit = None
        w.note(e, f"{name} (positional, {spec.name})")
        if quantity == "meter_clock" and isinstance(value, str):
            result.clock = result.clock or value
        elif quantity == "meter_id":
            result.meter_id = str(value)
        w.reading(code, name, value, unit, quantity, e)


def apply_notes(node: Node, notes: dict[tuple[int, int], tuple[str | None, str]]) -> None:
    """Copy the walk's notes onto a freshly built body subtree (elements are matched by span)."""
    if not notes:
        return
    stack = [node]
    while stack:
        n = stack.pop()
        hit = notes.get((n.start, n.end))
        if hit is not None and n.kind >= 0 and n.key != "value":
            label, note = hit
            if note == "date-time" and isinstance(n.value, bytes):
                n.meta = "date-time"  # the value leaf is split into its fields when built
                n.label = "date-time (octet-string)"
                note = str(CosemDateTime.from_bytes(n.value))
            n.note = note
            if label:
                n.label = label
        ch = n._children
        if ch:
            stack.extend(ch)
