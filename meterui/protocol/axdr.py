"""A-XDR decoding of the COSEM ``Data`` CHOICE with byte spans (IEC 61334-6, DLMS Green Book §9.5).

``parse_data`` reads one tagged element from ``buf`` and attaches a node to ``parent`` whose children
tile the element's bytes: a ``tag`` leaf, a ``length`` leaf for variable-size types, then either a
``value`` leaf or the child elements. The element node's ``kind`` is the A-XDR tag and its ``value``
the decoded Python value (``None`` for arrays and structures). See protocols.md §3.1.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from meterui.protocol.cosem import CosemDateTime, annotate_datetime
from meterui.protocol.errors import DecodeError, TruncatedError
from meterui.protocol.spans import Node

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

NULL, ARRAY, STRUCTURE, BOOLEAN, BIT_STRING = 0x00, 0x01, 0x02, 0x03, 0x04
DOUBLE_LONG, DOUBLE_LONG_UNSIGNED, OCTET_STRING, VISIBLE_STRING = 0x05, 0x06, 0x09, 0x0A
UTF8_STRING, BCD, INTEGER, LONG, UNSIGNED, LONG_UNSIGNED = 0x0C, 0x0D, 0x0F, 0x10, 0x11, 0x12
COMPACT_ARRAY, LONG64, LONG64_UNSIGNED, ENUM, FLOAT32, FLOAT64 = 0x13, 0x14, 0x15, 0x16, 0x17, 0x18
DATE_TIME, DATE, TIME, DONT_CARE = 0x19, 0x1A, 0x1B, 0xFF

TYPE_NAMES: dict[int, str] = {
    0x00: "null-data",
    0x01: "array",
    0x02: "structure",
    0x03: "boolean",
    0x04: "bit-string",
    0x05: "double-long",
    0x06: "double-long-unsigned",
    0x09: "octet-string",
    0x0A: "visible-string",
    0x0C: "utf8-string",
    0x0D: "bcd",
    0x0F: "integer",
    0x10: "long",
    0x11: "unsigned",
    0x12: "long-unsigned",
    0x13: "compact-array",
    0x14: "long64",
    0x15: "long64-unsigned",
    0x16: "enum",
    0x17: "float32",
    0x18: "float64",
    0x19: "date-time",
    0x1A: "date",
    0x1B: "time",
    0xFF: "dont-care",
}
NUMERIC_TAGS = frozenset({0x05, 0x06, 0x0D, 0x0F, 0x10, 0x11, 0x12, 0x14, 0x15, 0x16, 0x17, 0x18})
STRING_TAGS = frozenset({OCTET_STRING, VISIBLE_STRING, UTF8_STRING})

# tag -> (size, struct format or None for unsigned big-endian int)
_FIXED: dict[int, tuple[int, str | None]] = {
    0x03: (1, None),
    0x05: (4, ">i"),
    0x06: (4, None),
    0x0D: (1, None),
    0x0F: (1, ">b"),
    0x10: (2, ">h"),
    0x11: (1, None),
    0x12: (2, None),
    0x14: (8, ">q"),
    0x15: (8, None),
    0x16: (1, None),
    0x17: (4, ">f"),
    0x18: (8, ">d"),
    0x19: (12, None),
    0x1A: (5, None),
    0x1B: (4, None),
}
MAX_DEPTH = 32


def read_length(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """A-XDR/BER variable length: one byte < 0x80, else 0x80|n and n big-endian bytes."""
    if pos >= end:
        raise TruncatedError(pos, 1, 0)
    first = buf[pos]
    if first < 0x80:
        return first, pos + 1
    n = first & 0x7F
    if n == 0 or n > 4:
        raise DecodeError(f"invalid length prefix 0x{first:02X} at offset {pos}", offset=pos)
    if pos + 1 + n > end:
        raise TruncatedError(pos + 1, n, end - pos - 1)
    return int.from_bytes(buf[pos + 1 : pos + 1 + n], "big"), pos + 1 + n


def string_bounds(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """Where the bytes of the string element tagged at ``pos`` start and stop (length-prefixed)."""
    n = buf[pos + 1] if pos + 1 < end else 0x100
    if n < 0x80:  # the short form, nearly always: no call
        start = pos + 2
    else:
        n, start = read_length(buf, pos + 1, end)
    stop = start + n
    if stop > end:
        raise TruncatedError(start, n, end - start)
    return start, stop


def text_value(raw: bytes, tag: int) -> str:
    """Strings as text when printable, otherwise uppercase hex (octet-strings, odd visible-strings).
    Trailing NUL padding (L+G "RATE1\\0\\0\\0", Embriq serial numbers) is not part of the text."""
    if raw.endswith(b"\x00"):
        stripped = raw.rstrip(b"\x00")
        if stripped and stripped.isascii() and stripped.decode("ascii").isprintable():
            return stripped.decode("ascii")
    if tag != OCTET_STRING or (raw and raw.isascii() and raw.decode("ascii").isprintable()):
        try:
            text = raw.decode("utf-8" if tag == UTF8_STRING else "ascii")
        except UnicodeDecodeError:
            return raw.hex().upper()
        if text.isprintable():
            return text
    return raw.hex().upper()


def _fixed_value(tag: int, raw: bytes) -> object:
    fmt = _FIXED[tag][1]
    if tag == DATE_TIME:
        return CosemDateTime.from_bytes(raw)
    if tag == DATE:
        return CosemDateTime.date_from_bytes(raw)
    if tag == TIME:
        return CosemDateTime.time_from_bytes(raw)
    if tag == BOOLEAN:
        return raw[0] != 0
    if fmt is None:
        return int.from_bytes(raw, "big")
    return struct.unpack(fmt, raw)[0]


def expand_element(node: Node) -> None:
    """Build the tag / length / value leaves of a primitive element (called on first access)."""
    buf = node.src
    assert buf is not None
    b, s, e, tag = node.buffer, node.start, node.end, node.kind
    name = TYPE_NAMES[tag]
    Node("tag", "tag", b, s, s + 1, f"{tag:02X}", name, node)
    if tag in _FIXED:
        value = Node("value", name, b, s + 1, e, node.value, "", node)
        if tag == DATE_TIME:
            annotate_datetime(value, buf, node.value)  # type: ignore[arg-type]
        return
    if tag in STRING_TAGS:
        n, p = read_length(buf, s + 1, e)
        Node("length", "length", b, s + 1, p, n, "", node)
        if n:
            Node("value", name, b, p, e, node.value, "", node)


def expand_datetime_octets(node: Node) -> None:
    """Like :func:`expand_element`, for a 12-byte octet-string that holds a COSEM date-time: its value
    leaf is split into the date-time's fields."""
    expand_element(node)
    buf = node.src
    value = (node._children or [])[-1]
    if buf is not None and value.key == "value" and value.end - value.start == 12:
        annotate_datetime(value, buf, CosemDateTime.from_bytes(bytes(buf[value.start : value.end])))


_AFTER_OBIS = NUMERIC_TAGS | {OCTET_STRING, VISIBLE_STRING, NULL, STRUCTURE}


def is_swapped_obis(
    buf: bytes, p: int, end: int, container: tuple[int, int, int, object, int, int], remaining: int
) -> bool:
    """``06 09`` + 6 bytes as the first element of a 2- or 3-element structure, followed by a value: an OBIS
    code whose tag and length a Landis+Gyr ZMF100 firmware swapped (meter-lists.md §4)."""
    return (
        container[0] == STRUCTURE
        and 2 <= container[4] <= 3
        and remaining == container[4]
        and p + 8 < end
        and buf[p + 1] == OCTET_STRING
        and buf[p + 8] in _AFTER_OBIS
    )


def _expand_swapped(node: Node) -> None:
    b, s = node.buffer, node.start
    Node("tag", "tag", b, s, s + 1, "06", "octet-string, sent as 06 09: firmware quirk (Landis+Gyr ZMF100)", node)
    Node("length", "length", b, s + 1, s + 2, 6, "", node)
    Node("value", "value", b, s + 2, s + 8, node.value, "", node)


def expand_container(node: Node) -> None:
    """Put the tag and count leaves in front of a structure's or array's elements."""
    buf = node.src
    assert buf is not None
    b, s = node.buffer, node.start
    count, p = read_length(buf, s + 1, len(buf))
    head = [
        Node("tag", "tag", b, s, s + 1, f"{node.kind:02X}", TYPE_NAMES[node.kind]),
        Node("count", "count", b, s + 1, p, count, ""),
    ]
    for h in head:
        h.parent = node
    node._children = head + (node._children or [])


def elements(node: Node) -> list[Node]:
    """The elements of a structure or array node, without its tag and count leaves."""
    ch = node._children
    if not ch:
        return []
    return ch if node.expand is not None else ch[2:]


class Element(Node):
    """A decoded A-XDR element; built with one call on the hot path (children come lazily)."""

    __slots__ = ()

    def __init__(
        self,
        key: str,
        label: str,
        kind: int,
        bname: str,
        start: int,
        end: int,
        value: object,
        parent: Node | None,
        src: bytes,
        expand: Callable[[Node], None],
    ) -> None:
        self.key = key
        self.label = label
        self.buffer = bname
        self.start = start
        self.end = end
        self.value = value
        self.note = ""
        self.kind = kind
        self._children = None
        self.expand = expand
        self.src = src
        self.context = None
        self.fault = None
        self.parent = parent
        if parent is not None:
            ch = parent._children
            if ch is None:
                parent._children = [self]
            else:
                ch.append(self)


_KEYS = tuple(f"[{i}]" for i in range(1024))
_NUMERIC_STRUCTS: dict[int, tuple[int, Callable[..., tuple[object, ...]]]] = {
    0x05: (4, struct.Struct(">i").unpack_from),
    0x06: (4, struct.Struct(">I").unpack_from),
    0x0D: (1, struct.Struct(">B").unpack_from),
    0x0F: (1, struct.Struct(">b").unpack_from),
    0x10: (2, struct.Struct(">h").unpack_from),
    0x11: (1, struct.Struct(">B").unpack_from),
    0x12: (2, struct.Struct(">H").unpack_from),
    0x14: (8, struct.Struct(">q").unpack_from),
    0x15: (8, struct.Struct(">Q").unpack_from),
    0x16: (1, struct.Struct(">B").unpack_from),
    0x17: (4, struct.Struct(">f").unpack_from),
    0x18: (8, struct.Struct(">d").unpack_from),
}

NUMERIC_UNPACK: dict[int, Callable[..., tuple[object, ...]]] = {tag: u for tag, (_, u) in _NUMERIC_STRUCTS.items()}
"""Numeric tag → ``unpack_from`` of its value (after the tag byte)."""


def parse_data(
    buf: bytes, pos: int, end: int, bname: str, key: str, parent: Node | None, depth: int = 0
) -> tuple[Node, int]:
    """Parse one tagged Data element at ``pos``; return its node and the position after it."""
    if pos >= end:
        raise TruncatedError(pos, 1, 0)
    tag = buf[pos]
    num = _NUMERIC_STRUCTS.get(tag)
    if num is not None:
        stop = pos + 1 + num[0]
        if stop > end:
            raise TruncatedError(pos + 1, num[0], end - pos - 1)
        return Element(
            key, TYPE_NAMES[tag], tag, bname, pos, stop, num[1](buf, pos + 1)[0], parent, buf, expand_element
        ), stop
    if tag in (STRUCTURE, ARRAY):
        if depth > MAX_DEPTH:
            raise DecodeError(f"data nested deeper than {MAX_DEPTH} levels at offset {pos}", offset=pos)
        count, p = read_length(buf, pos + 1, end)
        node = Element(key, f"{TYPE_NAMES[tag]} ({count})", tag, bname, pos, p, None, parent, buf, expand_container)
        if count > end - p:
            raise TruncatedError(p, count, end - p)
        depth += 1
        keys = _KEYS
        nums = _NUMERIC_STRUCTS
        names = TYPE_NAMES
        try:
            for i in range(count):
                # inline fast paths for the common leaf types; everything else recurses
                t = buf[p] if p < end else -1
                num = nums.get(t)
                if (
                    t == DOUBLE_LONG_UNSIGNED
                    and i == 0
                    and tag == STRUCTURE
                    and 2 <= count <= 3
                    and p + 8 < end
                    and buf[p + 1] == OCTET_STRING
                    and buf[p + 8] in _AFTER_OBIS
                ):
                    Element(
                        "[0]",
                        "octet-string (tag sent as 06 09)",
                        OCTET_STRING,
                        bname,
                        p,
                        p + 8,
                        bytes(buf[p + 2 : p + 8]),
                        node,
                        buf,
                        _expand_swapped,
                    )
                    p += 8
                elif num is not None:
                    stop = p + 1 + num[0]
                    if stop > end:
                        raise TruncatedError(p + 1, num[0], end - p - 1)
                    Element(
                        keys[i] if i < 1024 else f"[{i}]",
                        names[t],
                        t,
                        bname,
                        p,
                        stop,
                        num[1](buf, p + 1)[0],
                        node,
                        buf,
                        expand_element,
                    )
                    p = stop
                elif t == OCTET_STRING and p + 1 < end and buf[p + 1] < 0x80:
                    stop = p + 2 + buf[p + 1]
                    if stop > end:
                        raise TruncatedError(p + 2, buf[p + 1], end - p - 2)
                    Element(
                        keys[i] if i < 1024 else f"[{i}]",
                        "octet-string",
                        t,
                        bname,
                        p,
                        stop,
                        bytes(buf[p + 2 : stop]),
                        node,
                        buf,
                        expand_element,
                    )
                    p = stop
                else:
                    p = parse_data(buf, p, end, bname, keys[i] if i < 1024 else f"[{i}]", node, depth)[1]
        except DecodeError:
            node.end = p
            raise
        node.end = p
        return node, p
    if tag in (OCTET_STRING, VISIBLE_STRING, UTF8_STRING):
        p, stop = string_bounds(buf, pos, end)
        raw = bytes(buf[p:stop])
        return Element(
            key,
            TYPE_NAMES[tag],
            tag,
            bname,
            pos,
            stop,
            raw if tag == OCTET_STRING else text_value(raw, tag),
            parent,
            buf,
            expand_element,
        ), stop
    fixed = _FIXED.get(tag)
    if fixed is not None:
        size = fixed[0]
        stop = pos + 1 + size
        if stop > end:
            raise TruncatedError(pos + 1, size, end - pos - 1)
        return Element(
            key,
            TYPE_NAMES[tag],
            tag,
            bname,
            pos,
            stop,
            _fixed_value(tag, bytes(buf[pos + 1 : stop])),
            parent,
            buf,
            expand_element,
        ), stop
    if tag in (NULL, DONT_CARE):
        return Element(key, TYPE_NAMES[tag], tag, bname, pos, pos + 1, None, parent, buf, expand_element), pos + 1
    if tag == BIT_STRING:
        bits, p = read_length(buf, pos + 1, end)
        n = (bits + 7) // 8
        stop = p + n
        if stop > end:
            raise TruncatedError(p, n, end - p)
        raw = bytes(buf[p:stop])
        text = "".join(f"{b:08b}" for b in raw)[:bits]
        bit_node = Node(key, "bit-string", bname, pos, stop, text, "", parent)
        bit_node.kind = tag
        Node("tag", "tag", bname, pos, pos + 1, tag, "bit-string", bit_node)
        Node("length", "bit count", bname, pos + 1, p, bits, "", bit_node)
        if n:
            Node("value", "bits", bname, p, stop, text, "", bit_node)
        return bit_node, stop
    if tag == COMPACT_ARRAY:
        return _parse_compact_array(buf, pos, end, bname, key, parent, depth)
    raise DecodeError(f"unknown A-XDR type tag 0x{tag:02X} at offset {pos}", offset=pos)


# -- the flat "tape": the hot path ---------------------------------------------------------------------
# One tuple per element in pre-order: (tag, start, end, value, count, next), where ``next`` is the index
# just after the element's subtree (its next sibling). Readings are computed from the tape; the node
# tree is built from the bytes only when someone looks at it.
TAG: Final = 0
START: Final = 1
END: Final = 2
VALUE: Final = 3
COUNT: Final = 4
NEXT: Final = 5
Tape = list[tuple[int, int, int, object, int, int]]
PARTIAL = "partial"
"""The VALUE of a container that a fault cut short (see :func:`parse_tape`'s ``salvage``)."""


def parse_tape(buf: bytes, pos: int, end: int, salvage: list[Tape] | None = None) -> tuple[Tape, int]:
    """Parse one tagged element (and everything inside it) into a flat tape; return it and the end.

    Raises :class:`DecodeError` on malformed or cut-short data. With ``salvage``, the elements read intact
    before the fault are appended to it first as a tape of their own (open containers closed where the
    data stopped, their counts cut to the children present), so no reading that arrived is lost.
    """
    tape: Tape = []
    stack: list[list[int]] = []
    nums = _NUMERIC_STRUCTS
    p = pos
    try:
        return _tape_loop(buf, p, end, tape, stack, nums)
    except DecodeError:
        if salvage is not None:
            salvage.append(_close_tape(tape, stack))
        raise


def _close_tape(tape: Tape, stack: list[list[int]]) -> Tape:
    """Close the containers left open by a fault (see :func:`parse_tape`)."""
    out = list(tape)
    reached = max((t[END] for t in out), default=0)
    for depth, (idx, rem) in enumerate(reversed(stack)):
        if idx < 0:
            continue
        t = out[idx]
        # the innermost container lacks ``rem`` children; an outer one also holds the open one below it
        present = t[COUNT] - rem + (1 if depth else 0)
        out[idx] = (t[TAG], t[START], max(reached, t[END]), PARTIAL, present, len(out))
    return out


def _tape_loop(
    buf: bytes,
    p: int,
    end: int,
    tape: Tape,
    stack: list[list[int]],
    nums: dict[int, tuple[int, Callable[..., tuple[object, ...]]]],
) -> tuple[Tape, int]:
    append = tape.append
    stack.append([-1, 1])  # [tape index of an open container (-1: top level), elements still to read]
    top = stack[-1]
    n_items = 0  # len(tape)
    while True:
        if p >= end:
            raise TruncatedError(p, 1, 0)
        tag = buf[p]
        num = nums.get(tag)
        n_items += 1
        if num is not None:
            if (
                tag == DOUBLE_LONG_UNSIGNED
                and p + 8 < end
                and buf[p + 1] == OCTET_STRING
                and top[0] >= 0
                and is_swapped_obis(buf, p, end, tape[top[0]], top[1])
            ):
                # L+G ZMF100 firmware quirk: an OBIS code tagged 06 09 instead of 09 06 (count 1 marks it)
                append((OCTET_STRING, p, p + 8, bytes(buf[p + 2 : p + 8]), 1, n_items))
                p += 8
            else:
                q = p + 1 + num[0]
                if q > end:
                    raise TruncatedError(p + 1, num[0], end - p - 1)
                append((tag, p, q, num[1](buf, p + 1)[0], 0, n_items))
                p = q
        elif tag in (OCTET_STRING, VISIBLE_STRING, UTF8_STRING):
            q0, q = string_bounds(buf, p, end)
            raw = buf[q0:q]
            append((tag, p, q, raw if tag == OCTET_STRING else text_value(raw, tag), 0, n_items))
            p = q
        elif tag in (STRUCTURE, ARRAY):
            count = buf[p + 1] if p + 1 < end else 0x100
            if count < 0x80:
                q = p + 2
            else:
                count, q = read_length(buf, p + 1, end)
            if count > end - q:
                raise TruncatedError(q, count, end - q)
            append((tag, p, q, None, count, n_items))
            p = q
            if count:
                if len(stack) > MAX_DEPTH:
                    raise DecodeError(f"data nested deeper than {MAX_DEPTH} levels at offset {p}", offset=p)
                top = [n_items - 1, count]
                stack.append(top)
                continue
        else:
            # rarer types: let the node-building parser read them (one element, no subtree)
            node, q = parse_data(buf, p, end, "", "", None, len(stack) - 1)
            append((tag, p, q, node.value, 0, n_items))
            p = q
        # one element is complete: close the containers it completes
        top[1] -= 1
        while not top[1]:
            idx = top[0]
            if idx < 0:
                return tape, p
            t = tape[idx]
            tape[idx] = (t[0], t[1], p, None, t[4], n_items)
            stack.pop()
            top = stack[-1]
            top[1] -= 1


def tape_children(tape: Tape, i: int) -> list[int]:
    """Indices of the direct children of the container at ``i``."""
    out = []
    j = i + 1
    stop = tape[i][NEXT]
    while j < stop:
        out.append(j)
        j = tape[j][NEXT]
    return out


# -- compact-array (Blue Book 4.1.5, "compact-array": type-description + packed contents) ----------


def _read_type_description(buf: bytes, pos: int, end: int, depth: int) -> tuple[object, int]:
    if pos >= end:
        raise TruncatedError(pos, 1, 0)
    if depth > MAX_DEPTH:
        raise DecodeError("type description nested too deeply", offset=pos)
    tag = buf[pos]
    if tag == ARRAY:
        if pos + 3 > end:
            raise TruncatedError(pos + 1, 2, end - pos - 1)
        count = int.from_bytes(buf[pos + 1 : pos + 3], "big")
        inner, p = _read_type_description(buf, pos + 3, end, depth + 1)
        return ("array", count, inner), p
    if tag == STRUCTURE:
        count, p = read_length(buf, pos + 1, end)
        items = []
        for _ in range(count):
            item, p = _read_type_description(buf, p, end, depth + 1)
            items.append(item)
        return ("struct", items), p
    if tag in _FIXED or tag in STRING_TAGS or tag in (NULL, BIT_STRING):
        return tag, pos + 1
    raise DecodeError(f"unknown type 0x{tag:02X} in compact-array description at offset {pos}", offset=pos)


def _parse_untagged(
    buf: bytes, pos: int, end: int, desc: object, bname: str, key: str, parent: Node, depth: int
) -> int:
    if isinstance(desc, tuple):
        if desc[0] == "array":
            _, count, inner = desc
            node = Node(key, f"array ({count})", bname, pos, pos, None, "", parent)
            node.kind = ARRAY
            p = pos
            for i in range(count):  # type: ignore[arg-type]
                p = _parse_untagged(buf, p, end, inner, bname, f"[{i}]", node, depth + 1)
            node.end = p
            if not node.children:
                raise DecodeError("empty compact-array element", offset=pos)
            return p
        node = Node(key, "structure", bname, pos, pos, None, "", parent)
        node.kind = STRUCTURE
        p = pos
        for i, item in enumerate(desc[1]):  # type: ignore[arg-type]
            p = _parse_untagged(buf, p, end, item, bname, f"[{i}]", node, depth + 1)
        node.end = p
        if not node.children:
            raise DecodeError("empty compact-array structure", offset=pos)
        return p
    tag = desc  # type: ignore[assignment]
    assert isinstance(tag, int)
    if tag in _FIXED:
        size = _FIXED[tag][0]
        if pos + size > end:
            raise TruncatedError(pos, size, end - pos)
        value = _fixed_value(tag, bytes(buf[pos : pos + size]))
        node = Node(key, TYPE_NAMES[tag], bname, pos, pos + size, value, "", parent)
        node.kind = tag
        return pos + size
    if tag in STRING_TAGS:
        n, p = read_length(buf, pos, end)
        if p + n > end:
            raise TruncatedError(p, n, end - p)
        raw = bytes(buf[p : p + n])
        node = Node(
            key, TYPE_NAMES[tag], bname, pos, p + n, raw if tag == OCTET_STRING else text_value(raw, tag), "", parent
        )
        node.kind = tag
        return p + n
    raise DecodeError(f"compact-array element type 0x{tag:02X} is not supported", offset=pos)


def _parse_compact_array(
    buf: bytes, pos: int, end: int, bname: str, key: str, parent: Node | None, depth: int
) -> tuple[Node, int]:
    node = Node(key, "compact-array", bname, pos, pos, None, "", parent)
    node.kind = COMPACT_ARRAY
    Node("tag", "tag", bname, pos, pos + 1, COMPACT_ARRAY, "compact-array", node)
    desc, p = _read_type_description(buf, pos + 1, end, depth)
    Node("type", "type description", bname, pos + 1, p, str(desc), "", node)
    n, q = read_length(buf, p, end)
    Node("length", "contents length", bname, p, q, n, "", node)
    stop = q + n
    if stop > end:
        raise TruncatedError(q, n, end - q)
    contents = Node("contents", "contents", bname, q, stop, None, "", node)
    i = 0
    r = q
    while r < stop:
        r = _parse_untagged(buf, r, stop, desc, bname, f"[{i}]", contents, depth + 1)
        i += 1
    node.label = f"compact-array ({i})"
    node.end = stop
    return node, stop
