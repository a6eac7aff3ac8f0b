"""The wizard's Japan B-route path (issue #10), end to end against the virtual Wi-SUN module on a real pty.

The join test runs the real :class:`~meterui.broute.session.BrouteSession` through the one pipeline and a
:class:`~meterui.sources.serial_port.SerialSource` on the pseudo-terminal of
:class:`~meterui.simulate.broute.PtyModule` (50× faster than a real module, and the session's timing
scaled alike). Waiting is a poll for the verdict, never a sleep.
"""

from __future__ import annotations

import stat
from dataclasses import replace
from pathlib import Path

from textual.widgets import Button, Input, Static

from meterui.broute.commands import PanDescriptor
from meterui.broute.session import Timing
from meterui.config import Config, load_config
from meterui.simulate.broute import DEFAULT_ID, DEFAULT_PASSWORD
from meterui.sources.serial_port import PortInfo
from meterui.widgets.setup.broute import JoinReport, JoinStep
from tests.brouteutil import SCALE, make
from tests.test_setup import Host, screen_text, sync, wait_for, wizard

FAST = replace(Timing().scaled(SCALE), command_timeout=1.0, request_timeout=1.5, join_timeout=4.0, reauth_timeout=4.0)


def shown(app: Host) -> str:
    return screen_text(app) + app.export_screenshot()


async def to_credentials(pilot, app: Host) -> None:  # type: ignore[no-untyped-def]
    await pilot.pause()
    w = wizard(app)
    assert w.step_ids == ("port", "preset", "broute", "mqtt", "join")
    await pilot.press("enter", "enter")  # port, preset (B-route)
    assert w.step_id == "broute"
    assert "115200 8N1" in str(w.query_one("#broute-status", Static).render())


async def wait_for_join(pilot, app: Host) -> JoinReport:  # type: ignore[no-untyped-def]
    step = wizard(app).query_one(JoinStep)
    await wait_for(pilot, lambda: step.report is not None, timeout=120, why=lambda: f"{step.seen[-3:]}")
    await pilot.pause()
    assert step.report is not None
    return step.report


@sync
async def test_broute_credentials_are_checked_masked_and_never_echoed() -> None:
    app = Host(ports=[PortInfo("/dev/ttyUSB0", "BP35A1", None, None)], initial=Config(preset="jp-broute"))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_credentials(pilot, app)
        w = wizard(app)
        w.query_one("#broute-id", Input).value = "0123456789ABCDEF0123"  # 20 characters
        w.query_one("#broute-password", Input).value = "SECRETPW"
        await pilot.pause()
        assert "must be 32 characters, got 20" in str(w.query_one("#broute-id-error", Static).render())
        assert "must be 12 characters, got 8" in str(w.query_one("#broute-password-error", Static).render())
        await pilot.press("enter")
        assert w.step_id == "broute"  # blocked
        for secret in ("0123456789ABCDEF0123", "SECRETPW"):
            assert secret not in shown(app)
        assert w.query_one("#broute-id", Input).password and w.query_one("#broute-password", Input).password


@sync
async def test_broute_join_test_joins_reads_and_saves(tmp_path: Path) -> None:
    sim, _module = make(tmp_path)
    target = tmp_path / "config.toml"
    try:
        app = Host(
            ports=[PortInfo(sim.device, "virtual BP35A1", None, None)],
            save=True,
            config_file=target,
            initial=Config(port=sim.device, preset="jp-broute"),
            broute_timing=FAST,
            join_timeout=120,
        )
        async with app.run_test(size=(80, 24)) as pilot:
            await to_credentials(pilot, app)
            w = wizard(app)
            w.query_one("#broute-id", Input).value = DEFAULT_ID.lower()
            w.query_one("#broute-password", Input).value = DEFAULT_PASSWORD
            await pilot.pause()
            assert "looks right" in str(w.query_one("#broute-id-error", Static).render())
            await pilot.press("enter", "enter")  # → MQTT (off) → join
            assert w.step_id == "join"
            report = await wait_for_join(pilot, app)
            assert report.verdict.code == "ok", report.verdict
            assert report.verdict.title.startswith("Joined the meter: instantaneous power ")
            assert report.verdict.title.endswith(" W")
            states = [state for state, _ in wizard(app).query_one(JoinStep).seen]
            for state in ("probing", "scanning", "joining", "joined"):
                assert state in states, states
            assert any(state == "scanning" and "%" in text for state, text in wizard(app).query_one(JoinStep).seen)
            assert "Joined the meter" in screen_text(app)
            assert "B-route ID and password set" in str(w.query_one("#join-summary", Static).render())
            for secret in (DEFAULT_ID, DEFAULT_ID.lower(), DEFAULT_PASSWORD):
                assert secret not in shown(app)
            assert app.focused is w.query_one("#save", Button)
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.result != "pending", timeout=60)
    finally:
        sim.close()
    assert isinstance(app.result, Config)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    saved = load_config(target)
    assert saved is not None
    assert (saved.port, saved.describe_serial(), saved.preset) == (sim.device, "115200 8N1", "jp-broute")
    assert (saved.broute_id, saved.broute_password) == (DEFAULT_ID, DEFAULT_PASSWORD)
    assert saved.broute_scan is not None and PanDescriptor.from_config(saved.broute_scan) is not None
    assert DEFAULT_PASSWORD not in repr(saved) and DEFAULT_ID not in repr(saved)


@sync
async def test_broute_wrong_password_says_pana_failed_and_fixes_the_credentials(tmp_path: Path) -> None:
    sim, module = make(tmp_path)
    try:
        app = Host(
            ports=[PortInfo(sim.device, "virtual BP35A1", None, None)],
            initial=Config(port=sim.device, preset="jp-broute"),
            broute_timing=FAST,
            join_timeout=120,
        )
        async with app.run_test(size=(80, 24)) as pilot:
            await to_credentials(pilot, app)
            w = wizard(app)
            w.query_one("#broute-id", Input).value = DEFAULT_ID
            w.query_one("#broute-password", Input).value = "OTHERPASS123"
            await pilot.press("enter", "enter")
            report = await wait_for_join(pilot, app)
            assert report.verdict.code == "auth-failed"
            assert "PANA authentication failed: wrong B-route ID or password" in screen_text(app)
            assert "OTHERPASS123" not in shown(app) and DEFAULT_ID not in shown(app)
            fix = w.query_one("#fix", Button)
            assert app.focused is fix and str(fix.label) == "Check ID and password"
            assert str(w.query_one("#save", Button).label) == "Save anyway"
            await pilot.press("enter")
            assert w.step_id == "broute" and app.focused is w.query_one("#broute-id", Input)
            await pilot.press("escape")
    finally:
        sim.close()
    assert app.result is None
    assert module.log.count("SKJOIN") >= 1


@sync
async def test_broute_silent_module_says_check_the_port(tmp_path: Path) -> None:
    sim, _module = make(tmp_path)
    sim.control(lambda m: m.set_silent(True))
    try:
        app = Host(
            ports=[PortInfo(sim.device, "virtual BP35A1", None, None)],
            initial=Config(port=sim.device, preset="jp-broute", broute_id=DEFAULT_ID, broute_password=DEFAULT_PASSWORD),
            broute_timing=replace(FAST, command_timeout=0.3),
            join_timeout=120,
        )
        async with app.run_test(size=(80, 24)) as pilot:
            await to_credentials(pilot, app)
            await pilot.press("enter", "enter")
            report = await wait_for_join(pilot, app)
            assert report.verdict.code == "module-silent"
            assert "The Wi-SUN module does not answer" in screen_text(app)
            assert str(wizard(app).query_one("#fix", Button).label) == "Change port"
    finally:
        sim.close()


def test_broute_credentials_in_the_config_file_are_checked_without_echo(tmp_path: Path) -> None:
    from meterui.config import ConfigError

    path = tmp_path / "config.toml"
    path.write_text('[broute]\nid = "0123456789ABCDEF"\npassword = "PASSWORD1234"\n')
    try:
        load_config(path)
    except ConfigError as exc:
        assert "broute.id" in str(exc) and "got 16" in str(exc)
        assert "0123456789ABCDEF" not in str(exc) and "PASSWORD1234" not in str(exc)
    else:  # pragma: no cover - the assertion below names the failure
        raise AssertionError("a 16-character B-route ID was accepted")
    cfg = Config(broute_id=DEFAULT_ID, broute_password=DEFAULT_PASSWORD)
    assert DEFAULT_ID not in repr(cfg) and DEFAULT_PASSWORD not in repr(cfg)
    assert "<32 characters hidden>" in repr(cfg)
