"""The MQTT exporter inside the app (issue #11): a sink of the app's pipeline, its state in the health strip.

Pilot tests of the real app on a replayed capture, against a real broker (``tests/broker.py``) with a
real subscriber; and against a port where nothing listens, where the strip says "down" while the UI
keeps showing readings and answering keys. Plus the command line: ``replay --mqtt`` without
``--headless`` is no longer refused.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from meterui.app import MeterApp
from meterui.config import Config
from meterui.export.mqtt import MqttExporter
from meterui.export.url import parse_mqtt_url
from meterui.launch import _app_exporter
from meterui.pipeline import Pipeline
from meterui.screens.help import HelpScreen
from meterui.sources.replay import ReplaySource
from meterui.widgets.linehealth import LineHealth
from tests.apputil import QuietApp, run_async
from tests.broker import Broker, free_port
from tests.conftest import kamstrup_body, plain_hdlc
from tests.mqttutil import Subscriber

KAMSTRUP_ID = "5706567000000000"


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


def _app(capture: Path, exporter: MqttExporter) -> MeterApp:
    return QuietApp(lambda _cfg: Pipeline(ReplaySource(capture), speed=math.inf), Config(), exporter=exporter)


def _strip(app: MeterApp) -> str:
    return str(app.screen.query_one(LineHealth).render())


async def _wait(pilot: object, condition: object, timeout: float = 30.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():  # type: ignore[operator]
            return
        await pilot.pause(0.02)  # type: ignore[attr-defined]
    raise AssertionError("condition not reached")


def _exporter(url: str) -> MqttExporter:
    exp = MqttExporter(parse_mqtt_url(url), min_backoff=1, max_backoff=1)
    exp.start()
    return exp


@run_async
async def test_app_publishes_and_the_strip_counts(broker: Broker, tmp_path: Path) -> None:
    sub = Subscriber(broker.port, ["app_pub/#"])
    exp = _exporter(broker.url(base="app_pub"))
    try:
        app = _app(_capture(tmp_path, 6), exp)
        async with app.run_test(size=(120, 40)) as pilot:
            await _wait(pilot, lambda: "MQTT ● 6 published" in _strip(app))
            assert app.model.messages == 6 and app.model.get("1.1.31.7.0.255") is not None
        states = await asyncio.to_thread(
            sub.wait_for, lambda ms: sum(m.topic == f"app_pub/{KAMSTRUP_ID}/state" for m in ms) >= 6
        )
    finally:
        exp.close(timeout=2)
        sub.close()
    currents = [m.json()["readings"]["current_l1"] for m in states if m.topic == f"app_pub/{KAMSTRUP_ID}/state"]
    assert currents == [10.0, 10.01, 10.02, 10.03, 10.04, 10.05]


@run_async
async def test_unreachable_broker_shows_down_and_the_ui_goes_on(tmp_path: Path) -> None:
    exp = _exporter(f"mqtt://127.0.0.1:{free_port()}/app_none")  # nothing listens there
    try:
        app = _app(_capture(tmp_path, 4), exp)
        async with app.run_test(size=(80, 24)) as pilot:
            await _wait(pilot, lambda: "MQTT down, 4 queued" in _strip(app))
            assert app.model.messages == 4  # the readings arrived while the broker was away
            await pilot.press("question_mark")  # and the UI still answers keys
            await _wait(pilot, lambda: isinstance(app.screen, HelpScreen))
    finally:
        exp.close(timeout=1)
    assert exp.status().published == 0


def test_app_exporter_comes_from_the_flags_or_the_config(broker: Broker) -> None:
    """``meterui replay/monitor --mqtt URL`` (no ``--headless``) and plain ``meterui`` with ``[mqtt] url``."""
    import argparse

    from meterui.export.cli import add_mqtt_arguments

    parser = argparse.ArgumentParser()
    add_mqtt_arguments(parser)
    for args, cfg in (
        (parser.parse_args(["--mqtt", broker.url(base="app_flags")]), None),
        (None, Config(mqtt_url=broker.url(base="app_cfg"))),
    ):
        exp = _app_exporter(args, cfg, ValueError)
        assert exp is not None
        try:
            assert exp.flush(20)  # connected: nothing left to send
            assert exp.status().state == "connected"
        finally:
            exp.close(timeout=2)
    assert _app_exporter(parser.parse_args([]), Config(), ValueError) is None
    with pytest.raises(ValueError, match="mqtt") as err:
        _app_exporter(None, Config(mqtt_url="mqtt://me:s3cret@host:99999"), ValueError)
    assert "s3cret" not in str(err.value)
