"""The virtual Wi-SUN module: its SKSTACK-IP dialects (sans-IO), and ``meterui simulate broute`` on a pty."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from meterui.broute import commands as C
from meterui.broute.session import BrouteSession
from meterui.protocol.skstack import SkstackDecoder
from meterui.simulate.broute import (
    DEFAULT_ID,
    DEFAULT_PASSWORD,
    METER_CHANNEL,
    METER_MAC,
    METER_PAN,
    PtyModule,
    VirtualModule,
)
from tests.brouteutil import Driver
from tests.test_broute_session import FAST


def _talk(module: VirtualModule, data: bytes, until: float = 60.0) -> list[str]:
    """Feed ``data`` at t=0 and return the module's lines up to ``until`` seconds (virtual clock)."""
    module.feed(data, 0.0)
    out = module.due(until)
    return [line for line in out.decode("ascii", "replace").split("\r\n") if line]


def test_a1_dialect_lines() -> None:
    m = VirtualModule("a1", now=0.0)
    assert _talk(m, b"SKVER\r\n") == ["SKVER", "EVER 1.2.10", "OK"]  # echo-back on by default
    assert _talk(m, b"SKSREG SFE 0\r\n") == ["SKSREG SFE 0", "OK"]
    assert _talk(m, b"SKVER\r\n") == ["EVER 1.2.10", "OK"]
    assert _talk(m, b"SKINFO\r\n")[0].endswith(" FFFE")
    assert _talk(m, b"ROPT\r") == ["OK 00"]
    assert _talk(m, b"SKSCAN 2 FFFFFFFF 6 0\r\n") == ["FAIL ER05"]  # no SIDE argument on a BP35A1
    assert _talk(m, b"SKSREG SA2 1\r\n") == ["FAIL ER04"]
    assert _talk(m, b"HELLO\r\n") == ["FAIL ER04"]
    assert _talk(m, b"SKSENDTO 1 FE80:0000:0000:0000:0280:8700:3012:24EF 0E1A 1 0001 \x10") == ["FAIL ER10"]
    scan = _talk(m, b"SKSCAN 2 FFFFFFFF 6\r\n")
    assert scan[0] == "OK" and scan[1].startswith("EVENT 20 ") and "  Addr:" + METER_MAC in scan
    assert scan[-1].startswith("EVENT 22 ") and "  Side:0" not in scan


def test_c2_dialect_lines_and_wopt() -> None:
    m = VirtualModule("c2", now=0.0)
    _talk(m, b"SKSREG SFE 0\r\n")
    assert _talk(m, b"SKINFO\r\n")[0].endswith(" 0000")
    assert _talk(m, b"SKSCAN 2 FFFFFFFF 6\r\n") == ["FAIL ER05"]
    scan = _talk(m, b"SKSCAN 2 FFFFFFFF 6 0\r\n")
    assert "  Side:0" in scan and scan[1].split()[-1] == "0"  # EVENT 20 <addr> <side>
    assert _talk(m, b"WOPT 01\r") == ["OK"] and m.wopt_writes == 1
    assert _talk(m, b"ROPT\r") == ["OK 01"]
    m.restart()
    assert _talk(m, b"ROPT\r\n") == ["ROPT", "OK 01"]  # flash survives a restart, the echo setting does not


def test_scan_takes_realistic_time_and_short_scans_find_nothing() -> None:
    m = VirtualModule("a1", now=0.0, min_scan_duration=6)
    m.feed(b"SKSREG SFE 0\r\nSKSCAN 2 FFFFFFFF 6\r\n", 0.0)
    assert b"EVENT 22" not in m.due(C.scan_seconds(6) - 0.01)
    assert b"EVENT 22" in m.due(C.scan_seconds(6) + 0.01)
    m.feed(b"SKSCAN 2 FFFFFFFF 5\r\n", 100.0)
    assert b"EPANDESC" not in m.due(200.0)


def test_join_and_erxudp_decode_in_both_modes() -> None:
    for dialect in ("a1", "c2"):
        for hex_mode in (False, True):
            m = VirtualModule(dialect, hex_mode=hex_mode, now=0.0)
            pan = (METER_CHANNEL, METER_PAN)
            script = (
                C.sksreg("SFE", "0")
                + C.sksreg("SA2", "1")
                + C.sksetpwd(DEFAULT_PASSWORD)
                + C.sksetrbid(DEFAULT_ID)
                + C.sksreg("S2", f"{pan[0]:02X}")
                + C.sksreg("S3", f"{pan[1]:04X}")
                + C.skjoin(m.meter_ip)
            )
            lines = _talk(m, script, until=200.0)
            assert any(line.startswith("EVENT 25") for line in lines), lines
            m.feed(C.sksendto(m.meter_ip, C.get_request(0x0D0A, [0xE7, 0xE8]), side=dialect == "c2"), 300.0)
            dec = SkstackDecoder(strict=True)
            msgs = dec.feed(m.due(400.0))
            answers = [msg for msg in msgs if msg.readings and msg.readings[0].id == "E7"]
            assert len(answers) == 1 and answers[0].ok
            assert {r.id for r in answers[0].readings} == {"E7", "E8.R", "E8.T"}


def test_wrong_credentials_fail_the_join() -> None:
    m = VirtualModule("a1", now=0.0)
    script = (
        C.sksreg("SFE", "0")
        + C.sksetpwd("WRONGPASS123")
        + C.sksetrbid(DEFAULT_ID)
        + C.sksreg("S2", "2D")
        + C.sksreg("S3", "8888")
        + C.skjoin(m.meter_ip)
    )
    lines = _talk(m, script, until=100.0)
    assert any(line.startswith("EVENT 24") for line in lines) and not any(line.startswith("EVENT 25") for line in lines)


def test_pty_link_is_stable_and_removed(tmp_path: Path) -> None:
    link = tmp_path / "wisun"
    with PtyModule(VirtualModule("a1", time_scale=0.02), link=link) as sim:
        assert link.is_symlink() and os.path.realpath(link) == sim.path
    assert not link.exists()


def test_cli_simulate_runs_a_module_a_session_can_use(tmp_path: Path) -> None:
    link = tmp_path / "wisun"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "meterui",
            "simulate",
            "broute",
            "--link",
            str(link),
            "--dialect",
            "c2",
            "--data-mode",
            "hex",
            "--time-scale",
            "0.02",
            "--send-fail-rate",
            "0",
            "--expire-every",
            "0",
            "--tx-limit-every",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as in a terminal, even when the suite runs as a background job (`make test &`): a shell starts
        # those with SIGINT ignored, and a child inherits that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()  # printed once the link exists
        assert "BP35C2" in banner and str(link) in banner and DEFAULT_PASSWORD not in banner
        assert link.is_symlink()

        class _External:
            device = str(link)

        drv = Driver(BrouteSession(DEFAULT_ID, DEFAULT_PASSWORD, timing=FAST), _External())  # type: ignore[arg-type]
        try:
            drv.run_until(lambda: len(drv.readings("E7")) >= 2, what="2 E7 readings through the CLI's module")
            assert drv.session.hex_mode is True and drv.session.single_stack is False
        finally:
            drv.close()
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert not link.exists()


def test_cli_simulate_bad_arguments(tmp_path: Path) -> None:
    for args, needle in (
        (["--time-scale", "0"], "--time-scale"),
        (["--password", "tooshort"], "password"),
        (["--id", "X" * 31], "ID"),
    ):
        res = subprocess.run(
            [sys.executable, "-m", "meterui", "simulate", "broute", "--link", str(tmp_path / "l"), *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert res.returncode == 2 and needle in res.stderr and len(res.stderr.strip().splitlines()) == 1
        assert "tooshort" not in res.stderr and "X" * 31 not in res.stderr
    res = subprocess.run(
        [sys.executable, "-m", "meterui", "monitor", "--port", "/dev/null", "--broute-id", "A" * 32],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "METERUI_BROUTE_PASSWORD": "x"},
    )
    assert res.returncode == 2 and "password must be 12" in res.stderr and "A" * 32 not in res.stderr


def test_a_module_nobody_reads_closes_at_once_with_its_output_buffer_full() -> None:
    # a session that closed the port leaves the module talking to nobody: it used to block on a full pty
    # buffer, and close() waited for its thread (`meterui simulate` then ignored Ctrl-C for seconds)
    import time

    sim = PtyModule(VirtualModule("a1", time_scale=0.02))
    fd = os.open(sim.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:  # SKVERs, each answered, until the answers fill the pty
            try:
                os.write(fd, b"SKVER\r\n" * 64)
            except BlockingIOError:
                time.sleep(0.01)
        time.sleep(0.3)
        assert sim._thread.is_alive()
        started = time.monotonic()
        sim.close()
        assert time.monotonic() - started < 1.0
        assert not sim._thread.is_alive()
    finally:
        os.close(fd)
