"""The inspector's list of messages, bounded for a day-long live session (UI-free).

:class:`FrameStore` keeps the newest ``max_full`` :class:`~meterui.protocol.message.Message` objects
whole and, for up to ``max_index`` messages, a light :class:`FrameSummary` (a few fields plus the raw
link-layer bytes). An older message is decoded again on demand from its raw bytes with a fresh
:class:`~meterui.protocol.decoder.StreamDecoder` using the store's keys, so memory stays flat however
long the session runs: two ``deque(maxlen=...)`` rings and a tiny cache.

Every message added gets a *number* (0, 1, 2… for the life of the store; ``FrameSummary.index``). It
does not restart when the pipeline opens a new decoder after a reconnect, so it is what the inspector
shows in its ``#`` column. A *position* is an index into what is kept now (``0 <= pos < len(store)``);
``number = store.dropped + pos``.

Also here: :func:`error_spans`, the byte ranges at fault in a failed message, shared by the tree and
hex views.
"""

from __future__ import annotations

import re
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from meterui.protocol.links import is_link_buffer, redecode_format
from meterui.protocol.message import Message
from meterui.protocol.spans import Node, Span

DEFAULT_MAX_FULL = 300
DEFAULT_MAX_INDEX = 20_000
_CACHE = 16
"""Re-decoded older messages kept, so stepping back and forth through old frames is instant."""


VERDICTS = ("all", "bad", "ok")


@dataclass(frozen=True, slots=True)
class FrameSummary:
    """What the store keeps of every message: enough to list, filter, search and re-decode it."""

    index: int
    """The store's running number for the message (shown as ``#``)."""
    received: float | None
    protocol: str
    size: int
    meter: str | None
    verdict: str
    layer: str | None
    """The layer that failed (``line``, ``frame``, ``crypto``, ``apdu``), ``None`` when ok."""
    error: str | None
    offsets: tuple[tuple[int, int], ...]
    raw: bytes
    """The message's link-layer bytes (its frames, ERXUDP line or unrecognised bytes) joined."""
    reading_ids: tuple[str, ...] = ()
    """The ids of its readings (OBIS ``A.B.C.D.E.F`` or ECHONET EPC), for search."""
    decoder_index: int = 0
    """``Message.index`` as the decoder numbered it."""
    context: Any = None
    """``Message.context``: the options and protocol state it was decoded with (re-decoding uses them)."""

    @property
    def ok(self) -> bool:
        return self.layer is None


def summarize(msg: Message, number: int) -> FrameSummary:
    raw = b"".join(data for name, data in msg.buffers.items() if is_link_buffer(name))
    return FrameSummary(
        index=number,
        received=msg.received,
        protocol=msg.protocol,
        size=msg.size or len(raw),
        meter=msg.meter,
        verdict=msg.verdict(),
        layer=msg.layer,
        error=None if msg.error is None else msg.error.message,
        offsets=tuple((s, e) for s, e in msg.offsets),
        raw=raw,
        reading_ids=tuple(dict.fromkeys(r.id for r in msg.readings)),
        decoder_index=msg.index,
        context=msg.context,
    )


# -- search queries ------------------------------------------------------------------------------
_OBIS_FULL = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$")
_OBIS_IEC = re.compile(r"^(\d{1,3})-(\d{1,3}):(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:[.*](\d{1,3}))?$")
_OBIS_SHORT = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})$")


def parse_obis(text: str) -> Callable[[str], bool] | None:
    """A matcher for reading ids if ``text`` is an OBIS code, else ``None``.

    Accepts ``1.0.1.7.0.255``, ``1-0:1.7.0`` (``.255``/``*255`` optional) and the short ``1.7.0``
    (C.D.E, any medium, channel and F).
    """
    text = text.strip()
    if m := _OBIS_FULL.match(text):
        want = ".".join(str(int(g)) for g in m.groups())
        return lambda rid: rid == want
    if m := _OBIS_IEC.match(text):
        a, b, c, d, e, f = m.groups()
        want = ".".join(str(int(g)) for g in (a, b, c, d, e, f or "255"))
        return lambda rid: rid == want
    if m := _OBIS_SHORT.match(text):
        cde = [str(int(g)) for g in m.groups()]

        def short(rid: str) -> bool:
            parts = rid.split(".")
            return len(parts) == 6 and parts[2:5] == cde

        return short
    return None


def parse_hex(text: str) -> bytes | None:
    """The bytes of a hex search string (``7E A0``, ``0x4B464D``, ``7e:a0``), ``None`` if not hex."""
    cleaned = re.sub(r"0[xX]", "", text.strip())
    cleaned = re.sub(r"[\s:,-]", "", cleaned)
    if not cleaned or len(cleaned) % 2 or not re.fullmatch(r"[0-9A-Fa-f]+", cleaned):
        return None
    return bytes.fromhex(cleaned)


# -- error regions -------------------------------------------------------------------------------
def is_error_node(node: Node) -> bool:
    """Is this node where decoding failed? (The decoder sets :attr:`Node.fault` on the bytes at fault.)"""
    return node.fault is not None


def error_spans(msg: Message) -> list[Span]:
    """The byte ranges at fault in a failed message (empty for a good one).

    The leaves the decoder marked at fault (:attr:`Node.fault`: a checksum mismatch, undecoded bytes, the
    ciphertext a key failed on…) and the node named by the error's path.
    """
    if msg.error is None:
        return []
    spans: list[Span] = []
    for node in msg.root.leaves():
        if node.fault is not None:
            spans.append(node.span)
    if msg.error.path:
        at = msg.root.find(msg.error.path)
        if at is not None:
            spans.append(at.span)
    if not spans:  # e.g. unrecognised bytes: the whole message is at fault
        spans = [leaf.span for leaf in msg.root.leaves()]
    return list(dict.fromkeys(spans))


# -- the store -----------------------------------------------------------------------------------
class FrameStore:
    """A bounded, append-only list of messages with on-demand re-decoding of older ones.

    Not thread-safe: add to it and read it from one thread (the UI thread).
    """

    def __init__(
        self,
        key: bytes | None = None,
        auth_key: bytes | None = None,
        *,
        max_full: int = DEFAULT_MAX_FULL,
        max_index: int = DEFAULT_MAX_INDEX,
        invert_deviation: bool = False,
    ) -> None:
        if max_full < 1 or max_index < max_full:
            raise ValueError("need 1 <= max_full <= max_index")
        self.key = key
        self.auth_key = auth_key
        self.invert_deviation = invert_deviation
        self.max_full = max_full
        self.max_index = max_index
        self._summaries: deque[FrameSummary] = deque(maxlen=max_index)
        self._full: deque[Message] = deque(maxlen=max_full)
        self._cache: OrderedDict[int, Message] = OrderedDict()
        self._added = 0
        self.version = 0
        """Bumped on every change: a cheap "anything new?" check for views."""

    # -- adding ----------------------------------------------------------------------------------
    def add(self, messages: Iterable[Message]) -> list[FrameSummary]:
        """Append messages (oldest first); returns their summaries."""
        out: list[FrameSummary] = []
        for msg in messages:
            summary = summarize(msg, self._added)
            self._added += 1
            self._summaries.append(summary)
            self._full.append(msg)
            out.append(summary)
        if out:
            self.version += 1
            first = self.first
            for number in [n for n in self._cache if n < first]:
                del self._cache[number]
        return out

    def clear(self) -> None:
        self._summaries.clear()
        self._full.clear()
        self._cache.clear()
        self.version += 1

    def set_keys(self, key: bytes | None, auth_key: bytes | None = None) -> None:
        """New keys for re-decoding (the messages already held whole keep their decode)."""
        self.key, self.auth_key = key, auth_key
        self._cache.clear()

    # -- numbering -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._summaries)

    @property
    def added(self) -> int:
        """Messages added over the store's life (the next message's number)."""
        return self._added

    @property
    def dropped(self) -> int:
        """Messages forgotten to keep within ``max_index`` (``cleared`` ones included)."""
        return self._added - len(self._summaries)

    @property
    def first(self) -> int:
        """The number of the oldest message kept."""
        return self.dropped

    def pos_of(self, number: int) -> int | None:
        """The position of message ``number``, ``None`` if it was dropped or not added yet."""
        pos = number - self.dropped
        return pos if 0 <= pos < len(self._summaries) else None

    def _check(self, pos: int) -> int:
        n = len(self._summaries)
        if pos < 0:
            pos += n
        if not 0 <= pos < n:
            raise IndexError(f"position {pos} out of range (0..{n - 1})")
        return pos

    # -- access ----------------------------------------------------------------------------------
    def summary(self, pos: int) -> FrameSummary:
        return self._summaries[self._check(pos)]

    def summaries(self) -> list[FrameSummary]:
        return list(self._summaries)

    def is_full(self, pos: int) -> bool:
        """Is the message at ``pos`` held whole (no re-decode needed)?"""
        return self._check(pos) >= len(self._summaries) - len(self._full)

    def message(self, pos: int) -> Message:
        """The message at ``pos``: held whole, or decoded again from its raw bytes."""
        pos = self._check(pos)
        full_from = len(self._summaries) - len(self._full)
        if pos >= full_from:
            return self._full[pos - full_from]
        summary = self._summaries[pos]
        cached = self._cache.get(summary.index)
        if cached is not None:
            self._cache.move_to_end(summary.index)
            return cached
        msg = self.redecode(summary)
        self._cache[summary.index] = msg
        while len(self._cache) > _CACHE:
            self._cache.popitem(last=False)
        return msg

    def redecode(self, summary: FrameSummary) -> Message:
        """Decode a summary's raw bytes again with a fresh decoder and the store's keys.

        The context the message was decoded with travels with it (``FrameSummary.context``): its
        options (the deviation sign) and the ECHONET coefficient (D3) and unit (E1) sent in earlier
        responses; a meter id learnt from an earlier frame is restored from the summary.
        """
        from meterui.protocol.decoder import StreamDecoder

        if summary.protocol in ("sent", "module"):  # SKSTACK conversation lines (protocol/sklines.py)
            from meterui.protocol.sklines import line_message

            line = line_message(summary.raw, summary.protocol == "sent", summary.received, list(summary.offsets))
            line.index = summary.decoder_index
            return line
        fmt = redecode_format(summary.protocol)
        dec = StreamDecoder(self.key, self.auth_key, fmt, invert_deviation=self.invert_deviation)
        dec.restore(summary.context, summary.meter)
        messages = dec.feed(summary.raw, summary.received) + dec.flush()
        if not messages:  # pragma: no cover - a decoder always reports what it was fed
            raise LookupError(f"message #{summary.index} did not decode again")
        # one message normally; if a frame set fell apart, prefer the one that failed like the original
        msg = next((m for m in messages if m.verdict() == summary.verdict), messages[0])
        msg.index = summary.decoder_index
        msg.received = summary.received
        if summary.meter is not None:
            msg.meter = summary.meter
        if summary.offsets:
            msg.offsets = list(summary.offsets)
        return msg

    # -- queries ---------------------------------------------------------------------------------
    def find(self, predicate: Callable[[FrameSummary], bool], start: int = 0, step: int = 1) -> int | None:
        """The first position from ``start`` (walking by ``step``, ±1) whose summary matches."""
        n = len(self._summaries)
        pos = start
        while 0 <= pos < n:
            if predicate(self._summaries[pos]):
                return pos
            pos += step
        return None

    def filter(self, verdict: str = "all", protocol: str | None = None) -> list[int]:
        """Positions of the messages with this verdict (``all``/``ok``/``bad``) and protocol."""
        if verdict not in VERDICTS:
            raise ValueError(f"unknown verdict filter {verdict!r}")
        return [
            pos
            for pos, s in enumerate(self._summaries)
            if (verdict == "all" or (verdict == "ok") == s.ok) and (protocol is None or s.protocol == protocol)
        ]

    def protocols(self) -> list[str]:
        """The protocols seen among the messages kept, in order of first appearance."""
        return list(dict.fromkeys(s.protocol for s in self._summaries))

    def search(self, text: str) -> list[int]:
        """Positions of the messages matching ``text``.

        An OBIS code (``1.0.1.7.0.255``, ``1-0:1.7.0``, ``1.7.0``) finds messages with that reading;
        a hex string (``7E A0``, ``0x4B464D``) finds messages whose bytes contain it (every buffer
        of the messages held whole, including decrypted APDUs; the raw bytes of older ones); anything
        else is matched, ignoring case, against reading ids, meters, verdicts and error texts.
        """
        text = text.strip()
        if not text:
            return []
        obis = parse_obis(text)
        if obis is not None:
            return [pos for pos, s in enumerate(self._summaries) if any(obis(r) for r in s.reading_ids)]
        needle = parse_hex(text)
        if needle is not None:
            full_from = len(self._summaries) - len(self._full)
            hits: list[int] = []
            for pos, s in enumerate(self._summaries):
                if needle in s.raw or (
                    pos >= full_from and any(needle in data for data in self._full[pos - full_from].buffers.values())
                ):
                    hits.append(pos)
            return hits
        low = text.lower()
        return [
            pos
            for pos, s in enumerate(self._summaries)
            if any(low == r.lower() for r in s.reading_ids)
            or low in (s.meter or "").lower()
            or low in s.verdict
            or low in (s.error or "").lower()
        ]


def find_in_message(msg: Message, text: str) -> Node | Span | None:
    """Where ``text`` (as in :meth:`FrameStore.search`) is in one message: a reading's node or a byte span."""
    obis = parse_obis(text)
    if obis is not None:
        for reading in msg.readings:
            if obis(reading.id):
                return reading.node
        return None
    needle = parse_hex(text)
    if needle is not None:
        for name, data in msg.buffers.items():
            at = data.find(needle)
            if at >= 0:
                return Span(name, at, at + len(needle))
        return None
    low = text.strip().lower()
    for reading in msg.readings:
        if reading.id.lower() == low:
            return reading.node
    return None
