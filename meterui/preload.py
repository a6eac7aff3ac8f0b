"""Decode a capture up front: deterministic data for screenshots, snapshot tests and benchmarks."""

from __future__ import annotations

from pathlib import Path

from meterui.pipeline import PipelineStats
from meterui.protocol.decoder import StreamDecoder
from meterui.protocol.message import Message
from meterui.sources.replay import ReplaySource


def decode_capture(path: Path, key: bytes | None = None, auth_key: bytes | None = None,
                   limit: int | None = None) -> tuple[list[Message], PipelineStats]:
    """The first ``limit`` messages of a capture (all when None) and the stats a pipeline would report."""
    source = ReplaySource(path)
    source.open()
    decoder = StreamDecoder(key, auth_key, source.decoder_format)
    messages: list[Message] = []
    try:
        while limit is None or len(messages) < limit:
            try:
                chunk = source.read(0)
            except EOFError:
                messages.extend(decoder.flush())
                break
            if chunk is None:
                continue
            messages.extend(decoder.feed(chunk.data, chunk.received))
    finally:
        source.close()
    if limit is not None:
        messages = messages[:limit]
    stats = PipelineStats(source=source.description)
    times = [m.received for m in messages if m.received is not None]
    for msg in messages:
        stats.bytes_received += msg.size
        if msg.error is None:
            stats.frames_ok += 1
        else:
            stats.frames_bad += 1
            stats.errors_by_layer[msg.error.layer] = stats.errors_by_layer.get(msg.error.layer, 0) + 1
            if msg.error.layer == "crypto":
                stats.decrypt_failures += 1
    stats.skipped_bytes = decoder.stats.skipped_bytes
    stats.connected = True
    if times:
        stats.last_message_time = times[-1]
        if len(times) > 1:
            stats.mean_push_interval = (times[-1] - times[0]) / (len(times) - 1)
    return messages, stats
