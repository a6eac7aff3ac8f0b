"""HDLC frame fields as annotated nodes (IEC 62056-46 / ISO 13239 frame format type 3; protocols.md §1)."""

from __future__ import annotations

from meterui.protocol.crc import X25_GOOD, crc_x25
from meterui.protocol.errors import ErrorKind
from meterui.protocol.framing import hdlc_header_length
from meterui.protocol.records import TupleRecord, tuple_field
from meterui.protocol.spans import Node, frame_header


class HdlcHeader(TupleRecord, tuple[bool, int, int, int, int, int, int]):
    __slots__ = ()
    _fields = ("segmented", "length", "destination", "source", "control", "info_start", "info_end")

    segmented: bool = tuple_field(0)
    length: int = tuple_field(1)
    destination: int = tuple_field(2)
    source: int = tuple_field(3)
    control: int = tuple_field(4)
    info_start: int = tuple_field(5)
    info_end: int = tuple_field(6)
    """``info_start == info_end`` when the frame carries no information field."""

    def __new__(
        cls, segmented: bool, length: int, destination: int, source: int, control: int, info_start: int, info_end: int
    ) -> HdlcHeader:
        return tuple.__new__(cls, (segmented, length, destination, source, control, info_start, info_end))


def _address(raw: bytes) -> int:
    """ISO 13239 extended address: 7 bits per byte, LSB = 1 ends it."""
    value = 0
    for b in raw:
        value = (value << 7) | (b >> 1)
    return value


def parse_header(raw: bytes) -> HdlcHeader | None:
    """Header fields of a frame whose bytes start at the opening flag; None when not parseable."""
    n = len(raw)
    hlen = hdlc_header_length(raw, 0, n)
    if hlen < 0 or n < 3:
        return None
    fmt = raw[1] << 8 | raw[2]
    p = 3
    da_end = p
    while da_end < hlen and not raw[da_end] & 1:
        da_end += 1
    da_end += 1
    length = fmt & 0x7FF
    has_info = length > hlen - 1 + 2
    info_start = hlen + 2 if has_info else hlen
    info_end = max(info_start, min(n, length + 1) - 2)
    return HdlcHeader(
        bool(fmt & 0x0800),
        length,
        _address(raw[p:da_end]),
        _address(raw[da_end : hlen - 1]),
        raw[hlen - 1],
        info_start,
        info_end,
    )


def control_text(ctrl: int) -> str:
    if ctrl & 0x01 == 0:
        kind = f"I-frame N(S)={ctrl >> 1 & 7} N(R)={ctrl >> 5 & 7}"
    elif ctrl & 0x03 == 0x03:
        kind = "UI-frame" if ctrl & 0xEF == 0x03 else f"U-frame 0x{ctrl:02X}"
    else:
        kind = "S-frame"
    return f"{kind}, P/F={ctrl >> 4 & 1}"


def _expand_frame(node: Node) -> None:
    got = frame_header(node, parse_header, 3)
    if got is None:
        return
    raw, hdr = got
    bname, valid, n = node.buffer, node.kind == 1, len(raw)
    Node("flag", "opening flag", bname, 0, 1, "7E", "", node)
    Node(
        "format",
        "frame format",
        bname,
        1,
        3,
        f"{raw[1]:02X}{raw[2]:02X}",
        f"type 3, segmented={'yes' if hdr.segmented else 'no'}, length {hdr.length}",
        node,
    )
    hl = hdlc_header_length(raw, 0, n)
    p = 3
    da_end = p
    while not raw[da_end] & 1:
        da_end += 1
    da_end += 1
    Node("destination", "destination address", bname, 3, da_end, hdr.destination, f"{da_end - 3}-byte address", node)
    Node("source", "source address", bname, da_end, hl - 1, hdr.source, f"{hl - 1 - da_end}-byte address", node)
    Node("control", "control", bname, hl - 1, hl, f"{hdr.control:02X}", control_text(hdr.control), node)
    end = n
    if hdr.info_start > hl:  # HCS present
        if hl + 2 > n:
            Node("rest", "truncated header", bname, hl, n, None, node.note, node, ErrorKind.BAD_FRAME)
            return
        ok = crc_x25(raw[1 : hl + 2]) == X25_GOOD
        zero = not ok and zero_checksums(raw, hl, n)
        Node(
            "hcs",
            "header check sequence",
            bname,
            hl,
            hl + 2,
            f"{raw[hl]:02X}{raw[hl + 1]:02X}",
            ZERO_NOTE if zero else "CRC-16/X-25 ok" if ok else "CRC-16/X-25 mismatch",
            node,
            None if ok or zero else ErrorKind.BAD_FRAME,
        )
    complete = valid or (n == hdr.length + 2 and raw[-1] == 0x7E)
    if complete:
        fcs_at = n - 3
        if hdr.info_start < fcs_at:
            Node(
                "information", "information field", bname, hdr.info_start, fcs_at, None, "see the payload buffer", node
            )
        ok = crc_x25(raw[1 : n - 1]) == X25_GOOD
        zero = not ok and hdr.info_start > hl and zero_checksums(raw, hl, n)
        Node(
            "fcs",
            "frame check sequence",
            bname,
            fcs_at,
            n - 1,
            f"{raw[fcs_at]:02X}{raw[fcs_at + 1]:02X}",
            ZERO_NOTE if zero else "CRC-16/X-25 ok" if ok else "CRC-16/X-25 mismatch",
            node,
            None if ok or zero else ErrorKind.BAD_FRAME,
        )
        Node("flag_end", "closing flag", bname, n - 1, n, f"{raw[n - 1]:02X}", "", node)
    elif hdr.info_start < end:
        Node("rest", "incomplete frame body", bname, hdr.info_start, end, None, node.note, node, ErrorKind.BAD_FRAME)


ZERO_NOTE = "not sent (0000: this meter sends no checksums)"


def zero_checksums(raw: bytes | bytearray, hl: int, total: int, c: int = 0) -> bool:
    """Both HCS and FCS are ``00 00``: a meter that sends no checksums (Croatian Iskra; amsreader PR #1108).

    ``raw[c:c + total]`` is the frame with both flags, ``hl`` the offset of the HCS from ``c`` (flag through
    control). Accepted only when both are zero, so a corrupted frame with one bad checksum stays rejected."""
    return (
        total >= hl + 5
        and raw[c + hl] == 0
        and raw[c + hl + 1] == 0
        and raw[c + total - 3] == 0
        and raw[c + total - 2] == 0
    )
