"""One pipeline for live and replay data: source → decoder → sinks.

:class:`Pipeline` runs in the calling thread (a Textual thread worker, a CLI loop or a test) and hands
batches of :class:`~meterui.protocol.message.Message` to every sink (:mod:`meterui.sinks`) together with
a :class:`PipelineStats` snapshot, and :class:`~meterui.sinks.base.PipelineEvent` objects when the
port comes or goes, a replay ends or a session moves on. Sinks that consume at their own pace (the UI:
:class:`~meterui.sinks.base.BoundedSink`) make the pipeline wait, stop-aware, before the next batch, so
the decoder never runs more than one batch ahead of them. A :class:`~meterui.sessions.base.Session`
(optional) talks to the device through a :class:`~meterui.sources.base.WritableSource`; what it writes
goes to the byte sinks (the recording) marked as sent.

Replays are paced: by the recorded timestamps when the chunks carry them, else by the meter's own clock
in the messages (the meter's cadence), else one message every ``cadence`` seconds, all divided by
``speed`` (``math.inf`` = as fast as possible). Batches are posted at most ~20 times a second.

The controls (:meth:`pause`, :meth:`resume`, :meth:`toggle_pause`, :meth:`set_speed`, :meth:`step`,
:meth:`stop`) are thread-safe. :meth:`run` never raises: source errors end up in the stats, live sources
are reconnected with backoff, and the run ends at the end of a replay (unless ``loop``) or when
``should_stop()`` is true.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from meterui.protocol.message import Message
from meterui.sessions.base import Session
from meterui.sinks.base import BoundedSink, ByteSink, PipelineEvent, Sink
from meterui.sinks.basic import CallbackSink, OnMessages
from meterui.sinks.counters import Counters, PipelineStats
from meterui.sources.base import CancellableSource, Chunk, ReconnectingSource, Source, SourceError, WritableSource

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Protocol

    from meterui.protocol.decoder import DecoderStats
    from meterui.protocol.sklines import Transcript
    from meterui.protocol.skstack import SkEvent
    from meterui.sinks.base import EventKind
    from meterui.sources.recording import Recorder  # recording is imported when used (decode start-up)
else:
    from meterui.protocol.structural import Protocol

__all__ = ["MAX_BATCH", "MIN_POST_INTERVAL", "Decoder", "OnMessages", "Pipeline", "PipelineStats", "clock_seconds"]


class _LazyLog:
    """The module's logger, imported on first use (``decode`` starts faster without ``logging``)."""

    def __getattr__(self, name: str) -> Any:
        import logging

        return getattr(logging.getLogger(__name__), name)


log = _LazyLog()

MIN_POST_INTERVAL = 0.05
"""At most ~20 batches a second."""
MAX_BATCH = 500
"""A batch is posted early when it gets this long (bounds memory at max speed)."""
_LINE_PROTOCOLS = frozenset({"sent", "module"})
"""``sklines.SENT``/``MODULE``: conversation lines, not frames (kept here: ``decode`` imports no sklines)."""
_READY_SLICE = 0.05
"""How long one wait for a busy consumer lasts before the pipeline checks whether it should stop."""


class Decoder(Protocol):
    """What the pipeline needs from :class:`meterui.protocol.decoder.StreamDecoder`."""

    @property
    def stats(self) -> DecoderStats: ...

    @property
    def last_module_event(self) -> SkEvent | None: ...

    def feed(self, data: bytes, received: float | None = None) -> list[Message]: ...

    def flush(self) -> list[Message]: ...


IDLE_WAKE = 1.0
"""Seconds a replay waits, at most, for its next message's time or a paused step: pause, resume, step, speed and
:meth:`Pipeline.stop` wake it at once, so this only bounds how late a cancelled ``should_stop`` is seen. (It
was 0.1 s: ten wake-ups a second, about a third of the demo's pipeline thread at real cadence, issue #8.)"""


def clock_seconds(clock: str) -> float | None:
    """A message's ISO clock as seconds (naive clocks read as UTC: only differences are used)."""
    from datetime import UTC, datetime

    try:
        stamp = datetime.fromisoformat(clock)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


class Pipeline:
    """Owns a source and a decoder; :meth:`run` loops read → decode → pace → post to the sinks.

    ``sinks`` receive every batch and event (and are closed when :meth:`run` ends); adding one needs no
    change here. ``recorder``, when given, is one more sink (:class:`~meterui.sinks.recording.RecordingSink`).
    ``decoder_factory(fmt)`` builds the decoder (default: ``StreamDecoder(key, auth_key, fmt)``);
    ``fmt`` defaults to the source's ``decoder_format``. ``live`` defaults to the source's ``live``.
    ``session`` needs a :class:`~meterui.sources.base.WritableSource`. ``clock`` is the UNIX-time clock
    given to the session.
    """

    def __init__(
        self,
        source: Source,
        *,
        key: bytes | None = None,
        auth_key: bytes | None = None,
        invert_deviation: bool = False,
        fmt: str | None = None,
        speed: float = 1.0,
        cadence: float = 2.0,
        loop: bool = False,
        max_gap: float = 10.0,
        recorder: Recorder | None = None,
        live_buffer: int = 1000,
        decoder_factory: Callable[[str], Decoder] | None = None,
        sinks: Sequence[Sink] = (),
        session: Session | None = None,
        live: bool | None = None,
        reconnect: bool = True,
        clock: Callable[[], float] = time.time,
        transcript: Transcript | None = None,
    ) -> None:
        if session is not None and not isinstance(source, WritableSource):
            raise ValueError(f"a session needs a source that can write; {source.description} cannot")
        self.source = source
        self.key = key
        self.auth_key = auth_key
        self.invert_deviation = invert_deviation
        self.fmt = fmt
        self.cadence = max(0.0, cadence)
        self.loop = loop
        self.max_gap = max(0.0, max_gap)
        """Longer silences in a recording (e.g. between two sessions) are shortened to this."""
        self.recorder = recorder
        self.sinks: list[Sink] = list(sinks)
        if recorder is not None:
            from meterui.sinks.recording import RecordingSink

            self.sinks.append(RecordingSink(recorder))
        self.session = session
        self.transcript = transcript
        """When given (the app on B-route), the SKSTACK lines of both directions become messages too
        (:mod:`meterui.protocol.sklines`); they are not counted as frames."""
        self.live_buffer = max(1, live_buffer)
        self._decoder_factory = decoder_factory
        self.live: bool = source.live if live is None else live
        self.reconnect = reconnect
        """Reconnect a live :class:`ReconnectingSource` that went away (else the run ends)."""
        self._clock = clock
        self._cond = threading.Condition()
        self._paused = False
        self._resumed = False
        self._steps = 0
        self._held_until = 0.0
        self._speed = self._check_speed(speed)
        self._stop = threading.Event()
        self._stats = PipelineStats(source=source.description, speed=self._speed)
        self._reset_run_state()

    # -- controls (any thread) ---------------------------------------------------------------------
    @staticmethod
    def _check_speed(speed: float) -> float:
        speed = float(speed)
        if math.isnan(speed) or speed <= 0:
            raise ValueError("speed must be a positive number (math.inf for as fast as possible)")
        return speed

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def speed(self) -> float:
        return self._speed

    def pause(self) -> None:
        with self._cond:
            self._paused = True
            self._cond.notify_all()

    def resume(self) -> None:
        """Continue; the next message comes at once, then pacing resumes."""
        with self._cond:
            if self._paused:
                self._resumed = True
            self._paused = False
            self._steps = 0
            self._cond.notify_all()

    def toggle_pause(self) -> bool:
        """Pause or resume; returns the new paused state."""
        with self._cond:
            self._paused = not self._paused
            self._resumed = not self._paused
            self._steps = 0
            self._cond.notify_all()
            return self._paused

    def set_speed(self, speed: float) -> None:
        """Replay speed: 1.0 is real time, 2.0 twice as fast, ``math.inf`` as fast as possible."""
        speed = self._check_speed(speed)
        with self._cond:
            self._speed = speed
            self._cond.notify_all()

    def hold(self, seconds: float) -> None:
        """Let an unpaced replay rest for ``seconds`` (the UI calls it on each key: it answers the key
        before the decoder shares the CPU with it again, issue #8). Paced and live sources do not hold:
        they are not busy, and a port's bytes must be read as they come."""
        with self._cond:
            self._held_until = max(self._held_until, time.monotonic() + seconds)

    def step(self) -> None:
        """Emit exactly the next message, then stay paused (pauses first if running)."""
        with self._cond:
            self._paused = True
            self._steps += 1
            self._cond.notify_all()

    def stop(self) -> None:
        """Make :meth:`run` return soon (also interrupts a blocked read or a reconnect wait)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if isinstance(self.source, CancellableSource):
            try:
                self.source.cancel_read()
            except Exception:  # shutdown must not fail because a source could not be interrupted
                log.debug("cancel_read failed", exc_info=True)

    @property
    def stats(self) -> PipelineStats:
        """A snapshot of the current stats (safe to call from another thread)."""
        return self._snapshot()

    # -- the loop (calling thread) -----------------------------------------------------------------
    def _reset_run_state(self) -> None:
        self._decoder: Decoder | None = None
        self._pending: deque[tuple[Message, float | None]] = deque()
        self._batch: list[Message] = []
        self._last_post = -math.inf
        self._anchor: float | None = None  # wall (monotonic) time the last message was emitted
        self._last_media: float | None = None  # the last recorded (or meter-clock) time emitted
        self._meter_clock: float | None = None  # files without recorded times: the last meter clock seen
        self._synth_time: float | None = None  # … and the replay timeline built from it
        self._eof = False
        self._finished = False
        self._pass_bytes = 0
        self._counters = Counters(self._stats)
        self._should_stop: Callable[[], bool] = lambda: False
        self._finish_when: Callable[[], bool] = lambda: False
        self._sinks: list[Sink] = []
        self._byte_sinks: list[ByteSink] = []
        self._bounded_sinks: list[BoundedSink] = []
        self._module_event: str | None = None
        self._wake_at: float | None = None
        self._reopening = False

    def _stopping(self) -> bool:
        return self._stop.is_set() or self._should_stop()

    def run(
        self,
        on_messages: OnMessages | None = None,
        should_stop: Callable[[], bool] | None = None,
        *,
        sinks: Sequence[Sink] = (),
        finish_when: Callable[[], bool] | None = None,
    ) -> None:
        """Loop until the replay ends or ``should_stop()``; never raises.

        The batches go to the pipeline's ``sinks``, then to ``sinks`` given here, then to
        ``on_messages`` (a callback, kept for callers that need no more than that). ``should_stop``
        cancels (what is not posted yet is dropped); ``finish_when`` ends the run like the end of a
        replay (everything decoded so far is posted), e.g. when a listen test's time is up.
        """
        self._reset_run_state()
        self._stop.clear()
        if finish_when is not None:
            self._finish_when = finish_when
        self._sinks = [*self.sinks, *sinks]
        if on_messages is not None:
            self._sinks.append(CallbackSink(on_messages))
        self._sort_sinks()
        self._should_stop = should_stop if should_stop is not None else (lambda: False)
        stopped_by_caller = False
        try:
            if self._open():
                self._session_start()
                self._loop()
            stopped_by_caller = self._stopping()
        except Exception as exc:  # run() never raises: report and end
            log.exception("pipeline failed")
            self._stats.last_error = f"internal error: {type(exc).__name__}: {exc}"
        finally:
            self._session_stop()
            try:
                self.source.close()
            except Exception:
                log.debug("closing the source failed", exc_info=True)
            self._stats.connected = False
            self._stats.finished = True
        if not stopped_by_caller:
            if not self.live:
                self._event("finished", f"{self._stats.source}: end of the capture")
            self._post(force=True, allow_empty=True)
        for sink in self._sinks:
            try:
                sink.close()
            except Exception as exc:
                log.debug("closing a sink failed", exc_info=True)
                self._stats.last_error = str(exc)

    def _open(self) -> bool:
        try:
            self.source.open()
        except (SourceError, OSError) as exc:
            self._stats.last_error = str(exc)
            if not self.live or not self.reconnect or not isinstance(self.source, ReconnectingSource):
                self._event("error", str(exc), trouble=True)
                return False
            self._event("disconnected", str(exc), trouble=True)
            self._post(force=True, allow_empty=True)
            if not self._reconnect():
                return False
        self._stats.source = self.source.description
        self._stats.connected = True
        if self.live:
            self._event("connected", f"{self.source.description}: connected")
        fmt = self.fmt or self.source.decoder_format
        self._decoder = self._make_decoder(fmt)
        return True

    def _make_decoder(self, fmt: str) -> Decoder:
        if self._decoder_factory is not None:
            return self._decoder_factory(fmt)
        from meterui.protocol.decoder import StreamDecoder

        return StreamDecoder(key=self.key, auth_key=self.auth_key, fmt=fmt, invert_deviation=self.invert_deviation)

    def _loop(self) -> None:
        while not self._stopping():
            if self._finish_when():
                self._drain()
                break
            self._tick()
            with self._cond:
                paused, speed = self._paused, self._speed
                if self._resumed:
                    self._resumed = False
                    self._anchor = None
                self._stats.paused, self._stats.speed = paused, speed
            if paused:
                self._paused_pass()
                continue
            now = time.monotonic()
            if now < self._held_until and math.isinf(speed) and not self.live:
                self._post()
                self._wait(self._held_until - now)
                continue
            if self._pending:
                message, media = self._pending[0]
                due = self._due(media, speed, now)
                if due <= now:
                    if self.live or math.isinf(speed):
                        self._drain()  # unpaced: everything decoded goes into the batch at once
                    else:
                        self._pending.popleft()
                        self._emit(message, media, due, now)
                    self._post(force=len(self._batch) >= MAX_BATCH)
                    continue
                if self._post():
                    continue
                wait = due - now
                if self._batch:
                    wait = min(wait, MIN_POST_INTERVAL - (now - self._last_post))
                self._wait(min(wait, IDLE_WAKE))
                continue
            if self._post():
                continue
            if self._finished:
                break
            if self._eof:
                self._end_of_pass()
                continue
            timeout = 0.2
            if self._batch:
                timeout = max(0.0, min(timeout, MIN_POST_INTERVAL - (now - self._last_post)))
            if self._wake_at is not None:
                timeout = max(0.0, min(timeout, self._wake_at - self._clock()))
            self._read(timeout)
        # what is left of the batch goes out from run() with the final stats

    def _drain(self) -> None:
        """Emit everything decoded but not yet emitted (no pacing), posting each batch that fills up."""
        pending = self._pending
        now = time.monotonic()
        while pending:
            msg, media = pending.popleft()
            self._emit(msg, media, now, now)
            if len(self._batch) >= MAX_BATCH:
                self._post(force=True)
                if self._stopping():
                    return

    def _paused_pass(self) -> None:
        self._post(force=True)
        with self._cond:
            steps = self._steps
        if steps:
            message = self._next_message()
            if message is None:
                if self._finished:
                    with self._cond:
                        self._steps = 0
                    self._stats.paused = True
                    self._post(force=True, allow_empty=True)
                return
            with self._cond:
                self._steps = max(0, self._steps - 1)
            msg, media = message
            now = time.monotonic()
            self._emit(msg, media, now, now)
            self._post(force=True)
            return
        if self.live:
            self._read(0.1)  # keep draining the port; messages wait in the bounded pause buffer
        else:
            self._wait(IDLE_WAKE)

    def _next_message(self) -> tuple[Message, float | None] | None:
        """The next message regardless of pacing, reading as needed (for :meth:`step`)."""
        while not self._pending:
            if self._stopping() or self._finished:
                return None
            if self._eof:
                self._end_of_pass()
                continue
            self._read(0.2)
            if self.live and not self._pending:
                return None  # nothing arrived yet; the step stays pending
        return self._pending.popleft()

    def _wait(self, seconds: float) -> None:
        if seconds <= 0:
            return
        with self._cond:
            self._cond.wait(seconds)

    # -- pacing ------------------------------------------------------------------------------------
    def _due(self, media: float | None, speed: float, now: float) -> float:
        """Wall (monotonic) time at which a message with recorded time ``media`` is due."""
        if self.live or math.isinf(speed) or self._anchor is None:
            return now
        if media is not None and self._last_media is not None:
            gap = min(max(media - self._last_media, 0.0), self.max_gap)
        else:
            gap = self.cadence
        return self._anchor + gap / speed

    def _emit(self, message: Message, media: float | None, due: float, now: float) -> None:
        # Keep to the schedule when on time; after a stall (slow callback, reading) start afresh.
        self._anchor = due if now - due < 0.25 else now
        if media is not None:
            self._last_media = media
        self._batch.append(message)
        if self.transcript is None or message.protocol not in _LINE_PROTOCOLS:
            self._counters.count(message)

    def _post(self, force: bool = False, allow_empty: bool = False) -> bool:
        """Hand the batch to the sinks when due (or forced); ``True`` if it posted.

        A batch that is due waits while a bounded sink (the UI) still holds the previous one; a full
        (``MAX_BATCH``) or forced batch blocks, stop-aware, until it has taken it.
        """
        now = time.monotonic()
        if not self._batch and not allow_empty:
            return False
        if not force and now - self._last_post < MIN_POST_INTERVAL:
            return False
        if not self._consumers_ready(block=force):
            return False
        batch, self._batch = self._batch, []
        self._last_post = time.monotonic()
        module = self._decoder.last_module_event if self._decoder is not None else None
        if module is not None and module.summary != self._module_event:
            self._module_event = module.summary
            self._event("module", module.summary, module.trouble)
        snapshot = self._snapshot()
        for sink in list(self._sinks):
            try:
                sink.on_messages(batch, snapshot)
            except Exception as exc:  # one broken sink must not stop the others or the run
                self._sink_failed(sink, exc)
        return True

    def _sort_sinks(self) -> None:
        """Note which sinks also take bytes or pace the pipeline (checked once, not per message)."""
        self._byte_sinks = [sink for sink in self._sinks if isinstance(sink, ByteSink)]
        self._bounded_sinks = [sink for sink in self._sinks if isinstance(sink, BoundedSink)]

    def _consumers_ready(self, block: bool) -> bool:
        """Has every :class:`BoundedSink` taken the last batch? With ``block`` (a full or forced batch),
        wait until they have, stop-aware (``False`` when stopping); else answer at once, and the
        decoder goes on filling the batch meanwhile (up to :data:`MAX_BATCH`)."""
        for sink in self._bounded_sinks:
            if not block:
                if not sink.wait_ready(0):
                    return False
                continue
            while not sink.wait_ready(_READY_SLICE):
                if self._stopping():
                    return False
        return True

    def _sink_failed(self, sink: object, exc: Exception) -> None:
        # the traceback only at debug level: an exception's text may quote what it was handed
        log.error("a sink failed (%s); it gets no more data", type(exc).__name__)
        log.debug("sink failure", exc_info=exc)
        self._stats.last_error = f"{self._drop_sink(sink)} stopped: {type(exc).__name__}: {exc}"

    def _drop_sink(self, failed: object) -> str:
        """Take a failed sink out of the run and close it; returns its name for the message."""
        for sink in [s for s in self._sinks if s is failed]:
            self._sinks.remove(sink)
            try:
                sink.close()
            except Exception:
                log.debug("closing a failed sink failed", exc_info=True)
        self._sort_sinks()
        return str(getattr(failed, "name", type(failed).__name__))

    def _event(self, kind: EventKind, text: str, trouble: bool = False) -> None:
        event = PipelineEvent(kind, text, self._clock(), trouble)
        for sink in list(self._sinks):
            try:
                sink.on_event(event)
            except Exception as exc:
                self._sink_failed(sink, exc)

    def _tick(self) -> None:
        for sink in self._byte_sinks:
            try:
                sink.tick()
            except Exception as exc:
                self._sink_failed(sink, exc)
        if self._wake_at is not None and self._clock() >= self._wake_at:
            self._session_poll()

    def _snapshot(self) -> PipelineStats:
        stats = self._stats
        if self._decoder is not None:
            self._counters.take_decoder(self._decoder.stats)
            event = self._decoder.last_module_event
            if event is not None:
                stats.module_event, stats.module_trouble = event.summary, event.trouble
        if self.session is not None:
            stats.session_state = self.session.state
        return stats.copy()

    # -- reading -----------------------------------------------------------------------------------
    def _read(self, timeout: float) -> None:
        try:
            chunk = self.source.read(timeout)
        except EOFError:
            self._eof = True
            self._enqueue(self._flush_decoder(), None)
            if self.transcript is not None:
                self._enqueue(self.transcript.rest(), None)
            return
        except (SourceError, OSError) as exc:
            self._source_failed(str(exc) or type(exc).__name__)
            return
        if chunk is None:
            return
        self._take(chunk)

    def _take(self, chunk: Chunk) -> None:
        self._stats.bytes_received += len(chunk.data)
        self._pass_bytes += len(chunk.data)
        session = self.session
        redact = getattr(session, "redact_received", None)  # a module's echo of a secret is not recorded
        self._to_byte_sinks(Chunk(redact(chunk.data), chunk.received) if callable(redact) else chunk, sent=False)
        if session is not None:
            session.on_bytes(chunk.data, self._clock())
            self._session_poll()
        assert self._decoder is not None
        messages = self._decoder.feed(chunk.data, chunk.received)
        if session is not None:
            session.on_messages(messages, self._clock())
            self._session_poll()
        if self.transcript is not None:
            from meterui.protocol.sklines import merge

            messages = merge(self.transcript.received(chunk), messages)
        self._enqueue(messages, chunk.received)

    def _to_byte_sinks(self, chunk: Chunk, sent: bool) -> None:
        for sink in list(self._byte_sinks):
            try:
                sink.on_chunk(chunk, sent)
            except (SourceError, OSError) as exc:
                self._stats.last_error = f"{self._drop_sink(sink)} stopped: {exc}"
                self._event("sink", self._stats.last_error, trouble=True)

    # -- the session ---------------------------------------------------------------------------------
    def _session_start(self) -> None:
        if self.session is not None:
            self.session.start(self._clock())
            self._session_poll()

    def _session_poll(self) -> None:
        session = self.session
        if session is None:
            return
        output = session.poll(self._clock())
        self._wake_at = output.wake_at
        self._stats.session_state = session.state
        for event in output.events:
            self._event("session", event.text, event.trouble)
        for data in output.writes:
            self._send(data)
        if getattr(session, "reopen_wanted", False) and not self._reopening:
            self._reopen_for_session()

    def _reopen_for_session(self) -> None:
        """The session asked for the port to be closed and opened again (a module that went silent)."""
        session = self.session
        assert session is not None
        self._reopening = True
        try:
            session.on_connection(False, self._clock())
            self._session_poll()
            try:
                self.source.close()
                self.source.open()
            except (SourceError, OSError) as exc:
                self._source_failed(str(exc) or type(exc).__name__)
                return
            self._stats.connected = True
            self._event("connected", f"{self.source.description}: reopened for the session")
            session.on_connection(True, self._clock())
            self._session_poll()
        finally:
            self._reopening = False

    def _send(self, data: bytes) -> None:
        """Write a session's bytes to the source and record them as sent (dropped while disconnected)."""
        if not data:
            return
        if not self._stats.connected or not isinstance(self.source, WritableSource):
            log.debug("not connected: %d byte(s) of the session not sent", len(data))
            return
        try:
            self.source.write(data)
        except (SourceError, OSError) as exc:
            self._stats.last_error = str(exc) or type(exc).__name__
            self._event("error", self._stats.last_error, trouble=True)
            return
        redact = getattr(self.session, "redact", None)  # secrets in what was sent never reach a recording
        recorded = redact(bytes(data)) if callable(redact) else bytes(data)
        sent = Chunk(recorded, self._clock())
        self._to_byte_sinks(sent, sent=True)
        if self.transcript is not None:
            self._enqueue(self.transcript.sent(sent), None)

    def _session_stop(self) -> None:
        session = self.session
        if session is None:
            return
        try:
            session.stop(self._clock())
            self._session_poll()
        except Exception:  # the end of a run must not fail because of the session
            log.exception("stopping the session failed")

    def _flush_decoder(self) -> list[Message]:
        return self._decoder.flush() if self._decoder is not None else []

    def _enqueue(self, messages: list[Message], received: float | None) -> None:
        pending = self._pending
        for message in messages:
            if self.live and self._paused and len(pending) >= self.live_buffer:
                pending.popleft()
                self._stats.dropped += 1
            media = message.received if message.received is not None else received
            if media is None and not self.live and not math.isinf(self._speed):
                media = self._meter_time(message)  # (unpaced: no time needed, e.g. ``meterui decode``)
            pending.append((message, media))

    def _meter_time(self, message: Message) -> float | None:
        """A replay time for a file without recorded times, from the meter's own clock: steps the meter
        plausibly took (0 < Δ ≤ ``max_gap``) are followed, any other jump counts as ``cadence``; noise
        between clocked frames adds no delay; ``None`` (the default cadence) without any clock."""
        clock = clock_seconds(message.clock) if message.clock else None
        if clock is None:
            return self._synth_time if message.error is not None else None
        if self._synth_time is None or self._meter_clock is None:
            self._synth_time = 0.0
        else:
            step = clock - self._meter_clock
            self._synth_time += step if 0 < step <= self.max_gap else self.cadence
        self._meter_clock = clock
        return self._synth_time

    def _end_of_pass(self) -> None:
        """The replay hit its end: loop back to the start, or finish."""
        if not self.loop or self._pass_bytes == 0:
            self._finished = True
            return
        try:
            self.source.close()
            self.source.open()
        except (SourceError, OSError) as exc:
            self._stats.last_error = str(exc)
            self._finished = True
            return
        self._eof = False
        self._pass_bytes = 0
        self._last_media = None  # recorded times jump back: don't wait for them
        self._stats.loops += 1

    def _source_failed(self, error: str) -> None:
        self._stats.last_error = error
        self._enqueue(self._flush_decoder(), None)
        if not self.live or not self.reconnect or not isinstance(self.source, ReconnectingSource):
            self._event("error", error, trouble=True)
            self._finished = True
            return
        self._stats.connected = False
        self._event("disconnected", error, trouble=True)
        self._drain()  # show what was decoded before the device went away
        if self.session is not None:
            self.session.on_connection(False, self._clock())
            self._session_poll()
        self._post(force=True, allow_empty=True)
        if self._reconnect():
            self._stats.connected = True
            self._stats.source = self.source.description
            self._event("connected", f"{self.source.description}: connected again")
            if self.session is not None:
                self.session.on_connection(True, self._clock())
                self._session_poll()
            self._post(force=True, allow_empty=True)

    def _reconnect(self) -> bool:
        source = self.source
        if not isinstance(source, ReconnectingSource):
            return False
        reported = [source.last_error]

        def should_stop() -> bool:  # called between attempts: say once why reopening fails
            error = source.last_error
            if error and error != reported[0]:
                reported[0] = self._stats.last_error = error
                self._event("error", error, trouble=True)
            return self._stopping()

        ok = bool(source.reconnect(should_stop))
        if not ok and source.last_error:
            self._stats.last_error = str(source.last_error)
        return ok
