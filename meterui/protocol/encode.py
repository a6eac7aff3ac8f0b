"""Encoders: build HDLC / M-Bus frames, A-XDR data, DLMS APDUs and SKSTACK lines.

The inverse of the decoders, for tests, benchmarks and the bundled demo capture. Built from the same
specifications (protocols.md §1-§6), so a round trip through the decoder is a real check.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from datetime import datetime

from meterui.protocol import crypto
from meterui.protocol.crc import x25_bytes


# -- A-XDR ------------------------------------------------------------------------------------------
def length(n: int) -> bytes:
    """A-XDR/BER length."""
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def structure(*items: bytes) -> bytes:
    return b"\x02" + length(len(items)) + b"".join(items)


def array(items: Iterable[bytes]) -> bytes:
    items = list(items)
    return b"\x01" + length(len(items)) + b"".join(items)


def octets(b: bytes) -> bytes:
    return b"\x09" + length(len(b)) + b


def visible(s: str) -> bytes:
    raw = s.encode("ascii")
    return b"\x0a" + length(len(raw)) + raw


def utf8(s: str) -> bytes:
    raw = s.encode("utf-8")
    return b"\x0c" + length(len(raw)) + raw


def obis(code: str) -> bytes:
    return octets(bytes(int(x) for x in code.split(".")))


def obis_swapped(code: str) -> bytes:
    """An OBIS octet-string with its tag and length swapped (``06 09``): the L+G ZMF100 firmware quirk."""
    return b"\x06\x09" + bytes(int(x) for x in code.split("."))


def descriptor(class_id: int, code: str, attribute: int, data_index: int = 0) -> bytes:
    """One capture-object descriptor ``{class_id, logical_name, attribute_index, data_index}`` (18 bytes)."""
    return structure(u16(class_id), obis(code), i8(attribute), u16(data_index))


def descriptor_push(push_setup: str, objects: list[tuple[int, str, int, bytes]]) -> bytes:
    """A push body with its push-object list in-band (L+G E450): ``structure(N)`` whose first element is the
    array of descriptors (the first describing the array itself: class 40, ``push_setup``, attribute 2),
    then each object's value, in descriptor order. ``objects``: (class_id, OBIS, attribute, encoded value)."""
    descs = [descriptor(40, push_setup, 2)] + [descriptor(c, o, a) for c, o, a, _ in objects]
    return structure(array(descs), *[v for _, _, _, v in objects])


def u8(v: int) -> bytes:
    return b"\x11" + struct.pack(">B", v)


def i8(v: int) -> bytes:
    return b"\x0f" + struct.pack(">b", v)


def u16(v: int) -> bytes:
    return b"\x12" + struct.pack(">H", v)


def i16(v: int) -> bytes:
    return b"\x10" + struct.pack(">h", v)


def u32(v: int) -> bytes:
    return b"\x06" + struct.pack(">I", v)


def i32(v: int) -> bytes:
    return b"\x05" + struct.pack(">i", v)


def u64(v: int) -> bytes:
    return b"\x15" + struct.pack(">Q", v)


def i64(v: int) -> bytes:
    return b"\x14" + struct.pack(">q", v)


def f32(v: float) -> bytes:
    return b"\x17" + struct.pack(">f", v)


def f64(v: float) -> bytes:
    return b"\x18" + struct.pack(">d", v)


def enum(v: int) -> bytes:
    return b"\x16" + bytes([v])


def boolean(v: bool) -> bytes:
    return b"\x03" + (b"\x01" if v else b"\x00")


def null() -> bytes:
    return b"\x00"


def scaler_unit(scaler: int, unit: int) -> bytes:
    return structure(i8(scaler), enum(unit))


def cosem_datetime(dt: datetime | None, deviation: int | None = None, status: int | None = 0) -> bytes:
    """12-byte COSEM date-time; ``deviation`` in minutes local→UTC (UTC+1 is −60); None = not specified."""
    if dt is None:
        return b"\xff\xff" + b"\xff" * 7 + b"\x80\x00" + b"\xff"
    dev = 0x8000 if deviation is None else deviation & 0xFFFF
    return struct.pack(
        ">HBBBBBBBHB",
        dt.year,
        dt.month,
        dt.day,
        dt.isoweekday(),
        dt.hour,
        dt.minute,
        dt.second,
        0,
        dev,
        0xFF if status is None else status,
    )


# -- DLMS APDUs ------------------------------------------------------------------------------------
def data_notification(body: bytes, invoke_id: int = 0, dt: bytes | None = None, dt_form: str = "octet") -> bytes:
    """``0F`` APDU. ``dt_form``: ``octet`` (0C + 12), ``typed`` (09 0C + 12), ``datetime`` (19 + 12)."""
    if dt is None:
        head = b"\x00"
    elif dt_form == "typed":
        head = b"\x09\x0c" + dt
    elif dt_form == "datetime":
        head = b"\x19" + dt
    else:
        head = b"\x0c" + dt
    return b"\x0f" + invoke_id.to_bytes(4, "big") + head + body


def glo_ciphering(
    apdu: bytes, system_title: bytes, invocation_counter: int, key: bytes, sc: int = 0x20, auth_key: bytes | None = None
) -> bytes:
    """``DB`` general-glo-ciphering around ``apdu`` (with a 12-byte tag when SC has bit 0x10)."""
    content = (
        bytes([sc])
        + invocation_counter.to_bytes(4, "big")
        + crypto.encrypt(system_title, invocation_counter, sc, apdu, key, auth_key)
    )
    return b"\xdb" + length(len(system_title)) + system_title + length(len(content)) + content


def gbt_blocks(apdu: bytes, block_size: int) -> list[bytes]:
    """Split an APDU into general-block-transfer blocks (``E0`` control block ack len data)."""
    chunks = [apdu[i : i + block_size] for i in range(0, len(apdu), block_size)] or [b""]
    out = []
    for i, chunk in enumerate(chunks, 1):
        control = 0x80 if i == len(chunks) else 0x00
        out.append(b"\xe0" + bytes([control]) + i.to_bytes(2, "big") + b"\x00\x00" + length(len(chunk)) + chunk)
    return out


LLC = b"\xe6\xe7\x00"


# -- HDLC ------------------------------------------------------------------------------------------
def hdlc_frame(
    info: bytes, dest: bytes = b"\x41", src: bytes = b"\x08\x83", control: int = 0x13, segmented: bool = False
) -> bytes:
    """One HDLC frame type 3 with flags, HCS and FCS (addresses already in extended form)."""
    header_len = 2 + len(dest) + len(src) + 1
    length_ = header_len + (2 + len(info) if info else 0) + 2
    fmt = 0xA000 | (0x0800 if segmented else 0) | length_
    header = fmt.to_bytes(2, "big") + dest + src + bytes([control])
    body = header + (x25_bytes(header) + info if info else b"")
    return b"\x7e" + body + x25_bytes(body) + b"\x7e"


def hdlc_segments(info: bytes, max_info: int, **kw: object) -> list[bytes]:
    """Split an information field over S-bit segments (LLC only in the first, as Iskra sends it)."""
    parts = [info[i : i + max_info] for i in range(0, len(info), max_info)] or [b""]
    return [
        hdlc_frame(p, segmented=i < len(parts) - 1, control=0x03 if i < len(parts) - 1 else 0x13, **kw)  # type: ignore[arg-type]
        for i, p in enumerate(parts)
    ]


# -- M-Bus -----------------------------------------------------------------------------------------
def mbus_frame(data: bytes, ci: int, control: int = 0x53, address: int = 0xFF) -> bytes:
    body = bytes([control, address, ci]) + data
    if len(body) > 255:
        raise ValueError("M-Bus long frame data too long")
    return b"\x68" + bytes([len(body), len(body)]) + b"\x68" + body + bytes([sum(body) & 0xFF]) + b"\x16"


def mbus_frames(payload: bytes, max_data: int = 245, tsap: bytes = b"\x01\x67") -> list[bytes]:
    """Split a DLMS payload over M-Bus segments (CI = seq | 0x10 on the last), TSAP bytes in each."""
    parts = [payload[i : i + max_data] for i in range(0, len(payload), max_data)] or [b""]
    return [mbus_frame(tsap + p, (i & 0x0F) | (0x10 if i == len(parts) - 1 else 0)) for i, p in enumerate(parts)]


# -- ECHONET Lite / SKSTACK ------------------------------------------------------------------------
def echonet_frame(
    props: list[tuple[int, bytes]],
    esv: int = 0x72,
    tid: int = 1,
    seoj: bytes = b"\x02\x88\x01",
    deoj: bytes = b"\x05\xff\x01",
) -> bytes:
    out = b"\x10\x81" + tid.to_bytes(2, "big") + seoj + deoj + bytes([esv, len(props)])
    for epc, edt in props:
        out += bytes([epc, len(edt)]) + edt
    return out


def erxudp_line(
    edata: bytes,
    hex_mode: bool = True,
    sender: str = "FE80:0000:0000:0000:02FF:EEDD:CCBB:AA99",
    dest: str = "FE80:0000:0000:0000:02FF:EEDD:CCBB:AA88",
    lla: str = "00808700301224EF",
    side: int | None = None,
    rssi: int | None = None,
    secured: bool | None = True,
) -> bytes:
    """One ERXUDP line: 9 fields (BP35A1), 10 with ``side`` (BP35C0/C2), 11 with ``rssi`` and ``side``
    (BP35C2 with ``SKSREG SA2 1``), 8 with ``secured=None`` (older firmware without SECURED)."""
    fields = ["ERXUDP", sender, dest, "0E1A", "0E1A", lla]
    if rssi is not None:
        fields.append(f"{rssi & 0xFF:02X}")
    if secured is not None:
        fields.append("1" if secured else "0")
    if side is not None:
        fields.append(str(side))
    fields.append(f"{len(edata):04X}")
    head = " ".join(fields).encode("ascii") + b" "
    data = edata.hex().upper().encode("ascii") if hex_mode else edata
    return head + data + b"\r\n"
