"""SKSTACK-IP command encoders, ECHONET Lite request encoders and the module's response parsers.

Sans-IO and table-driven: everything here turns values into the exact bytes a Wi-SUN module expects
(protocols.md §6.2–§6.6) or module lines into values. Incoming ERXUDP lines and ECHONET Lite frames
are parsed by :mod:`meterui.protocol.skstack` and :mod:`meterui.protocol.echonet`, not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

CRLF = b"\r\n"
ECHONET_PORT = "0E1A"
CONTROLLER_EOJ = bytes((0x05, 0xFF, 0x01))
METER_EOJ = bytes((0x02, 0x88, 0x01))
NODE_PROFILE_EOJ = bytes((0x0E, 0xF0, 0x01))
ESV_SETC = 0x61
ESV_GET = 0x62
ESV_INFC_RES = 0x7A
SCAN_MODE_ACTIVE = 2
SCAN_ALL_CHANNELS = "FFFFFFFF"
SCAN_CHANNELS = 28
"""Channels 33–60 (0x21–0x3C) are scanned by a full-mask active scan."""


def scan_seconds(duration: int) -> float:
    """How long ``SKSCAN 2 FFFFFFFF <duration>`` takes: 0.0096·(2^D+1) s per channel × 28 channels."""
    return 0.0096 * (2**duration + 1) * SCAN_CHANNELS


# -- SKSTACK-IP commands -------------------------------------------------------------------------
def cmd(*parts: str) -> bytes:
    """One command line, words separated by single spaces, ended with CR LF."""
    return " ".join(parts).encode("ascii") + CRLF


def skver() -> bytes:
    return cmd("SKVER")


def skinfo() -> bytes:
    return cmd("SKINFO")


def ropt() -> bytes:
    """Read the ERXUDP data format (momonga ends ROPT/WOPT with CR only; both work)."""
    return b"ROPT\r"


def wopt(hex_mode: bool) -> bytes:
    """Write the ERXUDP data format to flash (limited write cycles: only after ROPT says otherwise)."""
    return b"WOPT " + (b"01" if hex_mode else b"00") + b"\r"


def sksetpwd(password: str) -> bytes:
    return cmd("SKSETPWD", f"{len(password):X}", password)


def sksetrbid(rbid: str) -> bytes:
    return cmd("SKSETRBID", rbid)


def sksreg(register: str, value: str | None = None) -> bytes:
    return cmd("SKSREG", register) if value is None else cmd("SKSREG", register, value)


def skscan(duration: int, side: bool) -> bytes:
    parts = ["SKSCAN", str(SCAN_MODE_ACTIVE), SCAN_ALL_CHANNELS, str(duration)]
    return cmd(*parts, "0") if side else cmd(*parts)


def skll64(mac: str) -> bytes:
    return cmd("SKLL64", mac)


def skjoin(ipv6: str) -> bytes:
    return cmd("SKJOIN", ipv6)


def skterm() -> bytes:
    return cmd("SKTERM")


def sksendto(ipv6: str, payload: bytes, side: bool, handle: int = 1, sec: int = 1) -> bytes:
    """``SKSENDTO`` with the raw binary payload after DATALEN (no line end after the data)."""
    parts = ["SKSENDTO", str(handle), ipv6, ECHONET_PORT, str(sec)]
    if side:
        parts.append("0")
    parts.append(f"{len(payload):04X}")
    return " ".join(parts).encode("ascii") + b" " + payload


SECRET_COMMANDS = (b"SKSETPWD ", b"SKSETRBID ")


def redact(data: bytes) -> bytes:
    """``data`` with the password or ID of a ``SKSETPWD``/``SKSETRBID`` write replaced by ``*``.

    For anything that records or shows what a session wrote (recordings, logs, the inspector).
    """
    for head in SECRET_COMMANDS:
        if data.startswith(head):
            body = data[len(head) :]
            end = len(body.rstrip(b"\r\n"))
            words = body[:end].split(b" ")
            words[-1] = b"*" * len(words[-1])
            return head + b" ".join(words) + body[end:]
    return data


# -- ECHONET Lite requests -----------------------------------------------------------------------
def echonet_request(
    tid: int, esv: int, props: list[tuple[int, bytes]], deoj: bytes = METER_EOJ, seoj: bytes = CONTROLLER_EOJ
) -> bytes:
    """An EDATA format 1 frame (protocols.md §6.6)."""
    out = bytearray(b"\x10\x81")
    out += (tid & 0xFFFF).to_bytes(2, "big") + seoj + deoj + bytes((esv, len(props)))
    for epc, edt in props:
        out += bytes((epc, len(edt))) + edt
    return bytes(out)


def get_request(tid: int, epcs: list[int]) -> bytes:
    """Get (0x62) of the meter's properties, e.g. ``get_request(1, [0xE7])``."""
    return echonet_request(tid, ESV_GET, [(epc, b"") for epc in epcs])


def set_history_day(tid: int, day: int) -> bytes:
    """SetC (0x61) E5: the day that history 1 (E2/E4) reports, 0 = today … 99."""
    if not 0 <= day <= 99:
        raise ValueError("history day must be 0..99")
    return echonet_request(tid, ESV_SETC, [(0xE5, bytes((day,)))])


def set_history2_start(tid: int, year: int, month: int, day: int, hour: int, minute: int, count: int) -> bytes:
    """SetC (0x61) ED: start time and number of 30-minute slots for history 2 (EC)."""
    edt = year.to_bytes(2, "big") + bytes((month, day, hour, minute, count))
    return echonet_request(tid, ESV_SETC, [(0xED, edt)])


def infc_response(tid: int, seoj: bytes, deoj: bytes, epcs: list[int]) -> bytes:
    """INFC_Res (0x7A) answering an INFC: the same EPCs, PDC 0 (protocols.md §6.6, momonga)."""
    return echonet_request(tid, ESV_INFC_RES, [(epc, b"") for epc in epcs], deoj=deoj, seoj=seoj)


# -- module responses ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PanDescriptor:
    """One ``EPANDESC`` block: what ``SKSREG S2/S3`` and ``SKLL64`` need, plus signal quality."""

    channel: int
    pan_id: int
    addr: str
    lqi: int
    channel_page: int | None = None
    pair_id: str | None = None
    side: int | None = None

    @property
    def rssi_dbm(self) -> float:
        """RSSI ≈ 0.275·LQI − 104.27 dBm (protocols.md §6.3)."""
        return round(0.275 * self.lqi - 104.27, 1)

    def to_dict(self) -> dict[str, str | int]:
        out: dict[str, str | int] = {"channel": self.channel, "pan_id": self.pan_id, "addr": self.addr, "lqi": self.lqi}
        if self.pair_id:
            out["pair_id"] = self.pair_id
        return out

    def to_config(self) -> str:
        """The compact form kept in the config file: ``channel pan_id addr lqi`` in hex."""
        return f"{self.channel:02X} {self.pan_id:04X} {self.addr} {self.lqi:02X}"

    @classmethod
    def from_config(cls, text: str) -> PanDescriptor | None:
        """Read :meth:`to_config`'s form; ``None`` when it is malformed."""
        parts = text.split()
        if len(parts) != 4:
            return None
        try:
            channel, pan_id, lqi = int(parts[0], 16), int(parts[1], 16), int(parts[3], 16)
        except ValueError:
            return None
        return cls.from_dict({"channel": channel, "pan_id": pan_id, "addr": parts[2], "lqi": lqi})

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> PanDescriptor | None:
        """A cached scan from the configuration, ``None`` when it is incomplete or malformed."""
        try:
            channel, pan_id, lqi = (int(str(data[k])) for k in ("channel", "pan_id", "lqi"))
            addr = str(data["addr"]).upper()
        except (KeyError, ValueError, TypeError):
            return None
        if not (
            0x21 <= channel <= 0x3C
            and 0 <= pan_id <= 0xFFFF
            and len(addr) == 16
            and all(c in "0123456789ABCDEF" for c in addr)
        ):
            return None
        pair = data.get("pair_id")
        return cls(channel, pan_id, addr, lqi, pair_id=str(pair) if pair else None)


class PanDescParser:
    """Collects the indented ``Key:Value`` lines after ``EPANDESC`` into :class:`PanDescriptor` s."""

    def __init__(self) -> None:
        self.fields: dict[str, str] | None = None

    def begin(self) -> None:
        self.fields = {}

    def line(self, text: str) -> bool:
        """Take one line; ``False`` when it is not a descriptor field (the block has ended)."""
        if self.fields is None or not text.startswith("  ") or ":" not in text:
            return False
        key, _, value = text.strip().partition(":")
        self.fields[key.strip().lower()] = value.strip()
        return True

    def end(self) -> PanDescriptor | None:
        fields, self.fields = self.fields, None
        if not fields:
            return None
        try:
            channel = int(fields["channel"], 16)
            pan_id = int(fields["pan id"], 16)
            addr = fields["addr"].upper()
            lqi = int(fields.get("lqi", "0"), 16)
            page = int(fields["channel page"], 16) if "channel page" in fields else None
            side = int(fields["side"]) if fields.get("side", "").isdigit() else None
        except (KeyError, ValueError):
            return None
        if len(addr) != 16:
            return None
        return PanDescriptor(channel, pan_id, addr, lqi, page, fields.get("pairid"), side)


def link_local(mac: str) -> str:
    """The IPv6 link-local address of a 64-bit MAC (U/L bit flipped), as ``SKLL64`` prints it."""
    raw = bytearray(bytes.fromhex(mac))
    raw[0] ^= 0x02
    groups = [raw[i : i + 2].hex().upper() for i in range(0, 8, 2)]
    return "FE80:0000:0000:0000:" + ":".join(groups)


def is_single_stack(einfo: str) -> bool:
    """BP35A1-style module from an ``EINFO`` line: its 5th field (ADDR16) is ``FFFE`` (momonga)."""
    tokens = einfo.split()
    return len(tokens) >= 6 and tokens[5].upper() == "FFFE"


def ropt_hex_mode(ok_line: str) -> bool | None:
    """``OK 01`` → ASCII hex data, ``OK 00`` → binary, anything else → unknown."""
    tokens = ok_line.split()
    if len(tokens) == 2 and tokens[0] == "OK" and tokens[1] in ("00", "01"):
        return tokens[1] == "01"
    return None
