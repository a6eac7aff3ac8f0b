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

import threading
from collections import OrderedDict

from meterui.protocol import axdr, lists, obis
from meterui.protocol.axdr import COUNT, NEXT, TAG, VALUE, Tape
from meterui.protocol.cosem import CosemDateTime, datetime_iso, unit_symbol, unit_text
from meterui.protocol.message import Reading
from meterui.protocol.records import TupleRecord, tuple_field
from meterui.protocol.spans import Node

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import tzinfo
    from typing import Any

_OCTET = axdr.OCTET_STRING
_STRUCT = axdr.STRUCTURE
_NUMERIC = axdr.NUMERIC_TAGS
_INTS = frozenset({axdr.INTEGER, axdr.LONG, axdr.UNSIGNED, axdr.LONG_UNSIGNED})


class Note(TupleRecord, tuple[str | None, str, bool]):
    """What the walk says about one element, for the inspector."""

    __slots__ = ()
    _fields = ("label", "text", "datetime")

    label: str | None = tuple_field(0)
    """A new label, or ``None`` to keep the type name."""
    text: str = tuple_field(1)
    datetime: bool = tuple_field(2)
    """The element is a 12-byte octet-string holding a COSEM date-time: its value is split into fields."""

    def __new__(cls, label: str | None, text: str, datetime: bool = False) -> Note:
        return tuple.__new__(cls, (label, text, datetime))


class BodyResult:
    __slots__ = ("clock", "list_id", "meter_id", "notes", "readings", "warnings")

    def __init__(self) -> None:
        self.readings: list[Reading] = []
        self.list_id: str | None = None
        self.meter_id: str | None = None
        self.clock: str | None = None
        self.warnings: list[str] = []
        self.notes: dict[tuple[int, int], Note] = {}
        """(start, end) of an element → its :class:`Note`, applied to the nodes lazily."""


def looks_like_datetime(raw: bytes) -> bool:
    """A 12-byte octet-string that is plausibly a COSEM date-time (Blue Book 4.1.6.1)."""
    if len(raw) != 12:
        return False
    year = raw[0] << 8 | raw[1]
    month, day = raw[2], raw[3]
    return (
        (year == 0xFFFF or 1990 <= year < 2200)
        and (1 <= month <= 12 or month >= 0xFD)
        and (1 <= day <= 31 or day >= 0xFD)
        and (raw[5] < 24 or raw[5] == 0xFF)
    )


def _plain(
    t: tuple[int, int, int, object, int, int], invert: bool, tz: tzinfo | None
) -> tuple[int | float | str, bool]:
    """The JSON-able value of a tape element and whether it is numeric."""
    kind, v = t[TAG], t[VALUE]
    if kind in _NUMERIC:
        return v, True  # type: ignore[return-value]
    if kind == _OCTET:
        raw: bytes = v  # type: ignore[assignment]
        if looks_like_datetime(raw):
            iso = datetime_iso(raw, invert, tz)
            if iso is not None:
                return iso, False
        return axdr.text_value(raw, kind), False
    if isinstance(v, CosemDateTime):
        return (v.iso(invert, tz) or str(v)), False
    if isinstance(v, bool):
        return int(v), True
    if v is None:
        return "", False
    return str(v), False


def _scaled(raw: int | float, scaler: int) -> int | float:
    if scaler == 0:
        return raw
    if scaler > 0:
        return raw * 10**scaler
    return raw / 10**-scaler


class _Walker:
    """Interprets one tape; keeps the state a walk needs in one place."""

    __slots__ = (
        "bare",
        "bname",
        "deciders",
        "factor",
        "how",
        "invert",
        "notes",
        "pending",
        "profile",
        "result",
        "scaler",
        "tape",
        "top",
        "tz",
    )

    def __init__(
        self,
        tape: Tape,
        bname: str,
        top: Node,
        invert: bool,
        notes: bool = False,
        profile: lists.MeterProfile | None = None,
    ) -> None:
        self.notes = notes
        self.profile = profile if profile is not None and profile.scale else None
        self.tz = profile.tz if profile is not None else None
        """Make notes for the inspector (only when the subtree is built, not on the hot path)."""
        self.tape = tape
        self.bname = bname
        self.top = top
        self.invert = invert
        self.result = BodyResult()
        self.pending: list[tuple[int, int, int, int]] = []  # (obis, value, scaler-unit, item struct) or -1
        self.bare: list[tuple[str, int]] = []
        self.scaler = 0
        self.factor: float | None = None
        """The scaler and override factor applied to the value of the reading being made (for the cache)."""
        self.how: list[tuple[int, int, float | None]] = []
        """Per reading: (tape index of its element, scaler, factor): how its value came from the tape."""
        self.deciders: list[int] = []
        """Tape indices whose values decided the layout (list id, meter type, first element)."""

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

    def is_descriptor(self, i: int) -> bool:
        """``{class_id, logical_name, attribute_index, data_index}``: integers around an OBIS code."""
        tape = self.tape
        return (
            tape[i + 1][TAG] in _INTS
            and self.is_obis(i + 2)
            and tape[i + 3][TAG] in _INTS
            and tape[i + 4][TAG] in _INTS
            and tape[i][NEXT] == i + 5
        )

    def children(self, i: int) -> list[int]:
        return axdr.tape_children(self.tape, i)

    # -- values ------------------------------------------------------------------------------------
    def plain_value(self, i: int) -> tuple[int | float | str, bool]:
        """The JSON-able value of an element and whether it is numeric."""
        t = self.tape[i]
        if self.notes and t[TAG] == _OCTET and looks_like_datetime(t[VALUE]):  # type: ignore[arg-type]
            self.result.notes[(t[1], t[2])] = Note(None, "", True)
        return _plain(t, self.invert, self.tz)

    def scale(self, value: int | float, scaler: int) -> int | float:
        """``value × 10^scaler``, remembered for the reading about to be made (see :attr:`how`)."""
        self.scaler = scaler
        return _scaled(value, scaler)

    def reading(
        self, rid: str, name: str, value: int | float | str, unit: str | None, quantity: str | None, i: int
    ) -> None:
        t = self.tape[i]
        self.result.readings.append(Reading(rid, name, value, unit, quantity, None, (self.top, self.bname, t[1], t[2])))
        self.how.append((i, self.scaler, self.factor))
        self.scaler = 0
        self.factor = None

    def note(self, i: int, note: str, label: str | None = None) -> None:
        if not self.notes:
            return
        t = self.tape[i]
        key = (t[1], t[2])
        old = self.result.notes.get(key)
        self.result.notes[key] = Note(label, note, old is not None and old.datetime)

    def override(self, raw_obis: bytes, value: int | float) -> tuple[int | float, str]:
        """Apply the per-installation scaling override (if any) to a scaled value; the tree's note."""
        prof = self.profile
        if prof is None:
            return value, ""
        factor = prof.scale.get((raw_obis[2], raw_obis[3]))
        if factor is None:
            return value, ""
        self.factor = factor
        return lists.apply_factor(value, factor), f"; user override ×{factor:g}"

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
                if obis.obis_key(raw) in obis.PUSH_SETUP_KEYS or nxt < 0 or self.is_obis(nxt) or self.is_item(nxt):
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
            if kind == _STRUCT and t[COUNT] == 4 and self.is_descriptor(e):
                self.note(
                    e,
                    f"capture-object descriptor of {obis.describe(tape[e + 2][VALUE])}: "  # type: ignore[arg-type]
                    "describes a value, is not one",
                    "descriptor",
                )
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
            self.note(oi, described + (_SWAPPED_NOTE if tape[oi][COUNT] == 1 else ""), "OBIS code")
        vt = tape[vi]
        if vt[TAG] in _NUMERIC:
            value = vt[VALUE]
            if si >= 0:
                c1 = si + 1
                scaler: int = tape[c1][VALUE]  # type: ignore[assignment]
                unit = unit_symbol(tape[tape[c1][NEXT]][VALUE])  # type: ignore[arg-type]
                if scaler:
                    value = self.scale(value, scaler)  # type: ignore[arg-type]
                extra = ""
                if self.profile is not None:
                    value, extra = self.override(raw_obis, value)  # type: ignore[arg-type]
                if notes:
                    self.note(
                        si,
                        f"×10^{scaler} {unit_text(tape[tape[c1][NEXT]][VALUE])}",  # type: ignore[arg-type]
                        "scaler-unit",
                    )
                    self.note(vi, f"{name}; scaling: in-band{extra}")
            elif scaling is not None:
                rule = scaling.get((raw_obis[2], raw_obis[3]))
                if rule is not None:
                    value = self.scale(value, rule[0])  # type: ignore[arg-type]
                    unit = rule[1]
                extra = ""
                if self.profile is not None:
                    value, extra = self.override(raw_obis, value)  # type: ignore[arg-type]
                if notes:
                    self.note(
                        vi,
                        f"{name}; scaling: list specification ({self.result.list_id}) "
                        f"×10^{rule[0]} {rule[1] or ''}{extra}"
                        if rule is not None
                        else f"{name}{extra}",
                    )
            elif self.profile is not None:
                value, extra = self.override(raw_obis, value)  # type: ignore[arg-type]
                if notes:
                    self.note(vi, f"{name}{extra}")
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


_SWAPPED_NOTE = " (firmware quirk: tag sent as 06 09 instead of 09 06, Landis+Gyr ZMF100)"
_LDN_LEN = 16


def _looks_like_ldn(text: str) -> bool:
    """A COSEM logical device name: 16 characters, a 3-letter manufacturer id first (Blue Book 4.1.8.2)."""
    return len(text) == _LDN_LEN and text[:3].isalpha() and text[:3].isupper() and text.isalnum()


def interpret_tape(
    tape: Tape,
    bname: str,
    top: Node,
    invert_deviation: bool = False,
    notes: bool = False,
    profile: lists.MeterProfile | None = None,
    buf: bytes | None = None,
) -> BodyResult:
    """Collect readings from a body tape; ``top`` is the (lazy) body node readings point into.

    With ``notes`` the walk also labels the elements for the inspector (:attr:`BodyResult.notes`).
    ``profile`` carries the per-installation scaling override and time zone.

    Without ``notes`` the interpretation of a layout is cached (:class:`_Plan`): a push of a layout seen
    before only reads and scales its values. With ``buf`` (the bytes the tape was read from) the plan also
    learns the layout's bytes, so that :func:`match_body` can skip parsing the next push of it."""
    if notes:
        w = _Walker(tape, bname, top, invert_deviation, notes, profile)
        _interpret(w)
        return w.result
    key = _signature(tape, invert_deviation, profile)
    plan = _PLANS.get(key, _UNSEEN)
    if plan is not None and plan is not _UNSEEN:
        with _LOCK:
            if key in _PLANS:
                _PLANS.move_to_end(key)
        hit = plan.apply(tape, bname, top)  # type: ignore[union-attr]
        if hit is not None:
            return hit
    w = _Walker(tape, bname, top, invert_deviation, notes, profile)
    _interpret(w)
    if plan is not None:  # unseen, or its guarded values changed: (re)learn it; None: not cacheable
        new_plan = _Plan.build(w)
        learnt = new_plan is not None and buf is not None and new_plan.learn_bytes(w, buf, key[:2])
        with _LOCK:
            _PLANS[key] = new_plan
            _PLANS.move_to_end(key)
            if len(_PLANS) > PLAN_CACHE_SIZE:
                _PLANS.popitem(last=False)
            if learnt:
                _TEMPLATES.insert(0, new_plan)  # type: ignore[arg-type]
                del _TEMPLATES[TEMPLATE_CACHE_SIZE:]
    return w.result


def match_body(buf: bytes, q: int, n: int, invert: bool, profile: lists.MeterProfile | None) -> _Plan | None:
    """A learnt layout whose bytes (all but the values that vary) are those at ``buf[q:]``, or ``None``.

    The same bytes parse to the same tape, so the plan's readings can be read straight from ``buf``
    (:meth:`_Plan.apply_bytes`); the element ends at ``q + plan.length``."""
    pkey = (invert, None if profile is None else (profile.scale_text, profile.tz))
    for k, plan in enumerate(_TEMPLATES):
        length = plan.length
        if q + length > n or plan.pkey != pkey:
            continue
        for off, seg in plan.segments:
            if buf[q + off : q + off + len(seg)] != seg:
                break
        else:
            if k:
                with _LOCK:
                    if plan in _TEMPLATES:
                        _TEMPLATES.remove(plan)
                        _TEMPLATES.insert(0, plan)
            return plan
    return None


def _interpret(w: _Walker) -> None:
    tape = w.tape
    result = w.result
    body = tape[0]
    top_elems = w.children(0) if body[TAG] in (axdr.STRUCTURE, axdr.ARRAY) else [0]
    if top_elems and tape[top_elems[0]][TAG] == _OCTET:
        w.deciders.append(top_elems[0])  # a list id or a push-setup head (octet-strings; a clock may vary)

    # A list version id as a bare leading string (Kamstrup), or a positional layout (Kaifa NO).
    first_text = None
    first_raw: bytes | None = None
    if top_elems:
        f = tape[top_elems[0]]
        if f[TAG] in axdr.STRING_TAGS:
            if f[TAG] == _OCTET:
                first_raw = f[VALUE]  # type: ignore[assignment]
                first_text = axdr.text_value(first_raw, _OCTET)  # type: ignore[arg-type]
            else:
                first_text = f[VALUE]  # type: ignore[assignment]
        elif f[TAG] == axdr.ARRAY and body[TAG] == _STRUCT:
            descs = _descriptors(tape, top_elems[0])
            if descs is not None:
                _descriptor_push(w, descs, top_elems)
                return
    if body[TAG] == _STRUCT and _maybe_positional(w, top_elems, first_raw):
        spec = lists.match_positional(
            [tape[e][TAG] for e in top_elems],  # type: ignore[misc]
            first_raw if first_raw is not None else first_text,
        )
        if spec is not None:
            _positional(w, spec, top_elems)
            return

    w.walk(top_elems, "body")
    # Identify the list and the meter type first: the list specification decides unscaled units.
    meter_type = None
    for oi, vi, _, _ in w.pending:
        key = obis.obis_key(tape[oi][VALUE])  # type: ignore[arg-type]
        if key == (1, 0, 2, 129):
            result.list_id = str(w.plain_value(vi)[0])
            w.deciders.append(vi)
        elif key in ((1, 96, 1, 1), (0, 96, 1, 7)):
            meter_type = str(w.plain_value(vi)[0])
            w.deciders.append(vi)
    bare = w.bare
    if result.list_id is None and first_text is not None and bare and bare[0][1] == top_elems[0]:
        e = bare.pop(0)[1]
        if _looks_like_ldn(first_text):
            w.note(e, "logical device name (no OBIS code in the list)")
            w.reading("0.0.42.0.0.255", "Logical device name", first_text, None, None, e)
        else:
            result.list_id = first_text
            w.note(e, "list version identifier")
            w.reading(obis.LIST_ID_OBIS, "List version identifier", first_text, None, "list_id", e)
    scaling = lists.scaling_for(result.list_id, meter_type)
    for oi, vi, si, item in w.pending:
        w.register(oi, vi, si, scaling, item)
    for rid, e in bare:
        value, _ = w.plain_value(e)
        w.note(e, "no OBIS code in the list")
        w.reading(rid, f"Unlabelled {axdr.TYPE_NAMES.get(tape[e][TAG], 'element')}", value, None, None, e)


def _maybe_positional(w: _Walker, elems: list[int], first_raw: bytes | None) -> bool:
    """No OBIS codes in the body (or only the IMx50 push-setup name first): a positional candidate."""
    tape = w.tape
    for k, e in enumerate(elems):
        t = tape[e]
        if t[TAG] == _OCTET and len(t[VALUE]) == 6:  # type: ignore[arg-type]
            if k or not lists.has_push_setup_head(first_raw):
                return False
        elif t[TAG] == _STRUCT and w.is_item(e):
            return False
    return True


def _positional(w: _Walker, spec: lists.PositionalList, elems: list[int]) -> None:
    result = w.result
    scaling = lists.scaling_for(spec.list_id, None) or {}
    result.list_id = spec.list_id
    tape = w.tape
    for i, (field, e) in enumerate(zip(spec.fields, elems, strict=True)):
        if not field.obis:
            value, _ = w.plain_value(e)
            w.note(e, f"not labelled by the list specification ({spec.name})")
            w.reading(f"body[{i}]", f"Unlabelled {axdr.TYPE_NAMES.get(tape[e][TAG], 'element')}", value, None, None, e)
            continue
        raw_obis = lists.field_obis(field)
        code, name, quantity, unit, _ = obis.resolve(raw_obis)
        value, numeric = w.plain_value(e)
        how = ""
        if numeric and isinstance(value, int | float):
            rule = field.scale or scaling.get((raw_obis[2], raw_obis[3]))
            if rule is not None:
                value = w.scale(value, rule[0])
                unit = rule[1]
                how = f"; scaling: list specification ×10^{rule[0]} {unit or ''}"
            value, extra = w.override(raw_obis, value)
            how += extra
        else:
            unit = None
        if raw_obis == b"\x00\x00\x2a\x00\x00\xff" and isinstance(value, str):
            how += "; logical device name, not the meter id"
        w.note(e, f"{name} (positional, {spec.name}){how}")
        if quantity == "meter_clock" and isinstance(value, str):
            result.clock = result.clock or value
        elif quantity == "meter_id":
            result.meter_id = str(value)
        ev = tape[e][VALUE]
        if raw_obis[2:5] == b"\x19\x09\x00" and isinstance(ev, bytes) and len(ev) == 6:
            value = obis.obis_text(ev)
        w.reading(code, name, value, unit, quantity, e)


# -- capture-object descriptor pushes (meter-lists.md §1) ---------------------------------------------
_DESC_TAGS = (axdr.LONG_UNSIGNED, _OCTET, axdr.INTEGER, axdr.LONG_UNSIGNED)
Descriptor = tuple[int, bytes, int, int]
"""(class id, logical name, attribute index, tape index of the descriptor structure)."""


def _descriptors(tape: Tape, arr: int) -> list[Descriptor] | None:
    """The descriptors of an in-band push-object list: an array of ``{class_id u16, logical_name
    octet-string(6), attribute_index i8, data_index u16}`` structures; ``None`` if it is not one."""
    t = tape[arr]
    if t[COUNT] == 0 or t[VALUE] is axdr.PARTIAL:
        return None
    out: list[Descriptor] = []
    j = arr + 1
    stop = t[NEXT]
    while j < stop:
        d = tape[j]
        if d[TAG] != _STRUCT or d[COUNT] != 4 or d[NEXT] != j + 5:
            return None
        for k, want in enumerate(_DESC_TAGS, 1):
            if tape[j + k][TAG] != want:
                return None
        ln = tape[j + 2][VALUE]
        if not isinstance(ln, bytes) or len(ln) != 6:
            return None
        out.append((tape[j + 1][VALUE], ln, tape[j + 3][VALUE], j))  # type: ignore[arg-type]
        j = d[NEXT]
    return out


_CONTROL_STATES = {0: "disconnected", 1: "connected", 2: "ready for reconnection"}
_ATTR_NAMES: dict[tuple[int, int], str] = {
    (40, 1): "push setup logical name",
    (40, 2): "push object list",
    (3, 3): "scaler-unit",
    (4, 3): "scaler-unit",
    (8, 2): "time",
    (70, 3): "control state",
    (72, 6): "identification number",
    (72, 9): "device type",
    (1, 2): "value",
    (3, 2): "value",
    (4, 2): "value",
    (5, 2): "current average value",
}
_CLASS_NAMES = {
    1: "data",
    3: "register",
    4: "extended register",
    5: "demand register",
    8: "clock",
    40: "push setup",
    70: "disconnect control",
    72: "M-Bus client",
}
_PLAIN_ID = frozenset({(40, 1), (70, 3), (8, 2)})


def _descriptor_push(w: _Walker, descs: list[Descriptor], elems: list[int]) -> None:
    """Map each value to its descriptor: descriptor *i* describes body element *i* (descriptor 0 is the
    push-object list itself, so the values follow it in descriptor order; meter-lists.md §1.2)."""
    tape = w.tape
    result = w.result
    arr = elems[0]
    if w.notes:
        w.note(arr, f"{len(descs)} capture-object descriptor(s), sent in-band", "push object list")
        for i, (cls, ln, attr, j) in enumerate(descs):
            what = _ATTR_NAMES.get((cls, attr), f"attribute {attr}")
            w.note(
                j,
                f"→ body[{i}]: {obis.describe(ln)}, class {cls} ({_CLASS_NAMES.get(cls, '?')}), "
                f"attribute {attr} ({what})",
                f"descriptor {i}",
            )
    if len(descs) != len(elems):
        msg = (
            f"the push-object list describes {len(descs)} element(s) but the body has {len(elems)}: "
            "values left unlabelled"
        )
        result.warnings.append(msg)
        w.walk(elems, "body")  # the descriptors themselves yield no readings (``is_descriptor``)
        for rid, e in w.bare:
            value, _ = w.plain_value(e)
            w.note(e, "not matched to a descriptor")
            w.reading(rid, f"Unlabelled {axdr.TYPE_NAMES.get(tape[e][TAG], 'element')}", value, None, None, e)
        return
    # scaler-units sent as their own attribute apply to the value of the same object, before or after
    scalers: dict[bytes, int] = {}
    for (cls, ln, attr, _), e in zip(descs, elems, strict=True):
        if attr == 3 and cls in (3, 4) and w.is_scaler_unit(e):
            scalers[ln] = e
    for i in range(1, len(descs)):
        cls, ln, attr, _ = descs[i]
        e = elems[i]
        t = tape[e]
        code, name, quantity, unit, _ = obis.resolve(ln)
        if (cls, attr) in ((3, 3), (4, 3)):
            if w.notes and e in scalers.values():
                c1 = e + 1
                w.note(
                    e,
                    f"scaler-unit of {code}: ×10^{tape[c1][VALUE]} "
                    f"{unit_text(tape[tape[c1][NEXT]][VALUE])} (applied to its value)",  # type: ignore[arg-type]
                    "scaler-unit",
                )
            continue
        if t[TAG] in (_STRUCT, axdr.ARRAY):
            w.note(e, f"{name}: class {cls} attribute {attr}")
            w.reading(f"{code}:{attr}", f"{name} (attribute {attr})", axdr.TYPE_NAMES[t[TAG]], None, None, e)
            continue
        rid = code if attr == 2 or (cls, attr) in _PLAIN_ID else f"{code}:{attr}"
        if (cls, attr) == (40, 1):
            raw = t[VALUE]
            ln_text = obis.obis_text(raw) if isinstance(raw, bytes) and len(raw) == 6 else w.plain_value(e)[0]
            w.note(e, "push setup logical name (descriptor: class 40 attribute 1)", "OBIS code")
            w.reading(rid, "Push setup", ln_text, None, None, e)
            continue
        value, numeric = w.plain_value(e)
        how = ""
        if numeric and cls in (3, 4, 5) and attr == 2 and isinstance(value, int | float):
            su = scalers.get(ln)
            if su is not None:
                scaler: int = tape[su + 1][VALUE]  # type: ignore[assignment]
                unit = unit_symbol(tape[tape[su + 1][NEXT]][VALUE])  # type: ignore[arg-type]
                value = w.scale(value, scaler)
                how = f"scaling: in-band (attribute 3) ×10^{scaler}"
            else:
                rule = lists.E450_DEFAULTS.get((ln[2], ln[3]))
                if rule is not None:
                    value = w.scale(value, rule[0])
                    unit = rule[1]
                    how = f"scaling: default ({lists.E450_DEFAULTS_NAME}) ×10^{rule[0]}"
                else:
                    how = "scaling: none known (as sent)"
            value, extra = w.override(ln, value)
            how += extra
        elif (cls, attr) == (70, 3):
            unit = None
            name = "Disconnect control state"
            how = _CONTROL_STATES.get(value, "unknown state") if isinstance(value, int) else ""
        elif numeric:
            unit = None if cls not in (3, 4, 5) else unit
        else:
            unit = None
        if attr not in (2, 3) and (cls, attr) not in _PLAIN_ID:
            name = f"{name} ({_ATTR_NAMES.get((cls, attr), f'attribute {attr}')})"
        w.note(e, f"{name} (descriptor {i}: class {cls}, attribute {attr}){'; ' + how if how else ''}")
        if quantity == "meter_clock" and isinstance(value, str):
            result.clock = result.clock or value
        elif quantity == "meter_id" and attr == 2:
            result.meter_id = result.meter_id or str(value)
        w.reading(rid, name, value, unit, quantity if attr == 2 or cls == 8 else None, e)


# -- the interpretation cache (issue #8) ----------------------------------------------------------------
PLAN_CACHE_SIZE = 64
"""Layouts remembered (LRU); a meter sends one or a few."""
_VARYING = axdr.NUMERIC_TAGS | {axdr.BOOLEAN, axdr.DATE_TIME, axdr.DATE, axdr.TIME}
"""Tags whose values change from push to push without changing the layout (12-byte octet-strings too: clocks)."""
_DT_OCTET = -1


def _signature(tape: Tape, invert: bool, profile: lists.MeterProfile | None) -> tuple[object, ...]:
    """A layout's key: every element's tag, size and count, the value of every element that names or
    identifies (OBIS codes, list and meter ids, strings), the clock convention and the profile."""
    varying = _VARYING
    parts: list[object] = [invert, None if profile is None else (profile.scale_text, profile.tz)]
    append = parts.append
    for t in tape:
        tag = t[0]
        if tag in varying:
            append(tag)
        elif tag == _OCTET and t[2] - t[1] == 14:
            append(_DT_OCTET)
        else:
            append((tag, t[2] - t[1], t[4], t[3]))
    return tuple(parts)


_Entry = tuple[str, str, str | None, str | None, int, bool, object, int, float | None]
"""(id, name, unit, quantity, tape index, value varies, value if constant, scaler, factor)."""
if TYPE_CHECKING:
    _FastEntry = tuple[str, str, str | None, str | None, int, int, int, object, int, float | None, Any]
    """(id, name, unit, quantity, start, end (from the body's start), mode (0 constant, 1 number, 2 12-byte
    octet-string, 3 number as sent), value if constant, scaler, factor, number unpacker)."""


def _value_of(
    t: tuple[int, int, int, object, int, int], invert: bool, tz: tzinfo | None, scaler: int, factor: float | None
) -> int | float | str:
    value = _plain(t, invert, tz)[0]
    if isinstance(value, int | float) and not isinstance(value, bool):
        if scaler:
            value = _scaled(value, scaler)
        if factor is not None:
            value = lists.apply_factor(value, factor)
    return value


def _first_outcome(kinds: list[int], raw: bytes) -> tuple[bool, object]:
    """What a first octet-string decides: an IMx50 push-setup head, and which positional layout matches."""
    return lists.has_push_setup_head(raw), lists.match_positional(kinds, raw)


class _Plan:
    """What one interpretation of a layout found, so that the next push of it only reads its values.

    Built from a full walk (:meth:`build`), checked against that walk's result (a layout whose readings
    the plan cannot reproduce is not cached), and guarded: the values that steered the walk (scalers,
    units, descriptors, list id, the first element) must be the same for the plan to apply."""

    __slots__ = (
        "body_count",
        "body_tag",
        "clock",
        "entries",
        "fast",
        "first",
        "guards",
        "invert",
        "length",
        "list_id",
        "meter_id",
        "pkey",
        "segments",
        "tz",
        "warnings",
    )

    def __init__(self) -> None:
        self.entries: list[_Entry] = []
        self.guards: list[tuple[int, object]] = []
        self.invert = False
        self.tz: tzinfo | None = None
        self.clock: tuple[int, object] = (-1, None)
        self.meter_id: tuple[int, object] = (-1, None)
        self.list_id: tuple[int, object] = (-1, None)
        """(reading index whose value it is, -1 for a constant; the constant)."""
        self.warnings: list[str] = []
        self.first: tuple[int, list[int], object] | None = None
        """A first element that varies (a clock) but steers the layout: (index, top-level tags, outcome)."""
        self.pkey: tuple[object, ...] = ()
        self.length = 0
        self.segments: list[tuple[int, bytes]] = []
        """The layout's bytes that do not vary: (offset from the element's start, bytes)."""
        self.fast: list[_FastEntry] = []
        self.body_tag = 0
        self.body_count = 0

    @staticmethod
    def build(w: _Walker) -> _Plan | None:
        tape, result = w.tape, w.result
        plan = _Plan()
        plan.invert, plan.tz = w.invert, w.tz
        plan.warnings = list(result.warnings)
        sources = set()
        for reading, (e, scaler, factor) in zip(result.readings, w.how, strict=True):
            t = tape[e]
            varies = t[TAG] in _VARYING or (t[TAG] == _OCTET and t[2] - t[1] == 14)
            if varies:
                sources.add(e)
                again = _value_of(t, w.invert, w.tz, scaler, factor)
                if again != reading.value or type(again) is not type(reading.value):
                    return None
            plan.entries.append(
                (reading.id, reading.name, reading.unit, reading.quantity, e, varies, reading.value, scaler, factor)
            )
        for i, t in enumerate(tape):
            if (t[TAG] in _VARYING or (t[TAG] == _OCTET and t[2] - t[1] == 14)) and i not in sources:
                plan.guards.append((i, t[VALUE]))
        for i in w.deciders:
            if i == 1 and tape[0][TAG] == _STRUCT and i in sources:  # the first element: its outcome
                kinds = [tape[e][TAG] for e in axdr.tape_children(tape, 0)]
                plan.first = (i, kinds, _first_outcome(kinds, tape[i][VALUE]))  # type: ignore[arg-type]
            else:
                plan.guards.append((i, tape[i][VALUE]))
        readings = result.readings
        for field, quantity in (("clock", "meter_clock"), ("meter_id", "meter_id"), ("list_id", "list_id")):
            got = getattr(result, field)
            varying = [k for k, ent in enumerate(plan.entries) if ent[5] and ent[3] == quantity]
            if not varying:
                setattr(plan, field, (-1, got))
                continue
            k = next(
                (k for k in varying if (readings[k].value if field == "clock" else str(readings[k].value)) == got), None
            )
            if k is None:
                return None
            setattr(plan, field, (k, None))
        return plan

    def learn_bytes(self, w: _Walker, buf: bytes, pkey: tuple[object, ...]) -> bool:
        """Learn the bytes of this layout (see :func:`match_body`); ``False`` if it cannot be read from
        bytes alone (dates, booleans or a possible swapped-OBIS quirk among its varying values)."""
        tape = w.tape
        if tape[0][TAG] not in (_STRUCT, axdr.ARRAY) or self.first is not None:
            return False
        base = tape[0][1]
        sources = {e for *_, e, varies, _c, _s, _f in self.entries if varies}
        for i, t in enumerate(tape):
            if (
                t[TAG] == _STRUCT
                and 2 <= t[COUNT] <= 3
                and tape[i + 1][TAG] == axdr.DOUBLE_LONG_UNSIGNED
                and buf[tape[i + 1][1] + 1] == _OCTET
            ):
                return False  # the parser might read it as an OBIS code tagged 06 09 (meter-lists.md §4)
        holes: dict[int, tuple[int, int]] = {}  # tape index → (first, end) of its value bytes
        for e in sources:
            t = tape[e]
            if t[TAG] in _NUMERIC:
                holes[e] = (t[1] + 1, t[2])
            elif t[TAG] == _OCTET and t[2] - t[1] == 14:
                holes[e] = (t[1] + 2, t[2])
            else:
                return False
        self.pkey = pkey
        self.length = tape[0][2] - base
        self.body_tag, self.body_count = tape[0][TAG], tape[0][COUNT]
        pos = base
        for a, b in sorted(holes.values()):
            if a > pos:
                self.segments.append((pos - base, bytes(buf[pos:a])))
            pos = b
        if pos < tape[0][2]:
            self.segments.append((pos - base, bytes(buf[pos : tape[0][2]])))
        for rid, name, unit, quantity, e, varies, const, scaler, factor in self.entries:
            t = tape[e]
            mode = 0 if not varies else 2 if t[TAG] not in _NUMERIC else 3 if not scaler and factor is None else 1
            unpack = axdr.NUMERIC_UNPACK[t[TAG]] if mode in (1, 3) else None
            self.fast.append((rid, name, unit, quantity, t[1] - base, t[2] - base, mode, const, scaler, factor, unpack))
        # the bytes must give what the walk gave
        top = w.top
        again = self.apply_bytes(buf, base, w.bname, top).readings
        for r1, r2 in zip(again, w.result.readings, strict=True):
            if r1.value != r2.value or type(r1.value) is not type(r2.value) or r1.ref != r2.ref:
                self.segments = []
                self.fast = []
                return False
        return True

    def apply_bytes(self, buf: bytes, q: int, bname: str, top: Node) -> BodyResult:
        """The result for a push of this layout whose bytes start at ``q`` (after :func:`match_body`)."""
        res = BodyResult()
        invert, tz = self.invert, self.tz
        out = res.readings
        append = out.append
        for rid, name, unit, quantity, s, e, mode, const, scaler, factor, unpack in self.fast:
            if mode == 3:
                value = unpack(buf, q + s + 1)[0]  # type: ignore[misc]
            elif mode == 1:
                value = unpack(buf, q + s + 1)[0]  # type: ignore[misc]
                if scaler:
                    value = _scaled(value, scaler)
                if factor is not None:
                    value = lists.apply_factor(value, factor)
            elif mode == 2:
                value = _plain((_OCTET, 0, 0, bytes(buf[q + s + 2 : q + e]), 0, 0), invert, tz)[0]
            else:
                value = const
            append(Reading(rid, name, value, unit, quantity, None, (top, bname, q + s, q + e)))
        self._side_fields(res)
        return res

    def _side_fields(self, res: BodyResult) -> None:
        out = res.readings
        k, c = self.clock
        res.clock = c if k < 0 else out[k].value  # type: ignore[assignment]
        k, c = self.meter_id
        res.meter_id = c if k < 0 else str(out[k].value)  # type: ignore[assignment]
        k, c = self.list_id
        res.list_id = c if k < 0 else str(out[k].value)  # type: ignore[assignment]
        if self.warnings:
            res.warnings = list(self.warnings)

    def apply(self, tape: Tape, bname: str, top: Node) -> BodyResult | None:
        """The result for a push of this layout, or ``None`` when a guarded value differs."""
        for i, want in self.guards:
            if tape[i][VALUE] != want:
                return None
        if self.first is not None:
            i, kinds, outcome = self.first
            if _first_outcome(kinds, tape[i][VALUE]) != outcome:  # type: ignore[arg-type]
                return None
        res = BodyResult()
        invert, tz = self.invert, self.tz
        out = res.readings
        append = out.append
        for rid, name, unit, quantity, e, varies, const, scaler, factor in self.entries:
            t = tape[e]
            if varies:
                kind = t[TAG]
                if kind in _NUMERIC and not scaler and factor is None:
                    value = t[VALUE]
                else:
                    value = _value_of(t, invert, tz, scaler, factor)
            else:
                value = const
            append(Reading(rid, name, value, unit, quantity, None, (top, bname, t[1], t[2])))  # type: ignore[arg-type]
        self._side_fields(res)
        return res


_LOCK = threading.Lock()
"""Guards changes to the caches (the app decodes in the pipeline's thread and re-decodes in the UI's)."""
_PLANS: OrderedDict[tuple[object, ...], _Plan | None] = OrderedDict()
"""Layout signature → its plan (``None``: a layout the plan cannot reproduce, always walked in full)."""
_UNSEEN = _Plan()
TEMPLATE_CACHE_SIZE = 8
_TEMPLATES: list[_Plan] = []
"""Plans whose bytes are learnt, most recently matched first (:func:`match_body` tries them in turn)."""


def apply_notes(node: Node, notes: dict[tuple[int, int], Note]) -> None:
    """Copy the walk's notes onto a freshly built body subtree (elements are matched by span)."""
    if not notes:
        return
    stack = [node]
    while stack:
        n = stack.pop()
        hit = notes.get((n.start, n.end))
        if hit is not None and n.kind >= 0 and n.key != "value":
            label, note, is_datetime = hit
            if is_datetime and isinstance(n.value, bytes):
                if n.expand is axdr.expand_element:
                    n.expand = axdr.expand_datetime_octets  # the value leaf is split into its fields
                n.label = "date-time (octet-string)"
                note = str(CosemDateTime.from_bytes(n.value))
            n.note = note
            if label:
                n.label = label
        ch = n._children
        if ch:
            stack.extend(ch)
