"""Pipeline: replay pacing, pause/step/speed, looping, live pty with unplug and reconnect, recording.

Every test drives the real StreamDecoder with real sources (files in tmp_path, a pseudo-terminal).
"""

from __future__ import annotations

import gc
import json
import math
import os
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from meterui.pipeline import MAX_BATCH, Pipeline, PipelineStats
from meterui.protocol.message import Message
from meterui.sources import Chunk, Recorder, ReplaySource, SerialSource, read_recording

VECTORS = json.loads((Path(__file__).resolve().parent / "data" / "vectors" / "hdlc.json").read_text())
FRAMES = [bytes.fromhex(f) for v in VECTORS for f in v["frames_hex"]]
KEY = bytes.fromhex("000102030405060708090A0B0C0D0E0F")


def hex_file(path: Path, frames: list[bytes]) -> Path:
    with path.open("w") as f:
        f.write("# Kamstrup frames from tests/data/vectors/hdlc.json\n")
        for frame in frames:
            f.write(frame.hex(" ").upper() + "  # one frame\n")
    return path


class Collector:
    """on_messages for tests: records batches and their arrival times, wakes waiters."""

    def __init__(self) -> None:
        self.batches: list[list[Message]] = []
        self.stats: list[PipelineStats] = []
        self.times: list[float] = []
        self.cond = threading.Condition()

    def __call__(self, messages: list[Message], stats: PipelineStats) -> None:
        with self.cond:
            self.batches.append(messages)
            self.stats.append(stats)
            self.times.append(time.monotonic())
            self.cond.notify_all()

    @property
    def messages(self) -> list[Message]:
        with self.cond:
            return [m for batch in self.batches for m in batch]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 2.0) -> bool:
        with self.cond:
            return self.cond.wait_for(predicate, timeout)


def start(pipeline: Pipeline, collector: Collector) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=pipeline.run, args=(collector, stop.is_set), daemon=True)
    thread.start()
    return thread, stop


# -- replay ----------------------------------------------------------------------------------------
def test_max_speed_delivers_everything_in_order(tmp_path: Path) -> None:
    path = hex_file(tmp_path / "six.hex", FRAMES)
    collector = Collector()
    pipeline = Pipeline(ReplaySource(path), speed=math.inf)
    pipeline.run(collector, lambda: False)  # returns by itself at the end of the file
    messages = collector.messages
    assert [m.index for m in messages] == list(range(6))
    assert all(m.ok for m in messages)
    final = collector.stats[-1]
    assert final.finished and final.frames_ok == 6 and final.frames_bad == 0
    assert final.bytes_received == sum(len(f) for f in FRAMES)
    assert final.source == "replay six.hex" and final.last_error is None
    assert final.mean_push_interval is None  # a hex file has no times


def test_hold_rests_a_max_speed_replay_and_then_it_finishes(tmp_path: Path) -> None:
    """``hold`` (the app calls it on each key, issue #8) delays an unpaced replay; nothing is lost."""
    path = hex_file(tmp_path / "six.hex", FRAMES)
    collector = Collector()
    pipeline = Pipeline(ReplaySource(path), speed=math.inf)
    pipeline.hold(0.6)
    started = time.monotonic()
    pipeline.run(collector, lambda: False)
    assert collector.times[0] - started >= 0.55  # nothing was decoded and posted before the hold ran out
    assert [m.index for m in collector.messages] == list(range(6))


def test_hold_leaves_a_paced_replay_on_time(tmp_path: Path) -> None:
    """A paced replay is not busy, so a key does not delay it."""
    path = hex_file(tmp_path / "six.hex", FRAMES[:2])
    collector = Collector()
    pipeline = Pipeline(ReplaySource(path), cadence=0.05, speed=1.0)
    pipeline.hold(5.0)
    started = time.monotonic()
    pipeline.run(collector, lambda: False)
    assert time.monotonic() - started < 2.0
    assert len(collector.messages) == 2


def test_stop_ends_a_hold_at_once(tmp_path: Path) -> None:
    path = hex_file(tmp_path / "six.hex", FRAMES)
    collector = Collector()
    pipeline = Pipeline(ReplaySource(path), speed=math.inf)
    pipeline.hold(30.0)
    thread, _ = start(pipeline, collector)
    time.sleep(0.1)
    started = time.monotonic()
    pipeline.stop()
    thread.join(5)
    assert not thread.is_alive() and time.monotonic() - started < 1.0


def test_cadence_paces_messages_and_speed_scales_it(tmp_path: Path) -> None:
    path = hex_file(tmp_path / "six.hex", FRAMES[:4])
    for speed, gap in ((1.0, 0.12), (3.0, 0.04)):
        collector = Collector()
        started = time.monotonic()
        Pipeline(ReplaySource(path), cadence=0.12, speed=speed).run(collector, lambda: False)
        elapsed = time.monotonic() - started
        assert len(collector.messages) == 4
        assert elapsed >= 3 * gap - 0.01  # never early
        assert elapsed < 3 * gap + 0.8


def test_recorded_timestamps_pace_the_replay(tmp_path: Path) -> None:
    path = tmp_path / "rec.hex"
    with Recorder(path, "test") as rec:
        for i, frame in enumerate(FRAMES[:3]):
            rec.write(Chunk(frame, 1_700_000_000.0 + 0.3 * i))
        rec.write(Chunk(FRAMES[3], 1_700_009_999.0))  # a 3-hour silence between sessions
    collector = Collector()
    started = time.monotonic()
    Pipeline(ReplaySource(path), speed=2.0, max_gap=0.5).run(collector, lambda: False)
    elapsed = time.monotonic() - started
    messages = collector.messages
    assert [m.received for m in messages] == [1_700_000_000.0, 1_700_000_000.3, 1_700_000_000.6, 1_700_009_999.0]
    # 0.3 s recorded gaps at 2× → 0.15 s; the 3-hour silence is shortened to max_gap / speed = 0.25 s
    gaps = [b - a for a, b in zip(collector.times, collector.times[1:4], strict=False)]
    for gap, expected in zip(gaps, (0.15, 0.15, 0.25), strict=True):
        assert expected - 0.01 <= gap < expected + 0.3, gaps
    assert 0.54 <= elapsed < 1.4
    final = collector.stats[-1]
    assert final.last_message_time == 1_700_009_999.0
    assert final.mean_push_interval is not None


def test_pause_step_resume(tmp_path: Path) -> None:
    path = hex_file(tmp_path / "six.hex", FRAMES)
    collector = Collector()
    pipeline = Pipeline(ReplaySource(path), cadence=0.01)
    pipeline.pause()
    thread, stop = start(pipeline, collector)
    try:
        time.sleep(0.15)
        assert collector.messages == []  # paused from the start: nothing
        pipeline.step()
        assert collector.wait_for(lambda: len(collector.messages) == 1)
        time.sleep(0.15)
        assert [m.index for m in collector.messages] == [0]  # exactly one
        pipeline.step()
        pipeline.step()
        assert collector.wait_for(lambda: len(collector.messages) == 3)
        time.sleep(0.1)
        assert [m.index for m in collector.messages] == [0, 1, 2]
        assert pipeline.paused and collector.stats[-1].paused
        assert pipeline.toggle_pause() is False
        thread.join(2.0)
        assert not thread.is_alive()
        assert [m.index for m in collector.messages] == list(range(6))
        assert collector.stats[-1].finished
    finally:
        stop.set()
        thread.join(2.0)


def test_step_while_running_pauses_after_one(tmp_path: Path) -> None:
    path = hex_file(tmp_path / "six.hex", FRAMES)
    collector = Collector()
    pipeline = Pipeline(ReplaySource(path), cadence=5.0)  # slow: only the first comes by itself
    thread, stop = start(pipeline, collector)
    try:
        assert collector.wait_for(lambda: len(collector.messages) == 1)
        pipeline.step()
        assert collector.wait_for(lambda: len(collector.messages) == 2)
        assert pipeline.paused
        pipeline.set_speed(math.inf)
        time.sleep(0.1)
        assert len(collector.messages) == 2  # speed does not unpause
        pipeline.resume()
        thread.join(2.0)
        assert [m.index for m in collector.messages] == list(range(6))
    finally:
        stop.set()
        thread.join(2.0)


def test_set_speed_takes_effect_on_the_waiting_message(tmp_path: Path) -> None:
    path = hex_file(tmp_path / "six.hex", FRAMES)
    collector = Collector()
    pipeline = Pipeline(ReplaySource(path), cadence=30.0)
    thread, stop = start(pipeline, collector)
    try:
        assert collector.wait_for(lambda: len(collector.messages) == 1)
        pipeline.set_speed(math.inf)
        thread.join(2.0)
        assert not thread.is_alive() and len(collector.messages) == 6
    finally:
        stop.set()
        thread.join(2.0)
    with pytest.raises(ValueError):
        pipeline.set_speed(0)
    with pytest.raises(ValueError):
        pipeline.set_speed(float("nan"))


def test_max_speed_batches_at_most_20_per_second(tmp_path: Path) -> None:
    path = hex_file(tmp_path / "many.hex", FRAMES * 150)  # 900 messages
    collector = Collector()
    started = time.monotonic()
    Pipeline(ReplaySource(path), speed=math.inf).run(collector, lambda: False)
    elapsed = time.monotonic() - started
    assert len(collector.messages) == 900
    assert all(len(b) <= MAX_BATCH for b in collector.batches)
    # posts are spaced by >= 50 ms, except a full batch (memory bound) and the final post from run()
    gaps = [
        collector.times[i] - collector.times[i - 1]
        for i in range(1, len(collector.times) - 1)
        if len(collector.batches[i]) < MAX_BATCH
    ]
    assert all(g >= 0.045 for g in gaps), gaps
    assert len(collector.batches) <= elapsed / 0.05 + 3


def test_loop_restarts_and_memory_stays_flat(tmp_path: Path) -> None:
    path = hex_file(tmp_path / "six.hex", FRAMES)
    pipeline = Pipeline(ReplaySource(path), speed=math.inf, loop=True)
    seen = 0
    readings: dict[int, list[int]] = {20: [], 120: [], 620: []}

    def on_messages(messages: list[Message], stats: PipelineStats) -> None:
        nonlocal seen
        seen += len(messages)  # like a UI: keep counts, drop the messages
        messages.clear()  # so a sample does not count the batch in hand
        for mark, taken in readings.items():
            if stats.loops >= mark and len(taken) < 5:
                gc.collect()
                taken.append(tracemalloc.get_traced_memory()[0])
                break

    tracemalloc.start()
    try:
        pipeline.run(on_messages, lambda: all(len(taken) == 5 for taken in readings.values()))
    finally:
        tracemalloc.stop()
    samples = {mark: min(taken) for mark, taken in readings.items()}  # the floor of five batches in a row
    assert seen >= 6 * 620
    # after a warm-up (caches, interned strings) 500 more loops (3,000 messages) add next to nothing.
    # Traced memory wobbles by up to a few hundred KB between single samples under load without
    # accumulating (allocator free lists, caches), so each mark takes the lowest of five batches; a leak
    # of even 60 bytes a message would add ~180 KB here
    assert samples[620] - samples[120] < 96 * 1024, readings
    assert len(pipeline._pending) <= 6 and len(pipeline._batch) <= MAX_BATCH


def test_malformed_replay_reports_and_returns(tmp_path: Path) -> None:
    path = tmp_path / "bad.hex"
    path.write_text(FRAMES[0].hex(" ") + "\nnot hex at all\n")
    collector = Collector()
    Pipeline(ReplaySource(path, fmt="hex"), speed=math.inf).run(collector, lambda: False)
    final = collector.stats[-1]
    assert final.finished and final.last_error is not None and "bad.hex, line 2" in final.last_error


def test_missing_file_reports_and_returns(tmp_path: Path) -> None:
    collector = Collector()
    Pipeline(ReplaySource(tmp_path / "nope.hex")).run(collector, lambda: False)
    assert collector.stats[-1].finished and "cannot replay" in (collector.stats[-1].last_error or "")


def test_callback_error_does_not_escape(tmp_path: Path) -> None:
    path = hex_file(tmp_path / "six.hex", FRAMES)

    def broken(messages: list[Message], stats: PipelineStats) -> None:
        if messages:
            raise RuntimeError("widget bug")

    pipeline = Pipeline(ReplaySource(path), speed=math.inf)
    pipeline.run(broken, lambda: False)
    assert "widget bug" in (pipeline.stats.last_error or "")


def test_garbage_counts_as_bad_frames(tmp_path: Path) -> None:
    broken = bytearray(FRAMES[1])
    broken[40] ^= 0xFF  # payload byte flipped: FCS fails
    path = hex_file(tmp_path / "mixed.hex", [FRAMES[0], bytes(broken), FRAMES[2]])
    collector = Collector()
    Pipeline(ReplaySource(path), speed=math.inf).run(collector, lambda: False)
    final = collector.stats[-1]
    assert final.frames_ok == 2 and final.frames_bad >= 1
    assert sum(final.errors_by_layer.values()) == final.frames_bad


# -- live through a pseudo-terminal -------------------------------------------------------------
def test_live_pty_unplug_and_reconnect_with_recording(tmp_path: Path) -> None:
    master, slave = os.openpty()
    link = tmp_path / "ttyHAN"
    link.symlink_to(os.ttyname(slave))
    source = SerialSource(str(link), 2400, "N", 8, 1, reconnect_base=0.02, reconnect_cap=0.05)
    recording = tmp_path / "rec.hex"
    recorder = Recorder(recording, source.description, flush_interval=0)
    collector = Collector()
    pipeline = Pipeline(source, key=KEY, recorder=recorder)
    thread, stop = start(pipeline, collector)
    fds = [master, slave]
    try:
        deadline = time.monotonic() + 2.0
        while not pipeline.stats.connected and time.monotonic() < deadline:
            time.sleep(0.01)  # the port opens in the worker thread
        assert pipeline.stats.connected
        os.write(master, FRAMES[0])
        assert collector.wait_for(lambda: len(collector.messages) == 1)
        first = collector.messages[0]
        assert first.ok and first.received is not None and abs(first.received - time.time()) < 5
        assert pipeline.stats.connected

        os.close(master)
        os.close(slave)
        fds = []
        assert collector.wait_for(lambda: not collector.stats[-1].connected)
        assert "disconnected" in (collector.stats[-1].last_error or "")

        new_master, new_slave = os.openpty()
        fds = [new_master, new_slave]
        link.unlink()
        link.symlink_to(os.ttyname(new_slave))
        assert collector.wait_for(lambda: collector.stats[-1].connected)
        os.write(new_master, FRAMES[1])
        assert collector.wait_for(lambda: len(collector.messages) >= 2)
        assert collector.messages[-1].ok
    finally:
        stop.set()
        pipeline.stop()
        thread.join(2.0)
        for fd in fds:
            os.close(fd)
    assert not thread.is_alive()
    assert recorder.closed
    text = recording.read_text()
    assert KEY.hex().upper() not in text.replace(" ", "").upper()
    assert b"".join(c.data for c in read_recording(recording)) == FRAMES[0] + FRAMES[1]


def test_live_pause_keeps_reading_and_buffers(tmp_path: Path) -> None:
    master, slave = os.openpty()
    source = SerialSource(os.ttyname(slave), 2400, "N", 8, 1)
    collector = Collector()
    pipeline = Pipeline(source, live_buffer=2)
    pipeline.pause()
    thread, stop = start(pipeline, collector)
    try:
        time.sleep(0.1)
        for frame in FRAMES[:4]:
            os.write(master, frame)
            time.sleep(0.05)
        assert collector.wait_for(lambda: pipeline.stats.bytes_received == sum(map(len, FRAMES[:4])))
        assert collector.messages == []
        pipeline.step()
        assert collector.wait_for(lambda: len(collector.messages) == 1)
        pipeline.resume()
        assert collector.wait_for(lambda: len(collector.messages) == 2)
        assert pipeline.stats.dropped == 2  # the pause buffer holds 2; the 2 oldest went
        assert [m.index for m in collector.messages] == [2, 3]
    finally:
        stop.set()
        pipeline.stop()
        thread.join(2.0)
        os.close(master)
        os.close(slave)
    assert not thread.is_alive()


def test_stop_interrupts_a_live_run_quickly() -> None:
    master, slave = os.openpty()
    pipeline = Pipeline(SerialSource(os.ttyname(slave)))
    collector = Collector()
    thread = threading.Thread(target=pipeline.run, args=(collector, lambda: False), daemon=True)
    thread.start()
    try:
        time.sleep(0.1)
        started = time.monotonic()
        pipeline.stop()
        thread.join(2.0)
        assert not thread.is_alive() and time.monotonic() - started < 1.0
    finally:
        os.close(master)
        os.close(slave)


def test_modules_stay_ui_free() -> None:
    code = (
        "import sys, meterui.pipeline, meterui.model, meterui.config, meterui.sources; "
        "bad = [m for m in ('textual', 'rich') if m in sys.modules]; print(bad); sys.exit(bool(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert result.returncode == 0, result.stdout + result.stderr
