"""The captured vectors in tests/data/vectors decode to the values read off the bytes by hand."""

from __future__ import annotations

import pytest

from tests.conftest import (
    TEST_KEY,
    assert_tiles,
    by_id,
    decode,
    load_vectors,
    requires_vectors,
    vector_by_id,
    vector_bytes,
)

pytestmark = requires_vectors

HDLC_IDS = [v["id"] for v in load_vectors("hdlc")]
ALL_IDS = HDLC_IDS + [v["id"] for v in load_vectors("mbus")]


@pytest.mark.parametrize("vid", HDLC_IDS)
def test_every_hdlc_vector_decodes_as_one_good_kamstrup_message(vid: str) -> None:
    msgs = decode(vector_bytes(vector_by_id(vid)))
    assert len(msgs) == 1
    msg = msgs[0]
    assert msg.ok, msg.error
    assert msg.protocol == "hdlc"
    assert msg.encrypted is False and msg.authenticated is None
    assert msg.list_id == "Kamstrup_V0001"
    r = by_id(msg)
    assert r["1.1.0.2.129.255"].value == "Kamstrup_V0001"
    assert r["1.1.0.2.129.255"].quantity == "list_id"
    # the replaced meter id bytes are 0x01 (not printable) -> shown as hex
    assert r["1.1.0.0.5.255"].value == "01" * 16
    assert r["1.1.0.0.5.255"].quantity == "meter_id"
    assert r["1.1.96.1.1.255"].value == "6841121BN243101040"
    for code in ("1.1.31.7.0.255", "1.1.51.7.0.255", "1.1.71.7.0.255"):
        assert r[code].unit == "A" and isinstance(r[code].value, float)
    for code in ("1.1.32.7.0.255", "1.1.52.7.0.255", "1.1.72.7.0.255"):
        assert r[code].unit == "V"
    assert r["1.1.1.7.0.255"].unit == "W" and r["1.1.3.7.0.255"].unit == "var"
    assert msg.offsets == [(0, len(vector_bytes(vector_by_id(vid))))]


def test_kamstrup_list1_a_values() -> None:
    msg = decode(vector_bytes(vector_by_id("kamstrup-list1-a")))[0]
    exp = vector_by_id("kamstrup-list1-a")["expected"]
    r = by_id(msg)
    for code, value in exp.items():
        if code in ("list_id", "clock"):
            continue
        assert r[code].value == pytest.approx(value) if isinstance(value, float) else r[code].value == value, code
    # raw 0x0443 = 1091 in 0.01 A
    assert r["1.1.31.7.0.255"].value == pytest.approx(10.91)
    assert (r["1.1.31.7.0.255"].quantity, r["1.1.31.7.0.255"].unit) == ("current_l1", "A")
    assert (r["1.1.32.7.0.255"].value, r["1.1.32.7.0.255"].unit) == (220, "V")
    assert (r["1.1.1.7.0.255"].value, r["1.1.1.7.0.255"].unit) == (2824, "W")
    assert msg.clock == exp["clock"] == "2019-01-21T23:43:10"  # deviation 0x8000: no offset
    assert msg.list_id == exp["list_id"]
    assert len(msg.readings) == 13


def test_kamstrup_list2_a_energies_are_raw_times_10_wh() -> None:
    vec = vector_by_id("kamstrup-list2-a")
    msg = decode(vector_bytes(vec))[0]
    r = by_id(msg)
    exp = vec["expected"]
    payload = msg.buffers["payload"]
    for code in ("1.1.1.8.0.255", "1.1.2.8.0.255", "1.1.3.8.0.255", "1.1.4.8.0.255"):
        node = r[code].node
        assert payload[node.start] == 0x06  # double-long-unsigned
        raw = int.from_bytes(payload[node.start + 1 : node.end], "big")
        assert r[code].value == raw * 10, code
        if code != "1.1.3.8.0.255":
            assert raw == exp[code + "_raw"], code
    # The vector's hand-read R+ (668142 = 0x0A31EE) disagrees with its own bytes `06 00 0A 35 EE`
    # (669166); the CRC over the frame is valid, so the bytes are authoritative.
    assert b"\x09\x06\x01\x01\x03\x08\x00\xff\x06\x00\x0a\x35\xee" in payload
    assert r["1.1.3.8.0.255"].value == 6691660
    assert r["1.1.1.8.0.255"].value == 44228000
    assert (r["1.1.1.8.0.255"].unit, r["1.1.1.8.0.255"].quantity) == ("Wh", "active_energy_import")
    assert (r["1.1.3.8.0.255"].unit, r["1.1.3.8.0.255"].quantity) == ("varh", "reactive_energy_import")
    assert r["1.1.1.7.0.255"].value == exp["1.1.1.7.0.255"]
    assert r["1.1.3.7.0.255"].value == exp["1.1.3.7.0.255"]
    assert r["0.1.1.0.0.255"].value == exp["0.1.1.0.0.255"]
    assert r["0.1.1.0.0.255"].quantity == "meter_clock"
    assert msg.clock == exp["clock"]
    assert len(msg.readings) == 18


def test_kamstrup_list1_b_has_7e_inside_its_fcs() -> None:
    data = vector_bytes(vector_by_id("kamstrup-list1-b"))
    assert data[-3:] == b"\x18\x7e\x7e"  # FCS 18 7E, then the closing flag
    msgs = decode(data)
    assert len(msgs) == 1 and msgs[0].ok
    assert msgs[0].offsets == [(0, len(data))]
    fcs = msgs[0].root.find("frame/fcs")
    assert fcs is not None and fcs.value == "187E" and "ok" in fcs.note


def test_all_hdlc_vectors_in_one_stream_decode_in_order() -> None:
    vecs = load_vectors("hdlc")
    data = b"".join(vector_bytes(v) for v in vecs)
    msgs = decode(data)
    assert [m.ok for m in msgs] == [True] * len(vecs)
    clocks = [m.clock for m in msgs]
    assert clocks[0] == "2019-01-21T23:43:10"
    assert [m.index for m in msgs] == list(range(len(vecs)))


def test_mbus_test_key_vector_values() -> None:
    vec = vector_by_id("vkw-kaifa-ma309m-testkey")
    msgs = decode(vector_bytes(vec), key=bytes.fromhex(vec["key_hex"]))
    assert len(msgs) == 1
    msg = msgs[0]
    assert msg.ok, msg.error
    assert msg.protocol == "mbus"
    assert msg.encrypted is True
    assert msg.authenticated is False  # SC 0x21: no tag
    assert msg.system_title == bytes.fromhex("4B464D1020003774")
    assert msg.invocation_counter == 7014
    assert msg.buffers["apdu"] == bytes.fromhex(vec["plaintext_hex"])
    r = by_id(msg)
    for code, text in vec["expected"].items():
        if code in ("clock", "invoke_id"):
            continue
        parts = text.rsplit(" ", 1)
        if len(parts) == 2 and parts[1] in ("V", "A", "W", "Wh", "varh"):
            assert r[code].value == pytest.approx(float(parts[0])), code
            assert r[code].unit == parts[1], code
        else:
            assert r[code].value == text, code
    assert (r["1.0.32.7.0.255"].value, r["1.0.32.7.0.255"].unit) == (pytest.approx(232.9), "V")
    assert r["1.0.32.7.0.255"].quantity == "voltage_l1"
    assert r["1.0.31.7.0.255"].value == pytest.approx(1.76)
    assert r["1.0.4.8.0.255"].quantity == "reactive_energy_export"
    # deviation -120 min local->UTC => local time is UTC+02:00
    assert msg.clock == "2023-08-21T23:23:00+02:00"
    assert msg.clock.startswith(vec["expected"]["clock"])
    invoke = msg.root.find("apdu/notification/invoke_id")
    assert invoke is not None and invoke.value == vec["expected"]["invoke_id"]


def test_mbus_real_vector_header_fields_without_key() -> None:
    vec = vector_by_id("vkw-kaifa-ma309m-real")
    data = vector_bytes(vec)
    msgs = decode(data)
    assert len(msgs) == 1
    msg = msgs[0]
    exp = vec["expected"]
    assert msg.protocol == "mbus" and msg.encrypted is True
    assert msg.system_title.hex().upper() == exp["system_title"]
    assert msg.invocation_counter == exp["invocation_counter"] == 7014
    assert msg.error is not None and msg.error.layer == "crypto"
    assert "key is needed" in msg.error.message
    assert msg.readings == []
    sc = msg.root.find("payload/ciphering/security_control")
    assert sc is not None and sc.value == exp["security_control"]
    ct = msg.root.find("payload/ciphering/ciphertext")
    assert ct is not None and ct.end - ct.start == exp["ciphertext_len"]
    # both M-Bus checksums are valid: the framer accepted both frames, and the nodes say so
    n1 = len(bytes.fromhex(vec["frames_hex"][0]))
    assert msg.offsets == [(0, n1), (n1, len(data))]
    for name in ("frame1", "frame2"):
        cs = msg.root.find(f"{name}/checksum")
        assert cs is not None and cs.note == "sum ok"


def test_mbus_real_vector_with_the_test_key_is_garbage() -> None:
    """The real frame is not under the test key: without a tag, that shows as unparseable plaintext."""
    msgs = decode(vector_bytes(vector_by_id("vkw-kaifa-ma309m-real")), key=TEST_KEY)
    assert len(msgs) == 1
    assert msgs[0].error is not None and msgs[0].error.layer == "crypto"
    assert "decryption produced garbage" in msgs[0].error.message
    assert msgs[0].readings == []


@pytest.mark.parametrize("vid", ALL_IDS)
def test_vectors_tile_and_respect_the_vocabulary(vid: str) -> None:
    vec = vector_by_id(vid)
    key = bytes.fromhex(vec["key_hex"]) if "key_hex" in vec else None
    msgs = decode(vector_bytes(vec), key=key)  # decode() asserts tiling and vocabulary
    assert_tiles(msgs)
    assert msgs
