"""Issue #6 (25): hex input read in bounded pieces, a byte-order mark accepted, short binary not hex."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest

from meterui.cli import iter_input, main
from meterui.protocol.inputs import HexStream, looks_like_hex
from meterui.sources.replay import ReplaySource, detect_format
from tests.conftest import load_vectors, vector_bytes

BOM = b"\xef\xbb\xbf"


def _frames() -> bytes:
    return b"".join(vector_bytes(v) for v in load_vectors("hdlc"))


def test_one_long_hex_line_is_read_in_bounded_memory(tmp_path: Path) -> None:
    """A 4 MB line of hex: before, it was held whole until its newline (~8x its size at the peak)."""
    expected = os.urandom(1_400_000)
    path = tmp_path / "long.hex"
    path.write_text(expected.hex(" ").upper() + "\n")  # 4.2 MB of text on one line
    got = bytearray()
    with path.open("rb") as stream:
        tracemalloc.start()
        try:
            for _fmt, chunk in iter_input(stream, "hex", str(path)):
                got += chunk
                got_size = len(got)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert bytes(got) == expected and got_size == len(expected)
    peak -= len(expected) * 2  # the output buffer itself (a bytearray grows by doubling)
    assert peak < 1 << 20, f"peak {peak / 1e6:.1f} MB above the output"


def test_hex_split_anywhere_gives_the_same_bytes() -> None:
    text = "# c\r\n7E:A0 0x12,0X0a\r\n#x 0x\n0x0x01 ff\n"
    want = bytes.fromhex("7EA0120A01FF")
    for step in range(1, len(text) + 1):
        hs = HexStream()
        got = b"".join(hs.feed(text[i : i + step]) for i in range(0, len(text), step)) + hs.finish()
        assert got == want, step


@pytest.mark.parametrize("head", [BOM + b"7E A0 12\n", BOM + b"# comment\n7EA0\n"])
def test_byte_order_mark_hex_is_hex(head: bytes) -> None:
    assert looks_like_hex(head)
    assert detect_format(head) == "hex"


def test_byte_order_mark_hex_file_decodes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frames = _frames()
    path = tmp_path / "bom.hex"
    path.write_bytes(BOM + frames.hex(" ").encode() + b"\n")
    for fmt in ("auto", "hex"):
        assert main(["decode", str(path), "--format", fmt, "--output", "summary"]) == 0
        out, err = capsys.readouterr()
        assert out.startswith(f"messages={len(load_vectors('hdlc'))} ok={len(load_vectors('hdlc'))}"), out + err
    for fmt in ("auto", "hex"):
        source = ReplaySource(path, fmt)
        source.open()
        got = b""
        try:
            while True:
                chunk = source.read()
                if chunk is not None:
                    got += chunk.data
        except EOFError:
            pass
        finally:
            source.close()
        assert got == frames


def test_byte_order_mark_recording_replays(tmp_path: Path) -> None:
    path = tmp_path / "bom.rec"
    path.write_bytes(BOM + b"# meterui recording v1\n# t=1700000000.000000\n7E A0\n")
    source = ReplaySource(path)
    source.open()
    try:
        chunk = source.read()
    finally:
        source.close()
    assert source.format == "recording" and chunk is not None and chunk.data == b"\x7e\xa0"


@pytest.mark.parametrize(
    "data", [b"a", b"1", b"12\xff", b"ab\xc3", b"0\x0b1", b"\x0c12", b"7E\x00", b"abc", b"\xff", b"\x7e\xa0"]
)
def test_short_binary_is_not_hex(data: bytes) -> None:
    assert not looks_like_hex(data)
    assert detect_format(data) == "raw"


@pytest.mark.parametrize("data", [b"7E", b"7e a0", b"7E\n", b"0x7E", b"ab"])
def test_short_hex_text_is_hex(data: bytes) -> None:
    assert looks_like_hex(data)


def test_a_short_binary_file_decodes_as_raw(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "one.bin"
    path.write_bytes(b"a")  # one byte 0x61: before, taken for hex and refused as "half a byte"
    assert main(["decode", str(path), "--output", "summary"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("messages=1 ok=0") and err == ""
