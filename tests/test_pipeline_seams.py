"""The pipeline's seams: many sinks, events, back-pressure from a UI sink, sessions that write to a
real pseudo-terminal (recorded as sent), and ``monitor --json`` on a pty with the default parity E.

Frames: tests/data/hdlc_vectors.hex (copied from the reference vectors, see its header).
"""

from __future__ import annotations

import json
import math
import os
import queue
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from meterui.pipeline import MAX_BATCH, Pipeline
from meterui.protocol.decoder import DecoderStats, StreamDecoder
from meterui.protocol.message import Message
from meterui.protocol.skstack import SkEvent
from meterui.sessions.base import Session, SessionEvent, SessionOutput
from meterui.sinks.base import BoundedSink, PipelineEvent, Sink
from meterui.sinks.basic import CollectingSink
from meterui.sinks.counters import PipelineStats
from meterui.sinks.handoff import HandoffSink
from meterui.sources.base import SourceError, WritableSource
from meterui.sources.recording import Recorder, read_recording, read_sent
from meterui.sources.replay import ReplaySource
from meterui.sources.serial_port import SerialSource

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data" / "hdlc_vectors.hex"
FRAMES = [bytes.fromhex(line.split("#")[0]) for line in DATA.read_text().splitlines() if line.split("#")[0].strip()]
POWERS = [2824, 3673, 5424]
"""active_power_import of the first three frames (Kamstrup list 1 a, b, c)."""


def hex_file(path: Path, frames: Sequence[bytes]) -> Path:
    with path.open("w") as f:
        f.write("# frames from tests/data/hdlc_vectors.hex\n")
        for frame in frames:
            f.write(frame.hex() + "\n")
    return path


class Recording:
    """A sink that keeps batches, events and whether it was closed."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.events: list[PipelineEvent] = []
        self.closed = 0
        self.cond = threading.Condition()

    def on_messages(self, messages: Sequence[Message], stats: PipelineStats) -> None:
        with self.cond:
            self.messages.extend(messages)
            self.cond.notify_all()

    def on_event(self, event: PipelineEvent) -> None:
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def close(self) -> None:
        self.closed += 1

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        with self.cond:
            return self.cond.wait_for(predicate, timeout)


# -- sinks ------------------------------------------------------------------------------------------
def test_every_sink_gets_the_same_batches_and_events_and_is_closed(tmp_path: Path) -> None:
    path = hex_file(tmp_path / "six.hex", FRAMES)
    first, second = Recording(), Recording()
    assert isinstance(first, Sink)
    pipeline = Pipeline(ReplaySource(path), speed=math.inf, sinks=[first])
    pipeline.run(sinks=[second])
    assert [m.index for m in first.messages] == list(range(len(FRAMES)))
    assert [m.index for m in second.messages] == [m.index for m in first.messages]
    assert [e.kind for e in first.events] == ["finished"] == [e.kind for e in second.events]
    assert first.closed == 1 and second.closed == 1
    assert pipeline.stats.frames_ok == len(FRAMES) and pipeline.stats.checksum_ok == len(FRAMES)


def test_a_failing_sink_is_dropped_and_the_others_go_on(tmp_path: Path) -> None:
    path = hex_file(tmp_path / "many.hex", FRAMES * 50)

    class Broken(Recording):
        def on_messages(self, messages: Sequence[Message], stats: PipelineStats) -> None:
            raise RuntimeError("exporter bug")

    broken, good = Broken(), Recording()
    pipeline = Pipeline(ReplaySource(path), speed=math.inf, sinks=[broken, good])
    pipeline.run()
    assert len(good.messages) == len(FRAMES) * 50
    assert broken.closed == 1 and "exporter bug" in (pipeline.stats.last_error or "")


# -- back-pressure ----------------------------------------------------------------------------------
class CountingDecoder:
    """The real StreamDecoder, counting what it has produced (to see how far it runs ahead)."""

    def __init__(self) -> None:
        self.inner = StreamDecoder()
        self.decoded = 0

    @property
    def stats(self) -> DecoderStats:
        return self.inner.stats

    @property
    def last_module_event(self) -> SkEvent | None:
        return self.inner.last_module_event

    def feed(self, data: bytes, received: float | None = None) -> list[Message]:
        out = self.inner.feed(data, received)
        self.decoded += len(out)
        return out

    def flush(self) -> list[Message]:
        out = self.inner.flush()
        self.decoded += len(out)
        return out


class StuckUi(HandoffSink):
    """A UI that takes the first batch and then never handles another."""

    def __init__(self) -> None:
        self.batches: list[list[Message]] = []
        self.blocked = threading.Event()
        super().__init__(lambda messages, _stats: self.batches.append(messages))

    def wait_ready(self, timeout: float) -> bool:
        ready = super().wait_ready(timeout)
        if not ready and timeout > 0:  # the pipeline blocks (a quick check with 0 does not)
            self.blocked.set()
        return ready


def test_the_decoder_waits_for_a_ui_that_does_not_consume(tmp_path: Path) -> None:
    total = 20 * MAX_BATCH
    path = hex_file(tmp_path / "long.hex", (FRAMES * (total // len(FRAMES) + 1))[:total])
    decoder = CountingDecoder()
    ui = StuckUi()
    assert isinstance(ui, BoundedSink)
    pipeline = Pipeline(ReplaySource(path), speed=math.inf, decoder_factory=lambda _fmt: decoder, sinks=[ui])
    thread = threading.Thread(target=pipeline.run, daemon=True)
    thread.start()
    try:
        assert ui.blocked.wait(30), "the pipeline never waited for the UI"
        decoded_while_blocked = decoder.decoded
    finally:
        pipeline.stop()  # stop-aware: the blocked hand-off gives up
        thread.join(30)
    assert not thread.is_alive()
    delivered = sum(map(len, ui.batches))
    assert len(ui.batches) == 1 and delivered <= MAX_BATCH
    # one batch in flight, one more filled up to MAX_BATCH, plus what the last read decoded
    assert decoded_while_blocked - delivered <= MAX_BATCH + 100
    assert decoder.decoded == decoded_while_blocked  # and nothing more after that
    assert decoded_while_blocked < total


def test_the_decoder_runs_at_most_a_batch_ahead_of_the_ui(tmp_path: Path) -> None:
    total = 10 * MAX_BATCH
    path = hex_file(tmp_path / "long.hex", (FRAMES * (total // len(FRAMES) + 1))[:total])
    decoder = CountingDecoder()
    inbox: queue.Queue[list[Message]] = queue.Queue()
    ui = HandoffSink(lambda messages, _stats: inbox.put(messages))
    pipeline = Pipeline(ReplaySource(path), speed=math.inf, decoder_factory=lambda _fmt: decoder, sinks=[ui])
    thread = threading.Thread(target=pipeline.run, daemon=True)
    thread.start()
    delivered, ahead = 0, []
    try:
        while delivered < total:
            batch = inbox.get(timeout=30)
            ahead.append(decoder.decoded - delivered - len(batch))  # decoded beyond this batch
            delivered += len(batch)
            ui.taken()
    finally:
        pipeline.stop()
        thread.join(30)
    assert delivered == total
    assert max(ahead) <= MAX_BATCH + 100


# -- sessions ---------------------------------------------------------------------------------------
class EchoSession:
    """A tiny sans-IO session: says PING, answers a PONG line with ACK, writes TICK when woken."""

    def __init__(self) -> None:
        self._state = "idle"
        self._out = SessionOutput()
        self._buffer = b""
        self._tick_at: float | None = None
        self.messages = 0
        self.connection: list[bool] = []

    @property
    def state(self) -> str:
        return self._state

    def start(self, now: float) -> None:
        self._state = "pinging"
        self._out.writes.append(b"PING\r\n")

    def on_bytes(self, data: bytes, now: float) -> None:
        self._buffer += data
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            if line.strip() == b"PONG":
                self._state = "joined"
                self._out.writes.append(b"ACK\r\n")
                self._out.events.append(SessionEvent("joined", "echo session joined"))
                self._tick_at = now + 0.05

    def on_messages(self, messages: Sequence[Message], now: float) -> None:
        self.messages += len(messages)

    def on_connection(self, connected: bool, now: float) -> None:
        self.connection.append(connected)

    def poll(self, now: float) -> SessionOutput:
        if self._tick_at is not None and now >= self._tick_at:
            self._tick_at = None
            self._out.writes.append(b"TICK\r\n")
        out, self._out = self._out, SessionOutput()
        out.wake_at = self._tick_at
        return out

    def stop(self, now: float) -> None:
        self._state = "stopped"
        self._out.writes.append(b"BYE\r\n")


def _read_until(fd: int, wanted: bytes, timeout: float = 5.0) -> bytes:
    got = b""
    deadline = time.monotonic() + timeout
    while wanted not in got and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            got += os.read(fd, 4096)
    return got


def test_a_session_talks_through_a_real_pty_and_its_writes_are_recorded_as_sent(tmp_path: Path) -> None:
    master, slave = os.openpty()
    source = SerialSource(os.ttyname(slave), 115200, "N", 8, 1)
    assert isinstance(source, WritableSource)
    recording = tmp_path / "session.rec"
    recorder = Recorder(recording, source.description, flush_interval=0)
    session = EchoSession()
    assert isinstance(session, Session)
    events = Recording()
    pipeline = Pipeline(source, session=session, recorder=recorder, sinks=[events])
    thread = threading.Thread(target=pipeline.run, daemon=True)
    thread.start()
    try:
        assert b"PING\r\n" in _read_until(master, b"PING\r\n")
        os.write(master, b"PONG\r\n")
        answer = _read_until(master, b"TICK\r\n")
        assert answer == b"ACK\r\nTICK\r\n"  # ACK at once, TICK when the session's wake_at passed
        assert events.wait_for(lambda: any(e.kind == "session" for e in events.events))
        os.write(master, FRAMES[0])
        assert events.wait_for(lambda: any(m.ok for m in events.messages))
    finally:
        pipeline.stop()
        thread.join(5)
        tail = _read_until(master, b"BYE\r\n", timeout=2)
        os.close(master)
        os.close(slave)
    assert not thread.is_alive()
    assert tail.endswith(b"BYE\r\n")  # stop()'s writes go out while the port is still open
    assert session.messages >= 1 and session.state == "stopped"
    session_events = [e for e in events.events if e.kind == "session"]
    assert [e.text for e in session_events] == ["echo session joined"]
    assert [c.data for c in read_sent(recording)] == [b"PING\r\n", b"ACK\r\n", b"TICK\r\n", b"BYE\r\n"]
    received = b"".join(c.data for c in read_recording(recording))
    assert received == b"PONG\r\n" + FRAMES[0]  # sent bytes are not replayed as received
    replayed = Recording()
    Pipeline(ReplaySource(recording), speed=math.inf).run(sinks=[replayed])
    assert [m.ok for m in replayed.messages if m.ok] == [True]


def test_a_session_needs_a_writable_source(tmp_path: Path) -> None:
    path = hex_file(tmp_path / "one.hex", FRAMES[:1])
    with pytest.raises(ValueError, match="cannot"):
        Pipeline(ReplaySource(path), session=EchoSession())


# -- the serial port --------------------------------------------------------------------------------
def test_a_pty_with_parity_e_is_opened_once_and_reads(tmp_path: Path) -> None:
    master, slave = os.openpty()
    source = SerialSource(os.ttyname(slave))  # the default 2400 8E1
    sink = Recording()
    pipeline = Pipeline(source, sinks=[sink])
    source.open()  # opened by the caller first (as monitor does); the pipeline does not open it again
    thread = threading.Thread(target=pipeline.run, daemon=True)
    thread.start()
    try:
        assert sink.wait_for(lambda: any(e.kind == "connected" for e in sink.events))
        os.write(master, FRAMES[0])
        assert sink.wait_for(lambda: len(sink.messages) == 1)
        assert sink.messages[0].ok
        assert not [e for e in sink.events if e.trouble]
    finally:
        pipeline.stop()
        thread.join(5)
        os.close(master)
        os.close(slave)


def test_an_open_that_the_os_refuses_names_the_setting() -> None:
    master, slave = os.openpty()
    try:
        name = os.ttyname(slave)
        first = SerialSource(name)
        first.open()
        first.close()
        try:  # Linux ptys refuse a second open at 2400 with parity E (EINVAL); other kernels may not
            SerialSource(name).open()
        except SourceError as exc:
            message = str(exc)
        else:
            pytest.skip("this kernel accepts a second open of a pty with parity E")
    finally:
        os.close(master)
        os.close(slave)
    assert message.startswith(f"cannot open {name}: the device refused parity E (even)")
    assert "\n" not in message


# -- monitor --json ---------------------------------------------------------------------------------
def _lines(fd: int, count: int, timeout: float = 15.0) -> list[str]:
    from tests.test_monitor import _read_lines

    class _Fd:
        def fileno(self) -> int:
            return fd

    return _read_lines(_Fd(), count, timeout)


def _write_when_open(
    master: int, frame: bytes, proc: subprocess.Popen[bytes], err_lines: list[str], wanted: str
) -> None:
    """Write ``frame`` once stderr said ``wanted`` (the port is open: pyserial flushes input on open)."""
    assert proc.stderr is not None
    while not any(wanted in line for line in err_lines):
        got = _lines(proc.stderr.fileno(), 1, timeout=15)
        assert got, f"no {wanted!r} line on stderr; got {err_lines}"
        err_lines += got
    os.write(master, frame)


def test_monitor_json_reads_a_pty_at_8e1_and_reports_each_port_change(tmp_path: Path) -> None:
    master, slave = os.openpty()
    link = tmp_path / "ttyHAN"
    link.symlink_to(os.ttyname(slave))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "meterui", "monitor", "--port", str(link), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    fds = [master, slave]
    err: list[str] = []
    try:
        _write_when_open(master, FRAMES[0], proc, err, "connected")
        first = _lines(proc.stdout.fileno(), 1)
        os.close(master)
        os.close(slave)
        fds = []
        new_master, new_slave = os.openpty()
        fds = [new_master, new_slave]
        link.unlink()
        link.symlink_to(os.ttyname(new_slave))
        _write_when_open(new_master, FRAMES[1], proc, err, "connected again")
        second = _lines(proc.stdout.fileno(), 1)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        err += [line.decode() for line in proc.stderr.read().splitlines()]
        for fd in fds:
            os.close(fd)
    objs = [json.loads(line) for line in first + second]
    assert [o["ok"] for o in objs] == [True, True]
    powers = [next(r["value"] for r in o["readings"] if r["quantity"] == "active_power_import") for o in objs]
    assert powers == POWERS[:2]
    assert err[0] == f"meterui: {link} 2400 8E1: connected"
    assert "disconnected" in err[1]
    assert err[-1] == f"meterui: {link} 2400 8E1: connected again"
    # one line per change of state: between the two, at most the reason a reopen failed, once each
    assert all(line.startswith("meterui: ") for line in err)
    assert all(line.startswith(f"meterui: cannot open {link}") for line in err[2:-1])
    assert len(set(err[2:-1])) == len(err[2:-1])
    assert "Invalid argument" not in "\n".join(err) and "Traceback" not in "\n".join(err)


def test_collecting_sink_keeps_at_most_its_limit(tmp_path: Path) -> None:
    path = hex_file(tmp_path / "six.hex", FRAMES)
    sink = CollectingSink(limit=2)
    Pipeline(ReplaySource(path), speed=math.inf, sinks=[sink]).run()
    assert [m.index for m in sink.messages] == [0, 1]
    assert sink.stats is not None and sink.stats.frames == len(FRAMES)


# -- typed errors -----------------------------------------------------------------------------------
def _encrypted_frames() -> tuple[bytes, bytes]:
    """An encrypted + authenticated HDLC frame (tag) and an encrypted one without a tag, built here."""
    from meterui.protocol import encode as E

    body = E.array([E.structure(E.obis("1.0.1.7.0.255"), E.u32(1234), E.structure(E.i8(0), E.enum(27)))])
    apdu = E.data_notification(body, dt=E.cosem_datetime(None))
    title = b"KFM\x00\x00\x00\x00\x01"
    tagged = E.hdlc_frame(E.LLC + E.glo_ciphering(apdu, title, 1, KEY_A, 0x30, AUTH_A))
    untagged = E.hdlc_frame(E.LLC + E.glo_ciphering(apdu, title, 2, KEY_A, 0x20))
    return tagged, untagged


KEY_A = bytes(range(16))
AUTH_A = bytes(range(16, 32))


def test_crypto_failures_have_a_kind_not_just_a_wording() -> None:
    from meterui.commissioning import is_auth_failure
    from meterui.protocol.decoder import decode_bytes
    from meterui.protocol.errors import AuthenticationError, DecryptGarbageError, ErrorKind, KeyMissingError

    tagged, untagged = _encrypted_frames()
    good = decode_bytes(tagged, KEY_A, AUTH_A)[0]
    assert good.error is None and good.readings
    missing = decode_bytes(tagged)[0]
    assert isinstance(missing.error, KeyMissingError) and missing.error.kind is ErrorKind.KEY_MISSING
    wrong_auth = decode_bytes(tagged, KEY_A, bytes(16))[0]
    assert isinstance(wrong_auth.error, AuthenticationError) and is_auth_failure(wrong_auth)
    garbage = decode_bytes(untagged, bytes(16))[0]
    assert isinstance(garbage.error, DecryptGarbageError) and garbage.error.kind is ErrorKind.DECRYPT_GARBAGE
    assert not is_auth_failure(garbage) and not is_auth_failure(missing)
    noise = decode_bytes(b"\x55" * 40)[0]
    assert noise.error is not None and noise.error.kind is ErrorKind.NOISE


# -- the quantities vocabulary ----------------------------------------------------------------------
def test_every_quantity_the_decoder_tables_emit_is_in_the_vocabulary_with_a_fitting_unit() -> None:
    from meterui.protocol import echonet, obis
    from meterui.quantities import QUANTITIES, to_canonical

    emitted = [(info.quantity, info.unit) for info in obis.OBIS_TABLE.values() if info.quantity]
    for table in echonet.PROPERTY_TABLES.values():
        for spec in table.values():
            emitted += [(spec.quantity, spec.unit)] if spec.quantity else []
            emitted += [(part, spec.unit) for part in spec.parts if part]
    assert emitted, "no decoder table found"
    for quantity, unit in emitted:
        assert quantity in QUANTITIES, quantity
        if unit is not None:
            assert to_canonical(quantity, 1.0, unit) is not None, (quantity, unit)


def test_to_canonical_converts_prefixes_and_never_guesses() -> None:
    from meterui.quantities import canonical_unit, to_canonical

    assert canonical_unit("active_power_import") == "W"
    assert to_canonical("active_power_import", 2.5, "kW") == 2500.0
    assert to_canonical("active_energy_import", 3.0, "kWh") == 3000.0
    assert to_canonical("active_power_import", 7.0, "W") == 7.0
    assert to_canonical("active_power_import", 1.0, None) is None
    assert to_canonical("active_power_import", 1.0, "V") is None
    assert to_canonical("meter_id", 1.0, "W") is None


# -- one diagnosis ----------------------------------------------------------------------------------
def test_the_wizard_and_the_live_screen_share_one_diagnosis(tmp_path: Path) -> None:
    from meterui.commissioning import Evidence, diagnose, empty_hint, verdict_for

    noise = b"\x55\xaa" * 40
    path = hex_file(tmp_path / "noise.hex", [noise])
    sink = CollectingSink()
    pipeline = Pipeline(ReplaySource(path), speed=math.inf, sinks=[sink])
    pipeline.run()
    stats = pipeline.stats
    assert diagnose(Evidence.of_stats(stats)) == "no-frames"
    assert empty_hint(stats).startswith(f"{stats.frames_bad} message(s) arrived but none could be read")
    decoder = StreamDecoder()
    messages = decoder.feed(noise) + decoder.flush()
    assert verdict_for(decoder.stats, messages).code == "no-frames"

    frame_decoder = StreamDecoder()
    good = frame_decoder.feed(FRAMES[0]) + frame_decoder.flush()
    ok = PipelineStats(source="x", bytes_received=len(FRAMES[0]), frames_ok=1, checksum_ok=1)
    assert diagnose(Evidence.of_stats(ok)) == "ok" == diagnose(Evidence.of_messages(frame_decoder.stats, good))
    assert empty_hint(ok) == "Frames arrive, but they carried no readings yet."
    assert diagnose(Evidence.of_stats(PipelineStats(source="x"))) == "no-bytes"
