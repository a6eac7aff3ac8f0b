"""Small sinks: a callback, and a collector for the headless readers (preload, listen test)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from meterui.sinks.base import PipelineEvent

TYPE_CHECKING = False
if TYPE_CHECKING:
    from meterui.protocol.message import Message
    from meterui.sinks.counters import PipelineStats

OnMessages = Callable[[list["Message"], "PipelineStats"], None]


class CallbackSink:
    """Calls ``on_messages(batch, stats)`` for every batch (the pipeline's old single-callback API)."""

    def __init__(self, on_messages: OnMessages, on_event: Callable[[PipelineEvent], None] | None = None) -> None:
        self._on_messages = on_messages
        self._on_event = on_event

    def on_messages(self, messages: Sequence[Message], stats: PipelineStats) -> None:
        self._on_messages(list(messages), stats)

    def on_event(self, event: PipelineEvent) -> None:
        if self._on_event is not None:
            self._on_event(event)

    def close(self) -> None:
        pass


class CollectingSink:
    """Keeps messages (at most ``limit``; all when ``None``), the last stats and every event."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self.messages: list[Message] = []
        self.stats: PipelineStats | None = None
        self.events: list[PipelineEvent] = []

    @property
    def full(self) -> bool:
        return self.limit is not None and len(self.messages) >= self.limit

    def on_messages(self, messages: Sequence[Message], stats: PipelineStats) -> None:
        room = len(messages) if self.limit is None else max(0, self.limit - len(self.messages))
        self.messages.extend(messages[:room])
        self.stats = stats

    def on_event(self, event: PipelineEvent) -> None:
        self.events.append(event)

    def close(self) -> None:
        pass
