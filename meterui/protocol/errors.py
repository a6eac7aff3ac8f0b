"""The decoder's own error types. Decoders raise only these.

Each error names the layer that failed (``line``, ``frame``, ``crypto``, ``apdu``), and where it
can, the buffer offset and the path of the element being decoded, so the UI can point at the bytes.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    """What went wrong, for code that must act on it (the wizard's verdict, the live screen's notice).

    Classify errors by ``kind`` (or by class), never by their wording.
    """

    NOISE = "noise"
    """Bytes that belong to no frame (line noise, wrong baud rate or parity)."""
    BAD_FRAME = "bad-frame"
    """A frame failed its checksum, was cut short or arrived out of sequence."""
    UNDECODED = "undecoded"
    """The APDU or A-XDR content cannot be parsed."""
    TRUNCATED = "truncated"
    KEY_MISSING = "key-missing"
    """The frame is encrypted and no key was given."""
    AUTH_FAILED = "auth-failed"
    """The GCM tag did not verify: wrong authentication or encryption key (or tampering)."""
    DECRYPT_GARBAGE = "decrypt-garbage"
    """Decryption produced plaintext that does not parse: the encryption key is probably wrong."""
    CRYPTO_UNSUPPORTED = "crypto-unsupported"
    BAD_KEY_FORMAT = "bad-key-format"


KEY_NEEDED = "an encryption key is needed; pass --key or enter it in the setup wizard"
"""The remedy of a :class:`KeyMissingError`, written once (the CLI, the wizard and the live screen show it)."""
AUTH_FAILED_TEXT = (
    "authentication failed: check the authentication key and the encryption key (or the frame was tampered with)"
)
"""The message (and remedy) of an :class:`AuthenticationError`, written once."""


class MeterError(Exception):
    """Base of every error meterui's decoding core raises."""

    layer = "apdu"
    kind = ErrorKind.UNDECODED

    def __init__(self, message: str, *, offset: int | None = None, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.path = path


class LineError(MeterError):
    """The byte stream holds no recognisable frame or line (noise, wrong baud or parity)."""

    layer = "line"
    kind = ErrorKind.NOISE


class FramingError(MeterError):
    """A link-layer frame is malformed: bad HCS/FCS/checksum, truncated, or out of sequence."""

    layer = "frame"
    kind = ErrorKind.BAD_FRAME


class DecodeError(MeterError):
    """The APDU or A-XDR content cannot be parsed."""

    layer = "apdu"


class TruncatedError(DecodeError):
    """A read ran past the end of the buffer."""

    kind = ErrorKind.TRUNCATED

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
    kind = ErrorKind.CRYPTO_UNSUPPORTED


class KeyMissingError(DecryptionError):
    """The frame is encrypted and no key was given."""

    kind = ErrorKind.KEY_MISSING


class AuthenticationError(DecryptionError):
    """The GCM tag did not verify (wrong authentication or encryption key, or a tampered frame)."""

    kind = ErrorKind.AUTH_FAILED


class DecryptGarbageError(DecryptionError):
    """Decryption produced plaintext that does not parse: the encryption key is probably wrong."""

    kind = ErrorKind.DECRYPT_GARBAGE


class KeyFormatError(MeterError, ValueError):
    """A key given by the user is not 16 bytes of hex."""

    layer = "crypto"
    kind = ErrorKind.BAD_KEY_FORMAT
