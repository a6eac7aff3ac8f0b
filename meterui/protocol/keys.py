"""Parsing and masking of user-supplied AES keys. Keys never appear in output or logs."""

from __future__ import annotations

import re

from meterui.protocol.errors import KeyFormatError

_SEPARATORS = re.compile(r"[\s:\-_,]+")


def parse_key(text: str | bytes | None, what: str = "key") -> bytes | None:
    """Parse a 128-bit key written as hex.

    Accepts spaces, colons, dashes, ``0x`` prefixes (whole or per byte) and any case. Returns ``None``
    for an empty value. Raises :class:`KeyFormatError` (without echoing the key) otherwise.
    """
    if text is None:
        return None
    if isinstance(text, bytes | bytearray):
        if len(text) == 16:
            return bytes(text)
        text = text.decode("ascii", "replace")
    # one ``0x`` may open the whole value or each separated group ("0x00 0x01 …"), nowhere else
    cleaned = "".join(g[2:] if g[:2] in ("0x", "0X") else g for g in _SEPARATORS.split(text.strip()))
    if not cleaned:
        return None
    if not re.fullmatch(r"[0-9a-fA-F]*", cleaned):
        raise KeyFormatError(f"the {what} must be hexadecimal digits (0-9, A-F)")
    if len(cleaned) != 32:
        raise KeyFormatError(f"the {what} must be 32 hex digits (16 bytes); got {len(cleaned)} digit(s)")
    return bytes.fromhex(cleaned)


def mask_key(key: bytes | str | None) -> str:
    """A display form that says whether a key is set without revealing it."""
    if not key:
        return "(none)"
    return "•" * 8 + " (set)"
