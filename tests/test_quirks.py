"""Firmware quirks decoders tolerate (meter-lists.md §4), built with the project's encoders."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from meterui.protocol import encode as E
from meterui.protocol import lists
from meterui.protocol.decoder import StreamDecoder
from meterui.protocol.message import Message
from tests.conftest import assert_tiles, assert_vocabulary, by_id
from tests.test_meter_lists import notes

T0 = datetime(2026, 1, 15, 8, 30, 0)


def run(data: bytes, **kw: object) -> list[Message]:
    d = StreamDecoder(**kw)  # type: ignore[arg-type]
    msgs = d.feed(data) + d.flush()
    assert_tiles(msgs)
    assert_vocabulary(msgs)
    return msgs


def embriq_body(swapped: bool = True) -> bytes:
    """ZMF100 "Embriq" list: array(18) of {OBIS, value[, {s,u}]}; currents i16 with the OBIS tag sent as
    06 09; energies with A=0 (DP hdlc_landis_gyr_zmf100 layout, meter-lists.md §4)."""
    ob = E.obis_swapped if swapped else E.obis
    items = [
        E.structure(E.obis("1.1.0.2.129.255"), E.visible("EMBRIQ_V1_1")),
        E.structure(E.obis("0.0.96.1.0.255"), E.visible("7359992812345678")),
        E.structure(E.obis("0.0.96.1.7.255"), E.visible("ZMF1")),
    ]
    items += [
        E.structure(E.obis(f"1.0.{c}.7.0.255"), E.u32(v), E.scaler_unit(0, u))
        for c, v, u in ((1, 1500, 27), (2, 0, 27), (3, 300, 29), (4, 0, 29))
    ]
    items += [
        E.structure(ob(f"1.0.{c}.7.0.255"), E.i16(v), E.scaler_unit(-2, 33)) for c, v in ((31, 652), (51, -3), (71, 45))
    ]
    items += [
        E.structure(E.obis(f"1.0.{c}.7.0.255"), E.u16(v), E.scaler_unit(-1, 35))
        for c, v in ((32, 2301), (52, 2302), (72, 2303))
    ]
    items.append(E.structure(E.obis("0.0.1.0.0.255"), E.octets(E.cosem_datetime(T0, -60))))
    items += [
        E.structure(E.obis(f"0.0.{c}.8.0.255"), E.u32(v), E.scaler_unit(0, u))
        for c, v, u in ((1, 123456, 30), (2, 7, 30), (3, 800, 32), (4, 9, 32))
    ]
    return E.array(items)


def test_embriq_swapped_obis_tag_and_a_zero_energies() -> None:
    msgs = run(E.hdlc_frame(E.LLC + E.data_notification(embriq_body())))
    assert len(msgs) == 1 and msgs[0].ok, msgs[0].error
    msg = msgs[0]
    r = by_id(msg)
    assert len(msg.readings) == 18
    assert msg.list_id == "EMBRIQ_V1_1"
    assert r["1.0.31.7.0.255"].value == pytest.approx(6.52) and r["1.0.31.7.0.255"].unit == "A"
    assert r["1.0.51.7.0.255"].value == pytest.approx(-0.03)
    assert r["1.0.32.7.0.255"].value == pytest.approx(230.1) and r["1.0.32.7.0.255"].unit == "V"
    assert (r["0.0.1.8.0.255"].value, r["0.0.1.8.0.255"].unit) == (123456, "Wh")
    assert r["0.0.1.8.0.255"].name == "Active energy import (A+)"
    assert r["0.0.1.8.0.255"].quantity == "active_energy_import"
    assert r["0.0.4.8.0.255"].unit == "varh"
    text = "\n".join(notes(msg))
    assert "firmware quirk: tag sent as 06 09" in text
    assert "sent as 06 09: firmware quirk" in text  # the tag byte itself
    assert "sent with A=0" in text


def test_u32_starting_with_09_as_a_value_is_not_taken_for_a_swapped_tag() -> None:
    """0x09xxxxxx as a register *value* (second element) stays a number."""
    body = E.array([E.structure(E.obis("1.0.1.8.0.255"), E.u32(0x09000001), E.scaler_unit(0, 30))])
    msg = run(E.hdlc_frame(E.LLC + E.data_notification(body)))[0]
    assert msg.ok and by_id(msg)["1.0.1.8.0.255"].value == 0x09000001


@pytest.mark.parametrize("form", ["octet", "typed", "datetime"])
def test_three_notification_date_time_encodings(form: str) -> None:
    dt = E.cosem_datetime(T0, -60)
    body = E.structure(E.visible("Kamstrup_V0001"), E.obis("1.1.1.7.0.255"), E.u32(5))
    msg = run(E.hdlc_frame(E.LLC + E.data_notification(body, dt=dt, dt_form=form)))[0]
    assert msg.ok and msg.clock == "2026-01-15T08:30:00+01:00"
    assert by_id(msg)["1.1.1.7.0.255"].value == 5


def test_zero_checksums_accepted_only_when_both_are_zero() -> None:
    body = E.structure(E.visible("Kamstrup_V0001"), E.obis("1.1.1.7.0.255"), E.u32(1234))
    frame = bytearray(E.hdlc_frame(E.LLC + E.data_notification(body)))
    hcs = 1 + 2 + 1 + 2 + 1  # flag, format, dest (1 byte), src (2 bytes), control
    frame[hcs : hcs + 2] = b"\0\0"
    frame[-3:-1] = b"\0\0"
    msgs = run(bytes(frame))
    assert len(msgs) == 1 and msgs[0].ok, msgs[0].error
    assert by_id(msgs[0])["1.1.1.7.0.255"].value == 1234
    text = "\n".join(notes(msgs[0]))
    assert text.count("not sent") == 2
    # only one of them zero: a corrupted frame, not decoded
    one = bytearray(frame)
    one[-3:-1] = b"\x12\x34"
    assert not any(m.ok for m in run(bytes(one)))


def test_unit_255_is_dimensionless() -> None:
    """EVN 13.7.0: scaler −3, unit 255."""
    body = E.structure(E.obis("1.0.13.7.0.255"), E.u16(986), E.scaler_unit(-3, 255))
    msg = run(E.hdlc_frame(E.LLC + E.data_notification(body)))[0]
    r = by_id(msg)["1.0.13.7.0.255"]
    assert r.value == pytest.approx(0.986) and r.unit is None and r.name == "Power factor"


def test_time_zone_gives_an_unspecified_deviation_its_offset() -> None:
    body = E.structure(E.visible("Kamstrup_V0001"), E.obis("1.1.1.7.0.255"), E.u32(5))
    summer = E.cosem_datetime(datetime(2026, 7, 1, 12, 0, 0), None)
    winter = E.cosem_datetime(datetime(2026, 1, 1, 12, 0, 0), None)
    data = b"".join(E.hdlc_frame(E.LLC + E.data_notification(body, dt=d)) for d in (summer, winter))
    oslo = lists.MeterProfile(tz=ZoneInfo("Europe/Oslo"))
    assert [m.clock for m in run(data, profile=oslo)] == ["2026-07-01T12:00:00+02:00", "2026-01-01T12:00:00+01:00"]
    tokyo = lists.MeterProfile(tz=ZoneInfo("Asia/Tokyo"))
    assert [m.clock for m in run(data, profile=tokyo)] == ["2026-07-01T12:00:00+09:00", "2026-01-01T12:00:00+09:00"]
    assert [m.clock for m in run(data)] == ["2026-07-01T12:00:00", "2026-01-01T12:00:00"]
    # a given deviation is never overridden by the zone
    given = E.hdlc_frame(E.LLC + E.data_notification(body, dt=E.cosem_datetime(datetime(2026, 7, 1, 12), -60)))
    assert run(given, profile=tokyo)[0].clock == "2026-07-01T12:00:00+01:00"


def test_time_zone_applies_to_clocks_in_the_body() -> None:
    body = E.array([E.structure(E.obis("0.0.1.0.0.255"), E.octets(E.cosem_datetime(datetime(2026, 7, 1, 12), None)))])
    prof = lists.MeterProfile(tz=ZoneInfo("Europe/Vienna"))
    assert run(E.hdlc_frame(E.LLC + E.data_notification(body)), profile=prof)[0].clock == "2026-07-01T12:00:00+02:00"


def test_nul_padded_strings_are_text() -> None:
    """WW_Go E450 0-0:96.14.0 "RATE1" NUL-padded to 8; Embriq serial visible-string NUL-padded to 16."""
    body = E.array(
        [
            E.structure(E.obis("0.0.96.14.0.255"), E.octets(b"RATE1\0\0\0")),
            E.structure(E.obis("0.0.96.1.0.255"), E.visible("73599928\0\0\0\0\0\0\0\0")),
        ]
    )
    msg = run(E.hdlc_frame(E.LLC + E.data_notification(body)))[0]
    r = by_id(msg)
    assert r["0.0.96.14.0.255"].value == "RATE1" and r["0.0.96.1.0.255"].value == "73599928"
