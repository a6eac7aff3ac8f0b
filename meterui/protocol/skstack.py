"""Sans-IO parser for the SKSTACK-IP line protocol of B-route Wi-SUN modules (protocols.md §6.2–§6.5).

:class:`SkstackDecoder` takes the bytes a BP35A1 / BP35C2 / RL7023 module writes on its UART (or a
transcript of them) and returns one :class:`~meterui.protocol.message.Message` per ``ERXUDP`` line,
with the ECHONET Lite payload decoded by :mod:`meterui.protocol.echonet`. Every other line
(``EVENT``, ``OK``, ``FAIL ERxx``, ``EVER``, command echoes, ``EPANDESC`` blocks, noise) becomes an
:class:`SkEvent` in :attr:`SkstackDecoder.events`; those are never messages.

``ERXUDP`` DATA is either ASCII hex (``WOPT 01``) or raw binary (the default), which may contain CR
and LF bytes: the parser trusts DATALEN and never splits binary DATA on CR LF (SMDN-EVP
``TryExpectERXUDP``, wisun2mqtt's BP35Connector).
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

from meterui.protocol.echonet import EchonetState, decode_edata
from meterui.protocol.errors import DecodeError, LineError, MeterError
from meterui.protocol.message import Message, Reading
from meterui.protocol.spans import Node, leaf
from meterui.protocol.text import printable

CR, LF, SPACE = 0x0D, 0x0A, 0x20
ERXUDP = b"ERXUDP "
ECHONET_PORT = 0x0E1A
"""UDP port 3610 (ECHONET Lite)."""
MAX_TEXT_LINE = 4096
"""A text line longer than this without a line end is recorded as it is (noise, wrong baud rate)."""
MAX_TOKEN = 64
MAX_DATALEN = 1232
"""Largest UDP payload in one ERXUDP: IPv6 minimum MTU 1280 − 40 (IPv6) − 8 (UDP), which is also the
SKSENDTO limit. A larger DATALEN is a corrupted line; refusing it keeps a flipped digit from holding
the stream for up to 128 KiB."""
MAX_EVENTS = 200
_HEX_DIGITS = b"0123456789ABCDEFabcdef"
_TOKEN = re.compile(rb" +([^ \r\n]{1,%d})" % MAX_TOKEN)

EVENT_NAMES: dict[int, str] = {
    0x01: "NS received",
    0x02: "NA received",
    0x05: "echo request received",
    0x1F: "ED scan done",
    0x20: "beacon received",
    0x21: "UDP send done",
    0x22: "active scan done",
    0x24: "PANA connect failed",
    0x25: "PANA connected",
    0x26: "session termination requested",
    0x27: "session terminated",
    0x28: "session termination timed out",
    0x29: "session expired",
    0x32: "ARIB transmit limit activated",
    0x33: "ARIB transmit limit released",
    0xC0: "wake-up",
}
"""SKSTACK-IP event numbers (protocols.md §6.4, [SMDN-EVN])."""
TROUBLE_EVENTS = frozenset({0x24, 0x26, 0x28, 0x29, 0x32})
"""Events that mean the B-route link is down or throttled (a UI shows them as a warning)."""
UDP_SEND_RESULTS: dict[str, str] = {
    "00": "ok",
    "01": "failed (resend)",
    "02": "neighbour solicitation in progress",
}
"""EVENT 21 parameter (protocols.md §6.4, [MOMONGA-RESP] ``SkTxResult``)."""
FAIL_CODES: dict[str, str] = {
    "ER04": "unsupported command",
    "ER05": "wrong argument count",
    "ER06": "bad argument format or range",
    "ER09": "UART input error",
    "ER10": "command accepted but failed",
}
"""``FAIL ERxx`` codes (protocols.md §6.2)."""
_RESPONSE_NAMES: dict[str, str] = {
    "OK": "ok",
    "EVER": "firmware version",
    "EPANDESC": "PAN descriptor",
    "EINFO": "module info",
    "EADDR": "address list",
    "ENEIGHBOR": "neighbour cache",
    "ESREG": "register value",
    "EPORT": "UDP ports",
    "EHANDLE": "UDP handles",
    "ESEC": "security context",
    "EEDSCAN": "ED scan",
    "EPONG": "ping reply",
    "ERXTCP": "TCP data",
    "ETCP": "TCP event",
}


@dataclass(frozen=True, slots=True)
class SkEvent:
    """One non-ERXUDP line from the module: an ``EVENT`` (``num`` ≥ 0) or any other line (``num`` −1).

    ``text`` is the line as received (without CR LF), ``offset`` its stream offset.
    """

    num: int
    name: str
    sender: str | None = None
    side: int | None = None
    param: str | None = None
    text: str = ""
    offset: int | None = None
    received: float | None = None

    @property
    def summary(self) -> str:
        """One line for a status bar, e.g. ``EVENT 25 PANA connected`` or ``FAIL ER04 unsupported command``."""
        if self.num < 0:
            return self.text.strip()
        detail = self.detail
        return f"EVENT {self.num:02X} {self.name}" + (f" ({detail})" if detail else "")

    @property
    def trouble(self) -> bool:
        """Link down, throttled, a failed send or a failed command."""
        if self.num < 0:
            return self.text.startswith("FAIL")
        return self.num in TROUBLE_EVENTS or (self.num == 0x21 and self.param not in (None, "00"))

    @property
    def detail(self) -> str | None:
        """The meaning of the parameter, where known (EVENT 21's send result)."""
        if self.num == 0x21 and self.param is not None:
            return UDP_SEND_RESULTS.get(self.param.upper(), f"unknown result {self.param}")
        return None


_SECRET_ECHOES = frozenset({"SKSETPWD", "SKSETRBID"})
"""Commands whose last argument is the B-route password or ID (masked in event text)."""


def parse_event_line(text: str, offset: int | None = None, received: float | None = None) -> SkEvent:
    """Classify one line that is not ERXUDP (protocols.md §6.2–§6.4). Never raises."""
    tokens = text.split()
    head = tokens[0] if tokens else ""
    if head == "EVENT" and len(tokens) >= 2:
        try:
            num = int(tokens[1], 16)
        except ValueError:
            return SkEvent(-1, "malformed EVENT", text=text, offset=offset, received=received)
        rest = tokens[2:]
        sender = None
        if rest and ":" in rest[0]:
            sender, rest = rest[0], rest[1:]
        side: int | None = None
        param: str | None = None
        if len(rest) >= 2:
            side = int(rest[0]) if rest[0].isdigit() and len(rest[0]) == 1 else None
            param = rest[1] if side is not None else rest[0]
        elif len(rest) == 1:
            # BP35A1: the only extra field is the 2-digit param; DSE modules put a 1-digit SIDE first.
            if len(rest[0]) == 1 and rest[0].isdigit():
                side = int(rest[0])
            else:
                param = rest[0]
        name = EVENT_NAMES.get(num, f"event 0x{num:02X}")
        return SkEvent(num, name, sender, side, param, text, offset, received)
    if head == "FAIL":
        code = tokens[1] if len(tokens) > 1 else ""
        meaning = FAIL_CODES.get(code.upper(), "unknown error" if code else "failed")
        return SkEvent(-1, f"FAIL {code}: {meaning}".replace(" :", ":"), text=text, offset=offset, received=received)
    if head in _RESPONSE_NAMES:
        return SkEvent(-1, _RESPONSE_NAMES[head], text=text, offset=offset, received=received)
    if head.startswith("SK") or head in ("WOPT", "ROPT"):
        if head in _SECRET_ECHOES and len(tokens) > 1:  # the echo of SKSETPWD/SKSETRBID holds a secret
            text = " ".join([*tokens[:-1], "*" * len(tokens[-1])])
        return SkEvent(-1, f"command echo ({head})", text=text, offset=offset, received=received)
    if text.startswith("  ") and ":" in text:
        return SkEvent(-1, "PAN descriptor field", text=text, offset=offset, received=received)
    if head.count(":") == 7 and len(tokens) == 1:
        return SkEvent(-1, "IPv6 address", text=text, offset=offset, received=received)
    return SkEvent(-1, "unrecognised line", text=text, offset=offset, received=received)


class _Wait(Exception):
    """More bytes are needed before the current line can be parsed (internal)."""


class _Bad(Exception):
    """The ERXUDP line is malformed; the line ends at the next line end at or after ``resync``."""

    def __init__(self, reason: str, resync: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.resync = resync


_FIXED_FIELDS = (
    ("sender", "SENDER"),
    ("dest", "DEST"),
    ("rport", "RPORT"),
    ("lport", "LPORT"),
    ("senderlla", "SENDERLLA"),
)
_MIDDLE_LAYOUTS: dict[int, tuple[tuple[str, str], ...]] = {
    0: (),
    1: (("secured", "SECURED"),),
    3: (("rssi", "RSSI"), ("secured", "SECURED"), ("side", "SIDE")),
}


MAX_HELD = 10000
"""At most this many messages are held back waiting for a meter's D3/E1 (then they go out unscaled)."""
_CUMULATIVE = frozenset({"E0", "E3", "EA", "EB", "E2", "E4"})


def _unscaled(r: Reading) -> bool:
    return (
        r.unit is None and r.id[:2] in _CUMULATIVE and isinstance(r.value, int) and not r.id.endswith((".time", ".day"))
    )


def unscaled_energy(msg: Message) -> bool:
    """Does the message carry a cumulative energy still as a raw count (D3/E1 not seen yet)?"""
    return any(_unscaled(r) for r in msg.readings)


def rescale_energy(msg: Message, state: EchonetState) -> None:
    """Scale the raw cumulative counts of ``msg`` with the meter's now known D3/E1 (values and tree notes)."""
    for r in msg.readings:
        if _unscaled(r):
            raw = int(r.value)
            scaled = state.scale(raw)
            if scaled is None:
                continue
            r.value, r.unit = scaled, "kWh"
            node = r.node
            if node is not None:
                node.value = scaled
                node.note = f"{raw} {state.describe()} = {scaled} kWh (D3/E1 arrived later in the file)"


def _is_hex4(tok: bytes) -> bool:
    return len(tok) == 4 and not tok.translate(None, _HEX_DIGITS)


class SkstackDecoder:
    """Sans-IO SKSTACK-IP line parser: ``feed`` bytes, get ERXUDP messages (protocols.md §6.5).

    ``offsets`` of messages count bytes from the first byte ever fed; partial lines are kept across
    feeds. ``states`` holds the ECHONET scaling state (D3/E1) per sender address. With
    ``strict=True`` an internal bug raises instead of becoming an error message (for tests).
    """

    def __init__(self, *, strict: bool = False, hold_unscaled: bool = False) -> None:
        self.hold_unscaled = hold_unscaled
        """For files: hold back messages whose cumulative energy arrived before the meter's D3/E1, and
        scale them once D3/E1 arrive (or release them unscaled at :meth:`flush`); order is kept."""
        self._held: list[Message] = []
        self.events: deque[SkEvent] = deque(maxlen=MAX_EVENTS)
        self.lines_seen = 0
        self.states: dict[str, EchonetState] = {}
        self.strict = strict
        self._buf = bytearray()
        self._base = 0
        self._received: float | None = None
        self._done = 0

    # -- public API ------------------------------------------------------------------------------
    def feed(self, data: bytes, received: float | None = None) -> list[Message]:
        """Add bytes; return the messages of every ERXUDP line completed by them. Never raises."""
        self._buf += data
        self._received = received
        out = self._run(final=False)
        return self._hold(out, final=False) if self.hold_unscaled else out

    def flush(self) -> list[Message]:
        """End of stream: parse what is left (an incomplete ERXUDP line becomes a LineError message)."""
        out = self._run(final=True)
        return self._hold(out, final=True) if self.hold_unscaled else out

    def _hold(self, out: list[Message], final: bool) -> list[Message]:
        """Keep messages with unscaled energy (and every later one, to keep order) until their meter's
        D3/E1 are known; then scale them (meter-lists.md: B-route energies in kWh as soon as D3 and E1 are
        known, in files too)."""
        held = self._held
        held.extend(out)
        released: list[Message] = []
        while held:
            msg = held[0]
            state = self._state_of(msg)
            if unscaled_energy(msg):
                if state.ready:
                    rescale_energy(msg, state)
                elif not final and len(held) < MAX_HELD:
                    break
            released.append(held.pop(0))
        return released

    def _state_of(self, msg: Message) -> EchonetState:
        return self.states.get(str(msg.meter).upper()) or EchonetState()

    # -- internals -------------------------------------------------------------------------------
    def _run(self, final: bool) -> list[Message]:
        out: list[Message] = []
        while True:
            self._done = 0
            try:
                self._process(final, out)
                return out
            except Exception as exc:  # safety net: feed() must never raise
                if self.strict:
                    raise
                # Report the line being parsed as an error, drop it, and carry on after it.
                del self._buf[: self._done]
                self._base += self._done
                nl = self._buf.find(b"\n", 1)
                line = bytes(self._buf[: len(self._buf) if nl < 0 else nl + 1])
                del self._buf[: len(line)]
                out.append(self._error_message(line, self._base, DecodeError(f"internal decoder error: {exc!r}")))
                self._base += len(line)

    def _process(self, final: bool, out: list[Message]) -> None:
        buf = self._buf
        n = len(buf)
        pos = 0
        while pos < n:
            self._done = pos  # everything before pos is already reported
            if buf.startswith(ERXUDP, pos):
                try:
                    msg, pos = self._erxudp(pos, final)
                except _Wait:
                    break
                out.append(msg)
                continue
            nl = buf.find(b"\n", pos)
            end = n if nl < 0 else nl + 1
            k = buf.find(ERXUDP, pos, end)
            if k > pos:
                self._text(pos, k)
                pos = k
                continue
            if nl < 0 and not final:
                if n - pos <= MAX_TEXT_LINE:
                    break
                cut = n - (len(ERXUDP) - 1)  # keep a possible partial "ERXUDP " at the tail
                self._text(pos, cut)
                pos = cut
                continue
            self._text(pos, end)
            pos = end
        if pos:
            del buf[:pos]
            self._base += pos

    def _text(self, start: int, end: int) -> None:
        """Record the CR/LF-separated lines in ``buf[start:end]`` as events."""
        raw = bytes(self._buf[start:end])
        i = 0
        for part in raw.replace(b"\r", b"\n").split(b"\n"):
            if part.strip():
                self.lines_seen += 1
                text = printable(part.decode("ascii", "backslashreplace").rstrip()[:200])
                self.events.append(parse_event_line(text, self._base + start + i, self._received))
            i += len(part) + 1

    def _eol(self, p: int, final: bool) -> int:
        """End of the line end at ``p`` (CR LF, LF or CR); ``p`` when there is none. May wait."""
        buf = self._buf
        if p >= len(buf):
            if final:
                return p
            raise _Wait
        c = buf[p]
        if c == LF:
            return p + 1
        if c == CR:
            if p + 1 < len(buf):
                return p + 2 if buf[p + 1] == LF else p + 1
            if final:
                return p + 1
            raise _Wait
        return p

    def _erxudp(self, pos: int, final: bool) -> tuple[Message, int]:
        """Parse the ERXUDP line at ``pos``; return its message and the offset after it."""
        buf = self._buf
        n = len(buf)
        toks: list[tuple[int, int]] = []  # token start, end (absolute in buf)
        try:
            i = pos + len(ERXUDP) - 1
            datalen: int | None = None
            while datalen is None:
                m = _TOKEN.match(buf, i)
                if m is None:
                    j = i
                    while j < n and buf[j] == SPACE:
                        j += 1
                    if j >= n:
                        raise _Wait
                    what = "missing fields" if buf[j] in (CR, LF) else "field too long or empty"
                    raise _Bad(f"{what} after {len(toks)} field(s)", j)
                ts, te = m.span(1)
                if te >= n:
                    raise _Wait
                if buf[te] not in (SPACE, CR, LF):
                    raise _Bad(f"field {len(toks) + 1} is too long", te)
                toks.append((ts, te))
                i = te
                if len(toks) > 5 and _is_hex4(bytes(buf[ts:te])):
                    # 6 tokens: older firmware without SECURED (8 fields with DATA); 7-9: SECURED, SIDE, RSSI
                    datalen = int(buf[ts:te], 16)
                    if datalen > MAX_DATALEN:
                        raise _Bad(f"DATALEN {datalen:04X} exceeds {MAX_DATALEN} bytes", te)
                elif len(toks) >= 9:
                    raise _Bad("no 4-digit DATALEN after SENDERLLA", te)
            te = toks[-1][1]
            if buf[te] != SPACE:
                raise _Bad("no DATA after DATALEN", te)
            ds = te + 1
            de, eol_end, mode = self._data_extent(ds, datalen, final)
        except _Bad as bad:
            if self._too_long_to_wait(bad.resync, final):
                le = n
            else:
                nl = buf.find(b"\n", bad.resync)
                if nl < 0:
                    cr = buf.find(b"\r", bad.resync)
                    if not final:
                        raise _Wait from None
                    le = n if cr < 0 else cr + 1
                else:
                    le = nl + 1
            error = LineError(f"malformed ERXUDP line: {bad.reason}", offset=bad.resync - pos)
            return self._bad_line(pos, le, toks, error), le
        except _Wait:
            if not final:
                raise
            error = LineError(f"truncated ERXUDP line: {n - pos} bytes at end of stream", offset=n - pos)
            return self._bad_line(pos, n, toks, error), n
        return self._good_line(pos, toks, ds, de, eol_end, mode), eol_end

    def _too_long_to_wait(self, resync: int, final: bool) -> bool:
        return not final and len(self._buf) - resync > MAX_TEXT_LINE

    def _data_extent(self, ds: int, datalen: int, final: bool) -> tuple[int, int, str]:
        """Decide ASCII-hex or binary DATA at ``ds``; return (data end, line end, mode)."""
        buf = self._buf
        avail = len(buf) - ds
        hexlen = 2 * datalen
        chunk = bytes(buf[ds : ds + min(avail, hexlen)])
        if not chunk.translate(None, _HEX_DIGITS):
            if avail < hexlen:
                raise _Wait
            if avail > hexlen and buf[ds + hexlen] not in (CR, LF):
                raise _Bad(f"DATA longer than DATALEN {datalen:04X}", ds)
            return ds + hexlen, self._eol(ds + hexlen, final), "hex"
        first_eol = min((i for i in (chunk.find(b"\r"), chunk.find(b"\n")) if i >= 0), default=-1)
        if first_eol > 0 and not chunk[:first_eol].translate(None, _HEX_DIGITS):
            # Hex digits up to a line end: an ASCII-hex line whose DATA is shorter than DATALEN
            # (binary ECHONET Lite DATA starts with 0x10, never with a hex digit).
            raise _Bad(f"hex DATA shorter than DATALEN {datalen:04X}", ds)
        if avail < datalen:
            raise _Wait
        if avail > datalen and buf[ds + datalen] not in (CR, LF):
            raise _Bad(f"DATA does not match DATALEN {datalen:04X} (neither hex nor binary)", ds)
        return ds + datalen, self._eol(ds + datalen, final), "binary"

    # -- message building ------------------------------------------------------------------------
    def _line_tree(
        self, pos: int, le: int, toks: list[tuple[int, int]], names: list[tuple[str, str]], stop: int
    ) -> tuple[Node, Node, bytes]:
        """Root, ``line`` node and line bytes; token leaves up to ``stop`` (relative offsets)."""
        line = bytes(self._buf[pos:le])
        root = Node("", "ERXUDP", "line", 0, len(line))
        line_node = Node("line", "SKSTACK-IP ERXUDP line", "line", 0, len(line), parent=root)
        first = toks[0][0] - pos if toks else stop
        if first > 0:
            leaf(line_node, "command", "command", "line", 0, first, "ERXUDP")
        for k, (ts, te) in enumerate(toks):
            key, label = names[k]
            s = ts - pos
            e = toks[k + 1][0] - pos if k + 1 < len(toks) else stop
            text = printable(line[s : te - pos].decode("ascii", "replace"))
            node = leaf(line_node, key, label, "line", s, e, text)
            _annotate_token(node, key, text)
        return root, line_node, line

    def _bad_line(self, pos: int, le: int, toks: list[tuple[int, int]], error: MeterError) -> Message:
        buf = self._buf
        ce = le
        while ce > pos and buf[ce - 1] in (CR, LF):
            ce -= 1
        toks = [t for t in toks if t[1] <= ce]
        names = _field_names(toks, buf)
        stop = toks[-1][1] if toks else min(pos + len(ERXUDP) - 1, ce)
        while stop < ce and buf[stop] == SPACE:
            stop += 1
        root, line_node, line = self._line_tree(pos, le, toks, names, stop - pos)
        if ce > stop:
            leaf(
                line_node,
                "undecoded",
                "undecoded",
                "line",
                stop - pos,
                ce - pos,
                printable(line[stop - pos : ce - pos].decode("ascii", "backslashreplace")),
                fault=error.kind,
            )
        if le > ce:
            leaf(line_node, "eol", "line end", "line", ce - pos, le - pos, line[ce - pos :].hex().upper())
        self.lines_seen += 1
        meter = printable(line[toks[0][0] - pos : toks[0][1] - pos].decode("ascii", "replace")) if toks else None
        return Message(
            0,
            "echonet",
            [(self._base + pos, self._base + le)],
            root,
            {"line": line},
            error=error,
            meter=meter,
            received=self._received,
        )

    def _error_message(self, line: bytes, start: int, error: MeterError) -> Message:
        root = Node("", "bytes", "line", 0, len(line))
        leaf(root, "undecoded", "undecoded", "line", 0, len(line), line.hex().upper(), fault=error.kind)
        return Message(
            0, "echonet", [(start, start + len(line))], root, {"line": line}, error=error, received=self._received
        )

    def _good_line(self, pos: int, toks: list[tuple[int, int]], ds: int, de: int, le: int, mode: str) -> Message:
        buf = self._buf
        names = _field_names(toks, buf)
        root, line_node, line = self._line_tree(pos, le, toks, names, ds - pos)
        data = bytes(buf[ds:de])
        edata = bytes.fromhex(data.decode("ascii")) if mode == "hex" else data
        if de > ds:
            leaf(
                line_node,
                "data",
                "DATA",
                "line",
                ds - pos,
                de - pos,
                data if mode == "binary" else data.decode("ascii"),
                "ASCII hex (WOPT 01)" if mode == "hex" else "binary",
            )
        if le > de:
            leaf(line_node, "eol", "line end", "line", de - pos, le - pos, line[de - pos :].hex().upper())
        self.lines_seen += 1
        sender = printable(line[toks[0][0] - pos : toks[0][1] - pos].decode("ascii", "replace"))
        state = self.states.get(sender.upper())
        if state is None:
            state = self.states[sender.upper()] = EchonetState()
        buffers = {"line": line}
        msg = Message(
            0, "echonet", [(self._base + pos, self._base + le)], root, buffers, meter=sender, received=self._received
        )
        for key in ("rport", "lport"):
            node = line_node.find(f"line/{key}")
            if node is not None and node.value != ECHONET_PORT:
                msg.warnings.append(f"{key.upper()} {node.display_value()} is not the ECHONET Lite port")
        if not edata:
            msg.error = DecodeError("ERXUDP carries no data (DATALEN 0000)", path="line/datalen")
            return msg
        buffers["edata"] = edata
        frame = decode_edata(edata, root, state)
        msg.error = frame.error
        msg.readings = frame.readings
        msg.clock = frame.clock
        msg.warnings.extend(frame.warnings)
        return msg


def _field_names(toks: list[tuple[int, int]], buf: bytearray) -> list[tuple[str, str]]:
    """Keys and labels of the ERXUDP fields in ``toks`` (protocols.md §6.5).

    Between SENDERLLA and DATALEN: one field is SECURED; two are RSSI SECURED when the first has
    two characters, else SECURED SIDE; three are RSSI SECURED SIDE. Without a DATALEN the extra
    fields are only numbered.
    """
    names = list(_FIXED_FIELDS[: len(toks)])
    middle = len(toks) - 6
    if 0 <= middle <= 3 and _is_hex4(bytes(buf[toks[-1][0] : toks[-1][1]])):
        layout: tuple[tuple[str, str], ...]
        if middle == 2:
            first_len = toks[5][1] - toks[5][0]
            layout = (
                (("rssi", "RSSI"), ("secured", "SECURED"))
                if first_len == 2
                else (("secured", "SECURED"), ("side", "SIDE"))
            )
        else:
            layout = _MIDDLE_LAYOUTS[middle]
        return [*names, *layout, ("datalen", "DATALEN")]
    return names + [(f"field[{k}]", "field") for k in range(5, len(toks))]


def _annotate_token(node: Node, key: str, text: str) -> None:
    """Typed values and notes for ERXUDP header fields (protocols.md §6.5)."""
    if key in ("rport", "lport", "datalen"):
        try:
            node.value = int(text, 16)
        except ValueError:
            return
        if key == "datalen":
            node.note = f"{node.value} byte(s)"
        elif node.value == ECHONET_PORT:
            node.note = "3610 (ECHONET Lite)"
    elif key == "secured":
        node.note = {"1": "secured (PANA)", "0": "not secured"}.get(text, "")
    elif key == "side":
        node.note = {"0": "B-route", "1": "HAN"}.get(text, "")
    elif key == "rssi":
        node.note = "received signal strength (module units)"
