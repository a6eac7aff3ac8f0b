"""The frame inspector: a list of messages, the decode tree of one, and its bytes, linked both ways.

Highlighting a tree node highlights its bytes in the hex view; moving the hex cursor selects the
deepest node holding that byte. Failed messages say which layer failed in the status line and show
the bytes at fault in the error colour. The list follows the newest message until the user moves
away from the last row (and again when they come back to it).

The messages come from a :class:`~meterui.framestore.FrameStore` (``app.frames`` when the app has
one). Call :meth:`InspectorScreen.sync` after adding to the store for an immediate update; the screen
also polls the store's ``version`` four times a second.
"""

from __future__ import annotations

import bisect
import time
from datetime import datetime, tzinfo
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal, Vertical
from textual.content import Content
from textual.coordinate import Coordinate
from textual.css.scalar import Scalar
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Input, Label, Static, Tree

from meterui.framestore import FrameStore, FrameSummary, error_spans, find_in_message
from meterui.protocol.message import Message
from meterui.protocol.spans import Node, Span
from meterui.widgets.footer import Footer
from meterui.widgets.formatting import format_error  # remedy first (issue #6 item 14)
from meterui.widgets.frametree import FrameTree
from meterui.widgets.hexview import HexView
from meterui.widgets.playstate import PlayStateView

_FILTERS = ("all", "bad", "ok")
_REBUILD_OVER = 64
"""Dropping more rows than this at once rebuilds the table (``DataTable.remove_row`` is O(rows))."""
_LIST_ROWS = 1000
"""The list shows at most this many messages (a window; ``g`` and search reach the rest of the store).
DataTable costs ~0.2 ms a row to fill, so refilling 20,000 rows on a filter change would take seconds."""
_FOLLOW_ROWS = 100
"""A flood of new messages while the list follows the newest refills it with only this many (a few screens):
a replay at full speed replaces the whole window at every poll, and 1,000 rows each time kept the UI from
answering keys (issue #8). The window grows back to :data:`_LIST_ROWS` as messages come at a readable pace,
and fills to it as soon as the user moves off the newest row."""
_FLOOD_POLL = 1.0
"""While messages flood in (more than :data:`_REBUILD_OVER` since the last look), the list moves once in this
many seconds instead of four times a second: nobody reads a list that scrolls thousands of rows a second, and
the UI stays free to answer keys (issue #8)."""
_QUIET = 2.0
"""Seconds without a new message after which a flood is over (a pause, the end of a replay): a short window
then fills to the full one. Longer than the rest a key gives a replay (``app.KEYS_FIRST``), so a key during
a flood does not set off a 1,000-row fill."""
_METER_WIDTH = 20
_WIDE = 120
"""From this width the tree and the hex view stand side by side (as HORIZONTAL_BREAKPOINTS says)."""
_TREE_MIN = 78
"""Side by side, the tree keeps at least this many columns (its labels carry value, note and range)."""
_HEX_LAYOUTS = ((16, True), (16, False), (8, True), (8, False))
"""Bytes per row and ASCII column, most informative first: the hex view gets the first that fits."""
_HEX_CHROME = 2
"""The hex pane's left border and vertical scrollbar."""


def _abbreviate(text: str, width: int = _METER_WIDTH) -> str:
    if len(text) <= width:
        return text
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head) :]


def _clock(received: float | None, tz: tzinfo | None = None) -> str:
    """Arrival time as ``HH:MM:SS`` in ``tz`` (``None``: the local time zone)."""
    return "-" if received is None else datetime.fromtimestamp(received, tz).strftime("%H:%M:%S")


_SENT = Text("→ sent", style="bold cyan")
_VERDICT_STYLES = {"ok": "green", "ok*": "yellow"}


class PromptScreen(ModalScreen[str | None]):
    """A one-line question; dismisses with the text entered, or ``None`` on escape."""

    DEFAULT_CSS = """
    PromptScreen {
        align: center middle;
        background: $background 50%;
        & > Vertical {
            width: 60;
            max-width: 95%;
            height: auto;
            padding: 0 1;
            border: round $accent;
            background: $surface;
        }
        & Label { width: 1fr; }
        & .hint { color: $text-muted; }
        & Input { margin: 0; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, hint: str = "", placeholder: str = "", value: str = "") -> None:
        super().__init__()
        self._title, self._hint, self._placeholder, self._value = title, hint, placeholder, value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title)
            yield Input(self._value, placeholder=self._placeholder)
            if self._hint:
                yield Label(self._hint, classes="hint")

    def on_mount(self) -> None:
        self.query_one(Input).cursor_blink = False

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class InspectorScreen(Screen[None]):
    """Browse decoded messages: list, decode tree and hex dump."""

    CSS_PATH = "inspector.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (_WIDE, "-wide")]  # noqa: RUF012 - Textual declares it so

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "step(1)", "Next"),
        Binding("p", "step(-1)", "Prev"),
        Binding("g", "goto", "Go to"),
        Binding("f", "cycle_filter", "Filter"),
        Binding("F", "cycle_protocol", "Protocol", show=False),
        Binding("slash", "search", "Search"),
        Binding("N", "next_hit", "Next hit", show=False),
        Binding("G", "newest", "Newest", show=False),
        Binding("tab", "app.focus_next", "Pane", show=False),
        Binding("escape", "back", "Back", show=False),
    ]

    def __init__(
        self,
        frames: FrameStore | None = None,
        *,
        timezone: tzinfo | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._frames = frames
        self.timezone = timezone
        """Arrival times are shown in this zone; ``None`` (the default): the user's local time."""
        self.following = True
        """Select each new message as it arrives (until the user moves away from the last row)."""
        self.verdict_filter = "all"
        self.protocol_filter: str | None = None
        self.search_text: str | None = None
        self._hits: list[int] = []
        self._selected: int | None = None
        self._shown: list[int] = []
        self._at_end = True
        """Does the list end with the newest matching message (else it shows an older window)?"""
        self._newer = 0
        """Matching messages newer than the window."""
        self._short = False
        """The window holds :data:`_FOLLOW_ROWS` while older matching messages would fill a full one."""
        self._synced_added = 0
        self._synced_version = -1
        self._next_sync = 0.0
        self._synced_at = 0.0
        """When the list last took in new messages (monotonic)."""
        self._message: Message | None = None
        self._hit_focus: tuple[Node, Span] | None = None
        """A search hit inside a tree node about to be highlighted: the hex view marks the hit, not the node."""

    # -- setup -----------------------------------------------------------------------------------
    @property
    def frames(self) -> FrameStore:
        if self._frames is None:
            frames = getattr(self.app, "frames", None)
            if not isinstance(frames, FrameStore):
                raise RuntimeError("InspectorScreen needs a FrameStore (pass one or set app.frames)")
            self._frames = frames
        return self._frames

    def compose(self) -> ComposeResult:
        table: DataTable[Text] = DataTable(id="frames", cursor_type="row", zebra_stripes=False)
        yield table
        with Container(id="detail"):
            tree = FrameTree(id="tree")
            tree.border_title = "decode tree"
            yield tree
            yield HexView(id="hex")
        with Horizontal(id="statusbar"):
            yield Static("", id="status", markup=False)
            yield Static("", id="state", markup=False)
            yield PlayStateView(id="playstate")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.table
        table.add_column("#", key="n")
        table.add_column("time", key="time")
        table.add_column("proto", key="protocol")
        table.add_column("len", key="length")
        table.add_column("meter", key="meter")
        table.add_column("verdict", key="verdict")
        self.sync()
        self._fit_panes()
        self.set_interval(0.25, self.poll)
        table.focus()

    def on_resize(self) -> None:
        self._fit_panes()

    def _fit_panes(self) -> None:
        """Side by side, the hex view takes the width of its rows (16 bytes and ASCII when the tree still
        keeps ``_TREE_MIN`` columns, else fewer) and the tree the rest; stacked, both take the full width."""
        hexview = self.hexview
        width = self.size.width
        if width < _WIDE:
            wanted = Scalar.parse("1fr")
        else:
            budget = width - _TREE_MIN
            fits = [hexview.width_for(n, a) + _HEX_CHROME for n, a in _HEX_LAYOUTS]
            wanted = Scalar.parse(str(next((w for w in fits if w <= budget), fits[-1])))
        if hexview.styles.width != wanted:
            hexview.styles.width = wanted

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#frames", DataTable)

    @property
    def frame_tree(self) -> FrameTree:
        """The decode tree (not ``tree``: that name is Textual's DOM tree)."""
        return self.query_one(FrameTree)

    @property
    def hexview(self) -> HexView:
        return self.query_one(HexView)

    @property
    def message(self) -> Message | None:
        """The message shown in the tree and hex views."""
        return self._message

    @property
    def selected(self) -> int | None:
        """The number (``#``) of the selected message."""
        return self._selected

    # -- list ------------------------------------------------------------------------------------
    def _matches(self, s: FrameSummary) -> bool:
        if self.verdict_filter != "all" and (self.verdict_filter == "ok") != s.ok:
            return False
        return self.protocol_filter is None or s.protocol == self.protocol_filter

    def _row(self, s: FrameSummary) -> tuple[Text, ...]:
        """The cells of one message: all ``Text``, which DataTable neither parses as markup nor searches
        for emoji codes (a meter name is the meter's text, and parsing cost most of filling a row)."""
        return (
            Text(str(s.index), justify="right"),
            Text(_clock(s.received, self.timezone)),
            _SENT if s.protocol == "sent" else Text(s.protocol),
            Text(str(s.size), justify="right"),
            Text(_abbreviate(s.meter or "-")),
            Text(s.verdict, style=_VERDICT_STYLES.get(s.verdict, "bold red")),
        )

    def poll(self) -> None:
        """Sync when the store has changed, at most once a :data:`_FLOOD_POLL` while messages flood in; once
        the flood stops (a pause, the end of a replay), a short window fills to the full one."""
        if not self.is_attached:  # the app is closing: its widgets may already be gone
            return
        now = time.monotonic()
        if now < self._next_sync:
            return
        if self.frames.version == self._synced_version:
            if self._short and now - self._synced_at >= _QUIET:
                self._rebuild(newest=self._at_end)
            return
        flood = self.frames.added - self._synced_added > _REBUILD_OVER
        self.sync()
        self._next_sync = now + _FLOOD_POLL if flood else 0.0

    def sync(self) -> None:
        """Bring the list up to date with the store (new messages in, forgotten ones out)."""
        store = self.frames
        table = self.table
        self._synced_version = store.version
        first = store.first
        if store.added < self._synced_added:  # the store was replaced or cleared
            self._rebuild()
            return
        start = max(self._synced_added, first)
        new = [s for s in (store.summary(n - first) for n in range(start, store.added)) if self._matches(s)]
        if store.added > self._synced_added:
            self._synced_at = time.monotonic()
        self._synced_added = store.added
        if self._at_end and not self.following and len(new) > _REBUILD_OVER:
            # a flood while the user reads an older row: the list holds still instead of scrolling it away
            self._at_end = False
        if not self._at_end:  # the list shows an older window: new messages are counted, not listed
            self._newer += len(new)
            new = []
        new = new[-_LIST_ROWS:]
        drop = 0
        while drop < len(self._shown) and self._shown[drop] < first:
            drop += 1
        drop = max(drop, len(self._shown) + len(new) - _LIST_ROWS)
        lost = self._selected is not None and self._selected in self._shown[:drop]
        if drop > _REBUILD_OVER or (lost and not self._at_end) or (drop and drop == len(self._shown)):
            # (a held window whose reading row the store forgot, or that it forgot whole, moves to what is kept)
            if self.following:
                self._rebuild(rows=_FOLLOW_ROWS if len(new) > _REBUILD_OVER else _LIST_ROWS)
            else:
                self._rebuild(newest=self._at_end)
            return
        for number in self._shown[:drop]:
            table.remove_row(str(number))
        del self._shown[:drop]
        for s in new:
            table.add_row(*self._row(s), key=str(s.index))
            self._shown.append(s.index)
        if self._shown and (
            (self.following and (new or self._selected is None))
            or lost
            or (self._selected is None and self._message is None)
        ):
            self._select(self._shown[-1] if self.following or not lost else self._shown[0])
        elif self._selected is not None and drop:
            self._put_cursor(self._selected)
        self._update_state()

    def _rebuild(self, around: int | None = None, newest: bool = True, rows: int | None = None) -> None:
        """Refill the table for the current filters: the newest ``rows`` matching messages, or a window of
        ``_LIST_ROWS`` around message ``around``. Keeps the selection when it is still listed."""
        store = self.frames
        table = self.table
        self._synced_added = store.added
        self._synced_version = store.version
        numbers = [s.index for s in store.summaries() if self._matches(s)]
        end = len(numbers)
        if rows is None or around is not None or not newest:
            rows = _LIST_ROWS
        if around is not None or not newest:
            target = around if around is not None else self._selected
            if target is not None:
                at = bisect.bisect_left(numbers, target)
                end = min(len(numbers), max(at + rows // 2, rows))
        window = numbers[max(0, end - rows) : end]
        self._short = rows < _LIST_ROWS and end > rows
        self._at_end = end == len(numbers)
        self._newer = len(numbers) - end
        table.clear()
        first = store.first
        for number in window:
            table.add_row(*self._row(store.summary(number - first)), key=str(number))
        self._shown = window
        if not window:
            self._update_state()
            return
        if around is not None and around in window:
            self._select(around)
        elif self.following or self._selected is None:
            self._select(window[-1])
        elif self._selected in window:
            self._put_cursor(self._selected)
        else:  # the nearest listed message before it (or the first)
            at = bisect.bisect_left(window, self._selected)
            self._select(window[max(0, at - 1)])
        self._update_state()

    def _put_cursor(self, number: int) -> None:
        try:
            row = self.table.get_row_index(str(number))
        except Exception:  # the row is filtered out
            return
        if self.table.cursor_row != row:
            self.table.move_cursor(row=row, animate=False)

    def _select(self, number: int) -> None:
        """Select message ``number``: cursor on its row, its tree and bytes shown."""
        changed = number != self._selected or self._message is None
        self._selected = number
        self._put_cursor(number)
        if changed:
            self._load(number)

    @on(DataTable.RowHighlighted, "#frames")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        if key is None:
            return
        table = self.table
        # stale events (from rows removed or cursor moves since) are not the user's doing; after a
        # rebuild another row may sit at the same index, so the row itself must match too
        if table.cursor_row != event.cursor_row or table.cursor_row >= table.row_count:
            return
        if table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key != event.row_key:
            return
        number = int(key)
        if number == self._selected:
            return
        was_following = self.following
        self.following = self._at_end and event.cursor_row == table.row_count - 1
        self._selected = number
        self._load(number)
        if was_following and not self.following and self._short:
            self._rebuild(around=number)  # a short window kept up with a flood: the full one to read back in
        self._update_state()

    # -- detail ----------------------------------------------------------------------------------
    def _load(self, number: int) -> None:
        pos = self.frames.pos_of(number)
        if pos is None:
            return
        msg = self.frames.message(pos)
        self._message = msg
        self._hit_focus = None
        tree, hexview = self.frame_tree, self.hexview
        tree.show_message(msg)
        hexview.show_message(msg, error_spans(msg))
        tree.border_title = f"decode tree · #{number}"
        self._fit_panes()  # a long message has wider offsets
        if self.search_text and number in self._hits:
            self._show_hit(msg, self.search_text)
        elif msg.error is not None:
            tree.select_data_node(tree.first_error_node())
        self._update_status()

    def _show_hit(self, msg: Message, text: str) -> None:
        where = find_in_message(msg, text)
        if isinstance(where, Node):
            self.hexview.set_marks([where.span])
            self.frame_tree.select_data_node(where)
        elif isinstance(where, Span):
            # the tree shows the field holding the hit; the hex view selects the matched bytes themselves
            self.hexview.set_marks([where])
            tree = self.frame_tree
            before = tree.cursor_node
            tree_node = tree.select_node_for(where.buffer, where.start)
            if tree_node is not None and tree_node is not before and tree_node.data is not None:
                self._hit_focus = (tree_node.data, where)  # for the NodeHighlighted about to arrive
            self.hexview.show_span(where)

    @on(Tree.NodeHighlighted, "#tree")
    def _node_highlighted(self, event: Tree.NodeHighlighted[Node]) -> None:
        node = event.node.data
        hit, self._hit_focus = self._hit_focus, None
        if node is None or self._message is None:
            return
        if hit is not None and hit[0] is node:
            self.hexview.show_span(hit[1])
            return
        self.hexview.show_span(None if node is self._message.root else node.span)

    @on(HexView.CursorMoved, "#hex")
    def _cursor_moved(self, event: HexView.CursorMoved) -> None:
        self.frame_tree.select_node_for(event.buffer, event.offset)

    def _update_status(self) -> None:
        msg = self._message
        status = self.query_one("#status", Static)
        if msg is None:
            status.update("no messages yet")
            return
        if msg.error is not None:
            status.update(
                Content.from_markup(
                    "[b $text-error]$layer error:[/] $text", layer=msg.error.layer, text=format_error(msg.error.message)
                )
            )
            return
        parts = [f"#{self._selected}", msg.protocol, f"{msg.size} bytes"]
        if msg.encrypted:
            parts.append("decrypted" + (" + authenticated" if msg.authenticated else ""))
        if msg.clock:
            parts.append(msg.clock)
        parts.append(f"{len(msg.readings)} reading{'s' if len(msg.readings) != 1 else ''}")
        parts.extend(msg.warnings[:1])
        status.update(Content.from_markup("[b $text-success]ok[/] · $rest", rest=" · ".join(parts)))

    def _update_state(self) -> None:
        at = self._shown.index(self._selected) + 1 if self._selected in self._shown else 0  # issue #6 item 23:
        parts = [
            f"row {at or '-'}/{len(self._shown)}"
            + (  # where the shown message is, not just a count
                f" of {len(self.frames)} kept" if len(self._shown) != len(self.frames) else ""
            )
        ]
        if self._newer:
            parts.append(f"+{self._newer} newer (G)")
        if self.verdict_filter != "all" or self.protocol_filter:
            parts.append(" ".join(x for x in (self.verdict_filter, self.protocol_filter) if x and x != "all"))
        if self.search_text:
            parts.append(f"/{self.search_text}: {len(self._hits)} hit{'s' if len(self._hits) != 1 else ''}")
        self.query_one("#state", Static).update(" · ".join(parts))
        self.query_one(PlayStateView).following = self.following

    # -- actions ---------------------------------------------------------------------------------
    def show_index(self, number: int) -> bool:
        """Select message ``number`` (``#``), clearing the filters if they hide it. False if not kept."""
        pos = self.frames.pos_of(number)
        if pos is None:
            self.notify(
                f"#{number} is not kept (kept: #{self.frames.first}..#{self.frames.added - 1})", severity="warning"
            )
            return False
        if not self._matches(self.frames.summary(pos)):
            self.verdict_filter, self.protocol_filter = "all", None
        self.following = False
        if number not in self._shown:
            self._rebuild(around=number)
        self.following = self._at_end and number == self._shown[-1]
        self._select(number)
        self._update_state()
        return True

    def show_reading(self, number: int, reading_id: str) -> bool:
        """Select message ``number`` and highlight the bytes of its reading ``reading_id`` (from the live
        table's Enter). False if the message is no longer kept or carries no such reading."""
        if not self.show_index(number) or self._message is None:
            return False
        reading = next((r for r in self._message.readings if r.id == reading_id), None)
        node = reading.node if reading is not None else None
        if node is None:
            return False
        self.hexview.set_marks([node.span])
        self.frame_tree.select_data_node(node)
        return True

    def action_step(self, delta: int) -> None:
        """Select the message ``delta`` rows away. ``n`` on the newest message steps the source one
        message instead (as on the live screen), and the new message is selected when it arrives."""
        at_newest = not self._shown or (self._at_end and self._selected == self._shown[-1])
        if delta > 0 and at_newest:
            step_source = getattr(self.app, "step_source", None)
            if callable(step_source) and step_source():
                self.following = True
                self._update_state()
                return
        if not self._shown:
            return
        row = self.table.cursor_row + delta
        past_top = row < 0 and self._older_listable()
        past_end = row >= len(self._shown) and not self._at_end
        if past_top or past_end or self._short:
            # past the window's edge (older kept messages, or newer ones counted while the list held still),
            # or off a short window: the full window moves around the row, so reading on never stops
            past_edge = not 0 <= row < len(self._shown)
            target = self._shown[max(0, min(row, len(self._shown) - 1))]
            self._rebuild(around=target)
            row = self._shown.index(target) + (delta if past_edge else 0)
        row = max(0, min(row, len(self._shown) - 1))
        self.following = self._at_end and row == len(self._shown) - 1
        self._select(self._shown[row])
        self._update_state()

    def _older_listable(self) -> bool:
        """Does the store keep a matching message older than the window?"""
        pos = self.frames.pos_of(self._shown[0]) if self._shown else None
        return pos is not None and self.frames.find(self._matches, pos - 1, -1) is not None

    def action_newest(self) -> None:
        """Jump to the newest message and follow new ones again."""
        self.following = True
        if not self._at_end:
            self._rebuild()
        elif self._shown:
            self._select(self._shown[-1])
        self._update_state()

    def action_goto(self) -> None:
        def done(text: str | None) -> None:
            if text is None:
                return
            try:
                number = int(text.lstrip("#"))
            except ValueError:
                self.notify(f"not a frame number: {text!r}", severity="warning")
                return
            self.show_index(number)

        self.app.push_screen(
            PromptScreen("Go to frame #", placeholder=f"{self.frames.first}..{self.frames.added - 1}"), done
        )

    def action_cycle_filter(self) -> None:
        self.verdict_filter = _FILTERS[(_FILTERS.index(self.verdict_filter) + 1) % len(_FILTERS)]
        self._refilter()

    def action_cycle_protocol(self) -> None:
        choices: list[str | None] = [None, *self.frames.protocols()]
        i = choices.index(self.protocol_filter) if self.protocol_filter in choices else 0
        self.protocol_filter = choices[(i + 1) % len(choices)]
        self._refilter()

    def _refilter(self) -> None:
        self._rebuild(newest=self.following)
        self._hits = self._listed_hits()
        self._update_state()

    def _listed_hits(self) -> list[int]:
        if not self.search_text:
            return []
        store = self.frames
        return [store.first + pos for pos in store.search(self.search_text) if self._matches(store.summary(pos))]

    def action_search(self) -> None:
        def done(text: str | None) -> None:
            if text is None:
                return
            self.search_text = text
            self._hits = self._listed_hits()
            if not self._hits:
                everywhere = len(self.frames.search(text))
                self.notify(
                    f"no match for {text!r}" + (f" ({everywhere} hidden by the filter)" if everywhere else ""),
                    severity="warning",
                )
                self._update_state()
                return
            self._jump_to_hit(include_current=True)

        self.app.push_screen(
            PromptScreen(
                "Search", "OBIS code (1-0:1.7.0, 1.0.1.7.0.255) or hex (7E A0, 0x4B464D)", value=self.search_text or ""
            ),
            done,
        )

    def action_next_hit(self) -> None:
        if not self.search_text:
            self.action_search()
            return
        self._hits = self._listed_hits()
        if not self._hits:
            self.notify(f"no match for {self.search_text!r}", severity="warning")
            return
        self._jump_to_hit(include_current=False)

    def _jump_to_hit(self, include_current: bool) -> None:
        current = self._selected if self._selected is not None else -1
        after = [n for n in self._hits if n > current or (include_current and n == current)]
        target = after[0] if after else self._hits[0]
        self.following = False
        if target == self._selected and self._message is not None:
            self._show_hit(self._message, self.search_text or "")
        elif target in self._shown:
            self._select(target)
        else:
            self._rebuild(around=target)
        self._update_state()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return callable(getattr(self.app, "action_show_live", None))
        return True

    def action_back(self) -> None:
        """Escape: back to the live dashboard (never pops the screen: that would leave an empty one)."""
        show_live = getattr(self.app, "action_show_live", None)
        if callable(show_live):
            show_live()
