"""Austrian wired M-Bus long frames (protocols.md §4.1): checksum, CI segments, TSAPs, resync."""

from __future__ import annotations

import pytest

from meterui.protocol import encode as E
from tests.conftest import (
    TEST_KEY,
    aidon_body,
    by_id,
    decode,
    encrypted_mbus,
    feed_chunks,
    good,
    kamstrup_body,
    plain_hdlc,
)


def plain_mbus(body: bytes, max_data: int = 40) -> list[bytes]:
    return E.mbus_frames(E.data_notification(body), max_data)


def power(msg) -> int | float:
    return by_id(msg)["1.0.1.7.0.255"].value


def test_single_frame_layout_and_values() -> None:
    frames = plain_mbus(aidon_body(), max_data=250)
    assert len(frames) == 1
    f = frames[0]
    assert f[0] == 0x68 and f[1] == f[2] and f[3] == 0x68 and f[-1] == 0x16
    assert f[6] == 0x10 and f[7:9] == b"\x01\x67"  # single frame, TSAPs
    msgs = decode(f)
    assert len(msgs) == 1 and msgs[0].ok and msgs[0].protocol == "mbus"
    assert power(msgs[0]) == 1234
    root = msgs[0].root
    assert root.find("frame/stsap").value == "01" and root.find("frame/dtsap").value == "67"
    assert root.find("frame/checksum").note == "sum ok"
    # TSAP bytes are not part of the payload
    assert msgs[0].buffers["payload"][0] == 0x0F


@pytest.mark.parametrize("segments", [2, 3, 5, 16])
def test_multi_segment_reassembly(segments: int) -> None:
    apdu = E.data_notification(aidon_body())
    size = -(-len(apdu) // segments)
    frames = E.mbus_frames(apdu, size)
    assert len(frames) == segments
    assert [f[6] for f in frames] == [i for i in range(segments - 1)] + [0x10 | (segments - 1) & 0x0F]
    msgs = decode(b"".join(frames))
    assert len(msgs) == 1 and msgs[0].ok, msgs[0].error
    assert power(msgs[0]) == 1234
    assert msgs[0].offsets[0][0] == 0 and len(msgs[0].offsets) == segments
    assert msgs[0].buffers["payload"] == apdu


def test_encrypted_two_segment_message_with_key() -> None:
    frames = encrypted_mbus(aidon_body())
    assert len(frames) == 2
    msgs = decode(b"".join(frames), key=TEST_KEY)
    assert len(msgs) == 1 and msgs[0].ok and msgs[0].encrypted
    assert msgs[0].clock == "2024-03-05T12:34:56+01:00"
    assert by_id(msgs[0])["1.0.31.7.0.255"].value == pytest.approx(1.3)


def test_sequence_gap_is_a_frame_error_and_next_message_decodes() -> None:
    apdu = E.data_notification(aidon_body())
    frames = E.mbus_frames(apdu, 30)
    assert len(frames) >= 4
    data = b"".join(frames[:1] + frames[2:]) + b"".join(frames)
    msgs = decode(data)
    bad = [m for m in msgs if not m.ok]
    assert bad and all(m.error.layer == "frame" for m in bad)
    assert "segment 1 is missing" in bad[0].error.message
    assert len(good(msgs)) == 1 and power(good(msgs)[0]) == 1234
    assert good(msgs)[0].offsets[0][0] == len(b"".join(frames[:1] + frames[2:]))


def test_missing_first_segment() -> None:
    frames = plain_mbus(aidon_body(), 30)
    msgs = decode(b"".join(frames[1:]))
    assert msgs and not any(m.ok for m in msgs)
    assert msgs[0].error.layer == "frame" and "without the segments before it" in msgs[0].error.message


def test_missing_last_segment_at_end() -> None:
    frames = plain_mbus(aidon_body(), 30)
    msgs = decode(b"".join(frames[:-1]))
    assert len(msgs) == 1 and msgs[0].error.layer == "frame"
    assert "incomplete M-Bus message" in msgs[0].error.message


@pytest.mark.parametrize("where", ["checksum", "data", "stop"])
def test_bad_checksum_or_stop_byte(where: str) -> None:
    f = bytearray(plain_mbus(aidon_body(), 250)[0])
    if where == "checksum":
        f[-2] ^= 0x01
    elif where == "data":
        f[20] ^= 0x40
    else:
        f[-1] = 0x17
    good_frame = plain_mbus(aidon_body(), 250)[0]
    msgs = decode(bytes(f) + good_frame)
    assert msgs[0].error is not None and msgs[0].error.layer == "frame"
    text = msgs[0].error.message
    assert ("checksum" in text and "baud" in text) if where != "stop" else "stop byte" in text
    assert len(good(msgs)) == 1 and good(msgs)[0].offsets == [(len(f), len(f) + len(good_frame))]


def test_non_dlms_ci_is_reported_not_decoded() -> None:
    frame = E.mbus_frame(b"\x12\x34\x56\x78\x01\x02", 0x72)
    msgs = decode(frame + plain_mbus(aidon_body(), 250)[0])
    assert msgs[0].error.layer == "apdu" and "not DLMS" in msgs[0].error.message
    assert msgs[0].readings == []
    assert good(msgs) and power(good(msgs)[0]) == 1234


def test_non_dlms_frame_between_segments_abandons_the_set() -> None:
    frames = plain_mbus(aidon_body(), 60)
    other = E.mbus_frame(b"\x00" * 8, 0x7A)
    msgs = decode(frames[0] + other + b"".join(frames))
    assert msgs[0].error.layer == "frame" and "incomplete" in msgs[0].error.message
    assert msgs[1].error.layer == "apdu"
    assert len(good(msgs)) == 1


def test_garbage_between_frames_and_segments() -> None:
    frames = plain_mbus(aidon_body(), 40)
    noise = [b"\x68\x00", b"\x68\x05\x05\x68\x00", b"\x16\x16", b"\x68\x68\x68"]
    data = b""
    for i, f in enumerate(frames):
        data += noise[i % len(noise)] + f
    data += b"\x68"
    msgs = decode(data)
    assert len(good(msgs)) == 1 and power(good(msgs)[0]) == 1234
    # noise that looks like a header (68 05 05 68, 68 68 68 + 68) is a frame "cut short", the rest line noise
    assert {m.error.layer for m in msgs if not m.ok} == {"line", "frame"}


def test_mbus_and_hdlc_interleaved_chunked() -> None:
    m = plain_mbus(aidon_body(), 250)[0]
    h = plain_hdlc(kamstrup_body())
    data = m + h + m + b"\x7e\x68" + h
    ref = [x.to_json() for x in feed_chunks(data, len(data))]
    assert [x["protocol"] for x in ref if x["ok"]] == ["mbus", "hdlc", "mbus", "hdlc"]
    for size in (1, 2, 7, 64):
        assert [x.to_json() for x in feed_chunks(data, size)] == ref


def test_short_l_field_frame_is_not_accepted_blindly() -> None:
    """``68 01 01 68`` (the Sagemcom quirk) must not swallow the stream when the sum does not check."""
    frame = plain_mbus(aidon_body(), 250)[0]
    msgs = decode(b"\x68\x01\x01\x68\x53\xff" + frame)
    assert len(good(msgs)) == 1
