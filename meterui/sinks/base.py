"""The sink seam: everything downstream of the decoder implements :class:`Sink`.

The pipeline hands every sink the same batches of messages and the same events; a sink never blocks the
pipeline (an exporter that talks to a network queues and returns at once). Adding a sink needs no change
in the pipeline: build it and pass it in the pipeline's ``sinks`` list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from meterui.pipeline import PipelineStats
    from meterui.protocol.message import Message

EventKind = Literal["connected", "disconnected", "error", "finished", "module", "session", "sink"]


@dataclass(frozen=True, slots=True)
class PipelineEvent:
    """A change of state worth one log line: the port came or went, a replay ended, a session moved on.

    ``text`` is one line for a person and never holds a key or password. ``trouble`` marks events that
    mean data is not flowing (a disconnect, an expired session, a broker that is down).
    """

    kind: EventKind
    text: str
    time: float
    trouble: bool = False


@runtime_checkable
class Sink(Protocol):
    """Receives what the pipeline produces. Called from the pipeline's thread; must not block."""

    def on_messages(self, messages: Sequence[Message], stats: PipelineStats) -> None:
        """A batch of decoded (or failed) messages, in order, with a snapshot of the counters."""
        ...

    def on_event(self, event: PipelineEvent) -> None:
        """A change of state (see :class:`PipelineEvent`)."""
        ...

    def close(self) -> None:
        """The run is over: flush and release what the sink holds. Safe to call twice."""
        ...
