"""The commissioning test: listen to a port for a few seconds and say, in plain words, what is wrong.

UI-free. :func:`listen` runs the one :class:`~meterui.pipeline.Pipeline` over an opened-or-not
:class:`~meterui.sources.base.Source` and a :class:`~meterui.protocol.decoder.StreamDecoder` for N
seconds (its counting is the pipeline's), and ends with a :class:`Verdict`. :func:`verdict_for` is
the pure part (counts and messages in, verdict out), so every verdict can be tested without a port.
Run :func:`listen` in a worker thread: it blocks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from meterui.pipeline import Pipeline
from meterui.protocol.decoder import DecoderStats, StreamDecoder
from meterui.protocol.errors import ErrorKind
from meterui.protocol.links import recognise_text
from meterui.protocol.message import Message, Reading
from meterui.quantities import QUANTITY
from meterui.sinks.base import PipelineEvent
from meterui.sinks.counters import Counters, PipelineStats
from meterui.sources.base import Chunk, Source

Level = Literal["ok", "warn", "error"]

HEAD_BYTES = 4096
"""How many of the first bytes :func:`listen` keeps for recognising text protocols (P1, SKSTACK)."""
MAX_MESSAGES = 256
"""Messages kept for the verdict; a listen test is short, this only bounds a runaway."""
PROGRESS_EVERY = 0.1
"""Seconds between ``on_progress`` calls (plus one at the start and one at the end)."""

_EXAMPLE_QUANTITIES = (
    "active_power_import",
    "active_power_export",
    "reactive_power_import",
    "reactive_power_export",
    "voltage_l1",
    "current_l1",
    "active_energy_import",
)
"""The readings worth quoting in a verdict, best first."""
_SHORT_NAMES = {quantity: QUANTITY[quantity].short for quantity in _EXAMPLE_QUANTITIES}


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the listen test concluded, for a person holding the cable."""

    level: Level
    title: str
    """One line: what happened."""
    advice: str
    """The next step, in a sentence or two."""
    code: str
    """Stable id for tests and scripts: ``no-bytes``, ``no-frames``, ``bad-frames``, ``no-key``,
    ``wrong-key``, ``auth-failed``, ``undecoded``, ``p1-text``, ``module-text``, ``ok``,
    ``port-error``."""


@dataclass(slots=True)
class ListenCounts:
    """Progress of a listen test (what the progress callback receives): the pipeline's own counts
    (:class:`PipelineStats`, one meaning per name) and what only the test knows."""

    seconds: float
    elapsed: float = 0.0
    decrypt_ok: int = 0
    """Encrypted messages that decrypted (the pipeline counts only the failures)."""
    stats: PipelineStats = field(default_factory=lambda: PipelineStats(_LISTEN_SOURCE))

    def copy(self) -> ListenCounts:
        return ListenCounts(self.seconds, self.elapsed, self.decrypt_ok, self.stats.copy())


_LISTEN_SOURCE = "listen test"


@dataclass(slots=True)
class ListenReport:
    """The result of :func:`listen`."""

    counts: ListenCounts
    verdict: Verdict
    error: str | None = None
    """The port's one-line error when it could not be opened or went away."""
    example: Message | None = None
    """The last good message, if any (for showing a reading)."""
    messages: list[Message] = field(default_factory=list)


def is_auth_failure(msg: Message) -> bool:
    return msg.error is not None and msg.error.kind is ErrorKind.AUTH_FAILED


def is_decrypt_ok(msg: Message) -> bool:
    return msg.encrypted and (msg.error is None or msg.error.layer != "crypto")


def example_reading(messages: Sequence[Message]) -> tuple[str, Reading] | None:
    """A reading worth quoting (active power import if present) as ``(short name, reading)``."""
    readings = [r for m in reversed(messages) if m.error is None for r in m.readings]
    for quantity, short in _SHORT_NAMES.items():
        for r in readings:
            if r.quantity == quantity:
                return short, r
    for r in readings:
        if r.unit:
            return r.name, r
    return None


def _format_reading(short: str, r: Reading) -> str:
    return f"{short} = {r.format_value()}{' ' + r.unit if r.unit else ''}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the diagnosis looks at: counts from the decoder or the pipeline, the crypto failures seen and
    the first bytes of the stream."""

    bytes_in: int
    checksum_ok: int
    checksum_bad: int
    messages_ok: int
    messages_bad: int
    crypto: frozenset[ErrorKind] = frozenset()
    """The kinds of the crypto errors seen (``KEY_MISSING``, ``AUTH_FAILED``…)."""
    head: bytes = b""

    @classmethod
    def of_messages(cls, stats: DecoderStats, messages: Sequence[Message], head: bytes = b"") -> Evidence:
        errors = [m.error for m in messages if m.error is not None]
        return cls(
            stats.bytes_in,
            stats.checksum_ok,
            stats.checksum_bad,
            len(messages) - len(errors),
            len(errors),
            frozenset(e.kind for e in errors if e.layer == "crypto"),
            head,
        )

    @classmethod
    def of_stats(cls, stats: PipelineStats, crypto: frozenset[ErrorKind] = frozenset()) -> Evidence:
        return cls(
            stats.bytes_received, stats.checksum_ok, stats.checksum_bad, stats.frames_ok, stats.frames_bad, crypto
        )


def diagnose(evidence: Evidence) -> str:
    """The one diagnosis of a stream that shows no readings (yet): a code for what is wrong.

    ``no-bytes``, ``ok``, ``no-key``, ``auth-failed``, ``wrong-key``, ``p1-text``, ``module-text``,
    ``no-frames``, ``bad-frames`` or ``undecoded``. The wizard's :func:`verdict_for` and the live
    screen's empty state (:func:`empty_hint`) word it for their reader.
    """
    e = evidence
    if e.bytes_in == 0:
        return "no-bytes"
    if e.messages_ok and e.checksum_bad <= max(e.checksum_ok, e.messages_ok):
        return "ok"
    if ErrorKind.KEY_MISSING in e.crypto:
        return "no-key"
    if ErrorKind.AUTH_FAILED in e.crypto:
        return "auth-failed"
    if e.crypto:
        return "wrong-key"
    if e.checksum_ok == 0 and e.checksum_bad == 0:
        text = recognise_text(e.head)
        return {"dsmr": "p1-text", "skstack": "module-text"}.get(text or "", "no-frames")
    if e.checksum_bad > e.checksum_ok or not e.checksum_ok:
        return "bad-frames"
    return "undecoded"


def empty_hint(stats: PipelineStats) -> str:
    """The live screen's hint while no reading shows (Textual markup), from :func:`diagnose`."""
    code = diagnose(Evidence.of_stats(stats))
    if code == "no-bytes":
        if stats.finished:
            return "The file held no bytes."
        return (
            "Meters push a reading every 1 to 10 seconds. If nothing arrives, check the cable and that "
            "the grid operator has enabled the customer port."
        )
    if code == "ok" or stats.frames_ok:
        return "Frames arrive, but they carried no readings yet."
    if stats.frames_bad:
        layers = ", ".join(f"{n} {layer}" for layer, n in sorted(stats.errors_by_layer.items()))
        return (
            f"{stats.frames_bad} message(s) arrived but none could be read ({layers} errors).\n"
            "Check the baud rate and parity (Kamstrup 2400 8N1; Aidon, Kaifa and Austrian M-Bus "
            "2400 8E1), or press [b]i[/b] to inspect the frames."
        )
    return (
        f"{stats.bytes_received} bytes received, no complete frame yet. If this persists, "
        "check the baud rate and parity."
    )


_FIXED_VERDICTS: dict[str, tuple[Level, str, str]] = {
    "no-bytes": (
        "error",
        "No bytes at all",
        "Check the cable, the port name, and that the meter's customer port is enabled (some grid "
        "operators must activate it first). A P1 port only sends while Data Request is powered.",
    ),
    "no-key": (
        "warn",
        "Frames OK but encrypted, and no key",
        "Enter the encryption key from your grid operator (32 hex digits; some operators call it "
        "GUEK or 'Schlüssel'). Go Back to the Keys step.",
    ),
    "auth-failed": (
        "error",
        "Authentication failed",
        "Check the authentication key (and the encryption key: a wrong one fails the same way). "
        "Both come from your grid operator and are different for every meter.",
    ),
    "wrong-key": (
        "error",
        "Key does not decrypt",
        "Check the encryption key: it is per meter, so make sure it belongs to this meter's serial "
        "number, and look for mistyped digits.",
    ),
    "p1-text": (
        "warn",
        "P1 text telegrams received",
        "The cable and serial settings are right: this is a DSMR P1 telegram. meterui cannot decode P1 text yet.",
    ),
    "module-text": (
        "warn",
        "Module answers, but no meter data yet",
        "The Wi-SUN module is talking. meterui reads its transcript but does not join the meter "
        "for you: log it in with your B-route ID and password first.",
    ),
    "no-frames": (
        "error",
        "Bytes but no frames",
        "Wrong baud rate or parity. Check the baud rate first (Nordic and Austrian meters mostly "
        "2400, P1 ports 115200), then try 8N1 instead of 8E1 (or the reverse).",
    ),
}
"""The verdicts whose words do not depend on the counts: code → (level, title, advice)."""


def _all_good(stats: DecoderStats, messages: Sequence[Message]) -> Verdict:
    good = [m for m in messages if m.error is None]
    crypto = [m for m in messages if m.error is not None and m.error.layer == "crypto"]
    title = f"All good: {_plural(len(good), 'message')} decoded"
    found = example_reading(good)
    if found is not None:
        title += f", e.g. {_format_reading(*found)}"
    problems = []
    if stats.checksum_bad:
        problems.append(f"{_plural(stats.checksum_bad, 'frame')} failed the checksum")
    if crypto:
        problems.append(f"{_plural(len(crypto), 'message')} could not be decrypted")
    if problems:
        return Verdict(
            "warn",
            title,
            f"But {' and '.join(problems)}: a little line noise is normal; if it keeps "
            "happening, check the cable and the parity.",
            "ok",
        )
    return Verdict("ok", title, "The settings work. Save them to start reading the meter.", "ok")


def _bad_frames(stats: DecoderStats, messages: Sequence[Message]) -> Verdict:
    return Verdict(
        "error",
        "Frames with checksum errors",
        f"{_plural(stats.checksum_bad, 'frame')} failed the checksum, {stats.checksum_ok} passed: noise on "
        "the line or the wrong parity. Try 8N1 instead of 8E1 (or the reverse), and check the "
        "cable.",
        "bad-frames",
    )


def _undecoded(stats: DecoderStats, messages: Sequence[Message]) -> Verdict:
    first = next((m.error for m in messages if m.error is not None and m.error.layer == "apdu"), None)
    detail = f" The decoder says: {first.message}." if first is not None else ""
    return Verdict(
        "warn",
        "Frames arrive but cannot be decoded",
        "The cable and serial settings work, but this meter's data format is not understood." + detail,
        "undecoded",
    )


_COUNTED_VERDICTS: dict[str, Callable[[DecoderStats, Sequence[Message]], Verdict]] = {
    "ok": _all_good,
    "bad-frames": _bad_frames,
    "undecoded": _undecoded,
}
"""The verdicts that quote the counts or the messages: code → builder."""


def verdict_for(stats: DecoderStats, messages: Sequence[Message], head: bytes = b"") -> Verdict:
    """Turn the decoder's counts and messages into a verdict with a next step. Pure.

    ``head`` is the start of the byte stream (optional): it lets a DSMR P1 telegram or a B-route
    module's text be recognised when no frame was found.
    """
    code = diagnose(Evidence.of_messages(stats, messages, head))
    fixed = _FIXED_VERDICTS.get(code)
    if fixed is not None:
        return Verdict(*fixed, code)
    return _COUNTED_VERDICTS[code](stats, messages)


def _port_error(message: str) -> Verdict:
    return Verdict(
        "error",
        "Cannot use the port",
        f"{message[:1].upper()}{message[1:]}. Check the port name, that the adapter is "
        "plugged in, and that no other program is using it.",
        "port-error",
    )


class _ListenSink:
    """Keeps what the verdict needs: the first messages, the first bytes, the last good reading."""

    name = "listen test"

    def __init__(self, counts: ListenCounts, on_connected: Callable[[], None]) -> None:
        self.counts = counts
        self.messages: list[Message] = []
        self.head = bytearray()
        self.example: Message | None = None
        self._on_connected = on_connected

    def on_chunk(self, chunk: Chunk, sent: bool) -> None:
        if not sent and len(self.head) < HEAD_BYTES:
            self.head += chunk.data[: HEAD_BYTES - len(self.head)]

    def tick(self) -> None:
        pass

    def on_messages(self, messages: Sequence[Message], stats: PipelineStats) -> None:
        self.take(messages)

    def take(self, messages: Sequence[Message]) -> None:
        for msg in messages:
            if len(self.messages) < MAX_MESSAGES:
                self.messages.append(msg)
            if msg.error is None and msg.readings:
                self.example = msg
            if is_decrypt_ok(msg):
                self.counts.decrypt_ok += 1

    def on_event(self, event: PipelineEvent) -> None:
        if event.kind == "connected":
            self._on_connected()

    def close(self) -> None:
        pass


def listen(
    source: Source,
    decoder: StreamDecoder,
    seconds: float,
    on_progress: Callable[[ListenCounts], object] | None = None,
    should_stop: Callable[[], bool] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> ListenReport:
    """Read ``source`` for ``seconds`` and decode everything; never raises :class:`SourceError`.

    Opens the source unless it is already open, and always closes it. A port that cannot be opened,
    or goes away, ends the test early with a ``port-error`` verdict. ``on_progress`` gets a copy of the
    counts at most every :data:`PROGRESS_EVERY` seconds (it runs in this thread: from a UI, post a
    message). ``should_stop`` is checked between reads (a read waits at most 0.2 s).
    """
    counts = ListenCounts(seconds)
    start = clock()
    last = start

    def update() -> None:
        counts.stats = pipeline.stats  # a snapshot, with the decoder's newest link-level counts
        Counters(counts.stats).take_decoder(decoder.stats)

    def report(elapsed: float) -> None:
        if on_progress is not None:
            update()
            counts.elapsed = min(elapsed, seconds)
            on_progress(counts.copy())

    def done() -> bool:
        nonlocal last
        now = clock()
        if now - last >= PROGRESS_EVERY:
            last = now
            report(now - start)
        return now - start >= seconds or (should_stop is not None and should_stop())

    sink = _ListenSink(counts, lambda: report(0.0))
    pipeline = Pipeline(
        source, live=True, reconnect=False, fmt=decoder.fmt, decoder_factory=lambda _fmt: decoder, sinks=[sink]
    )
    pipeline.run(finish_when=done)
    stats = pipeline.stats
    error = stats.last_error
    sink.take(decoder.flush_garbage())
    update()
    counts.elapsed = seconds if error is None else min(clock() - start, seconds)
    if on_progress is not None:
        on_progress(counts.copy())
    if error is not None and counts.stats.bytes_received == 0:
        verdict = _port_error(error)
    else:
        verdict = verdict_for(decoder.stats, sink.messages, bytes(sink.head))
    return ListenReport(counts, verdict, error, sink.example, sink.messages)
