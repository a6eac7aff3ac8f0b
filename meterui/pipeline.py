"""One pipeline for live and replay data: source → decoder → batches of messages for the UI.

:class:`Pipeline` runs in the calling thread (a Textual thread worker, a CLI loop or a test) and hands
batches of :class:`~meterui.protocol.message.Message` to a callback together with a
:class:`PipelineStats` snapshot. Replays are paced: by the recorded timestamps when the chunks carry
them, else by the meter's own clock in the messages (the meter's cadence), else one message every
``cadence`` seconds, all divided by ``speed`` (``math.inf`` = as fast as
possible). Batches are posted at most ~20 times a second so a fast replay cannot flood a UI.

The controls (:meth:`pause`, :meth:`resume`, :meth:`toggle_pause`, :meth:`set_speed`, :meth:`step`,
:meth:`stop`) are thread-safe. :meth:`run` never raises: source errors end up in the stats, live sources
are reconnected with backoff, and the run ends at the end of a replay (unless ``loop``) or when
``should_stop()`` is true.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from meterui.protocol.message import Message
from meterui.sources.base import Chunk, Source, SourceError
from meterui.sources.recording import Recorder

log = logging.getLogger(__name__)

MIN_POST_INTERVAL = 0.05
"""At most ~20 batches a second."""
MAX_BATCH = 500
"""A batch is posted early when it gets this long (bounds memory at max speed)."""
_PUSH_WINDOW = 32


class Decoder(Protocol):
    """What the pipeline needs from :class:`meterui.protocol.decoder.StreamDecoder`."""

    def feed(self, data: bytes, received: float | None = None) -> list[Message]: ...

    def flush(self) -> list[Message]: ...


@dataclass(slots=True)
class PipelineStats:
    """A snapshot of the pipeline's state, handed to the UI with every batch."""

    source: str
    """The source description, e.g. ``/dev/ttyUSB0 2400 8E1`` or ``replay capture.hex``."""
    bytes_received: int = 0
    frames_ok: int = 0
    frames_bad: int = 0
    errors_by_layer: dict[str, int] = field(default_factory=dict)
    decrypt_failures: int = 0
    """Messages that failed at the ``crypto`` layer (wrong or missing key, failed authentication)."""
    skipped_bytes: int = 0
    """Bytes the decoder could not place in any message (from its stats, when it has them)."""
    last_message_time: float | None = None
    """UNIX time of the last message posted (its arrival time, or the wall clock when unknown)."""
    mean_push_interval: float | None = None
    """Mean seconds between recent messages' arrival times (``None`` when times are unknown)."""
    connected: bool = False
    last_error: str | None = None
    paused: bool = False
    speed: float = 1.0
    finished: bool = False
    """The run is over (end of a replay, or a fatal error)."""
    loops: int = 0
    """How many times a looping replay restarted."""
    dropped: int = 0
    """Live messages dropped because the pause buffer was full."""
    module_event: str | None = None
    """The newest B-route module event (``EVENT 25 PANA connected``, ``FAIL ER04 …``), if any."""
    module_trouble: bool = False
    """That event means the link is down or throttled, or a command failed."""

    @property
    def frames(self) -> int:
        return self.frames_ok + self.frames_bad

    def copy(self) -> PipelineStats:
        return replace(self, errors_by_layer=dict(self.errors_by_layer))


OnMessages = Callable[[list[Message], PipelineStats], None]


def clock_seconds(clock: str) -> float | None:
    """A message's ISO clock as seconds (naive clocks read as UTC: only differences are used)."""
    try:
        stamp = datetime.fromisoformat(clock)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


class Pipeline:
    """Owns a source and a decoder; :meth:`run` loops read → decode → pace → post.

    ``recorder``, when given, receives every chunk read (and is closed when :meth:`run` ends).
    ``decoder_factory(fmt)`` builds the decoder (default: ``StreamDecoder(key, auth_key, fmt)``);
    ``fmt`` defaults to the source's ``decoder_format``.
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
    ) -> None:
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
        self.live_buffer = max(1, live_buffer)
        self._decoder_factory = decoder_factory
        self.live: bool = bool(getattr(source, "live", True))
        self._cond = threading.Condition()
        self._paused = False
        self._resumed = False
        self._steps = 0
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
        cancel = getattr(self.source, "cancel_read", None)
        if cancel is not None:
            try:
                cancel()
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
        self._push_times: deque[float] = deque(maxlen=_PUSH_WINDOW)
        self._last_push: float | None = None
        self._should_stop: Callable[[], bool] = lambda: False
        self._on_messages: OnMessages | None = None

    def _stopping(self) -> bool:
        return self._stop.is_set() or self._should_stop()

    def run(self, on_messages: OnMessages, should_stop: Callable[[], bool]) -> None:
        """Loop until the replay ends or ``should_stop()``; never raises."""
        self._reset_run_state()
        self._stop.clear()
        self._on_messages = on_messages
        self._should_stop = should_stop
        stopped_by_caller = False
        try:
            if self._open():
                self._loop()
            stopped_by_caller = self._stopping()
        except Exception as exc:  # run() never raises: report and end
            log.exception("pipeline failed")
            self._stats.last_error = f"internal error: {type(exc).__name__}: {exc}"
        finally:
            try:
                self.source.close()
            except Exception:
                log.debug("closing the source failed", exc_info=True)
            if self.recorder is not None:
                try:
                    self.recorder.close()
                except Exception as exc:
                    self._stats.last_error = str(exc)
            self._stats.connected = False
            self._stats.finished = True
        if not stopped_by_caller:
            batch, self._batch = self._batch, []
            try:
                on_messages(batch, self._snapshot())
            except Exception:
                log.exception("on_messages failed")

    def _open(self) -> bool:
        try:
            self.source.open()
        except (SourceError, OSError) as exc:
            self._stats.last_error = str(exc)
            if not self.live or getattr(self.source, "reconnect", None) is None:
                return False
            self._post(force=True, allow_empty=True)
            if not self._reconnect():
                return False
        self._stats.source = self.source.description
        self._stats.connected = True
        fmt = self.fmt or str(getattr(self.source, "decoder_format", "auto"))
        self._decoder = self._make_decoder(fmt)
        return True

    def _make_decoder(self, fmt: str) -> Decoder:
        if self._decoder_factory is not None:
            return self._decoder_factory(fmt)
        from meterui.protocol.decoder import StreamDecoder

        return StreamDecoder(key=self.key, auth_key=self.auth_key, fmt=fmt,
                             invert_deviation=self.invert_deviation)

    def _loop(self) -> None:
        while not self._stopping():
            if self.recorder is not None:
                self._recorder_call(self.recorder.maybe_flush)
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
            if self._pending:
                message, media = self._pending[0]
                due = self._due(media, speed, now)
                if due <= now:
                    self._pending.popleft()
                    self._emit(message, media, due, now)
                    self._post(force=len(self._batch) >= MAX_BATCH)
                    continue
                if self._post():
                    continue
                wait = due - now
                if self._batch:
                    wait = min(wait, MIN_POST_INTERVAL - (now - self._last_post))
                self._wait(min(wait, 0.1))
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
            self._read(timeout)
        # what is left of the batch goes out from run() with the final stats

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
            self._wait(0.1)

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
        stats = self._stats
        if message.error is None:
            stats.frames_ok += 1
        else:
            stats.frames_bad += 1
            layer = message.error.layer
            stats.errors_by_layer[layer] = stats.errors_by_layer.get(layer, 0) + 1
            if layer == "crypto":  # as StreamDecoder's stats count them (a missing key included)
                stats.decrypt_failures += 1
        stats.last_message_time = message.received if message.received is not None else time.time()
        if message.received is not None and message.error is None:
            if self._last_push is not None and message.received - self._last_push > 1e-3:
                self._push_times.append(message.received - self._last_push)
                stats.mean_push_interval = sum(self._push_times) / len(self._push_times)
            if self._last_push is None or message.received > self._last_push:
                self._last_push = message.received

    def _post(self, force: bool = False, allow_empty: bool = False) -> bool:
        """Hand the batch to the callback when due (or forced); ``True`` if it posted."""
        now = time.monotonic()
        if not self._batch and not allow_empty:
            return False
        if not force and now - self._last_post < MIN_POST_INTERVAL:
            return False
        batch, self._batch = self._batch, []
        self._last_post = now
        assert self._on_messages is not None
        self._on_messages(batch, self._snapshot())
        return True

    def _snapshot(self) -> PipelineStats:
        stats = self._stats
        if self._decoder is not None:
            decoder_stats: Any = getattr(self._decoder, "stats", None)
            skipped = getattr(decoder_stats, "skipped_bytes", None)
            if isinstance(skipped, int):
                stats.skipped_bytes = skipped
            event = getattr(self._decoder, "last_module_event", None)
            if event is not None:
                stats.module_event, stats.module_trouble = event.summary, event.trouble
        return stats.copy()

    # -- reading -----------------------------------------------------------------------------------
    def _read(self, timeout: float) -> None:
        try:
            chunk = self.source.read(timeout)
        except EOFError:
            self._eof = True
            self._enqueue(self._flush_decoder(), None)
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
        if self.recorder is not None:
            recorder = self.recorder
            self._recorder_call(lambda: recorder.write(chunk))
        assert self._decoder is not None
        self._enqueue(self._decoder.feed(chunk.data, chunk.received), chunk.received)

    def _recorder_call(self, action: Callable[[], None]) -> None:
        try:
            action()
        except (SourceError, OSError) as exc:
            self._stats.last_error = f"recording stopped: {exc}"
            recorder, self.recorder = self.recorder, None
            if recorder is not None:
                with contextlib.suppress(OSError):
                    recorder.close()

    def _flush_decoder(self) -> list[Message]:
        return self._decoder.flush() if self._decoder is not None else []

    def _enqueue(self, messages: list[Message], received: float | None) -> None:
        pending = self._pending
        for message in messages:
            if self.live and self._paused and len(pending) >= self.live_buffer:
                pending.popleft()
                self._stats.dropped += 1
            media = message.received if message.received is not None else received
            if media is None and not self.live:
                media = self._meter_time(message)
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
        reconnect = getattr(self.source, "reconnect", None)
        if not self.live or reconnect is None:
            self._finished = True
            return
        self._stats.connected = False
        while self._pending:  # show what was decoded before the device went away
            msg, media = self._pending.popleft()
            now = time.monotonic()
            self._emit(msg, media, now, now)
        self._post(force=True, allow_empty=True)
        if self._reconnect():
            self._stats.connected = True
            self._stats.source = self.source.description
            self._post(force=True, allow_empty=True)

    def _reconnect(self) -> bool:
        reconnect = getattr(self.source, "reconnect", None)
        if reconnect is None:
            return False
        ok = bool(reconnect(self._stopping))
        if not ok:
            error = getattr(self.source, "last_error", None)
            if error:
                self._stats.last_error = str(error)
        return ok
