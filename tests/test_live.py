"""The live dashboard: OBIS table updated in place, grouping, empty state, key notice, layouts.

A tiny host app pushes :class:`LiveScreen` (without its 1 Hz tick) and calls ``refresh_view`` with a
model fed by frames built with ``encode.py`` (and the Kaifa vector), with arrival times set by hand
so ages are deterministic. Snapshots: 80x24 and 120x40 for the dashboard, the empty state and the
key notice.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import math
from collections import deque
from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import DataTable, Static

from meterui.app import MeterApp
from meterui.config import Config
from meterui.messages import MessagesDecoded
from meterui.model import MeterModel
from meterui.pipeline import PipelineStats
from meterui.protocol import encode as E
from meterui.protocol.decoder import decode_bytes
from meterui.protocol.message import Message
from meterui.protocol.plausibility import MIN_ENERGY_SPAN_WH
from meterui.screens.live import KEY_MISSING_NOTICE, KEY_WRONG_NOTICE, LiveScreen, derive_notice
from meterui.widgets.formatting import format_age_coarse, format_error, format_reading
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

VECTORS = Path(__file__).with_name("data") / "live_kaifa_vectors.json"  # the Kaifa pair from shared/vectors/mbus.json
T0 = 1_700_000_000.0  # the first frame's arrival time (fixed: ages and the plot are deterministic)
PUSH = 2.5
FRAMES = 40
NOW = T0 + (FRAMES - 1) * PUSH + 2.0  # two seconds after the last frame
SOURCE = "/dev/ttyUSB0 2400 8E1"


# -- data -----------------------------------------------------------------------------------------
def aidon_frame(i: int, meter_id: str = "7359992890941742", volts: int = 2329) -> bytes:
    """An Aidon-style list (OBIS, value, scaler-unit) whose values move with ``i`` (``volts``: L1 in 0.1 V)."""
    wave = [0, 1, 2, 3, 4, 3, 2, 1, 0, -1, -2, -3, -4, -3, -2, -1]
    w = wave[i % len(wave)]
    power = 1200 + 180 * w + (900 if 12 <= i < 20 else 0)
    export = max(0, 400 - 60 * i) if i < 8 else 0
    body = E.array(
        [
            E.structure(E.obis("1.1.0.2.129.255"), E.visible("AIDON_V0001")),
            E.structure(E.obis("0.0.96.1.0.255"), E.visible(meter_id)),
            E.structure(E.obis("1.0.1.7.0.255"), E.u32(power), E.scaler_unit(0, 27)),
            E.structure(E.obis("1.0.2.7.0.255"), E.u32(export), E.scaler_unit(0, 27)),
            E.structure(E.obis("1.0.32.7.0.255"), E.u16(volts + 3 * w), E.scaler_unit(-1, 35)),
            E.structure(E.obis("1.0.52.7.0.255"), E.u16(2319 - 2 * w), E.scaler_unit(-1, 35)),
            E.structure(E.obis("1.0.72.7.0.255"), E.u16(2320 + w), E.scaler_unit(-1, 35)),
            E.structure(E.obis("1.0.31.7.0.255"), E.i16(176 + 20 * w), E.scaler_unit(-2, 33)),
            E.structure(E.obis("1.0.51.7.0.255"), E.i16(211 - 10 * w), E.scaler_unit(-2, 33)),
            E.structure(E.obis("1.0.71.7.0.255"), E.i16(173 + 5 * w), E.scaler_unit(-2, 33)),
            E.structure(E.obis("1.0.1.8.0.255"), E.u32(7713000 + 3 * i), E.scaler_unit(1, 30)),
            E.structure(E.obis("1.0.2.8.0.255"), E.u32(868025), E.scaler_unit(0, 30)),
        ]
    )
    return E.hdlc_frame(E.LLC + E.data_notification(body))


def timed(messages: list[Message], start: float, step: float = PUSH) -> list[Message]:
    for n, message in enumerate(messages):
        message.received = start + n * step
    return messages


def aidon_messages(count: int = FRAMES, start: float = T0, **kw: object) -> list[Message]:
    messages = decode_bytes(b"".join(aidon_frame(i, **kw) for i in range(count)))  # type: ignore[arg-type]
    assert len(messages) == count and all(m.ok for m in messages), [m.error for m in messages]
    return timed(messages, start)


def kaifa_bytes(key: bool) -> tuple[bytes, bytes | None]:
    vectors = json.loads(VECTORS.read_text())["vectors"]
    vec = next(v for v in vectors if v["id"] == ("vkw-kaifa-ma309m-testkey" if key else "vkw-kaifa-ma309m-real"))
    data = b"".join(bytes.fromhex(f) for f in vec["frames_hex"])
    return data, (bytes.fromhex(vec["key_hex"]) if key else None)


requires_vectors = pytest.mark.skipif(not VECTORS.is_file(), reason=f"no vectors at {VECTORS}")


def stats_for(messages: list[Message], **kw: object) -> PipelineStats:
    ok = [m for m in messages if m.ok]
    bad = [m for m in messages if not m.ok]
    stats = PipelineStats(
        source=SOURCE,
        bytes_received=sum(m.size for m in messages),
        frames_ok=len(ok),
        frames_bad=len(bad),
        connected=True,
        mean_push_interval=PUSH if ok else None,
        last_message_time=max((m.received or 0.0 for m in messages), default=None),
    )
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

    def __init__(
        self,
        model: MeterModel | None = None,
        stats: PipelineStats | None = None,
        now: float = NOW,
        tick: float | None = None,
    ) -> None:
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


async def wait_until(pilot: object, condition: object, timeout: float = 30.0) -> None:
    """Poll ``condition()`` between UI turns until it holds (no fixed pause: it holds under any load)."""
    for _ in range(int(timeout / 0.02)):
        if condition():  # type: ignore[operator]
            return
        await pilot.pause(0.02)  # type: ignore[attr-defined]
    raise AssertionError("condition not reached")


# -- formatting -----------------------------------------------------------------------------------
def test_formatting() -> None:
    assert [format_number(v) for v in (232.9, 1.76, 77130, 232.0, 0.1 + 0.2, 11.23 * 1.0)] == [
        "232.9",
        "1.76",
        "77130",
        "232.0",
        "0.3",
        "11.23",
    ]
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


def test_coarse_ages_and_remedy_first() -> None:
    assert [format_age_coarse(s) for s in (None, -3, 0, 9.9, 10, 59, 60, 3599, 3600, 86400 * 2)] == [
        "-",
        "<10s",
        "<10s",
        "<10s",
        "10s",
        "50s",
        "1m",
        "59m",
        "1h",
        "2d",
    ]
    # item 14: at 80x24 the remedy is what must survive the cut
    message = (
        "encrypted frame (security control 0x21, system title 4B464D1020003774): an encryption key "
        "is needed; pass --key or enter it in the setup wizard"
    )
    assert format_error(message).startswith("an encryption key is needed; pass --key")
    assert format_error(message).endswith("· encrypted frame (security control 0x21, system title 4B464D1020003774)")
    assert (
        format_error("truncated at offset 5: needed 3 byte(s), 4 available")
        == "truncated at offset 5: needed 3 byte(s), 4 available"
    )  # no remedy: unchanged
    assert format_error("no remedy here") == "no remedy here"


def test_energies_read_in_kwh() -> None:
    """Item 19: 12347660 Wh reads as 12347.660 kWh in the app."""
    assert format_reading(12347660, "Wh") == ("12347.660", "kWh")
    assert format_reading(868025.0, "varh") == ("868.025", "kvarh")
    assert format_reading(1380, "W") == ("1380", "W")
    assert format_reading("x", "Wh") == ("x", "Wh")


def test_constant_sparkline_looks_the_same_from_its_first_point() -> None:
    """Item 23: Textual draws one value as a full bar but a constant series as a flat line."""
    from rich.console import Console
    from textual.renderables.sparkline import Sparkline as SparkRender

    from meterui.widgets.phasebars import _tail

    def draw(values: list[float]) -> str:
        console = Console(width=10, color_system=None, file=io.StringIO())
        with console.capture() as capture:
            console.print(SparkRender(_tail(deque((float(i), v) for i, v in enumerate(values))), width=10))
        return capture.get().strip()

    assert draw([230.0]) == draw([230.0, 230.0, 230.0]) == "▁" * 10


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
        assert cell_text(table, key, "age") == "<10s"
        rebuilds = table.rebuilds
        for n in range(1, 12):
            app.feed(messages[n : n + 1], stats_for(messages[: n + 1]), now=T0 + n * PUSH + 3)
            await pilot.pause()
            assert table.row_count == 12  # stable: updated in place
        assert table.rebuilds == rebuilds
        assert cell_text(table, key, "value") == str(1200 + 180 * -3)  # i = 11
        assert cell_text(table, key, "min") == "660"
        assert cell_text(table, key, "max") == "1920"
        assert cell_text(table, key, "age") == "<10s"
        volts = row_key("7359992890941742", "1.0.32.7.0.255")
        assert (cell_text(table, volts, "min"), cell_text(table, volts, "max")) == ("232.0", "234.1")
        await pilot.press("r")  # reset min/max
        assert cell_text(table, key, "min") == cell_text(table, key, "max") == "660"


@sync
async def test_two_meters_are_grouped() -> None:
    data, key = kaifa_bytes(key=True) if VECTORS.is_file() else (b"", None)
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

    failed = Message(
        0,
        "hdlc",
        [(0, 1)],
        Node("", "message", "frame", 0, 1),
        {"frame": b"\x7e"},
        error=DecryptionError("authentication failed: check the keys"),
        received=T0,
    )
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
    app = LiveHost(tick=0.05)  # faster than the app's 1 Hz; the ages follow the screen's (fixed) clock
    clock = [1000.0]
    async with app.run_test(size=(80, 24)) as pilot:
        app.live.monotonic = lambda: clock[0]
        app.feed(messages, stats_for(messages), now=T0 + PUSH)
        await pilot.pause()
        table = app.live.query_one(ObisTable)
        key = row_key("7359992890941742", "1.0.1.7.0.255")
        assert cell_text(table, key, "age") == "<10s"
        clock[0] += 25.0  # 25 s pass on the screen's clock, whatever the wall clock and the load do
        await wait_until(pilot, lambda: cell_text(table, key, "age") == "20s")
        await wait_until(pilot, lambda: "last frame 25s ago" in screen_text(app))


@sync
async def test_quiet_tick_repaints_no_table_and_a_push_only_its_rows() -> None:
    """Issue #8: on a quiet line the 1 Hz tick must not repaint the table when no age text changes, and
    new values repaint only their rows (DataTable's update_cell re-renders every row: its update count is
    part of every cached render's key)."""
    messages = aidon_messages(3)
    app = LiveHost()
    clock = [1000.0]
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.live
        screen.monotonic = lambda: clock[0]
        app.feed(messages[:2], stats_for(messages[:2]), now=T0 + PUSH)
        await pilot.pause()
        table = screen.query_one(ObisTable)
        rendered: list[int] = []  # row index of every cell DataTable renders from now on
        render_cell = table._render_cell

        def counting(row_index: int, *args: object, **kw: object) -> object:
            rendered.append(row_index)
            return render_cell(row_index, *args, **kw)  # type: ignore[arg-type]

        table._render_cell = counting  # type: ignore[method-assign]
        for _ in range(5):  # five quiet seconds
            clock[0] += 1.0
            screen._on_tick()
        await pilot.pause()
        assert rendered == []  # the ages still read "<10s": nothing to repaint
        assert "last frame 5s ago" in screen_text(app)  # the health strip still counts seconds
        app.feed(messages[2:3], stats_for(messages), now=T0 + 2 * PUSH)  # power, volts, amps change
        await pilot.pause()
        meter = "7359992890941742"
        assert table.get_row_index(row_key(meter, "1.0.32.7.0.255")) in rendered
        assert table.get_row_index(row_key(meter, "0.0.96.1.0.255")) not in rendered  # the meter ID row: same
        text = screen_text(app)
        assert "1380" not in text and str(1200 + 180 * 2) in text  # the new power is what shows
        rendered.clear()
        clock[0] += 10.0
        screen._on_tick()
        await pilot.pause()
        assert rendered and "10s" in screen_text(app)  # now every age reads "10s", on screen too


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
async def test_plot_redraws_at_most_once_per_min_redraw() -> None:
    messages = aidon_messages(10)
    app = LiveHost()
    async with app.run_test(size=(120, 40)) as pilot:
        plot = app.live.query_one(PowerPlot)
        plot.min_redraw = 3600.0  # so no load can make the pending redraw due during the test
        for n in range(10):
            app.feed(messages[n : n + 1], stats_for(messages[: n + 1]), now=T0 + n * PUSH)
        await pilot.pause()
        assert plot.draws == 1 and plot._pending is not None  # the first draw; the rest waits for one timer
    app = LiveHost()
    async with app.run_test(size=(120, 40)) as pilot:
        plot = app.live.query_one(PowerPlot)
        plot.min_redraw = 0.05
        for n in range(10):
            app.feed(messages[n : n + 1], stats_for(messages[: n + 1]), now=T0 + n * PUSH)
        await wait_until(pilot, lambda: plot.draws >= 2 and plot._pending is None)  # the pending redraw comes


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


# -- issue #6 items 10, 11, 19 and issue #8 (first readings) ---------------------------------------
OTHER = "7359992890000002"  # a second meter, 10 V lower than the first


def two_meters() -> tuple[list[Message], list[Message]]:
    first = aidon_messages(4)
    second = aidon_messages(4, start=T0 + 1, meter_id=OTHER, volts=2229)  # heard last
    return first, second


@sync
async def test_charts_follow_the_selected_meter_and_name_it() -> None:
    """Item 11: with two meters the charts must not follow whichever meter sent last, unlabelled."""
    first, second = two_meters()
    app = LiveHost()
    async with app.run_test(size=(80, 24)) as pilot:
        app.feed(first + second, stats_for(first + second), now=T0 + 12)
        await pilot.pause()
        screen, table = app.live, app.live.query_one(ObisTable)
        phases = screen.query_one(PhaseBars)
        first_id = first[0].meter
        assert first_id is not None and screen.chart_meter == first_id  # the cursor is on the first group
        volts = cell_text(table, row_key(first_id, "1.0.32.7.0.255"), "value")
        strip = str(phases.query_one("#compact-phases", Static).render())
        assert f"L1 {volts} V" in strip and "meter …90941742" in strip
        assert cell_text(table, row_key(OTHER, "1.0.32.7.0.255"), "value") not in strip
        # select a row of the other meter: the charts follow it
        table.move_cursor(row=table.get_row_index(row_key(OTHER, "1.0.32.7.0.255")))
        await pilot.pause()
        assert screen.chart_meter == OTHER
        strip = str(phases.query_one("#compact-phases", Static).render())
        other_volts = cell_text(table, row_key(OTHER, "1.0.32.7.0.255"), "value")
        assert f"L1 {other_volts} V" in strip and "meter …90000002" in strip and other_volts != volts
        await pilot.press("c")  # full charts: a line names the meter, the plot title too
        await pilot.pause()
        assert f"Meter {OTHER}" in screen_text(app)
        assert screen.query_one(PowerPlot).meter == OTHER


@sync
async def test_energy_rows_read_in_kwh() -> None:
    messages = aidon_messages(3)
    app = LiveHost()
    async with app.run_test(size=(120, 40)) as pilot:
        app.feed(messages, stats_for(messages))
        await pilot.pause()
        table = app.live.query_one(ObisTable)
        key = row_key("7359992890941742", "1.0.1.8.0.255")
        assert (cell_text(table, key, "value"), cell_text(table, key, "unit")) == ("77130.060", "kWh")
        assert (cell_text(table, key, "min"), cell_text(table, key, "max")) == ("77130.000", "77130.060")
        state = app.model.get("1.0.1.8.0.255")
        assert state is not None and (state.value, state.unit) == (77130060, "Wh")  # the model keeps Wh


class FeedApp(MeterApp):
    """The real app without a source: tests post :class:`MessagesDecoded` batches to it by hand."""

    CURSOR_BLINK = False
    LIVE_TICK = None
    START_DELAY = None

    def __init__(self) -> None:
        super().__init__(lambda _cfg: None, Config(), clock=lambda: NOW)

    def deliver(self, messages: list[Message], seen: list[Message]) -> None:
        self.post_message(MessagesDecoded(messages, stats_for(seen)))


@sync
async def test_first_batch_shows_without_waiting_for_the_refresh_timer() -> None:
    """Issue #8: the first readings show as soon as they are decoded, not when the 250 ms timer fires."""
    messages = aidon_messages(2)
    app = FeedApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.deliver(messages[:1], messages[:1])
        await pilot.pause()  # one turn of the event loop: no timer can have fired here
        table = app.screen.query_one(ObisTable)
        assert table.display and table.row_count == 12


@sync
async def test_back_from_the_inspector_shows_current_numbers_at_once() -> None:
    """Item 10: no stale numbers for a moment when coming back to the live screen."""
    messages = aidon_messages(3)
    app = FeedApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.deliver(messages[:1], messages[:1])
        live = app.screen
        table = live.query_one(ObisTable)
        key = row_key("7359992890941742", "1.0.1.7.0.255")
        await wait_until(pilot, lambda: table.row_count == 12)
        assert cell_text(table, key, "value") == "1200"
        await pilot.press("i")
        await wait_until(pilot, lambda: app.screen is not live)
        app.deliver(messages[1:3], messages[:3])  # new frames while the inspector is up
        await wait_until(pilot, lambda: app.model.messages == 3)
        await pilot.press("l")
        await wait_until(pilot, lambda: app.screen is live)
        assert cell_text(table, key, "value") == "1560"  # already current: no refresh timer was waited for


@sync
async def test_deferred_table_shows_the_model_that_exists_and_charts_come_after() -> None:
    """Issue #8: the deferred table renders the model it finds (nobody calls refresh_view here); the
    charts (and plotext) are mounted only once the readings are shown."""
    model = MeterModel()
    model.update(aidon_messages(2))

    class Host(App[None]):
        CURSOR_BLINK = False

        def __init__(self) -> None:
            super().__init__()
            self.model, self.stats, self.now = model, None, NOW
            self.live = LiveScreen(tick=None, defer=0.01)

        def on_mount(self) -> None:
            self.push_screen(self.live)

    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        live = app.live
        await wait_until(pilot, lambda: live._table is not None and live._table.row_count == 12, timeout=5)
        await wait_until(pilot, lambda: live._plot is not None and live._plot.draws == 1, timeout=5)
        assert live.query_one(ObisTable).display and "Voltage L1" in screen_text(app)


@sync
async def test_inspector_state_says_which_row_is_shown() -> None:
    """Item 23: the status said ``20/20`` while ``#18`` was shown: it must say where the shown one is."""
    messages = aidon_messages(5)
    app = FeedApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.deliver(messages, messages)
        await wait_until(pilot, lambda: app.model.messages == 5)
        await pilot.press("i")
        state = app.screen.query_one("#state", Static)
        await wait_until(pilot, lambda: str(state.render()).startswith("row 5/5"))
        await pilot.press("p")  # the previous message
        await wait_until(pilot, lambda: str(state.render()).startswith("row 4/5"))


# -- plausibility (issue #9) ---------------------------------------------------------------------------
def _plausibility_app(messages: list[Message]) -> LiveHost:
    model = MeterModel()
    model.update(messages)
    return LiveHost(model, stats_for(messages), now=(messages[-1].received or T0) + 2.0)


@sync
async def test_values_off_by_a_power_of_ten_show_a_warning() -> None:
    """Voltage sent in 0.01 V read as 0.1 V (2329 V), and an energy counter growing ~9× the integrated power
    (30 Wh per push of ~1.4 kW every 9 s): both are named, with the override that would fix them."""
    messages = timed(aidon_messages(volts=23290), T0, step=9.0)
    app = _plausibility_app(messages)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        notice = app.live.notice or ""
        assert "Voltage looks off by a power of ten" in notice and "--scale voltage=0.1" in notice
        assert "Energy looks off by a power of ten" in notice and "--scale energy=0.1" in notice
        assert "setup wizard" in notice
        text = screen_text(app)
        assert "Voltage looks off by a power of ten" in text and "Voltage L1" in text  # the table still shows
        assert app.live.query_one(ObisTable).display


@sync
async def test_plausible_values_show_no_warning() -> None:
    """The same lists pushed every 90 s: 30 Wh per push matches ~1.4 kW, and 232.9 V is a voltage."""
    messages = timed(aidon_messages(), T0, step=90.0)
    app = _plausibility_app(messages)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.live.notice is None
        assert "looks off" not in screen_text(app)
        # judged, not skipped for lack of data: the integrated power is above the check's minimum
        power = list(app.model.history("1.0.1.7.0.255"))
        integral_wh = sum((pa + pb) / 2 * (tb - ta) for (ta, pa), (tb, pb) in itertools.pairwise(power)) / 3600
        assert integral_wh > MIN_ENERGY_SPAN_WH


# -- idle CPU helpers (issue #8) -------------------------------------------------------------------
def test_thinned_plot_points_keep_every_column_extreme_in_time_order() -> None:
    import random

    from meterui.widgets.powerplot import thin

    rng = random.Random(8)
    xs = [-1500 + 2.5 * i for i in range(600)]
    ys = [rng.uniform(0, 5000) for _ in xs]
    ys[333] = 99_999.0  # a one-push spike
    ys[100] = -5.0
    tx, ty = thin(xs, ys, -1500.0, 0.0, 100)
    assert len(tx) <= 4 * 100 < len(xs)
    assert tx == sorted(tx) and set(zip(tx, ty, strict=True)) <= set(zip(xs, ys, strict=True))
    assert max(ty) == 99_999.0 and min(ty) == -5.0
    assert (tx[0], tx[-1]) == (xs[0], xs[-1])
    scale = 100 / 1500.0  # columns per second, as thin() computes them

    def col(x: float) -> int:
        return min(99, int((x + 1500) * scale))

    for column in range(100):  # each column keeps its own lowest and highest value
        inside = [y for x, y in zip(xs, ys, strict=True) if col(x) == column]
        kept = [y for x, y in zip(tx, ty, strict=True) if col(x) == column]
        assert (min(kept), max(kept)) == (min(inside), max(inside))


def test_thinned_flat_series_is_its_two_ends_and_short_series_are_kept_whole() -> None:
    from meterui.widgets.powerplot import thin

    xs = [float(i) for i in range(600)]
    assert thin(xs, [0.0] * 600, 0.0, 600.0, 100) == ([0.0, 599.0], [0.0, 0.0])
    few = [1.0, 2.0, 1.0]
    assert thin(xs[:3], few, 0.0, 3.0, 100) == (xs[:3], few)
    steps = [0.0, 0.0, 0.0, 5.0, 5.0, 5.0]  # flat runs lose their middles only
    assert thin(xs[:6], steps, 0.0, 6.0, 100) == ([0.0, 2.0, 3.0, 5.0], [0.0, 0.0, 5.0, 5.0])


@pytest.mark.parametrize("age", [0.0, 3.2, 9.99, 10.0, 47.5, 59.0, 61.0, 3599.5, 3600.0, 86399.0, 90000.0])
def test_next_coarse_change_is_when_the_age_text_changes(age: float) -> None:
    from meterui.widgets.formatting import format_age_coarse, next_coarse_change

    wait = next_coarse_change(age)
    assert wait > 0
    assert format_age_coarse(age + wait * 0.999) == format_age_coarse(age)
    assert format_age_coarse(age + wait) != format_age_coarse(age)


@sync
async def test_table_shows_text_with_brackets_as_it_is_not_as_markup() -> None:
    # a visible-string value or a generic name with […] in it must not be read as Rich markup (a lost or
    # restyled text is a wrong value); the cells are Text objects, as the values' were
    messages = aidon_messages(1)
    first = messages[0]
    reading = first.readings[1]
    reading.name = "[bold]Meter[/bold] [b]id"
    app = LiveHost()
    async with app.run_test(size=(120, 40)) as pilot:
        app.feed(messages, stats_for(messages), now=T0)
        await pilot.pause()
        assert "[bold]Meter[/bold] [b]id" in screen_text(app)


@sync
async def test_quiet_ticks_redraw_the_plot_only_when_its_time_axis_has_drifted() -> None:
    from meterui.widgets.powerplot import AXIS_DRIFT

    messages = aidon_messages(3)
    app = LiveHost()
    clock = [1000.0]
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.live
        screen.monotonic = lambda: clock[0]
        app.feed(messages, stats_for(messages), now=T0 + 2 * PUSH)
        await pilot.pause()
        plot = screen.query_one(PowerPlot)
        plot.min_redraw = 0.0
        await wait_until(pilot, lambda: plot.draws >= 1 and plot._pending is None)
        drawn = plot.draws
        for _ in range(int(AXIS_DRIFT) - 1):  # quiet seconds: "time ago" has not moved enough
            clock[0] += 1.0
            screen._on_tick()
        await pilot.pause()
        assert plot.draws == drawn
        clock[0] += 1.5
        screen._on_tick()
        await pilot.pause()
        assert plot.draws == drawn + 1  # the axis keeps up with the clock


@sync
async def test_health_strip_shows_the_age_only_once_a_frame_is_overdue() -> None:
    """On time, the strip says how often frames come and a quiet second repaints nothing (issue #8: idle
    CPU); once 1.5 push intervals have passed without a frame, it shows the age and counts it up."""
    messages = aidon_messages(3)
    app = LiveHost()
    clock = [1000.0]
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.live
        screen.monotonic = lambda: clock[0]
        app.feed(messages, stats_for(messages), now=T0 + 2 * PUSH)
        await pilot.pause()
        health = screen.query_one(LineHealth)
        shown = health._shown
        assert "every 2.5s" in screen_text(app) and "last frame" not in screen_text(app)
        clock[0] += 1.0
        screen._on_tick()
        clock[0] += 1.0
        screen._on_tick()
        await pilot.pause()
        assert health._shown is shown  # two quiet seconds on time: the strip was not touched
        clock[0] += 2.0  # 4 s > 1.5 × 2.5 s
        screen._on_tick()
        await pilot.pause()
        assert "last frame 4s ago" in screen_text(app)
        clock[0] += 1.0
        screen._on_tick()
        await pilot.pause()
        assert "last frame 5s ago" in screen_text(app)


@requires_vectors
@sync
async def test_rows_a_push_does_not_change_keep_their_ages_current() -> None:
    # a push of one meter skips the other meter's unchanged rows (idle CPU), but not their ages
    aidon = aidon_messages(1)
    data, key = kaifa_bytes(key=True)
    kaifa = timed(decode_bytes(data, key=key), T0 + 12)
    app = LiveHost()
    async with app.run_test(size=(120, 40)) as pilot:
        app.feed(aidon, stats_for(aidon), now=T0)
        await pilot.pause()
        table = app.live.query_one(ObisTable)
        key_row = row_key("7359992890941742", "1.0.1.7.0.255")
        assert cell_text(table, key_row, "age") == "<10s"
        value = cell_text(table, key_row, "value")
        app.feed(kaifa, stats_for(aidon + kaifa), now=T0 + 12)
        await pilot.pause()
        assert cell_text(table, key_row, "age") == "10s"  # 12 s old now, though its reading did not change
        assert cell_text(table, key_row, "value") == value != ""
