"""Notification bodies → readings (protocols.md §3.5, §4.5): Aidon, Kaifa positional, Kamstrup, Austrian."""

from __future__ import annotations

from datetime import datetime

import pytest

from meterui.protocol import encode as E
from tests.conftest import (
    CLOCK,
    QUANTITIES,
    TEST_KEY,
    UNITS,
    aidon_body,
    by_id,
    decode,
    encrypted_mbus,
    kamstrup_body,
    plain_hdlc,
)


def one(body: bytes):
    msgs = decode(plain_hdlc(body))
    assert len(msgs) == 1
    assert msgs[0].ok, msgs[0].error
    return msgs[0]


def test_aidon_array_with_in_band_scalers() -> None:
    msg = one(aidon_body())
    r = by_id(msg)
    assert msg.list_id == "AIDON_V0001"
    assert (r["1.0.1.7.0.255"].value, r["1.0.1.7.0.255"].unit) == (1234, "W")
    assert r["1.0.31.7.0.255"].value == pytest.approx(1.3) and r["1.0.31.7.0.255"].unit == "A"
    assert r["1.0.32.7.0.255"].value == pytest.approx(230.1) and r["1.0.32.7.0.255"].unit == "V"
    assert (r["1.0.1.8.0.255"].value, r["1.0.1.8.0.255"].unit) == (123450, "Wh")
    assert r["0.0.96.1.0.255"].quantity == "meter_id" and r["0.0.96.1.0.255"].value == "7359992890941742"
    assert r["1.0.31.7.0.255"].quantity == "current_l1"
    assert msg.meter == "7359992890941742"


def test_aidon_clock_item_and_empty_header_date_time() -> None:
    body = E.array(
        [
            E.structure(E.obis("0.0.1.0.0.255"), E.octets(E.cosem_datetime(datetime(2024, 6, 1, 10, 0, 0), 60))),
            E.structure(E.obis("1.0.1.7.0.255"), E.u32(5), E.scaler_unit(0, 27)),
        ]
    )
    msgs = decode(E.hdlc_frame(E.LLC + E.data_notification(body)))
    assert msgs[0].ok
    assert msgs[0].clock == "2024-06-01T10:00:00-01:00"  # deviation +60 as sent (standard sign)
    assert by_id(msgs[0])["0.0.1.0.0.255"].quantity == "meter_clock"


def _kaifa(n: int) -> bytes:
    head = [
        E.octets(b"KFM_001"),
        E.octets(b"6970631400000000"),
        E.octets(b"MA304H3E"),
        E.u32(1500),
        E.u32(0),
        E.u32(100),
        E.u32(0),
    ]
    one_ph = [E.u32(6543), E.u32(2301)]
    three = [E.u32(6543), E.u32(1234), E.u32(0), E.u32(2301), E.u32(2310), E.u32(2299)]
    energy = [
        E.octets(E.cosem_datetime(datetime(2024, 3, 5, 13, 0, 0))),
        E.u32(403233),
        E.u32(0),
        E.u32(1234),
        E.u32(5678),
    ]
    items = {
        1: [E.u32(1500)],
        9: head + one_ph,
        13: head + three,
        14: head + one_ph + energy,
        18: head + three + energy,
    }[n]
    return E.structure(*items)


@pytest.mark.parametrize("n", [1, 9, 13, 14, 18])
def test_kaifa_positional_lists(n: int) -> None:
    msg = one(_kaifa(n))
    r = by_id(msg)
    assert len(msg.readings) == n
    assert msg.list_id == "KFM_001"
    assert (r["1.0.1.7.0.255"].value, r["1.0.1.7.0.255"].unit) == (1500, "W")
    assert r["1.0.1.7.0.255"].quantity == "active_power_import"
    if n == 1:
        return
    assert r["1.1.0.2.129.255"].value == "KFM_001"
    assert r["0.0.96.1.0.255"].value == "6970631400000000" and r["0.0.96.1.0.255"].quantity == "meter_id"
    assert r["0.0.96.1.7.255"].quantity == "meter_type"
    assert r["1.0.31.7.0.255"].value == pytest.approx(6.543) and r["1.0.31.7.0.255"].unit == "A"  # mA
    assert r["1.0.32.7.0.255"].value == pytest.approx(230.1) and r["1.0.32.7.0.255"].unit == "V"  # 0.1 V
    assert r["1.0.3.7.0.255"].unit == "var"
    if n in (13, 18):
        assert r["1.0.51.7.0.255"].value == pytest.approx(1.234)
        assert r["1.0.72.7.0.255"].value == pytest.approx(229.9)
    else:
        assert "1.0.51.7.0.255" not in r
    if n in (14, 18):
        assert (r["1.0.1.8.0.255"].value, r["1.0.1.8.0.255"].unit) == (403233, "Wh")
        assert r["1.0.3.8.0.255"].unit == "varh" and r["1.0.4.8.0.255"].value == 5678
        assert r["0.0.1.0.0.255"].value == "2024-03-05T13:00:00"
        assert r["0.0.1.0.0.255"].quantity == "meter_clock"


def test_kaifa_like_list_with_wrong_types_falls_back_to_generic() -> None:
    items = [E.octets(b"KFM_001")] + [E.visible("x")] * 8  # 9 elements but not the Kaifa types
    msg = one(E.structure(*items))
    assert [r.id for r in msg.readings][1:] == [f"body[{i}]" for i in range(1, 9)]


def test_kamstrup_regular_meter_currents_are_centiamps() -> None:
    r = by_id(one(kamstrup_body(meter_type="6841121BN243101040", current_raw=1091)))
    assert r["1.1.31.7.0.255"].value == pytest.approx(10.91)
    assert (r["1.1.1.8.0.255"].value, r["1.1.1.8.0.255"].unit) == (44228000, "Wh")


def test_kamstrup_ct_meter_currents_are_milliamps() -> None:
    r = by_id(one(kamstrup_body(meter_type="6851121BN243101040", current_raw=1091)))
    assert r["1.1.96.1.1.255"].value.startswith("685")
    assert r["1.1.31.7.0.255"].value == pytest.approx(1.091) and r["1.1.31.7.0.255"].unit == "A"
    assert r["1.1.32.7.0.255"].value == 230


def test_kamstrup_without_list_id_is_unscaled() -> None:
    body = E.structure(E.obis("1.1.31.7.0.255"), E.u32(1091))
    r = by_id(one(body))
    assert r["1.1.31.7.0.255"].value == 1091  # no list spec, no in-band scaler: raw


def _austrian_body() -> bytes:
    """Austrian Kaifa/Sagemcom: top-level clock OBIS/value pair, ids, then {OBIS, value, scaler-unit}."""
    return E.structure(
        E.obis("0.0.1.0.0.255"),
        E.octets(E.cosem_datetime(datetime(2023, 8, 21, 23, 23), -120, 0x80)),
        E.structure(E.obis("0.0.96.1.0.255"), E.octets(b"1KFM0200014196")),
        E.structure(E.obis("1.0.32.7.0.255"), E.u16(2329), E.scaler_unit(-1, 35)),
        E.structure(E.obis("1.0.31.7.0.255"), E.u16(176), E.scaler_unit(-2, 33)),
        E.structure(E.obis("1.0.1.7.0.255"), E.u32(41), E.scaler_unit(0, 27)),
        E.structure(E.obis("1.0.1.8.0.255"), E.u32(77130), E.scaler_unit(0, 30)),
        E.structure(E.obis("1.0.14.7.0.255"), E.u16(5001), E.scaler_unit(-2, 44)),
        E.structure(E.obis("1.0.13.7.0.255"), E.i16(-998), E.scaler_unit(-3, 255)),
    )


def test_austrian_mixed_body() -> None:
    msg = one(_austrian_body())
    r = by_id(msg)
    assert msg.clock == "2024-03-05T12:34:56"  # the APDU header's date-time wins
    assert r["0.0.1.0.0.255"].value == "2023-08-21T23:23:00+02:00"
    assert r["0.0.1.0.0.255"].quantity == "meter_clock"
    assert r["0.0.96.1.0.255"].value == "1KFM0200014196"
    assert (r["1.0.32.7.0.255"].value, r["1.0.32.7.0.255"].unit) == (pytest.approx(232.9), "V")
    assert (r["1.0.31.7.0.255"].value, r["1.0.31.7.0.255"].unit) == (pytest.approx(1.76), "A")
    assert (r["1.0.14.7.0.255"].value, r["1.0.14.7.0.255"].quantity) == (pytest.approx(50.01), "frequency")
    assert r["1.0.14.7.0.255"].unit == "Hz"
    assert (r["1.0.13.7.0.255"].value, r["1.0.13.7.0.255"].unit) == (pytest.approx(-0.998), None)
    assert r["1.0.13.7.0.255"].quantity == "power_factor"


def test_austrian_body_encrypted_over_mbus() -> None:
    msgs = decode(b"".join(encrypted_mbus(_austrian_body(), max_data=60)), key=TEST_KEY)
    assert len(msgs) == 1 and msgs[0].ok, msgs[0].error
    assert by_id(msgs[0])["1.0.1.8.0.255"].value == 77130


def test_unknown_body_yields_a_reading_per_element() -> None:
    body = E.structure(
        E.u32(1),
        E.i16(-2),
        E.visible("hello"),
        E.octets(b"\x00\x01"),
        E.f32(2.5),
        E.boolean(True),
        E.enum(3),
        E.u64(2**40),
        b"\x19" + E.cosem_datetime(CLOCK),
        E.array([E.u8(9), E.u8(10)]),
    )
    msg = one(body)
    r = by_id(msg)
    assert [x.id for x in msg.readings] == [f"body[{i}]" for i in range(9)] + ["body[9][0]", "body[9][1]"]
    assert r["body[0]"].value == 1 and r["body[1]"].value == -2 and r["body[2]"].value == "hello"
    assert r["body[3]"].value == "0001" and r["body[4]"].value == pytest.approx(2.5)
    assert r["body[8]"].value == "2024-03-05T12:34:56"
    assert all(x.quantity is None and x.unit is None for x in msg.readings)


@pytest.mark.parametrize(
    "body",
    [
        E.u32(7),
        E.visible("only a string"),
        E.array([]),
        E.structure(),
        E.null(),
        E.structure(E.obis("1.0.1.7.0.255")),  # OBIS without a value
        E.structure(E.obis("0.0.25.9.0.255"), E.obis("1.0.1.7.0.255"), E.u32(3)),  # push-setup id first
        E.structure(E.obis("9.9.9.9.9.9"), E.u32(3), E.scaler_unit(2, 255)),  # unknown OBIS, no unit
        E.structure(E.scaler_unit(0, 27)),
        E.array([E.structure(E.u8(1), E.structure(E.u8(2), E.array([E.visible("deep")])))]),
    ],
)
def test_odd_bodies_never_crash(body: bytes) -> None:
    msg = one(body)
    for x in msg.readings:
        assert x.quantity is None or x.quantity in QUANTITIES
        assert x.unit is None or x.unit in UNITS


@pytest.mark.parametrize("unit", [31, 9, 56, 200])
def test_units_outside_the_vocabulary_are_null(unit: int) -> None:
    msg = decode(plain_hdlc(E.structure(E.obis("1.0.9.8.0.255"), E.u32(3), E.scaler_unit(0, unit))))[0]
    assert msg.readings[0].unit is None


def test_unknown_obis_and_unit() -> None:
    r = by_id(one(E.structure(E.obis("9.9.9.9.9.9"), E.u32(3), E.scaler_unit(2, 27))))
    assert (r["9.9.9.9.9.9"].value, r["9.9.9.9.9.9"].unit, r["9.9.9.9.9.9"].quantity) == (300, "W", None)


def test_push_setup_obis_is_reported_as_an_id() -> None:
    r = by_id(one(E.structure(E.obis("0.0.25.9.0.255"), E.obis("1.0.1.7.0.255"), E.u32(3))))
    assert r["0.0.25.9.0.255"].value == "0.0.25.9.0.255"
    assert r["1.0.1.7.0.255"].value == 3


def test_every_reading_node_points_at_its_value_bytes() -> None:
    msg = one(aidon_body())
    payload = msg.buffers["payload"]
    for r in msg.readings:
        assert r.node is not None and r.node.buffer == "payload"
        assert 0 <= r.node.start < r.node.end <= len(payload)
    node = by_id(msg)["1.0.1.7.0.255"].node
    assert payload[node.start : node.end] == E.u32(1234)


def test_reading_json_shape() -> None:
    msg = one(aidon_body())
    for r in msg.to_json()["readings"]:
        assert set(r) == {"id", "quantity", "name", "value", "unit"}
        assert isinstance(r["value"], int | float | str)
