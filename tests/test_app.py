"""The app shell: screens, keys, the source worker, pause/step, first run, snapshots of the whole app."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from textual.widgets import Input

from meterui.app import MeterApp
from meterui.config import Config, load_config
from meterui.launch import DEMO_KEY, demo_capture_path
from meterui.preload import decode_capture
from meterui.screens.help import HelpScreen
from meterui.screens.inspector import InspectorScreen, PromptScreen
from meterui.screens.live import LiveScreen
from meterui.screens.setup import SetupWizard
from meterui.widgets.playstate import PlayStateView
from tests.apputil import QuietApp, StillApp, replay_app, run_async

DATA = Path(__file__).parent / "data"

HDLC_FRAMES: list[str] = json.loads((Path(__file__).with_name("data") / "ui_frames.json").read_text())["hdlc"]
"""Frames copied from the shared test vectors (see the note in tests/data/ui_frames.json)."""


def _hex_capture(tmp_path: Path, copies: int = 3) -> tuple[Path, int]:
    frames = list(HDLC_FRAMES)
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
        text = "\n".join(_help_lines(app.screen))
        assert "space" in text and "inspector" in text
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
        await _wait_for(pilot, lambda: path.exists() and load_config(path) is not None)  # saved by a worker
    assert path.stat().st_mode & 0o777 == 0o600
    loaded = load_config(path)
    assert loaded is not None and loaded.port == cfg.port and loaded.key == cfg.key
    assert started[-1] is cfg


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_snapshot_live(snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
        # wait on the screen's state, not the clock: the charts are mounted after the readings are painted,
        # and the power plot redraws at most once a second, so wait until it has drawn the newest data
        app = pilot.app
        for _ in range(600):
            screen = app.screen
            plot = getattr(screen, "_plot", None)
            if plot is not None and getattr(screen, "_phases", None) is not None:
                current = (*plot._data_stamp(app.model, plot.meter), plot.meter, plot._many)
                if not plot.display or (plot._pending is None and plot.draws and plot._stamp == current):
                    break
            await pilot.pause(0.05)
        else:
            raise AssertionError("the live screen's charts never settled")
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

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
        newer = [app.frames.summary(p) for p in range(len(app.frames)) if app.frames.summary(p).index > screen.selected]
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
    subprocess.run(
        [sys.executable, str(root / "scripts" / "make_demo.py"), str(out)], check=True, capture_output=True, timeout=120
    )
    assert out.read_bytes() == demo_capture_path().read_bytes()


# -- issue #6 part A: screen stack, n in the inspector, play state, global keys, help ----------------
def _help_lines(screen: object) -> list[str]:
    """The help text as drawn (every line of the Static, scrolled or not)."""
    from textual.geometry import Region

    assert isinstance(screen, HelpScreen)
    static = screen.query_one("#help-text")
    strips = static.render_lines(Region(0, 0, static.size.width, static.size.height))
    return ["".join(seg.text for seg in strip) for strip in strips]


@run_async
async def test_help_at_80x24_keeps_its_indent_its_scrollbar_apart_and_says_how_to_close() -> None:
    from textual.containers import VerticalScroll

    from meterui.screens.help import CLOSE_HINT, SECTIONS

    app = StillApp(limit=10)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        lines = _help_lines(screen)
        scroll = screen.query_one(VerticalScroll)
        assert scroll.border_subtitle == CLOSE_HINT and "esc" in CLOSE_HINT
        # descriptions start in one column, and their wrapped lines start there too
        first_key = next(line for line in lines if line.startswith("  l "))
        column = first_key.index("live dashboard")
        continued = 0
        for line in lines:
            stripped = line.rstrip()
            if not stripped or any(stripped.strip() == title for title, _ in SECTIONS):
                continue
            indent = len(line) - len(line.lstrip())
            assert indent in (0, 2, column), repr(line)  # a title, a key, or a description's column
            continued += indent == column
        assert continued >= 3  # at 80 columns some descriptions wrap, under their first line
        # the scrollbar has its own column, right of the text
        assert scroll.show_vertical_scrollbar
        text_right = screen.query_one("#help-text").content_region.right
        bar = scroll.vertical_scrollbar.region
        assert bar.width >= 1 and text_right < bar.x  # a blank column between the text and the bar
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


def _inspector(app: MeterApp) -> InspectorScreen:
    screen = app.screen
    assert isinstance(screen, InspectorScreen)
    return screen


@run_async
async def test_escape_in_the_inspector_goes_back_and_never_empties_the_stack() -> None:
    app = StillApp(limit=40)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("i")
        assert isinstance(app.screen, InspectorScreen)
        await pilot.press("escape")  # used to pop the inspector and leave a blank default screen
        assert isinstance(app.screen, LiveScreen) and len(app.screen_stack) == 2
        await pilot.press("escape", "l", "i", "escape", "escape", "i")
        assert isinstance(app.screen, InspectorScreen) and len(app.screen_stack) == 2
        # a search without a match, its warning dismissed with escape
        await pilot.press("slash")
        assert isinstance(app.screen, PromptScreen)
        await pilot.press(*"EEDDCCBBAA998877", "enter")
        assert isinstance(app.screen, InspectorScreen)
        assert "no match" in " ".join(str(n.message) for n in app._notifications)
        await pilot.press("escape")
        assert isinstance(app.screen, LiveScreen)
        await pilot.press("l", "i", "l")  # used to end in IndexError: pop from empty list
        assert isinstance(app.screen, LiveScreen) and len(app.screen_stack) == 2 and app.is_running


@run_async
async def test_escape_when_the_app_started_in_the_inspector() -> None:
    app = StillApp(limit=20, start="inspector")
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, InspectorScreen)
        await pilot.press("escape", "l", "escape")
        assert isinstance(app.screen, LiveScreen) and len(app.screen_stack) == 2


@run_async
async def test_n_in_the_inspector_on_the_newest_message_steps_the_replay(tmp_path: Path) -> None:
    path, _ = _hex_capture(tmp_path, copies=20)
    app = replay_app(path, speed=1.0, cadence=0.5)
    async with app.run_test(size=(120, 40)) as pilot:
        await _wait_for(pilot, lambda: len(app.frames) >= 1)
        await pilot.press("i", "space")
        await _wait_for(pilot, lambda: app.pipeline is not None and app.pipeline.paused)
        screen = _inspector(app)
        await _wait_for(pilot, lambda: screen.selected == app.frames.added - 1)  # on the newest
        before = app.frames.added
        await pilot.press("n")
        await _wait_for(pilot, lambda: app.frames.added == before + 1)
        await _wait_for(pilot, lambda: screen.selected == before)  # the new message is selected
        assert app.pipeline is not None and app.pipeline.paused
        await pilot.press("n")
        await _wait_for(pilot, lambda: app.frames.added == before + 2 and screen.selected == before + 1)
        # away from the newest, n moves in the list and does not step the source
        await pilot.press("p", "p", "n")
        assert screen.selected == before and app.frames.added == before + 2


@run_async
async def test_play_state_shows_at_once_on_the_inspector_and_in_the_footer(tmp_path: Path) -> None:
    path, _ = _hex_capture(tmp_path, copies=20)
    app = replay_app(path, speed=1.0, cadence=0.5)
    async with app.run_test(size=(120, 40)) as pilot:
        await _wait_for(pilot, lambda: len(app.frames) >= 2)  # p below needs an older message to go to
        await pilot.press("i")
        screen = _inspector(app)
        view = screen.query_one(PlayStateView)
        await _wait_for(pilot, lambda: "playing" in view.text)
        assert "×1" in view.text and "following newest" in view.text
        assert screen.active_bindings["space"].binding.description == "Pause"
        await pilot.press("space")  # no waiting: the state shows before the next frame
        assert "paused" in view.text and "playing" not in view.text
        assert screen.active_bindings["space"].binding.description == "Resume"
        assert "paused" in str(view.render())
        await pilot.press("plus")
        assert "×10" in view.text
        await pilot.press("p")  # an older message: no longer following
        assert "browsing" in view.text
        await pilot.press("space")
        assert "playing" in view.text and screen.active_bindings["space"].binding.description == "Pause"


@run_async
async def test_global_keys_work_whichever_inspector_pane_has_focus(tmp_path: Path) -> None:
    path, _ = _hex_capture(tmp_path, copies=2)
    app = replay_app(path)  # at full speed: it is over at once, so no new message redraws the tree meanwhile
    async with app.run_test(size=(120, 40)) as pilot:
        await _wait_for(pilot, lambda: app.stats is not None and app.stats.finished)
        for pane in ("#frames", "#tree", "#hex"):
            await pilot.press("i")
            screen = _inspector(app)
            screen.query_one(pane).focus()
            await pilot.pause()
            assert app.focused is screen.query_one(pane)
            pipeline = app.pipeline
            assert pipeline is not None
            paused = pipeline.paused
            tree_lines = screen.frame_tree.last_line
            await pilot.press("space")
            assert pipeline.paused is not paused, pane
            assert screen.frame_tree.last_line == tree_lines  # the tree did not collapse
            await pilot.press("space")
            assert pipeline.paused is paused, pane
            speed = pipeline.speed
            await pilot.press("minus")
            assert pipeline.speed < speed, pane
            await pilot.press("plus")
            assert pipeline.speed == speed, pane
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen), pane
            await pilot.press("escape")
            assert app.screen is screen and app.focused is screen.query_one(pane)
            await pilot.press("g")
            assert isinstance(app.screen, PromptScreen), pane
            await pilot.press("escape")
            assert app.screen is screen
            await pilot.press("f1")
            assert isinstance(app.screen, HelpScreen), pane
            await pilot.press("escape")
            selected = screen.selected
            await pilot.press("p")
            assert screen.selected is not None and selected is not None and screen.selected < selected, pane
            await pilot.press("n")
            assert screen.selected == selected, pane
            await pilot.press("i")
            assert app.screen is screen and app.focused is screen.query_one(pane)
            await pilot.press("s")
            assert isinstance(app.screen, SetupWizard), pane
            await pilot.press("escape")
            await _wait_for(pilot, lambda s=screen: app.screen is s)
            hexview = screen.hexview
            cursor = hexview.cursor
            await pilot.press("l")
            assert isinstance(app.screen, LiveScreen), pane
            assert hexview.cursor == cursor  # the hex cursor did not move
        # the keys stay letters inside a text field
        await pilot.press("i", "slash")
        prompt = app.screen
        assert isinstance(prompt, PromptScreen)
        await pilot.press("l", "s", "space", "q", "n")
        assert prompt.query_one(Input).value == "ls qn"
        assert app.screen is prompt and app.is_running
        await pilot.press("escape")
        await pilot.press("q")
    assert not app.is_running


@run_async
async def test_no_key_sequence_empties_the_screen_stack() -> None:
    import random

    keys = [
        "i",
        "l",
        "escape",
        "escape",
        "question_mark",
        "f1",
        "g",
        "slash",
        "enter",
        "p",
        "n",
        "N",
        "G",
        "f",
        "F",
        "tab",
        "space",
        "plus",
        "minus",
        "up",
        "down",
        "right",
        "1",
        "s",
        "x",
    ]
    rng = random.Random(6)
    app = StillApp(limit=30)
    async with app.run_test(size=(80, 24)) as pilot:
        default = app.screen_stack[0]
        for step in range(200):
            key = rng.choice(keys)
            await pilot.press(key)
            stack = app.screen_stack
            assert len(stack) >= 2 and stack[0] is default and app.screen is not default, (step, key)
            assert isinstance(stack[1], LiveScreen | InspectorScreen), (step, key)
        assert app.is_running


@run_async
async def test_space_without_a_source_still_belongs_to_the_app() -> None:
    app = StillApp(limit=10, start="inspector")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = _inspector(app)
        tree = screen.frame_tree
        tree.focus()
        await pilot.pause()
        lines = tree.last_line
        await pilot.press("space")
        assert tree.last_line == lines  # not collapsed by the tree's own space binding
        assert any("No source" in str(n.message) for n in app._notifications)


@run_async
async def test_play_state_shows_at_once_on_the_live_screen(tmp_path: Path) -> None:
    from meterui.widgets.linehealth import LineHealth

    path, _ = _hex_capture(tmp_path, copies=20)
    app = replay_app(path, speed=1.0, cadence=5.0)  # a slow cadence: no batch arrives while we look
    async with app.run_test(size=(80, 24)) as pilot:
        await _wait_for(pilot, lambda: len(app.frames) >= 1)
        health = app.screen.query_one(LineHealth)
        await _wait_for(pilot, lambda: "replaying" in str(health.render()))
        assert "paused" not in str(health.render())
        frames = len(app.frames)
        await pilot.press("space")
        await pilot.pause()
        assert "paused" in str(health.render())
        assert len(app.frames) == frames  # shown without a new message
        await pilot.press("space")
        await pilot.pause()
        assert "paused" not in str(health.render())


@run_async
async def test_a_refresh_before_the_inspector_is_mounted_waits_for_it() -> None:
    """A fast replay opened in the inspector: a batch can arrive between pushing the inspector and its
    mount (bench/bench_memory.py crashed with NoMatches '#frames'); the inspector syncs itself on mount."""

    early: list[bool] = []

    class EarlyApp(StillApp):
        def _start_source(self) -> None:  # called from on_mount, right after the inspector was pushed
            early.append(self.screen is self._inspector_screen and not self.screen.is_mounted)
            self._refresh()  # what a MessagesDecoded arriving now does

    app = EarlyApp(limit=20, start="inspector")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert early == [True]
        assert isinstance(screen, InspectorScreen) and screen.table.row_count == 20


@run_async
async def test_a_key_rests_a_max_speed_replay_so_the_screen_answers_first(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Issue #8: at max speed the decoder shared the CPU with the screen, and keys waited up to half a second.
    After a key the replay rests (here 2 s instead of 0.3 s, to see it), then goes on to the end."""
    import meterui.app

    monkeypatch.setattr(meterui.app, "KEYS_FIRST", 2.0)
    lines = [line for line in (DATA / "hdlc_vectors.hex").read_text().splitlines() if not line.startswith("#")]
    path = tmp_path / "many.hex"
    path.write_text("\n".join(lines * 4000) + "\n")  # 24,000 frames: seconds of decoding at max speed
    app = replay_app(path)
    async with app.run_test(size=(120, 40)) as pilot:
        while app.frames.added == 0:
            await pilot.pause(0.02)
        await pilot.press("x")  # any key: not bound to anything
        await pilot.pause(0.3)  # a batch already handed over may still come in
        held = app.frames.added
        await pilot.pause(1.0)
        assert app.frames.added == held < 24_000
        deadline = time.monotonic() + 60
        while not (app.stats and app.stats.finished) and time.monotonic() < deadline:
            await pilot.pause(0.1)
        assert app.frames.added == 24_000


@run_async
async def test_the_help_screen_is_built_once_and_reopens_as_it_was() -> None:
    """Issue #8: laying the help table out again on every ? cost a key tens of milliseconds at max speed."""
    app = replay_app(DATA / "hdlc_vectors.hex")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        await pilot.press("question_mark")
        await pilot.pause()
        first = app.screen
        assert isinstance(first, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f1")
        await pilot.pause()
        assert app.screen is first
        await pilot.press("q")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
