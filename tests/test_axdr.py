"""A-XDR Data decoding (protocols.md §3.1-§3.3): every type, lengths, truncation, date-time, units."""

from __future__ import annotations

import math
import struct
from datetime import datetime

import pytest

from meterui.protocol import axdr
from meterui.protocol import encode as E
from meterui.protocol.cosem import CosemDateTime, clock_status_text, unit_symbol, unit_text
from meterui.protocol.errors import DecodeError, MeterError, TruncatedError
from meterui.protocol.spans import Node, tiling_gaps


def parse(buf: bytes) -> Node:
    """Parse one element that must span the whole buffer, and check its leaves tile it."""
    root = Node("", "root", "b", 0, len(buf))
    node, end = axdr.parse_data(buf, 0, len(buf), "b", "x", root)
    assert end == len(buf)
    assert (node.start, node.end) == (0, len(buf))
    assert tiling_gaps(root, {"b": buf}) == []
    return node


@pytest.mark.parametrize(
    ("raw", "tag", "value"),
    [
        (E.null(), 0x00, None),
        (E.boolean(True), 0x03, True),
        (E.boolean(False), 0x03, False),
        (bytes.fromhex("0500000001"), 0x05, 1),
        (E.i32(-2), 0x05, -2),
        (E.u32(0xFFFFFFFF), 0x06, 0xFFFFFFFF),
        (E.octets(b"\x01\x02\xff"), 0x09, b"\x01\x02\xff"),
        (E.visible("KFM_001"), 0x0A, "KFM_001"),
        (E.utf8("Zähler ☀"), 0x0C, "Zähler ☀"),
        (bytes.fromhex("0D42"), 0x0D, 0x42),  # bcd: one byte
        (E.i8(-128), 0x0F, -128),
        (E.i16(-32768), 0x10, -32768),
        (E.u8(255), 0x11, 255),
        (E.u16(65535), 0x12, 65535),
        (E.i64(-(2**63)), 0x14, -(2**63)),
        (bytes.fromhex("14FFFFFFFFFFFFFFFE"), 0x14, -2),
        (E.u64(2**64 - 1), 0x15, 2**64 - 1),
        (bytes.fromhex("150000000100000000"), 0x15, 2**32),
        (E.enum(27), 0x16, 27),
        (E.f32(1.5), 0x17, 1.5),
        (bytes.fromhex("17C0490FDB"), 0x17, struct.unpack(">f", bytes.fromhex("C0490FDB"))[0]),
        (E.f64(-0.1), 0x18, -0.1),
        (b"\xff", 0xFF, None),
    ],
)
def test_every_simple_type(raw: bytes, tag: int, value: object) -> None:
    node = parse(raw)
    assert node.kind == tag
    if isinstance(value, float):
        assert node.value == pytest.approx(value)
    else:
        assert node.value == value
    assert node.label == axdr.TYPE_NAMES[tag]
    if len(raw) > 1:
        leaves = list(node.leaves())
        assert leaves[0].key == "tag" and (leaves[0].start, leaves[0].end) == (0, 1)


def test_float_special_values() -> None:
    assert math.isnan(parse(b"\x17" + struct.pack(">f", float("nan"))).value)
    assert parse(b"\x18" + struct.pack(">d", float("inf"))).value == float("inf")


def test_bit_string() -> None:
    node = parse(bytes.fromhex("040BA5E0"))  # 11 bits
    assert node.kind == 0x04
    assert node.value == "10100101111"
    assert parse(bytes.fromhex("0400")).value == ""
    assert parse(bytes.fromhex("040880")).value == "10000000"


def test_structure_and_array_children() -> None:
    raw = E.structure(E.u8(1), E.array([E.u16(2), E.u16(3)]), E.visible("x"), E.null())
    node = parse(raw)
    assert node.kind == 0x02
    el = axdr.elements(node)
    assert [e.kind for e in el] == [0x11, 0x01, 0x0A, 0x00]
    assert [e.value for e in axdr.elements(el[1])] == [2, 3]
    assert el[1].path.endswith("x[1]")
    tag, count = node.children[:2]
    assert (tag.key, count.key, count.value) == ("tag", "count", 4)


def test_empty_containers_and_strings() -> None:
    assert axdr.elements(parse(E.structure())) == []
    assert axdr.elements(parse(E.array([]))) == []
    assert parse(E.octets(b"")).value == b""
    assert parse(E.visible("")).value == ""


@pytest.mark.parametrize("n", [0x7F, 0x80, 0xFF, 0x100, 0x1234])
def test_ber_lengths(n: int) -> None:
    raw = E.octets(bytes(n))
    if n >= 0x100:
        assert raw[1] == 0x82 and int.from_bytes(raw[2:4], "big") == n
    elif n >= 0x80:
        assert raw[1] == 0x81 and raw[2] == n
    node = parse(raw)
    assert node.value == bytes(n)
    length = next(c for c in node.children if c.key == "length")
    assert length.value == n and length.end - length.start == (1 if n < 0x80 else 2 if n < 0x100 else 3)


def test_ber_length_for_containers_by_hand() -> None:
    raw = b"\x01\x81\x81" + E.u8(7) * 0x81
    node = parse(raw)
    assert len(axdr.elements(node)) == 0x81
    raw2 = b"\x02\x82\x00\x02" + E.u8(1) + E.u8(2)
    assert [e.value for e in axdr.elements(parse(raw2))] == [1, 2]


def test_read_length_rejects_bad_prefixes() -> None:
    with pytest.raises(DecodeError):
        axdr.read_length(b"\x80", 0, 1)
    with pytest.raises(DecodeError):
        axdr.read_length(b"\x85\x00\x00\x00\x00\x01", 0, 6)
    assert axdr.read_length(b"\x83\x01\x00\x00", 0, 4) == (0x10000, 4)


@pytest.mark.parametrize(
    "raw",
    [
        E.u32(5),
        E.i64(5),
        E.f64(1.0),
        E.octets(b"abcdef"),
        E.visible("hello"),
        E.structure(E.u8(1), E.u16(2)),
        E.array([E.u32(1)] * 3),
        E.octets(bytes(200)),
        b"\x19" + bytes(12),
        b"\x1a" + bytes(5),
        b"\x1b" + bytes(4),
        bytes.fromhex("0410FFFF"),
        b"\x02\x81\x02" + E.u8(1) + E.u8(2),
    ],
)
def test_truncation_raises_truncated_error_with_offset(raw: bytes) -> None:
    for cut in range(len(raw)):
        root = Node("", "root", "b", 0, cut)
        with pytest.raises(TruncatedError) as info:
            axdr.parse_data(raw[:cut], 0, cut, "b", "x", root)
        err = info.value
        assert isinstance(err, DecodeError) and isinstance(err, MeterError)
        assert err.layer == "apdu"
        assert err.offset is not None and 0 <= err.offset <= cut
        assert err.needed > err.available >= 0
        assert "truncated" in err.message


def test_truncation_respects_end_not_buffer_length() -> None:
    raw = E.u32(5) + b"\x00" * 10
    with pytest.raises(TruncatedError):
        axdr.parse_data(raw, 0, 3, "b", "x", None)


@pytest.mark.parametrize("tag", [0x07, 0x08, 0x0B, 0x0E, 0x1C, 0x20, 0x80, 0xFE])
def test_unknown_tag_is_a_decode_error(tag: int) -> None:
    with pytest.raises(DecodeError) as info:
        axdr.parse_data(bytes([tag, 0, 0, 0, 0]), 0, 5, "b", "x", None)
    assert not isinstance(info.value, TruncatedError)
    assert info.value.offset == 0
    assert f"0x{tag:02X}" in info.value.message


def test_unknown_tag_inside_structure_reports_its_offset() -> None:
    raw = E.structure(E.u8(1), b"\x07\x00")
    with pytest.raises(DecodeError) as info:
        axdr.parse_data(raw, 0, len(raw), "b", "x", None)
    assert info.value.offset == 4


def test_deep_nesting_is_an_error_not_a_recursion_crash() -> None:
    raw = b"\x02\x01" * 5000 + b"\x00"
    with pytest.raises(DecodeError):
        axdr.parse_data(raw, 0, len(raw), "b", "x", None)


# -- compact-array -------------------------------------------------------------------------------------
def test_compact_array_of_long_unsigned() -> None:
    # 13 | type-description: 12 (long-unsigned) | contents length 6 | 3 packed values
    raw = bytes.fromhex("13120600010002FFFF")
    node = parse(raw)
    assert node.kind == 0x13
    contents = node.find("x/contents")
    assert [c.value for c in contents.children] == [1, 2, 0xFFFF]
    assert node.label == "compact-array (3)"


def test_compact_array_of_structures() -> None:
    # type-description: structure of {double-long-unsigned, octet-string}
    desc = bytes.fromhex("02020609")
    contents = bytes.fromhex("0000001002ABCD0000002000")
    raw = b"\x13" + desc + bytes([len(contents)]) + contents
    node = parse(raw)
    items = node.find("x/contents").children
    assert len(items) == 2
    assert [c.value for c in items[0].children] == [16, b"\xab\xcd"]
    assert [c.value for c in items[1].children] == [32, b""]


def test_compact_array_with_array_description() -> None:
    # type-description: array (count 2, 2 bytes) of unsigned
    raw = bytes.fromhex("13010002110401020304")
    node = parse(raw)
    items = node.find("x/contents").children
    assert [[c.value for c in i.children] for i in items] == [[1, 2], [3, 4]]


def test_compact_array_bad_description_and_truncation() -> None:
    with pytest.raises(DecodeError):
        axdr.parse_data(bytes.fromhex("13070100"), 0, 4, "b", "x", Node("", "r", "b", 0, 4))
    raw = bytes.fromhex("1312060001")
    with pytest.raises(TruncatedError):
        axdr.parse_data(raw, 0, len(raw), "b", "x", Node("", "r", "b", 0, len(raw)))


# -- date, time, date-time ----------------------------------------------------------------------------
def test_date_time_typed() -> None:
    raw = b"\x19" + E.cosem_datetime(datetime(2023, 8, 21, 23, 23, 0), deviation=-120, status=0x80)
    node = parse(raw)
    dt = node.value
    assert isinstance(dt, CosemDateTime)
    assert (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second) == (2023, 8, 21, 23, 23, 0)
    assert dt.weekday == 1 and dt.deviation == -120 and dt.status == 0x80
    assert dt.iso() == "2023-08-21T23:23:00+02:00"
    value = node.find("x/value")
    keys = [c.key for c in value.children]
    assert keys == ["year", "month", "day", "weekday", "hour", "minute", "second", "hundredths", "deviation", "status"]
    assert value.find("x/value/status").note == "DST active"


def test_date_and_time_types() -> None:
    d = parse(bytes.fromhex("1A07E8030502")).value
    assert (d.year, d.month, d.day, d.weekday, d.hour) == (2024, 3, 5, 2, None)
    assert d.iso() == "2024-03-05"
    t = parse(bytes.fromhex("1B0C22FF00")).value
    assert (t.hour, t.minute, t.second, t.hundredths, t.year) == (12, 34, None, 0, None)
    assert t.iso() is None


@pytest.mark.parametrize(
    ("dev", "suffix"),
    [
        (0x8000, ""),
        (-60, "+01:00"),
        (-120, "+02:00"),
        (60, "-01:00"),
        (0, "+00:00"),
        (-330, "+05:30"),
    ],
)
def test_deviation(dev: int, suffix: str) -> None:
    raw = bytearray(E.cosem_datetime(datetime(2024, 1, 2, 3, 4, 5), deviation=None if dev == 0x8000 else dev))
    dt = CosemDateTime.from_bytes(bytes(raw))
    assert dt.deviation == (None if dev == 0x8000 else dev)
    assert dt.iso() == "2024-01-02T03:04:05" + suffix
    if dev not in (0x8000, 0):
        assert dt.iso(invert_deviation=True) == "2024-01-02T03:04:05" + suffix.translate(str.maketrans("+-", "-+"))


def test_not_specified_fields() -> None:
    raw = bytes.fromhex("FFFFFFFFFFFFFFFFFF8000FF")
    dt = CosemDateTime.from_bytes(raw)
    assert (
        dt.year,
        dt.month,
        dt.day,
        dt.weekday,
        dt.hour,
        dt.minute,
        dt.second,
        dt.hundredths,
        dt.deviation,
        dt.status,
    ) == (None,) * 10
    assert dt.iso() is None
    assert str(dt) == "----------"[:4] + "-" + "--" + "-" + "--"
    # date known, time not specified -> date only
    raw2 = bytes.fromhex("07E80305FFFFFFFFFF800000")
    assert CosemDateTime.from_bytes(raw2).iso() == "2024-03-05"
    # seconds not specified -> 00
    raw3 = bytes.fromhex("07E80305020C22FFFF800000")
    assert CosemDateTime.from_bytes(raw3).iso() == "2024-03-05T12:34:00"


def test_special_month_and_day_values() -> None:
    raw = bytes.fromhex("FFFFFEFE07020000008000FF")  # DST begin, last day
    dt = CosemDateTime.from_bytes(raw)
    assert dt.month is None and dt.day is None and dt.hour == 2
    node = parse(b"\x19" + raw)
    assert node.find("x/value/month").note == "DST begin"
    assert node.find("x/value/day").note == "last"
    assert node.find("x/value/status").note == "not specified"


def test_invalid_date_gives_no_iso() -> None:
    raw = bytes.fromhex("07E80D05020C220000800000")  # month 13
    assert CosemDateTime.from_bytes(raw).iso() is None
    raw = bytes.fromhex("07E803050219220000800000")  # hour 25
    assert CosemDateTime.from_bytes(raw).iso() is None


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (0x00, "ok"),
        (0x01, "invalid"),
        (0x02, "doubtful"),
        (0x04, "different clock base"),
        (0x08, "invalid status"),
        (0x80, "DST active"),
        (0x81, "invalid, DST active"),
        (None, "not specified"),
    ],
)
def test_clock_status_bits(status: int | None, text: str) -> None:
    assert clock_status_text(status) == text


# -- scaler-unit and units -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "symbol"),
    [
        (27, "W"),
        (28, "VA"),
        (29, "var"),
        (30, "Wh"),
        (32, "varh"),
        (33, "A"),
        (35, "V"),
        (44, "Hz"),
        (13, "m3"),
        (255, None),
        (0, None),
    ],
)
def test_unit_table(code: int, symbol: str | None) -> None:
    assert unit_symbol(code) == symbol


def test_units_outside_the_json_vocabulary_are_described_not_emitted() -> None:
    # readings carry only the contract's SI symbols; the inspector still names every unit
    assert unit_symbol(200) is None and unit_text(200) == "unit 200"
    assert unit_symbol(9) is None and unit_text(9) == "°C"
    assert unit_symbol(31) is None and unit_text(31) == "VAh"


def test_scaler_unit_structure() -> None:
    node = parse(E.scaler_unit(-1, 33))
    scaler, unit = axdr.elements(node)
    assert (scaler.kind, scaler.value) == (0x0F, -1)
    assert (unit.kind, unit.value) == (0x16, 33)
    assert parse(bytes.fromhex("02020FFF1621")).children[2].value == -1  # amshan's example bytes
