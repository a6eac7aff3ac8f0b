"""M-Bus long frames as annotated nodes (EN 13757-2; Austrian customer interface, protocols.md §4)."""

from __future__ import annotations

from meterui.protocol.errors import ErrorKind
from meterui.protocol.records import TupleRecord, tuple_field
from meterui.protocol.spans import Node, frame_header


class MbusHeader(TupleRecord, tuple[int, int, int, int, bool, bool, int, int]):
    __slots__ = ()
    _fields = ("control", "address", "ci", "sequence", "last", "dlms", "data_start", "data_end")

    control: int = tuple_field(0)
    address: int = tuple_field(1)
    ci: int = tuple_field(2)
    sequence: int = tuple_field(3)
    last: bool = tuple_field(4)
    dlms: bool = tuple_field(5)
    """CI 0x00-0x1F: a DLMS segment with STSAP/DTSAP bytes after CI."""
    data_start: int = tuple_field(6)
    data_end: int = tuple_field(7)

    def __new__(
        cls, control: int, address: int, ci: int, sequence: int, last: bool, dlms: bool, data_start: int, data_end: int
    ) -> MbusHeader:
        return tuple.__new__(cls, (control, address, ci, sequence, last, dlms, data_start, data_end))


def ci_text(ci: int) -> str:
    if ci <= 0x1F:
        return f"DLMS segment {ci & 0x0F}{', last' if ci & 0x10 else ''}"
    if ci in (0x72, 0x7A):
        return "EN 13757-3 variable data (not DLMS)"
    return f"CI 0x{ci:02X}"


def parse_header(raw: bytes) -> MbusHeader | None:
    if len(raw) < 9 or raw[0] != 0x68:
        return None
    length = len(raw) - 6
    ci = raw[6]
    dlms = ci <= 0x1F
    start = 7 + (2 if dlms and length >= 5 else 0)
    return MbusHeader(raw[4], raw[5], ci, ci & 0x0F, bool(ci & 0x10), dlms, start, 4 + length)


def _expand_frame(node: Node) -> None:
    got = frame_header(node, parse_header, 9)
    if got is None:
        return
    raw, hdr = got
    bname, n = node.buffer, len(raw)
    Node("start", "start", bname, 0, 1, "68", "", node)
    Node("length", "length L", bname, 1, 2, raw[1], "C + A + CI + data", node)
    Node("length_repeat", "length L (repeated)", bname, 2, 3, raw[2], "", node)
    Node("start2", "start (repeated)", bname, 3, 4, "68", "", node)
    Node("control", "C field", bname, 4, 5, f"{hdr.control:02X}", "SND_UD" if hdr.control & 0x4F == 0x43 else "", node)
    Node("address", "A field", bname, 5, 6, hdr.address, "broadcast" if hdr.address == 0xFF else "", node)
    Node("ci", "CI field", bname, 6, 7, f"{hdr.ci:02X}", ci_text(hdr.ci), node)
    if hdr.data_start == 9:
        Node("stsap", "source TSAP", bname, 7, 8, f"{raw[7]:02X}", "", node)
        Node("dtsap", "destination TSAP", bname, 8, 9, f"{raw[8]:02X}", "", node)
    complete = node.kind == 1 or (n == raw[1] + 6 and raw[-1] == 0x16)
    if not complete:
        if hdr.data_start < n:
            Node("rest", "incomplete frame body", bname, hdr.data_start, n, None, node.note, node, ErrorKind.BAD_FRAME)
        return
    if hdr.data_start < n - 2:
        Node("data", "data", bname, hdr.data_start, n - 2, None, "see the payload buffer", node)
    ok = (sum(raw[4 : n - 2]) & 0xFF) == raw[n - 2]
    Node(
        "checksum",
        "checksum",
        bname,
        n - 2,
        n - 1,
        f"{raw[n - 2]:02X}",
        "sum ok" if ok else "sum mismatch",
        node,
        None if ok else ErrorKind.BAD_FRAME,
    )
    Node("stop", "stop", bname, n - 1, n, f"{raw[n - 1]:02X}", "", node)
