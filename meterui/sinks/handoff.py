"""The UI's sink: a bounded hand-off, so the decoder waits for the UI instead of queueing batches.

The pipeline hands a batch over only when the previous one was :meth:`HandoffSink.taken` (the UI calls
it when it has handled the batch). At any replay speed at most one batch is in flight, so memory stays
bounded however far the decoder could run ahead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from meterui.sinks.base import PipelineEvent

if TYPE_CHECKING:
    from meterui.protocol.message import Message
    from meterui.sinks.counters import PipelineStats


class HandoffSink:
    """Posts each batch with ``post(batch, stats)`` (e.g. as a Textual message) and waits for
    :meth:`taken` before the next one. Events go to ``on_event`` when given."""

    def __init__(
        self,
        post: Callable[[list[Message], PipelineStats], None],
        on_event: Callable[[PipelineEvent], None] | None = None,
    ) -> None:
        self._post = post
        self._on_event = on_event
        self._free = threading.Event()
        self._free.set()

    def wait_ready(self, timeout: float) -> bool:
        return self._free.wait(timeout)

    def taken(self) -> None:
        """The consumer has handled the last batch (any thread)."""
        self._free.set()

    @property
    def in_flight(self) -> bool:
        return not self._free.is_set()

    def on_messages(self, messages: Sequence[Message], stats: PipelineStats) -> None:
        self._free.clear()
        self._post(list(messages), stats)

    def on_event(self, event: PipelineEvent) -> None:
        if self._on_event is not None:
            self._on_event(event)

    def close(self) -> None:
        self._free.set()
