"""B-route in the pipeline and ``meterui monitor``: a real pty with the virtual Wi-SUN module behind it.

The module (``meterui.simulate.broute``) runs in-process on a pseudo-terminal with a small time scale;
``monitor --json`` runs as a subprocess. Waiting is a condition with a timeout, never a sleep.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from meterui.broute.run import ScanSaver, broute_pipeline
from meterui.broute.session import BrouteSession, Timing
from meterui.config import Config, load_config, save_config
from meterui.pipeline import Pipeline, PipelineStats
from meterui.protocol.message import Message
from meterui.simulate.broute import DEFAULT_ID, DEFAULT_PASSWORD, PtyModule, VirtualModule
from meterui.sinks.base import PipelineEvent
from meterui.sources.recording import read_sent
from meterui.sources.replay import ReplaySource

ROOT = Path(__file__).resolve().parents[1]
SCALE = 0.02
FAST = replace(Timing().scaled(SCALE), command_timeout=1.0, request_timeout=1.5, join_timeout=4.0, reauth_timeout=4.0)
SECRETS = (DEFAULT_ID, DEFAULT_PASSWORD)


def _secret_forms() -> list[str]:
    """Each secret as text and in the hex forms a recording could hold it in."""
    forms: list[str] = []
    for secret in SECRETS:
        raw = secret.encode()
        forms += [secret, raw.hex().upper(), " ".join(f"{b:02X}" for b in raw)]
        forms.append(" ".join(raw[i : i + 2].hex().upper() for i in range(0, len(raw), 2)))
    return forms


class Collector:
    """A sink that counts readings and keeps events; ``wait`` polls a condition with a timeout."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.messages: list[Message] = []
        self.events: list[PipelineEvent] = []
        self.stats: PipelineStats | None = None

    def on_messages(self, messages: Sequence[Message], stats: PipelineStats) -> None:
        with self.cond:
            self.messages += messages
            self.stats = stats
            self.cond.notify_all()

    def on_event(self, event: PipelineEvent) -> None:
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def close(self) -> None:
        pass

    def count(self, rid: str) -> int:
        return sum(1 for m in self.messages for r in m.readings if r.id == rid)

    def wait(self, pred: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
        with self.cond:
            if not self.cond.wait_for(pred, timeout):
                texts = [e.text for e in self.events[-10:]]
                raise AssertionError(f"timed out waiting for {what}; last events: {texts}")


def _start(
    tmp_path: Path,
    dialect: str = "a1",
    hex_mode: bool = False,
    record: str | None = None,
    cfg: Config | None = None,
    config_file: Path | None = None,
) -> tuple[PtyModule, Pipeline, Collector, threading.Thread]:
    sim = PtyModule(VirtualModule(dialect, hex_mode=hex_mode, time_scale=SCALE), link=tmp_path / "wisun")
    cfg = cfg or Config(port=sim.device, baudrate=115200, parity="N")
    cfg.port = sim.device
    session = BrouteSession(DEFAULT_ID, DEFAULT_PASSWORD, timing=FAST)
    collector = Collector()
    pipeline = broute_pipeline(cfg, SECRETS, record, [collector], session=session, config_file=config_file)
    thread = threading.Thread(target=pipeline.run, daemon=True)
    thread.start()
    return sim, pipeline, collector, thread


def _stop(sim: PtyModule, pipeline: Pipeline, thread: threading.Thread) -> None:
    pipeline.stop()
    thread.join(timeout=10)
    sim.close()
    assert not thread.is_alive()


@pytest.mark.parametrize(("dialect", "hex_mode"), [("a1", False), ("a1", True), ("c2", False), ("c2", True)])
def test_pipeline_session_reads_power_in_both_dialects_and_data_modes(
    tmp_path: Path, dialect: str, hex_mode: bool
) -> None:
    sim, pipeline, col, thread = _start(tmp_path, dialect, hex_mode)
    try:
        col.wait(lambda: col.count("E7") >= 2 and col.count("E8.R") >= 1, "E7 and E8 readings")
        powers = [r.value for m in col.messages for r in m.readings if r.id == "E7"]
        assert all(isinstance(v, int) and -100_000 < v < 100_000 for v in powers)
        assert col.stats is not None and col.stats.session_state == "joined"
        assert any(e.kind == "session" and "joined" in e.text for e in col.events)
    finally:
        _stop(sim, pipeline, thread)


def test_module_restart_mid_run_recovers(tmp_path: Path) -> None:
    sim, pipeline, col, thread = _start(tmp_path, "c2")
    try:
        col.wait(lambda: col.count("E7") >= 2, "first readings")
        joins = sim.control(lambda m: m.log.count("SKJOIN"))
        sim.control(lambda m: m.restart())
        col.wait(lambda: sim.control(lambda m: m.log.count("SKJOIN")) != joins, "a second join")
        before = col.count("E7")
        col.wait(lambda: col.count("E7") >= before + 2, "readings after the restart")
    finally:
        _stop(sim, pipeline, thread)


def test_silent_module_gets_its_port_reopened_by_the_pipeline(tmp_path: Path) -> None:
    sim, pipeline, col, thread = _start(tmp_path)
    try:
        col.wait(lambda: col.count("E7") >= 1, "first readings")
        sim.control(lambda m: m.set_silent(True))
        col.wait(lambda: any("reopened" in e.text for e in col.events), "the port reopened", timeout=60)
        sim.control(lambda m: m.set_silent(False))
        before = col.count("E7")
        col.wait(lambda: col.count("E7") >= before + 2, "readings after the reopen", timeout=60)
        assert any(e.kind == "connected" and "reopened" in e.text for e in col.events)
    finally:
        _stop(sim, pipeline, thread)


def test_recording_holds_both_directions_without_secrets(tmp_path: Path) -> None:
    record = tmp_path / "broute.rec"
    sim, pipeline, col, thread = _start(tmp_path, record=str(record))
    try:
        col.wait(lambda: col.count("E7") >= 2, "readings")
    finally:
        _stop(sim, pipeline, thread)
    text = record.read_text()
    sent = b"".join(c.data for c in read_sent(record))
    assert b"SKSETPWD C ************\r\n" in sent and b"SKSENDTO" in sent
    assert b"SKSETRBID " + b"*" * 32 in sent
    for form in _secret_forms():
        assert form not in text
    source = ReplaySource(record)
    source.open()
    received = bytearray()
    while True:
        try:
            chunk = source.read(0)
        except EOFError:
            break
        if chunk is not None:
            received += chunk.data
    assert b"ERXUDP" in received and b"SKSETPWD" not in received  # replay reads only what was received


def test_new_scan_is_saved_into_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    save_config(Config(port="/dev/null", baudrate=115200, parity="N"), path)
    logged: list[str] = []
    cfg = Config(port=None, baudrate=115200, parity="N")
    sim = PtyModule(VirtualModule("a1", time_scale=SCALE), link=tmp_path / "wisun")
    cfg.port = sim.device
    session = BrouteSession(DEFAULT_ID, DEFAULT_PASSWORD, timing=FAST)
    col = Collector()
    pipeline = broute_pipeline(cfg, SECRETS, None, [col], session=session, config_file=path)
    saver = next(s for s in pipeline.sinks if isinstance(s, ScanSaver))
    saver.say = logged.append
    thread = threading.Thread(target=pipeline.run, daemon=True)
    thread.start()
    try:
        col.wait(lambda: col.count("E7") >= 1, "readings")
    finally:
        _stop(sim, pipeline, thread)
    saved = load_config(path)
    assert saved is not None and saved.broute_scan is not None
    assert saved.broute_scan == cfg.broute_scan == session.new_scan.to_config()  # type: ignore[union-attr]
    assert any("saved in" in line for line in logged)


def _read_lines(stream, count: int, timeout: float, pred: Callable[[str], bool]) -> list[str]:  # type: ignore[no-untyped-def]
    lines: list[str] = []
    buf = b""
    deadline = time.monotonic() + timeout
    fd = stream.fileno()
    while sum(1 for line in lines if pred(line)) < count and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk
            *done, buf = buf.split(b"\n")
            lines += [d.decode() for d in done]
    return lines


@pytest.mark.parametrize(("dialect", "hex_mode"), [("a1", False), ("c2", True)])
def test_monitor_json_with_broute_credentials_prints_power_readings(
    tmp_path: Path, dialect: str, hex_mode: bool
) -> None:
    """``meterui monitor --json --broute-id`` on the virtual module: E7 lines, no secret anywhere."""
    import json

    record = tmp_path / "monitor.rec"
    sim = PtyModule(VirtualModule(dialect, hex_mode=hex_mode, time_scale=SCALE), link=tmp_path / "wisun")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "METERUI_CONFIG": str(tmp_path / "none.toml"),
        "METERUI_BROUTE_PASSWORD": DEFAULT_PASSWORD,
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "meterui",
            "monitor",
            "--port",
            sim.device,
            "--broute-id",
            DEFAULT_ID,
            "--json",
            "--record",
            str(record),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        lines = _read_lines(proc.stdout, 2, 60, lambda line: '"id": "E7"' in line)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=15)
        sim.close()
    lines += out.decode().splitlines()
    e7 = [r for line in lines if line.strip() for r in json.loads(line)["readings"] if r["id"] == "E7"]
    assert len(e7) >= 2 and all(r["unit"] == "W" for r in e7)
    assert proc.returncode == 0
    errtext = err.decode()
    assert "115200 8N1" in errtext and "joined" in errtext
    assert "kept for this run only" in errtext  # no saved config in this XDG_CONFIG_HOME
    recorded = record.read_text()
    assert "# tx t=" in recorded
    for form in _secret_forms():
        assert form not in "\n".join(lines) and form not in errtext and form not in recorded


class EchoingModule(VirtualModule):
    """A module that refuses ``SKSREG SFE 0``: it echoes every command, the password's included."""

    def _c_sksreg(self, args: list[str]) -> None:
        if args and args[0].upper() == "SFE":
            self._say("FAIL ER04")
            return
        super()._c_sksreg(args)


def test_an_echoing_module_does_not_put_secrets_in_the_recording(tmp_path: Path) -> None:
    record = tmp_path / "echo.rec"
    sim = PtyModule(EchoingModule("a1", time_scale=SCALE), link=tmp_path / "wisun")
    col = Collector()
    session = BrouteSession(DEFAULT_ID, DEFAULT_PASSWORD, timing=FAST)
    pipeline = broute_pipeline(
        Config(port=sim.device, baudrate=115200, parity="N"), SECRETS, str(record), [col], session=session
    )
    thread = threading.Thread(target=pipeline.run, daemon=True)
    thread.start()
    try:
        col.wait(lambda: col.count("E7") >= 1, "readings")
    finally:
        _stop(sim, pipeline, thread)
    source = ReplaySource(record)
    source.open()
    received = bytearray()
    while True:
        try:
            chunk = source.read(0)
        except EOFError:
            break
        if chunk is not None:
            received += chunk.data
    assert b"SKSETPWD " in received and b"SKVER\r\n" in received  # the echo was recorded…
    text = record.read_text()
    for form in _secret_forms():  # …without the secrets
        assert form not in text


def test_received_secrets_are_masked_however_the_reads_are_split() -> None:
    data = (
        b"OK\r\nSKSETPWD C "
        + DEFAULT_PASSWORD.encode()
        + b"\r\nOK\r\nSKSETRBID "
        + DEFAULT_ID.encode()
        + b"\r\nOK\r\nPPP0"
    )
    for cut in range(len(data) + 1):
        session = BrouteSession(DEFAULT_ID, DEFAULT_PASSWORD)
        out = session.redact_received(data[:cut]) + session.redact_received(data[cut:])
        assert len(out) == len(data)
        assert DEFAULT_PASSWORD.encode() not in out and DEFAULT_ID.encode() not in out
        assert out.startswith(b"OK\r\nSKSETPWD ") and out.endswith(b"\r\nOK\r\nPPP0")  # nothing else changed


def test_a_saved_config_with_broute_credentials_gets_a_session(tmp_path: Path) -> None:
    """Plain ``meterui``: the wizard's ``[broute] id``/``password`` (``Config.broute_id``/``broute_password``)."""
    from meterui import launch
    from meterui.broute.run import config_credentials

    cfg = Config(port=str(tmp_path / "ttyX"), baudrate=115200, parity="N", broute_scan="2D 8888 00808700301224EF A0")
    assert config_credentials(cfg) is None
    assert launch._port_pipeline(cfg, None, config_credentials(cfg)).session is None
    setattr(cfg, "broute_id", DEFAULT_ID)  # noqa: B010 - the field comes with the wizard's config change
    setattr(cfg, "broute_password", DEFAULT_PASSWORD)  # noqa: B010
    creds = config_credentials(cfg)
    assert creds == (DEFAULT_ID, DEFAULT_PASSWORD)
    pipeline = launch._port_pipeline(cfg, None, creds, transcript=True)
    assert isinstance(pipeline.session, BrouteSession) and pipeline.transcript is not None
    assert pipeline.session.scan_result is not None and pipeline.session.scan_result.pan_id == 0x8888
