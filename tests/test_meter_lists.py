"""Meter lists beyond the Norwegian trio (meter-lists.md §1-§3): descriptor pushes, positional lists,
Kamstrup Omnipower. Every body is built with the project's encoders from the layout in the reference,
not copied from a capture; each test asserts labels, values and units."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from meterui.protocol import encode as E
from meterui.protocol import lists
from meterui.protocol.decoder import StreamDecoder
from meterui.protocol.message import Message
from tests.conftest import assert_tiles, assert_vocabulary, by_id

T0 = datetime(2026, 5, 4, 13, 14, 15)


def dec(body: bytes, profile: lists.MeterProfile | None = None, dt: bytes | None = None) -> Message:
    d = StreamDecoder(profile=profile)
    msgs = d.feed(E.hdlc_frame(E.LLC + E.data_notification(body, dt=dt))) + d.flush()
    assert_tiles(msgs)
    assert_vocabulary(msgs)
    assert len(msgs) == 1 and msgs[0].ok, msgs[0].error
    return msgs[0]


def notes(msg: Message) -> list[str]:
    """Every note and label in the fully built tree."""
    out: list[str] = []
    stack = [msg.root]
    while stack:
        n = stack.pop()
        out.append(f"{n.label}: {n.note}")
        stack.extend(n.children or ())
    return out


def val(r: dict[str, Any], rid: str) -> tuple[Any, Any]:
    return r[rid].value, r[rid].unit


# -- descriptor pushes (§1) -----------------------------------------------------------------------------
def swiss_rwb_5s() -> bytes:
    """RWB 0-8:25.9.0 list: 25.9.0;1 · 96.1.0 · 1.7.0 · 2.7.0 · 1-1:1.8.0 · 2.8.0 · 5.8.0..8.8.0 · 31/51/71.7.0."""
    return E.descriptor_push(
        "0.8.25.9.0.255",
        [
            (40, "0.8.25.9.0.255", 1, E.octets(bytes([0, 8, 25, 9, 0, 255]))),
            (1, "0.0.96.1.0.255", 2, E.octets(b"37462883")),
            (3, "1.0.1.7.0.255", 2, E.u32(1532)),
            (3, "1.0.2.7.0.255", 2, E.u32(0)),
            (3, "1.1.1.8.0.255", 2, E.u32(12345678)),
            (3, "1.1.2.8.0.255", 2, E.u32(4321)),
            (3, "1.1.5.8.0.255", 2, E.u32(11)),
            (3, "1.1.6.8.0.255", 2, E.u32(12)),
            (3, "1.1.7.8.0.255", 2, E.u32(13)),
            (3, "1.1.8.8.0.255", 2, E.u32(14)),
            (3, "1.0.31.7.0.255", 2, E.u16(652)),
            (3, "1.0.51.7.0.255", 2, E.u16(2)),
            (3, "1.0.71.7.0.255", 2, E.u16(130)),
        ],
    )


def test_swiss_descriptor_push_maps_values_by_descriptor_not_attribute_index() -> None:
    msg = dec(swiss_rwb_5s())
    r = by_id(msg)
    assert val(r, "1.0.31.7.0.255") == (pytest.approx(6.52), "A")  # not the attribute index 2
    assert val(r, "1.0.51.7.0.255") == (pytest.approx(0.02), "A")
    assert val(r, "1.0.71.7.0.255") == (pytest.approx(1.30), "A")
    assert val(r, "1.0.1.7.0.255") == (1532, "W")
    assert r["1.0.1.7.0.255"].quantity == "active_power_import"
    assert val(r, "1.1.1.8.0.255") == (12345678, "Wh")
    assert val(r, "1.1.2.8.0.255") == (4321, "Wh")
    assert r["1.1.5.8.0.255"].unit == "varh"
    assert r["0.0.96.1.0.255"].value == "37462883" and msg.meter == "37462883"
    assert r["0.8.25.9.0.255"].value == "0.8.25.9.0.255"  # the push setup's logical name (attribute 1)
    assert not any(x.value == 2 for x in msg.readings)
    assert not any(x.id.startswith("body[") for x in msg.readings)
    text = "\n".join(notes(msg))
    assert "default (Landis+Gyr E450 defaults)" in text
    assert "push object list" in text


def test_cyprus_power_push_without_attribute_1_entry() -> None:
    """Cyprus: the self entry is followed directly by the clock; u32 powers and u16 currents/voltages/PF."""
    objs: list[tuple[int, str, int, bytes]] = [(8, "0.0.1.0.0.255", 2, E.octets(E.cosem_datetime(T0, None)))]
    objs += [
        (3, f"1.0.{c}.7.0.255", 2, E.u32(v))
        for c, v in ((21, 300), (41, 0), (61, 0), (22, 0), (42, 0), (62, 0), (1, 300), (2, 0), (3, 40), (4, 0))
    ]
    objs += [
        (3, f"1.0.{c}.7.0.255", 2, E.u16(v))
        for c, v in ((13, 986), (31, 130), (51, 0), (71, 0), (32, 238), (52, 0), (72, 0), (14, 50))
    ]
    objs.append((1, "0.0.96.3.0.255", 2, E.u32(7)))
    msg = dec(E.descriptor_push("0.8.25.9.0.255", objs))
    r = by_id(msg)
    assert msg.clock == "2026-05-04T13:14:15"
    assert val(r, "1.0.31.7.0.255") == (pytest.approx(1.30), "A")
    assert val(r, "1.0.32.7.0.255") == (238, "V")  # whole volts: not ÷10
    assert val(r, "1.0.13.7.0.255") == (pytest.approx(0.986), None)
    assert val(r, "1.0.14.7.0.255") == (50, "Hz")
    assert val(r, "1.0.21.7.0.255") == (300, "W")
    assert val(r, "1.0.3.7.0.255") == (40, "var")
    assert r["0.0.96.3.0.255"].value == 7 and r["0.0.96.3.0.255"].unit is None


def test_cyprus_energy_push_with_disconnect_control_state() -> None:
    objs = [
        (1, "0.0.42.0.0.255", 2, E.octets(b"LGZ1030123456789")),
        (1, "0.0.96.1.1.255", 2, E.octets(b"1234567")),
        (1, "0.0.96.14.0.255", 2, E.octets(b"RATE1\0\0\0")),
    ]
    objs += [
        (3, f"1.0.{c}.255", 2, E.u32(v))
        for c, v in (
            ("1.8.1", 100),
            ("1.8.2", 200),
            ("2.8.1", 3),
            ("2.8.2", 4),
            ("1.8.0", 300),
            ("2.8.0", 7),
            ("3.8.0", 50),
            ("4.8.0", 60),
        )
    ]
    objs.append((70, "0.0.96.3.10.255", 3, E.enum(1)))
    msg = dec(E.descriptor_push("0.9.25.9.0.255", objs))
    r = by_id(msg)
    assert r["0.0.42.0.0.255"].name == "Logical device name" and r["0.0.42.0.0.255"].value == "LGZ1030123456789"
    assert r["0.0.96.1.1.255"].value == "1234567"
    assert val(r, "1.0.1.8.1.255") == (100, "Wh") and val(r, "1.0.4.8.0.255") == (60, "varh")
    assert r["0.0.96.3.10.255"].value == 1 and r["0.0.96.3.10.255"].name == "Disconnect control state"
    assert any("connected" in n for n in notes(msg))


def test_scaler_unit_attribute_applies_to_the_value_of_the_same_object() -> None:
    """RWB 15-min list: 0-n:24.2.1;2 (value) listed before 0-n:24.2.1;3 (its scaler-unit)."""
    objs = [
        (40, "0.11.25.9.0.255", 1, E.octets(bytes([0, 11, 25, 9, 0, 255]))),
        (72, "0.1.24.1.0.255", 6, E.u32(12345678)),
        (4, "0.1.24.2.1.255", 2, E.u32(123456)),
        (72, "0.1.24.1.0.255", 9, E.u8(3)),
        (4, "0.1.24.2.1.255", 3, E.scaler_unit(-3, 13)),
    ]
    msg = dec(E.descriptor_push("0.11.25.9.0.255", objs))
    r = by_id(msg)
    assert val(r, "0.1.24.2.1.255") == (pytest.approx(123.456), "m3")
    assert r["0.1.24.1.0.255:6"].value == 12345678
    assert r["0.1.24.1.0.255:9"].value == 3
    assert len(msg.readings) == 4  # the scaler-unit is applied, not reported as a value
    assert any("in-band (attribute 3)" in n for n in notes(msg))


def test_descriptor_count_mismatch_decodes_generically() -> None:
    body = swiss_rwb_5s()
    body = b"\x02\x0f" + body[2:] + E.u32(99)  # one value more than the descriptors describe
    msg = dec(body)
    assert any("describes 14" in w for w in msg.warnings)
    assert "1.0.31.7.0.255" not in by_id(msg)
    assert not any(x.unit for x in msg.readings)  # no label borrowed from the descriptors
    assert 99 in [x.value for x in msg.readings] and 652 in [x.value for x in msg.readings]  # nothing lost


def test_descriptor_with_wrong_type_is_not_a_descriptor_list() -> None:
    """A descriptor whose attribute index is u8 instead of i8 is not the layout: generic decode, no labels
    taken from the descriptors' OBIS codes as values."""
    descs = [E.descriptor(40, "0.8.25.9.0.255", 2), E.structure(E.u16(3), E.obis("1.0.31.7.0.255"), E.u8(2), E.u16(0))]
    msg = dec(E.structure(E.array(descs), E.u16(652)))
    r = by_id(msg)
    assert "1.0.31.7.0.255" not in r  # the attribute index 2 is not "Current L1 = 2 A"
    assert [x.value for x in msg.readings] == [652]


# -- user override and plausibility ----------------------------------------------------------------------
def test_user_scale_override_is_applied_and_shown() -> None:
    prof = lists.MeterProfile(lists.parse_scale("energy=0.1,voltage=0.01"))
    msg = dec(swiss_rwb_5s(), profile=prof)
    r = by_id(msg)
    assert val(r, "1.1.1.8.0.255") == (pytest.approx(1234567.8), "Wh")
    assert val(r, "1.0.1.7.0.255") == (1532, "W")  # power untouched
    assert any("user override ×0.1" in n for n in notes(msg))


@pytest.mark.parametrize("bad", ["energy", "joules=10", "energy=3", "energy=-0.1", "energy=x"])
def test_parse_scale_rejects_malformed(bad: str) -> None:
    with pytest.raises(ValueError):
        lists.parse_scale(bad)


# -- Kamstrup Omnipower (§3.2) ---------------------------------------------------------------------------
def test_kamstrup_omnipower_power_factor_and_per_phase_energy() -> None:
    pairs = [
        ("1.1.0.0.5.255", E.visible("5706567000000000")),
        ("1.1.96.1.1.255", E.visible("6841131BN243101040")),
        ("1.1.13.7.0.255", E.u16(83)),
        ("1.1.33.7.0.255", E.u16(31)),
        ("1.1.53.7.0.255", E.u16(87)),
        ("1.1.73.7.0.255", E.u16(85)),
        ("1.1.1.8.0.255", E.u32(600)),
        ("1.1.21.8.0.255", E.u32(100)),
        ("1.1.41.8.0.255", E.u32(200)),
        ("1.1.61.8.0.255", E.u32(299)),
        ("1.1.22.8.0.255", E.u32(5)),
    ]
    body = E.structure(E.visible("Kamstrup_V0001"), *[x for o, v in pairs for x in (E.obis(o), v)])
    r = by_id(dec(body))
    assert val(r, "1.1.13.7.0.255") == (pytest.approx(0.83), None)
    assert val(r, "1.1.33.7.0.255") == (pytest.approx(0.31), None)
    assert val(r, "1.1.73.7.0.255") == (pytest.approx(0.85), None)
    assert val(r, "1.1.1.8.0.255") == (6000, "Wh")
    assert val(r, "1.1.21.8.0.255") == (1000, "Wh") and val(r, "1.1.61.8.0.255") == (2990, "Wh")
    assert val(r, "1.1.22.8.0.255") == (50, "Wh")
    assert r["1.1.21.8.0.255"].name == "Active energy import L1"


# -- positional lists (§2) --------------------------------------------------------------------------------
ISK_LDN = E.octets(b"ISK1030775213859")
ISK_ID = E.octets(b"75213859")
PQ = [E.u32(1500), E.u32(20), E.u32(300), E.u32(4)]
U3 = [E.u16(2301), E.u16(2302), E.u16(2303)]
I3 = [E.u16(652), E.u16(0), E.u16(45)]
TS = E.octets(E.cosem_datetime(T0, -60))


def _kaifa13(model: bytes) -> bytes:
    return E.structure(
        E.octets(b"KFM_001"),
        E.octets(b"6970631400000000"),
        E.octets(model),
        *PQ,
        E.u32(6543),
        E.u32(1234),
        E.u32(0),
        E.u32(2301),
        E.u32(2310),
        E.u32(2299),
    )


BODIES: dict[str, bytes] = {
    "Kaifa list 1": E.structure(E.u32(1500)),
    "Kaifa list 2 (1-phase)": E.structure(
        E.octets(b"KFM_001"), E.octets(b"6970631400000000"), E.octets(b"MA105H2E"), *PQ, E.u32(6543), E.u32(2301)
    ),
    "Kaifa list 2 (3-phase)": _kaifa13(b"MA304H3E"),
    "Kaifa list 3 (1-phase)": E.structure(
        E.octets(b"KFM_001"),
        E.octets(b"6970631400000000"),
        E.octets(b"MA105H2E"),
        *PQ,
        E.u32(6543),
        E.u32(2301),
        TS,
        E.u32(1),
        E.u32(2),
        E.u32(3),
        E.u32(4),
    ),
    "Kaifa list 3 (3-phase)": E.structure(
        E.octets(b"KFM_001"),
        E.octets(b"6970631400000000"),
        E.octets(b"MA304H3"),
        *PQ,
        E.u32(6543),
        E.u32(1234),
        E.u32(0),
        E.u32(2301),
        E.u32(2310),
        E.u32(2299),
        TS,
        E.u32(1),
        E.u32(2),
        E.u32(3),
        E.u32(4),
    ),
    "Iskra SI 18 (3-phase power)": E.structure(
        ISK_LDN, ISK_ID, *PQ, *U3, *I3, E.u32(500), E.u32(600), E.u32(400), E.u32(0), E.u32(0), E.u32(0)
    ),
    "Iskra SI 12 (energy)": E.structure(
        ISK_LDN, ISK_ID, E.enum(1), E.octets(b"\x00\x01"), *[E.u32(v) for v in (3000, 1000, 2000, 30, 10, 20, 77, 88)]
    ),
    "Iskra SI 12 (3-phase)": E.structure(ISK_LDN, ISK_ID, *U3, *I3, *PQ),
    "Iskra SI 10 (1-phase)": E.structure(ISK_LDN, ISK_ID, *PQ, E.u16(2301), E.u16(652), E.u32(1500), E.u32(20)),
    "Iskra SI 10 (tariff energy)": E.structure(ISK_LDN, ISK_ID, *[E.u32(v) for v in (11, 12, 21, 22, 31, 32, 41, 42)]),
    "Iskra SI 9": E.structure(ISK_LDN, ISK_ID, *PQ, E.u16(2301), E.u32(21), E.u32(22)),
    "Iskra SI 8 (1-phase)": E.structure(ISK_LDN, ISK_ID, E.u16(2301), E.u16(652), *PQ),
    "Iskra IE.5 Croatia (33)": E.structure(
        E.octets(b"x"),
        E.octets(b"y"),
        E.u32(0),
        *[E.u32(v) for v in (3000, 1000, 2000, 30, 10, 20, 5, 6, 7, 8)],
        E.u32(1500),
        E.u32(20),
        E.u32(986),
        E.u32(500),
        E.u32(600),
        E.u32(400),
        E.u32(0),
        E.u32(0),
        E.u32(0),
        *U3,
        *I3,
        *[E.u16(0)] * 5,
    ),
    "Iskra IE.5 Croatia (28)": E.structure(
        E.octets(b"x"),
        E.octets(b"y"),
        E.u32(0),
        *[E.u32(v) for v in (3000, 1000, 2000, 30, 10, 20)],
        E.u32(1500),
        E.u32(20),
        E.u32(500),
        E.u32(600),
        E.u32(400),
        E.u32(0),
        E.u32(0),
        E.u32(0),
        *U3,
        *I3,
        *[E.u16(0)] * 5,
    ),
    "Iskra AM550 Switzerland (15)": E.structure(
        *[E.u32(v) for v in (3000, 1000, 2000, 30, 10, 20)],
        E.octets(b""),
        TS,
        E.u32(20),
        E.u32(1500),
        *I3,
        E.u16(2301),
        E.u16(2303),
    ),
    "IMx50 Austria (10)": E.structure(
        E.octets(bytes([0, 8, 25, 9, 0, 255])),
        E.octets(b"1ISK0070123456"),
        E.octets(bytes([13, 14, 15, 0])),
        E.octets(bytes([0x07, 0xEA, 5, 4, 1])),
        *[E.u32(v) for v in (3000, 30, 700, 8, 1500, 20)],
    ),
    "IMx50 Austria (12, with consumer message)": E.structure(
        E.octets(bytes([0, 8, 25, 9, 0, 255])),
        E.octets(b"1ISK0070123456"),
        E.octets(bytes([13, 14, 15, 0])),
        E.octets(bytes([0x07, 0xEA, 5, 4, 1])),
        *[E.u32(v) for v in (3000, 30, 700, 8, 1500, 20)],
        E.octets(b"hello"),
        E.u8(0),
    ),
    "L+G E450 Wiener Netze (9)": E.structure(TS, *[E.u32(v) for v in (3000, 30, 700, 8, 1500, 20, 300, 4)]),
    "L+G Austria LNG2 (14)": E.structure(
        E.u16(231),
        E.u16(232),
        E.u16(233),
        *I3,
        E.u32(1500),
        E.u32(20),
        E.u32(3000),
        E.u32(30),
        E.u16(1),
        E.u16(2),
        E.u16(3),
        E.octets(b"LGZ0012345"),
    ),
    "L+G Austria LNG2 (11)": E.structure(
        E.u16(231), E.u16(232), E.u16(233), *I3, E.u32(1500), E.u32(20), E.u32(3000), E.u32(30), E.octets(b"LGZ0012345")
    ),
}


def test_every_positional_layout_has_a_test_body() -> None:
    assert {s.name for s in lists.POSITIONAL} == set(BODIES)


@pytest.mark.parametrize("name", sorted(BODIES))
def test_positional_body_matches_its_layout(name: str) -> None:
    msg = dec(BODIES[name])
    assert any(f"positional, {name}" in n for n in notes(msg)), name


def test_kaifa_model_string_of_7_and_8_characters() -> None:
    for model in (b"MA304H3", b"MA304H3E"):
        r = by_id(dec(_kaifa13(model)))
        assert r["0.0.96.1.7.255"].value == model.decode()
        assert val(r, "1.0.31.7.0.255") == (pytest.approx(6.543), "A")
        assert val(r, "1.0.72.7.0.255") == (pytest.approx(229.9), "V")


def test_iskra_si_18_ldn_and_meter_id_told_apart() -> None:
    msg = dec(BODIES["Iskra SI 18 (3-phase power)"])
    r = by_id(msg)
    assert r["0.0.42.0.0.255"].name == "Logical device name" and r["0.0.42.0.0.255"].value == "ISK1030775213859"
    assert "1.1.0.2.129.255" not in r  # not a "List version identifier"
    assert msg.meter == "75213859" and msg.list_id is None
    assert val(r, "1.0.32.7.0.255") == (pytest.approx(230.1), "V")
    assert val(r, "1.0.31.7.0.255") == (pytest.approx(6.52), "A")
    assert val(r, "1.0.71.7.0.255") == (pytest.approx(0.45), "A")
    assert val(r, "1.0.1.7.0.255") == (1500, "W") and val(r, "1.0.4.7.0.255") == (4, "var")
    assert val(r, "1.0.21.7.0.255") == (500, "W") and val(r, "1.0.62.7.0.255") == (0, "W")


def test_iskra_si_12_energy_push_accepts_enum_or_boolean_state() -> None:
    for state in (E.enum(1), E.boolean(True)):
        body = E.structure(
            ISK_LDN, ISK_ID, state, E.octets(b"\x00\x01"), *[E.u32(v) for v in (3000, 1000, 2000, 30, 10, 20, 77, 88)]
        )
        r = by_id(dec(body))
        assert r["0.0.96.3.10.255"].value == 1
        assert val(r, "1.0.1.8.0.255") == (3000, "Wh") and val(r, "1.0.1.8.2.255") == (2000, "Wh")
        assert val(r, "1.0.2.8.1.255") == (10, "Wh") and val(r, "1.0.4.8.0.255") == (88, "varh")


def test_iskra_si_small_lists() -> None:
    r = by_id(dec(BODIES["Iskra SI 12 (3-phase)"]))
    assert val(r, "1.0.52.7.0.255") == (pytest.approx(230.2), "V") and val(r, "1.0.3.7.0.255") == (300, "var")
    r = by_id(dec(BODIES["Iskra SI 10 (1-phase)"]))
    assert val(r, "1.0.31.7.0.255") == (pytest.approx(6.52), "A") and val(r, "1.0.22.7.0.255") == (20, "W")
    r = by_id(dec(BODIES["Iskra SI 10 (tariff energy)"]))
    assert val(r, "1.0.3.8.2.255") == (32, "varh") and val(r, "1.0.4.8.1.255") == (41, "varh")
    r = by_id(dec(BODIES["Iskra SI 9"]))
    assert val(r, "1.0.32.7.0.255") == (pytest.approx(230.1), "V") and val(r, "1.0.2.8.2.255") == (22, "Wh")
    r = by_id(dec(BODIES["Iskra SI 8 (1-phase)"]))
    assert val(r, "1.0.31.7.0.255") == (pytest.approx(6.52), "A") and val(r, "1.0.1.7.0.255") == (1500, "W")


def test_croatian_iskra_lists() -> None:
    r = by_id(dec(BODIES["Iskra IE.5 Croatia (33)"]))
    assert val(r, "1.0.1.8.0.255") == (3000, "Wh") and val(r, "1.0.8.8.0.255") == (8, "varh")
    assert val(r, "1.0.13.7.0.255") == (pytest.approx(0.986), None)
    assert val(r, "1.0.72.7.0.255") == (pytest.approx(230.3), "V") and val(r, "1.0.31.7.0.255")[0] == pytest.approx(
        6.52
    )
    assert "body[0]" in r and r["body[0]"].unit is None  # not decoded by the reference: left unlabelled
    r = by_id(dec(BODIES["Iskra IE.5 Croatia (28)"]))
    assert val(r, "1.0.2.7.0.255") == (20, "W") and "1.0.13.7.0.255" not in r
    assert val(r, "1.0.71.7.0.255") == (pytest.approx(0.45), "A")


def test_swiss_am550_export_before_import_and_no_u2() -> None:
    msg = dec(BODIES["Iskra AM550 Switzerland (15)"])
    r = by_id(msg)
    assert val(r, "1.0.1.7.0.255") == (1500, "W") and val(r, "1.0.2.7.0.255") == (20, "W")
    assert val(r, "1.0.32.7.0.255") == (pytest.approx(230.1), "V") and val(r, "1.0.72.7.0.255")[0] == pytest.approx(
        230.3
    )
    assert "1.0.52.7.0.255" not in r
    assert msg.clock == "2026-05-04T13:14:15+01:00"


def test_imx50_austria() -> None:
    msg = dec(BODIES["IMx50 Austria (10)"])
    r = by_id(msg)
    assert r["0.0.25.9.0.255"].value == "0.8.25.9.0.255"
    assert r["0.0.96.1.1.255"].value == "1ISK0070123456"
    assert val(r, "1.0.1.8.0.255") == (3000, "Wh") and val(r, "1.0.4.8.0.255") == (8, "varh")
    assert val(r, "1.0.1.7.0.255") == (1500, "W") and val(r, "1.0.2.7.0.255") == (20, "W")
    r = by_id(dec(BODIES["IMx50 Austria (12, with consumer message)"]))
    assert r["0.0.96.13.0.255"].value == "hello"


def test_landis_gyr_positional_lists() -> None:
    msg = dec(BODIES["L+G E450 Wiener Netze (9)"])
    r = by_id(msg)
    assert msg.clock == "2026-05-04T13:14:15+01:00"
    assert val(r, "1.0.3.8.0.255") == (700, "varh") and val(r, "1.0.4.7.0.255") == (4, "var")
    r = by_id(dec(BODIES["L+G Austria LNG2 (14)"]))
    assert val(r, "1.0.32.7.0.255") == (231, "V")  # whole volts
    assert val(r, "1.0.31.7.0.255") == (pytest.approx(6.52), "A")
    assert val(r, "1.0.2.8.0.255") == (30, "Wh")
    assert r["0.0.96.1.0.255"].value == "LGZ0012345"
    assert r["body[10]"].unit is None and r["body[10]"].value == 1  # meaning unknown: unlabelled


def _retyped(el: bytes) -> bytes:
    """The same position holding an element of another A-XDR type."""
    tag = el[0]
    if tag == 0x06:
        return E.octets(el[1:5])
    if tag == 0x12:
        return E.i16(int.from_bytes(el[1:3], "big") & 0x7FFF)
    return E.u32(1)


def _near_misses() -> list[tuple[str, str, bytes]]:
    from meterui.protocol import axdr

    out = []
    specs = {s.name: s for s in lists.POSITIONAL}
    for name, body in BODIES.items():
        out.append((name, "one element more", body[:1] + bytes([body[1] + 1]) + body[2:] + E.u8(7)))
        tape, _ = axdr.parse_tape(body, 0, len(body))
        kids = axdr.tape_children(tape, 0)
        # the last position whose type the layout constrains gets an element of another type
        k = max(i for i, f in enumerate(specs[name].fields) if f.tags is not None)
        s, e = tape[kids[k]][axdr.START], tape[kids[k]][axdr.END]
        out.append((name, f"element {k} of another type", body[:s] + _retyped(body[s:e]) + body[e:]))
    return out


@pytest.mark.parametrize(("name", "how", "body"), _near_misses(), ids=lambda x: x if isinstance(x, str) else "")
def test_near_miss_body_decodes_generically(name: str, how: str, body: bytes) -> None:
    msg = dec(body)
    assert not any("positional" in n for n in notes(msg)), (name, how)
    for x in msg.readings:
        assert x.unit is None, (name, how, x)  # no label, no scaling borrowed from the layout
        assert x.id.startswith("body[") or x.id in ("1.1.0.2.129.255", "0.0.42.0.0.255", "0.8.25.9.0.255"), x
