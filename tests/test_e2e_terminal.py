"""End to end in a real terminal: the app as a separate process in a pseudo-terminal, driven by keys.

It must survive a tour of every screen, show a dead line as disconnected, and exit with status 0 on
``q`` without a traceback.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "tests" / "data" / "vectors"
_ANSI = re.compile(rb"\x1b\[[0-9;?]*[a-zA-Z]")


class Terminal:
    def __init__(self, args: list[str], cols: int = 80, rows: int = 24) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the app
            os.environ.update(TERM="xterm-256color", PYTHONPATH=str(ROOT))
            os.execv(sys.executable, [sys.executable, "-m", "meterui", *args])
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.out = b""

    def read(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                return
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.out += chunk

    def keys(self, *keys: bytes, wait: float = 0.3) -> None:
        for key in keys:
            os.write(self.fd, key)
            self.read(wait)

    @property
    def text(self) -> str:
        return _ANSI.sub(b"", self.out).decode("utf-8", "replace")

    def quit(self) -> int:
        os.write(self.fd, b"q")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            self.read(0.2)
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        os.close(self.fd)
        raise AssertionError("the app did not quit on q")


def test_demo_survives_a_tour_of_every_screen_at_80x24() -> None:
    term = Terminal(["demo"])
    term.read(3.0)
    assert "replaying" in term.text and "Quit" in term.text
    term.keys(
        b"i",
        b"n",
        b"p",
        b"g",
        b"5\r",
        b"f",
        b"f",
        b"f",
        b"/",
        b"1.0.1.7.0.255\r",
        b"N",
        b"\t",
        b"\x1b[B",
        b"\t",
        b"\x1b[C",
        b"l",
        b"\r",
        b"l",
        b"c",
        b"c",
        b"?",
        b"\x1b",
        b" ",
        b"n",
        b" ",
        b"+",
        b"-",
        b"s",
        b"\x1b",
        b"G",
        b"l",
    )
    assert "decode tree" in term.text  # the inspector was shown
    code = term.quit()
    assert code == 0 and "Traceback" not in term.text


def test_monitor_shows_noise_then_data_then_an_unplugged_line() -> None:
    master, slave = os.openpty()
    term = Terminal(["monitor", "--port", os.ttyname(slave), "--parity", "N"], 120, 40)
    term.read(3.0)
    os.write(master, os.urandom(600))  # the wrong baud rate looks like this
    term.read(2.5)
    for vector in json.loads((VECTORS / "hdlc.json").read_text())[:3]:
        os.write(master, bytes.fromhex(vector["frames_hex"][0]))
        term.read(0.3)
    term.read(1.5)
    assert "skipped" in term.text and "Active power import" in term.text
    os.close(master)
    os.close(slave)  # the cable is pulled
    term.read(4.0)
    assert "disconnected" in term.text
    code = term.quit()
    assert code == 0 and "Traceback" not in term.text
