"""Typed messages between the source worker and the screens (one place, as in toolong)."""

from __future__ import annotations

from collections.abc import Callable

from textual.message import Message as TextualMessage

from meterui.pipeline import PipelineStats
from meterui.protocol.message import Message


class MessagesDecoded(TextualMessage):
    """A batch of decoded messages and the pipeline's stats at that moment (posted from the worker)."""

    def __init__(self, messages: list[Message], stats: PipelineStats, taken: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.messages = messages
        self.stats = stats
        self.taken = taken if taken is not None else _nothing
        """Call once the batch is handled: the pipeline waits for it before decoding further."""


def _nothing() -> None:
    pass


class SourceFinished(TextualMessage):
    """The source ended: end of a replay, or a fatal error (``error`` says which)."""

    def __init__(self, stats: PipelineStats) -> None:
        super().__init__()
        self.stats = stats
