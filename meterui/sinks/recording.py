"""Recording as a sink: every chunk read (and every chunk a session sent) goes to a :class:`Recorder`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from meterui.sinks.base import PipelineEvent
from meterui.sources.base import Chunk
from meterui.sources.recording import Recorder

if TYPE_CHECKING:
    from meterui.protocol.message import Message
    from meterui.sinks.counters import PipelineStats


class RecordingSink:
    """Writes received chunks as ``# t=`` blocks and sent ones as ``# tx t=`` lines (see
    :mod:`meterui.sources.recording`). Flushes at most once a second, on :meth:`tick` or the next chunk."""

    name = "recording"

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def on_chunk(self, chunk: Chunk, sent: bool) -> None:
        if sent:
            self.recorder.write_sent(chunk)
        else:
            self.recorder.write(chunk)

    def tick(self) -> None:
        self.recorder.maybe_flush()

    def on_messages(self, messages: Sequence[Message], stats: PipelineStats) -> None:
        pass

    def on_event(self, event: PipelineEvent) -> None:
        pass

    def close(self) -> None:
        self.recorder.close()
