"""ERXUDP lines with 8, 9, 10 or 11 fields (meter-lists.md §5), in ASCII-hex and binary data modes."""

from __future__ import annotations

import pytest

from meterui.protocol import encode as E
from meterui.protocol.errors import LineError
from meterui.protocol.skstack import SkstackDecoder

# E7 = 0x0D0A2020 W: binary DATA that contains CR LF and spaces
EDATA = E.echonet_frame([(0xE7, (0x0D0A2020).to_bytes(4, "big"))])

VARIANTS = {
    "8 fields (no SECURED)": {"secured": None},
    "9 fields (BP35A1)": {},
    "10 fields (SIDE)": {"side": 0},
    "11 fields (RSSI, SIDE)": {"side": 0, "rssi": 0x9C},
}


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("hex_mode", [True, False], ids=["hex", "binary"])
def test_erxudp_field_counts(variant: str, hex_mode: bool) -> None:
    line = E.erxudp_line(EDATA, hex_mode=hex_mode, **VARIANTS[variant])  # type: ignore[arg-type]
    n_fields = len(line.split(b" ")) if hex_mode else None
    if n_fields is not None:
        assert n_fields == int(variant.split()[0])
    d = SkstackDecoder(strict=True)
    msgs = d.feed(line + line) + d.flush()
    assert len(msgs) == 2
    for m in msgs:
        assert m.ok, m.error
        assert [(r.id, r.value, r.unit) for r in m.readings] == [("E7", 0x0D0A2020, "W")]
    keys = [c.key for c in msgs[0].root.find("line").children]  # type: ignore[union-attr]
    assert "datalen" in keys and ("secured" in keys) == (variant != "8 fields (no SECURED)")
    assert ("side" in keys) == ("SIDE" in variant) and ("rssi" in keys) == ("RSSI" in variant)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_datalen_is_checked_against_hex_data(variant: str) -> None:
    line = E.erxudp_line(EDATA, **VARIANTS[variant])  # type: ignore[arg-type]
    bad = line[:-4] + b"\r\n"  # one byte of hex DATA missing
    good = E.erxudp_line(EDATA)
    d = SkstackDecoder(strict=True)
    msgs = d.feed(bad + good) + d.flush()
    assert isinstance(msgs[0].error, LineError) and "DATALEN" in msgs[0].error.message
    assert msgs[1].ok  # the stream recovers


def test_file_energy_before_d3_and_e1_gets_its_unit_once_they_arrive() -> None:
    """E0 arrives first, then E7, then D3 and E1: with ``hold_unscaled`` (files) E0 comes out in kWh, in order."""
    e0 = E.erxudp_line(E.echonet_frame([(0xE0, (123456).to_bytes(4, "big"))]))
    e7 = E.erxudp_line(EDATA)
    d3e1 = E.erxudp_line(E.echonet_frame([(0xD3, (1).to_bytes(4, "big")), (0xE1, b"\x01")]))
    live = SkstackDecoder(strict=True)
    msgs = live.feed(e0 + e7 + d3e1) + live.flush()
    assert (msgs[0].readings[0].value, msgs[0].readings[0].unit) == (123456, None)  # live: raw until known
    files = SkstackDecoder(strict=True, hold_unscaled=True)
    out = files.feed(e0 + e7)
    assert out == []  # held: the unit is not known yet
    out += files.feed(d3e1) + files.flush()
    assert [m.readings[0].id for m in out] == ["E0", "E7", "D3"]
    r = out[0].readings[0]
    assert r.value == pytest.approx(12345.6) and r.unit == "kWh"
    assert "arrived later" in str(r.node.note)  # type: ignore[union-attr]


def test_file_energy_without_d3_e1_is_released_raw_at_the_end() -> None:
    e0 = E.erxudp_line(E.echonet_frame([(0xE0, (123456).to_bytes(4, "big"))]))
    d = SkstackDecoder(strict=True, hold_unscaled=True)
    out = d.feed(e0) + d.flush()
    assert len(out) == 1 and (out[0].readings[0].value, out[0].readings[0].unit) == (123456, None)


def test_cli_decode_of_a_transcript_scales_early_energy(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import json

    from meterui.cli import main

    path = tmp_path / "t.log"
    path.write_bytes(
        E.erxudp_line(E.echonet_frame([(0xE0, (123456).to_bytes(4, "big"))]))
        + E.erxudp_line(E.echonet_frame([(0xD3, (1).to_bytes(4, "big")), (0xE1, b"\x01")]))
    )
    assert main(["decode", str(path), "--output", "json"]) == 0
    objs = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    e0 = objs[0]["readings"][0]
    assert e0["id"] == "E0" and e0["unit"] == "kWh" and e0["value"] == pytest.approx(12345.6)
