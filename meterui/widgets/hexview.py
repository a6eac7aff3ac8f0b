"""An annotated hex dump of a message's buffers, drawn line by line (Textual's Line API).

Each buffer of a :class:`~meterui.protocol.message.Message` (``frame``, ``payload``, the decrypted
``apdu``…) gets a header line and rows of 16 bytes (8 when the widget is narrow), with an offset
column and, when there is room, an ASCII column. The bytes of ``selected_span`` are highlighted, the
bytes at fault in a failed message are drawn in the error colour, search hits are marked, and a byte
cursor moves with the arrow keys, j/k, PgUp/PgDn, Home/End and the mouse; moving it posts
:class:`HexView.CursorMoved`.

Only the visible lines are rendered, from a small index of (buffer, row start) pairs, so a 2 KB
buffer costs the same as a 20-byte one.
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from meterui.protocol.links import frame_title
from meterui.protocol.message import Message as MeterMessage
from meterui.protocol.spans import Span

_WIDE_ROW = 16
_NARROW_ROW = 8
_PRINTABLE = frozenset(range(0x20, 0x7F))


def buffer_title(name: str, msg: MeterMessage | None = None) -> str:
    """A reader-friendly section title for a buffer name."""
    if (title := frame_title(name)) is not None:
        return title
    titles = {
        "payload": "payload (ciphertext)" if msg is not None and msg.encrypted else "payload",
        "apdu": "apdu (decrypted)",
        "blocks": "blocks (joined block data)",
        "line": "line (SKSTACK)",
        "edata": "edata (ECHONET Lite)",
        "data": "data (unrecognised)",
    }
    return titles.get(name, name)


class _Line(NamedTuple):
    buffer: str
    start: int
    """Offset of the row's first byte; -1 for the buffer's header line."""


class HexView(ScrollView, can_focus=True):
    """A scrollable, annotated hex dump of every buffer of one message."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "hexview--header",
        "hexview--offset",
        "hexview--ascii",
        "hexview--selected",
        "hexview--error",
        "hexview--match",
        "hexview--cursor",
        "hexview--empty",
    }

    DEFAULT_CSS = """
    HexView {
        background: $surface;
        color: $foreground;
        scrollbar-size-vertical: 1;
        & > .hexview--header { background: $boost; color: $text-accent; text-style: bold; }
        & > .hexview--offset { color: $text-muted; }
        & > .hexview--ascii { color: $text-muted; }
        & > .hexview--selected { background: $primary 45%; color: $text; }
        & > .hexview--error { color: $text-error; text-style: bold; }
        & > .hexview--match { background: $warning 40%; color: $text; }
        & > .hexview--cursor { background: $foreground 30%; text-style: bold; }
        & > .hexview--empty { color: $text-muted; text-style: italic; }
        &:focus > .hexview--cursor { background: $accent; color: $text; text-style: bold; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        # no h/l: l is the app-wide key for the live dashboard, and h alone would be a riddle
        Binding("left", "move(-1)", "Left", show=False),
        Binding("right", "move(1)", "Right", show=False),
        Binding("up,k", "move_rows(-1)", "Up", show=False),
        Binding("down,j", "move_rows(1)", "Down", show=False),
        Binding("pageup", "move_page(-1)", "Page up", show=False),
        Binding("pagedown", "move_page(1)", "Page down", show=False),
        Binding("home", "edge(-1)", "First byte", show=False),
        Binding("end", "edge(1)", "Last byte", show=False),
    ]

    selected_span: reactive[Span | None] = reactive(None)
    """The bytes highlighted (the tree's current node)."""
    cursor: reactive[tuple[str, int] | None] = reactive(None)
    """The byte under the cursor: ``(buffer, offset)``."""
    error_span: reactive[Span | None] = reactive(None)
    """An extra range to draw in the error colour (on top of :attr:`error_spans`)."""

    class CursorMoved(Message):
        """The user moved the byte cursor."""

        def __init__(self, hexview: HexView, buffer: str, offset: int) -> None:
            super().__init__()
            self.hexview = hexview
            self.buffer = buffer
            self.offset = offset

        @property
        def control(self) -> HexView:
            return self.hexview

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._message: MeterMessage | None = None
        self._buffers: dict[str, bytes] = {}
        self._lines: list[_Line] = []
        self._header_at: dict[str, int] = {}
        self._per_row = _WIDE_ROW
        self._ascii = True
        self._offset_digits = 4
        self.error_spans: list[Span] = []
        """The ranges at fault in a failed message (see :func:`meterui.framestore.error_spans`)."""
        self.marks: list[Span] = []
        """Search hits."""

    # -- content ---------------------------------------------------------------------------------
    @property
    def message(self) -> MeterMessage | None:
        return self._message

    def show_message(
        self, msg: MeterMessage | None, error_spans: list[Span] | None = None, marks: list[Span] | None = None
    ) -> None:
        """Show ``msg`` (or nothing); the cursor goes to its first byte."""
        self._message = msg
        self._buffers = dict(msg.buffers) if msg is not None else {}
        self.error_spans = list(error_spans or [])
        self.marks = list(marks or [])
        self.set_reactive(HexView.selected_span, None)
        self.set_reactive(HexView.error_span, None)
        first = next(((name, 0) for name, data in self._buffers.items() if data), None)
        self.set_reactive(HexView.cursor, first)
        self.border_title = "bytes" if first is None else f"bytes · {first[0]} +0 (0x0)"
        self._layout()
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()

    def set_marks(self, marks: list[Span]) -> None:
        self.marks = list(marks)
        self.refresh()

    def _layout(self) -> None:
        """Choose bytes per row for the width and index the lines."""
        width = self.scrollable_content_region.width or self.size.width or 80
        longest = max((len(d) for d in self._buffers.values()), default=0)
        self._offset_digits = max(4, len(f"{max(longest - 1, 0):X}"))
        self._per_row = _WIDE_ROW if width >= self._line_width(_WIDE_ROW, True) else _NARROW_ROW
        self._ascii = width >= self._line_width(self._per_row, True)
        lines: list[_Line] = []
        self._header_at = {}
        for name, data in self._buffers.items():
            self._header_at[name] = len(lines)
            lines.append(_Line(name, -1))
            lines.extend(_Line(name, start) for start in range(0, len(data), self._per_row))
        self._lines = lines
        self.virtual_size = Size(self._line_width(self._per_row, self._ascii), len(lines))

    @property
    def bytes_per_row(self) -> int:
        """Bytes shown per row (16, or 8 when the pane is narrow)."""
        return self._per_row

    @property
    def shows_ascii(self) -> bool:
        """Is there room for the ASCII column?"""
        return self._ascii

    def width_for(self, per_row: int, ascii_col: bool) -> int:
        """Columns a row of ``per_row`` bytes needs (with the ASCII column or not), for the message shown
        (4 offset digits when none is): a parent sizes the pane with it."""
        return self._line_width(per_row, ascii_col)

    def _line_width(self, per_row: int, ascii_col: bool) -> int:
        groups = per_row // 8
        width = self._offset_digits + 2 + per_row * 3 + (groups - 1)
        return width + (1 + per_row if ascii_col else 0)

    def _byte_x(self, index: int) -> int:
        """Column of the first hex digit of the ``index``-th byte of a row."""
        return self._offset_digits + 2 + index * 3 + index // 8

    def _ascii_x(self, index: int) -> int:
        return self._line_width(self._per_row, False) + index

    def on_resize(self, event: events.Resize) -> None:
        self._layout()
        # rows may have changed length and the height with them: bring the selection back into view
        # once the new size is in force (a message shown before the first layout was placed for 80 columns)
        self.call_after_refresh(self._reveal)
        self.refresh()

    def _reveal(self) -> None:
        """Scroll to the selected span when the cursor is in it, else to the cursor."""
        span, cur = self.selected_span, self.cursor
        if (
            span is not None
            and cur is not None
            and cur[0] == span.buffer
            and span.start <= cur[1] < max(span.end, span.start + 1)
        ):
            self._scroll_span_into_view(span)
        else:
            self._scroll_to_cursor()

    # -- geometry --------------------------------------------------------------------------------
    def line_of(self, buffer: str, offset: int) -> int | None:
        """The virtual line holding ``offset`` of ``buffer``."""
        head = self._header_at.get(buffer)
        if head is None:
            return None
        return head + 1 + offset // self._per_row

    def at(self, x: int, y: int) -> tuple[str, int] | None:
        """The byte at widget coordinates (scroll included), if any."""
        line_no = y + self.scroll_offset.y
        if not 0 <= line_no < len(self._lines):
            return None
        line = self._lines[line_no]
        if line.start < 0:
            return None
        x += self.scroll_offset.x
        data = self._buffers[line.buffer]
        count = min(self._per_row, len(data) - line.start)
        for i in range(count):
            bx = self._byte_x(i)
            if bx <= x <= bx + 2 or (self._ascii and x == self._ascii_x(i)):
                return line.buffer, line.start + i
        return None

    # -- rendering -------------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        line_no = y + scroll_y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if not self._lines:
            if y == 0:
                text = "no message selected" if self._message is None else "no bytes"
                return Strip(
                    [Segment(" " + text, base + self.get_component_rich_style("hexview--empty"))]
                ).extend_cell_length(width, base)
            return Strip.blank(width, base)
        if line_no >= len(self._lines):
            return Strip.blank(width, base)
        line = self._lines[line_no]
        if line.start < 0:
            return self._header_strip(line.buffer, width, base)
        segments = self._row_segments(line, base)
        return Strip(segments).crop(scroll_x, scroll_x + width).extend_cell_length(width, base)

    def _header_strip(self, name: str, width: int, base: Style) -> Strip:
        style = base + self.get_component_rich_style("hexview--header")
        data = self._buffers[name]
        text = f" {buffer_title(name, self._message)} · {len(data)} byte{'s' if len(data) != 1 else ''}"
        return Strip([Segment(text, style)]).crop(0, width).extend_cell_length(width, style)

    def _row_segments(self, line: _Line, base: Style) -> list[Segment]:
        name, start = line
        data = self._buffers[name]
        chunk = data[start : start + self._per_row]
        get = self.get_component_rich_style
        offset_style = base + get("hexview--offset")
        ascii_style = base + get("hexview--ascii")
        selected, error, match, cursor = (
            get("hexview--selected"),
            get("hexview--error"),
            get("hexview--match"),
            get("hexview--cursor"),
        )
        sel = self.selected_span
        sel_range = range(sel.start, sel.end) if sel is not None and sel.buffer == name else range(0)
        errors = [range(s.start, s.end) for s in self.error_spans if s.buffer == name]
        if self.error_span is not None and self.error_span.buffer == name:
            errors.append(range(self.error_span.start, self.error_span.end))
        marks = [range(s.start, s.end) for s in self.marks if s.buffer == name]
        cur = self.cursor[1] if self.cursor is not None and self.cursor[0] == name else -1

        def style_of(offset: int, plain: Style) -> Style:
            style = plain
            if any(offset in r for r in errors):
                style += error
            if any(offset in r for r in marks):
                style += match
            if offset in sel_range:
                style += selected
            if offset == cur:
                style += cursor
            return style

        segments = [Segment(f"{start:0{self._offset_digits}X}", offset_style), Segment("  ", base)]
        for i, byte in enumerate(chunk):
            offset = start + i
            if i and i % 8 == 0:
                segments.append(Segment(" ", base))
            segments.append(Segment(f"{byte:02X}", style_of(offset, base)))
            # the gap joins the bytes of one highlighted range
            nxt = offset + 1
            joined = i + 1 < len(chunk) and (i + 1) % 8 and offset in sel_range and nxt in sel_range
            segments.append(Segment(" ", base + selected if joined else base))
        if self._ascii:
            pad = (self._per_row - len(chunk)) * 3 + ((self._per_row - 1) // 8 - (len(chunk) - 1) // 8)
            if pad:
                segments.append(Segment(" " * pad, base))
            segments.append(Segment(" ", base))
            for i, byte in enumerate(chunk):
                ch = chr(byte) if byte in _PRINTABLE else "·"
                segments.append(Segment(ch, style_of(start + i, ascii_style)))
        return list(Segment.simplify(segments))

    # -- reactives -------------------------------------------------------------------------------
    def watch_selected_span(self, old: Span | None, new: Span | None) -> None:
        self.refresh()

    def watch_error_span(self) -> None:
        self.refresh()

    def watch_cursor(self, old: tuple[str, int] | None, new: tuple[str, int] | None) -> None:
        self.border_title = "bytes" if new is None else f"bytes · {new[0]} +{new[1]} (0x{new[1]:X})"
        for pos in (old, new):
            if pos is not None:
                line = self.line_of(*pos)
                if line is not None:
                    self.refresh(Region(0, line - self.scroll_offset.y, self.size.width, 1))

    # -- cursor ----------------------------------------------------------------------------------
    def set_cursor(self, buffer: str, offset: int, *, post: bool = True) -> None:
        """Move the cursor (clamped to the buffer), scroll to it, and optionally post CursorMoved."""
        data = self._buffers.get(buffer)
        if not data:
            return
        offset = max(0, min(offset, len(data) - 1))
        self.cursor = (buffer, offset)
        self._scroll_to_cursor()
        if post:
            self.post_message(self.CursorMoved(self, buffer, offset))

    def show_span(self, span: Span | None) -> None:
        """Highlight ``span`` and bring it into view; the cursor moves to its start if outside it.

        Does not post :class:`CursorMoved` (the caller already knows where it is).
        """
        self.selected_span = span
        if span is None or span.buffer not in self._buffers:
            return
        cur = self.cursor
        if cur is None or cur[0] != span.buffer or not span.start <= cur[1] < max(span.end, span.start + 1):
            self.set_cursor(span.buffer, span.start, post=False)
        self._scroll_span_into_view(span)

    def _scroll_span_into_view(self, span: Span) -> None:
        first = self.line_of(span.buffer, span.start)
        last = self.line_of(span.buffer, max(span.end - 1, span.start))
        if first is None or last is None:
            return
        top, height = self.scroll_offset.y, max(1, self.scrollable_content_region.height)
        if first < top or last >= top + height:  # show as much of the span as fits, from its start
            if last - first + 1 <= height and first >= top:
                self.scroll_to(y=last - height + 1, animate=False, immediate=True)
            else:
                self._scroll_line_into_view(first, jump=True)

    def _scroll_line_into_view(self, line: int, jump: bool = False) -> None:
        """Scroll to ``line``: minimally for a step, to a third of the height for a jump."""
        top, height = self.scroll_offset.y, max(1, self.scrollable_content_region.height)
        if top <= line < top + height:
            return
        header = self._lines[line - 1].start < 0 if line > 0 else False
        if jump or line < top - 1 or line > top + height:
            target = max(0, line - max(1, height // 3))
            if header:
                target = min(target, line - 1)
            self.scroll_to(y=target, animate=False, immediate=True)
        else:
            first = line - 1 if header else line
            self.scroll_to_region(Region(0, first, 1, line - first + 1), animate=False, immediate=True)

    def _scroll_to_cursor(self) -> None:
        if self.cursor is None:
            return
        line = self.line_of(*self.cursor)
        if line is not None:
            self._scroll_line_into_view(line)

    def _step(self, delta: int) -> None:
        """Move by ``delta`` bytes, crossing into the previous/next buffer at the edges."""
        if self.cursor is None:
            return
        names = [n for n, d in self._buffers.items() if d]
        name, offset = self.cursor
        offset += delta
        i = names.index(name)
        while offset < 0 and i > 0:
            i -= 1
            offset += len(self._buffers[names[i]])
        while offset >= len(self._buffers[names[i]]) and i < len(names) - 1:
            offset -= len(self._buffers[names[i]])
            i += 1
        self.set_cursor(names[i], offset)

    def action_move(self, delta: int) -> None:
        self._step(delta)

    def action_move_rows(self, rows: int) -> None:
        if self.cursor is None:
            return
        name, offset = self.cursor
        data = self._buffers[name]
        target = offset + rows * self._per_row
        names = [n for n, d in self._buffers.items() if d]
        i = names.index(name)
        if target >= len(data):
            last_row = (len(data) - 1) // self._per_row
            if offset // self._per_row < last_row:
                self.set_cursor(name, len(data) - 1)
            elif i + 1 < len(names):  # down from the last row: same column in the next buffer
                self.set_cursor(names[i + 1], offset % self._per_row)
            return
        if target < 0:
            if i > 0:
                prev = self._buffers[names[i - 1]]
                col = offset % self._per_row
                last_row_start = (len(prev) - 1) // self._per_row * self._per_row
                self.set_cursor(names[i - 1], min(last_row_start + col, len(prev) - 1))
            return
        self.set_cursor(name, target)

    def action_move_page(self, pages: int) -> None:
        rows = max(1, self.scrollable_content_region.height - 1)
        if self.cursor is None:
            return
        name, offset = self.cursor
        target = offset + pages * rows * self._per_row
        if 0 <= target < len(self._buffers[name]):
            self.set_cursor(name, target)
        else:
            self._step(pages * rows * self._per_row)

    def action_edge(self, direction: int) -> None:
        names = [n for n, d in self._buffers.items() if d]
        if not names:
            return
        if direction < 0:
            self.set_cursor(names[0], 0)
        else:
            self.set_cursor(names[-1], len(self._buffers[names[-1]]) - 1)

    def on_click(self, event: events.Click) -> None:
        hit = self.at(event.x, event.y)
        if hit is not None:
            self.focus()
            self.set_cursor(*hit)
