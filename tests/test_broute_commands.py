"""SKSTACK-IP/ECHONET encoders, module-line parsers, credential checks and the cached scan in the config."""

from __future__ import annotations

from pathlib import Path

import pytest

from meterui.broute import commands as C
from meterui.broute.commands import PanDescParser, PanDescriptor
from meterui.broute.credentials import CredentialError, mask, validate_id, validate_password
from meterui.config import Config, load_config, save_config
from meterui.protocol.echonet import decode_edata

RBID = "0123456789abcdef0123456789ABCDEF"
PASSWORD = "Secret-12345"


def test_credentials_validated_without_echoing_them() -> None:
    assert validate_id(" 01234567 89abcdef0123456789ABCDEF ") == RBID.upper()
    assert validate_password(f" {PASSWORD} ") == PASSWORD
    for bad in ("", "0123", RBID + "0", RBID[:-1] + "-"):
        with pytest.raises(CredentialError) as exc:
            validate_id(bad)
        assert not bad or bad not in str(exc.value)
    for bad in ("", "short", PASSWORD + "x", "Secret 12345", "Sécret-12345"):
        with pytest.raises(CredentialError) as exc:
            validate_password(bad)
        assert not bad or bad not in str(exc.value)
    assert PASSWORD not in mask(PASSWORD) and "12" in mask(PASSWORD)


def test_command_encoders() -> None:
    assert C.sksetpwd(PASSWORD) == b"SKSETPWD C Secret-12345\r\n"
    assert C.sksetrbid(RBID) == f"SKSETRBID {RBID}\r\n".encode()
    assert C.skscan(6, side=False) == b"SKSCAN 2 FFFFFFFF 6\r\n"
    assert C.skscan(7, side=True) == b"SKSCAN 2 FFFFFFFF 7 0\r\n"
    assert C.sksreg("S2", "21") == b"SKSREG S2 21\r\n"
    assert C.ropt() == b"ROPT\r" and C.wopt(True) == b"WOPT 01\r"
    ip = "FE80:0000:0000:0000:0280:8700:3012:24EF"
    frame = C.get_request(1, [0xE7])
    assert frame == bytes.fromhex("1081000105FF010288016201E700")  # protocols.md §6.6 example
    assert C.sksendto(ip, frame, side=False) == f"SKSENDTO 1 {ip} 0E1A 1 000E ".encode() + frame
    assert C.sksendto(ip, frame, side=True) == f"SKSENDTO 1 {ip} 0E1A 1 0 000E ".encode() + frame
    assert round(C.scan_seconds(6), 1) == 17.5


def test_echonet_requests_decode_with_the_project_decoder() -> None:
    setc = decode_edata(C.set_history_day(7, 3))
    assert (setc.tid, setc.esv, setc.deoj) == (7, 0x61, 0x028801) and setc.error is None
    infc = C.infc_response(9, C.METER_EOJ, C.CONTROLLER_EOJ, [0xEA])
    res = decode_edata(infc)
    assert (res.esv, res.seoj, res.deoj, res.tid) == (0x7A, 0x028801, 0x05FF01, 9)
    ed = decode_edata(C.set_history2_start(1, 2026, 11, 28, 23, 30, 6))
    assert ed.error is None and ed.esv == 0x61
    with pytest.raises(ValueError):
        C.set_history_day(1, 100)


def test_link_local_flips_the_universal_local_bit() -> None:
    assert C.link_local("001D129012345678") == "FE80:0000:0000:0000:021D:1290:1234:5678"
    assert C.link_local("02808700301224EF") == "FE80:0000:0000:0000:0080:8700:3012:24EF"


def test_einfo_and_ropt() -> None:
    assert C.is_single_stack("EINFO FE80:0000:0000:0000:021D:1290:1234:5678 001D129012345678 21 8888 FFFE")
    assert not C.is_single_stack("EINFO FE80:0000:0000:0000:021D:1290:1234:5678 001D129012345678 21 8888 0000")
    assert C.ropt_hex_mode("OK 01") is True and C.ropt_hex_mode("OK 00") is False
    assert C.ropt_hex_mode("OK") is None and C.ropt_hex_mode("FAIL ER04") is None


def test_pandesc_block() -> None:
    p = PanDescParser()
    p.begin()
    for line in (
        "  Channel:2D",
        "  Channel Page:09",
        "  Pan ID:8888",
        "  Addr:00808700301224EF",
        "  LQI:A0",
        "  Side:0",
        "  PairID:00AABBCC",
    ):
        assert p.line(line)
    assert not p.line("EVENT 22 FE80:0000:0000:0000:021D:1290:1234:5678")
    pan = p.end()
    assert pan == PanDescriptor(0x2D, 0x8888, "00808700301224EF", 0xA0, 9, "00AABBCC", 0)
    assert pan.rssi_dbm == -60.3  # 0.275 × 160 − 104.27
    p.begin()
    p.line("  Channel:ZZ")
    assert p.end() is None


def test_cached_scan_round_trips_through_the_config(tmp_path: Path) -> None:
    pan = PanDescriptor(0x2D, 0x8888, "00808700301224EF", 0xA0)
    assert PanDescriptor.from_config(pan.to_config()) == pan
    assert PanDescriptor.from_dict(pan.to_dict()) == pan
    for bad in ("", "2D 8888", "XX 8888 00808700301224EF A0", "10 8888 00808700301224EF A0", "2D 8888 0080870030 A0"):
        assert PanDescriptor.from_config(bad) is None
    path = tmp_path / "config.toml"
    save_config(Config(port="/dev/ttyUSB0", broute_scan=pan.to_config()), path)
    loaded = load_config(path)
    assert loaded is not None and loaded.broute_scan == pan.to_config()
    save_config(Config(port="/dev/ttyUSB0"), path)
    loaded = load_config(path)
    assert loaded is not None and loaded.broute_scan is None


def test_redact_hides_credentials_in_recorded_writes() -> None:
    assert C.redact(C.sksetpwd(PASSWORD)) == b"SKSETPWD C ************\r\n"
    assert C.redact(C.sksetrbid(RBID)) == b"SKSETRBID " + b"*" * 32 + b"\r\n"
    frame = C.get_request(1, [0xE7])
    assert C.redact(C.skver()) == C.skver()
    assert C.redact(C.sksendto("FE80:0000:0000:0000:0280:8700:3012:24EF", frame, side=False)).endswith(frame)
