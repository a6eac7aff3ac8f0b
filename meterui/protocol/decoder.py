"""The stream decoder: bytes in, :class:`Message` out (sans-IO; never raises from ``feed``).

source bytes → :class:`LinkFramer` (HDLC / M-Bus hunting) → reassembly (HDLC segmentation, DLMS
general-block-transfer, M-Bus CI segments) → LLC/APDU decoding, decryption, readings → messages.
SKSTACK transcripts (Japanese B-route) go through :class:`~meterui.protocol.skstack.SkstackDecoder`.
"""

from __future__ import annotations

import re

from meterui.protocol import hdlc, mbus
from meterui.protocol.dlms import (
    GENERAL_BLOCK_TRANSFER,
    ApduResult,
    DecodeOptions,
    decode_apdu_buffer,
    decode_llc_and_apdu,
    fill_rest,
    gbt_header,
)
from meterui.protocol.errors import DecodeError, FramingError, LineError, MeterError
from meterui.protocol.framing import Garbage, LinkFrame, LinkFramer
from meterui.protocol.links import LINKS, frame_node, stream_format
from meterui.protocol.lists import MeterProfile
from meterui.protocol.message import Message
from meterui.protocol.records import FrozenRecord, Record
from meterui.protocol.spans import Node

TYPE_CHECKING = False
if TYPE_CHECKING:
    from meterui.protocol.skstack import SkEvent, SkstackDecoder

SEGMENT_GAP_S = 2.0
"""Drop a half-assembled segmented message when the next segment is later than this."""
MAX_SEGMENTS = 64
_SKSTACK_LINE = re.compile(
    rb"(?m)^[ \t]*(?:ERXUDP |EVENT |EPANDESC|EVER |OK\r?$|FAIL ER|SKSENDTO|SKSCAN|SKJOIN|SKVER|SKINFO|"
    rb"SKSETRBID|SKSETPWD|SKLL64|SKSREG)"
)

_APDU_TAGS = frozenset({0x0F, 0xDB, 0xDC, 0xDD, 0xE0})
UNKNOWN_PROTOCOL = "unknown"
"""The protocol of bytes that belong to no frame or line of any protocol (line noise, wrong settings)."""
BAUD_HINT = (
    "check the baud rate and parity (Kamstrup 2400 8N1; Aidon, Kaifa and Austrian M-Bus "
    "2400 8E1; B-route modules 115200 8N1)"
)


class DecoderStats(Record):
    """The decoder's link-level counts. Messages are counted by the pipeline
    (:class:`meterui.sinks.counters.Counters`), not here."""

    __slots__ = (  # noqa: RUF023 (field order: the constructor's, as repr shows it)
        "bytes_in",
        "messages",
        "checksum_ok",
        "checksum_bad",
        "skipped_bytes",
    )

    bytes_in: int
    messages: int
    """Messages produced (numbered) so far."""
    checksum_ok: int
    """Link frames whose checksum passed."""
    checksum_bad: int
    """Link frames whose checksum failed."""
    skipped_bytes: int

    def __init__(
        self, bytes_in: int = 0, messages: int = 0, checksum_ok: int = 0, checksum_bad: int = 0, skipped_bytes: int = 0
    ) -> None:
        self.bytes_in = bytes_in
        self.messages = messages
        self.checksum_ok = checksum_ok
        self.checksum_bad = checksum_bad
        self.skipped_bytes = skipped_bytes


class DecodeContext(FrozenRecord):
    """What a message's decoding depended on besides its own bytes (kept with it in the frame store).

    ``echonet`` is the sender's ECHONET scaling state after the message, ``(coefficient D3, unit E1)``.
    """

    __slots__ = (  # noqa: RUF023 (field order: the constructor's, as repr shows it)
        "invert_deviation",
        "echonet",
    )

    invert_deviation: bool
    echonet: tuple[int | None, int | None] | None

    def __init__(self, invert_deviation: bool = False, echonet: tuple[int | None, int | None] | None = None) -> None:
        object.__setattr__(self, "invert_deviation", invert_deviation)
        object.__setattr__(self, "echonet", echonet)


_ONE_FRAME = ["frame"]
"""The buffer names of a one-frame message (shared: only read)."""


def looks_like_skstack(head: bytes) -> bool:
    """Does the start of a stream look like SKSTACK module output: a line beginning with a module
    response or command (``ERXUDP``, ``EVENT``, ``OK``, ``FAIL ER``, ``SK…``)?"""
    return _SKSTACK_LINE.search(head) is not None


class StreamDecoder:
    """Decode a byte stream from a meter port or a capture file into messages."""

    def __init__(
        self,
        key: bytes | None = None,
        auth_key: bytes | None = None,
        fmt: str = "auto",
        invert_deviation: bool = False,
        profile: MeterProfile | None = None,
        hold_unscaled: bool = False,
    ) -> None:
        if fmt not in ("auto", "raw", "skstack"):
            raise ValueError(f"unknown stream format {fmt!r}")
        self.options = DecodeOptions(key, auth_key, invert_deviation, profile)
        self.hold_unscaled = hold_unscaled
        """Files: B-route energies that arrive before D3/E1 are held and scaled (SkstackDecoder)."""
        self._context = DecodeContext(invert_deviation)
        self.fmt = fmt
        self.stats = DecoderStats()
        self._framer = LinkFramer()
        self._sk: SkstackDecoder | None = None
        self._head = b""
        self._index = 0
        self._segments: list[tuple[LinkFrame, hdlc.HdlcHeader]] = []
        self._gbt: list[tuple[list[tuple[LinkFrame, hdlc.HdlcHeader]], int, bool]] = []
        self._mbus: list[tuple[LinkFrame, mbus.MbusHeader]] = []
        self._last_protocol = "hdlc"
        self._seen_frame = False
        self._meter_by_address: dict[tuple[str, int], str] = {}

    # -- public API --------------------------------------------------------------------------------
    def feed(self, data: bytes, received: float | None = None) -> list[Message]:
        self.stats.bytes_in += len(data)
        if self.fmt == "auto":
            self._head += data
            # decide on content, not on leading blank lines: a complete line or 32 bytes of it
            content = self._head.lstrip(b"\r\n \t")
            if len(content) < 32 and b"\n" not in content:
                return []
            data, self._head = self._head, b""
            self.fmt = stream_format(data)
        return self._number(self._process(data, received))

    def _process(self, data: bytes, received: float | None) -> list[Message]:
        out: list[Message] = []
        try:
            if self.fmt == "skstack":
                out = self._skstack().feed(data, received)
            else:
                for item in self._framer.feed(data, received):
                    self._item(item, out)
        except MeterError as exc:  # pragma: no cover - defensive: decoders report, not raise
            out.append(self._error_message(exc, data, received))
        except Exception as exc:
            out.append(self._error_message(DecodeError(f"internal decoder error: {exc!r}"), data, received))
        self.stats.skipped_bytes = self._framer.skipped
        return out

    def flush(self) -> list[Message]:
        """End of input: report incomplete frames and segment sets, and trailing garbage."""
        out: list[Message] = []
        if self.fmt == "auto":
            data, self._head = self._head, b""
            self.fmt = stream_format(data)
            if data:
                out.extend(self._process(data, None))
        try:
            if self.fmt == "skstack":
                out.extend(self._skstack().flush())
            else:
                for item in self._framer.flush():
                    self._item(item, out)
                self._abandon_segments(out, "the input ended before the last segment arrived")
        except Exception as exc:
            out.append(self._error_message(DecodeError(f"internal decoder error: {exc!r}"), b"", None))
        self.stats.skipped_bytes = self._framer.skipped
        return self._number(out)

    def flush_garbage(self) -> list[Message]:
        """Report unrecognised bytes now (for a live port that has gone quiet)."""
        out: list[Message] = []
        if self.fmt != "skstack":
            for item in self._framer.flush_garbage():
                self._item(item, out)
        self.stats.skipped_bytes = self._framer.skipped
        return self._number(out)

    @property
    def events(self) -> list[object]:
        """SKSTACK events (EVENT lines, OK/FAIL) seen so far; empty for DLMS streams."""
        return list(self._sk.events) if self._sk is not None else []

    @property
    def last_module_event(self) -> SkEvent | None:
        """The newest EVENT or FAIL line from a B-route module (not OK/echo lines), if any."""
        if self._sk is None:
            return None
        for event in reversed(self._sk.events):
            if event.num >= 0 or event.text.startswith("FAIL"):
                return event
        return None

    # -- internals ---------------------------------------------------------------------------------
    def _skstack(self) -> SkstackDecoder:
        if self._sk is None:
            from meterui.protocol.skstack import SkstackDecoder

            self._sk = SkstackDecoder(hold_unscaled=self.hold_unscaled)
        return self._sk

    def _number(self, out: list[Message]) -> list[Message]:
        plain = self._context
        for msg in out:
            msg.index = self._index
            self._index += 1
            self.stats.messages += 1
            msg.context = plain
            if msg.protocol == "echonet" and self._sk is not None and msg.meter is not None:
                state = self._sk.states.get(msg.meter.upper())
                if state is not None:
                    msg.context = DecodeContext(plain.invert_deviation, (state.coefficient, state.unit_code))
        return out

    def restore(self, context: DecodeContext | None, meter: str | None = None) -> None:
        """Decode as a message with ``context`` was decoded (its options and, for ``meter``, its ECHONET
        scaling state): for decoding a stored message again."""
        if context is None:
            return
        self.options.invert_deviation = context.invert_deviation
        self._context = DecodeContext(context.invert_deviation)
        if context.echonet is not None and meter is not None:
            from meterui.protocol.echonet import EchonetState

            self._skstack().states[meter.upper()] = EchonetState(*context.echonet)

    def _error_message(self, exc: MeterError, data: bytes, received: float | None) -> Message:
        root = Node("", "unrecognised data", "data", 0, len(data))
        if data:
            Node("data", "bytes", "data", 0, len(data), None, exc.message, root)
        return Message(0, UNKNOWN_PROTOCOL, [], root, {"data": bytes(data)}, error=exc, received=received)

    def _item(self, item: LinkFrame | Garbage, out: list[Message]) -> None:
        if isinstance(item, Garbage):
            self._garbage(item, out)
            return
        self._last_protocol = item.protocol
        link = LINKS[item.protocol]
        if not item.valid:
            self.stats.checksum_bad += 1
            if link.abandon is not None:
                link.abandon(self, out, "a frame of the set was corrupted")
            out.append(self._bad_frame(item))
            return
        self.stats.checksum_ok += 1
        self._seen_frame = True
        assert link.assemble is not None, f"{link.name} frames need an assembler"
        link.assemble(self, item, out)

    def _garbage(self, g: Garbage, out: list[Message]) -> None:
        n = len(g.data)
        if self._seen_frame:
            text = f"{n} byte(s) between frames that belong to no frame (line noise?)"
        else:
            text = f"{n} byte(s) with no recognisable frame: {BAUD_HINT}"
        root = Node("", "unrecognised bytes", "data", 0, n)
        Node("data", "unrecognised bytes", "data", 0, n, None, text, root, LineError.kind)
        out.append(
            Message(
                0,
                UNKNOWN_PROTOCOL,
                [(g.start, g.end)],
                root,
                {"data": g.data},
                error=LineError(text, offset=g.start),
                received=g.received,
            )
        )

    def _bad_frame(self, f: LinkFrame) -> Message:
        root = Node("", f"{f.protocol.upper()} frame (invalid)", "frame", 0, len(f.raw))
        frame_node(f, "frame", root)
        reason = f.reason
        if "corrupted" in reason or "cut short" in reason:
            reason += f"; if this repeats, {BAUD_HINT}"
        return Message(
            0,
            f.protocol,
            [(f.start, f.end)],
            root,
            {"frame": f.raw},
            error=FramingError(reason, offset=f.start),
            received=f.received,
        )

    # HDLC ------------------------------------------------------------------------------------------
    def _hdlc(self, f: LinkFrame, out: list[Message]) -> None:
        hdr = hdlc.parse_header(f.raw)
        if hdr is None:  # pragma: no cover - the framer validated it
            out.append(self._bad_frame(f))
            return
        if self._segments:
            prev_frame, prev = self._segments[-1]
            late = (
                f.received is not None
                and prev_frame.received is not None
                and f.received - prev_frame.received > SEGMENT_GAP_S
            )
            info = f.raw[hdr.info_start : hdr.info_start + 4]
            # The LLC header opens only the first segment (protocols.md §1.7): a frame that starts with
            # LLC and an APDU tag begins a new message, so the set before it lost its last segment.
            restart = info[:2] in (b"\xe6\xe7", b"\xe6\xe6") and len(info) == 4 and info[3] in _APDU_TAGS
            if late or restart or (prev.destination, prev.source) != (hdr.destination, hdr.source):
                self._abandon_segments(
                    out, "its last segment never arrived" if restart else "the next segment did not follow"
                )
        self._segments.append((f, hdr))
        if hdr.segmented and len(self._segments) < MAX_SEGMENTS:
            return
        group, self._segments = self._segments, []
        payload = b"".join(fr.raw[h.info_start : h.info_end] for fr, h in group)
        p = 3 if payload[:2] in (b"\xe6\xe7", b"\xe6\xe6") else 0
        if len(payload) > p and payload[p] == GENERAL_BLOCK_TRANSFER:
            self._gbt_block(group, payload, p, out)
            return
        if self._gbt:
            self._abandon_gbt(out, "a frame without a block arrived before the last block")
        out.append(self._hdlc_message(group, payload))

    def _frames_root(self, frames: list[LinkFrame], protocol: str) -> tuple[Node, dict[str, bytes], list[str]]:
        if len(frames) == 1:  # most messages: one frame
            raw = frames[0].raw
            return Node("", f"{LINKS[protocol].title} message", "frame", 0, len(raw)), {"frame": raw}, _ONE_FRAME
        root = Node("", f"{LINKS[protocol].title} message", "frame1", 0, len(frames[0].raw))
        names = [f"frame{i + 1}" for i in range(len(frames))]
        buffers = {name: fr.raw for name, fr in zip(names, frames, strict=True)}
        return root, buffers, names

    def _hdlc_message(self, group: list[tuple[LinkFrame, hdlc.HdlcHeader]], payload: bytes) -> Message:
        frames = [fr for fr, _ in group]
        root, buffers, names = self._frames_root(frames, "hdlc")
        for fr, name in zip(frames, names, strict=True):
            frame_node(fr, name, root)
        res = ApduResult()
        if payload:
            buffers["payload"] = payload
            decode_llc_and_apdu(payload, "payload", root, res, self.options)
        else:
            res.error = DecodeError("HDLC frame without an information field")
        hdr = group[-1][1]
        return self._message("hdlc", frames, root, buffers, res, ("hdlc", hdr.source))

    def _gbt_block(
        self, group: list[tuple[LinkFrame, hdlc.HdlcHeader]], payload: bytes, p: int, out: list[Message]
    ) -> None:
        try:
            last, block, _ack, _start, _length = gbt_header(payload, p)
        except MeterError:
            self._abandon_gbt(out, "a malformed block arrived")
            out.append(self._hdlc_message(group, payload))
            return
        expected = len(self._gbt) + 1
        if block != expected:
            if self._gbt:
                self._abandon_gbt(out, f"block {expected} is missing (got block {block})")
            if block != 1:
                out.append(
                    self._gbt_message(
                        [(group, block, last)],
                        error=DecodeError(f"general-block-transfer block {block} without the blocks before it"),
                    )
                )
                return
        self._gbt.append((group, block, last))
        if last or len(self._gbt) >= MAX_SEGMENTS:
            blocks, self._gbt = self._gbt, []
            out.append(self._gbt_message(blocks))

    def _gbt_message(
        self, blocks: list[tuple[list[tuple[LinkFrame, hdlc.HdlcHeader]], int, bool]], error: MeterError | None = None
    ) -> Message:
        frames = [fr for group, _, _ in blocks for fr, _ in group]
        root, buffers, names = self._frames_root(frames, "hdlc")
        for fr, name in zip(frames, names, strict=True):
            frame_node(fr, name, root)
        payload_parts: list[bytes] = []
        joined: list[bytes] = []
        res = ApduResult()
        pnode = Node("payload", "information fields", "payload", 0, 0, None, "", root)
        base = 0
        for group, block, last in blocks:
            info = b"".join(fr.raw[h.info_start : h.info_end] for fr, h in group)
            payload_parts.append(info)
            p = 0
            bnode = Node(
                f"block[{block}]",
                f"GBT block {block}{' (last)' if last else ''}",
                "payload",
                base,
                base + len(info),
                None,
                "",
                pnode,
            )
            if info[:2] in (b"\xe6\xe7", b"\xe6\xe6"):
                Node("llc", "LLC header", "payload", base, base + 3, info[:3].hex().upper(), "", bnode)
                p = 3
            _, _, _, start, length = gbt_header(info, p)
            Node("tag", "APDU tag", "payload", base + p, base + p + 1, 0xE0, "general-block-transfer", bnode)
            Node(
                "control",
                "block control",
                "payload",
                base + p + 1,
                base + p + 2,
                f"{info[p + 1]:02X}",
                "last block" if last else "more blocks follow",
                bnode,
            )
            Node("block_number", "block number", "payload", base + p + 2, base + p + 4, block, "", bnode)
            Node(
                "block_ack",
                "block number acknowledged",
                "payload",
                base + p + 4,
                base + p + 6,
                int.from_bytes(info[p + 4 : p + 6], "big"),
                "",
                bnode,
            )
            Node("length", "block data length", "payload", base + p + 6, base + start, length, "", bnode)
            if length:
                Node(
                    "data",
                    "block data",
                    "payload",
                    base + start,
                    base + start + length,
                    None,
                    "see the blocks buffer",
                    bnode,
                )
            if start + length < len(info):
                Node("trailing", "trailing bytes", "payload", base + start + length, base + len(info), None, "", bnode)
            joined.append(info[start : start + length])
            base += len(info)
        pnode.end = base
        buffers["payload"] = b"".join(payload_parts)
        data = b"".join(joined)
        if error is not None:
            res.error = error
        elif data:
            buffers["blocks"] = data
            bl = Node("blocks", "joined block data", "blocks", 0, len(data), None, "", root)
            decode_apdu_buffer(data, "blocks", bl, res, self.options)
        src = blocks[-1][0][-1][1].source
        return self._message("hdlc", frames, root, buffers, res, ("hdlc", src))

    def _abandon_gbt(self, out: list[Message], why: str) -> None:
        if self._gbt:
            blocks, self._gbt = self._gbt, []
            out.append(
                self._gbt_message(
                    blocks, error=FramingError(f"incomplete general-block-transfer ({len(blocks)} block(s)): {why}")
                )
            )

    def _abandon_segments(self, out: list[Message], why: str) -> None:
        if self._segments:
            group, self._segments = self._segments, []
            frames = [fr for fr, _ in group]
            root, buffers, names = self._frames_root(frames, "hdlc")
            for fr, name in zip(frames, names, strict=True):
                frame_node(fr, name, root)
            payload = b"".join(fr.raw[h.info_start : h.info_end] for fr, h in group)
            if payload:
                buffers["payload"] = payload
                Node(
                    "payload",
                    "information fields (incomplete)",
                    "payload",
                    0,
                    len(payload),
                    None,
                    "not decoded: segments missing",
                    root,
                    FramingError.kind,
                )
            res = ApduResult()
            res.error = FramingError(f"incomplete segmented message ({len(group)} segment(s)): {why}")
            out.append(self._message("hdlc", frames, root, buffers, res, ("hdlc", group[-1][1].source)))
        self._abandon_gbt(out, why)
        if self._mbus:
            self._abandon_mbus(out, why)

    # M-Bus -----------------------------------------------------------------------------------------
    def _mbus_frame(self, f: LinkFrame, out: list[Message]) -> None:
        hdr = mbus.parse_header(f.raw)
        if hdr is None:
            out.append(self._bad_frame(f))
            return
        if not hdr.dlms:
            self._abandon_mbus(out, "a non-DLMS frame arrived")
            out.append(
                self._mbus_message(
                    [(f, hdr)],
                    DecodeError(f"M-Bus {mbus.ci_text(hdr.ci)}: only DLMS (CI 0x00-0x1F) frames are decoded"),
                )
            )
            return
        if self._mbus:
            prev_frame, prev = self._mbus[-1]
            late = (
                f.received is not None
                and prev_frame.received is not None
                and f.received - prev_frame.received > SEGMENT_GAP_S
            )
            if hdr.sequence != prev.sequence + 1 or late:
                self._abandon_mbus(out, f"segment {prev.sequence + 1} is missing (got segment {hdr.sequence})")
        if not self._mbus and hdr.sequence != 0:
            out.append(
                self._mbus_message(
                    [(f, hdr)],
                    FramingError(f"M-Bus segment {hdr.sequence} without the segments before it (lost on the line?)"),
                )
            )
            return
        self._mbus.append((f, hdr))
        if hdr.last or len(self._mbus) >= MAX_SEGMENTS:
            group, self._mbus = self._mbus, []
            out.append(self._mbus_message(group))

    def _abandon_mbus(self, out: list[Message], why: str) -> None:
        if self._mbus:
            group, self._mbus = self._mbus, []
            out.append(
                self._mbus_message(group, FramingError(f"incomplete M-Bus message ({len(group)} segment(s)): {why}"))
            )

    def _mbus_message(self, group: list[tuple[LinkFrame, mbus.MbusHeader]], error: MeterError | None = None) -> Message:
        frames = [fr for fr, _ in group]
        root, buffers, names = self._frames_root(frames, "mbus")
        for fr, name in zip(frames, names, strict=True):
            frame_node(fr, name, root)
        payload = b"".join(fr.raw[h.data_start : h.data_end] for fr, h in group)
        res = ApduResult()
        if payload:
            buffers["payload"] = payload
        if error is not None:
            res.error = error
            if payload:
                pn = Node("payload", "data", "payload", 0, len(payload), None, "", root)
                fill_rest(pn, "payload", 0, len(payload), "data (not decoded)", error.kind)
        elif payload:
            decode_llc_and_apdu(payload, "payload", root, res, self.options)
        else:
            res.error = DecodeError("M-Bus frame without data")
        return self._message("mbus", frames, root, buffers, res, ("mbus", group[-1][1].address))

    # Message ---------------------------------------------------------------------------------------
    def _message(
        self,
        protocol: str,
        frames: list[LinkFrame],
        root: Node,
        buffers: dict[str, bytes],
        res: ApduResult,
        address: tuple[str, int],
    ) -> Message:
        buffers.update(res.buffers)
        if res.system_title is not None:
            meter = res.system_title.hex().upper()
        elif res.meter_id is not None:
            meter = res.meter_id
            self._meter_by_address[address] = meter
        else:
            meter = self._meter_by_address.get(address, f"{protocol} address {address[1]}")
        return Message(
            0,
            protocol,
            [(fr.start, fr.end) for fr in frames],
            root,
            buffers,
            error=res.error,
            encrypted=res.encrypted,
            authenticated=res.authenticated,
            system_title=res.system_title,
            invocation_counter=res.invocation_counter,
            clock=res.clock,
            readings=res.readings,
            meter=meter,
            list_id=res.list_id,
            received=frames[-1].received,
            warnings=res.warnings,
        )


def decode_bytes(
    data: bytes, key: bytes | None = None, auth_key: bytes | None = None, fmt: str = "auto"
) -> list[Message]:
    """Decode a complete capture in one call."""
    dec = StreamDecoder(key, auth_key, fmt)
    return dec.feed(data) + dec.flush()
