"""Plain-text renderings of decoded messages for the CLI: text, tree, annotated hex, summary, JSON.

UI-free (no Textual, no Rich): ``meterui decode`` imports this, and it must start fast.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from meterui.protocol.message import Message
from meterui.protocol.spans import Node
from meterui.sinks.counters import PipelineStats

LAYERS = ("line", "frame", "crypto", "apdu")


def _header(msg: Message) -> str:
    where = ",".join(f"{s}..{e}" for s, e in msg.offsets) or "-"
    bits = [f"#{msg.index}", msg.protocol, f"bytes {where}"]
    if msg.meter:
        bits.append(f"meter {msg.meter}")
    if msg.encrypted:
        bits.append("encrypted" + (", authenticated" if msg.authenticated else ""))
        if msg.invocation_counter is not None:
            bits.append(f"IC {msg.invocation_counter}")
    if msg.clock:
        bits.append(f"clock {msg.clock}")
    status = "ok" if msg.error is None else f"{msg.error.layer.upper()} ERROR: {msg.error.message}"
    return "  ".join(bits) + f"  [{status}]"


def render_text(msg: Message) -> str:
    lines = [_header(msg)]
    for w in msg.warnings:
        lines.append(f"  warning: {w}")
    for r in msg.readings:
        unit = f" {r.unit}" if r.unit else ""
        lines.append(f"  {r.name} = {r.format_value()}{unit}   ({r.id})")
    return "\n".join(lines)


def _node_line(node: Node, depth: int) -> str:
    value = node.display_value()
    if len(value) > 48:
        value = value[:45] + "…"
    text = f"{'  ' * depth}{node.key or 'message'}: {node.label}"
    if value:
        text += f" = {value}"
    if node.note:
        text += f"  ({node.note})"
    return f"{text}  [{node.buffer} {node.start}..{node.end}]"


def render_tree(msg: Message) -> str:
    lines = [_header(msg)]
    stack: list[tuple[Node, int]] = [(msg.root, 0)]
    while stack:
        node, depth = stack.pop()
        lines.append(_node_line(node, depth))
        if node.children:
            stack.extend((c, depth + 1) for c in reversed(node.children))
    return "\n".join(lines)


def render_hex(msg: Message) -> str:
    """Every leaf's bytes with its label, buffer by buffer, in byte order."""
    lines = [_header(msg)]
    by_buffer: dict[str, list[Node]] = {name: [] for name in msg.buffers}
    for lf in msg.root.leaves():
        by_buffer.setdefault(lf.buffer, []).append(lf)
    for name, data in msg.buffers.items():
        lines.append(f"  -- {name} ({len(data)} bytes)")
        for lf in sorted(by_buffer.get(name, []), key=lambda n: n.start):
            chunk = data[lf.start:lf.end]
            label = lf.path
            value = lf.display_value()
            if value and len(value) <= 40 and not (isinstance(lf.value, bytes | bytearray)):
                label += f" = {value}"
            if lf.note:
                label += f"  ({lf.note})"
            for i in range(0, max(len(chunk), 1), 16):
                piece = chunk[i:i + 16].hex(" ").upper()
                lines.append(f"  {lf.start + i:5d}  {piece:<47}  {label if i == 0 else '…'}")
    return "\n".join(lines)


def render_json(msg: Message) -> str:
    return json.dumps(msg.to_json(), ensure_ascii=False, separators=(", ", ": "))


def render_summary(stats: PipelineStats) -> str:
    errors = " ".join(f"{layer}={stats.errors_by_layer.get(layer, 0)}" for layer in LAYERS)
    return (f"messages={stats.frames} ok={stats.frames_ok} errors: {errors} "
            f"(bytes={stats.bytes_received} unrecognised={stats.skipped_bytes})")


RENDERERS = {"text": render_text, "tree": render_tree, "hex": render_hex, "json": render_json}


def render_all(messages: Iterable[Message], fmt: str) -> Iterable[str]:
    fn = RENDERERS[fmt]
    for msg in messages:
        yield fn(msg)
