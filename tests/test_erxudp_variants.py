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
