#!/usr/bin/env python3
"""App benchmarks: first readings, idle CPU, memory and key latency under a 1M-frame replay, decode speed.

Every run is the real command in a real pseudo-terminal (120x40, ``TERM=xterm-256color``), with the
terminal drained as a real one would be.

1. **First readings**: launch → the first OBIS reading drawn by ``meterui demo`` (a reading's name on the
   screen), and launch → first paint of a trivial Textual app (header, one line, footer), interleaved
   in the same run; the ratio is the figure (medians of ``--runs``). ``meterui demo``'s own first
   paint (its footer) is reported too.
2. **Idle CPU** of ``meterui demo`` at real cadence (a push every 2.5 s): ``--idle-runs`` runs of
   ``--idle-seconds`` after a 5 s warm-up, from /proc/PID/stat, as % of one core.
3. **Replay**: ``meterui replay FILE --speed max`` on a hex file of ``--frames`` frames (default
   1,000,000) generated here from ``scripts/make_demo.py`` (the project's encoders: Aidon lists and
   encrypted Kaifa M-Bus pairs, cycled; written to a temporary file, several hundred MB, deleted
   afterwards). RSS is sampled every ``--sample`` s; progress is the share of the file the process has
   read (its offset in the file, /proc/PID/fdinfo); every few seconds ``?`` opens the help screen and
   ``?`` closes it, and the time until the terminal shows each change is the key-response latency.
   The run ends when the whole file is read and the app is idle again (CPU < 20 % over 2 s), or at ``--replay-timeout``.
   **Memory must be bounded**: the peak RSS may exceed the RSS at 10 % of the file by at most
   max(64 MB, 50 %); otherwise, or if RSS passes ``--rss-limit-mb`` (the run is stopped there), or the
   replay does not finish, the benchmark prints why and exits with status 1.
4. **Decode**: µs per frame of the in-process StreamDecoder on a plaintext Kamstrup list
   (``bench/bench_decode.py`` has the whole-process and start-up figures, and before/after ratios).

Usage: ``python bench/bench_app.py [--quick] [--json] [--only first,idle,replay,decode]``.
``--quick``: 3 first-paint runs, one 15 s idle run, 100,000 frames.
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import select
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TREE = ROOT
"""The source tree whose ``meterui`` the children run (``--tree``/``--ref``; default this checkout)."""
DEMO_KEY_HEX = bytes(range(16)).hex()
"""The demo capture's Austrian meter key (meterui.launch.DEMO_KEY)."""

COLS, ROWS = 120, 40
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
READING_MARKER = b"Voltage L1"
"""A reading's name: on screen only once the live table has rows."""
HELP_OPEN_MARKER = b"this help"
HELP_CLOSED_MARKER = b"verdict"
"""The inspector's last column header (a replay opens on the inspector), redrawn when the help screen goes.
The help text must not contain it: the marker used to be ``Inspect``, which the help's own "Inspector"
section heading matched, so a close was timed by the rest of the help's paint (5-15 ms, not the close)."""


# -- pseudo-terminal helpers ---------------------------------------------------------------------


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "TEXTUAL")}
    env.update(TERM="xterm-256color", COLUMNS=str(COLS), LINES=str(ROWS))
    return env


def _spawn(argv: list[str]) -> tuple[int, int]:
    import fcntl
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # child
        try:
            os.chdir(TREE)  # python -m meterui imports the package from the working directory
            os.execvpe(argv[0], argv, child_env())
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    return pid, fd


def _kill(pid: int, fd: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
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


def _wait_for(fd: int, marker: bytes, timeout: float) -> float | None:
    """Seconds until ``marker`` appears in the terminal output (None on timeout)."""
    start = time.perf_counter()
    seen = b""
    while time.perf_counter() - start < timeout:
        seen = seen[-len(marker) :] + _drain(fd, 0.005)
        if marker in seen:
            return time.perf_counter() - start
    return None


def _ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _file_position(pid: int, path: Path) -> int | None:
    """Where the process is in ``path`` (its read offset), or None if it has not the file open."""
    target = str(path.resolve())
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except FileNotFoundError:
        return None
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                for line in Path(f"/proc/{pid}/fdinfo/{fd}").read_text().splitlines():
                    if line.startswith("pos:"):
                        return int(line.split()[1])
        except OSError:
            continue
    return None


# -- 1. first readings -----------------------------------------------------------------------------


def first_marks(argv: list[str], markers: list[bytes], timeout: float = 60.0) -> list[float]:
    """Seconds from exec to each marker text appearing on the terminal."""
    start = time.perf_counter()
    pid, fd = _spawn(argv)
    found: dict[bytes, float] = {}
    seen = b""
    keep = max(len(m) for m in markers)
    try:
        while time.perf_counter() - start < timeout and len(found) < len(markers):
            seen = seen[-keep:] + _drain(fd, 0.005)
            for m in markers:
                if m not in found and m in seen:
                    found[m] = time.perf_counter() - start
        missing = [m for m in markers if m not in found]
        if missing:
            raise SystemExit(f"bench_app: {missing} never appeared within {timeout:.0f} s ({' '.join(argv)})")
        return [found[m] for m in markers]
    finally:
        _kill(pid, fd)


def bench_first(runs: int, tmp: Path) -> dict[str, Any]:
    trivial = tmp / "trivial.py"
    trivial.write_text(TRIVIAL_APP)
    exe = sys.executable
    first_marks([exe, str(trivial)], [b"hello from a trivial"])  # warm-up: bytecode caches, disk cache
    first_marks([exe, "-m", "meterui", "demo"], [b"Quit", READING_MARKER])
    trivial_paint, demo_paint, demo_readings = [], [], []
    for _ in range(runs):  # interleaved, so both see the same machine state
        trivial_paint += first_marks([exe, str(trivial)], [b"hello from a trivial"])
        paint, readings = first_marks([exe, "-m", "meterui", "demo"], [b"Quit", READING_MARKER])
        demo_paint.append(paint)
        demo_readings.append(readings)
    t, p, r = (statistics.median(x) for x in (trivial_paint, demo_paint, demo_readings))
    return {
        "trivial_first_paint_s": round(t, 3),
        "demo_first_paint_s": round(p, 3),
        "demo_first_readings_s": round(r, 3),
        "first_readings_ratio": round(r / t, 2),
        "first_paint_ratio": round(p / t, 2),
        "runs": runs,
    }


# -- 2. idle CPU -----------------------------------------------------------------------------------


def idle_cpu(seconds: float, warmup: float = 5.0) -> float:
    """CPU % of one core used by ``meterui demo`` over ``seconds`` after ``warmup``."""
    pid, fd = _spawn([sys.executable, "-m", "meterui", "demo"])
    tick = os.sysconf("SC_CLK_TCK")
    try:
        end = time.monotonic() + warmup
        while time.monotonic() < end:
            _drain(fd, 0.2)
        t0, c0 = time.monotonic(), _ticks(pid)
        end = t0 + seconds
        while time.monotonic() < end:
            _drain(fd, 0.2)  # keep the terminal drained, as a real terminal would
        t1, c1 = time.monotonic(), _ticks(pid)
        return 100.0 * (c1 - c0) / tick / (t1 - t0)
    finally:
        _kill(pid, fd)


# -- 3. replay: RSS over time and key latency ------------------------------------------------------


def make_capture(path: Path, frames: int) -> int:
    """Hex file of ``frames`` frames (one per line) cycled from the demo generator's frames."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_demo", ROOT / "scripts" / "make_demo.py")
    assert spec is not None and spec.loader is not None
    make_demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_demo)
    lines = [data.hex() + "\n" for _, data in make_demo.build()]
    with path.open("w") as f:
        f.write("# bench capture: scripts/make_demo.py frames, cycled\n")
        full, rest = divmod(frames, len(lines))
        block = "".join(lines)
        for _ in range(full):
            f.write(block)
        f.write("".join(lines[:rest]))
    return path.stat().st_size


def bench_replay(path: Path, size: int, args: argparse.Namespace) -> dict[str, Any]:
    pid, fd = _spawn([sys.executable, "-m", "meterui", "replay", str(path), "--speed", "max", "--key", DEMO_KEY_HEX])
    tick = os.sysconf("SC_CLK_TCK")
    start = time.monotonic()
    samples: list[tuple[float, float, float]] = []  # (seconds, read fraction, RSS MB)
    latencies: list[float] = []
    timeouts = 0
    status = "finished"
    next_key = start + 3.0
    idle_since: tuple[float, int] | None = None
    read = 0.0
    try:
        while True:
            now = time.monotonic()
            try:
                rss, pos = _rss_mb(pid), _file_position(pid, path)
            except (FileNotFoundError, ProcessLookupError):
                status = "the app exited during the replay"
                break
            if pos is not None:
                read = pos / size
            elif read > 0:  # opened before and closed since: read to the end
                read = 1.0
            samples.append((now - start, min(read, 1.0), rss))
            if rss > args.rss_limit_mb:
                status = f"RSS passed --rss-limit-mb {args.rss_limit_mb} MB: stopped"
                break
            if now - start > args.replay_timeout:
                status = f"not finished after --replay-timeout {args.replay_timeout:.0f} s"
                break
            if read >= 1.0:  # whole file read: finished once the app is idle again
                ticks = _ticks(pid)
                if idle_since is None or now - idle_since[0] >= 2.0:
                    if idle_since is not None and (ticks - idle_since[1]) / tick / (now - idle_since[0]) < 0.2:
                        break
                    idle_since = (now, ticks)
            if now >= next_key:
                for key, marker in ((b"?", HELP_OPEN_MARKER), (b"?", HELP_CLOSED_MARKER)):
                    os.write(fd, key)
                    waited = _wait_for(fd, marker, args.key_timeout)
                    if waited is None:
                        timeouts += 1
                        latencies.append(args.key_timeout)
                    else:
                        latencies.append(waited)
                next_key = time.monotonic() + args.key_every
            _drain(fd, args.sample)
    finally:
        _kill(pid, fd)
    # bounded? compare the peak with the RSS when a tenth of the file had been read
    # (the median of the samples between 10 and 20 % read: a sample taken while the app probes the file at
    # start can show a far offset before the replay has begun, and read as "10 %" with start-up RSS)
    tenth = [rss for _, read, rss in samples if 0.1 <= read < 0.2]
    early = statistics.median(tenth) if tenth else samples[-1][2] if samples else float("nan")
    peak = max((rss for *_, rss in samples), default=float("nan"))
    allowed = early + max(64.0, 0.5 * early)
    problems = []
    if status != "finished":
        problems.append(status)
    if not peak <= allowed:
        problems.append(
            f"memory not bounded: peak RSS {peak:.0f} MB > {allowed:.0f} MB allowed "
            f"(RSS at 10-20 % of the file {early:.0f} MB + max(64 MB, 50 %))"
        )
    # ...and flat: a slow, steady leak stays under that ceiling for a million frames, so the second half of
    # the file must not add more than max(16 MB, 10 %) to the RSS at its middle
    middle = [rss for _, read, rss in samples if 0.45 <= read < 0.55]
    mid = statistics.median(middle) if middle else float("nan")
    late = max((rss for _, read, rss in samples if read >= 0.5), default=float("nan"))
    if middle and not late <= mid + max(16.0, 0.1 * mid):
        problems.append(
            f"memory still growing: the second half of the file took RSS from {mid:.0f} MB to {late:.0f} MB "
            "(allowed: + max(16 MB, 10 %))"
        )
    if timeouts:
        problems.append(f"{timeouts} key presses got no response within {args.key_timeout:.0f} s")
    lat = sorted(latencies)
    return {
        "frames": args.frames,
        "file_mb": round(size / 1e6),
        "status": status,
        "seconds": round(samples[-1][0], 1) if samples else 0.0,
        "rss_early_mb": round(early, 1),
        "rss_peak_mb": round(peak, 1),
        "rss_allowed_mb": round(allowed, 1),
        "rss_middle_mb": round(mid, 1),
        "rss_late_peak_mb": round(late, 1),
        "rss_over_time": _thin([(round(t, 1), round(r, 3), round(m, 1)) for t, r, m in samples], 40),
        "key_latency_ms": {
            "n": len(lat),
            "median": round(statistics.median(lat) * 1e3) if lat else None,
            "p90": round(lat[int(0.9 * (len(lat) - 1))] * 1e3) if lat else None,
            "max": round(lat[-1] * 1e3) if lat else None,
        },
        "problems": problems,
    }


def _thin(rows: list[Any], n: int) -> list[Any]:
    if len(rows) <= n:
        return rows
    step = (len(rows) - 1) / (n - 1)
    return [rows[round(i * step)] for i in range(n)]


# -- 4. decode -------------------------------------------------------------------------------------


def bench_decode_us(n: int) -> float:
    sys.path[:0] = [str(TREE), str(ROOT / "bench")]
    import bench_decode

    _name, frame, kw = bench_decode.cases()[0]
    best = min(bench_decode._run_case(frame, n, kw, False)[0] for _ in range(3))
    return round(best / n * 1e6, 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 first-paint runs, one 15 s idle run, 100k frames")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--only", default="first,idle,replay,decode", help="comma-separated parts to run")
    ap.add_argument("--runs", type=int, default=5, help="first-readings runs per app (median reported)")
    ap.add_argument("--idle-runs", type=int, default=3)
    ap.add_argument("--idle-seconds", type=float, default=60.0)
    ap.add_argument("--frames", type=int, default=1_000_000, help="frames in the replay file")
    ap.add_argument("--capture", type=Path, help="replay this file instead of generating one")
    ap.add_argument("--sample", type=float, default=0.5, help="seconds between RSS samples")
    ap.add_argument("--key-every", type=float, default=3.0, help="seconds between key-latency probes")
    ap.add_argument("--key-timeout", type=float, default=10.0)
    ap.add_argument("--rss-limit-mb", type=float, default=3072.0, help="stop the replay above this RSS")
    ap.add_argument("--replay-timeout", type=float, default=1800.0)
    ap.add_argument("--tree", type=Path, help="bench the meterui in this source tree (default: this checkout)")
    ap.add_argument("--ref", help="bench this git ref of the repository (unpacked with git archive), e.g. main")
    args = ap.parse_args()
    global TREE
    if args.quick:
        args.runs, args.idle_runs, args.idle_seconds, args.frames = 3, 1, 15.0, 100_000
    parts = set(args.only.split(","))
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="meterui-bench-") as tmpname:
        tmp = Path(tmpname)
        if args.ref:
            import subprocess

            TREE = tmp / "tree"
            TREE.mkdir()
            archive = subprocess.run(
                ["git", "-C", str(ROOT), "archive", args.ref], capture_output=True, check=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(TREE)], input=archive, check=True)
        elif args.tree:
            TREE = args.tree.resolve()
        result["tree"] = args.ref or str(TREE)
        if "first" in parts:
            result["first"] = bench_first(args.runs, tmp)
        if "idle" in parts:
            runs = [round(idle_cpu(args.idle_seconds), 2) for _ in range(args.idle_runs)]
            result["idle"] = {
                "cpu_percent": runs,
                "mean": round(statistics.mean(runs), 2),
                "seconds": args.idle_seconds,
            }
        if "replay" in parts:
            path = args.capture or tmp / "replay.hex"
            size = path.stat().st_size if args.capture else make_capture(path, args.frames)
            result["replay"] = bench_replay(path, size, args)
        if "decode" in parts:
            result["decode_us_per_frame"] = bench_decode_us(20_000 if not args.quick else 2_000)
    problems = result.get("replay", {}).get("problems", [])
    if args.json:
        print(json.dumps(result))
    else:
        report(result)
    for p in problems:
        print(f"bench_app: FAILED: {p}", file=sys.stderr)
    return 1 if problems else 0


def report(result: dict[str, Any]) -> None:
    print(f"meterui from {result['tree']}")
    if "first" in result:
        f = result["first"]
        print(
            f"first paint      trivial Textual app  {f['trivial_first_paint_s'] * 1e3:7.0f} ms  (median of {f['runs']})"
        )
        print(
            f"first paint      meterui demo         {f['demo_first_paint_s'] * 1e3:7.0f} ms  "
            f"ratio {f['first_paint_ratio']}"
        )
        print(
            f"first readings   meterui demo         {f['demo_first_readings_s'] * 1e3:7.0f} ms  "
            f"ratio {f['first_readings_ratio']} to the trivial app's first paint   target ≤ 1.5"
        )
    if "idle" in result:
        i = result["idle"]
        print(
            f"idle CPU         meterui demo         {i['mean']:7.2f} %   runs {i['cpu_percent']} of "
            f"{i['seconds']:.0f} s at real cadence   target < 1 %"
        )
    if "replay" in result:
        r = result["replay"]
        lat = r["key_latency_ms"]
        print(f"replay --speed max  {r['frames']} frames ({r['file_mb']} MB hex): {r['status']} in {r['seconds']} s")
        print(
            f"  RSS  at 10-20 % of the file {r['rss_early_mb']} MB, peak {r['rss_peak_mb']} MB "
            f"(allowed {r['rss_allowed_mb']} MB); at the middle {r['rss_middle_mb']} MB, "
            f"peak after it {r['rss_late_peak_mb']} MB"
        )
        print(
            "  RSS over time (s, share of file read, MB): "
            + "  ".join(f"{t:.0f}s/{x:.0%}/{m:.0f}" for t, x, m in r["rss_over_time"])
        )
        print(
            f"  key latency (? opens / closes help): median {lat['median']} ms, p90 {lat['p90']} ms, "
            f"max {lat['max']} ms over {lat['n']} presses"
        )
    if "decode_us_per_frame" in result:
        print(
            f"decode           plaintext Kamstrup    {result['decode_us_per_frame']:7.1f} µs/frame (in-process, "
            "CPU time; bench_decode.py for whole-process and before/after)"
        )


if __name__ == "__main__":
    raise SystemExit(main())
