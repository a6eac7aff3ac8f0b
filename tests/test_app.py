"""The app shell: screens, keys, the source worker, pause/step, first run, snapshots of the whole app."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from meterui.config import Config, load_config
from meterui.launch import DEMO_KEY, demo_capture_path
from meterui.preload import decode_capture
from meterui.screens.help import HelpScreen
from meterui.screens.inspector import InspectorScreen
from meterui.screens.live import LiveScreen
from tests.apputil import QuietApp, StillApp, replay_app, run_async

VECTORS = Path(__file__).resolve().parent / "data" / "vectors"


def _hex_capture(tmp_path: Path, copies: int = 3) -> tuple[Path, int]:
    frames = [v["frames_hex"][0] for v in json.loads((VECTORS / "hdlc.json").read_text())]
    path = tmp_path / "capture.hex"
    path.write_text("# test capture\n" + "\n".join(frames * copies) + "\n")
    return path, len(frames) * copies


async def _wait_for(pilot, predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.05)


def test_demo_capture_decodes() -> None:
    messages, _ = decode_capture(demo_capture_path(), DEMO_KEY)
    assert len(messages) > 400
    ok = [m for m in messages if m.ok]
    assert {m.protocol for m in ok} == {"hdlc", "mbus"}
    assert any(m.encrypted and m.ok for m in ok)  # the Austrian meter decrypts under the demo key
    bad = [m for m in messages if not m.ok]
    assert [m.error.layer for m in bad].count("frame") == 1  # exactly one corrupted frame
    assert all(m.error.layer in ("frame", "line") for m in bad)  # and some line noise
    quantities = {r.quantity for m in ok for r in m.readings}
    assert {"voltage_l1", "current_l3", "active_power_import", "active_energy_import"} <= quantities


def test_demo_capture_without_the_key_reports_crypto_errors() -> None:
    messages, _ = decode_capture(demo_capture_path(), None, limit=40)
    mbus = [m for m in messages if m.protocol == "mbus" and m.encrypted]
    assert mbus and all(m.error is not None and m.error.layer == "crypto" for m in mbus)


@run_async
async def test_replay_fills_model_and_frame_store(tmp_path: Path) -> None:
    path, count = _hex_capture(tmp_path)
    app = replay_app(path)
    async with app.run_test(size=(120, 40)) as pilot:
        await _wait_for(pilot, lambda: app.stats is not None and app.stats.finished)
        assert len(app.frames) == count
        power = app.model.latest("active_power_import")
        assert power is not None and power.unit == "W"
        assert isinstance(app.screen, LiveScreen)


@run_async
async def test_screen_keys_switch_and_help_closes(tmp_path: Path) -> None:
    app = StillApp(limit=40)
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, LiveScreen)
        await pilot.press("i")
        assert isinstance(app.screen, InspectorScreen)
        await pilot.press("l")
        assert isinstance(app.screen, LiveScreen)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = app.screen.query_one("#help-text").render()
        assert "space" in str(text) and "inspector" in str(text)
        await pilot.press("escape")
        assert isinstance(app.screen, LiveScreen)


@run_async
async def test_pause_then_step_emits_exactly_one_message(tmp_path: Path) -> None:
    path, _ = _hex_capture(tmp_path, copies=20)
    app = replay_app(path, speed=1.0, cadence=0.5)
    async with app.run_test(size=(120, 40)) as pilot:
        await _wait_for(pilot, lambda: len(app.frames) >= 1)
        await pilot.press("space")
        await _wait_for(pilot, lambda: app.pipeline is not None and app.pipeline.paused)
        await pilot.pause(0.8)
        before = len(app.frames)
        await pilot.pause(1.2)  # paused: nothing arrives
        assert len(app.frames) == before
        await pilot.press("n")
        await _wait_for(pilot, lambda: len(app.frames) == before + 1)
        await pilot.pause(0.8)
        assert len(app.frames) == before + 1
        await pilot.press("space")  # resume: messages flow again
        await _wait_for(pilot, lambda: len(app.frames) > before + 1)


@run_async
async def test_speed_keys_change_replay_speed(tmp_path: Path) -> None:
    path, _ = _hex_capture(tmp_path, copies=20)
    app = replay_app(path, speed=1.0, cadence=0.5)
    async with app.run_test(size=(120, 40)) as pilot:
        await _wait_for(pilot, lambda: app.pipeline is not None)
        await pilot.press("plus")
        assert app.pipeline is not None and app.pipeline.speed == 10.0
        await pilot.press("plus")
        assert app.pipeline.speed == float("inf")
        await pilot.press("minus")
        assert app.pipeline.speed == 10.0


@run_async
async def test_first_run_opens_the_setup_wizard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from meterui.screens.setup import SetupWizard

    monkeypatch.setenv("METERUI_CONFIG", str(tmp_path / "config.toml"))
    app = QuietApp(lambda _cfg: None, None, first_run=True, save_path=tmp_path / "config.toml")
    app.CURSOR_BLINK = False
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        assert isinstance(app.screen, SetupWizard)
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, SetupWizard)
    assert load_config(tmp_path / "config.toml") is None  # cancelled: nothing saved


@run_async
async def test_setup_result_is_saved_with_mode_0600_and_restarts_the_source(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    started: list[Config | None] = []

    def factory(cfg: Config | None) -> None:
        started.append(cfg)

    app = QuietApp(factory, None, save_path=path)
    app.CURSOR_BLINK = False
    async with app.run_test(size=(80, 24)) as pilot:
        cfg = Config(port="socket://127.0.0.1:9", baudrate=2400, parity="N", key=bytes(range(16)))
        app._setup_done(cfg)
        await pilot.pause(0.1)
    assert path.stat().st_mode & 0o777 == 0o600
    loaded = load_config(path)
    assert loaded is not None and loaded.port == cfg.port and loaded.key == cfg.key
    assert started[-1] is cfg


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_snapshot_live(snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.pause(1.3)  # the power plot redraws at most once a second: let it catch up

    assert snap_compare(StillApp(limit=120), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_snapshot_inspector(snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(StillApp(limit=60, start="inspector"), terminal_size=size)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_snapshot_help(snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(StillApp(limit=10), terminal_size=size, press=["question_mark"])


@run_async
async def test_enter_on_a_live_row_opens_its_bytes_in_the_inspector() -> None:
    from meterui.widgets.obistable import ObisTable, row_key

    app = StillApp(limit=60)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)
        table = app.screen.query_one(ObisTable)
        meter = next(m for m in app.model.meters() if app.model.get("1.0.32.7.0.255", m) is not None)
        table.move_cursor(row=table.get_row_index(row_key(meter, "1.0.32.7.0.255")))
        table.focus()
        await pilot.press("enter")
        await _wait_for(pilot, lambda: isinstance(app.screen, InspectorScreen) and bool(app.screen.hexview.marks))
        screen = app.screen
        assert isinstance(screen, InspectorScreen)
        msg = screen.message
        assert msg is not None and msg.meter == meter
        reading = next(r for r in msg.readings if r.id == "1.0.32.7.0.255")
        assert reading.node is not None
        assert screen.hexview.marks == [reading.node.span]  # the voltage's bytes are highlighted
        assert screen.frame_tree.cursor_node is not None and screen.frame_tree.cursor_node.data is reading.node
        # and it is the newest kept frame of that meter carrying the reading
        newer = [app.frames.summary(p) for p in range(len(app.frames))
                 if app.frames.summary(p).index > screen.selected]
        assert not any("1.0.32.7.0.255" in s.reading_ids and s.meter == meter for s in newer)


def test_a_refresh_timer_that_outlives_the_screens_is_harmless() -> None:
    # the throttled refresh can fire while the app shuts down, after the screen stack is empty
    app = StillApp(limit=5)
    assert app.screen_stack == []
    app._refresh_pending = True
    app._refresh()  # must not raise ScreenStackError
    assert app._refresh_pending is False


def test_bundled_demo_capture_is_what_the_generator_makes(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "demo.rec"
    subprocess.run([sys.executable, str(root / "scripts" / "make_demo.py"), str(out)], check=True,
                   capture_output=True, timeout=120)
    assert out.read_bytes() == demo_capture_path().read_bytes()
