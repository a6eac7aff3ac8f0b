"""Reading capture files: hex text (with ``#`` comments), raw bytes, SKSTACK transcripts."""

from __future__ import annotations

import re

from meterui.protocol.errors import LineError

_SEPARATORS = re.compile(r"[\s:,;\-]+|0[xX](?=[0-9a-fA-F])")
"""Between hex digits: whitespace, ``:``, ``,``, ``;``, ``-`` and ``0x`` prefixes."""
_NOT_HEX = re.compile(r"[^0-9a-fA-F]")
_PLAIN_HEX = re.compile(r"[0-9a-fA-F]*").fullmatch
"""A line that is nothing but hex digits (the common case: one frame per line)."""


class HexSyntaxError(LineError):
    """A character in hex input that is not a hex digit (``bad``)."""

    def __init__(self, bad: str) -> None:
        super().__init__(f"{bad!r} is not a hex digit")
        self.bad = bad


def hex_digits(line: str) -> str:
    """The hex digits of one line of hex text (``#`` starts a comment). Raises :class:`LineError`
    naming the first character that is not hex. The one syntax of hex input, captures and recordings."""
    text = line.split("#", 1)[0]
    if _PLAIN_HEX(text):  # fast path: nothing to clean
        return text
    try:  # whole bytes apart by ASCII whitespace (e.g. "7E A0 ..."): what bytes.fromhex accepts
        bytes.fromhex(text)
    except ValueError:
        pass
    else:
        return "".join(text.split())
    cleaned = _SEPARATORS.sub("", text)
    bad = _NOT_HEX.search(cleaned)
    if bad:
        raise HexSyntaxError(bad.group(0))
    return cleaned


def _numbered(lineno: int, line: str) -> str:
    try:
        return hex_digits(line)
    except LineError as exc:
        raise LineError(f"line {lineno}: {exc.message}") from None


def parse_hex_text(text: str) -> bytes:
    """Hex bytes in the syntax of :func:`hex_digits`; lines join into one byte stream. Raises
    :class:`LineError` naming the line of a bad character, or an odd number of digits."""
    joined = "".join(_numbered(n, line) for n, line in enumerate(text.splitlines(), 1))
    if len(joined) % 2:
        raise LineError("odd number of hex digits: the input ends in half a byte")
    return bytes.fromhex(joined)


_BOM = "\ufeff"
_CONTROL_BYTES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Characters hex text never holds (binary data often does)."""
_SHORT_HEAD = 64
"""A head shorter than this is the whole input (reads are larger): it must be complete, even hex."""


def looks_like_hex(head: bytes) -> bool:
    """Is this the start of a hex text file (hex digits, separators, ``#`` comments)?

    A UTF-8 byte-order mark is ignored. A short head (the whole input) must hold an even number of hex
    digits, so a few binary bytes that happen to be hex digits (``b"a"``, ``b"12\xff"``) are not hex."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # tolerate only a multi-byte character cut by the end of a long head (a read limit)
        if exc.reason != "unexpected end of data" or len(head) < _SHORT_HEAD or exc.start < len(head) - 3:
            return False
        text = head[: exc.start].decode("utf-8")
    text = text.removeprefix(_BOM)
    if not text.strip() or _CONTROL_BYTES.search(text):
        return False
    try:
        digits = sum(len(hex_digits(line)) for line in text.splitlines())
    except LineError:
        return False
    return digits > 0 and (len(head) >= _SHORT_HEAD or digits % 2 == 0)


class HexStream:
    """Incremental :func:`parse_hex_text` for large inputs: feed text in pieces of any size (split
    anywhere, even inside a line, a ``0x`` or a comment), get bytes; :meth:`finish` returns the rest.

    Memory stays bounded by the piece size: nothing waits for the end of a line. A UTF-8 byte-order
    mark at the start is skipped."""

    def __init__(self) -> None:
        self._carry = ""  # an odd hex digit waiting for its pair
        self._hold = ""  # the end of a piece that may continue in the next: "0", "0x", "\r"
        self._comment = False  # inside a "#" comment that has not ended yet
        self._line = 1
        self._start = True

    def feed(self, text: str) -> bytes:
        if self._start and text:
            self._start = False
            text = text.removeprefix(_BOM)
        text, self._hold = self._hold + text, ""
        cr = "\r" if text.endswith("\r") else ""  # a CR LF may be split: decide with the next piece
        out = self._digits(text[: len(text) - len(cr)], final=False)
        self._hold += cr
        return out

    def finish(self) -> bytes:
        """The last bytes; raises :class:`LineError` when the input ends in half a byte."""
        text, self._hold = self._hold, ""
        out = self._digits(text, final=True) if text else b""
        if self._carry:
            raise LineError("odd number of hex digits: the input ends in half a byte")
        return out

    def _digits(self, text: str, final: bool) -> bytes:
        if not self._carry and not self._comment:
            # Fast path: whole bytes separated by ASCII whitespace at most (no comments, no odd digit),
            # which ``bytes.fromhex`` parses in one call. Anything else takes the line-by-line path below,
            # which gives the same bytes for such text and names the line of any error.
            try:
                data = bytes.fromhex(text)
            except ValueError:
                pass
            else:
                self._line += len((text + "x").splitlines()) - 1  # the line breaks, as str.splitlines sees them
                return data
        digits: list[str] = [self._carry]
        for line in text.splitlines(keepends=True):
            body = line.splitlines()[0]
            complete = len(body) < len(line)
            if self._comment:
                if complete:
                    self._comment = False
                    self._line += 1
                continue
            if "#" in body:
                body = body.split("#", 1)[0]
                self._comment = not complete
            elif not complete and not final and body.endswith(("0", "0x", "0X")):
                # a "0x" prefix may be split between two pieces: hold its "0" (or "0x") back. The text is
                # cleaned up to and including that "0", which is the digit after any "0x" before it and
                # ends the digits, then the "0" is dropped from them
                self._hold = body[body.rindex("0") :]
                digits.append(_numbered(self._line, body[: body.rindex("0") + 1])[:-1])
                continue
            digits.append(_numbered(self._line, body))
            if complete:
                self._line += 1
        joined = "".join(digits)
        if len(joined) % 2:
            self._carry, joined = joined[-1], joined[:-1]
        else:
            self._carry = ""
        return bytes.fromhex(joined)
