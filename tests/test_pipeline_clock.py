"""Replays of files without recorded times follow the meter's own clock (its push cadence)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

from meterui.pipeline import Pipeline, clock_seconds
from meterui.protocol import encode as E
from meterui.protocol.message import Message
from meterui.sources.replay import ReplaySource


def _frame(clock: datetime, watts: int) -> bytes:
    body = E.structure(E.visible("Kamstrup_V0001"), E.obis("1.1.1.7.0.255"), E.u32(watts))
    apdu = E.data_notification(body, 0, E.cosem_datetime(clock, None))
    return E.hdlc_frame(E.LLC + apdu, dest=b"\x2b", src=b"\x21")


def _replay(path: Path, **kw: object) -> tuple[list[Message], float]:
    got: list[Message] = []
    started = time.monotonic()
    Pipeline(ReplaySource(path), **kw).run(lambda msgs, _s: got.extend(msgs), lambda: False)  # type: ignore[arg-type]
    return got, time.monotonic() - started


def test_clock_seconds_reads_iso_with_and_without_offset() -> None:
    assert clock_seconds("2024-01-01T00:00:10") == clock_seconds("2024-01-01T00:00:00") + 10  # type: ignore[operator]
    assert clock_seconds("2024-01-01T01:00:00+01:00") == clock_seconds("2024-01-01T00:00:00")
    assert clock_seconds("not a clock") is None


def test_frames_without_recorded_times_follow_the_meter_clock(tmp_path: Path) -> None:
    start = datetime(2024, 3, 1, 12, 0, 0)
    frames = [_frame(start + timedelta(seconds=3 * i), 100 + i) for i in range(5)]
    path = tmp_path / "kamstrup.hex"
    path.write_text("\n".join(f.hex() for f in frames) + "\n")
    # the meter pushed every 3 s: at 10x that is 0.3 s apart, not the 2 s default cadence
    got, elapsed = _replay(path, speed=10.0, cadence=2.0)
    assert [m.readings[1].value for m in got] == [100, 101, 102, 103, 104]
    assert 4 * 0.3 - 0.02 <= elapsed < 4 * 0.3 + 0.8


def test_implausible_clock_jumps_fall_back_to_the_cadence(tmp_path: Path) -> None:
    start = datetime(2024, 3, 1, 12, 0, 0)
    clocks = [start, start + timedelta(days=3), start - timedelta(hours=5)]  # sample frames from anywhere
    path = tmp_path / "samples.hex"
    path.write_text("\n".join(_frame(c, 1).hex() for c in clocks) + "\n")
    _, elapsed = _replay(path, speed=1.0, cadence=0.1, max_gap=10.0)
    assert 2 * 0.1 - 0.02 <= elapsed < 2 * 0.1 + 0.8  # neither days nor max_gap: the cadence
