"""Plain-text renderings of decoded messages for the CLI: text, tree, annotated hex, summary, JSON.

UI-free (no Textual, no Rich): ``meterui decode`` imports this, and it must start fast.
"""

from __future__ import annotations

from collections.abc import Iterable

try:  # json's own C string escaper (ensure_ascii=False), without importing the json package at start-up
    from _json import encode_basestring as _jstr
except ImportError:  # pragma: no cover - Python builds without the C accelerator
    from json.encoder import encode_basestring as _jstr

from meterui.protocol.message import Message, Reading
from meterui.protocol.spans import Node
from meterui.protocol.text import json_safe, printable
from meterui.sinks.counters import PipelineStats

TYPE_CHECKING = False
if TYPE_CHECKING:
    import json
    from typing import Any

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
    return _join(lines)


def _join(lines: list[str]) -> str:
    """Lines of display text, with any control character from decoded data escaped (never raw)."""
    return "\n".join(printable(line) for line in lines)


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
    return _join(lines)


def render_hex(msg: Message) -> str:
    """Every leaf's bytes with its label, buffer by buffer, in byte order."""
    lines = [_header(msg)]
    by_buffer: dict[str, list[Node]] = {name: [] for name in msg.buffers}
    for lf in msg.root.leaves():
        by_buffer.setdefault(lf.buffer, []).append(lf)
    for name, data in msg.buffers.items():
        lines.append(f"  -- {name} ({len(data)} bytes)")
        for lf in sorted(by_buffer.get(name, []), key=lambda n: n.start):
            chunk = data[lf.start : lf.end]
            label = lf.path
            value = lf.display_value()
            if value and len(value) <= 40 and not (isinstance(lf.value, bytes | bytearray)):
                label += f" = {value}"
            if lf.note:
                label += f"  ({lf.note})"
            for i in range(0, max(len(chunk), 1), 16):
                piece = chunk[i : i + 16].hex(" ").upper()
                lines.append(f"  {lf.start + i:5d}  {piece:<47}  {label if i == 0 else '…'}")
    return _join(lines)


_ENCODERS: list[json.JSONEncoder] = []


def _encode(v: Any) -> str:
    """The JSON contract's encoding, ``json.dumps(v, ensure_ascii=False, separators=(", ", ": "))``, for what
    the fast paths below do not cover (json is imported on first use)."""
    if not _ENCODERS:
        import json

        _ENCODERS.append(json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")))
    return _ENCODERS[0].encode(v)


_READING_KEYS = ("id", "quantity", "name", "value", "unit")
_READING_PARTS: dict[tuple[Any, ...], tuple[str, str] | None] = {}
"""Encoded text around the value of a reading, per (type, id, quantity, name, unit): a meter sends the
same readings every push, so only the value needs encoding. ``None``: encode that reading in full."""
_UNSEEN: tuple[str, str] = ("", "")
_INF = float("inf")


def _json_value(v: Any) -> str:
    """``v`` encoded exactly as :func:`_encode` does, with fast paths for the types readings hold."""
    t = type(v)
    if t is str:
        return _jstr(v)
    if t is int:
        return int.__repr__(v)
    if t is float and v == v and v != _INF and v != -_INF:
        return float.__repr__(v)
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    return _encode(v)  # NaN, ±Infinity, subclasses, containers


def _reading_parts(r: Reading) -> tuple[str, str] | None:
    d = r.to_json()
    if tuple(d) != _READING_KEYS or (d["id"], d["quantity"], d["name"], d["unit"]) != (
        r.id,
        r.quantity,
        r.name,
        r.unit,
    ):
        return None  # Reading.to_json changed shape: stay correct, encode it in full
    return (
        f'{{"id": {_json_value(r.id)}, "quantity": {_json_value(r.quantity)}, "name": {_json_value(r.name)}, "value": ',
        f', "unit": {_json_value(r.unit)}}}',
    )


def _json_reading(r: Reading) -> str:
    try:
        key = (type(r), r.id, r.quantity, r.name, r.unit)
        parts = _READING_PARTS.get(key, _UNSEEN)
    except TypeError:  # an unhashable field
        return _encode(r.to_json())
    if parts is _UNSEEN:
        parts = _reading_parts(r)
        if len(_READING_PARTS) >= 4096:  # bounded, whatever the input
            _READING_PARTS.clear()
        _READING_PARTS[key] = parts
    if parts is None:
        return _encode(r.to_json())
    v = r.value
    t = type(v)  # the common cases of _json_value inline (a call per reading is a tenth of its time)
    if t is int:
        return parts[0] + int.__repr__(v) + parts[1]
    if t is float and v == v and v != _INF and v != -_INF:
        return parts[0] + float.__repr__(v) + parts[1]
    return parts[0] + _json_value(v) + parts[1]


def render_json(msg: Message) -> str:
    """One line of ``--output json``: byte for byte ``json.dumps(msg.to_json(), ensure_ascii=False,
    separators=(", ", ": "))`` (the public contract, :meth:`Message.to_json`), built without the
    intermediate dicts. tests/test_fast_paths.py checks the equality on every kind of message."""
    err = msg.error
    error = "null" if err is None else (f'{{"layer": {_json_value(err.layer)}, "message": {_json_value(err.message)}}}')
    offsets = ", ".join(f"[{_json_value(s)}, {_json_value(e)}]" for s, e in msg.offsets)
    title = msg.system_title
    readings = ", ".join([_json_reading(r) for r in msg.readings])
    return json_safe(
        f'{{"index": {_json_value(msg.index)}, "protocol": {_json_value(msg.protocol)}, '
        f'"ok": {"true" if err is None else "false"}, "error": {error}, "offsets": [{offsets}], '
        f'"encrypted": {_json_value(msg.encrypted)}, "authenticated": {_json_value(msg.authenticated)}, '
        f'"system_title": {"null" if title is None else _jstr(title.hex().upper())}, '
        f'"invocation_counter": {_json_value(msg.invocation_counter)}, "clock": {_json_value(msg.clock)}, '
        f'"readings": [{readings}]}}'
    )


def render_summary(stats: PipelineStats) -> str:
    errors = " ".join(f"{layer}={stats.errors_by_layer.get(layer, 0)}" for layer in LAYERS)
    return (
        f"messages={stats.frames} ok={stats.frames_ok} errors: {errors} "
        f"(bytes={stats.bytes_received} unrecognised={stats.skipped_bytes})"
    )


RENDERERS = {"text": render_text, "tree": render_tree, "hex": render_hex, "json": render_json}


def render_all(messages: Iterable[Message], fmt: str) -> Iterable[str]:
    fn = RENDERERS[fmt]
    for msg in messages:
        yield fn(msg)
