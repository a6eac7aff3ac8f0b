"""DLMS/COSEM push APDUs with spans: data-notification (0F), general-glo/ded-ciphering (DB/DC),
general-block-transfer (E0) headers, and the LLC header (Green Book 9.3, IEC 62056-46; protocols.md §2).
"""

from __future__ import annotations

import contextlib

from meterui.protocol import axdr, crypto
from meterui.protocol.cosem import CosemDateTime, annotate_datetime, datetime_iso
from meterui.protocol.errors import (
    DecodeError,
    DecryptGarbageError,
    DecryptionError,
    ErrorKind,
    MeterError,
    TruncatedError,
)
from meterui.protocol.lists import MeterProfile
from meterui.protocol.message import Reading
from meterui.protocol.readings import BodyResult, apply_notes, interpret_tape, match_body
from meterui.protocol.spans import Context, Node

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import tzinfo

DATA_NOTIFICATION = 0x0F
GENERAL_GLO_CIPHERING = 0xDB
GENERAL_DED_CIPHERING = 0xDC
GENERAL_BLOCK_TRANSFER = 0xE0
APDU_NAMES = {
    0x0F: "data-notification",
    0xDB: "general-glo-ciphering",
    0xDC: "general-ded-ciphering",
    0xDD: "general-ciphering",
    0xDF: "general-signing",
    0xE0: "general-block-transfer",
    0xC2: "event-notification-request",
    0xCA: "glo-event-notification-request",
}


class DecodeOptions:
    """What the APDU layer needs from the user: keys and clock interpretation."""

    __slots__ = ("auth_key", "invert_deviation", "key", "profile")

    def __init__(
        self,
        key: bytes | None = None,
        auth_key: bytes | None = None,
        invert_deviation: bool = False,
        profile: MeterProfile | None = None,
    ) -> None:
        self.key = key
        self.auth_key = auth_key
        self.invert_deviation = invert_deviation
        self.profile = profile
        """Per-installation scaling override and time zone (lists.MeterProfile)."""


class ApduResult:
    """What decoding the application layer found, gathered while walking the buffers."""

    __slots__ = (
        "authenticated",
        "buffers",
        "clock",
        "encrypted",
        "error",
        "invocation_counter",
        "list_id",
        "meter_id",
        "readings",
        "system_title",
        "warnings",
    )

    def __init__(self) -> None:
        self.encrypted = False
        self.authenticated: bool | None = None
        self.system_title: bytes | None = None
        self.invocation_counter: int | None = None
        self.clock: str | None = None
        self.readings: list[Reading] = []
        self.list_id: str | None = None
        self.meter_id: str | None = None
        self.error: MeterError | None = None
        self.buffers: dict[str, bytes] = {}
        self.warnings: list[str] = []


def fill_rest(
    node: Node, bname: str, start: int, length: int, label: str = "undecoded", fault: ErrorKind = ErrorKind.UNDECODED
) -> None:
    """Cover the bytes after the last leaf in ``bname`` with one leaf (at fault), so spans keep tiling."""
    frontier = start
    for lf in node.leaves():
        if lf.buffer == bname and lf.end > frontier:
            frontier = lf.end
    if frontier < length:
        Node("rest", label, bname, frontier, length, None, "not decoded", node, fault)


def decode_llc_and_apdu(
    buf: bytes, bname: str, root: Node, res: ApduResult, opts: DecodeOptions, start: int = 0
) -> None:
    """Decode an information field: optional LLC ``E6 E7 00`` then one APDU. Never raises."""
    node = Node(bname, "payload" if bname == "payload" else bname, bname, start, len(buf), None, "", root)
    p = start
    if len(buf) - p >= 3 and buf[p] == 0xE6 and buf[p + 1] in (0xE6, 0xE7):
        llc = Node("llc", "LLC header", bname, p, p + 3, None, "IEC 62056-46", node)
        llc.src = buf
        llc.expand = _expand_llc
        p += 3
    decode_apdu_buffer(buf, bname, node, res, opts, p)


def _expand_llc(llc: Node) -> None:
    buf, b, p = llc.src, llc.buffer, llc.start
    assert buf is not None
    Node("dsap", "destination LSAP", b, p, p + 1, f"{buf[p]:02X}", "", llc)
    Node(
        "ssap",
        "source LSAP",
        b,
        p + 1,
        p + 2,
        f"{buf[p + 1]:02X}",
        "response (server)" if buf[p + 1] == 0xE7 else "command",
        llc,
    )
    Node("quality", "LLC quality", b, p + 2, p + 3, f"{buf[p + 2]:02X}", "", llc)


def _expand_datetime(value: Node) -> None:
    assert value.src is not None
    annotate_datetime(value, value.src, CosemDateTime.from_bytes(value.src[value.start : value.end]))


def _expand_body(body: Node) -> None:
    """Build a notification body's element nodes from its bytes (on first access)."""
    buf = body.src
    assert buf is not None
    element, _ = axdr.parse_data(buf, body.start, body.end, body.buffer, "body", None)
    kids = element._children
    if kids:
        for child in kids:
            child.parent = body
        body._children = list(kids)
    # the walk again, this time with notes for the inspector (kept off the decoding hot path)
    tape, _ = axdr.parse_tape(buf, body.start, body.end)
    invert, profile = body.context or Context()
    apply_notes(body, interpret_tape(tape, body.buffer, body, invert, notes=True, profile=profile).notes)
    if body.kind in (axdr.STRUCTURE, axdr.ARRAY):
        axdr.expand_container(body)
    else:
        axdr.expand_element(body)


def decode_apdu_buffer(
    buf: bytes, bname: str, node: Node, res: ApduResult, opts: DecodeOptions, start: int = 0
) -> None:
    """Decode one APDU at ``start``; on failure record the error and cover the rest. Never raises."""
    try:
        if start >= len(buf):
            raise TruncatedError(start, 1, 0)
        end = _decode_apdu(buf, bname, node, res, opts, start)
        if end < len(buf):
            res.warnings.append(f"{len(buf) - end} byte(s) after the APDU in {bname}")
            Node("trailing", "trailing bytes", bname, end, len(buf), None, "after the APDU", node)
    except MeterError as exc:
        if res.error is None:
            res.error = exc
        fill_rest(node, bname, start, len(buf), fault=exc.kind)


def _decode_apdu(buf: bytes, bname: str, parent: Node, res: ApduResult, opts: DecodeOptions, p: int) -> int:
    tag = buf[p]
    if tag == DATA_NOTIFICATION:
        return _data_notification(buf, bname, parent, res, opts, p)
    if tag in (GENERAL_GLO_CIPHERING, GENERAL_DED_CIPHERING):
        return _ciphering(buf, bname, parent, res, opts, p)
    if tag == 0x2F:
        raise DecodeError("a DSMR P1 telegram inside DLMS ciphering: P1 decoding is not supported yet", offset=p)
    name = APDU_NAMES.get(tag)
    if name:
        raise DecodeError(f"APDU {name} (0x{tag:02X}) is not a push this tool decodes", offset=p)
    raise DecodeError(f"unknown APDU tag 0x{tag:02X} at offset {p}: not DLMS push data", offset=p)


def _notification_head(
    buf: bytes, bname: str, node: Node, p: int, invert: bool, build: bool, tz: tzinfo | None = None
) -> tuple[int, str | None]:
    """Read tag, long-invoke-id-and-priority and date-time; return (body start, clock). With ``build``
    also make their nodes (for the inspector, or to show the bytes up to a fault)."""
    n = len(buf)
    if build:
        Node("tag", "APDU tag", bname, p, p + 1, "0F", "data-notification", node)
    if p + 5 > n:
        raise TruncatedError(p + 1, 4, n - p - 1)
    if build:
        invoke = int.from_bytes(buf[p + 1 : p + 5], "big")
        Node(
            "invoke_id",
            "long-invoke-id-and-priority",
            bname,
            p + 1,
            p + 5,
            f"{invoke:08X}",
            f"invoke id {invoke & 0xFFFFFF}, priority {'high' if invoke >> 31 else 'normal'}",
            node,
        )
    q = p + 5
    if q >= n:
        raise TruncatedError(q, 1, 0)
    # date-time: 00 (absent) | 0C + 12 | 09 0C + 12 | 19 + 12   (protocols.md §2.2)
    first = buf[q]
    dt_node = Node("datetime", "date-time", bname, q, q, None, "", node) if build else None
    vstart = -1
    if first == 0x00:
        if dt_node:
            Node("length", "length", bname, q, q + 1, 0, "no date-time", dt_node)
        q += 1
    elif first == 0x0C:
        if dt_node:
            Node("length", "length", bname, q, q + 1, 12, "octet-string length", dt_node)
        vstart = q + 1
    elif first == 0x09 and q + 1 < n and buf[q + 1] == 0x0C:
        if dt_node:
            Node("tag", "tag", bname, q, q + 1, "09", "octet-string", dt_node)
            Node("length", "length", bname, q + 1, q + 2, 12, "", dt_node)
        vstart = q + 2
    elif first == 0x19:
        if dt_node:
            Node("tag", "tag", bname, q, q + 1, "19", "date-time", dt_node)
        vstart = q + 1
    else:
        if dt_node is not None and node._children:
            node._children.remove(dt_node)
        raise DecodeError(f"unexpected date-time encoding 0x{first:02X} in data-notification at offset {q}", offset=q)
    iso = None
    if vstart >= 0:
        if vstart + 12 > n:
            raise TruncatedError(vstart, 12, n - vstart)
        raw = buf[vstart : vstart + 12]
        iso = datetime_iso(raw, invert, tz)
        if dt_node:
            value = Node(
                "value", "date-time", bname, vstart, vstart + 12, iso or str(CosemDateTime.from_bytes(raw)), "", dt_node
            )
            value.src = buf
            value.expand = _expand_datetime
        q = vstart + 12
    if dt_node:
        dt_node.end = q
    return q, iso


def _expand_notification(node: Node) -> None:
    body = node._children or []
    node._children = None
    assert node.src is not None
    _notification_head(node.src, node.buffer, node, node.start, (node.context or Context()).invert_deviation, True)
    for child in body:
        node.add(child)


def _data_notification(buf: bytes, bname: str, parent: Node, res: ApduResult, opts: DecodeOptions, p: int) -> int:
    """Green Book 9.3.x: data-notification ::= long-invoke-id-and-priority, date-time, notification-body."""
    n = len(buf)
    node = Node("notification", "data-notification", bname, p, n, None, "", parent)
    try:
        q, iso = _notification_head(
            buf, bname, node, p, opts.invert_deviation, False, opts.profile.tz if opts.profile is not None else None
        )  # type: ignore[arg-type]
    except MeterError:
        with contextlib.suppress(MeterError):
            _notification_head(buf, bname, node, p, opts.invert_deviation, True)
        raise
    if iso:
        res.clock = iso
    node.src = buf
    node.context = context = Context(opts.invert_deviation, opts.profile)
    node.expand = _expand_notification
    plan = match_body(buf, q, n, opts.invert_deviation, opts.profile)
    if plan is not None:  # a layout seen before: its values are read from the bytes, nothing is parsed
        stop = q + plan.length
        known = Node(
            "body",
            f"notification-body {axdr.TYPE_NAMES[plan.body_tag]} ({plan.body_count})",
            bname,
            q,
            stop,
            None,
            "",
            node,
        )
        known.kind = plan.body_tag
        known.src = buf
        known.expand = _expand_body
        known.context = context
        node.end = stop
        _take_body(res, plan.apply_bytes(buf, q, bname, known))
        return stop
    try:
        tape, stop = axdr.parse_tape(buf, q, n)
    except MeterError:
        # build what can be built, so the inspector shows the bytes up to the fault, and keep the
        # readings of the elements that arrived intact
        node.expand = None
        _notification_head(buf, bname, node, p, opts.invert_deviation, True)
        salvage: list[axdr.Tape] = []
        with contextlib.suppress(MeterError):
            axdr.parse_tape(buf, q, n, salvage)
        try:
            axdr.parse_data(buf, q, n, bname, "body", node)
        finally:
            body = next((c for c in node._children or () if c.key == "body"), None)
            if salvage and salvage[0] and body is not None:
                partial = interpret_tape(salvage[0], bname, body, opts.invert_deviation, profile=opts.profile)
                # an OBIS code whose value was cut off is not a reading
                kept = [r for r in partial.readings if not (r.value == r.id and r.quantity is None)]
                partial.readings = kept
                res.readings.extend(kept)
                res.list_id = partial.list_id
                res.meter_id = partial.meter_id
                if partial.readings:
                    res.warnings.append(
                        f"the body is cut short: {len(partial.readings)} reading(s) decoded "
                        "from the part that arrived intact"
                    )
        raise
    first = tape[0]
    kind = first[axdr.TAG]
    label = (
        f"{axdr.TYPE_NAMES.get(kind, 'data')} ({first[axdr.COUNT]})"
        if kind in (1, 2)
        else axdr.TYPE_NAMES.get(kind, "data")
    )
    body = Node("body", "notification-body " + label, bname, q, stop, first[axdr.VALUE], "", node)
    body.kind = kind
    body.src = buf
    body.expand = _expand_body
    node.end = q = stop
    body.context = context
    _take_body(res, interpret_tape(tape, bname, body, opts.invert_deviation, profile=opts.profile, buf=buf))
    return q


def _take_body(res: ApduResult, result: BodyResult) -> None:
    res.readings.extend(result.readings)
    res.warnings.extend(result.warnings)
    res.list_id = result.list_id
    res.meter_id = result.meter_id
    if res.clock is None:
        res.clock = result.clock


class _CipherHead:
    """The fields of a general-glo-ciphering header, as read from the bytes."""

    __slots__ = ("ct_end", "ct_start", "ic", "sc", "stop", "title")
    ct_end: int
    ct_start: int
    ic: int
    sc: int
    stop: int
    title: bytes


def _cipher_head(
    buf: bytes, bname: str, node: Node, p: int, res: ApduResult | None, build: bool, fault: ErrorKind | None = None
) -> _CipherHead:
    """Parse the general-glo-ciphering header; with ``build`` also make its leaves (``fault``: decryption
    failed, the ciphertext and tag are at fault)."""
    n = len(buf)
    tag = buf[p]
    h = _CipherHead()
    if build:
        Node("tag", "APDU tag", bname, p, p + 1, f"{tag:02X}", APDU_NAMES[tag], node)
    st_len, q = axdr.read_length(buf, p + 1, n)
    if build:
        Node("system_title_length", "system title length", bname, p + 1, q, st_len, "", node)
    if q + st_len > n:
        raise TruncatedError(q, st_len, n - q)
    title = h.title = bytes(buf[q : q + st_len])
    if build:
        maker = title[:3].decode("ascii", "replace") if title[:3].isalpha() else ""
        Node(
            "system_title",
            "system title",
            bname,
            q,
            q + st_len,
            title.hex().upper(),
            f"manufacturer {maker}" if maker else "",
            node,
        )
    if res is not None:
        res.system_title = title
        res.encrypted = True
    if st_len != 8:
        raise DecodeError(f"system title is {st_len} bytes; AES-GCM needs 8", offset=p + 1)
    q += st_len
    clen, r = axdr.read_length(buf, q, n)
    if build:
        Node("content_length", "ciphered content length", bname, q, r, clen, "SC + IC + ciphertext + tag", node)
    if clen < 5:
        raise DecodeError(f"ciphered content of {clen} bytes is too short for SC and IC", offset=q)
    if r + clen > n:
        raise TruncatedError(r, clen, n - r)
    sc = h.sc = buf[r]
    ic = h.ic = int.from_bytes(buf[r + 1 : r + 5], "big")
    if build:
        Node(
            "security_control",
            "security control",
            bname,
            r,
            r + 1,
            f"{sc:02X}",
            crypto.describe_security_control(sc),
            node,
        )
        Node("invocation_counter", "invocation counter", bname, r + 1, r + 5, ic, "", node)
    if res is not None:
        res.invocation_counter = ic
    stop = h.stop = r + clen
    ct_start = h.ct_start = r + 5
    has_tag = bool(sc & crypto.SC_AUTH)
    ct_end = h.ct_end = stop - crypto.TAG_LEN if has_tag else stop
    if ct_end < ct_start:
        raise DecodeError("ciphered content is shorter than its authentication tag", offset=r)
    if build:
        if ct_end > ct_start:
            Node(
                "ciphertext",
                "ciphertext" if sc & crypto.SC_ENCRYPT else "plaintext (authenticated)",
                bname,
                ct_start,
                ct_end,
                None,
                f"{ct_end - ct_start} bytes, see the 'apdu' buffer",
                node,
                fault,
            )
        if has_tag:
            Node(
                "auth_tag",
                "authentication tag",
                bname,
                ct_end,
                stop,
                buf[ct_end:stop].hex().upper(),
                "GCM tag (12 bytes)",
                node,
                fault,
            )
    return h


def _expand_ciphering(node: Node, fault: ErrorKind | None = None) -> None:
    assert node.src is not None
    _cipher_head(node.src, node.buffer, node, node.start, None, True, fault)


def _ciphering(buf: bytes, bname: str, parent: Node, res: ApduResult, opts: DecodeOptions, p: int) -> int:
    """Green Book 9.2.7: general-glo-ciphering ::= system-title OCTET STRING, ciphered-content OCTET STRING."""
    node = Node("ciphering", APDU_NAMES[buf[p]], bname, p, len(buf), None, "", parent)
    try:
        h = _cipher_head(buf, bname, node, p, res, False)
    except MeterError:
        with contextlib.suppress(MeterError):
            _cipher_head(buf, bname, node, p, None, True)
        raise
    node.src = buf
    node.expand = _expand_ciphering
    title, sc, ic, stop = h.title, h.sc, h.ic, h.stop
    has_tag = bool(sc & crypto.SC_AUTH)
    ciphertext = bytes(buf[h.ct_start : h.ct_end])
    tag_bytes = bytes(buf[h.ct_end : stop]) if has_tag else None
    node.end = stop
    res.authenticated = False
    try:
        plaintext, authenticated = crypto.decrypt(title, ic, sc, ciphertext, tag_bytes, opts.key, opts.auth_key)
    except DecryptionError as exc:
        fault = exc.kind
        node.expand = lambda n: _expand_ciphering(n, fault)  # the ciphertext (and tag) are at fault
        raise
    res.authenticated = authenticated
    if has_tag and not authenticated:
        res.warnings.append("not authenticated: give the authentication key to verify the tag")
    root = parent
    while root.parent is not None:
        root = root.parent
    res.buffers["apdu"] = plaintext
    apdu = Node("apdu", "decrypted APDU", "apdu", 0, len(plaintext), None, "plaintext", root)
    if not plaintext:
        return stop
    inner = ApduResult()
    decode_apdu_buffer(plaintext, "apdu", apdu, inner, opts)
    if inner.error is not None and not authenticated and sc & crypto.SC_ENCRYPT:
        # Without a tag a wrong key is only visible as plaintext that does not parse.
        apdu.label = "output of decryption with the given key (not a valid APDU)"
        apdu.note = "not plaintext: the key is probably wrong"
        apdu.fault = ErrorKind.DECRYPT_GARBAGE
        res.error = DecryptGarbageError(
            f"decryption produced garbage: the encryption key is probably wrong ({inner.error.message})",
            offset=inner.error.offset,
        )
        return stop  # nothing read from garbage is a reading
    if inner.error is not None:
        res.error = inner.error
    res.readings.extend(inner.readings)
    res.clock = inner.clock
    res.list_id = inner.list_id
    res.meter_id = inner.meter_id
    res.warnings.extend(inner.warnings)
    return stop


def gbt_header(buf: bytes, p: int) -> tuple[bool, int, int, int, int]:
    """General-block-transfer header at ``p``: (last, block number, ack, data start, data length).

    Layout per protocols.md §1.8: E0 | control | block-number (2) | block-number-ack (2) | length | data;
    control bit 7 = last block. The length is read as a BER length (one byte in every capture seen).
    """
    n = len(buf)
    if p + 7 > n:
        raise TruncatedError(p, 7, n - p)
    control = buf[p + 1]
    block = int.from_bytes(buf[p + 2 : p + 4], "big")
    ack = int.from_bytes(buf[p + 4 : p + 6], "big")
    length, q = axdr.read_length(buf, p + 6, n)
    if q + length > n:
        raise TruncatedError(q, length, n - q)
    return bool(control & 0x80), block, ack, q, length
