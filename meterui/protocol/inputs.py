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


def looks_like_hex(head: bytes) -> bool:
    """Is this the start of a hex text file (hex digits, separators, ``#`` comments)?"""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a multi-byte character cut at the end of the head
            return False
        text = head[:exc.start].decode("utf-8", "replace")
    if not text.strip():
        return False
    try:
        for line in text.splitlines():
            hex_digits(line)
    except LineError:
        return False
    return True


class HexStream:
    """Incremental :func:`parse_hex_text` for large files: feed complete lines, get bytes."""

    def __init__(self) -> None:
        self._carry = ""
        self._line = 0

    def feed(self, text: str) -> bytes:
        if not self._carry:
            # Fast path: whole bytes separated by ASCII whitespace at most (no comments, no odd digit),
            # which ``bytes.fromhex`` parses in one call. Anything else takes the line-by-line path below,
            # which gives the same bytes for such text and names the line of any error.
            try:
                data = bytes.fromhex(text)
            except ValueError:
                pass
            else:
                self._line += len(text.splitlines())
                return data
        digits: list[str] = [self._carry]
        for line in text.splitlines():
            self._line += 1
            digits.append(_numbered(self._line, line))
        joined = "".join(digits)
        if len(joined) % 2:
            self._carry, joined = joined[-1], joined[:-1]
        else:
            self._carry = ""
        return bytes.fromhex(joined)

    def finish(self) -> None:
        if self._carry:
            raise LineError("odd number of hex digits: the input ends in half a byte")
