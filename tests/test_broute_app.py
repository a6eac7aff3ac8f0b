"""The app on a B-route session: the virtual Wi-SUN module on a real pty, driven through Textual's pilot.

The live table shows E7/E8 from the meter, the health strip the session state, ``h`` opens the history
and ``f`` there fetches it from the (virtual) meter. Waiting polls the app with a timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot

from meterui.broute.run import broute_pipeline
from meterui.broute.session import BrouteSession
from meterui.config import Config
from meterui.screens.history import HistoryScreen, half_hour_energy
from meterui.simulate.broute import DEFAULT_ID, DEFAULT_PASSWORD, PtyModule, VirtualModule
from meterui.widgets.linehealth import LineHealth
from meterui.widgets.obistable import ObisTable, row_key
from tests.apputil import QuietApp, run_async
from tests.test_broute_monitor import FAST, SCALE, SECRETS


async def _until(pilot: Pilot[object], cond: Callable[[], bool], what: str, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def _cell(table: ObisTable, key: str, column: str) -> str:
    value = table.get_cell(key, column)
    return value.plain if hasattr(value, "plain") else str(value)


def _app(tmp_path: Path) -> tuple[QuietApp, PtyModule, list[BrouteSession]]:
    sim = PtyModule(VirtualModule("a1", time_scale=SCALE), link=tmp_path / "wisun")
    sessions: list[BrouteSession] = []

    def factory(cfg: Config | None):  # type: ignore[no-untyped-def]
        assert cfg is not None
        sessions.append(BrouteSession(DEFAULT_ID, DEFAULT_PASSWORD, timing=FAST))
        return broute_pipeline(cfg, SECRETS, None, session=sessions[-1])

    app = QuietApp(factory, Config(port=sim.device, baudrate=115200, parity="N"))
    return app, sim, sessions


@run_async
async def test_live_table_shows_power_and_currents_and_the_session_state(tmp_path: Path) -> None:
    app, sim, _sessions = _app(tmp_path)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            table = app.screen.query_one(ObisTable)

            def has_rows() -> bool:
                meters = app.model.meters()
                return bool(meters) and app.model.latest("current_l1", meters[0]) is not None

            await _until(pilot, has_rows, "E7 and E8 in the model")
            meter = app.model.meters()
            assert app.model.latest("active_power_import", meter[0]) is not None
            await _until(pilot, lambda: table.row_count >= 3, "rows in the live table")
            key = row_key(meter[0], "E7")
            await _until(pilot, lambda: _cell(table, key, "value") not in ("", "—"), "the E7 row")
            assert _cell(table, key, "unit") == "W"
            assert _cell(table, row_key(meter[0], "E8.R"), "unit") == "A"
            strip = app.screen.query_one(LineHealth)
            await _until(pilot, lambda: "B-route: joined" in str(strip.render()), "the session state in the strip")
    finally:
        sim.close()


@run_async
async def test_history_key_fetches_and_shows_a_day(tmp_path: Path) -> None:
    app, sim, sessions = _app(tmp_path)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await _until(pilot, lambda: bool(sessions) and sessions[-1].state == "joined", "joined")
            await pilot.press("h")
            assert isinstance(app.screen, HistoryScreen)
            screen = app.screen
            assert "press f to fetch" in screen.message()
            await pilot.press("f")
            session = sessions[-1]
            await _until(pilot, lambda: ("import", 1) in session.history, "yesterday's history")
            screen.refresh_view()
            points = session.history[("import", 1)]
            assert len(half_hour_energy(points)) >= 40
            assert "Half-hour energy used on" in screen.message() and "yesterday" in screen.message()
            await pilot.press("left")
            assert screen.day == 2
            await pilot.press("escape")
            assert not isinstance(app.screen, HistoryScreen)
    finally:
        sim.close()


@run_async
async def test_history_without_a_session_says_so(tmp_path: Path) -> None:
    screen = HistoryScreen(None)
    assert "needs a B-route session" in screen.message()
