"""The sink seam: everything downstream of the decoder implements :class:`Sink`.

The pipeline hands every sink the same batches of messages and the same events; a sink never blocks the
pipeline (an exporter that talks to a network queues and returns at once). Adding a sink needs no change
in the pipeline: build it and pass it in the pipeline's ``sinks`` list.
"""

from __future__ import annotations

from collections.abc import Sequence

from meterui.protocol.records import FrozenRecord

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal, Protocol, runtime_checkable

    from meterui.pipeline import PipelineStats
    from meterui.protocol.message import Message
    from meterui.sources.base import Chunk

    EventKind = Literal["connected", "disconnected", "error", "finished", "module", "session", "sink"]
else:
    from meterui.protocol.structural import Protocol, runtime_checkable


class PipelineEvent(FrozenRecord):
    """A change of state worth one log line: the port came or went, a replay ended, a session moved on.

    ``text`` is one line for a person and never holds a key or password. ``trouble`` marks events that
    mean data is not flowing (a disconnect, an expired session, a broker that is down).
    """

    __slots__ = (
        "kind",
        "text",
        "time",
        "trouble",
    )

    kind: EventKind
    text: str
    time: float
    trouble: bool

    def __init__(
        self,
        kind: EventKind,
        text: str,
        time: float,
        trouble: bool = False,
    ) -> None:
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "time", time)
        object.__setattr__(self, "trouble", trouble)


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


@runtime_checkable
class ByteSink(Protocol):
    """Optional, beside :class:`Sink`: also receives the raw chunks (a recording).

    ``sent`` is true for bytes a session wrote to the source, false for bytes read from it. An
    ``OSError`` (or :class:`~meterui.sources.base.SourceError`) stops that sink only; the run goes on.
    """

    def on_chunk(self, chunk: Chunk, sent: bool) -> None: ...

    def tick(self) -> None:
        """Called on every pass of the pipeline's loop, also when idle (flush what is due)."""
        ...


@runtime_checkable
class BoundedSink(Protocol):
    """Optional, beside :class:`Sink`: a consumer that takes batches at its own pace (a UI).

    Before handing over a batch the pipeline waits, in short slices and stop-aware, until
    :meth:`wait_ready` is true: the decoder then runs at most one batch ahead of the consumer instead of
    queueing batches without bound.
    """

    def wait_ready(self, timeout: float) -> bool:
        """``True`` once the previous batch was taken; ``False`` if still busy after ``timeout``."""
        ...
