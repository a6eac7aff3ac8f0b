"""Reading capture files: hex text (with ``#`` comments), raw bytes, SKSTACK transcripts."""

from __future__ import annotations

import re

from meterui.protocol.errors import LineError

_HEX_LINE_JUNK = re.compile(r"[\s:,]+|0[xX](?=[0-9a-fA-F])")
_HEXISH = re.compile(rb"^[\s0-9a-fA-F:,xX]*$")


def parse_hex_text(text: str) -> bytes:
    """Hex bytes with optional whitespace, colons, commas, ``0x`` prefixes and ``#`` comments.

    Lines join into one byte stream. Raises :class:`LineError` naming the line of a bad character or
    an odd number of digits.
    """
    parts: list[str] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        code = line.split("#", 1)[0]
        cleaned = _HEX_LINE_JUNK.sub("", code)
        if not cleaned:
            continue
        bad = re.search(r"[^0-9a-fA-F]", cleaned)
        if bad:
            raise LineError(f"line {lineno}: {bad.group(0)!r} is not a hex digit")
        parts.append(cleaned)
    joined = "".join(parts)
    if len(joined) % 2:
        raise LineError("odd number of hex digits: the input ends in half a byte")
    return bytes.fromhex(joined)


def looks_like_hex(head: bytes) -> bool:
    """Is this the start of a hex text file (digits, separators, ``#`` comment lines)?"""
    lines = head.splitlines()
    if len(lines) > 1 and not head.endswith((b"\n", b"\r")):
        lines = lines[:-1]  # the last line may be cut mid-way; judge by the complete ones
    code = [ln.split(b"#", 1)[0] for ln in lines]
    significant = [c for c in code if c.strip()]
    if not significant:
        return bool(lines) and all(ln.lstrip().startswith(b"#") or not ln.strip() for ln in lines)
    return all(_HEXISH.match(c) for c in significant)


class HexStream:
    """Incremental :func:`parse_hex_text` for large files: feed complete lines, get bytes."""

    def __init__(self) -> None:
        self._carry = ""
        self._line = 0

    def feed(self, text: str) -> bytes:
        digits: list[str] = [self._carry]
        for line in text.splitlines():
            self._line += 1
            code = line.split("#", 1)[0]
            cleaned = _HEX_LINE_JUNK.sub("", code)
            if not cleaned:
                continue
            bad = re.search(r"[^0-9a-fA-F]", cleaned)
            if bad:
                raise LineError(f"line {self._line}: {bad.group(0)!r} is not a hex digit")
            digits.append(cleaned)
        joined = "".join(digits)
        if len(joined) % 2:
            self._carry, joined = joined[-1], joined[:-1]
        else:
            self._carry = ""
        return bytes.fromhex(joined)

    def finish(self) -> None:
        if self._carry:
            raise LineError("odd number of hex digits: the input ends in half a byte")
