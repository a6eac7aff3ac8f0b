"""Sans-IO link framing: find HDLC and M-Bus frames in a byte stream (protocols.md §0, §1.4-1.5, §4.1).

:class:`LinkFramer` hunts for the frame starts of every binary protocol in the registry
(:data:`meterui.protocol.links.FRAMED`: ``7E`` HDLC, ``68`` M-Bus long frame), trusts the length
field (never splits on ``7E``), checks HCS/FCS or the M-Bus checksum, and on a failed check resumes
hunting at the byte after the false start, so a data ``7E``/``68`` or a frame cut short by line noise
cannot hide the next good frame. Frames whose header checked out but whose body did not are returned
with ``valid=False`` and a reason; bytes that belong to no frame come back as :class:`Garbage`.
Nothing raises.

The checkers for HDLC and M-Bus live here; a new protocol brings its own (see
:mod:`meterui.protocol.links`).
"""

from __future__ import annotations

import re

from meterui.protocol.crc import X25_GOOD, crc_x25

MAX_GARBAGE_RUN = 4096
HDLC_FLAG = 0x7E
MBUS_START = 0x68

NEED = -1
NO = -2


class LinkFrame:
    """One link-layer frame as it appeared in the stream (``raw`` includes flags/start/stop bytes)."""

    __slots__ = ("end", "header_len", "protocol", "raw", "reason", "received", "start", "valid")

    def __init__(
        self,
        protocol: str,
        raw: bytes,
        start: int,
        valid: bool,
        reason: str = "",
        received: float | None = None,
        header_len: int = 0,
    ) -> None:
        self.protocol = protocol
        self.raw = raw
        self.start = start
        self.end = start + len(raw)
        self.valid = valid
        self.reason = reason
        self.received = received
        self.header_len = header_len

    def __repr__(self) -> str:  # pragma: no cover
        return f"LinkFrame({self.protocol}, {self.start}..{self.end}, valid={self.valid}, {self.reason!r})"


class Garbage:
    """A run of bytes that belongs to no frame (noise, wrong baud rate or parity, idle garbage)."""

    __slots__ = ("data", "received", "start")

    def __init__(self, data: bytes, start: int, received: float | None = None) -> None:
        self.data = data
        self.start = start
        self.received = received

    @property
    def end(self) -> int:
        return self.start + len(self.data)


def hdlc_header_length(buf: bytes | bytearray, c: int, n: int) -> int:
    """Bytes from the opening flag through the control field, NEED, or NO if not an HDLC header."""
    p = c + 3
    for _ in range(2):  # destination, then source address: 1-4 bytes, last has LSB = 1
        for k in range(4):
            if p + k >= n:
                return NEED
            if buf[p + k] & 1:
                p += k + 1
                break
        else:
            return NO
    if p >= n:
        return NEED
    return p + 1 - c


def check_hdlc(buf: bytearray, c: int, n: int) -> tuple[int, str]:
    """(length incl. both flags | NEED | NO, failure reason when the header is fine but the frame is not)."""
    if c + 3 > n:
        return NEED, ""
    fmt = buf[c + 1] << 8 | buf[c + 2]
    if fmt >> 12 != 0xA:
        return NO, ""
    length = fmt & 0x7FF
    hlen = hdlc_header_length(buf, c, n)
    if hlen < 0:
        return hlen, ""
    # hlen counts flag..control; the frame (between flags) needs header + FCS at least
    if length < hlen - 1 + 2:
        return NO, ""
    has_info = length > hlen - 1 + 2
    if has_info:
        if length < hlen - 1 + 4:
            return NO, ""
        if c + hlen + 2 > n:
            return NEED, ""
        if crc_x25(buf[c + 1 : c + hlen + 2]) != X25_GOOD:
            from meterui.protocol.hdlc import zero_checksums

            if not (c + length + 2 <= n and zero_checksums(buf, hlen, length + 2, c)):
                return NO, ""
            if buf[c + length + 1] != HDLC_FLAG:
                return NO, ""
            return length + 2, ""  # both checksums 0000: not sent (hdlc.zero_checksums)
    total = length + 2
    if c + total > n:
        return NEED, ""
    if buf[c + total - 1] != HDLC_FLAG:
        return total, f"no closing flag where the length field (L={length}) puts it"
    if crc_x25(buf[c + 1 : c + total - 1]) != X25_GOOD:
        if not has_info:
            return NO, ""
        return total, "FCS mismatch: bytes were corrupted on the line"
    return total, ""


def check_mbus(buf: bytearray, c: int, n: int) -> tuple[int, str]:
    if c + 4 > n:
        return NEED, ""
    length = buf[c + 1]
    if buf[c + 2] != length or buf[c + 3] != MBUS_START:
        return NO, ""
    candidates = [length] if length >= 3 else [length + 256]  # L < 3: some Austrian meters wrap L
    for ln in candidates:
        total = ln + 6
        if c + total > n:
            return NEED, ""
        ok_sum = (sum(buf[c + 4 : c + 4 + ln]) & 0xFF) == buf[c + 4 + ln]
        ok_stop = buf[c + total - 1] == 0x16
        if ok_sum and ok_stop:
            return total, ""
        if length < 3:
            return NO, ""
        if not ok_stop:
            return total, f"no stop byte 0x16 where the length field (L={length}) puts it"
        return total, "checksum mismatch: bytes were corrupted on the line"
    return NO, ""  # pragma: no cover


class LinkFramer:
    """Feed bytes, get :class:`LinkFrame` and :class:`Garbage` items back in stream order."""

    def __init__(self) -> None:
        from meterui.protocol.links import FRAMED

        self._links = FRAMED
        self._candidate = re.compile(b"[" + b"".join(re.escape(bytes([b])) for b in sorted(FRAMED)) + b"]")
        self._buf = bytearray()
        self._base = 0  # stream offset of _buf[0]
        self._pos = 0  # scan position in _buf
        self._covered = 0  # buffer index up to which bytes belong to an emitted or pending frame
        self._garbage_from: int | None = None  # buffer index where the current garbage run began
        self._pending: tuple[int, int, str, str] | None = None  # (start, end, protocol, reason)
        self._received: float | None = None
        self.bytes_in = 0
        self.skipped = 0

    def feed(self, data: bytes, received: float | None = None) -> list[LinkFrame | Garbage]:
        self._buf += data
        self.bytes_in += len(data)
        self._received = received
        out: list[LinkFrame | Garbage] = []
        self._scan(out, final=False)
        self._trim()
        return out

    def flush(self) -> list[LinkFrame | Garbage]:
        out: list[LinkFrame | Garbage] = []
        self._scan(out, final=True)
        self._emit_pending(out, len(self._buf))
        self._garbage(out, len(self._buf))
        self._trim()
        return out

    def flush_garbage(self) -> list[LinkFrame | Garbage]:
        """Report the unrecognised bytes seen so far (call when the line goes quiet)."""
        out: list[LinkFrame | Garbage] = []
        if self._pending is None:
            self._garbage(out, self._pos)
            self._trim()
        return out

    @property
    def unreported_garbage(self) -> int:
        """Bytes in the current unrecognised run, not yet reported."""
        if self._garbage_from is None:
            return 0
        return max(0, self._pos - max(self._garbage_from, self._covered))

    # -- internals ---------------------------------------------------------------------------------
    def _garbage(self, out: list[LinkFrame | Garbage], upto: int) -> None:
        """Emit the garbage run ending at ``upto`` (exclusive), skipping covered bytes and idle flags."""
        g = self._garbage_from
        if g is None:
            return
        g = max(g, self._covered)
        self._garbage_from = None
        if g >= upto:
            return
        data = bytes(self._buf[g:upto])
        if data.count(HDLC_FLAG) == len(data):
            return  # idle flag fill between frames
        self.skipped += len(data)
        out.append(Garbage(data, self._base + g, self._received))

    def _emit_pending(self, out: list[LinkFrame | Garbage], cut: int) -> None:
        p = self._pending
        if p is None:
            return
        self._pending = None
        start, end, protocol, reason = p
        if cut < end:
            reason = (
                (
                    f"frame cut short after {cut - start} of {end - start} bytes: a new frame starts "
                    "inside it (bytes lost on the line?)"
                )
                if cut > start
                else reason
            )
            end = cut
        if self._garbage_from is not None and self._garbage_from < start:
            self._garbage(out, start)
        out.append(LinkFrame(protocol, bytes(self._buf[start:end]), self._base + start, False, reason, self._received))
        self._covered = max(self._covered, end)
        # bytes after the bad frame that the scan has already passed belong to the next garbage run
        self._garbage_from = end if self._garbage_from is None or self._garbage_from < end else self._garbage_from

    def _scan(self, out: list[LinkFrame | Garbage], final: bool) -> None:
        buf = self._buf
        n = len(buf)
        pos = self._pos
        search = self._candidate.search
        while pos < n:
            m = search(buf, pos)
            c = n if m is None else m.start()
            p = self._pending
            if p is not None and c >= p[1]:
                # the scan has passed the bad frame without finding a good one inside it: report it
                self._emit_pending(out, p[1])
            if c > pos and self._garbage_from is None:
                self._garbage_from = pos
            if m is None:
                pos = n
                break
            link = self._links[buf[c]]
            protocol = link.name
            assert link.check is not None
            total, reason = link.check(buf, c, n)
            if total == NEED:
                if not final:
                    pos = c
                    break
                if self._pending is None and self._plausible_start(c, n):
                    self._pending = (
                        c,
                        n,
                        protocol,
                        f"truncated: the input ended after {n - c} bytes "
                        "of a frame (unplugged, or the capture stopped mid-frame)",
                    )
                total = NO
            if total == NO or reason:
                if reason and self._pending is None:
                    self._pending = (c, c + total, protocol, reason)
                if self._garbage_from is None:
                    self._garbage_from = c
                pos = c + 1
                continue
            # a good frame at c
            if self._pending is not None:
                self._emit_pending(out, c)
            self._garbage(out, c)
            out.append(LinkFrame(protocol, bytes(buf[c : c + total]), self._base + c, True, "", self._received))
            self._covered = c + total
            # an HDLC closing flag may open the next frame
            pos = c + total - link.overlap
        self._pos = pos
        if (
            not final
            and self._pending is None
            and self._garbage_from is not None
            and pos - max(self._garbage_from, self._covered) >= MAX_GARBAGE_RUN
        ):
            self._garbage(out, pos)  # keep memory bounded on a stream of pure noise
        if final:
            p = self._pending
            if p is not None and p[1] <= n:
                self._emit_pending(out, p[1])

    def _plausible_start(self, c: int, n: int) -> bool:
        """At end of input: is this a frame header worth reporting as a truncated frame?"""
        plausible = self._links[self._buf[c]].plausible
        return plausible is not None and plausible(self._buf, c, n)

    def _trim(self) -> None:
        keep = self._pos
        if self._garbage_from is not None:
            keep = min(keep, max(self._garbage_from, self._covered))
        if self._pending is not None:
            keep = min(keep, self._pending[0])
        if keep <= 0:
            return
        del self._buf[:keep]
        self._base += keep
        self._pos -= keep
        self._covered = max(0, self._covered - keep)
        if self._garbage_from is not None:
            self._garbage_from = max(0, self._garbage_from - keep)
        if self._pending is not None:
            s, e, proto, reason = self._pending
            self._pending = (s - keep, e - keep, proto, reason)
