"""The live dashboard: OBIS table updated in place, grouping, empty state, key notice, layouts.

A tiny host app pushes :class:`LiveScreen` (without its 1 Hz tick) and calls ``refresh_view`` with a
model fed by frames built with ``encode.py`` (and the Kaifa vector), with arrival times set by hand
so ages are deterministic. Snapshots: 80x24 and 120x40 for the dashboard, the empty state and the
key notice.
"""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import DataTable

from meterui.model import MeterModel
from meterui.pipeline import PipelineStats
from meterui.protocol import encode as E
from meterui.protocol.decoder import decode_bytes
from meterui.protocol.message import Message
from meterui.screens.live import KEY_MISSING_NOTICE, KEY_WRONG_NOTICE, LiveScreen, derive_notice
from meterui.widgets.linehealth import LineHealth
from meterui.widgets.obistable import (
    HEADER_ID,
    ObisTable,
    format_age,
    format_number,
    format_value,
    plan_columns,
    row_key,
)
from meterui.widgets.phasebars import PhaseBars
from meterui.widgets.powerplot import PowerPlot, time_ticks
from tests.apputil import run_async

VECTORS = Path(__file__).resolve().parent / "data" / "vectors"
T0 = 1_700_000_000.0  # the first frame's arrival time (fixed: ages and the plot are deterministic)
PUSH = 2.5
FRAMES = 40
NOW = T0 + (FRAMES - 1) * PUSH + 2.0  # two seconds after the last frame
SOURCE = "/dev/ttyUSB0 2400 8E1"


# -- data -----------------------------------------------------------------------------------------
def aidon_frame(i: int) -> bytes:
    """An Aidon-style list (OBIS, value, scaler-unit) whose values move with ``i``."""
    wave = [0, 1, 2, 3, 4, 3, 2, 1, 0, -1, -2, -3, -4, -3, -2, -1]
    w = wave[i % len(wave)]
    power = 1200 + 180 * w + (900 if 12 <= i < 20 else 0)
    export = max(0, 400 - 60 * i) if i < 8 else 0
    body = E.array([
        E.structure(E.obis("1.1.0.2.129.255"), E.visible("AIDON_V0001")),
        E.structure(E.obis("0.0.96.1.0.255"), E.visible("7359992890941742")),
        E.structure(E.obis("1.0.1.7.0.255"), E.u32(power), E.scaler_unit(0, 27)),
        E.structure(E.obis("1.0.2.7.0.255"), E.u32(export), E.scaler_unit(0, 27)),
        E.structure(E.obis("1.0.32.7.0.255"), E.u16(2329 + 3 * w), E.scaler_unit(-1, 35)),
        E.structure(E.obis("1.0.52.7.0.255"), E.u16(2319 - 2 * w), E.scaler_unit(-1, 35)),
        E.structure(E.obis("1.0.72.7.0.255"), E.u16(2320 + w), E.scaler_unit(-1, 35)),
        E.structure(E.obis("1.0.31.7.0.255"), E.i16(176 + 20 * w), E.scaler_unit(-2, 33)),
        E.structure(E.obis("1.0.51.7.0.255"), E.i16(211 - 10 * w), E.scaler_unit(-2, 33)),
        E.structure(E.obis("1.0.71.7.0.255"), E.i16(173 + 5 * w), E.scaler_unit(-2, 33)),
        E.structure(E.obis("1.0.1.8.0.255"), E.u32(7713000 + 3 * i), E.scaler_unit(1, 30)),
        E.structure(E.obis("1.0.2.8.0.255"), E.u32(868025), E.scaler_unit(0, 30)),
    ])
    return E.hdlc_frame(E.LLC + E.data_notification(body))


def timed(messages: list[Message], start: float, step: float = PUSH) -> list[Message]:
    for n, message in enumerate(messages):
        message.received = start + n * step
    return messages


def aidon_messages(count: int = FRAMES, start: float = T0) -> list[Message]:
    messages = decode_bytes(b"".join(aidon_frame(i) for i in range(count)))
    assert len(messages) == count and all(m.ok for m in messages), [m.error for m in messages]
    return timed(messages, start)


def kaifa_bytes(key: bool) -> tuple[bytes, bytes | None]:
    vectors = json.loads((VECTORS / "mbus.json").read_text())
    vec = next(v for v in vectors if v["id"] == ("vkw-kaifa-ma309m-testkey" if key else "vkw-kaifa-ma309m-real"))
    data = b"".join(bytes.fromhex(f) for f in vec["frames_hex"])
    return data, (bytes.fromhex(vec["key_hex"]) if key else None)


requires_vectors = pytest.mark.skipif(not (VECTORS / "mbus.json").is_file(), reason=f"no vectors at {VECTORS}")


def stats_for(messages: list[Message], **kw: object) -> PipelineStats:
    ok = [m for m in messages if m.ok]
    bad = [m for m in messages if not m.ok]
    stats = PipelineStats(source=SOURCE, bytes_received=sum(m.size for m in messages), frames_ok=len(ok),
                          frames_bad=len(bad), connected=True, mean_push_interval=PUSH if ok else None,
                          last_message_time=max((m.received or 0.0 for m in messages), default=None))
    for m in bad:
        assert m.error is not None
        stats.errors_by_layer[m.error.layer] = stats.errors_by_layer.get(m.error.layer, 0) + 1
        stats.decrypt_failures += m.error.layer == "crypto"
    for name, value in kw.items():
        setattr(stats, name, value)
    return stats


class LiveHost(App[None]):
    """Pushes a LiveScreen (no tick: snapshots must not move) and shows what it is given."""

    CURSOR_BLINK = False

    def __init__(self, model: MeterModel | None = None, stats: PipelineStats | None = None,
                 now: float = NOW, tick: float | None = None) -> None:
        super().__init__()
        self.model = model or MeterModel()
        self.stats = stats
        self.now = now
        self.live = LiveScreen(tick=tick)

    def on_mount(self) -> None:
        self.push_screen(self.live)
        self.live.refresh_view(self.model, self.stats, self.now)

    def feed(self, messages: list[Message], stats: PipelineStats | None = None, now: float | None = None) -> None:
        self.model.update(messages)
        if stats is not None:
            self.stats = stats
        if now is not None:
            self.now = now
        self.live.refresh_view(self.model, self.stats, self.now)


def dashboard_app() -> LiveHost:
    messages = aidon_messages()
    model = MeterModel()
    model.update(messages)
    return LiveHost(model, stats_for(messages))


def cell_text(table: DataTable, key: str, column: str) -> str:
    value = table.get_cell(key, column)
    return value.plain if hasattr(value, "plain") else str(value)


def screen_text(app: App) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


sync = run_async  # shared with the other pilot tests (tests/apputil.py)


# -- formatting -----------------------------------------------------------------------------------
def test_formatting() -> None:
    assert [format_number(v) for v in (232.9, 1.76, 77130, 232.0, 0.1 + 0.2, 11.23 * 1.0)] == \
        ["232.9", "1.76", "77130", "232.0", "0.3", "11.23"]
    assert format_number(77130.0, integer=True) == "77130"
    assert format_value("2023-08-21T23:23:00+02:00") == "2023-08-21 23:23:00+02:00"
    assert [format_age(s) for s in (None, -3, 2.7, 65, 3725, 90000)] == ["-", "0s", "2s", "1m05s", "1h02m", "1d01h"]
    assert time_ticks(100) == [0, 30, 60, 90]
    assert "min" in plan_columns(120).columns and "code" in plan_columns(120).columns
    assert "min" not in plan_columns(80).columns and "code" in plan_columns(80).columns
    assert plan_columns(60).columns == ("name", "value", "unit", "age")
    for width in (40, 60, 80, 100, 120, 200):
        layout = plan_columns(width)
        assert sum(w + 2 for w in layout.widths) <= max(width - 2, 58)
    assert math.isclose(time_ticks(3600)[1], 900)


# -- behaviour ------------------------------------------------------------------------------------
@sync
async def test_rows_update_in_place() -> None:
    messages = aidon_messages(12)
    app = LiveHost()
    async with app.run_test(size=(120, 40)) as pilot:
        app.feed(messages[:1], stats_for(messages[:1]), now=T0 + 1)
        await pilot.pause()
        table = app.live.query_one(ObisTable)
        assert table.display and table.row_count == 12
        key = row_key("7359992890941742", "1.0.1.7.0.255")
        assert cell_text(table, key, "value") == "1200"
        assert cell_text(table, key, "unit") == "W"
        assert cell_text(table, key, "age") == "1s"
        rebuilds = table.rebuilds
        for n in range(1, 12):
            app.feed(messages[n:n + 1], stats_for(messages[:n + 1]), now=T0 + n * PUSH + 3)
            await pilot.pause()
            assert table.row_count == 12  # stable: updated in place
        assert table.rebuilds == rebuilds
        assert cell_text(table, key, "value") == str(1200 + 180 * -3)  # i = 11
        assert cell_text(table, key, "min") == "660"
        assert cell_text(table, key, "max") == "1920"
        assert cell_text(table, key, "age") == "3s"
        volts = row_key("7359992890941742", "1.0.32.7.0.255")
        assert (cell_text(table, volts, "min"), cell_text(table, volts, "max")) == ("232.0", "234.1")
        await pilot.press("r")  # reset min/max
        assert cell_text(table, key, "min") == cell_text(table, key, "max") == "660"


@sync
async def test_two_meters_are_grouped() -> None:
    data, key = kaifa_bytes(key=True) if (VECTORS / "mbus.json").is_file() else (b"", None)
    kaifa = timed(decode_bytes(data, key=key), T0 + 1) if data else []
    ours = aidon_messages(3)
    app = LiveHost()
    async with app.run_test(size=(120, 40)) as pilot:
        app.feed(ours, stats_for(ours))
        await pilot.pause()
        table = app.live.query_one(ObisTable)
        assert table.row_count == 12  # one meter: no header
        if not kaifa:
            pytest.skip("no vectors")
        app.feed(kaifa, stats_for(ours + kaifa))
        await pilot.pause()
        assert table.row_count == 12 + 15 + 2
        keys = [r.key.value for r in table.ordered_rows]
        assert keys[0] == row_key("7359992890941742", HEADER_ID)
        assert keys[13] == row_key("4B464D1020003774", HEADER_ID)
        assert "4B464D1020003774" in screen_text(app)
        v = row_key("4B464D1020003774", "1.0.32.7.0.255")
        assert (cell_text(table, v, "value"), cell_text(table, v, "unit")) == ("232.9", "V")
        rebuilds = table.rebuilds
        app.feed(timed(aidon_messages(2), T0 + 20), stats_for(ours))
        await pilot.pause()
        assert table.row_count == 29 and table.rebuilds == rebuilds


@sync
async def test_empty_state() -> None:
    app = LiveHost(stats=PipelineStats(source=SOURCE, connected=True))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert f"Waiting for data from {SOURCE}" in text
        assert not app.live.query_one(ObisTable).display
        assert "No power readings yet" not in text  # compact strip at 80x24
    app = LiveHost(stats=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "Press s to choose the port" in screen_text(app)


@requires_vectors
@sync
async def test_encrypted_without_key_shows_notice() -> None:
    data, _ = kaifa_bytes(key=False)
    messages = timed(decode_bytes(data), T0)
    model = MeterModel()
    model.update(messages)
    stats = stats_for(messages)
    assert stats.decrypt_failures == 1 and derive_notice(model, stats) == KEY_MISSING_NOTICE
    app = LiveHost(model, stats)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "This meter encrypts its data" in text
        assert "Press s to enter the key from your grid operator" in text.replace("\n", " ").replace("│", "")
        assert "Waiting for data" not in text
        # with the right key the notice goes away and the table shows
        data, key = kaifa_bytes(key=True)
        good = timed(decode_bytes(data, key=key), T0 + 5)
        app.model.clear()
        app.feed(good, stats_for(good))
        await pilot.pause()
        assert app.live.notice is None and app.live.query_one(ObisTable).row_count == 15


def test_wrong_key_notice() -> None:
    from meterui.protocol.errors import DecryptionError
    from meterui.protocol.spans import Node

    failed = Message(0, "hdlc", [(0, 1)], Node("", "message", "frame", 0, 1), {"frame": b"\x7e"},
                     error=DecryptionError("authentication failed: check the keys"), received=T0)
    model = MeterModel()
    model.update([failed])
    assert derive_notice(model, stats_for([failed])) == KEY_WRONG_NOTICE
    ok = aidon_messages(1, start=T0 + 1)
    model.update(ok)
    assert derive_notice(model, stats_for([failed, *ok])) is None


@sync
async def test_80x24_keeps_table_and_health() -> None:
    app = dashboard_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.live
        table = screen.query_one(ObisTable)
        assert table.display and table.region.height >= 12 and table.region.width == 80
        assert "min" not in table.layout_columns and "name" in table.layout_columns
        assert screen.query_one(LineHealth).region.height == 2
        assert screen.query_one(PhaseBars).compact and not screen.query_one(PowerPlot).display
        text = screen_text(app)
        assert "Voltage L1" in text and "every 2.5s" in text and "connected" in text
        await pilot.press("c")  # full charts on demand
        await pilot.pause()
        assert not screen.query_one(PhaseBars).compact and screen.query_one(PowerPlot).display
        assert table.region.height >= 5


@sync
async def test_resize_relayouts_the_table() -> None:
    app = dashboard_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = app.live.query_one(ObisTable)
        assert "min" in table.layout_columns and not app.live.query_one(PhaseBars).compact
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert "min" not in table.layout_columns and table.row_count == 12
        assert app.live.query_one(PhaseBars).compact
        assert cell_text(table, row_key("7359992890941742", "1.0.32.7.0.255"), "value") == "233.2"


@sync
async def test_tick_keeps_ages_current() -> None:
    messages = aidon_messages(2)
    app = LiveHost(tick=0.2)  # faster than the app's 1 Hz, to keep the test short
    async with app.run_test(size=(80, 24)) as pilot:
        app.feed(messages, stats_for(messages), now=T0 + PUSH)
        await pilot.pause()
        table = app.live.query_one(ObisTable)
        key = row_key("7359992890941742", "1.0.1.7.0.255")
        assert cell_text(table, key, "age") == "0s"
        await pilot.pause(1.3)
        assert cell_text(table, key, "age") == "1s"
        assert "last frame 1s ago" in screen_text(app)


@sync
async def test_120x40_shows_everything() -> None:
    app = dashboard_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = app.live.query_one(ObisTable)
        assert table.layout_columns == ("code", "name", "value", "unit", "min", "max", "age")
        assert not app.live.query_one(PhaseBars).compact
        assert app.live.query_one(PowerPlot).draws == 1


@sync
async def test_plot_redraws_at_most_once_a_second() -> None:
    messages = aidon_messages(10)
    app = LiveHost()
    async with app.run_test(size=(120, 40)) as pilot:
        plot = app.live.query_one(PowerPlot)
        for n in range(10):
            app.feed(messages[n:n + 1], stats_for(messages[:n + 1]), now=T0 + n * PUSH)
        await pilot.pause()
        assert plot.draws == 1  # the first draw; the rest waits for the one-shot timer
        await pilot.pause(1.2)
        assert plot.draws == 2


# -- snapshots ------------------------------------------------------------------------------------
def test_snapshot_dashboard_80x24(snap_compare) -> None:
    assert snap_compare(dashboard_app(), terminal_size=(80, 24))


def test_snapshot_dashboard_120x40(snap_compare) -> None:
    assert snap_compare(dashboard_app(), terminal_size=(120, 40))


def empty_app() -> LiveHost:
    return LiveHost(stats=PipelineStats(source=SOURCE, connected=True))


def test_snapshot_empty_80x24(snap_compare) -> None:
    assert snap_compare(empty_app(), terminal_size=(80, 24))


def test_snapshot_empty_120x40(snap_compare) -> None:
    assert snap_compare(empty_app(), terminal_size=(120, 40))


def notice_app() -> LiveHost:
    data, _ = kaifa_bytes(key=False)
    messages = timed(decode_bytes(data), T0)
    model = MeterModel()
    model.update(messages)
    return LiveHost(model, stats_for(messages), now=T0 + 4)


@requires_vectors
def test_snapshot_notice_80x24(snap_compare) -> None:
    assert snap_compare(notice_app(), terminal_size=(80, 24))


@requires_vectors
def test_snapshot_notice_120x40(snap_compare) -> None:
    assert snap_compare(notice_app(), terminal_size=(120, 40))


# -- manual look: python tests/test_live.py 80 24 [dashboard|empty|notice] ------------------------
if __name__ == "__main__":
    import sys

    width, height = int(sys.argv[1]), int(sys.argv[2])
    which = sys.argv[3] if len(sys.argv) > 3 else "dashboard"

    async def show() -> None:
        app = {"dashboard": dashboard_app, "empty": empty_app, "notice": notice_app}[which]()
        async with app.run_test(size=(width, height)) as pilot:
            await pilot.pause()
            for key in sys.argv[4:]:
                await pilot.press(key)
                await pilot.pause()
            print(screen_text(app))

    asyncio.run(show())


def test_plot_survives_data_that_makes_plotext_fail() -> None:
    """plotext raises IndexError building the legend for a labelled series entirely outside the x range
    (what a looping replay produced): the chart shows a placeholder instead of crashing the app."""
    from textual.app import App as _App
    from textual_plotext import PlotextPlot as RawPlot

    from meterui.widgets.powerplot import PlotextPlot as SafePlot

    class Host(_App[None]):
        def compose(self):  # type: ignore[no-untyped-def]
            yield SafePlot()

    async def body() -> None:
        app = Host()
        async with app.run_test(size=(60, 20)):
            plot = app.query_one(SafePlot)
            plot.plt.plot([5.0, 6.0], [1.0, 2.0], label="import", marker="braille")
            plot.plt.xlim(-10, 0)
            with pytest.raises(IndexError):
                RawPlot.render(plot)  # the library itself fails on this data
            assert "chart unavailable" in str(plot.render())

    asyncio.run(body())
