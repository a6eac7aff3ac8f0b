"""B-route path: SKSTACK-IP transcript lines → ECHONET Lite frames → readings (protocols.md §6)."""

from __future__ import annotations

import json
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterui.protocol.echonet import EchonetState, decode_edata
from meterui.protocol.errors import DecodeError, LineError, MeterError, TruncatedError
from meterui.protocol.message import Message, Reading
from meterui.protocol.skstack import SkEvent, SkstackDecoder, parse_event_line
from meterui.protocol.spans import Node, tiling_gaps

VECTORS_DIR = Path(__file__).resolve().parent / "data" / "vectors"
VECTORS = {v["id"]: v for v in json.loads((VECTORS_DIR / "echonet.json").read_text())}

METER = "FE80:0000:0000:0000:02FF:EEDD:CCBB:AA99"
OTHER = "FE80:0000:0000:0000:02FF:EEDD:CCBB:AA77"
HOST = "FE80:0000:0000:0000:02FF:EEDD:CCBB:AA88"
LLA = "00808700301224EF"
# EHD1 EHD2 | TID  | SEOJ (meter) | DEOJ (controller) | ESV Get_Res
GET_RES = "1081000102880105FF0172"


# -- helpers -------------------------------------------------------------------------------------


def vline(vid: str) -> bytes:
    """A vector's ERXUDP line in ASCII-hex mode (``WOPT 01``), with CR LF."""
    return VECTORS[vid]["line"].encode() + b"\r\n"


def to_binary(line: bytes) -> bytes:
    """The same ERXUDP line as a module in binary mode (the default) would print it."""
    head, _, data = line.rstrip(b"\r\n").rpartition(b" ")
    return head + b" " + bytes.fromhex(data.decode()) + b"\r\n"


def erxudp(edata_hex: str, *, sender: str = METER, middle: str = "1", binary: bool = False) -> bytes:
    """Build an ERXUDP line; ``middle`` is what sits between SENDERLLA and DATALEN."""
    edata = bytes.fromhex(edata_hex)
    head = f"ERXUDP {sender} {HOST} 0E1A 0E1A {LLA} {middle} {len(edata):04X} ".encode()
    return head + (edata if binary else edata.hex().upper().encode()) + b"\r\n"


def frame(*props: str, esv: str = "72", seoj: str = "028801", deoj: str = "05FF01") -> str:
    """An ECHONET Lite frame with the given ``EPC PDC EDT`` property hex strings."""
    return f"10810001{seoj}{deoj}{esv}{len(props):02X}" + "".join(props)


def check(msgs: list[Message]) -> list[Message]:
    for m in msgs:
        assert tiling_gaps(m.root, m.buffers) == [], m
        assert m.protocol == "echonet"
        assert m.error is None or isinstance(m.error, MeterError)
        for s, e in m.offsets:
            assert 0 <= s < e
        assert m.offsets[0][1] - m.offsets[0][0] == len(m.buffers["line"])
    return msgs


def decode(*chunks: bytes, decoder: SkstackDecoder | None = None) -> list[Message]:
    d = decoder or SkstackDecoder(strict=True)
    out: list[Message] = []
    for c in chunks:
        out += d.feed(c)
    out += d.flush()
    return check(out)


def one(data: bytes, decoder: SkstackDecoder | None = None) -> Message:
    msgs = decode(data, decoder=decoder)
    assert len(msgs) == 1
    return msgs[0]


def rd(msg: Message) -> dict[str, Reading]:
    return {r.id: r for r in msg.readings}


def summary(msgs: list[Message]) -> list[tuple]:
    return [
        (
            m.offsets,
            m.buffers,
            None if m.error is None else m.error.message,
            [r.to_json() for r in m.readings],
            m.meter,
            m.clock,
        )
        for m in msgs
    ]


# -- the shared vectors --------------------------------------------------------------------------


def test_vector_d3() -> None:
    m = one(vline("echonet-D3"))
    assert m.ok and rd(m)["D3"].value == VECTORS["echonet-D3"]["expected"]["coefficient"] == 1


def test_vector_d7() -> None:
    m = one(vline("echonet-D7"))
    assert rd(m)["D7"].value == VECTORS["echonet-D7"]["expected"]["effective_digits"] == 6


def test_vector_e1() -> None:
    r = rd(one(vline("echonet-E1")))["E1"]
    assert f"{r.value} {r.unit}" == VECTORS["echonet-E1"]["expected"]["unit"] == "0.1 kWh"


def test_vector_e0_alone_is_raw() -> None:
    r = rd(one(vline("echonet-E0")))["E0"]
    assert r.value == VECTORS["echonet-E0"]["expected"]["cumulative_raw"] == 86536
    assert isinstance(r.value, int) and r.unit is None
    assert r.quantity == "active_energy_import"


@pytest.mark.parametrize("binary", [False, True], ids=["hex", "binary"])
def test_vector_e0_scaled_after_d3_and_e1(binary: bool) -> None:
    lines = [vline(v) for v in ("echonet-D3", "echonet-E1", "echonet-E0")]
    if binary:
        lines = [to_binary(x) for x in lines]
    msgs = decode(b"".join(lines))
    assert len(msgs) == 3 and all(m.ok for m in msgs)
    r = rd(msgs[2])["E0"]
    assert r.value == VECTORS["echonet-E0"]["expected"]["kWh_with_E1_0x01"] == 8653.6
    assert r.unit == "kWh" and r.quantity == "active_energy_import"
    assert r.node is not None and r.node.path == "edata/props[0]/edt"


def test_vector_e3() -> None:
    r = rd(one(vline("echonet-E3")))["E3"]
    assert r.value == VECTORS["echonet-E3"]["expected"]["reverse_cumulative_raw"] == 10
    assert r.quantity == "active_energy_export" and r.unit is None


def test_vector_e7() -> None:
    m = one(vline("echonet-E7"))
    r = rd(m)["E7"]
    assert r.value == VECTORS["echonet-E7"]["expected"]["instantaneous_power_W"] == 628
    assert (r.unit, r.quantity) == ("W", "active_power_import")
    assert m.meter == METER and m.clock is None and m.encrypted is False and m.authenticated is None


def test_vector_e8() -> None:
    got = rd(one(vline("echonet-E8")))
    exp = VECTORS["echonet-E8"]["expected"]
    assert got["E8.R"].value == exp["current_R_A"] == 5.0
    assert got["E8.T"].value == exp["current_T_A"] == 2.0
    assert (got["E8.R"].quantity, got["E8.T"].quantity) == ("current_l1", "current_l3")
    assert got["E8.R"].unit == got["E8.T"].unit == "A"
    assert got["E8.R"].node is not None and got["E8.R"].node.path == "edata/props[0]/edt/R"


def test_vector_ea() -> None:
    m = one(vline("echonet-EA"))
    got = rd(m)
    exp = VECTORS["echonet-EA"]["expected"]
    assert got["EA.time"].value == exp["fixed_time"] == "2020-03-14T08:30:00"
    assert got["EA"].value == exp["cumulative_raw"] == 86534
    assert got["EA"].quantity == "active_energy_import"
    edt = m.root.find("edata/props[0]/edt")
    assert edt is not None and [c.key for c in edt.children or []] == [
        "year",
        "month",
        "day",
        "hour",
        "minute",
        "second",
        "value",
    ]


def test_vector_80() -> None:
    got = rd(one(vline("echonet-80")))
    assert got["80"].value == VECTORS["echonet-80"]["expected"]["operation_status"] == "ON (0x30)"


@pytest.mark.parametrize("vid", sorted(VECTORS))
def test_every_vector_same_in_binary_mode(vid: str) -> None:
    h = one(vline(vid))
    b = one(to_binary(vline(vid)))
    assert h.ok and b.ok
    assert h.buffers["edata"] == b.buffers["edata"]
    assert [r.to_json() for r in h.readings] == [r.to_json() for r in b.readings]
    assert h.root.find("line/data").note.startswith("ASCII hex")  # type: ignore[union-attr]
    assert b.root.find("line/data").note == "binary"  # type: ignore[union-attr]


def test_line_layout_and_offsets() -> None:
    garbage = b"SKVER\r\nEVER 1.2.10\r\nOK\r\n"
    line = vline("echonet-E7")
    m = decode(garbage + line)[0]
    assert m.offsets == [(len(garbage), len(garbage) + len(line))]
    assert m.buffers["line"] == line
    assert m.buffers["edata"] == bytes.fromhex(VECTORS["echonet-E7"]["line"].split()[-1])
    assert m.index == 0
    keys = [c.key for c in m.root.find("line").children]  # type: ignore[union-attr]
    assert keys == ["command", "sender", "dest", "rport", "lport", "senderlla", "secured", "datalen", "data", "eol"]
    assert m.root.find("line/sender").value == METER  # type: ignore[union-attr]
    assert m.root.find("line/rport").value == 0x0E1A  # type: ignore[union-attr]
    assert m.root.find("edata/esv").note == "Get_Res"  # type: ignore[union-attr]
    assert m.root.find("edata/seoj").note == "low-voltage smart meter"  # type: ignore[union-attr]
    assert m.root.find("edata/props[0]/edt").value == 628  # type: ignore[union-attr]


# -- binary mode, DSE modules ---------------------------------------------------------------------


def test_binary_data_containing_crlf() -> None:
    # E7 = 0x00000D0A (3338 W): the DATA holds CR LF, which must not end the line.
    line = erxudp(frame("E70400000D0A"), binary=True)
    assert b"\r\n" in line[:-2]
    m = one(line + b"EVENT 25 " + METER.encode() + b"\r\n")
    assert m.ok and rd(m)["E7"].value == 3338


def test_binary_data_containing_lone_lf_and_erxudp_text() -> None:
    # TID 0x0A0D and a serial number that spells "ERXUDP " inside binary DATA.
    serial = b"\nERXUDP \r\n".hex()
    data = f"10810A0D{'028801'}{'05FF01'}7202" + "E7040000000A" + f"8D{len(serial) // 2:02X}{serial}"
    d = SkstackDecoder(strict=True)
    m = one(erxudp(data, binary=True), decoder=d)
    assert m.ok
    assert rd(m)["E7"].value == 10
    assert rd(m)["8D"].value == b"\nERXUDP \r\n".hex().upper()  # not printable text → hex
    assert len(d.events) == 0


@pytest.mark.parametrize(
    ("middle", "fields"),
    [
        ("1 0", ["secured", "side"]),  # DSE module (BP35C2), SA2 = 0
        ("9C 1 0", ["rssi", "secured", "side"]),  # DSE module with SA2 = 1
        ("9C 1", ["rssi", "secured"]),  # RSSI without SIDE
        ("1", ["secured"]),  # BP35A1
    ],
)
@pytest.mark.parametrize("binary", [False, True], ids=["hex", "binary"])
def test_dse_field_layouts(middle: str, fields: list[str], binary: bool) -> None:
    m = one(erxudp(frame("E70400000274"), middle=middle, binary=binary))
    assert m.ok and rd(m)["E7"].value == 628
    keys = [c.key for c in m.root.find("line").children]  # type: ignore[union-attr]
    assert keys[6:-3] == fields
    if "side" in fields:
        assert m.root.find("line/side").value == "0"  # type: ignore[union-attr]
    if "rssi" in fields:
        assert m.root.find("line/rssi").value == "9C"  # type: ignore[union-attr]


# -- values ---------------------------------------------------------------------------------------


def test_negative_power_is_export() -> None:
    r = rd(one(erxudp(frame("E704FFFFFF9C"))))["E7"]
    assert r.value == -100 and r.quantity == "active_power_import" and r.unit == "W"


def test_e8_t_phase_no_data() -> None:
    m = one(erxudp(frame("E804FFEC7FFE")))
    got = rd(m)
    assert got["E8.R"].value == -2.0
    assert "E8.T" not in got
    t = m.root.find("edata/props[0]/edt/T")
    assert t is not None and "no data" in t.value


@pytest.mark.parametrize(("edt", "what"), [("7FFF", "overflow"), ("8000", "underflow")])
def test_e8_overflow_underflow(edt: str, what: str) -> None:
    m = one(erxudp(frame(f"E804{edt}0019")))
    assert set(rd(m)) == {"E8.T"} and rd(m)["E8.T"].value == 2.5
    assert what in m.root.find("edata/props[0]/edt/R").value  # type: ignore[union-attr]


def test_current_rounding() -> None:
    got = rd(one(erxudp(frame("E80400030007"))))
    assert got["E8.R"].value == 0.3 and got["E8.T"].value == 0.7


def test_cumulative_no_data_sentinel() -> None:
    m = one(erxudp(frame("E004FFFFFFFE")))
    assert m.ok and m.readings == []
    assert "no data" in m.root.find("edata/props[0]/edt").value  # type: ignore[union-attr]


def test_power_sentinel_and_unknown_unit() -> None:
    m = one(erxudp(frame("E7047FFFFFFE", "E1010F", "E00400000001")))
    assert m.ok and set(rd(m)) == {"E0"} and rd(m)["E0"].unit is None
    assert "no data" in m.root.find("edata/props[0]/edt").value  # type: ignore[union-attr]
    assert any("E1" in w for w in m.warnings)


def test_d3_e1_after_e0_in_same_frame_apply() -> None:
    m = one(erxudp(frame("E00400015208", "D30400000001", "E10101")))
    assert rd(m)["E0"].value == 8653.6 and rd(m)["E0"].unit == "kWh"


@pytest.mark.parametrize(
    ("d3", "e1", "raw", "expected"),
    [
        (1, 0x00, 123, 123),
        (1, 0x02, 86536, 865.36),
        (1, 0x03, 1, 0.001),
        (1, 0x04, 86536, 8.6536),
        (1, 0x0A, 5, 50),
        (2, 0x0B, 7, 1400),
        (1, 0x0C, 3, 3000),
        (1, 0x0D, 3, 30000),
        (10, 0x01, 86536, 86536),
    ],
)
def test_energy_multipliers(d3: int, e1: int, raw: int, expected: float) -> None:
    m = one(erxudp(frame(f"D304{d3:08X}", f"E101{e1:02X}", f"E304{raw:08X}")))
    r = rd(m)["E3"]
    assert r.value == expected and r.unit == "kWh" and r.quantity == "active_energy_export"


def test_scaling_state_is_per_sender() -> None:
    d = SkstackDecoder(strict=True)
    decode(erxudp(frame("D30400000001", "E10101")), decoder=d)
    a = one(erxudp(frame("E00400015208")), decoder=d)
    b = one(erxudp(frame("E00400015208"), sender=OTHER), decoder=d)
    assert rd(a)["E0"].value == 8653.6 and rd(b)["E0"].value == 86536 and rd(b)["E0"].unit is None
    assert set(d.states) == {METER, OTHER}


def test_get_sna_d3_means_coefficient_one() -> None:
    d = SkstackDecoder(strict=True)
    sna = one(erxudp(frame("D300", esv="52")), decoder=d)
    assert sna.ok and sna.readings == []
    prop = sna.root.find("edata/props[0]")
    assert prop is not None and prop.value == "not available" and "coefficient is 1" in prop.note
    decode(erxudp(frame("E10102")), decoder=d)
    assert rd(one(erxudp(frame("E004000003E8")), decoder=d))["E0"].value == 10.0


def test_get_sna_other_property_not_available() -> None:
    m = one(erxudp(frame("E700", "E80400320014", esv="52")))
    assert m.ok and set(rd(m)) == {"E8.R", "E8.T"}
    assert m.root.find("edata/props[0]").value == "not available"  # type: ignore[union-attr]


def test_get_request_has_no_readings() -> None:
    m = one(erxudp(frame("E700", esv="62", seoj="05FF01", deoj="028801")))
    assert m.ok and m.readings == []
    assert m.root.find("edata/props[0]").label == "instantaneous power"  # type: ignore[union-attr]


def test_clock_from_97_and_98() -> None:
    m = one(erxudp(frame("9702170B", "980407E8020F")))
    assert m.clock == "2024-02-15T23:11:00"
    assert rd(m)["97"].value == "23:11" and rd(m)["98"].value == "2024-02-15"
    assert one(erxudp(frame("9702170B"))).clock is None


def test_status_and_identity_properties() -> None:
    serial = b"ABC0001234  ".hex()
    m = one(erxudp(frame("800131", "880141", "8A03000016", f"8D0C{serial}", "D70106")))
    got = rd(m)
    assert got["80"].value == "OFF (0x31)"
    assert got["88"].value == "fault (0x41)"
    assert got["8A"].value == "000016"
    assert got["8D"].value == "ABC0001234" and got["8D"].quantity == "meter_id"
    assert got["D7"].value == 6


def test_property_map_list_and_bitmap() -> None:
    short = one(erxudp(frame("9D050480E0E3E7")))
    assert rd(short)["9D"].value == "80 E0 E3 E7"
    bitmap = bytearray(17)
    epcs = [
        0x80,
        0x81,
        0x88,
        0x8A,
        0x8D,
        0x97,
        0x98,
        0x9D,
        0x9E,
        0x9F,
        0xD3,
        0xD7,
        0xE0,
        0xE1,
        0xE2,
        0xE3,
        0xE4,
        0xE5,
        0xE7,
        0xE8,
        0xEA,
        0xEB,
    ]
    bitmap[0] = len(epcs)
    for e in epcs:
        i, j = (e - 0x80) % 16, (e - 0x80) // 16
        bitmap[1 + i] |= 1 << j
    m = one(erxudp(frame(f"9F11{bitmap.hex()}")))
    assert rd(m)["9F"].value == " ".join(f"{e:02X}" for e in epcs)


def test_history_e2() -> None:
    slots = [i * 10 for i in range(48)]
    slots[5] = 0xFFFFFFFE
    edt = "0001" + "".join(f"{v:08X}" for v in slots)
    m = one(erxudp(frame("D30400000001", "E10101", f"E2C2{edt}")))
    got = rd(m)
    assert got["E2.day"].value == 1
    assert "E2.05" not in got
    assert got["E2.00"].value == 0 and got["E2.47"].value == 47.0 and got["E2.47"].unit == "kWh"
    assert len([k for k in got if k.startswith("E2.") and k != "E2.day"]) == 47
    assert m.root.find("edata/props[2]/edt/slots[47]").label == "slot 23:30"  # type: ignore[union-attr]


def test_wrong_pdc_is_a_warning_not_a_reading() -> None:
    m = one(erxudp(frame("E703000274")))
    assert m.ok and m.readings == [] and m.warnings


def test_node_profile_instance_list() -> None:
    data = "108100000EF0010EF0017301D50401028801"
    m = one(erxudp(data))
    assert m.ok and m.readings == []
    assert m.root.find("edata/props[0]/edt/eoj[0]").value == "028801"  # type: ignore[union-attr]


def test_setget_two_property_lists() -> None:
    m = one(erxudp("1081000102880105FF017E01E50001E70400000010"))
    assert m.ok and rd(m)["E7"].value == 16
    assert m.root.find("edata/opc_get") is not None and m.root.find("edata/props[1]/edt") is not None


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", ["1082000102880105FF0172", "AABBCCDDEEFF00112233445566", "10"])
def test_not_echonet_lite(data: str) -> None:
    m = one(erxudp(data))
    assert isinstance(m.error, DecodeError) and m.error.layer == "apdu"
    assert m.root.find("edata/ehd1") is not None
    assert m.meter == METER


def test_property_runs_past_the_end() -> None:
    m = one(erxudp(frame("E70400000274")[:-4]))  # PDC 4, 2 bytes left
    assert isinstance(m.error, TruncatedError) and m.error.layer == "apdu"
    assert m.readings == []
    assert m.root.find("edata/props[0]/epc") is not None
    assert m.root.find("edata/undecoded").span == ("edata", 14, 16)  # type: ignore[union-attr]


def test_opc_larger_than_properties() -> None:
    good = frame("E70400000274")
    m = one(erxudp(good[:22] + "02" + good[24:]))  # OPC 2, one property present
    assert isinstance(m.error, DecodeError)
    assert rd(m)["E7"].value == 628  # what was parsed is kept


def test_short_header() -> None:
    m = one(erxudp("1081000102"))
    assert isinstance(m.error, TruncatedError)


def test_trailing_bytes_warn() -> None:
    m = one(erxudp(frame("E70400000274") + "FFFF"))
    assert m.ok and m.warnings and m.root.find("edata/trailing") is not None


def test_truncated_erxudp_at_end_of_stream() -> None:
    for line in (vline("echonet-E7"), to_binary(vline("echonet-E7"))):
        for cut in (10, 100, len(line) - 5):
            d = SkstackDecoder(strict=True)
            assert d.feed(line[:cut]) == []
            msgs = check(d.flush())
            assert len(msgs) == 1
            assert isinstance(msgs[0].error, LineError)
            assert msgs[0].error.message.startswith("truncated ERXUDP line")
            assert msgs[0].offsets == [(0, cut)]


def test_line_missing_only_its_line_end_at_flush_is_decoded() -> None:
    m = one(vline("echonet-E7")[:-2])
    assert m.ok and rd(m)["E7"].value == 628


@pytest.mark.parametrize(
    "bad",
    [
        b"ERXUDP FE80::1 x\r\n",
        b"ERXUDP \r\n",
        b"ERXUDP " + METER.encode() + b" " + HOST.encode() + b" 0E1A 0E1A " + LLA.encode() + b" 0012 1081\r\n",
        b"ERXUDP " + METER.encode() + b" " + HOST.encode() + b" 0E1A 0E1A " + LLA.encode() + b" 1 0 1 1 0012\r\n",
        vline("echonet-E7")[:-2] + b"00\r\n",  # hex DATA longer than DATALEN
        vline("echonet-E7")[:-8] + b"\r\n",  # hex DATA shorter than DATALEN
        b"ERXUDP " + b"A" * 300 + b"\r\n",
    ],
)
def test_malformed_erxudp_is_a_line_error_and_the_stream_recovers(bad: bytes) -> None:
    d = SkstackDecoder(strict=True)
    msgs = decode(bad, vline("echonet-E7"), decoder=d)
    assert len(msgs) == 2
    assert isinstance(msgs[0].error, LineError) and msgs[0].error.layer == "line"
    assert msgs[0].buffers["line"] == bad
    assert msgs[1].ok and rd(msgs[1])["E7"].value == 628
    assert msgs[1].offsets == [(len(bad), len(bad) + len(vline("echonet-E7")))]


@pytest.mark.parametrize("datalen", [b"0412", b"F012"])
@pytest.mark.parametrize("binary", [False, True], ids=["hex", "binary"])
def test_corrupted_datalen_does_not_hold_the_stream(datalen: bytes, binary: bool) -> None:
    line = vline("echonet-E7")
    if binary:
        line = to_binary(line)
    bad = line.replace(b" 0012 ", b" " + datalen + b" ")
    d = SkstackDecoder(strict=True)
    msgs = check(d.feed(bad + vline("echonet-E7") + b"OK\r\n"))  # no flush needed
    if binary and datalen == b"0412":
        # binary DATA with a plausible DATALEN: wait for 1042 bytes, then resynchronise
        assert msgs == []
        msgs = check(d.feed(b"EVER " + b"-" * 1100 + b"\r\n"))
    assert [type(m.error) for m in msgs] == [LineError, type(None)]
    assert rd(msgs[1])["E7"].value == 628


def test_datalen_zero() -> None:
    m = one(b"ERXUDP " + METER.encode() + b" " + HOST.encode() + b" 0E1A 0E1A " + LLA.encode() + b" 1 0000 \r\n")
    assert isinstance(m.error, DecodeError) and "edata" not in m.buffers


# -- streaming ------------------------------------------------------------------------------------

STREAM = (
    b"SKSENDTO 1 "
    + METER.encode()
    + b" 0E1A 1 000E\r\nOK\r\n"
    + b"EVENT 21 "
    + METER.encode()
    + b" 00\r\n"
    + vline("echonet-D3")
    + to_binary(vline("echonet-E1"))
    + erxudp(frame("E00400015208", "E70400000D0A"), binary=True)
    + b"EVENT 29 "
    + METER.encode()
    + b"\r\n"
)


def test_split_at_every_boundary_gives_the_same_result() -> None:
    whole = decode(STREAM)
    assert len(whole) == 3 and rd(whole[2])["E0"].value == 8653.6 and rd(whole[2])["E7"].value == 3338
    expected = summary(whole)
    for cut in range(len(STREAM) + 1):
        assert summary(decode(STREAM[:cut], STREAM[cut:])) == expected, cut


def test_byte_by_byte_feed() -> None:
    d = SkstackDecoder(strict=True)
    msgs = decode(*(STREAM[i : i + 1] for i in range(len(STREAM))), decoder=d)
    assert summary(msgs) == summary(decode(STREAM))
    assert [e.num for e in d.events] == [-1, -1, 0x21, 0x29]


def test_received_time_and_partial_feed() -> None:
    d = SkstackDecoder(strict=True)
    line = vline("echonet-E7")
    assert d.feed(line[:50], received=1.0) == []
    msgs = d.feed(line[50:], received=2.0)
    assert len(msgs) == 1 and msgs[0].received == 2.0 and d.lines_seen == 1


# -- events and other lines -----------------------------------------------------------------------


def test_event_lines() -> None:
    d = SkstackDecoder(strict=True)
    text = (
        f"EVENT 21 {METER} 00\r\nEVENT 21 {METER} 0 01\r\nEVENT 25 {METER}\r\n"
        f"EVENT 29 {METER} 0\r\nEVENT 24 {METER}\r\nEVENT 32 {METER}\r\nEVENT C0\r\n"
    )
    assert decode(text.encode(), decoder=d) == []
    ev = list(d.events)
    assert [e.num for e in ev] == [0x21, 0x21, 0x25, 0x29, 0x24, 0x32, 0xC0]
    assert (ev[0].name, ev[0].sender, ev[0].side, ev[0].param, ev[0].detail) == (
        "UDP send done",
        METER,
        None,
        "00",
        "ok",
    )
    assert (ev[1].side, ev[1].param, ev[1].detail) == (0, "01", "failed (resend)")
    assert ev[2].name == "PANA connected" and ev[2].param is None
    assert ev[3].name == "session expired" and ev[3].side == 0
    assert ev[4].name == "PANA connect failed"
    assert ev[5].name == "ARIB transmit limit activated"
    assert ev[6].sender is None
    assert d.lines_seen == 7
    assert ev[1].offset == len(f"EVENT 21 {METER} 00\r\n")


def test_event_21_neighbour_solicitation() -> None:
    assert parse_event_line(f"EVENT 21 {METER} 02").detail == "neighbour solicitation in progress"


def test_other_lines_are_events_not_messages() -> None:
    d = SkstackDecoder(strict=True)
    text = (
        "SKSCAN 2 FFFFFFFF 6\r\nOK\r\nFAIL ER04\r\nFAIL ER10\r\nEVER 1.2.10\r\nEPANDESC\r\n"
        "  Channel:21\r\n  Pan ID:8888\r\nFE80:0000:0000:0000:021D:1290:1234:5678\r\n"
        "ROPT\rOK 01\r\n"
    )
    assert decode(text.encode(), decoder=d) == []
    names = [e.name for e in d.events]
    assert all(e.num == -1 for e in d.events)
    assert names == [
        "command echo (SKSCAN)",
        "ok",
        "FAIL ER04: unsupported command",
        "FAIL ER10: command accepted but failed",
        "firmware version",
        "PAN descriptor",
        "PAN descriptor field",
        "PAN descriptor field",
        "IPv6 address",
        "command echo (ROPT)",
        "ok",
    ]
    assert d.events[2].text == "FAIL ER04"


def test_garbage_lines() -> None:
    d = SkstackDecoder(strict=True)
    junk = b"\x00\xff\xfe garbage\r\n\x13\x37\n\r\n\n" + b"x" * 5000
    msgs = decode(junk, vline("echonet-E7"), decoder=d)
    assert len(msgs) == 1 and msgs[0].ok
    assert all(isinstance(e, SkEvent) and e.num == -1 for e in d.events)
    assert msgs[0].offsets[0][0] == len(junk)


def test_noise_before_erxudp_on_the_same_line() -> None:
    d = SkstackDecoder(strict=True)
    msgs = decode(b"\xff\x00" + to_binary(vline("echonet-E7")), decoder=d)
    assert len(msgs) == 1 and msgs[0].ok and msgs[0].offsets[0][0] == 2
    assert d.events[0].name == "unrecognised line"


def test_events_are_bounded() -> None:
    d = SkstackDecoder(strict=True)
    d.feed(b"OK\r\n" * 500)
    assert len(d.events) == 200 and d.lines_seen == 500


# -- direct frame decoding ------------------------------------------------------------------------


def test_decode_edata_standalone() -> None:
    state = EchonetState()
    res = decode_edata(bytes.fromhex(frame("D30400000001", "E10101", "E00400015208")), state=state)
    assert res.error is None and (res.tid, res.seoj, res.deoj, res.esv) == (1, 0x028801, 0x05FF01, 0x72)
    assert state.coefficient == 1 and state.unit_code == 1 and state.scale(86536) == 8653.6
    assert tiling_gaps(res.node, {"edata": bytes.fromhex(frame("D30400000001", "E10101", "E00400015208"))}) == []


def test_protocol_package_does_not_import_textual() -> None:
    code = (
        "import sys, meterui.protocol.skstack, meterui.protocol.echonet; "
        "print(any(m.split('.')[0] in ('textual', 'rich') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- property tests -------------------------------------------------------------------------------

BASE_LINES = (
    [vline(v) for v in sorted(VECTORS)]
    + [to_binary(vline(v)) for v in sorted(VECTORS)]
    + [
        erxudp(frame("E70400000D0A"), binary=True, middle="9C 1 0"),
        erxudp(frame("9F11" + "FF" * 17, "E2C2" + "00" * 194), binary=True, middle="1 0"),
        erxudp(frame("E700", "D300", esv="52")),
        f"EVENT 21 {METER} 0 00\r\n".encode(),
    ]
)


@st.composite
def mutated_streams(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    lines = draw(st.lists(st.sampled_from(BASE_LINES), min_size=1, max_size=4))
    data = bytearray(b"".join(lines))
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] = draw(st.sampled_from([0x0D, 0x0A, 0x20, 0x30, 0x46, 0xFF, 0x00, 0x10]))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and data:
            del data[at : at + draw(st.integers(1, 8))]
        elif op == "truncate":
            del data[at:]
    cuts = draw(st.lists(st.integers(0, len(data)), max_size=5))
    return bytes(data), sorted(cuts)


def _run_chunks(data: bytes, cuts: list[int]) -> list[Message]:
    d = SkstackDecoder(strict=True)
    bounds = [0, *cuts, len(data)]
    msgs: list[Message] = []
    for a, b in pairwise(bounds):
        msgs += d.feed(data[a:b])
    msgs += d.flush()
    check(msgs)
    spans = sorted(s for m in msgs for s in m.offsets)
    for (_, e1), (s2, _) in pairwise(spans):
        assert e1 <= s2
    assert all(e <= len(data) for _, e in spans)
    return msgs


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(0, 400), max_size=4))
def test_random_bytes_never_raise(data: bytes, cuts: list[int]) -> None:
    _run_chunks(data, sorted(c for c in cuts if c <= len(data)))
    _run_chunks(b"ERXUDP " + data, [])


@settings(max_examples=300, deadline=None)
@given(mutated_streams())
def test_mutated_lines_never_raise_and_tile(stream: tuple[bytes, list[int]]) -> None:
    data, cuts = stream
    msgs = _run_chunks(data, cuts)
    assert summary(msgs) == summary(_run_chunks(data, []))


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=64),
    st.sampled_from(["", "1081", "10810001028801", GET_RES, GET_RES + "01", "1081000102880105FF017E01"]),
)
def test_decode_edata_never_raises(tail: bytes, head: str) -> None:
    data = bytes.fromhex(head) + tail
    root = Node("", "ERXUDP", "line", 0, 1)
    Node("x", "x", "line", 0, 1, parent=root)
    res = decode_edata(data, root, EchonetState(1, 1))
    assert res.error is None or isinstance(res.error, MeterError)
    if data:
        assert tiling_gaps(root, {"line": b"x", "edata": data}) == []


def test_internal_error_becomes_a_message_and_the_stream_continues(monkeypatch: pytest.MonkeyPatch) -> None:
    import meterui.protocol.skstack as sk

    def broken(*args: object, **kwargs: object) -> None:
        raise IndexError("simulated bug")

    monkeypatch.setattr(sk, "decode_edata", broken)
    d = SkstackDecoder()  # not strict: feed() must not raise
    msgs = check(d.feed(vline("echonet-E7") + b"OK\r\n"))
    assert len(msgs) == 1 and isinstance(msgs[0].error, DecodeError)
    assert msgs[0].offsets == [(0, len(vline("echonet-E7")))]
    monkeypatch.undo()
    assert check(d.feed(vline("echonet-E7")))[0].ok
