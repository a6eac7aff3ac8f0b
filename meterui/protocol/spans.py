"""Annotated decode trees: every decoded field knows which bytes it came from.

A decode produces a tree of :class:`Node`. Each node has a label, a decoded value, a path such as
``apdu/body[3]/value`` and a :class:`Span` naming the buffer it indexes (``frame``, ``payload``,
``apdu``…) and the half-open byte range inside it. Leaf spans tile each buffer: no gaps, no overlaps.
The inspector's tree and hex views are both drawn from this one structure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from meterui.protocol.errors import ErrorKind
from meterui.protocol.records import TupleRecord, tuple_field
from meterui.protocol.text import printable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeVar

    from meterui.protocol.lists import MeterProfile

    H = TypeVar("H")


class Span(TupleRecord, tuple[str, int, int]):
    """A half-open byte range ``[start, end)`` inside the named buffer."""

    __slots__ = ()
    _fields = ("buffer", "start", "end")

    buffer: str = tuple_field(0)
    start: int = tuple_field(1)
    end: int = tuple_field(2)

    def __new__(cls, buffer: str, start: int, end: int) -> Span:
        return tuple.__new__(cls, (buffer, start, end))


class Context(TupleRecord, tuple[bool, "MeterProfile | None"]):
    """The decode options a lazy builder needs to decode its node's bytes again alike."""

    __slots__ = ()
    _fields = ("invert_deviation", "profile")

    invert_deviation: bool = tuple_field(0)
    profile: MeterProfile | None = tuple_field(1)

    def __new__(cls, invert_deviation: bool = False, profile: MeterProfile | None = None) -> Context:
        return tuple.__new__(cls, (invert_deviation, profile))


class Node:
    """One decoded element of a message, with the bytes it was read from.

    ``key`` is this node's step in the path (``"fcs"``, ``"body[3]"``); ``path`` joins the keys from
    the root. ``children`` is ``None`` for a leaf. ``note`` is a short human-readable explanation
    (e.g. "CRC ok", "scaler -1 → ×0.1"). ``fault`` is set on the nodes whose bytes are where decoding
    failed (a checksum mismatch, a truncated or undecodable element, the output of a wrong key…): the
    inspector finds the bytes at fault through it, never through labels or notes.
    """

    __slots__ = (
        "_children",
        "buffer",
        "context",
        "end",
        "expand",
        "fault",
        "key",
        "kind",
        "label",
        "note",
        "parent",
        "src",
        "start",
        "value",
    )

    def __init__(
        self,
        key: str,
        label: str,
        buffer: str,
        start: int,
        end: int,
        value: Any = None,
        note: str = "",
        parent: Node | None = None,
        fault: ErrorKind | None = None,
    ) -> None:
        self.key = key
        self.label = label
        self.buffer = buffer
        self.start = start
        self.end = end
        self.value = value
        self.note = note
        self.parent = parent
        self.kind = -1
        """A type code for the layer that made it (the A-XDR tag for DLMS data), -1 if none."""
        self._children: list[Node] | None = None
        self.expand: Callable[[Node], None] | None = None
        """Builds this node's children on first access (decoding stays cheap; spans stay complete)."""
        self.src: bytes | None = None
        """The buffer's bytes, kept by nodes whose children are built lazily."""
        self.context: Context | None = None
        """The decode options the lazy builder needs (nodes whose children are built from ``src``)."""
        self.fault: ErrorKind | None = fault
        """What went wrong here, on the nodes whose bytes are at fault; ``None`` elsewhere."""
        if parent is not None:
            ch = parent._children
            if ch is None:
                parent._children = [self]
            else:
                ch.append(self)

    @property
    def children(self) -> list[Node] | None:
        if self.expand is not None:
            fn, self.expand = self.expand, None
            fn(self)
        return self._children

    @children.setter
    def children(self, value: list[Node] | None) -> None:
        self._children = value

    # -- structure -------------------------------------------------------------------------------
    @property
    def span(self) -> Span:
        return Span(self.buffer, self.start, self.end)

    @property
    def path(self) -> str:
        keys: list[str] = []
        node: Node | None = self
        while node is not None:
            if node.key:
                keys.append(node.key)
            node = node.parent
        out = ""
        for key in reversed(keys):
            out = out + key if (key[0] == "[" or not out) else f"{out}/{key}"
        return out

    @property
    def is_leaf(self) -> bool:
        return not self.children

    def add(self, child: Node) -> Node:
        """Attach an existing node (built without a parent) as the last child."""
        child.parent = self
        if self._children is None:
            self._children = [child]
        else:
            self._children.append(child)
        return child

    def walk(self) -> Iterator[Node]:
        """Depth-first, pre-order."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            if node.children:
                stack.extend(reversed(node.children))

    def leaves(self) -> Iterator[Node]:
        for node in self.walk():
            if not node.children:
                yield node

    def find(self, path: str) -> Node | None:
        for node in self.walk():
            if node.path == path:
                return node
        return None

    def find_span(self, buffer: str, start: int, end: int) -> Node | None:
        """The shallowest node with exactly this span, descending only where it can be."""
        stack = [self]
        while stack:
            node = stack.pop()
            if node.buffer == buffer and node.start == start and node.end == end:
                return node
            for child in node.children or ():
                if child.buffer == buffer and child.start <= start and end <= child.end:
                    stack.append(child)
        return None

    def deepest_at(self, buffer: str, offset: int) -> Node | None:
        """The deepest node whose span in ``buffer`` holds ``offset`` (for hex-view → tree)."""
        best: Node | None = None
        best_depth = -1
        stack: list[tuple[Node, int]] = [(self, 0)]
        while stack:
            node, depth = stack.pop()
            if node.buffer == buffer and node.start <= offset < node.end and depth > best_depth:
                best, best_depth = node, depth
            if node.children:
                stack.extend((c, depth + 1) for c in node.children)
        return best

    def display_value(self) -> str:
        v = self.value
        if v is None:
            return ""
        if isinstance(v, bytes | bytearray):
            if len(v) >= 2 and v.isascii() and bytes(v).decode("ascii").isprintable():
                return f'"{bytes(v).decode("ascii")}"'  # a meter number or name sent as octet-string
            return v.hex().upper()
        return printable(str(v))

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Node({self.path!r}, {self.label!r}, {self.buffer}[{self.start}:{self.end}], {self.value!r})"


def leaf(
    parent: Node,
    key: str,
    label: str,
    buffer: str,
    start: int,
    end: int,
    value: Any = None,
    note: str = "",
    fault: ErrorKind | None = None,
) -> Node:
    """Shorthand for a leaf attached to ``parent``."""
    return Node(key, label, buffer, start, end, value, note, parent, fault)


def frame_header(node: Node, parse: Callable[[bytes], H | None], min_len: int) -> tuple[bytes, H] | None:
    """The common start of a link frame's lazy builder: the frame's bytes and parsed header; or, when the
    header does not parse, one "unparsed frame bytes" leaf (the frame's reason as its note) and ``None``."""
    raw = node.src
    assert raw is not None
    hdr = parse(raw) if len(raw) >= min_len else None
    if hdr is None:
        Node("bytes", "unparsed frame bytes", node.buffer, 0, len(raw), None, node.note, node)
        return None
    return raw, hdr


def tiling_gaps(root: Node, buffers: dict[str, bytes]) -> list[str]:
    """Check that leaf spans tile every buffer; return a list of problems (empty when it tiles)."""
    problems: list[str] = []
    by_buffer: dict[str, list[tuple[int, int, str]]] = {name: [] for name in buffers}
    for node in root.leaves():
        if node.buffer not in by_buffer:
            problems.append(f"{node.path}: unknown buffer {node.buffer!r}")
            continue
        by_buffer[node.buffer].append((node.start, node.end, node.path))
    for name, spans in by_buffer.items():
        spans.sort()
        pos = 0
        for start, end, path in spans:
            if start != pos:
                problems.append(f"{name}: {'gap' if start > pos else 'overlap'} at {pos}..{start} ({path})")
            if end <= start:
                problems.append(f"{name}: empty span at {start} ({path})")
            pos = max(pos, end)
        if pos != len(buffers[name]):
            problems.append(f"{name}: leaves end at {pos}, buffer has {len(buffers[name])} bytes")
    return problems
