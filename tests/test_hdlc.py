"""HDLC framing (protocols.md §1): flags, 0x7E in data, resync, chunking, segmentation, GBT, addresses."""

from __future__ import annotations

import json

import pytest

from meterui.protocol import encode as E
from meterui.protocol.decoder import StreamDecoder
from meterui.protocol.framing import LinkFramer
from tests.conftest import (
    assert_tiles,
    by_id,
    decode,
    feed_chunks,
    good,
    kamstrup_body,
    load_vectors,
    plain_hdlc,
    vector_bytes,
)

HDLC_FRAMES = [vector_bytes(v) for v in load_vectors("hdlc")]


def kamstrup_frame(power: int = 2824) -> bytes:
    body = E.structure(E.visible("Kamstrup_V0001"), E.obis("1.1.1.7.0.255"), E.u32(power))
    return plain_hdlc(body)


def frame_with_7e_in(where: str) -> bytes:
    """A valid frame whose FCS (or HCS) contains the byte 0x7E, found by varying the content."""
    for i in range(5000):
        body = E.structure(
            E.visible("Kamstrup_V0001"), E.obis("1.1.1.7.0.255"), E.u32(i), E.octets(b"\x00" * (i % 200))
        )
        f = plain_hdlc(body)
        if where == "fcs" and 0x7E in f[-3:-1]:
            return f
        if where == "hcs" and 0x7E in f[6:8]:
            return f
    raise AssertionError(f"no frame with 7E in the {where}")  # pragma: no cover


def power(msg) -> int:
    return by_id(msg)["1.1.1.7.0.255"].value


def as_json(msgs) -> list[str]:
    return [json.dumps(m.to_json(), sort_keys=True) for m in msgs]


# -- flags and 0x7E ---------------------------------------------------------------------------------
def test_garbage_before_and_between_frames() -> None:
    a, b = kamstrup_frame(1), kamstrup_frame(2)
    noise1 = b"\x00\x13\x7e\x01\xa0\x68 junk"
    noise2 = b"\xff\x7e\xa0\x7e\x55"
    data = noise1 + a + noise2 + b
    msgs = decode(data)
    assert [m.ok for m in msgs] == [False, True, False, True]
    assert [m.error.layer for m in msgs if not m.ok] == ["line", "line"]
    assert [power(m) for m in good(msgs)] == [1, 2]
    assert msgs[0].offsets == [(0, len(noise1))]
    assert msgs[1].offsets == [(len(noise1), len(noise1) + len(a))]
    assert msgs[3].offsets == [(len(data) - len(b), len(data))]


def test_garbage_before_any_frame_mentions_baud_and_parity() -> None:
    msgs = decode(b"\x11\x22\x33" * 20)
    assert len(msgs) == 1 and msgs[0].error.layer == "line"
    assert "baud" in msgs[0].error.message and "parity" in msgs[0].error.message


@pytest.mark.parametrize("payload", [b"\x7e", b"\x7e\x7e", b"\x7e\xa0\x2a\x41\x08\x83\x13", b"\x7e" * 40])
def test_7e_inside_the_information_field(payload: bytes) -> None:
    body = E.structure(
        E.visible("Kamstrup_V0001"), E.obis("1.1.96.1.1.255"), E.octets(payload), E.obis("1.1.1.7.0.255"), E.u32(0x7E7E)
    )
    frame = plain_hdlc(body)
    assert frame[1:-1].count(0x7E) >= payload.count(0x7E)
    msgs = decode(frame + frame)
    assert len(msgs) == 2 and all(m.ok for m in msgs)
    assert power(msgs[1]) == 0x7E7E
    assert by_id(msgs[0])["1.1.96.1.1.255"].node.value == payload


def test_7e_inside_a_synthetic_fcs_and_hcs() -> None:
    for where in ("fcs", "hcs"):
        f = frame_with_7e_in(where)
        msgs = decode(f + kamstrup_frame(9) + f)
        assert [m.ok for m in msgs] == [True, True, True], where
        assert msgs[0].offsets == [(0, len(f))]


def test_shared_double_and_repeated_flags_between_frames() -> None:
    a, b, c = kamstrup_frame(1), kamstrup_frame(2), kamstrup_frame(3)
    shared = a + b[1:]  # one flag closes a and opens b
    for data in (shared, a + b"\x7e" + b, a + b"\x7e" * 5 + b, b"\x7e\x7e" + a + b"\x7e\x7e\x7e" + b + c):
        msgs = decode(data)
        assert all(m.ok for m in msgs), [m.error for m in msgs]
        assert [power(m) for m in msgs][:2] == [1, 2]


def test_vectors_back_to_back_with_and_without_shared_flag() -> None:
    if not HDLC_FRAMES:
        pytest.skip("vectors absent")
    shared = HDLC_FRAMES[0] + b"".join(f[1:] for f in HDLC_FRAMES[1:])
    for data in (shared, b"\x7e".join(HDLC_FRAMES)):
        msgs = decode(data)
        assert [m.ok for m in msgs] == [True] * len(HDLC_FRAMES)


# -- chunking -------------------------------------------------------------------------------------
def _stream() -> bytes:
    parts = [b"\x01\x7e\x02", frame_with_7e_in("fcs"), kamstrup_frame(5), b"\x7e\x7e", kamstrup_frame(6)]
    parts += HDLC_FRAMES[:2]
    parts.append(kamstrup_frame(7)[:40])  # truncated at the end
    return b"".join(parts)


def test_split_at_every_byte_boundary_gives_identical_json() -> None:
    data = _stream()
    reference = as_json(feed_chunks(data, len(data)))
    assert len(reference) >= 6
    for cut in range(1, len(data)):
        dec = StreamDecoder()
        msgs = dec.feed(data[:cut]) + dec.feed(data[cut:]) + dec.flush()
        assert as_json(msgs) == reference, cut


def test_every_chunk_size_gives_identical_json() -> None:
    data = _stream()
    reference = as_json(feed_chunks(data, len(data)))
    for size in range(1, len(data) + 1):
        assert as_json(feed_chunks(data, size)) == reference, size


def test_irregular_chunks_give_identical_json() -> None:
    data = _stream() * 3
    reference = as_json(feed_chunks(data, len(data)))
    for sizes in ([1, 2, 3, 5, 8, 13], [7, 1], [300, 1, 1, 1], [4096]):
        assert as_json(feed_chunks(data, sizes)) == reference


def test_garbage_after_an_invalid_frame_is_reported_whatever_the_chunking() -> None:
    data = b"\x55" + b"\x7e\xa0\x07\x03\x03\x13\x00\x00\x00" + b"\x55\x55\x55"
    bytewise = feed_chunks(data, 1, fmt="raw")
    assert [m.offsets for m in bytewise] == [[(0, 1)], [(1, 10)], [(10, 13)]]
    assert as_json(feed_chunks(data, len(data), fmt="raw")) == as_json(bytewise)


# -- truncation, corruption, resync -------------------------------------------------------------------
def test_truncated_frame_at_end_is_a_frame_error_on_flush() -> None:
    a = kamstrup_frame(1)
    dec = StreamDecoder()
    assert [m.ok for m in dec.feed(a + a[:60])] == [True]
    tail = dec.flush()
    assert len(tail) == 1
    assert tail[0].error.layer == "frame" and "truncated" in tail[0].error.message
    assert tail[0].offsets == [(len(a), len(a) + 60)]
    assert_tiles(tail)


def test_frame_cut_short_by_the_next_one_reports_both() -> None:
    a, b = kamstrup_frame(1), kamstrup_frame(2)
    data = a[:50] + b
    msgs = decode(data)
    assert len(msgs) == 2
    assert msgs[0].error.layer == "frame" and "cut short" in msgs[0].error.message
    assert msgs[0].offsets == [(0, 50)]
    assert msgs[1].ok and power(msgs[1]) == 2 and msgs[1].offsets == [(50, len(data))]


@pytest.mark.parametrize("pos", [20, 30, -5, -3])
def test_corrupted_fcs_or_body_is_a_frame_error_mentioning_the_line(pos: int) -> None:
    a, b = kamstrup_frame(1), kamstrup_frame(2)
    bad = bytearray(a)
    bad[pos] ^= 0x04
    msgs = decode(bytes(bad) + b)
    assert msgs[0].error is not None and msgs[0].error.layer == "frame"
    msg = msgs[0].error.message
    assert "FCS" in msg and "line" in msg and "baud" in msg
    assert good(msgs) and power(good(msgs)[-1]) == 2


def test_bad_hcs_is_not_a_frame_and_resync_finds_the_next() -> None:
    a, b = kamstrup_frame(1), kamstrup_frame(2)
    bad = bytearray(a)
    bad[6] ^= 0xFF  # HCS
    msgs = decode(bytes(bad) + b)
    assert [power(m) for m in good(msgs)] == [2]
    assert not msgs[0].ok


def test_resync_backtracks_after_a_false_opening_flag() -> None:
    """A stray 7E whose following bytes look like a header must not swallow the real frame."""
    real = kamstrup_frame(3)
    # false header: format A0 + plausible length, address, control; HCS valid so it is a candidate
    false_start = E.hdlc_frame(b"\x00" * 200)[:10]
    msgs = decode(false_start + real)
    assert [power(m) for m in good(msgs)] == [3]
    assert good(msgs)[0].offsets == [(len(false_start), len(false_start) + len(real))]


def test_stream_joined_mid_frame_recovers_at_the_next_frame() -> None:
    f = frame_with_7e_in("hcs")
    g = kamstrup_frame(4)
    for cut in range(1, len(f) - 1, 7):
        msgs = decode(f[cut:] + g + g)
        assert [power(m) for m in good(msgs)][-2:] == [4, 4], cut


def test_frame_without_information_field_does_not_crash() -> None:
    empty = E.hdlc_frame(b"")
    msgs = decode(empty + kamstrup_frame(8))
    assert good(msgs)[-1:] and power(good(msgs)[-1]) == 8
    assert not msgs[0].ok


def test_framer_never_splits_on_7e() -> None:
    f = frame_with_7e_in("fcs")
    items = LinkFramer().feed(f + f)
    assert [getattr(i, "valid", None) for i in items] == [True, True]
    assert items[0].raw == f


# -- addresses --------------------------------------------------------------------------------------
FOUR = (((0x01 << 7 | 0x02) << 7 | 0x03) << 7) | 0x10  # 02 04 06 21: 7 bits per byte, LSB=1 ends it


@pytest.mark.parametrize(
    ("dest", "src", "dval", "sval"),
    [
        (b"\x41", b"\x21", 0x20, 0x10),
        (b"\x41", b"\x02\x21", 0x20, (0x01 << 7) | 0x10),
        (b"\xce\xff", b"\x03", (0x67 << 7) | 0x7F, 0x01),
        (b"\x41", b"\x02\x04\x06\x21", 0x20, FOUR),
        (b"\x02\x04\x06\x21", b"\x02\x04\x06\x21", FOUR, FOUR),
    ],
)
def test_one_two_and_four_byte_addresses(dest: bytes, src: bytes, dval: int, sval: int) -> None:
    frame = E.hdlc_frame(E.LLC + E.data_notification(kamstrup_body()), dest=dest, src=src)
    msgs = decode(frame + frame)
    assert [m.ok for m in msgs] == [True, True]
    root = msgs[0].root
    d, s = root.find("frame/destination"), root.find("frame/source")
    assert (d.start, d.end) == (3, 3 + len(dest))
    assert (s.start, s.end) == (3 + len(dest), 3 + len(dest) + len(src))
    assert (d.value, s.value) == (dval, sval)


def test_five_byte_address_is_not_a_frame() -> None:
    frame = E.hdlc_frame(E.LLC + E.data_notification(kamstrup_body()), src=b"\x02\x04\x06\x08\x21")
    msgs = decode(frame + kamstrup_frame(6))
    assert [power(m) for m in good(msgs)] == [6]


def test_long_frame_over_255_bytes() -> None:
    body = E.structure(
        E.visible("Kamstrup_V0001"),
        E.obis("1.1.96.1.1.255"),
        E.octets(bytes(range(256)) * 3),
        E.obis("1.1.1.7.0.255"),
        E.u32(77),
    )
    frame = plain_hdlc(body)
    assert len(frame) > 700 and frame[1] & 0x07
    msgs = decode(frame)
    assert msgs[0].ok and power(msgs[0]) == 77


# -- segmentation (S bit) ------------------------------------------------------------------------------
def _segmented(power_w: int = 1500, size: int = 24) -> list[bytes]:
    apdu = E.data_notification(kamstrup_body() + b"", invoke_id=power_w)
    body = E.structure(
        E.visible("Kamstrup_V0001"),
        E.obis("1.1.1.7.0.255"),
        E.u32(power_w),
        E.obis("1.1.32.7.0.255"),
        E.u16(231),
        E.obis("1.1.96.1.1.255"),
        E.visible("X" * 40),
    )
    apdu = E.data_notification(body)
    return E.hdlc_segments(E.LLC + apdu, size)


def test_segments_are_reassembled() -> None:
    segs = _segmented()
    assert len(segs) >= 3 and all(s[1] & 0x08 for s in segs[:-1]) and not segs[-1][1] & 0x08
    msgs = decode(b"".join(segs))
    assert len(msgs) == 1 and msgs[0].ok
    assert power(msgs[0]) == 1500 and by_id(msgs[0])["1.1.32.7.0.255"].value == 231
    assert len(msgs[0].offsets) == len(segs)
    assert set(msgs[0].buffers) >= {f"frame{i + 1}" for i in range(len(segs))} | {"payload"}


def test_segments_fed_byte_by_byte() -> None:
    segs = _segmented()
    msgs = feed_chunks(kamstrup_frame(1) + b"".join(segs) + kamstrup_frame(2), 1)
    assert [power(m) for m in msgs] == [1, 1500, 2]


def test_missing_last_segment_at_end_of_input_is_a_frame_error() -> None:
    segs = _segmented()
    msgs = decode(b"".join(segs[:-1]))
    assert len(msgs) == 1
    assert msgs[0].error.layer == "frame" and "segment" in msgs[0].error.message


def test_corrupted_segment_abandons_the_set() -> None:
    segs = _segmented()
    bad = bytearray(segs[1])
    bad[-4] ^= 1
    msgs = decode(segs[0] + bytes(bad) + b"".join(segs[2:]) + kamstrup_frame(3))
    assert msgs[0].error.layer == "frame" and "incomplete segmented message" in msgs[0].error.message
    assert msgs[1].error.layer == "frame" and "FCS" in msgs[1].error.message
    # the orphaned continuation segments are reported (not as good data), then decoding resumes
    assert [m.ok for m in msgs[2:]] == [False, True]
    assert power(msgs[-1]) == 3


def test_missing_middle_segment_is_not_decoded_as_good_data() -> None:
    segs = _segmented()
    msgs = decode(segs[0] + b"".join(segs[2:]))
    assert not any(m.ok for m in msgs)


def test_missing_last_segment_followed_by_a_new_frame() -> None:
    segs = _segmented()
    msgs = decode(b"".join(segs[:-1]) + kamstrup_frame(9))
    assert msgs[0].error is not None and msgs[0].error.layer == "frame"
    assert [power(m) for m in good(msgs)] == [9]


# -- general-block-transfer ---------------------------------------------------------------------------
def _gbt_frames(size: int = 20) -> list[bytes]:
    apdu = E.data_notification(kamstrup_body(current_raw=777))
    return [E.hdlc_frame(E.LLC + blk) for blk in E.gbt_blocks(apdu, size)]


def test_gbt_blocks_are_reassembled() -> None:
    frames = _gbt_frames()
    assert len(frames) >= 4
    msgs = decode(b"".join(frames))
    assert len(msgs) == 1 and msgs[0].ok
    assert by_id(msgs[0])["1.1.31.7.0.255"].value == pytest.approx(7.77)
    assert "blocks" in msgs[0].buffers
    assert len(msgs[0].offsets) == len(frames)


def test_gbt_single_block_and_chunked() -> None:
    frames = _gbt_frames(size=1000)
    assert len(frames) == 1
    assert decode(frames[0])[0].ok
    msgs = feed_chunks(b"".join(_gbt_frames()) + kamstrup_frame(1), 3)
    assert [m.ok for m in msgs] == [True, True]


def test_gbt_missing_block_is_an_error_and_next_message_decodes() -> None:
    frames = _gbt_frames()
    msgs = decode(b"".join(frames[:1] + frames[2:]) + b"".join(_gbt_frames()))
    bad = [m for m in msgs if not m.ok]
    assert bad and bad[0].error.layer == "frame" and "block 2 is missing" in bad[0].error.message
    assert len(good(msgs)) == 1
    assert by_id(good(msgs)[0])["1.1.31.7.0.255"].value == pytest.approx(7.77)


def test_gbt_missing_last_block_at_end_is_an_error() -> None:
    frames = _gbt_frames()
    msgs = decode(b"".join(frames[:-1]))
    assert len(msgs) == 1 and msgs[0].error.layer == "frame"
    assert "incomplete general-block-transfer" in msgs[0].error.message


def test_gbt_inside_segmented_hdlc() -> None:
    apdu = E.data_notification(kamstrup_body())
    data = b""
    for blk in E.gbt_blocks(apdu, 40):
        data += b"".join(E.hdlc_segments(E.LLC + blk, 16))
    msgs = decode(data)
    assert len(msgs) == 1 and msgs[0].ok, msgs[0].error
    assert power(msgs[0]) == 2824


def test_short_input_is_numbered_from_zero() -> None:
    frame = E.hdlc_frame(E.LLC + E.data_notification(E.structure(E.u32(5))))
    assert len(frame) < 32
    dec = StreamDecoder()
    msgs = dec.feed(frame) + dec.flush()
    assert [m.index for m in msgs] == [0]
    assert dec.stats.messages == 1
