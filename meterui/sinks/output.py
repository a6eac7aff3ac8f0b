"""Text sinks for the headless commands: rendered messages on stdout (``decode``, ``monitor --json``) and
one line per change of state on stderr (``monitor --json``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from meterui.sinks.base import PipelineEvent

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

    from meterui.protocol.message import Message
    from meterui.sinks.counters import PipelineStats


class RenderSink:
    """Writes ``render(message)`` lines (e.g. :func:`meterui.render.render_json`), flushing after each
    batch when ``flush`` (live output). When the output is gone (a closed pipe) it keeps the error in
    :attr:`failure`, writes no more and calls ``on_failure`` (e.g. the pipeline's ``stop``); so does an
    internal error while rendering, which the command then re-raises to its crash handler."""

    name = "output"

    def __init__(
        self,
        out: TextIO,
        render: Callable[[Message], str],
        *,
        flush: bool = False,
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        self.out = out
        self.render = render
        self.flush = flush
        self.on_failure = on_failure
        self.failure: Exception | None = None

    def on_messages(self, messages: Sequence[Message], stats: PipelineStats) -> None:
        if not messages or self.failure is not None:
            return
        render = self.render
        try:
            self.out.write("".join(render(msg) + "\n" for msg in messages))
            if self.flush:
                self.out.flush()
        except Exception as exc:  # a closed pipe, or an internal error: the command re-raises it
            self.failure = exc
            if self.on_failure is not None:
                self.on_failure()

    def on_event(self, event: PipelineEvent) -> None:
        pass

    def close(self) -> None:
        if self.failure is None:
            try:
                self.out.flush()
            except OSError as exc:
                self.failure = exc


class EventLogSink:
    """One line per change of state, e.g. ``meterui: /dev/ttyUSB0: device disconnected (…)`` and
    ``meterui: /dev/ttyUSB0 2400 8E1: connected again``."""

    name = "event log"

    def __init__(self, err: TextIO, prefix: str = "meterui: ") -> None:
        self.err = err
        self.prefix = prefix

    def on_messages(self, messages: Sequence[Message], stats: PipelineStats) -> None:
        pass

    def on_event(self, event: PipelineEvent) -> None:
        self.err.write(f"{self.prefix}{' '.join(event.text.split())}\n")
        self.err.flush()

    def close(self) -> None:
        self.err.flush()
