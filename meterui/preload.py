"""Decode a capture up front: deterministic data for screenshots, snapshot tests and benchmarks."""

from __future__ import annotations

import math
from pathlib import Path

from meterui.pipeline import Pipeline
from meterui.protocol.message import Message
from meterui.sinks.basic import CollectingSink
from meterui.sinks.counters import Counters, PipelineStats
from meterui.sources.replay import ReplaySource


def decode_capture(
    path: Path, key: bytes | None = None, auth_key: bytes | None = None, limit: int | None = None
) -> tuple[list[Message], PipelineStats]:
    """The first ``limit`` messages of a capture (all when None) and the stats a pipeline would report
    for exactly those messages (bytes are the messages' own bytes; skipped bytes those of the
    unrecognised-bytes messages among them; link checksums are not counted)."""
    sink = CollectingSink(limit)
    pipeline = Pipeline(ReplaySource(path), key=key, auth_key=auth_key, speed=math.inf, sinks=[sink])
    pipeline.run(finish_when=lambda: sink.full)
    messages = sink.messages
    # the counts of exactly these messages, whatever the pipeline read ahead (deterministic)
    stats = PipelineStats(source=pipeline.stats.source, connected=True)
    Counters(stats).count_all(messages)
    stats.bytes_received = sum(msg.size for msg in messages)
    stats.skipped_bytes = sum(msg.size for msg in messages if msg.layer == "line")
    return messages, stats
