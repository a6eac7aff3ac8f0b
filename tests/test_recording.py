"""The recording format: round trip with timestamps, valid plain hex, append sessions, errors by line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from meterui.sources import Chunk, Recorder, ReplaySource, SourceError, detect_format, read_recording
from meterui.sources.recording import HEADER

CHUNKS = [
    Chunk(bytes.fromhex("7EA0E22B2113239AE6E7000F"), 1700000000.123456),
    Chunk(bytes(range(256)) + b"\x7e" * 7, 1700000000.5),  # several hex lines
    Chunk(b"\x00", 1700000002.999999),
]


def write_recording(path: Path, chunks: list[Chunk], source: str = "/dev/ttyUSB0 2400 8E1") -> None:
    with Recorder(path, source) as rec:
        for chunk in chunks:
            rec.write(chunk)


def strip_comments(text: str) -> bytes:
    return bytes.fromhex("".join(re.sub(r"#.*", "", line) for line in text.splitlines()))


def test_round_trip_with_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "rec.hex"
    write_recording(path, CHUNKS)
    assert list(read_recording(path)) == CHUNKS


def test_layout(tmp_path: Path) -> None:
    path = tmp_path / "rec.hex"
    write_recording(path, CHUNKS)
    lines = path.read_text().splitlines()
    assert lines[0] == HEADER == "# meterui recording v1"
    assert lines[1] == "# source: /dev/ttyUSB0 2400 8E1"
    assert lines[2] == "# t=1700000000.123456"
    assert lines[3] == "7E A0 E2 2B 21 13 23 9A E6 E7 00 0F"
    hex_lines = [line for line in lines if not line.startswith("#")]
    assert all(len(line.split()) <= 64 for line in hex_lines)
    assert all(line == line.upper() for line in hex_lines)
    assert detect_format(path.read_bytes()[:4096]) == "recording"


def test_recording_is_plain_hex(tmp_path: Path) -> None:
    path = tmp_path / "rec.hex"
    write_recording(path, CHUNKS)
    expected = b"".join(c.data for c in CHUNKS)
    assert strip_comments(path.read_text()) == expected
    # read as a hex file (ignoring timestamps) it gives the same bytes
    source = ReplaySource(path, fmt="hex")
    source.open()
    got = bytearray()
    try:
        while True:
            try:
                chunk = source.read()
            except EOFError:
                break
            assert chunk is not None
            got += chunk.data
    finally:
        source.close()
    assert bytes(got) == expected


def test_recording_is_valid_decode_input(tmp_path: Path) -> None:
    inputs = pytest.importorskip("meterui.protocol.inputs")
    path = tmp_path / "rec.hex"
    write_recording(path, CHUNKS)
    assert inputs.parse_hex_text(path.read_text()) == b"".join(c.data for c in CHUNKS)


def test_append_adds_a_session(tmp_path: Path) -> None:
    path = tmp_path / "rec.hex"
    write_recording(path, CHUNKS[:1])
    write_recording(path, CHUNKS[1:], source="socket://127.0.0.1:9000")
    text = path.read_text()
    assert text.count(HEADER) == 1
    assert "# source: socket://127.0.0.1:9000" in text
    assert list(read_recording(path)) == CHUNKS


def test_append_after_a_crash_mid_line(tmp_path: Path) -> None:
    path = tmp_path / "rec.hex"
    path.write_text(f"{HEADER}\n# t=1.0\n7E A0")  # the last session died before its newline
    write_recording(path, [Chunk(b"\x01", 2.0)])
    assert list(read_recording(path)) == [Chunk(b"\x7e\xa0", 1.0), Chunk(b"\x01", 2.0)]


def test_refuses_to_append_to_a_foreign_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("my notes\n")
    with pytest.raises(SourceError, match="not a meterui recording"):
        Recorder(path)
    assert path.read_text() == "my notes\n"


def test_chunk_without_time_is_stamped_now(tmp_path: Path) -> None:
    path = tmp_path / "rec.hex"
    write_recording(path, [Chunk(b"\x01\x02", None)])
    (chunk,) = read_recording(path)
    assert chunk.data == b"\x01\x02" and chunk.received is not None and chunk.received > 1.6e9


def test_flushes_at_most_every_interval(tmp_path: Path) -> None:
    path = tmp_path / "rec.hex"
    rec = Recorder(path, "x", flush_interval=3600)
    rec.flush()
    size = path.stat().st_size
    rec.write(Chunk(b"\x01", 1.0))
    assert path.stat().st_size == size  # still buffered: no flush within the interval
    rec.flush()
    assert path.stat().st_size > size
    rec.flush_interval = 0
    rec.write(Chunk(b"\x02", 2.0))  # interval elapsed → written through
    assert list(read_recording(path)) == [Chunk(b"\x01", 1.0), Chunk(b"\x02", 2.0)]
    rec.close()
    rec.close()
    with pytest.raises(SourceError):
        rec.write(Chunk(b"\x03", 3.0))


def test_source_description_kept_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "rec.hex"
    write_recording(path, CHUNKS, source="/dev/ttyUSB0 2400 8E1\nsecond line")
    assert "second line" in path.read_text().splitlines()[1]  # multi-line description kept on one line


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("# meterui recording v1\n# t=1.0\n7E A0\nXY\n", 4, "not hex"),
        ("# meterui recording v1\n# t=1.0\n7E A\n", 3, "odd number"),
        ("# meterui recording v1\n# t=abc\n7E\n", 2, "bad timestamp"),
        ("# meterui recording v1\n# t=nan\n7E\n", 2, "bad timestamp"),
        ("# meterui recording v2\n", 1, "unsupported recording version"),
        ("7E A0\n", 1, "not a meterui recording"),
    ],
)
def test_malformed_lines_name_the_line(tmp_path: Path, text: str, line: int, what: str) -> None:
    path = tmp_path / "bad.hex"
    path.write_text(text)
    with pytest.raises(SourceError) as info:
        list(read_recording(path))
    assert f"bad.hex, line {line}" in str(info.value) and what in str(info.value)


def test_comments_and_blank_lines_ignored(tmp_path: Path) -> None:
    path = tmp_path / "rec.hex"
    path.write_text(f"\n{HEADER}\n# source: x\n\n# t=5.5\n# a note\n01 02\n\n03\n")
    assert list(read_recording(path)) == [Chunk(b"\x01\x02\x03", 5.5)]


def test_long_chunk_split_to_bound_memory(tmp_path: Path) -> None:
    path = tmp_path / "rec.hex"
    big = bytes(range(256)) * 600  # 153 600 bytes under one timestamp
    write_recording(path, [Chunk(big, 7.0)])
    chunks = list(read_recording(path))
    assert b"".join(c.data for c in chunks) == big
    assert len(chunks) > 1 and all(c.received == 7.0 for c in chunks)
    assert max(len(c.data) for c in chunks) <= 65536 + 64


def test_replay_source_reads_recording_with_times(tmp_path: Path) -> None:
    path = tmp_path / "rec.hex"
    write_recording(path, CHUNKS)
    source = ReplaySource(path)
    source.open()
    try:
        assert source.format == "recording"
        got = [source.read(), source.read(), source.read()]
        with pytest.raises(EOFError):
            source.read()
    finally:
        source.close()
    assert got == CHUNKS
