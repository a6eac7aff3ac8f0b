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
    frames = _frames()
    master, slave = os.openpty()
    port = os.ttyname(slave)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "meterui", "monitor", "--port", port, "--baud", "2400", "--parity", "N",
         "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        time.sleep(1.0)  # let it open the port (pyserial flushes the input buffer on open)
        for frame in frames[:3]:
            os.write(master, frame)
            time.sleep(0.05)
        lines = _read_lines(proc.stdout, 3, timeout=15)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
        os.close(master)
        os.close(slave)
    objs = [json.loads(line) for line in lines]
    assert len(objs) == 3
    assert [o["ok"] for o in objs] == [True, True, True]
    assert {o["protocol"] for o in objs} == {"hdlc"}
    powers = [next(r["value"] for r in o["readings"] if r["quantity"] == "active_power_import") for o in objs]
    assert powers == [2824, 3673, 5424]  # the three list-1 vectors, in order
    assert proc.returncode is not None


def test_monitor_json_on_a_missing_port_is_a_one_line_error() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "meterui", "monitor", "--port", "/dev/nonexistent-meter",
                           "--json"], capture_output=True, text=True, env=env, timeout=30)
    assert proc.returncode == 2
    assert proc.stdout == ""
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("meterui: error:") and "Traceback" not in proc.stderr
