"""The wizard's [mqtt] section takes effect at once (issue #11): start, restart and stop publishing.

The real app reads a real pseudo-terminal (``os.openpty``) that a thread keeps feeding with Kamstrup
frames; the wizard's result path (``MeterApp._setup_done``, what the wizard's Save calls) gets configs
with and without ``mqtt_url``; a real broker (``tests/broker.py``) and a real subscriber check what
arrives, and the health strip what it shows.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from meterui.app import MeterApp
from meterui.config import Config
from meterui.pipeline import Pipeline
from meterui.sources.serial_port import SerialSource
from meterui.widgets.linehealth import LineHealth
from tests.apputil import QuietApp, run_async
from tests.broker import Broker
from tests.conftest import kamstrup_body, plain_hdlc
from tests.mqttutil import Received, Subscriber

KAMSTRUP_ID = "5706567000000000"
FRAME = plain_hdlc(kamstrup_body(current_raw=1234))


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    b = Broker(tmp_path_factory.mktemp("broker"))
    b.start()
    yield b
    b.stop()


@pytest.fixture
def port() -> Iterator[str]:
    """A pseudo-terminal fed with one Kamstrup frame every 0.1 s; yields the port's name."""
    master, slave = os.openpty()
    stop = threading.Event()

    def feed() -> None:
        while not stop.wait(0.1):
            try:
                os.write(master, FRAME)
            except OSError:
                return

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    try:
        yield os.ttyname(slave)
    finally:
        stop.set()
        thread.join(5)
        os.close(master)
        os.close(slave)


def _app(config: Config, tmp_path: Path) -> MeterApp:
    def factory(cfg: Config | None) -> Pipeline | None:
        if cfg is None or cfg.port is None:
            return None
        return Pipeline(SerialSource(cfg.port, 2400, "N", 8, 1))

    return QuietApp(factory, config, save_path=tmp_path / "config.toml")


def _strip(app: MeterApp) -> str:
    return str(app.screen.query_one(LineHealth).render())


def _notes(app: MeterApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def _wait(pilot: object, condition: object, timeout: float = 30.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():  # type: ignore[operator]
            return
        await pilot.pause(0.02)  # type: ignore[attr-defined]
    raise AssertionError("condition not reached")


def _statuses(messages: list[Received], base: str) -> list[str]:
    return [m.payload.decode() for m in messages if m.topic == f"{base}/status"]


@run_async
async def test_wizard_starts_restarts_and_stops_publishing(broker: Broker, port: str, tmp_path: Path) -> None:
    base = "wiz_pub"
    sub = Subscriber(broker.port, [f"{base}/#"])
    plain = Config(port=port, parity="N")
    app = _app(plain, tmp_path)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await _wait(pilot, lambda: app.model.messages >= 2)  # reading, not publishing
            assert app.exporter is None and "MQTT" not in _strip(app)

            # the wizard saves an [mqtt] section: publishing starts without a restart
            app._setup_done(replace(plain, mqtt_url=broker.url(base=base)))
            await _wait(pilot, lambda: app.exporter is not None and app.exporter.status().published >= 3)
            first = app.exporter
            await _wait(pilot, lambda: "published" in _strip(app) and "MQTT ●" in _strip(app))
            states = await asyncio.to_thread(
                sub.wait_for, lambda ms: sum(m.topic == f"{base}/{KAMSTRUP_ID}/state" for m in ms) >= 3
            )
            state = next(m for m in states if m.topic == f"{base}/{KAMSTRUP_ID}/state").json()
            assert state["readings"]["current_l1"] == 12.34
            assert (tmp_path / "config.toml").read_text().count(f"/{base}") == 1  # and the config was saved

            # same broker and base topic, another QoS: a new exporter, and the old one sends no "offline"
            app._setup_done(replace(plain, mqtt_url=broker.url(base=base), mqtt_qos=1))
            await _wait(
                pilot, lambda: app.exporter is not first and first is not None and first.status().state == "closed"
            )
            second = app.exporter
            assert second is not None and second.settings.qos == 1
            await _wait(pilot, lambda: second.status().published >= 2)
            await asyncio.to_thread(sub.wait_for, lambda ms: _statuses(ms, base) == ["online", "online"])

            # the wizard removes the URL: publishing stops, "offline" goes out, the strip drops MQTT
            app._setup_done(plain)
            await _wait(pilot, lambda: app.exporter is None and second.status().state == "closed")
            await _wait(pilot, lambda: "MQTT" not in _strip(app))
            await asyncio.to_thread(sub.wait_for, lambda ms: _statuses(ms, base) == ["online", "online", "offline"])
            assert "MQTT publishing stopped." in _notes(app)
            await _wait(pilot, lambda: app.model.messages > 0)  # the restarted source reads on, without MQTT
    finally:
        app.close_exporter()
        sub.close()


@run_async
async def test_a_config_the_exporter_cannot_use_is_a_notification(port: str, tmp_path: Path) -> None:
    """A CA file that does not exist (deleted after the wizard checked it): a notice, the app goes on."""
    plain = Config(port=port, parity="N")
    app = _app(plain, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await _wait(pilot, lambda: app.model.messages >= 1)
        bad = replace(plain, mqtt_url="mqtts://127.0.0.1:1/x", mqtt_ca_file=str(tmp_path / "gone.pem"))
        app._setup_done(bad)
        await _wait(pilot, lambda: any(n.startswith("MQTT publishing stopped:") for n in _notes(app)))
        assert app.exporter is None
        seen = app.model.messages
        await _wait(pilot, lambda: app.model.messages > seen)  # still reading
