"""Byte sources through real devices: a pseudo-terminal, a localhost TCP socket, ``loop://``, files."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from meterui.sources import (
    Chunk,
    PortInfo,
    ReplaySource,
    SerialSource,
    Source,
    SourceError,
    backoff_delays,
    detect_format,
    list_serial_ports,
)

# bytes with the shape of an HDLC frame (flag, format, addresses…); the sources do not decode them
FRAME = bytes.fromhex("7EA02B2113239AE6E7000F000000000C07E3011501172B0AFF8000000212 0B7E".replace(" ", ""))


def read_until(source: SerialSource, size: int, deadline: float = 2.0) -> bytes:
    data = bytearray()
    end = time.monotonic() + deadline
    while len(data) < size and time.monotonic() < end:
        chunk = source.read(0.05)
        if chunk is not None:
            assert chunk.received is not None and abs(chunk.received - time.time()) < 5
            data += chunk.data
    return bytes(data)


@pytest.fixture
def pty() -> Iterator[tuple[int, str]]:
    master, slave = os.openpty()
    path = os.ttyname(slave)
    fds = {master, slave}
    yield master, path
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


# -- serial through a pseudo-terminal --------------------------------------------------------------
def test_pty_read(pty: tuple[int, str]) -> None:
    master, path = pty
    source = SerialSource(path, 2400, "E", 8, 1)
    assert isinstance(source, Source)
    assert source.description == f"{path} 2400 8E1"
    source.open()
    try:
        assert source.read(0.05) is None  # nothing written yet
        os.write(master, FRAME[:10])
        os.write(master, FRAME[10:])
        assert read_until(source, len(FRAME)) == FRAME
    finally:
        source.close()
    source.close()  # twice is fine


def test_pty_binary_bytes_pass_untouched(pty: tuple[int, str]) -> None:
    master, path = pty
    payload = bytes(range(256)) * 4  # CR, LF, XON/XOFF, ^C, ^D… must all come through raw
    source = SerialSource(path)
    source.open()
    try:
        for start in range(0, len(payload), 128):
            os.write(master, payload[start : start + 128])
        assert read_until(source, len(payload)) == payload
    finally:
        source.close()


def test_pty_unplug_raises_source_error(pty: tuple[int, str]) -> None:
    master, path = pty
    source = SerialSource(path)
    source.open()
    try:
        os.write(master, b"\x7e\xa0")
        assert read_until(source, 2) == b"\x7e\xa0"
        os.close(master)  # the adapter goes away
        with pytest.raises(SourceError) as info:
            for _ in range(20):
                source.read(0.05)
        assert not isinstance(info.value, OSError)
        assert path in str(info.value) and "disconnected" in str(info.value)
        assert "\n" not in str(info.value)
    finally:
        source.close()


def test_open_missing_device_is_one_line_source_error(tmp_path: Path) -> None:
    source = SerialSource(str(tmp_path / "ttyUSB9"))
    with pytest.raises(SourceError) as info:
        source.open()
    assert str(info.value) == f"cannot open {tmp_path / 'ttyUSB9'}: no such device"


def test_cancel_read_unblocks_a_long_read(pty: tuple[int, str]) -> None:
    _master, path = pty
    source = SerialSource(path)
    source.open()
    result: list[Chunk | None] = []
    try:
        thread = threading.Thread(target=lambda: result.append(source.read(5.0)))
        started = time.monotonic()
        thread.start()
        time.sleep(0.1)
        source.cancel_read()
        thread.join(2.0)
        assert not thread.is_alive()
        assert time.monotonic() - started < 1.5
        assert result == [None]
    finally:
        source.close()


def test_reconnect_after_unplug_finds_the_device_again(tmp_path: Path) -> None:
    """The port path is a symlink (like /dev/serial/by-id/…) that points to a new pty after replug."""
    master, slave = os.openpty()
    link = tmp_path / "meter"
    link.symlink_to(os.ttyname(slave))
    source = SerialSource(str(link), reconnect_base=0.02, reconnect_cap=0.05)
    new_master = new_slave = -1
    source.open()
    try:
        os.close(master)
        os.close(slave)
        with pytest.raises(SourceError):
            for _ in range(20):
                source.read(0.05)
        new_master, new_slave = os.openpty()
        link.unlink()
        link.symlink_to(os.ttyname(new_slave))
        assert source.reconnect(lambda: False) is True
        os.write(new_master, b"\x7e\x01\x02")
        assert read_until(source, 3) == b"\x7e\x01\x02"
    finally:
        source.close()
        for fd in (new_master, new_slave):
            if fd >= 0:
                os.close(fd)


def test_reconnect_gives_up_when_told_to_stop(tmp_path: Path) -> None:
    source = SerialSource(str(tmp_path / "gone"), reconnect_base=0.01, reconnect_cap=0.02)
    calls = 0

    def should_stop() -> bool:
        nonlocal calls
        calls += 1
        return calls > 20

    started = time.monotonic()
    assert source.reconnect(should_stop) is False
    assert time.monotonic() - started < 1.5
    assert source.last_error is not None and "no such device" in source.last_error


def test_reconnect_stops_on_cancel_read(tmp_path: Path) -> None:
    source = SerialSource(str(tmp_path / "gone"), reconnect_base=0.05, reconnect_cap=0.05)
    timer = threading.Timer(0.15, source.cancel_read)
    timer.start()
    started = time.monotonic()
    try:
        assert source.reconnect() is False
    finally:
        timer.cancel()
    assert time.monotonic() - started < 1.5


# -- pyserial URLs ---------------------------------------------------------------------------------
def test_socket_url_reads_then_reports_disconnect() -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(2.0)
    port = server.getsockname()[1]

    def serve() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(2.0)
            # pyserial empties the input buffer while opening, so wait for the client's "ready"
            if conn.recv(1) == b"?":
                conn.sendall(FRAME)
                time.sleep(0.1)
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    source = SerialSource(f"socket://127.0.0.1:{port}")
    assert source.description == f"socket://127.0.0.1:{port}"
    source.open()
    try:
        source.write(b"?")
        assert read_until(source, len(FRAME)) == FRAME
        with pytest.raises(SourceError) as info:
            for _ in range(40):
                source.read(0.05)
        assert "disconnected" in str(info.value)
    finally:
        source.close()
        thread.join(3.0)
        server.close()


def test_loop_url() -> None:
    source = SerialSource("loop://")
    source.open()
    try:
        source.write(FRAME)
        assert read_until(source, len(FRAME)) == FRAME
    finally:
        source.close()


def test_bad_url_is_source_error() -> None:
    with pytest.raises(SourceError, match="cannot open nosuch://x"):
        SerialSource("nosuch://x").open()


# -- helpers ---------------------------------------------------------------------------------------
def test_backoff_delays_double_up_to_the_cap() -> None:
    gen = backoff_delays(0.5, 30)
    assert [next(gen) for _ in range(9)] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    gen = backoff_delays(base=1, cap=0.25)
    assert [next(gen) for _ in range(2)] == [0.25, 0.25]
    with pytest.raises(ValueError):
        next(backoff_delays(0, 1))


def test_list_serial_ports_sorted() -> None:
    ports = list_serial_ports()
    assert all(isinstance(p, PortInfo) for p in ports)
    devices = [p.device for p in ports]
    assert len(devices) == len(set(devices))
    from meterui.sources.serial_port import _natural_key

    assert devices == sorted(devices, key=_natural_key)
    assert _natural_key("/dev/ttyUSB2") < _natural_key("/dev/ttyUSB10")


# -- replay ----------------------------------------------------------------------------------------
def drain(source: ReplaySource) -> list[Chunk]:
    chunks: list[Chunk] = []
    source.open()
    try:
        while True:
            try:
                chunk = source.read()
            except EOFError:
                return chunks
            if chunk is not None:
                chunks.append(chunk)
    finally:
        source.close()


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"# meterui recording v1\n# t=1.0\n7E\n", "recording"),
        (b"\n# meterui recording v1\n", "recording"),
        (b"# a capture\n7E A0 2B 21 # flag, format\n0x13,0x23\n", "hex"),
        (b"7e:a0:2b:21\n", "hex"),
        (b"\xef\xbb\xbf7EA0 # BOM\n", "hex"),
        (b"# caf\xc3\xa9 comment in UTF-8\n7E\n", "hex"),
        (b"SKSENDTO 1 FE80:0000 0E1A 1 000E \x10\x81\x00\x01\r\nEVENT 21 FE80:0000 00\r\nOK\r\n", "skstack"),
        (
            b"ERXUDP FE80:0000:0000:0000:021D:1290:0003:C890 FF02::1 0E1A 0E1A 001D129000030C89 1 0012 "
            b"1081000102880105FF017201E704000001F8\r\n",
            "skstack",
        ),
        (FRAME, "raw"),
        (b"", "raw"),
        (b"7E A0 G1\n", "raw"),
        (b"\x00\x01\x02", "raw"),
    ],
)
def test_detect_format(head: bytes, expected: str) -> None:
    assert detect_format(head) == expected


def test_replay_hex_file(tmp_path: Path) -> None:
    path = tmp_path / "capture.txt"
    path.write_text("# two frames\n7E A0 2B  # start\n21:13\n0x23, 0x9A\nE\n6E7 # byte split over lines\n")
    source = ReplaySource(path)
    assert source.description == "replay capture.txt"
    chunks = drain(source)
    assert source.format == "hex" and source.decoder_format == "auto"
    assert b"".join(c.data for c in chunks) == bytes.fromhex("7EA02B2113239AE6E7")
    assert all(c.received is None for c in chunks)


def test_replay_hex_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.hex"
    path.write_text("7E A0\n2B 21\nZZ\n")
    source = ReplaySource(path, fmt="hex")
    with pytest.raises(SourceError, match=r"bad\.hex, line 3: not hex"):
        drain(source)


def test_replay_hex_streams_in_blocks(tmp_path: Path) -> None:
    payload = bytes(range(256)) * 200  # 51 200 bytes
    path = tmp_path / "big.hex"
    with path.open("w") as f:
        for start in range(0, len(payload), 32):
            f.write(payload[start : start + 32].hex(" ") + "\n")
    chunks = drain(ReplaySource(path, chunk_size=4096))
    assert b"".join(c.data for c in chunks) == payload
    assert len(chunks) > 10 and max(len(c.data) for c in chunks) < 4096 + 64


def test_replay_hex_one_huge_line_is_read_in_pieces(tmp_path: Path) -> None:
    payload = bytes(range(256)) * 400  # 102 400 bytes = 307 200 characters on one line
    path = tmp_path / "oneline.hex"
    path.write_text(payload.hex(" ") + "  # trailing comment\n7E\n")
    chunks = drain(ReplaySource(path, chunk_size=1024))
    assert b"".join(c.data for c in chunks) == payload + b"\x7e"
    assert max(len(c.data) for c in chunks) < 70_000


def test_replay_raw_file(tmp_path: Path) -> None:
    payload = FRAME * 1000
    path = tmp_path / "capture.bin"
    path.write_bytes(payload)
    source = ReplaySource(path, chunk_size=500)
    chunks = drain(source)
    assert source.format == "raw"
    assert b"".join(c.data for c in chunks) == payload
    assert {len(c.data) for c in chunks[:-1]} == {500}


def test_replay_skstack_is_passed_through(tmp_path: Path) -> None:
    transcript = b"EVENT 21 FE80:0000:0000:0000:021D:1290:0003:C890 00\r\nOK\r\nERXUDP x 0004 \x10\x81\r\n\x00\r\n"
    path = tmp_path / "bp35a1.log"
    path.write_bytes(transcript)
    source = ReplaySource(path)
    chunks = drain(source)
    assert source.format == "skstack" and source.decoder_format == "skstack"
    assert b"".join(c.data for c in chunks) == transcript


def test_replay_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot replay"):
        ReplaySource(tmp_path / "nope.hex").open()


def test_replay_read_before_open_and_bad_format(tmp_path: Path) -> None:
    with pytest.raises(SourceError):
        ReplaySource(tmp_path / "x").read()
    with pytest.raises(ValueError):
        ReplaySource(tmp_path / "x", fmt="pcap")


def test_replay_reopen_starts_again(tmp_path: Path) -> None:
    path = tmp_path / "a.hex"
    path.write_text("01 02 03\n")
    source = ReplaySource(path)
    assert drain(source)[0].data == b"\x01\x02\x03"
    assert drain(source)[0].data == b"\x01\x02\x03"


def test_replay_hex_matches_decode_input_parser(tmp_path: Path) -> None:
    """Replay reads hex text exactly as ``meterui decode`` does (meterui.protocol.inputs)."""
    from meterui.protocol.inputs import parse_hex_text

    text = (
        "# header comment\n7E A0 2B # flag\n0x21,0x13 ,0X23\n\n9a:e6:E7\n  0\n0 # split byte\n"
        "00112233445566778899AABBCCDDEEFF\t00\r\n"
    )
    path = tmp_path / "tricky.hex"
    path.write_text(text)
    chunks = drain(ReplaySource(path, chunk_size=3))
    assert b"".join(c.data for c in chunks) == parse_hex_text(text)
