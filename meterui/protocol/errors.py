"""The decoder's own error types. Decoders raise only these.

Each error names the layer that failed (``line``, ``frame``, ``crypto``, ``apdu``), and where it
can, the buffer offset and the path of the element being decoded, so the UI can point at the bytes.
"""

from __future__ import annotations


class MeterError(Exception):
    """Base of every error meterui's decoding core raises."""

    layer = "apdu"

    def __init__(self, message: str, *, offset: int | None = None, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.path = path


class LineError(MeterError):
    """The byte stream holds no recognisable frame or line (noise, wrong baud or parity)."""

    layer = "line"


class FramingError(MeterError):
    """A link-layer frame is malformed: bad HCS/FCS/checksum, truncated, or out of sequence."""

    layer = "frame"


class DecodeError(MeterError):
    """The APDU or A-XDR content cannot be parsed."""

    layer = "apdu"


class TruncatedError(DecodeError):
    """A read ran past the end of the buffer."""

    def __init__(self, offset: int, needed: int, available: int, *, path: str | None = None) -> None:
        super().__init__(
            f"truncated at offset {offset}: needed {needed} byte(s), {available} available",
            offset=offset,
            path=path,
        )
        self.needed = needed
        self.available = available


class DecryptionError(MeterError):
    """Ciphered content could not be decrypted or authenticated."""

    layer = "crypto"


class KeyMissingError(DecryptionError):
    """The frame is encrypted and no key was given."""


class KeyFormatError(MeterError, ValueError):
    """A key given by the user is not 16 bytes of hex."""

    layer = "crypto"
