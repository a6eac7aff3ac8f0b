#!/usr/bin/env python3
"""App benchmarks: first paint, idle CPU, memory (figures for the notes; nothing here is asserted).

1. Launch → first paint of ``meterui demo`` and of a trivial Textual app, in the same run, each in a
   real pseudo-terminal (80x24): the time until the app has drawn its first full screen (a marker
   text appears in the terminal output).
2. Idle CPU: ``meterui demo`` at real cadence for ``--idle-seconds`` (default 60) after start-up,
   from /proc/PID/stat (user+system ticks), as % of one core.
3. Memory: the app (headless, 120x40) replaying a capture of 100,000 frames at max speed; RSS after
   10k, 50k and 100k messages, to show it stays flat (bounded histories and frame store).

Usage: ``python bench/bench_app.py [--quick] [--json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pty
import select
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TRIVIAL_APP = """
from textual.app import App
from textual.widgets import Static, Footer, Header
class Trivial(App):
    def compose(self):
        yield Header()
        yield Static("hello from a trivial app")
        yield Footer()
Trivial().run()
"""


def _spawn(argv: list[str], cols: int = 80, rows: int = 24) -> tuple[int, int]:
    import fcntl
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # child
        os.environ["TERM"] = "xterm-256color"
        os.environ["COLUMNS"], os.environ["LINES"] = str(cols), str(rows)
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    return pid, fd


def _kill(pid: int, fd: int) -> None:
    import signal

    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            _drain(fd, 0.05)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
    finally:
        os.close(fd)


def _drain(fd: int, timeout: float) -> bytes:
    out = b""
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return out
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return out
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return out
        if not chunk:
            return out
        out += chunk


def first_paint(argv: list[str], marker: bytes, timeout: float = 30.0) -> float:
    """Seconds from exec to the marker text appearing on the terminal."""
    start = time.perf_counter()
    pid, fd = _spawn(argv)
    seen = b""
    try:
        while time.perf_counter() - start < timeout:
            seen += _drain(fd, 0.01)
            if marker in seen:
                return time.perf_counter() - start
        raise RuntimeError(f"no first paint within {timeout}s ({argv})")
    finally:
        _kill(pid, fd)


def idle_cpu(argv: list[str], seconds: float, warmup: float = 5.0) -> float:
    """CPU % of one core used by the process over ``seconds`` after ``warmup``."""
    pid, fd = _spawn(argv)
    tick = os.sysconf("SC_CLK_TCK")

    def ticks() -> int:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    try:
        end = time.monotonic() + warmup
        while time.monotonic() < end:
            _drain(fd, 0.2)
        t0, c0 = time.monotonic(), ticks()
        end = t0 + seconds
        while time.monotonic() < end:
            _drain(fd, 0.2)  # keep the terminal drained, as a real terminal would
        t1, c1 = time.monotonic(), ticks()
        return 100.0 * (c1 - c0) / tick / (t1 - t0)
    finally:
        _kill(pid, fd)


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _big_capture(path: Path, frames: int) -> None:
    from meterui.launch import DEMO_KEY, demo_capture_path
    from meterui.sources.recording import read_recording

    del DEMO_KEY
    chunks = [c.data for c in read_recording(demo_capture_path())]
    with path.open("w") as f:
        n = 0
        while n < frames:
            for data in chunks:
                f.write(data.hex() + "\n")
                n += 1
                if n >= frames:
                    break


async def _replay_memory(path: Path, checkpoints: list[int]) -> list[tuple[int, float]]:
    import gc

    from meterui.app import MeterApp
    from meterui.config import Config
    from meterui.launch import DEMO_KEY
    from meterui.pipeline import Pipeline
    from meterui.sources.replay import ReplaySource

    app = MeterApp(lambda _c: Pipeline(ReplaySource(path), key=DEMO_KEY, speed=float("inf")),
                   Config(key=DEMO_KEY))
    out: list[tuple[int, float]] = []
    todo = list(checkpoints)
    async with app.run_test(size=(120, 40)) as pilot:
        while todo:
            await pilot.pause(0.2)
            done = app.model.messages
            finished = app.stats is not None and app.stats.finished
            if done >= todo[0] or finished:
                gc.collect()
                out.append((done, _rss_mb()))
                todo.pop(0)
            if finished and not todo:
                break
            if finished:
                gc.collect()
                out.append((app.model.messages, _rss_mb()))
                break
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter runs (idle 15 s, 20k frames)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--idle-seconds", type=float, default=60.0)
    ap.add_argument("--frames", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5, help="first-paint runs per app (median reported)")
    args = ap.parse_args()
    if args.quick:
        args.idle_seconds, args.frames, args.runs = 15.0, 20_000, 3

    exe = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        trivial = Path(tmp) / "trivial.py"
        trivial.write_text(TRIVIAL_APP)
        meterui_times, trivial_times = [], []
        for _ in range(args.runs):  # interleaved, so both see the same machine state
            trivial_times.append(first_paint([exe, str(trivial)], b"hello from a trivial"))
            meterui_times.append(first_paint([exe, "-m", "meterui", "demo"], b"Quit"))
        paint_meterui, paint_trivial = statistics.median(meterui_times), statistics.median(trivial_times)

        cpu = idle_cpu([exe, "-m", "meterui", "demo"], args.idle_seconds)

        capture = Path(tmp) / "big.hex"
        _big_capture(capture, args.frames)
        marks = [m for m in (10_000, 50_000, 100_000) if m <= args.frames] or [args.frames]
        memory = asyncio.run(_replay_memory(capture, marks))

    result = {
        "first_paint_meterui_demo_s": round(paint_meterui, 3),
        "first_paint_trivial_textual_s": round(paint_trivial, 3),
        "first_paint_ratio": round(paint_meterui / paint_trivial, 2),
        "idle_cpu_percent": round(cpu, 2),
        "idle_seconds": args.idle_seconds,
        "memory_rss_mb": [(n, round(mb, 1)) for n, mb in memory],
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"first paint  meterui demo   {paint_meterui * 1000:7.0f} ms   (median of {args.runs})")
    print(f"first paint  trivial app    {paint_trivial * 1000:7.0f} ms   ratio {result['first_paint_ratio']}"
          "   target ≤ 1.5")
    print(f"idle CPU     meterui demo   {cpu:7.2f} %    over {args.idle_seconds:.0f} s at real cadence"
          "   target < 3 %")
    for n, mb in memory:
        print(f"memory       after {n:>7} messages at max speed: {mb:6.1f} MB RSS")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
