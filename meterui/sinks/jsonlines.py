"""``monitor --json``'s sinks: one JSON object per message on stdout, one line per change of state on stderr."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from meterui.render import render_json
from meterui.sinks.base import PipelineEvent

if TYPE_CHECKING:
    from meterui.protocol.message import Message
    from meterui.sinks.counters import PipelineStats


class JsonLinesSink:
    """Writes ``meterui decode --output json`` objects, one per line, and flushes after each batch."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def on_messages(self, messages: Sequence[Message], stats: PipelineStats) -> None:
        if not messages:
            return
        self.out.write("".join(render_json(msg) + "\n" for msg in messages))
        self.out.flush()

    def on_event(self, event: PipelineEvent) -> None:
        pass

    def close(self) -> None:
        self.out.flush()


class EventLogSink:
    """One line per change of state (``meterui: /dev/ttyUSB0 disconnected: …``, ``… connected``)."""

    def __init__(self, err: TextIO, prefix: str = "meterui: ") -> None:
        self.err = err
        self.prefix = prefix

    def on_messages(self, messages: Sequence[Message], stats: PipelineStats) -> None:
        pass

    def on_event(self, event: PipelineEvent) -> None:
        self.err.write(f"{self.prefix}{event.text}\n")
        self.err.flush()

    def close(self) -> None:
        self.err.flush()
