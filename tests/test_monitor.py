"""``meterui monitor --json``: headless, live JSON lines from a real pseudo-terminal."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

VECTORS = Path(__file__).resolve().parent / "data" / "vectors"
ROOT = Path(__file__).resolve().parents[1]


def _frames() -> list[bytes]:
    return [bytes.fromhex(v["frames_hex"][0]) for v in json.loads((VECTORS / "hdlc.json").read_text())]


def _read_lines(stream, count: int, timeout: float) -> list[str]:  # type: ignore[no-untyped-def]
    lines: list[str] = []
    buf = b""
    deadline = time.monotonic() + timeout
    fd = stream.fileno()
    while len(lines) < count and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk
            *done, buf = buf.split(b"\n")
            lines += [d.decode() for d in done]
    return lines


def test_monitor_json_prints_live_messages_from_a_pty() -> None:
    """Each message is printed while the monitor runs (not at exit), in order; SIGTERM ends it cleanly."""
    frames = _frames()
    master, slave = os.openpty()
    port = os.ttyname(slave)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "meterui", "monitor", "--port", port, "--baud", "2400", "--parity", "N", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        # the port is open once a frame comes back (pyserial flushes the input buffer on open): poll
        first: list[str] = []
        deadline = time.monotonic() + 30
        while not any(json.loads(line)["ok"] for line in first) and time.monotonic() < deadline:
            os.write(master, frames[0])
            first += _read_lines(proc.stdout, 1, timeout=0.5)
        for frame in frames[1:3]:
            os.write(master, frame)
        lines = first + _read_lines(proc.stdout, 2, timeout=15)
        while not (lines and '"value": 5424,' in lines[-1]) and time.monotonic() < deadline:  # a late repeat of frame 0
            lines += _read_lines(proc.stdout, 1, timeout=1)
        running_while_printing = proc.poll() is None
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        os.close(master)
        os.close(slave)
    objs = [o for o in map(json.loads, lines) if o["ok"]]  # frame 0 until the port was open, then 1 and 2
    assert {o["protocol"] for o in objs} == {"hdlc"}
    powers = [next(r["value"] for r in o["readings"] if r["quantity"] == "active_power_import") for o in objs]
    assert powers[-2:] == [3673, 5424] and set(powers[:-2]) == {2824}  # the three list-1 vectors, in order
    assert running_while_printing  # live: printed as the frames arrived, not when the monitor ended
    assert proc.returncode == 0 and b"Traceback" not in err, err.decode()


def test_monitor_json_on_a_missing_port_is_a_one_line_error() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "meterui", "monitor", "--port", "/dev/nonexistent-meter", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("meterui: error:") and "Traceback" not in proc.stderr
