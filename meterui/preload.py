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
    for exactly those messages (bytes are the messages' own bytes)."""
    sink = CollectingSink(limit)
    pipeline = Pipeline(ReplaySource(path), key=key, auth_key=auth_key, speed=math.inf, sinks=[sink])
    pipeline.run(finish_when=lambda: sink.full)
    messages = sink.messages
    ran = pipeline.stats
    stats = PipelineStats(
        source=ran.source,
        skipped_bytes=ran.skipped_bytes,
        checksum_ok=ran.checksum_ok,
        checksum_bad=ran.checksum_bad,
        connected=True,
    )
    Counters(stats).count_all(messages)
    stats.bytes_received = sum(msg.size for msg in messages)
    return messages, stats
