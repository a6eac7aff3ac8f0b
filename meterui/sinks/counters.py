"""The one counters type (:class:`PipelineStats`) and the one place that counts messages (:class:`Counters`).

Every reader of a byte stream (the app, ``monitor --json``, ``decode``, the wizard's listen test, the
demo preload) runs a :class:`~meterui.pipeline.Pipeline`, and the pipeline counts with :class:`Counters`.
Each name has one meaning:

* ``frames_ok`` / ``frames_bad``: messages that decoded without error / with an error (any layer);
* ``checksum_ok`` / ``checksum_bad``: link frames whose checksum passed / failed (the decoder's count);
* ``errors_by_layer``: ``frames_bad`` split by the failing layer; ``decrypt_failures`` its ``crypto`` part;
* ``bytes_received``: bytes read from the source; ``skipped_bytes``: bytes that fit no frame.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable

from meterui.protocol.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from meterui.protocol.decoder import DecoderStats
    from meterui.protocol.message import Message

_PUSH_WINDOW = 32


class PipelineStats(Record):
    """A snapshot of the pipeline's state, handed to every sink with every batch."""

    __slots__ = (  # noqa: RUF023 (field order: the constructor's, as repr shows it)
        "source",
        "bytes_received",
        "frames_ok",
        "frames_bad",
        "errors_by_layer",
        "decrypt_failures",
        "checksum_ok",
        "checksum_bad",
        "skipped_bytes",
        "last_message_time",
        "mean_push_interval",
        "connected",
        "last_error",
        "paused",
        "speed",
        "finished",
        "loops",
        "dropped",
        "module_event",
        "module_trouble",
        "session_state",
    )

    source: str
    """The source description, e.g. ``/dev/ttyUSB0 2400 8E1`` or ``replay capture.hex``."""
    bytes_received: int
    frames_ok: int
    """Messages decoded without an error."""
    frames_bad: int
    """Messages with an error (line noise, bad checksum, crypto, APDU)."""
    errors_by_layer: dict[str, int]
    decrypt_failures: int
    """Messages that failed at the ``crypto`` layer (wrong or missing key, failed authentication)."""
    checksum_ok: int
    """Link frames whose checksum passed (from the decoder)."""
    checksum_bad: int
    """Link frames whose checksum failed (from the decoder)."""
    skipped_bytes: int
    """Bytes the decoder could not place in any message (from its stats, when it has them)."""
    last_message_time: float | None
    """UNIX time of the last message posted (its arrival time, or the wall clock when unknown)."""
    mean_push_interval: float | None
    """Mean seconds between recent messages' arrival times (``None`` when times are unknown)."""
    connected: bool
    last_error: str | None
    paused: bool
    speed: float
    finished: bool
    """The run is over (end of a replay, or a fatal error)."""
    loops: int
    """How many times a looping replay restarted."""
    dropped: int
    """Live messages dropped because the pause (or back-pressure) buffer was full."""
    module_event: str | None
    """The newest B-route module event (``EVENT 25 PANA connected``, ``FAIL ER04 …``), if any."""
    module_trouble: bool
    """That event means the link is down or throttled, or a command failed."""
    session_state: str | None
    """The session's state (``joined``…) when the pipeline drives one."""

    def __init__(
        self,
        source: str,
        bytes_received: int = 0,
        frames_ok: int = 0,
        frames_bad: int = 0,
        errors_by_layer: dict[str, int] | None = None,
        decrypt_failures: int = 0,
        checksum_ok: int = 0,
        checksum_bad: int = 0,
        skipped_bytes: int = 0,
        last_message_time: float | None = None,
        mean_push_interval: float | None = None,
        connected: bool = False,
        last_error: str | None = None,
        paused: bool = False,
        speed: float = 1.0,
        finished: bool = False,
        loops: int = 0,
        dropped: int = 0,
        module_event: str | None = None,
        module_trouble: bool = False,
        session_state: str | None = None,
    ) -> None:
        self.source = source
        self.bytes_received = bytes_received
        self.frames_ok = frames_ok
        self.frames_bad = frames_bad
        self.errors_by_layer = dict() if errors_by_layer is None else errors_by_layer
        self.decrypt_failures = decrypt_failures
        self.checksum_ok = checksum_ok
        self.checksum_bad = checksum_bad
        self.skipped_bytes = skipped_bytes
        self.last_message_time = last_message_time
        self.mean_push_interval = mean_push_interval
        self.connected = connected
        self.last_error = last_error
        self.paused = paused
        self.speed = speed
        self.finished = finished
        self.loops = loops
        self.dropped = dropped
        self.module_event = module_event
        self.module_trouble = module_trouble
        self.session_state = session_state

    @property
    def frames(self) -> int:
        return self.frames_ok + self.frames_bad

    def replace(self, **changes: Any) -> PipelineStats:
        """A shallow copy with ``changes`` applied (as ``dataclasses.replace``)."""
        new = PipelineStats.__new__(PipelineStats)
        for name in self.__slots__:
            setattr(new, name, getattr(self, name))
        for name, value in changes.items():
            if name not in self.__slots__:
                raise TypeError(f"PipelineStats has no field {name!r}")
            setattr(new, name, value)
        return new

    def copy(self) -> PipelineStats:
        return self.replace(errors_by_layer=dict(self.errors_by_layer))


class Counters:
    """Counts messages into a :class:`PipelineStats` (the only code that does)."""

    def __init__(self, stats: PipelineStats, wall: Callable[[], float] = time.time) -> None:
        self.stats = stats
        self._wall = wall
        self._push_times: deque[float] = deque(maxlen=_PUSH_WINDOW)
        self._last_push: float | None = None

    def count(self, message: Message) -> None:
        stats = self.stats
        if message.error is None:
            stats.frames_ok += 1
        else:
            stats.frames_bad += 1
            layer = message.error.layer
            stats.errors_by_layer[layer] = stats.errors_by_layer.get(layer, 0) + 1
            if layer == "crypto":
                stats.decrypt_failures += 1
        stats.last_message_time = message.received if message.received is not None else self._wall()
        if message.received is not None and message.error is None:
            if self._last_push is not None and message.received - self._last_push > 1e-3:
                self._push_times.append(message.received - self._last_push)
                stats.mean_push_interval = sum(self._push_times) / len(self._push_times)
            if self._last_push is None or message.received > self._last_push:
                self._last_push = message.received

    def count_all(self, messages: Iterable[Message]) -> None:
        for message in messages:
            self.count(message)

    def take_decoder(self, decoder_stats: DecoderStats) -> None:
        """Copy the decoder's link-level counts (checksums, skipped bytes)."""
        self.stats.checksum_ok = decoder_stats.checksum_ok
        self.stats.checksum_bad = decoder_stats.checksum_bad
        self.stats.skipped_bytes = decoder_stats.skipped_bytes
