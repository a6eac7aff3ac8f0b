"""FrameStore: bounded history, re-decoding older messages, filters and search."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meterui.framestore import FrameStore, error_spans, find_in_message, parse_hex, parse_obis
from meterui.protocol.decoder import decode_bytes
from meterui.protocol.message import Message
from meterui.protocol.spans import Span

VECTORS = Path(__file__).resolve().parent / "data" / "vectors"
KEY = bytes.fromhex("000102030405060708090A0B0C0D0E0F")


def _hdlc_frames() -> list[bytes]:
    return [bytes.fromhex(v["frames_hex"][0]) for v in json.loads((VECTORS / "hdlc.json").read_text())]


def _mbus_pair() -> bytes:
    vec = next(v for v in json.loads((VECTORS / "mbus.json").read_text()) if v["id"].endswith("testkey"))
    return b"".join(bytes.fromhex(h) for h in vec["frames_hex"])


def _corrupt(frame: bytes) -> bytes:
    bad = bytearray(frame)
    bad[40] ^= 0xFF
    return bytes(bad)


def _messages() -> list[Message]:
    frames = _hdlc_frames()
    data = frames[0] + _corrupt(frames[1]) + frames[3] + _mbus_pair()
    msgs = decode_bytes(data, KEY)
    assert [m.verdict() for m in msgs] == ["ok", "frame error", "ok", "ok"]
    return msgs


def test_add_len_summary() -> None:
    store = FrameStore(KEY)
    msgs = _messages()
    added = store.add(msgs)
    assert len(store) == 4 and [s.index for s in added] == [0, 1, 2, 3]
    s = store.summary(1)
    assert (s.protocol, s.verdict, s.layer) == ("hdlc", "frame error", "frame")
    assert s.error is not None and "FCS" in s.error
    assert s.raw == msgs[1].buffers["frame"]
    mb = store.summary(3)
    assert mb.raw == msgs[3].buffers["frame1"] + msgs[3].buffers["frame2"]
    assert mb.size == 376 and mb.meter == "4B464D1020003774"
    assert store.message(0) is msgs[0]
    assert store.summary(-1) is mb
    with pytest.raises(IndexError):
        store.summary(4)


def test_bounded_and_redecoded() -> None:
    store = FrameStore(KEY, max_full=2, max_index=5)
    msgs = _messages()
    for _ in range(3):
        store.add(msgs)  # 12 added, 5 kept, 2 of them whole
    assert len(store) == 5 and store.added == 12 and store.dropped == 7 and store.first == 7
    assert len(store._full) == 2  # memory is bounded by the rings
    assert store.pos_of(7) == 0 and store.pos_of(6) is None and store.pos_of(12) is None
    # kept: numbers 7..11; number 7 is the M-Bus pair of the second batch, 9 the corrupted frame
    assert not store.is_full(0) and not store.is_full(2) and store.is_full(3)
    again = store.message(2)
    assert again is not msgs[1] and again.verdict() == "frame error"
    assert again.buffers == msgs[1].buffers and again.index == msgs[1].index
    assert store.message(2) is again  # cached
    # an encrypted M-Bus pair comes back decrypted with the store's key
    mb = store.message(0)
    assert mb is not msgs[3] and mb.buffers["apdu"] == msgs[3].buffers["apdu"]
    assert [r.id for r in mb.readings] == [r.id for r in msgs[3].readings]
    assert mb.offsets == msgs[3].offsets


def test_filter_and_find() -> None:
    store = FrameStore(KEY)
    store.add(_messages())
    assert store.filter("all") == [0, 1, 2, 3]
    assert store.filter("bad") == [1]
    assert store.filter("ok") == [0, 2, 3]
    assert store.filter("ok", "mbus") == [3]
    assert store.protocols() == ["hdlc", "mbus"]
    assert store.find(lambda s: not s.ok) == 1
    assert store.find(lambda s: s.protocol == "hdlc", start=3, step=-1) == 2
    with pytest.raises(ValueError):
        store.filter("good")


def test_search_obis_and_hex() -> None:
    store = FrameStore(KEY)
    msgs = _messages()
    store.add(msgs)
    assert store.search("1.1.1.7.0.255") == [0, 2]
    assert store.search("1-1:1.7.0") == [0, 2]
    assert store.search("1-1:1.7.0*255") == [0, 2]
    assert store.search("1.7.0") == [0, 2, 3]  # short C.D.E form: the Kaifa reports 1-0:1.7.0
    assert store.search("7E A0 E2") == [0, 1]  # list 1 frames (list 2 starts 7E A1)
    assert store.search("0x4B464D") == [3]
    assert store.search("fcs") == [1]
    assert store.search("") == []
    # within a message: the reading's node or the bytes
    node = find_in_message(msgs[0], "1-1:1.7.0")
    assert node is not None and not isinstance(node, Span)
    assert find_in_message(msgs[3], "4B 46 4D") == Span("frame1", 11, 14)


def test_search_reaches_decrypted_bytes_of_whole_messages() -> None:
    store = FrameStore(KEY)
    msgs = _messages()
    store.add(msgs)
    plain = msgs[3].buffers["apdu"][20:26]
    assert plain not in store.summary(3).raw
    assert store.search(plain.hex()) == [3]


def test_parsers() -> None:
    m = parse_obis("1-0:1.8.0")
    assert m is not None and m("1.0.1.8.0.255") and not m("1.0.2.8.0.255")
    assert parse_obis("7E A0") is None
    assert parse_hex("7e:a0") == b"\x7e\xa0"
    assert parse_hex("0x4B 0x46") == b"\x4b\x46"
    assert parse_hex("7EA") is None and parse_hex("zz") is None


def test_error_spans() -> None:
    msgs = _messages()
    assert error_spans(msgs[0]) == []
    spans = error_spans(msgs[1])
    assert Span("frame", 225, 227) in spans  # the FCS


# -- re-decoding keeps the context ----------------------------------------------------------------
def _echonet_transcript() -> bytes:
    """Three ERXUDP lines from one meter: D3 = 10 and E1 = 0x01 (0.1 kWh) first, then E0 twice."""
    from meterui.protocol import encode as E

    scaling = E.echonet_frame([(0xD3, (10).to_bytes(4, "big")), (0xE1, b"\x01")], tid=1)
    first = E.echonet_frame([(0xE0, (12345).to_bytes(4, "big"))], tid=2)
    second = E.echonet_frame([(0xE0, (12346).to_bytes(4, "big"))], tid=3)
    return b"".join(E.erxudp_line(f) for f in (scaling, first, second))


def test_redecoding_keeps_echonet_scaling_from_earlier_messages() -> None:
    from meterui.protocol.decoder import StreamDecoder

    dec = StreamDecoder(fmt="skstack")
    msgs = dec.feed(_echonet_transcript()) + dec.flush()
    assert [m.ok for m in msgs] == [True, True, True]
    energy = next(r for r in msgs[1].readings if r.id == "E0")
    assert (energy.value, energy.unit) == (12345 * 10 * 0.1, "kWh")
    store = FrameStore(max_full=1, max_index=10)
    store.add(msgs)
    assert not store.is_full(1)
    again = store.message(1)  # decoded again from its raw line, without the D3/E1 message
    assert [(r.id, r.value, r.unit) for r in again.readings] == [(r.id, r.value, r.unit) for r in msgs[1].readings]


def test_redecoding_keeps_the_deviation_option() -> None:
    from datetime import datetime

    from meterui.protocol import encode as E
    from meterui.protocol.decoder import StreamDecoder

    body = E.array([E.structure(E.obis("1.0.1.7.0.255"), E.u32(500), E.structure(E.i8(0), E.enum(27)))])
    clock = E.cosem_datetime(datetime(2024, 3, 1, 12, 0, 0), deviation=-60)
    frames = [E.hdlc_frame(E.LLC + E.data_notification(body, dt=clock)) for _ in range(2)]
    inverted = StreamDecoder(invert_deviation=True).feed(b"".join(frames))
    plain = StreamDecoder().feed(frames[0])
    assert inverted[0].clock != plain[0].clock  # the option changes the decode
    store = FrameStore(max_full=1, max_index=10)  # the store's own option is the default
    store.add(inverted)
    assert not store.is_full(0)
    assert store.message(0).clock == inverted[0].clock
