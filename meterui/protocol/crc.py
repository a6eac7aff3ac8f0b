"""Checksums: CRC-16/X-25 for HDLC (RFC 1662 FCS-16, protocols.md §1.2)."""

from __future__ import annotations

from collections.abc import Callable

import crcmod.predefined

crc_x25: Callable[[bytes | bytearray], int] = crcmod.predefined.mkPredefinedCrcFun("x-25")
"""CRC-16/X-25: poly 0x1021 reflected, init 0xFFFF, xor-out 0xFFFF; sent little-endian."""

X25_GOOD = 0x0F47
"""``crc_x25(data + fcs)`` of a correct frame: the X-25 residue after the final XOR."""


def x25_bytes(data: bytes | bytearray) -> bytes:
    """The two check bytes to append to ``data``, in wire order."""
    return crc_x25(data).to_bytes(2, "little")
