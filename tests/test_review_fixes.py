"""Small defects found by using meterui as a new user would (review round after issues #6–#11).

Each test here failed before its fix.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.binding import Binding

from meterui.screens.help import SECTIONS
from meterui.screens.history import HistoryScreen
from meterui.screens.inspector import InspectorScreen
from meterui.screens.live import LiveScreen
from tests.apputil import run_async

KEY_DISPLAY = {"left": "←", "right": "→", "slash": "/", "question_mark": "?"}


def _help_keys(title: str) -> set[str]:
    """The keys one help section names (``f / F`` names ``f`` and ``F``)."""
    keys: set[str] = set()
    for section, rows in SECTIONS:
        if section.startswith(title):
            for key, _text in rows:
                keys.update(part.strip() for part in key.split(" / "))
    return keys


@pytest.mark.parametrize(
    ("screen", "title"), [(LiveScreen, "Live"), (InspectorScreen, "Inspector"), (HistoryScreen, "History")]
)
def test_help_names_every_key_of_each_screen(screen: type, title: str) -> None:
    named = _help_keys(title)
    assert named, f"no help section for {title}"
    for binding in screen.BINDINGS:
        assert isinstance(binding, Binding)
        key = binding.key.split(",")[0]
        assert KEY_DISPLAY.get(key, key) in named, f"{title}: {key} ({binding.description}) is not in the help"


def _footer_overflow(app: object) -> list[str]:
    """The footer keys of the current screen that do not fit in the terminal's width."""
    from textual.app import App
    from textual.widgets import Footer
    from textual.widgets._footer import FooterKey

    assert isinstance(app, App)
    footer = app.screen.query_one(Footer)
    keys = list(footer.query(FooterKey))
    assert any(key.key == "q" for key in keys)  # Quit is there at all
    return [f"{key.key_display or key.key} {key.description}" for key in keys if key.region.right > app.size.width]


@run_async
async def test_footer_fits_80_columns_on_the_b_route_live_and_history_screens(tmp_path: Path) -> None:
    from tests.test_broute_app import _app, _until

    app, sim, sessions = _app(tmp_path)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await _until(pilot, lambda: bool(sessions) and sessions[-1].state == "joined", "joined")
            await pilot.pause(0.1)
            assert app.screen.active_bindings.get("h") is not None
            assert _footer_overflow(app) == []
            await pilot.press("h")
            assert isinstance(app.screen, HistoryScreen)
            await pilot.pause(0.1)
            assert _footer_overflow(app) == []
            await pilot.press("n")  # stepping frames is off here: it used to pause the B-route session
            assert isinstance(app.screen, HistoryScreen)
            assert app.pipeline is not None and not app.pipeline.paused
    finally:
        sim.close()


def test_b_route_reads_the_serial_number_before_the_first_power_reading(tmp_path: Path) -> None:
    """Else the first E7 is keyed on the module's sender address and MQTT announces a second, stale
    Home Assistant device for the same meter on every start."""
    from tests.test_broute_monitor import _start, _stop

    sim, pipeline, col, thread = _start(tmp_path)
    try:
        col.wait(lambda: col.count("E7") >= 1 and col.count("8D") >= 1, "power and the serial number")
        ids = [r.id for m in col.messages for r in m.readings]
        assert ids.index("8D") < ids.index("E7")
    finally:
        _stop(sim, pipeline, thread)


@run_async
async def test_mqtt_step_asks_for_the_url_when_ticked_instead_of_quoting_an_empty_one() -> None:
    from textual.widgets import Checkbox, Input, Static

    from meterui.config import Config
    from tests.test_setup import PORTS, Host, wizard
    from tests.test_setup_steps import to_mqtt

    app = Host(ports=PORTS, initial=Config(preset="generic"))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_mqtt(pilot)
        w = wizard(app)
        w.query_one("#mqtt-on", Checkbox).value = True
        await pilot.pause()
        text = str(app.screen.query_one("#mqtt-error", Static).render())
        assert "Type the broker's URL" in text and "(got ''" not in text
        await pilot.press("enter")
        assert w.step_id == "mqtt"  # still blocks Next
        w.query_one("#mqtt-url", Input).value = "mqtt://broker.local"
        await pilot.pause()
        assert "Publishes to" in str(app.screen.query_one("#mqtt-error", Static).render())


def test_readme_command_reference_names_every_flag() -> None:
    """The README's command reference (and the MQTT section for the --mqtt* flags) lists every option."""
    import argparse
    import re

    from meterui.cli import _parser

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    reference = readme.split("## Command-line reference", 1)[1].split("\n## ", 1)[0]
    mqtt = readme.split("## Publishing to MQTT", 1)[1].split("\n## ", 1)[0]
    parser = _parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for command in ("monitor", "replay", "decode"):
        usage = next(line for line in reference.splitlines() if line.startswith(f"meterui {command} "))
        block = reference[reference.index(usage) :].split("\nmeterui ", 1)[0]
        for action in subparsers.choices[command]._actions:
            for flag in action.option_strings:
                if flag in ("-h", "--help"):
                    continue
                where = mqtt if flag.startswith("--mqtt-") else block
                assert re.search(re.escape(flag) + r"\b", where), f"README: meterui {command} does not name {flag}"


def test_headless_service_logs_the_b_route_session_steps(tmp_path: Path) -> None:
    """``monitor --headless`` (the systemd service) says on stderr when the meter is joined, like ``--json``:
    a service that cannot join must not be silent in the journal."""
    import os
    import subprocess
    import sys

    from meterui.simulate.broute import DEFAULT_ID, DEFAULT_PASSWORD, PtyModule, VirtualModule
    from tests.test_broute_monitor import ROOT, SCALE, _read_lines

    sim = PtyModule(VirtualModule("a1", time_scale=SCALE), link=tmp_path / "wisun")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "METERUI_CONFIG": str(tmp_path / "none.toml"),
        "METERUI_BROUTE_PASSWORD": DEFAULT_PASSWORD,
    }
    cmd = [sys.executable, "-m", "meterui", "monitor", "--port", sim.device, "--broute-id", DEFAULT_ID, "--headless"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        lines = _read_lines(proc.stderr, 1, 60, lambda line: "joined the meter" in line)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=15)
        sim.close()
    text = "\n".join(lines) + err.decode()
    assert "joined the meter" in text
    assert out == b""  # headless: nothing on stdout
    assert DEFAULT_ID not in text and DEFAULT_PASSWORD not in text
    assert proc.returncode == 0


@run_async
async def test_the_charted_meter_line_fits_the_charts_pane_at_120x40() -> None:
    """With two meters the charts name theirs in one line; at 120 columns it was cut mid-sentence."""
    from textual.widgets import Static

    from meterui.widgets.phasebars import PhaseBars
    from tests.apputil import StillApp

    app = StillApp(limit=60)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)
        line = app.screen.query_one(PhaseBars).query_one("#phase-meter", Static)
        text = str(line.render())
        assert len(app.model.meters()) > 1 and "7359992890941742" in text
        assert len(text) <= line.content_region.width, text


@run_async
async def test_enter_works_on_the_live_table_without_tabbing_to_it_first(tmp_path: Path) -> None:
    """A new user on ``meterui demo`` presses the arrows and enter: the table must have the focus."""
    from meterui.screens.inspector import InspectorScreen as Inspector
    from meterui.widgets.obistable import ObisTable
    from tests.apputil import replay_app

    capture = tmp_path / "capture.hex"
    capture.write_text((Path(__file__).parent / "data" / "hdlc_vectors.hex").read_text())
    app = replay_app(capture)
    app.START_DELAY = app._live.defer = 0.05  # as in the real app: the table is mounted after the first paint
    async with app.run_test(size=(80, 24)) as pilot:
        deadline = 200
        while not app.screen.query(ObisTable) or not app.screen.query_one(ObisTable).row_count:
            deadline -= 1
            assert deadline, "no rows in the live table"
            await pilot.pause(0.05)
        await pilot.pause()
        assert isinstance(app.screen.focused, ObisTable)
        await pilot.press("down", "enter")
        assert isinstance(app.screen, Inspector)
