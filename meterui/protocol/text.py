"""Text safety: decoded strings shown on a terminal never carry terminal control characters.

A meter, a radio module or a crafted capture can put ESC sequences (retitle, clear, move the cursor) into
a visible-string or an SKSTACK field. Everything decoded that becomes display text goes through
:func:`printable`; JSON output keeps the raw value (JSON-escaped).
"""

from __future__ import annotations

_CONTROLS = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]
_ESCAPES = {c: f"\\x{c:02x}" for c in _CONTROLS}
"""C0 controls, DEL and C1 controls as ``\\xNN``."""
_JSON_ESCAPES = {c: f"\\u{c:04x}" for c in (0x7F, *range(0x80, 0xA0))}
"""What ``json.dumps(ensure_ascii=False)`` leaves raw but a terminal may act on: DEL and C1 controls."""


def printable(text: str) -> str:
    """``text`` with C0 controls (tab and newline included), DEL and C1 controls escaped as ``\\xNN``."""
    if text.isascii() and text.isprintable():
        return text  # the common case, fast
    return text.translate(_ESCAPES)


def json_safe(encoded: str) -> str:
    """JSON text from ``json.dumps(..., ensure_ascii=False)`` with DEL and C1 controls escaped as ``\\u00NN``
    too (C0 controls already are): the same JSON value, safe to print on a terminal."""
    if encoded.isascii() and "\x7f" not in encoded:
        return encoded
    return encoded.translate(_JSON_ESCAPES)
