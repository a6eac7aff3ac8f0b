"""The setup wizard's steps beyond the basics: meter profile (issue #9), saving off the event loop,
the MQTT step (issue #11) against a real broker, and the summary before saving.

Pilot tests (Textual ``run_test``); the listen test reads an in-memory source that ends on its data.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Checkbox, Input, Static

from meterui.config import Config, load_config
from tests.broker import Broker
from tests.test_setup import (
    FRAME,
    PORTS,
    TO_TEST,
    FakeSource,
    Host,
    screen_text,
    sync,
    wait_for,
    wait_for_report,
    wizard,
)


def rendered(app: Host, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def good_listen() -> FakeSource:
    return FakeSource(FRAME + FRAME)


# -- meter profile (issue #9) ----------------------------------------------------------------------
@sync
async def test_meter_profile_is_checked_summarised_and_returned() -> None:
    app = Host(
        ports=PORTS,
        listen_seconds=30,
        initial=Config(preset="generic", parity="N"),
        source_factory=lambda cfg: good_listen(),
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("enter", "enter", "enter")
        w = wizard(app)
        assert w.step_id == "keys"
        w.query_one("#scale", Input).value = "energy=0.1"
        w.query_one("#timezone", Input).value = "Europe/Oslo"
        await pilot.pause()
        assert "✗" not in rendered(app, "#profile-error")
        await pilot.press("enter", "enter")  # keys → MQTT (off) → listen
        assert w.step_id == "listen"
        await wait_for_report(pilot)
        summary = rendered(app, "#listen-summary")
        assert "scaling energy=0.1" in summary and "time zone Europe/Oslo" in summary, summary
        await pilot.press("enter")  # Save has the focus after a working listen
        await pilot.pause()
    assert isinstance(app.result, Config)
    assert (app.result.scale, app.result.timezone) == ("energy=0.1", "Europe/Oslo")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("#scale", "energy=0.3", "use a power of ten"),
        ("#scale", "volts=10", "GROUP=FACTOR"),
        ("#timezone", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
    ],
)
@sync
async def test_meter_profile_invalid_blocks_next(field: str, value: str, message: str) -> None:
    app = Host(ports=PORTS, initial=Config(preset="generic"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("enter", "enter", "enter")
        w = wizard(app)
        w.query_one(field, Input).value = value
        await pilot.pause()
        error = rendered(app, "#profile-error")
        assert error.startswith("✗") and message in error, error
        await pilot.press("enter")
        assert w.step_id == "keys"  # blocked until it is fixed
        w.query_one(field, Input).value = ""
        await pilot.pause()
        await pilot.press("enter")
        assert w.step_id == "mqtt"


# -- saving ----------------------------------------------------------------------------------------
@sync
async def test_save_failure_is_a_message_not_a_crash(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the config folder should be")
    target = blocker / "meterui" / "config.toml"
    app = Host(
        ports=PORTS,
        listen_seconds=30,
        save=True,
        config_file=target,
        initial=Config(preset="generic", parity="N"),
        source_factory=lambda cfg: good_listen(),
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press(*TO_TEST)
        await wait_for_report(pilot)
        await pilot.click("#save")
        await wait_for(pilot, lambda: "Could not save the settings" in rendered(app, "#verdict"), timeout=60)
        assert str(blocker) in rendered(app, "#verdict")
        assert app.result == "pending" and not wizard(app).query_one("#save").disabled  # still in the wizard
        await pilot.press("escape")
    assert not target.exists()


# -- MQTT (issue #11) ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    b = Broker(tmp_path_factory.mktemp("wizard-broker"), users={"meter": "s3cret-pw"})
    b.start()
    try:
        yield b
    finally:
        b.stop()


async def to_mqtt(pilot) -> Host:  # type: ignore[no-untyped-def]
    await pilot.pause()
    await pilot.press("enter", "enter", "enter", "enter")
    app = pilot.app
    assert wizard(app).step_id == "mqtt"
    return app  # type: ignore[no-any-return]


@sync
async def test_mqtt_is_off_by_default_and_skipped() -> None:
    app = Host(
        ports=PORTS,
        listen_seconds=30,
        initial=Config(preset="generic", parity="N"),
        source_factory=lambda cfg: good_listen(),
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await to_mqtt(pilot)
        assert not wizard(app).query_one("#mqtt-on", Checkbox).value
        assert "Press Next to skip" in rendered(app, "#mqtt-error")
        await pilot.press("enter")
        await wait_for_report(pilot)
        assert "no MQTT" in rendered(app, "#listen-summary")
        await pilot.press("enter")
        await pilot.pause()
    assert isinstance(app.result, Config) and app.result.mqtt_url is None


@sync
async def test_mqtt_bad_url_blocks_and_never_shows_the_password() -> None:
    app = Host(ports=PORTS, initial=Config(preset="generic"))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_mqtt(pilot)
        w = wizard(app)
        w.query_one("#mqtt-on", Checkbox).value = True
        w.query_one("#mqtt-url", Input).value = "http://broker.local"
        w.query_one("#mqtt-password", Input).value = "pw-in-the-field"
        await pilot.pause()
        assert "must start with mqtt:// or mqtts://" in rendered(app, "#mqtt-error")
        await pilot.press("enter")
        assert w.step_id == "mqtt"
        w.query_one("#mqtt-url", Input).value = "mqtt://broker.local"  # a password needs a user name
        await pilot.pause()
        assert "needs a user name" in rendered(app, "#mqtt-error")
        assert "pw-in-the-field" not in screen_text(app) + app.export_screenshot()


@sync
async def test_mqtt_step_tests_the_connection_and_saves_0600(tmp_path: Path, broker: Broker) -> None:
    target = tmp_path / "config.toml"
    app = Host(
        ports=PORTS,
        listen_seconds=30,
        save=True,
        config_file=target,
        initial=Config(preset="generic", parity="N"),
        source_factory=lambda cfg: good_listen(),
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await to_mqtt(pilot)
        w = wizard(app)
        w.query_one("#mqtt-on", Checkbox).value = True
        w.query_one("#mqtt-url", Input).value = f"mqtt://meter@127.0.0.1:{broker.port}/home/meter"
        w.query_one("#mqtt-password", Input).value = "wrong-pw"
        await pilot.pause()
        await pilot.click("#mqtt-test")
        await wait_for(pilot, lambda: rendered(app, "#mqtt-test-result").startswith("✗"), timeout=30)
        assert "refused the connection" in rendered(app, "#mqtt-test-result")
        w.query_one("#mqtt-password", Input).value = "s3cret-pw"
        await pilot.pause()
        await pilot.click("#mqtt-test")
        await wait_for(pilot, lambda: rendered(app, "#mqtt-test-result").startswith("✓"), timeout=30)
        assert f"Connected to mqtt://meter@127.0.0.1:{broker.port}/home/meter" in rendered(app, "#mqtt-test-result")
        w.query_one("#mqtt-url", Input).focus()
        await pilot.pause()
        await pilot.press("enter")
        assert w.step_id == "listen"
        await wait_for_report(pilot)
        summary = rendered(app, "#listen-summary")
        assert f"MQTT mqtt://meter:***@127.0.0.1:{broker.port}/home/meter" in summary, summary
        shown = screen_text(app) + app.export_screenshot()
        assert "s3cret-pw" not in shown
        assert app.focused is w.query_one("#save"), app.focused
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.result != "pending", timeout=60, why=lambda: rendered(app, "#verdict"))
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    saved = load_config(target)
    assert saved is not None
    assert saved.mqtt_url == f"mqtt://meter:s3cret-pw@127.0.0.1:{broker.port}/home/meter"
    assert saved.mqtt_discovery_prefix == "homeassistant"
    assert "s3cret-pw" not in repr(saved)


# -- snapshots -------------------------------------------------------------------------------------
SIZES = [(80, 24), (120, 40)]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_mqtt_step(snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("enter", "enter", "enter", "enter")
        await pilot.pause()

    initial = Config(preset="generic", mqtt_url="mqtt://meter:pw-not-shown@broker.local:1883/home/meter")
    assert snap_compare(Host(ports=PORTS, initial=initial), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_broute_step(snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("enter", "enter")
        pilot.app.screen.query_one("#broute-id", Input).value = "0123456789ABCDEF0123456789ABCDEF"
        pilot.app.screen.query_one("#broute-password", Input).value = "SHORT"
        await pilot.pause()

    assert snap_compare(
        Host(ports=PORTS, initial=Config(preset="jp-broute")), terminal_size=size, run_before=run_before
    )
