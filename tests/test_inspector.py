"""InspectorScreen: list ↔ tree ↔ hex linking, stepping, filters, search, failures; snapshots."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC
from pathlib import Path

from textual.app import App
from textual.coordinate import Coordinate
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from meterui.framestore import FrameStore, error_spans, find_in_message
from meterui.protocol.decoder import decode_bytes
from meterui.protocol.message import Message
from meterui.protocol.spans import Span
from meterui.screens.inspector import InspectorScreen, PromptScreen
from meterui.widgets.frametree import FrameTree
from meterui.widgets.hexview import HexView
from tests.apputil import run_async

FRAMES = json.loads((Path(__file__).with_name("data") / "ui_frames.json").read_text())
"""Frames copied from the shared test vectors (see the note inside the file)."""
KEY = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
NARROW = (80, 24)
WIDE = (120, 40)


def _messages() -> list[Message]:
    """#0 Kamstrup list 1, #1 the same corrupted (FCS mismatch), #2 Kamstrup list 2, #3 the encrypted M-Bus pair."""
    frames = [bytes.fromhex(h) for h in FRAMES["hdlc"]]
    bad = bytearray(frames[1])
    bad[40] ^= 0xFF
    data = frames[0] + bytes(bad) + frames[3] + b"".join(bytes.fromhex(h) for h in FRAMES["mbus_testkey"])
    return decode_bytes(data, KEY)


class HostApp(App[None]):
    """A tiny app that shows the inspector over a fixed set of messages."""

    CURSOR_BLINK = False

    def __init__(self, store: FrameStore | None = None) -> None:
        super().__init__()
        self.frames = store if store is not None else FrameStore(KEY)
        if store is None:
            self.frames.add(_messages())

    def on_mount(self) -> None:
        self.push_screen(InspectorScreen(timezone=UTC))  # times on screen independent of the machine


_sync = run_async  # shared with the other pilot tests (tests/apputil.py)


def _parts(app: App[None]) -> tuple[InspectorScreen, FrameTree, HexView]:
    screen = app.screen
    assert isinstance(screen, InspectorScreen)
    return screen, screen.frame_tree, screen.hexview


def _status(screen: InspectorScreen) -> str:
    return str(screen.query_one("#status").render())


@_sync
async def test_follows_newest_and_fits_80x24() -> None:
    app = HostApp()
    async with app.run_test(size=NARROW) as pilot:
        await pilot.pause()
        screen, tree, hexview = _parts(app)
        assert screen.selected == 3 and screen.following
        assert isinstance(screen.table, DataTable) and screen.table.row_count == 4
        for widget in (screen.table, tree, hexview, screen.query_one("#status")):
            region = widget.region
            assert region.height >= 1 and region.bottom <= 23 and region.right <= 80, widget
        assert hexview.scrollable_content_region.height >= 6 and tree.scrollable_content_region.height >= 6


@_sync
async def test_tree_to_hex() -> None:
    app = HostApp()
    async with app.run_test(size=NARROW) as pilot:
        await pilot.pause()
        _, tree, hexview = _parts(app)
        tree.focus()
        await pilot.press("down", "enter", "down", "down", "down")  # frame1 → expand → start, length, …
        await pilot.pause()
        node = tree.cursor_node
        assert node is not None and node.data is not None
        assert node.data.path == "frame1/length_repeat"
        assert hexview.selected_span == node.data.span == Span("frame1", 2, 3)
        assert hexview.cursor == ("frame1", 2)


@_sync
async def test_hex_to_tree() -> None:
    app = HostApp()
    async with app.run_test(size=NARROW) as pilot:
        await pilot.pause()
        screen, tree, hexview = _parts(app)
        msg = screen.message
        assert msg is not None
        hexview.focus()
        await pilot.press("right", "right", "right", "j")  # offset 3, then one row (16 bytes) down
        await pilot.pause()
        assert hexview.cursor == ("frame1", 19)
        node = tree.cursor_node
        assert node is not None and node.data is msg.root.deepest_at("frame1", 19)
        assert hexview.selected_span == node.data.span
        # into the decrypted APDU: the tree follows across buffers
        hexview.set_cursor("apdu", 22)
        await pilot.pause()
        node = tree.cursor_node
        assert node is not None and node.data is msg.root.deepest_at("apdu", 22)
        assert node.data.buffer == "apdu"


@_sync
async def test_hex_click_moves_cursor() -> None:
    app = HostApp()
    async with app.run_test(size=NARROW) as pilot:
        await pilot.pause()
        _, tree, hexview = _parts(app)
        # second data row, third byte: offset column (4) + 2 spaces + 2 bytes × 3
        await pilot.click(HexView, offset=(4 + 2 + 2 * 3, 2))
        await pilot.pause()
        assert hexview.cursor == ("frame1", 18)
        assert tree.cursor_node is not None and tree.cursor_node.data is not None
        assert tree.cursor_node.data.start <= 18 < tree.cursor_node.data.end


@_sync
async def test_step_next_previous_and_live_append() -> None:
    app = HostApp()
    async with app.run_test(size=NARROW) as pilot:
        await pilot.pause()
        screen, _, _ = _parts(app)
        await pilot.press("p", "p")
        assert screen.selected == 1 and not screen.following
        await pilot.press("n")
        assert screen.selected == 2
        # new messages arrive: the selection stays
        app.frames.add(_messages())
        screen.sync()
        await pilot.pause()
        assert screen.selected == 2 and screen.table.row_count == 8
        assert screen.table.cursor_row == 2
        # back on the last row: following again
        await pilot.press("ctrl+end")
        await pilot.pause()
        assert screen.selected == 7 and screen.following
        app.frames.add(_messages()[:1])
        screen.sync()
        await pilot.pause()
        assert screen.selected == 8
        await pilot.press("p", "p", "G")  # G: back to the newest, following
        assert screen.selected == 8 and screen.following


@_sync
async def test_bounded_store_evicts_rows_and_keeps_selection() -> None:
    store = FrameStore(KEY, max_full=3, max_index=6)
    store.add(_messages())
    app = HostApp(store)
    async with app.run_test(size=NARROW) as pilot:
        await pilot.pause()
        screen, _, _ = _parts(app)
        await pilot.press("p")
        assert screen.selected == 2
        store.add(_messages()[:2])  # numbers 4, 5; nothing dropped yet
        store.add(_messages()[:1])  # number 6; #0 dropped
        screen.sync()
        await pilot.pause()
        assert screen.table.row_count == 6 == len(store)
        assert screen.selected == 2
        assert screen.table.coordinate_to_cell_key(screen.table.cursor_coordinate).row_key.value == "2"


@_sync
async def test_filter_bad_only() -> None:
    app = HostApp()
    async with app.run_test(size=NARROW) as pilot:
        await pilot.pause()
        screen, _, _ = _parts(app)
        await pilot.press("f")
        await pilot.pause()
        assert screen.verdict_filter == "bad"
        assert screen.table.row_count == 1 and screen.selected == 1
        await pilot.press("f")
        await pilot.pause()
        assert screen.verdict_filter == "ok" and screen.table.row_count == 3
        await pilot.press("F")  # protocol filter: hdlc
        await pilot.pause()
        assert screen.protocol_filter == "hdlc" and screen.table.row_count == 2


@_sync
async def test_search_obis_then_next_hit() -> None:
    app = HostApp()
    async with app.run_test(size=NARROW) as pilot:
        await pilot.pause()
        screen, tree, hexview = _parts(app)
        await pilot.press("slash")
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        app.screen.query_one(Input).value = "1-1:1.7.0"
        await pilot.press("enter")
        await pilot.pause()
        assert screen.selected == 0  # wraps around from #3 to the first hit
        node = tree.cursor_node
        assert node is not None and node.data is not None
        msg = screen.message
        assert msg is not None
        reading = next(r for r in msg.readings if r.id == "1.1.1.7.0.255")
        assert node.data is reading.node
        assert hexview.marks == [reading.node.span]
        await pilot.press("N")
        await pilot.pause()
        assert screen.selected == 2


@_sync
async def test_search_hex_string() -> None:
    app = HostApp()
    async with app.run_test(size=NARROW) as pilot:
        await pilot.pause()
        screen, _, hexview = _parts(app)
        await pilot.press("p", "p", "p")
        assert screen.selected == 0
        await pilot.press("slash")
        await pilot.pause()
        app.screen.query_one(Input).value = "0x4B464D"
        await pilot.press("enter")
        await pilot.pause()
        assert screen.selected == 3
        assert hexview.marks == [Span("frame1", 11, 14)]


@_sync
async def test_goto_frame() -> None:
    app = HostApp()
    async with app.run_test(size=NARROW) as pilot:
        await pilot.pause()
        screen, _, _ = _parts(app)
        await pilot.press("f", "g")  # filter bad-only hides #2: going there clears the filter
        await pilot.pause()
        await pilot.press("2", "enter")
        await pilot.pause()
        assert screen.selected == 2 and screen.verdict_filter == "all"
        assert not screen.show_index(99)


@_sync
async def test_encrypted_frame_shows_apdu_section() -> None:
    app = HostApp()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        screen, tree, hexview = _parts(app)
        assert screen.has_class("-wide")
        assert tree.region.y == hexview.region.y  # side by side
        msg = screen.message
        assert msg is not None and msg.encrypted
        assert list(hexview.message.buffers if hexview.message else []) == ["frame1", "frame2", "payload", "apdu"]
        hexview.focus()
        await pilot.press("end")
        await pilot.pause()
        assert hexview.cursor == ("apdu", 335)
        line = hexview.line_of("apdu", 0)
        assert line is not None
        header = hexview.render_line(line - 1 - hexview.scroll_offset.y).text
        assert "apdu (decrypted) · 336 bytes" in header
        assert "decrypted" in _status(screen)


@_sync
async def test_failed_frame_shows_layer_and_bytes() -> None:
    app = HostApp()
    async with app.run_test(size=NARROW) as pilot:
        await pilot.pause()
        screen, tree, hexview = _parts(app)
        await pilot.press("p", "p")
        await pilot.pause()
        assert screen.selected == 1
        status = _status(screen)  # the remedy first (issue #6 item 14), then the fault
        assert status.startswith("frame error: ") and status.endswith("FCS mismatch") and "baud rate" in status
        assert Span("frame", 225, 227) in hexview.error_spans
        node = tree.cursor_node
        assert node is not None and node.data is not None and node.data.key == "fcs"
        assert hexview.selected_span == Span("frame", 225, 227)


def test_big_buffer_renders_only_the_visible_rows() -> None:
    """Only visible lines are rendered: a 2 KB buffer costs what a small one does (speed: bench/)."""
    from meterui.protocol import encode

    info = encode.LLC + encode.data_notification(encode.octets(bytes(range(256)) * 7))
    msg = decode_bytes(encode.hdlc_frame(info))[0]
    assert len(msg.buffers["frame"]) > 1800
    rendered: list[int] = []

    class Counting(HexView):
        def _row_segments(self, line, base):  # type: ignore[no-untyped-def]
            rendered.append(line.start)
            return super()._row_segments(line, base)

    class One(App[None]):
        def compose(self):  # type: ignore[no-untyped-def]
            yield Counting()

    async def run() -> None:
        async with One().run_test(size=NARROW) as pilot:
            hexview = pilot.app.query_one(HexView)
            hexview.show_message(msg)
            await pilot.pause()
            height = hexview.scrollable_content_region.height
            assert rendered and len(set(rendered)) <= height  # the first screen only, of 115+ rows
            assert max(rendered) < height * hexview.bytes_per_row
            hexview.focus()
            for _ in range(20):
                await pilot.press("pagedown")
            await pilot.pause()
            assert hexview.cursor is not None
            line = hexview.line_of(*hexview.cursor)
            assert line is not None and line >= height and line in _visible_lines(hexview)  # paged, and in view

    asyncio.run(run())


# -- snapshots ------------------------------------------------------------------------------------
def test_snapshot_narrow(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(HostApp(), terminal_size=NARROW)


def test_snapshot_narrow_failed_frame(snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.pause()
        await pilot.press("p", "p")
        await pilot.pause()

    assert snap_compare(HostApp(), terminal_size=NARROW, run_before=run_before)


def test_snapshot_wide_decrypted(snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.pause()
        pilot.app.screen.hexview.focus()
        pilot.app.screen.hexview.set_cursor("apdu", 22)
        await pilot.pause()

    assert snap_compare(HostApp(), terminal_size=WIDE, run_before=run_before)


def test_list_is_a_window_over_a_big_store(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The table lists at most _LIST_ROWS messages; going to an older one moves the window."""
    import meterui.screens.inspector as inspector

    monkeypatch.setattr(inspector, "_LIST_ROWS", 3)
    store = FrameStore(KEY)
    for _ in range(3):
        store.add(_messages())  # 12 messages

    async def run() -> None:
        app = HostApp(store)
        async with app.run_test(size=NARROW) as pilot:
            await pilot.pause()
            screen, _, _ = _parts(app)
            assert screen.table.row_count == 3 and screen.selected == 11
            assert screen.show_index(1)
            await pilot.pause()
            assert screen.selected == 1 and not screen.following and screen.table.row_count == 3
            store.add(_messages()[:1])
            screen.sync()
            assert screen.selected == 1  # an older window: new messages are counted, not listed
            await pilot.press("G")
            await pilot.pause()
            assert screen.selected == 12 and screen.following

    asyncio.run(run())


# -- issue #6 part A: search hits, faulty bytes in view, pane widths, time zones -----------------
def _visible_lines(hexview: HexView) -> range:
    top = hexview.scroll_offset.y
    return range(top, top + hexview.scrollable_content_region.height)


@_sync
async def test_hex_search_selects_the_matched_bytes_not_the_whole_field() -> None:
    msg = _messages()[3]  # the decrypted M-Bus message (#3)
    # three bytes from the middle of a longer field, found first there in this message
    leaf = next(
        n
        for n in msg.root.leaves()
        if n.end - n.start >= 6
        and isinstance(find_in_message(msg, msg.buffers[n.buffer][n.start + 1 : n.start + 4].hex()), Span)
        and find_in_message(msg, msg.buffers[n.buffer][n.start + 1 : n.start + 4].hex())
        == Span(n.buffer, n.start + 1, n.start + 4)
    )
    needle = msg.buffers[leaf.buffer][leaf.start + 1 : leaf.start + 4].hex(" ")
    app = HostApp()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        screen, tree, hexview = _parts(app)
        assert screen.selected == 3
        await pilot.press("slash", *needle, "enter")
        await pilot.pause()
        await pilot.pause()
        hit = Span(leaf.buffer, leaf.start + 1, leaf.start + 4)
        assert screen.selected == 3 and hexview.marks == [hit]
        assert hexview.selected_span == hit  # the matched bytes, not the whole field
        node = tree.cursor_node
        shown = screen.message
        assert shown is not None and node is not None
        assert node.data is shown.root.deepest_at(leaf.buffer, leaf.start + 1)
        assert node.data is not None and node.data.span == leaf.span
        # moving in the tree afterwards selects whole fields again
        tree.focus()
        await pilot.press("up")
        await pilot.pause()
        assert tree.cursor_node is not None and tree.cursor_node.data is not None
        assert hexview.selected_span == tree.cursor_node.data.span


@_sync
async def test_a_failed_frame_opens_scrolled_to_its_faulty_bytes() -> None:
    for size in (WIDE, NARROW):
        store = FrameStore(KEY)
        store.add(_messages()[1:2])  # the FCS mismatch: its faulty bytes are the last two of 229
        app = HostApp(store)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await pilot.pause()
            screen, _, hexview = _parts(app)
            msg = screen.message
            assert msg is not None and msg.error is not None
            fault = error_spans(msg)[0]
            assert fault.start > 200
            line = hexview.line_of(fault.buffer, fault.start)
            assert line is not None and line in _visible_lines(hexview), size


@_sync
async def test_pane_widths_fit_their_content() -> None:
    app = HostApp()
    for size, per_row in (((120, 40), 8), ((160, 45), 16), ((80, 24), 16)):
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await pilot.pause()
            _, tree, hexview = _parts(app)
            assert hexview.bytes_per_row == per_row and hexview.shows_ascii, size
            if size[0] >= 120:  # side by side: no empty columns in the hex pane, the tree has the rest
                empty = hexview.scrollable_content_region.width - hexview.virtual_size.width
                assert 0 <= empty <= 1, (size, empty)
                assert tree.region.width >= 78 and tree.region.right == hexview.region.x
            else:
                assert hexview.region.width == size[0]
        app = HostApp()


def test_arrival_times_are_local_unless_a_zone_is_given(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from meterui.screens.inspector import _clock

    assert _clock(3600.0, UTC) == "01:00:00"
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        assert _clock(3600.0) == "10:00:00"  # users see their own time
        assert _clock(3600.0, UTC) == "01:00:00"
    finally:
        monkeypatch.undo()
        time.tzset()


@_sync
async def test_the_list_shows_times_in_the_screens_zone() -> None:
    store = FrameStore(KEY)
    messages = _messages()[:1]
    messages[0].received = 3600.0
    store.add(messages)
    app = HostApp(store)
    async with app.run_test(size=NARROW) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, InspectorScreen)
        assert str(screen.table.get_cell_at(Coordinate(0, 1))) == "01:00:00"


# -- issue #8: a flood of messages (a replay at max speed) keeps the list cheap and the keys answered --
def _flood_limits(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import meterui.screens.inspector as inspector

    monkeypatch.setattr(inspector, "_LIST_ROWS", 16)
    monkeypatch.setattr(inspector, "_FOLLOW_ROWS", 6)
    monkeypatch.setattr(inspector, "_REBUILD_OVER", 4)


@contextlib.asynccontextmanager
async def _inspecting(store: FrameStore) -> AsyncIterator[tuple[HostApp, Pilot[None], InspectorScreen]]:
    """The inspector over ``store`` at 120x40, after its first sync."""
    app = HostApp(store)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        yield app, pilot, _parts(app)[0]


def _state(app: App[None]) -> str:
    return str(app.screen.query_one("#state").render())


@_sync
async def test_a_flood_while_following_lists_the_newest_and_reading_back_gets_the_full_window(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _flood_limits(monkeypatch)
    store = FrameStore(KEY)
    store.add(_messages() * 3)  # #0..#11
    async with _inspecting(store) as (app, pilot, screen):
        assert screen.table.row_count == 12 and screen.selected == 11 and screen.following
        store.add(_messages() * 5)  # a flood: 20 new messages, #12..#31, more than the window holds
        screen.sync()
        await pilot.pause()
        assert screen.table.row_count == 6  # only the newest few are listed while following
        assert screen.selected == 31 and screen.following
        await pilot.press("up")  # reading back: the list fills to its full window around the row
        await pilot.pause()
        assert screen.selected == 30 and not screen.following
        assert screen.table.row_count == 16
        store.add(_messages() * 5)  # another flood while reading #30: the list holds still
        screen.sync()
        await pilot.pause()
        assert screen.selected == 30 and screen.table.row_count == 16
        assert "+20 newer (G)" in _state(app)
        await pilot.press("G")
        await pilot.pause()
        assert screen.selected == 51 and screen.following


@_sync
async def test_a_trickle_while_reading_back_still_scrolls_in(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Only a flood freezes the list: a message or two at a time is listed as before."""
    _flood_limits(monkeypatch)
    store = FrameStore(KEY)
    store.add(_messages() * 3)
    async with _inspecting(store) as (app, pilot, screen):
        await pilot.press("up")
        await pilot.pause()
        assert screen.selected == 10 and not screen.following
        store.add(_messages()[:2])
        screen.sync()
        await pilot.pause()
        assert screen.table.row_count == 14 and screen.selected == 10
        assert "newer" not in _state(app)


@_sync
async def test_the_list_moves_once_a_second_during_a_flood(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _flood_limits(monkeypatch)
    store = FrameStore(KEY)
    store.add(_messages())
    async with _inspecting(store) as (_app, pilot, screen):
        store.add(_messages() * 2)  # 8 new: a flood
        screen.poll()
        assert screen.selected == 11
        store.add(_messages() * 2)
        screen.poll()  # too soon after a flood: the list waits
        assert screen.selected == 11
        await pilot.pause(1.3)  # the screen's own poll catches up within a second
        assert screen.selected == 19
        await pilot.pause(1.1)
        store.add(_messages()[:1])  # no flood: each message is listed at the next look
        screen.poll()
        assert screen.selected == 20
        store.add(_messages()[:1])
        screen.poll()
        assert screen.selected == 21


@_sync
async def test_a_short_window_fills_once_the_flood_is_over_and_on_stepping_back(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A flood leaves the newest _FOLLOW_ROWS listed; a pause or the end of the replay (no new message for
    _QUIET) fills the full window, and so does stepping back with ``p`` while the flood goes on."""
    import meterui.screens.inspector as inspector

    _flood_limits(monkeypatch)
    monkeypatch.setattr(inspector, "_QUIET", 0.3)
    store = FrameStore(KEY)
    store.add(_messages() * 3)
    async with _inspecting(store) as (_app, pilot, screen):
        store.add(_messages() * 5)
        screen.sync()
        assert screen.table.row_count == 6
        await pilot.pause(0.8)  # quiet: the screen's own poll fills the window
        assert screen.table.row_count == 16 and screen.selected == 31 and screen.following
        store.add(_messages() * 5)  # another flood: short again; p steps back into a full window
        screen.sync()
        assert screen.table.row_count == 6
        await pilot.press("p")
        assert screen.table.row_count == 16 and screen.selected == 50 and not screen.following
        for _ in range(20):  # on past the window's top: it moves with the steps
            await pilot.press("p")
        assert screen.selected == 30
        assert screen.table.row_count == 16


@_sync
async def test_stepping_past_a_held_window_reads_on_into_the_newer_messages(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _flood_limits(monkeypatch)
    store = FrameStore(KEY)
    store.add(_messages() * 3)
    async with _inspecting(store) as (app, pilot, screen):
        await pilot.press("up")  # reading #10
        store.add(_messages() * 5)  # a flood: the list holds still
        screen.sync()
        await pilot.pause()
        assert screen.selected == 10 and "+20 newer (G)" in _state(app)
        await pilot.press("n", "n", "n")
        await pilot.pause()
        assert screen.selected == 13  # past the old last row (#11): one message at a time
        assert not screen.following


@_sync
async def test_a_held_window_the_store_forgets_moves_to_what_is_kept(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A bounded store forgets old messages a few at a time: the held list must not wear away to nothing,
    nor keep a selection, panes or a newer-count the store no longer has."""
    _flood_limits(monkeypatch)
    store = FrameStore(KEY, max_full=10, max_index=30)
    store.add(_messages() * 3)  # #0..#11
    async with _inspecting(store) as (app, pilot, screen):
        await pilot.press("up")
        store.add(_messages() * 2)  # a flood of 8: the list holds still on #10
        screen.sync()
        for _ in range(13):  # a trickle: the store, 30 deep, forgets #0.. a few at a time
            store.add(_messages()[:3])
            screen.sync()
        await pilot.pause()
        first = store.first
        assert screen.table.row_count > 0
        assert screen.selected is not None and screen.selected >= first
        shown = [int(str(screen.table.get_cell_at(Coordinate(r, 0)))) for r in range(screen.table.row_count)]
        assert shown[0] >= first
        newer = store.added - 1 - shown[-1]
        state = _state(app)
        assert (f"+{newer} newer" in state) if newer else ("newer" not in state)
