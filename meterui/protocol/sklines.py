"""The SKSTACK conversation as messages for the inspector: commands sent and the module's other lines.

ERXUDP lines are decoded by :mod:`meterui.protocol.skstack` (they carry the meter's ECHONET Lite
frames). Every other line, in both directions, becomes a :class:`Message` here, annotated field by
field from the tables below: protocol :data:`SENT` for what meterui wrote to the module (an ``SKSENDTO``
request's ECHONET Lite frame decoded with its properties) and :data:`MODULE` for the module's answers
and events (``OK``, ``FAIL ER04``, ``EVENT 25``, ``EPANDESC`` fields…). The B-route password and ID
are never kept: ``SKSETPWD``/``SKSETRBID`` arguments (and their echo) are masked in the bytes and tree.

:class:`Transcript` turns the pipeline's chunks into these messages (only the app asks for them: the
JSON output and the counters never see them). UI-free.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from meterui.protocol.message import Message
from meterui.protocol.skstack import EVENT_NAMES, FAIL_CODES, SkstackDecoder, parse_event_line
from meterui.protocol.spans import Node, leaf
from meterui.protocol.text import printable
from meterui.sources.base import Chunk

SENT = "sent"
"""``Message.protocol`` of a command meterui wrote to the module."""
MODULE = "module"
"""``Message.protocol`` of a line from the module that is not ERXUDP."""
PROTOCOLS = frozenset({SENT, MODULE})

SECRET_FIELDS = frozenset({"password", "rbid"})
"""Fields whose value is masked wherever it appears."""

COMMAND_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "SKVER": (),
    "SKINFO": (),
    "SKTERM": (),
    "SKRESET": (),
    "ROPT": (),
    "WOPT": (("mode", "data format (00 binary, 01 ASCII hex)"),),
    "SKSREG": (("register", "register"), ("value", "value")),
    "SKSETPWD": (("length", "password length"), ("password", "password")),
    "SKSETRBID": (("rbid", "B-route ID"),),
    "SKSCAN": (("mode", "scan mode"), ("mask", "channel mask"), ("duration", "duration"), ("side", "SIDE")),
    "SKLL64": (("mac", "MAC address"),),
    "SKJOIN": (("ipv6", "IPv6 address"),),
    "SKSENDTO": (
        ("handle", "handle"),
        ("ipv6", "IPv6 address"),
        ("port", "port"),
        ("sec", "security"),
        ("side", "SIDE"),
        ("datalen", "DATALEN"),
    ),
}
"""The arguments of each command meterui sends (protocols.md §6.2–§6.5)."""

COMMAND_NOTES: dict[str, str] = {
    "SKVER": "ask the firmware version",
    "SKINFO": "ask the module's addresses and channel",
    "SKTERM": "end the PANA session",
    "SKRESET": "reset the module",
    "ROPT": "read the data format of ERXUDP",
    "WOPT": "write the data format (flash)",
    "SKSREG": "read or set a register",
    "SKSETPWD": "set the B-route password",
    "SKSETRBID": "set the B-route ID",
    "SKSCAN": "active scan for the meter",
    "SKLL64": "MAC address to IPv6 link-local address",
    "SKJOIN": "join the meter (PANA)",
    "SKSENDTO": "send a UDP datagram (an ECHONET Lite request)",
}

REGISTER_NOTES: dict[str, str] = {
    "S2": "channel",
    "S3": "PAN ID",
    "SFE": "echo back (0 off)",
    "SA2": "RSSI in ERXUDP (1 on)",
}

MODULE_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "EVER": (("version", "firmware version"),),
    "EINFO": (
        ("ipv6", "IPv6 address"),
        ("mac", "MAC address"),
        ("channel", "channel"),
        ("pan_id", "PAN ID"),
        ("addr16", "short address"),
    ),
    "FAIL": (("code", "error code"),),
    "OK": (("value", "value"),),
    "ESREG": (("value", "register value"),),
}
"""The fields of the module's answers (protocols.md §6.2–§6.4)."""

_EVENT_FIELDS = (("num", "event number"), ("sender", "sender"), ("side", "SIDE"), ("param", "parameter"))


def _tokens(line: bytes) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    i, n = 0, len(line)
    while i < n:
        while i < n and line[i] == 0x20:
            i += 1
        if i >= n:
            break
        j = i
        while j < n and line[j] != 0x20:
            j += 1
        out.append((i, j))
        i = j
    return out


def _mask(line: bytes) -> bytes:
    """``line`` with the argument of a ``SKSETPWD``/``SKSETRBID`` (sent or echoed) masked."""
    for head in (b"SKSETPWD ", b"SKSETRBID "):
        if line.startswith(head):
            end = len(line.rstrip(b"\r\n"))
            toks = _tokens(line[:end])
            if len(toks) > 1:
                s, e = toks[-1]
                return line[:s] + b"*" * (e - s) + line[e:]
    return line


def _text(data: bytes) -> str:
    return printable(data.decode("ascii", "replace"))


def line_message(
    data: bytes, sent: bool, received: float | None = None, offsets: list[tuple[int, int]] | None = None
) -> Message:
    """One line (or one write) as an annotated :class:`Message` (see the module docstring)."""
    line = _mask(bytes(data))
    root = Node("", "sent to the module" if sent else "from the module", "line", 0, len(line))
    head_end = len(line)
    payload: bytes | None = None
    if sent and line.startswith(b"SKSENDTO "):
        head_end, payload = _sendto_split(line)
    text_end = head_end
    while text_end > 0 and line[text_end - 1] in (0x0D, 0x0A):
        text_end -= 1
    toks = _tokens(line[:text_end])
    if not sent and line.startswith(b"  ") and b":" in line[:text_end]:  # an EPANDESC field
        name, _, value = _text(line[:text_end]).strip().partition(":")
        leaf(root, "field", name or "field", "line", 0, text_end, value, "PAN descriptor field")
        toks = []
    word = _text(line[toks[0][0] : toks[0][1]]) if toks else ""
    kind = "command" if sent else "line"
    notes = COMMAND_NOTES if sent else {}
    if toks:
        s, e = toks[0]
        end = toks[1][0] if len(toks) > 1 else text_end
        node = leaf(root, kind, "command" if sent else "kind", "line", 0, end, word, notes.get(word, ""))
        if not sent:
            node.note = parse_event_line(_text(line[:text_end])).name
    names = _field_names(word, sent, len(toks) - 1, _text(line[:text_end]))
    for k, (s, e) in enumerate(toks[1:]):
        key, label = names[k] if k < len(names) else (f"arg{k + 1}", f"argument {k + 1}")
        end = toks[k + 2][0] if k + 2 < len(toks) else text_end
        value = _text(line[s:e])
        node = leaf(root, key, label, "line", s, end, value)
        _annotate(node, word, key, value, sent)
    if text_end < head_end:
        leaf(root, "eol", "line end", "line", text_end, head_end, line[text_end:head_end].hex().upper())
    buffers = {"line": line}
    message = Message(0, SENT if sent else MODULE, list(offsets or []), root, buffers, received=received)
    if payload is not None:
        leaf(root, "data", "DATA", "line", head_end, len(line), payload.hex().upper(), "binary")
        if payload[:2] == b"\x10\x81":
            from meterui.protocol.echonet import decode_edata

            buffers["edata"] = payload
            frame = decode_edata(payload, root)
            if frame.error is not None:
                message.warnings.append(f"request: {frame.error.message}")
    return message


def _sendto_split(line: bytes) -> tuple[int, bytes]:
    """Where ``SKSENDTO``'s text part ends (after DATALEN and one space) and its binary payload."""
    toks = _tokens(line[: min(len(line), 120)])
    for k, (s, e) in enumerate(toks[1:], 1):
        chunk = line[s:e]
        if len(chunk) == 4 and k >= 5:
            try:
                length = int(chunk, 16)
            except ValueError:
                continue
            start = e + 1
            if start + length == len(line):
                return start, line[start:]
    return len(line), b""


def _field_names(word: str, sent: bool, count: int, text: str = "") -> tuple[tuple[str, str], ...]:
    if sent or word in COMMAND_FIELDS:  # a command, or the module's echo of one
        names = COMMAND_FIELDS.get(word, ())
        if word == "SKSENDTO" and count == 5:  # single-stack modules: no SIDE argument
            names = tuple(n for n in names if n[0] != "side")
        if word == "SKSCAN" and count == 3:
            names = names[:3]
        return names
    if word == "EVENT":
        ev = parse_event_line(text)
        present = {
            "num": True,
            "sender": ev.sender is not None,
            "side": ev.side is not None,
            "param": ev.param is not None,
        }
        return tuple(f for f in _EVENT_FIELDS if present[f[0]])
    return MODULE_FIELDS.get(word, ())


def _annotate(node: Node, word: str, key: str, value: str, sent: bool) -> None:
    if key in SECRET_FIELDS:
        node.value = "*" * len(value)
        node.note = "redacted (never shown or recorded)"
    elif word == "SKSREG" and key == "register":
        node.note = REGISTER_NOTES.get(value.upper(), "")
    elif key == "num" and word == "EVENT":
        with contextlib.suppress(ValueError):
            node.note = EVENT_NAMES.get(int(value, 16), "")
    elif word == "FAIL" and key == "code":
        node.note = FAIL_CODES.get(value.upper(), "unknown error")
    elif key in ("datalen", "length", "channel", "pan_id"):
        try:
            number = int(value, 16)
        except ValueError:
            return
        node.note = f"{number}" + (" byte(s)" if key == "datalen" else "")
    elif key == "port" and value.upper() == "0E1A":
        node.note = "3610 (ECHONET Lite)"
    elif key == "sec":
        node.note = {"1": "encrypted (PANA)", "0": "plain"}.get(value, "")


class Transcript:
    """Chunks in both directions → :func:`line_message` messages, in stream order.

    ``received`` finds the module's non-ERXUDP lines with the same line parser the session uses
    (binary ERXUDP data may hold line ends); ``sent`` makes one message per write. ``sent_chunks`` (a
    replay: the recording's ``# tx`` lines, in time order) are put before the first received chunk
    that came later than them.
    """

    def __init__(self, sent_chunks: Iterable[Chunk] = ()) -> None:
        self._dec = SkstackDecoder()
        self._pending: Iterator[Chunk] = iter(sent_chunks)
        self._next: Chunk | None = next(self._pending, None)
        self.lines = 0

    def received(self, chunk: Chunk) -> list[Message]:
        out = self._replayed_before(chunk.received)
        self._dec.feed(chunk.data, chunk.received)
        events = self._dec.events
        while events:
            ev = events.popleft()
            data = ev.text.encode("ascii", "replace") + b"\r\n"
            start = ev.offset if ev.offset is not None else 0
            out.append(line_message(data, False, ev.received, [(start, start + len(data))]))
        self.lines += len(out)
        return out

    def sent(self, chunk: Chunk) -> list[Message]:
        self.lines += 1
        return [line_message(chunk.data, True, chunk.received)]

    def _replayed_before(self, when: float | None) -> list[Message]:
        out: list[Message] = []
        while self._next is not None and (when is None or self._next.received is None or self._next.received <= when):
            out.append(line_message(self._next.data, True, self._next.received))
            self._next = next(self._pending, None)
        return out

    def rest(self) -> list[Message]:
        """Sent lines of a replay left after the last received chunk."""
        return self._replayed_before(None) if self._next is not None else []


def merge(lines: list[Message], decoded: list[Message]) -> list[Message]:
    """Line messages and decoded messages of one chunk in stream order (sent lines first)."""
    if not lines:
        return decoded
    if not decoded:
        return lines

    def start(m: Message) -> float:
        if m.protocol == SENT or not m.offsets:
            return -1.0
        return float(m.offsets[0][0])

    return sorted([*lines, *decoded], key=start)
