"""``meterui monitor|replay --headless --mqtt URL`` as real subprocesses against a real broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.broker import Broker
from tests.conftest import kamstrup_body, plain_hdlc
from tests.mqttutil import Subscriber

ROOT = Path(__file__).resolve().parents[1]
KAMSTRUP_ID = "5706567000000000"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    b = Broker(tmp_path_factory.mktemp("broker"))
    b.start()
    yield b
    b.stop()


def _capture(tmp_path: Path, count: int) -> Path:
    """A hex capture of ``count`` Kamstrup list frames, made with the project's encoders."""
    path = tmp_path / "capture.hex"
    path.write_text("".join(plain_hdlc(kamstrup_body(current_raw=1000 + i)).hex() + "\n" for i in range(count)))
    return path


def _meterui(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meterui", *args], capture_output=True, text=True, env=ENV, timeout=120, **kw
    )  # type: ignore[call-overload]


def test_headless_replay_publishes_every_message_and_prints_nothing(broker: Broker, tmp_path: Path) -> None:
    sub = Subscriber(broker.port, ["svc_replay/#"])
    try:
        proc = _meterui("replay", str(_capture(tmp_path, 5)), "--headless", "--mqtt", broker.url(base="svc_replay"))
        states = sub.wait_for(lambda ms: sum(m.topic.endswith("/state") for m in ms) >= 5)
    finally:
        sub.close()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    currents = [m.json()["readings"]["current_l1"] for m in states if m.topic == f"svc_replay/{KAMSTRUP_ID}/state"]
    assert currents == [10.0, 10.01, 10.02, 10.03, 10.04]
    err = proc.stderr.splitlines()
    assert all(line.startswith("meterui: ") for line in err), err
    assert any("MQTT: connected to mqtt://127.0.0.1" in line for line in err)
    assert err[-1] == "meterui: MQTT connected, 5 published"
    assert "Traceback" not in proc.stderr


def test_bad_mqtt_url_is_a_one_line_error_without_the_password(tmp_path: Path) -> None:
    proc = _meterui("replay", str(_capture(tmp_path, 1)), "--headless", "--mqtt", "mqtt://me:s3cret@host:99999")
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("meterui: error: --mqtt:"), lines
    assert "s3cret" not in proc.stderr
    proc = _meterui("replay", str(_capture(tmp_path, 1)), "--headless", "--mqtt", "mqtt://h", "--mqtt-interval", "x")
    assert proc.returncode == 2 and "--mqtt-interval" in proc.stderr


def test_mqtt_from_the_app_checks_the_url_before_the_app_starts(tmp_path: Path) -> None:
    """``--mqtt`` without ``--headless`` runs the app and publishes (tests/test_mqtt_app.py); a bad URL is
    still a one-line error, exit 2, before any screen is drawn."""
    proc = _meterui("replay", str(_capture(tmp_path, 1)), "--mqtt", "mqtt://me:s3cret@host:99999")
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("meterui: error: --mqtt:"), lines
    assert "s3cret" not in proc.stderr


def test_last_will_when_the_service_is_killed(broker: Broker) -> None:
    """A real ``monitor --headless --mqtt`` on a pseudo-terminal, killed with SIGKILL: the broker says offline."""
    master, slave = os.openpty()
    port = os.ttyname(slave)
    sub = Subscriber(broker.port, ["svc_will/#"])
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "meterui",
            "monitor",
            "--port",
            port,
            "--parity",
            "N",
            "--headless",
            "--mqtt",
            broker.url(base="svc_will"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
    )
    frame = plain_hdlc(kamstrup_body())
    try:
        deadline = time.monotonic() + 60
        # pyserial drops what was written before it opened the port: keep sending until a state arrives
        while time.monotonic() < deadline and not sub.on(f"svc_will/{KAMSTRUP_ID}/state"):
            os.write(master, frame)
            sub.wait_for(lambda ms: any(m.topic.endswith("/state") for m in ms), timeout=0.5)
        assert sub.on(f"svc_will/{KAMSTRUP_ID}/state"), "no state published"
        assert [m.payload for m in sub.on("svc_will/status")][-1] == b"online"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        sub.wait_for(lambda ms: any(m.topic == "svc_will/status" and m.payload == b"offline" for m in ms))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        sub.close()
        os.close(master)
        os.close(slave)
    assert [m.payload for m in sub.on("svc_will/status")][-1] == b"offline"
    late = Subscriber(broker.port, ["svc_will/status"])
    statuses = late.wait_for(lambda ms: len(ms) >= 1)
    late.close()
    # held by the broker for the next subscriber (amqtt 0.12 may hand it over twice)
    assert statuses and all(m.retain and m.payload == b"offline" for m in statuses)
    assert proc.stdout is not None and proc.stdout.read() == b""
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    assert f"meterui: {port} 2400 8N1: connected" in err.splitlines()
    assert "MQTT: connected to mqtt://127.0.0.1" in err
    assert proc.returncode == -signal.SIGKILL


def test_sigterm_stops_the_service_cleanly(broker: Broker, tmp_path: Path) -> None:
    capture = _capture(tmp_path, 2)
    sub = Subscriber(broker.port, ["svc_term/status"])
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "meterui",
            "replay",
            str(capture),
            "--speed",
            "0.001",
            "--headless",
            "--mqtt",
            broker.url(base="svc_term"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
    )
    try:
        sub.wait_for(lambda ms: any(m.payload == b"online" for m in ms), timeout=60)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        sub.wait_for(lambda ms: any(m.payload == b"offline" for m in ms))
    finally:
        if proc.poll() is None:
            proc.kill()
        sub.close()
    assert proc.returncode == 0, err
    assert out == b""
    assert [m.payload for m in sub.messages][-1] == b"offline"


def test_service_log_says_each_change_once() -> None:
    import io

    from meterui.export.cli import ServiceLog
    from meterui.pipeline import PipelineStats

    out = io.StringIO()
    log = ServiceLog(out)
    stats = PipelineStats(source="/dev/ttyUSB0 2400 8E1", connected=True)
    log.stats(stats)
    log.stats(stats)
    stats.decrypt_failures = 1
    log.stats(stats)
    stats.decrypt_failures = 5
    log.stats(stats)
    stats.connected, stats.last_error = False, "cannot open /dev/ttyUSB0: no such device"
    log.stats(stats)
    log.stats(stats)
    assert out.getvalue().splitlines() == [
        "meterui: /dev/ttyUSB0 2400 8E1: connected",
        "meterui: 1 message(s) failed to decrypt or authenticate: check the key(s)",
        "meterui: /dev/ttyUSB0 2400 8E1: disconnected",
        "meterui: cannot open /dev/ttyUSB0: no such device",
    ]
