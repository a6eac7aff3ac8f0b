"""The decode tree of one message: ``key: label = value  (note)  [buffer a..b]`` per node.

Tree nodes are made when their parent is expanded (the decode tree's own children are built lazily
too), so a big message costs only what is on screen. :meth:`FrameTree.select_node_for` goes the other
way: from a byte to the deepest node holding it, expanding the path.
"""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from meterui.framestore import is_error_node
from meterui.protocol.message import Message
from meterui.protocol.spans import Node

_MAX_VALUE = 48
"""Longer values (hex blobs) are cut with an ellipsis; the hex view shows them whole."""


def _short(value: str, limit: int = _MAX_VALUE) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


_OPEN_KEYS = frozenset({"notification", "body", "ciphering", "llc", "props"})
"""Below the opened layer, these children are opened too (not frame headers or single fields)."""


class FrameTree(Tree[Node]):
    """A :class:`~textual.widgets.Tree` over a message's decode tree (:attr:`Message.root`)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = Tree.COMPONENT_CLASSES | {
        "frametree--key",
        "frametree--value",
        "frametree--note",
        "frametree--range",
        "frametree--error",
    }

    DEFAULT_CSS = """
    FrameTree {
        background: $surface;
        scrollbar-size-vertical: 1;
        overflow-x: hidden;
        & > .frametree--key { color: $text-accent; }
        & > .frametree--value { text-style: bold; }
        & > .frametree--note { color: $text-muted; text-style: italic; }
        & > .frametree--range { color: $text-muted; text-style: dim; }
        & > .frametree--error { color: $text-error; text-style: bold; }
    }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("no message", name=name, id=id, classes=classes)
        self._message: Message | None = None
        self._populated: set[int] = set()
        self._by_node: dict[int, TreeNode[Node]] = {}

    # -- content ---------------------------------------------------------------------------------
    @property
    def message(self) -> Message | None:
        return self._message

    def show_message(self, msg: Message | None) -> None:
        """Show the decode tree of ``msg`` (root expanded, one level shown)."""
        self._message = msg
        self._populated.clear()
        self._by_node.clear()
        if msg is None:
            self.reset("no message")
            return
        self.reset(msg.root.label, msg.root)
        self._by_node[id(msg.root)] = self.root
        self._populate(self.root)
        self.root.expand()
        self._open_content()
        self.move_cursor(self.root)

    _CONTENT_KEYS = ("apdu", "blocks", "payload", "edata")
    """The layer worth opening first: the decrypted APDU, else the reassembled payload, else ECHONET data."""

    def _open_content(self) -> None:
        """Open the most informative layer two levels deep, so the pane shows data, not just headers."""
        children = {c.data.key: c for c in self.root.children if c.data is not None}
        for key in self._CONTENT_KEYS:
            top = children.get(key)
            if top is None:
                continue
            level = [top]
            for _ in range(3):  # e.g. apdu → notification → body: the registers come into view
                nxt: list[TreeNode[Node]] = []
                for node in level:
                    if node.allow_expand:
                        self._populate(node)
                        node.expand()
                        nxt.extend(c for c in node.children if c.data is not None and c.data.key in _OPEN_KEYS)
                level = nxt
            return

    def _populate(self, tree_node: TreeNode[Node]) -> None:
        if tree_node.id in self._populated or tree_node.data is None:
            return
        self._populated.add(tree_node.id)
        for child in tree_node.data.children or ():
            has_kids = bool(child.children)  # builds one level ahead, never the whole tree
            added = tree_node.add(child.label, child, allow_expand=has_kids)
            self._by_node[id(child)] = added

    def _on_tree_node_expanded(self, event: Tree.NodeExpanded[Node]) -> None:
        self._populate(event.node)

    # -- labels ----------------------------------------------------------------------------------
    def is_error(self, node: Node) -> bool:
        return self._message is not None and self._message.error is not None and is_error_node(node)

    def render_label(self, node: TreeNode[Node], base_style: Style, style: Style) -> Text:
        data = node.data
        if data is None:
            return super().render_label(node, base_style, style)
        get = self.get_component_rich_style
        error = self.is_error(data)
        text = Text()
        if node.allow_expand:
            icon = self.ICON_NODE_EXPANDED if node.is_expanded else self.ICON_NODE
            text.append(icon, base_style)
        if data.key and data.key != data.label:
            text.append(data.key, get("frametree--key"))
            text.append(": ")
        text.append(data.label)
        value = data.display_value()
        if value:
            text.append(" = ")
            text.append(_short(value), get("frametree--value"))
        if data.note:
            text.append("  (")
            text.append(data.note, get("frametree--note"))
            text.append(")")
        text.append(f"  {data.buffer} {data.start}..{data.end}", get("frametree--range"))
        if error:
            text.stylize(get("frametree--error"))
        text.stylize(style)
        return text

    # -- bytes → node ----------------------------------------------------------------------------
    def tree_node_for(self, target: Node) -> TreeNode[Node] | None:
        """The tree node showing ``target``, expanding (and populating) its ancestors."""
        chain: list[Node] = []
        node: Node | None = target
        while node is not None:
            chain.append(node)
            node = node.parent
        chain.reverse()
        if self._message is None or chain[0] is not self._message.root:
            return None
        current = self.root
        for data in chain[1:]:
            self._populate(current)
            if not current.is_expanded:
                current.expand()
            found = self._by_node.get(id(data))
            if found is None:
                return None
            current = found
        return current

    def select_data_node(self, target: Node | None) -> TreeNode[Node] | None:
        """Move the cursor to the node showing ``target`` (expanding the path)."""
        if target is None:
            return None
        tree_node = self.tree_node_for(target)
        if tree_node is not None:
            _ = self.last_line  # rebuild the line index after expanding
            self.move_cursor(tree_node)
            self.call_after_refresh(self.scroll_to_node, tree_node, animate=False)
        return tree_node

    def select_node_for(self, buffer: str, offset: int) -> TreeNode[Node] | None:
        """Move the cursor to the deepest node holding byte ``offset`` of ``buffer``."""
        if self._message is None:
            return None
        return self.select_data_node(self._message.root.deepest_at(buffer, offset))

    def first_error_node(self) -> Node | None:
        """The deepest-first node that reports the failure, for a failed message."""
        if self._message is None or self._message.error is None:
            return None
        found: Node | None = None
        for node in self._message.root.walk():
            if is_error_node(node):
                found = node
                if not node.children:
                    break
        return found
