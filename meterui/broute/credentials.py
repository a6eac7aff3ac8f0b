"""B-route credentials: validation the wizard and the CLI can call, and masking for every text shown.

The B-route ID is 32 ASCII characters (hex digits and letters as issued by the power company) and the
password 12 ASCII characters (protocols.md §6.3). Neither is ever printed, logged or shown in full.
"""

from __future__ import annotations

ID_LENGTH = 32
PASSWORD_LENGTH = 12


class CredentialError(ValueError):
    """A B-route ID or password that cannot be right. The message never contains the value."""


def _printable(text: str) -> bool:
    return all(0x21 <= ord(c) <= 0x7E for c in text)


def validate_id(text: str | None) -> str:
    """Return the B-route ID (spaces removed, upper case) or raise :class:`CredentialError`."""
    if not text:
        raise CredentialError("B-route ID is missing (32 characters, from the power company)")
    value = "".join(text.split()).upper()
    if len(value) != ID_LENGTH:
        raise CredentialError(f"B-route ID must be {ID_LENGTH} characters, got {len(value)}")
    if not value.isascii() or not value.isalnum():
        raise CredentialError("B-route ID must contain only letters and digits")
    return value


def validate_password(text: str | None) -> str:
    """Return the B-route password (surrounding spaces removed) or raise :class:`CredentialError`."""
    if not text:
        raise CredentialError("B-route password is missing (12 characters, from the power company)")
    value = text.strip()
    if len(value) != PASSWORD_LENGTH:
        raise CredentialError(f"B-route password must be {PASSWORD_LENGTH} characters, got {len(value)}")
    if not _printable(value):
        raise CredentialError("B-route password must be printable ASCII without spaces")
    return value


def mask(secret: str) -> str:
    """A placeholder for a secret in text: only its length, never any of its characters."""
    return f"<{len(secret)} characters hidden>"
