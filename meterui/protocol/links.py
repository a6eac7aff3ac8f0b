"""The link-protocol registry: one entry per way meter data is framed on the line.

An entry knows how to hunt and check its frames (binary protocols: the byte that opens a frame and a
checker for :class:`~meterui.protocol.framing.LinkFramer`), how to build a frame's span node (its
``expand`` builds the annotated children on first access), how its frames are reassembled into messages
(``assemble``, called with the :class:`~meterui.protocol.decoder.StreamDecoder`), how its buffers are
named and titled, and how to recognise and describe it (auto-detection, the inspector, the CLI's
``--format`` choices, the wizard's sniffing). The framer, the decoder, the frame store, the hex view,
the CLI and the commissioning test all read :data:`LINKS`.

Adding a link protocol (DSMR P1 is next) = its own module (checker, node expander, assembler) + one
line in :data:`LINKS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from meterui.protocol import framing, hdlc, mbus
from meterui.protocol.crc import X25_GOOD, crc_x25
from meterui.protocol.records import FrozenRecord
from meterui.protocol.spans import Node

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from meterui.protocol.framing import LinkFrame
    from meterui.protocol.message import Message

    Assembler = Callable[[Any, LinkFrame, list[Message]], None]
    """``(decoder, valid frame, out)``: add the frame to its set; append finished messages to ``out``."""

Checker = Callable[[bytearray, int, int], tuple[int, str]]
"""``(buffer, start, end) -> (frame length | NEED | NO, reason the frame is bad or "")``."""


class LinkProtocol(FrozenRecord):
    """One link protocol (see the module docstring)."""

    __slots__ = (  # noqa: RUF023 (field order: the constructor's, as repr shows it)
        "name",
        "title",
        "describe",
        "message_protocol",
        "stream_format",
        "start_byte",
        "check",
        "plausible",
        "overlap",
        "frame_label",
        "expand",
        "assemble",
        "abandon",
        "buffer",
        "sniff",
        "input_format",
    )

    name: str
    """Its name in ``LinkFrame.protocol``, e.g. ``hdlc``."""
    title: str
    """For people: ``HDLC``, ``M-Bus``."""
    describe: str
    """One line for auto-detection results and the inspector."""
    message_protocol: str
    """``Message.protocol`` of what it carries (``echonet`` for SKSTACK lines)."""
    stream_format: str
    """The ``StreamDecoder`` format its stream needs: ``raw`` (framed binary) or ``skstack`` (text lines)."""
    start_byte: int | None
    """The byte that opens a frame (binary protocols: the framer hunts for it)."""
    check: Checker | None
    plausible: Callable[[bytearray, int, int], bool] | None
    """At the end of input: is the header at ``start`` worth reporting as a truncated frame?"""
    overlap: int
    """Bytes at the end of a frame that may open the next one (HDLC's closing flag: 1)."""
    frame_label: str
    expand: Callable[[Node], None] | None
    """Builds a frame node's children (every byte annotated) on first access."""
    assemble: Assembler | None
    abandon: Callable[[Any, list[Message], str], None] | None
    """``(decoder, out, reason)``: a bad frame arrived; report the set it interrupted as incomplete."""
    buffer: str
    """The name of its raw buffers (``frame``, ``frame1``…, or ``line``)."""
    sniff: Callable[[bytes], bool] | None
    """Recognises the start of a text stream of this protocol (auto-detection)."""
    input_format: str | None
    """Its name among the CLI's ``--format`` choices, for text transcripts that need their own reader."""

    def __init__(
        self,
        name: str,
        title: str,
        describe: str,
        message_protocol: str,
        stream_format: str = "raw",
        start_byte: int | None = None,
        check: Checker | None = None,
        plausible: Callable[[bytearray, int, int], bool] | None = None,
        overlap: int = 0,
        frame_label: str = "",
        expand: Callable[[Node], None] | None = None,
        assemble: Assembler | None = None,
        abandon: Callable[[Any, list[Message], str], None] | None = None,
        buffer: str = "frame",
        sniff: Callable[[bytes], bool] | None = None,
        input_format: str | None = None,
    ) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "title", title)
        object.__setattr__(self, "describe", describe)
        object.__setattr__(self, "message_protocol", message_protocol)
        object.__setattr__(self, "stream_format", stream_format)
        object.__setattr__(self, "start_byte", start_byte)
        object.__setattr__(self, "check", check)
        object.__setattr__(self, "plausible", plausible)
        object.__setattr__(self, "overlap", overlap)
        object.__setattr__(self, "frame_label", frame_label)
        object.__setattr__(self, "expand", expand)
        object.__setattr__(self, "assemble", assemble)
        object.__setattr__(self, "abandon", abandon)
        object.__setattr__(self, "buffer", buffer)
        object.__setattr__(self, "sniff", sniff)
        object.__setattr__(self, "input_format", input_format)


def _plausible_hdlc(buf: bytearray, c: int, n: int) -> bool:
    if c + 3 > n or buf[c + 1] >> 4 != 0xA:
        return False
    hlen = framing.hdlc_header_length(buf, c, n)
    return hlen > 0 and c + hlen + 2 <= n and crc_x25(buf[c + 1 : c + hlen + 2]) == X25_GOOD


def _plausible_mbus(buf: bytearray, c: int, n: int) -> bool:
    return c + 4 <= n and buf[c + 1] == buf[c + 2] and buf[c + 3] == framing.MBUS_START


def _looks_like_skstack(head: bytes) -> bool:
    from meterui.protocol.decoder import looks_like_skstack

    return looks_like_skstack(head)


HDLC = LinkProtocol(
    "hdlc",
    "HDLC",
    "HDLC frames (7E … 7E, HCS/FCS), DLMS/COSEM: the Nordic HAN port, some Austrian meters",
    "hdlc",
    start_byte=framing.HDLC_FLAG,
    check=framing.check_hdlc,
    plausible=_plausible_hdlc,
    overlap=1,
    frame_label="HDLC frame",
    expand=hdlc._expand_frame,
    assemble=lambda dec, f, out: dec._hdlc(f, out),
    abandon=lambda dec, out, reason: dec._abandon_segments(out, reason),
)
MBUS = LinkProtocol(
    "mbus",
    "M-Bus",
    "M-Bus long frames (68 L L 68 … 16), DLMS/COSEM: the Austrian customer interface",
    "mbus",
    start_byte=framing.MBUS_START,
    check=framing.check_mbus,
    plausible=_plausible_mbus,
    frame_label="M-Bus long frame",
    expand=mbus._expand_frame,
    assemble=lambda dec, f, out: dec._mbus_frame(f, out),
)
SKSTACK = LinkProtocol(
    "skstack",
    "SKSTACK",
    "SKSTACK module lines (ERXUDP/EVENT), ECHONET Lite: the Japanese B-route",
    "echonet",
    stream_format="skstack",
    buffer="line",
    sniff=_looks_like_skstack,
    input_format="skstack",
)

LINKS: dict[str, LinkProtocol] = {link.name: link for link in (HDLC, MBUS, SKSTACK)}
"""Every link protocol, by name. Add a line here for a new one."""

FRAMED: dict[int, LinkProtocol] = {link.start_byte: link for link in LINKS.values() if link.start_byte is not None}
"""Binary protocols by the byte that opens their frames (what the framer hunts for)."""

DSMR_TEXT = re.compile(rb"/[A-Za-z]{3}\d|\r?\n\d-\d:\d+\.\d+\.\d+\(")
"""A DSMR P1 telegram (recognised, not decoded yet: it becomes an entry when it is)."""

INPUT_FORMATS: tuple[str, ...] = (
    "auto",
    "hex",
    "raw",
    *[link.input_format for link in LINKS.values() if link.input_format],
)
"""The CLI's ``--format`` choices: auto-detection, hex text, raw bytes, and each text protocol's own."""

_RAW_NAMES = "|".join(sorted({re.escape(link.buffer) for link in LINKS.values()}))
_LINK_BUFFER = re.compile(rf"^(?:({_RAW_NAMES})\d*|data)$")
_BY_MESSAGE = {link.message_protocol: link for link in LINKS.values()}


def stream_format(head: bytes) -> str:
    """The decoder format a stream starting with ``head`` needs: a text protocol that recognises it, else
    ``raw`` (binary frames are found wherever they are)."""
    for link in LINKS.values():
        if link.sniff is not None and link.sniff(head):
            return link.stream_format
    return "raw"


def recognise_text(head: bytes) -> str | None:
    """The text protocol at the start of a stream, if any: a registry entry's name or ``dsmr``."""
    for link in LINKS.values():
        if link.sniff is not None and link.sniff(head):
            return link.name
    return "dsmr" if DSMR_TEXT.search(head) else None


def for_message(protocol: str) -> LinkProtocol | None:
    """The link protocol that carries messages of ``Message.protocol``."""
    return _BY_MESSAGE.get(protocol)


def redecode_format(protocol: str) -> str:
    """The decoder format to decode a stored message of ``Message.protocol`` again from its raw bytes."""
    link = for_message(protocol)
    return link.stream_format if link is not None else "raw"


def is_link_buffer(name: str) -> bool:
    """Does buffer ``name`` hold bytes as they came off the wire (the rest are derived from them)?"""
    return _LINK_BUFFER.match(name) is not None


def frame_title(name: str) -> str | None:
    """``frame 2`` for a numbered raw buffer of a link protocol, else ``None``."""
    match = _LINK_BUFFER.match(name)
    if match is None or match.group(1) is None or name == match.group(1):
        return None
    return f"{match.group(1)} {name[len(match.group(1)) :]}"


def frame_node(frame: LinkFrame, bname: str, parent: Node) -> Node:
    """The span node of one link frame; its children are built on first access by the entry's ``expand``."""
    link = LINKS[frame.protocol]
    node = Node(bname, link.frame_label, bname, 0, len(frame.raw), None, "" if frame.valid else frame.reason, parent)
    node.kind = 1 if frame.valid else 0
    node.src = frame.raw
    node.expand = link.expand
    return node
