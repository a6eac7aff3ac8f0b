"""The last step for push meters: listen to the port for a few seconds and say what is wrong, if anything.

The listen test (:func:`meterui.commissioning.listen`, the one pipeline) runs in a thread worker; the
counters and the verdict follow it live. Nothing here blocks the UI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import ProgressBar, Static
from textual.worker import Worker, WorkerState, get_current_worker

from meterui.commissioning import ListenCounts, ListenReport, Verdict, listen
from meterui.config import Config
from meterui.presets import Preset, get_preset
from meterui.protocol.decoder import StreamDecoder
from meterui.sources.base import Source
from meterui.sources.serial_port import SerialSource
from meterui.widgets.setup.base import TestStep
from meterui.widgets.setup.summary import summary_text

SourceFactory = Callable[[Config], Source]
"""Builds the listen test's source from the chosen settings."""


def _status(verb: str, config: Config, end: str) -> Text:
    """The status line: ``Listening on PORT at 2400 8E1 for 10 s…`` (port and line settings in bold)."""
    return Text.assemble(verb, (config.port or "?", "bold"), " at ", (config.describe_serial(), "bold"), end)


class ListenStep(TestStep):
    STEP_ID: ClassVar[str] = "listen"
    LABEL: ClassVar[str] = "Listen"
    QUESTION: ClassVar[str] = "Listening to the meter"
    AGAIN: ClassVar[str] = "Listen again"
    FIXES: ClassVar[dict[str, tuple[str, str]]] = {
        "no-bytes": ("port", "Change port"),
        "port-error": ("port", "Change port"),
        "no-frames": ("serial", "Serial settings"),
        "bad-frames": ("serial", "Serial settings"),
        "no-key": ("keys", "Enter the key"),
        "wrong-key": ("keys", "Check the keys"),
        "auth-failed": ("keys", "Check the keys"),
        "p1-text": ("preset", "Choose the meter"),
        "module-text": ("preset", "Choose the meter"),
        "undecoded": ("preset", "Choose the meter"),
    }

    class Progress(Message):
        """Live counters during a listen test; replaces an unhandled older one."""

        def __init__(self, run: int, counts: ListenCounts) -> None:
            super().__init__()
            self.run = run
            self.counts = counts

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, ListenStep.Progress)

    class Done(Message):
        def __init__(self, run: int, report: ListenReport) -> None:
            super().__init__()
            self.run = run
            self.report = report

    def __init__(self, initial: Config, listen_seconds: float, source_factory: SourceFactory | None) -> None:
        super().__init__(initial)
        self.listen_seconds = listen_seconds
        self.source_factory = source_factory
        self._report: ListenReport | None = None
        self._run = 0
        self._pending_text = ""
        self._config = initial

    def compose(self) -> ComposeResult:
        yield Static(id="listen-status", classes="test-status")
        yield ProgressBar(total=100, show_eta=False, id="listen-progress")
        yield Static(id="counters")
        yield Static(id="verdict", classes="verdict -pending")
        yield Static(id="listen-summary", classes="summary")

    @property
    def report(self) -> ListenReport | None:
        return self._report

    def duration(self, preset: Preset | None) -> float:
        """The listen test's length: ``listen_seconds``, or one push interval plus a second."""
        interval = preset.interval if preset is not None else None
        return max(self.listen_seconds, interval + 1) if interval else self.listen_seconds

    def start(self, config: Config) -> None:
        self._run += 1
        self._report = None
        self._config = config
        seconds = self.duration(get_preset(config.preset))
        self.query_one("#listen-progress", ProgressBar).update(total=seconds, progress=0)
        self.show_status(_status("Listening on ", config, f" for {seconds:g} s…"))
        self.query_one("#listen-summary", Static).update(summary_text(config))
        self._show_counts(ListenCounts(seconds))
        self._pending_text = ""
        self.show_pending("")
        self._show_pending(ListenCounts(seconds))
        self._listen(self._run, config, seconds)

    def stop(self) -> None:
        self._run += 1  # late messages from the old run are ignored
        self.workers.cancel_group(self, "listen")

    def _make_source(self, cfg: Config) -> Source:
        if self.source_factory is not None:
            return self.source_factory(cfg)
        return SerialSource(cfg.port or "", cfg.baudrate, cfg.parity, cfg.bytesize, cfg.stopbits)

    @work(thread=True, exclusive=True, group="listen", exit_on_error=False)
    def _listen(self, run: int, cfg: Config, seconds: float) -> None:
        worker = get_current_worker()
        source = self._make_source(cfg)
        decoder = StreamDecoder(cfg.key, cfg.auth_key, invert_deviation=cfg.invert_deviation)
        report = listen(
            source,
            decoder,
            seconds,
            on_progress=lambda counts: self.post_message(self.Progress(run, counts)),
            should_stop=lambda: worker.is_cancelled,
        )
        if not worker.is_cancelled:
            self.post_message(self.Done(run, report))

    def on_listen_step_progress(self, message: Progress) -> None:
        if message.run == self._run:
            self._show_counts(message.counts)
            self._show_pending(message.counts)

    def on_listen_step_done(self, message: Done) -> None:
        if message.run != self._run:
            return
        self._report = message.report
        counts = message.report.counts
        self._show_counts(counts)
        self.show_status(_status("Listened on ", self._config, f" for {counts.seconds:g} s."))
        self.show_verdict(message.report.verdict)
        self.post_message(self.Finished(self))

    def _show_pending(self, c: ListenCounts) -> None:
        """While listening, the verdict box says what the counters say so far."""
        s = c.stats
        if s.decrypt_failures and not c.decrypt_ok:
            text = f"Frames arrive, but {s.decrypt_failures} could not be decrypted so far… still listening."
        elif s.frames_ok or s.checksum_ok:
            n = s.frames_ok or s.checksum_ok
            text = f"Frames arrive: {n} read so far… listening to the end for a verdict."
        elif s.checksum_bad:
            text = f"Frames arrive, but {s.checksum_bad} failed the checksum so far… still listening."
        elif s.bytes_received:
            text = f"{s.bytes_received} bytes so far, no complete frame yet… still listening."
        else:
            text = "Waiting for data from the meter…"
        if text != self._pending_text:
            self._pending_text = text
            self.query_one("#verdict", Static).update(text)

    def _show_counts(self, c: ListenCounts) -> None:
        self.query_one("#listen-progress", ProgressBar).update(total=c.seconds, progress=c.elapsed)
        s = c.stats
        bad = "bold red" if s.checksum_bad else ""
        failed = "bold red" if s.decrypt_failures else ""
        self.query_one("#counters", Static).update(
            Text.assemble(
                "Bytes ",
                (f"{s.bytes_received:<7}", "bold"),
                "Frames ok ",
                (f"{s.checksum_ok:<4}", "bold"),
                "bad ",
                (f"{s.checksum_bad:<5}", bad or "bold"),
                "Decrypted ok ",
                (f"{c.decrypt_ok:<4}", "bold"),
                "failed ",
                (f"{s.decrypt_failures}", failed or "bold"),
            )
        )

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR or event.worker.group != "listen":
            return
        error = event.worker.error
        reason = f"{type(error).__name__}: {error}" if error is not None else "unknown error"
        verdict = Verdict("error", "The listen test failed", reason, "internal-error")
        self._report = ListenReport(ListenCounts(0.0), verdict, reason)
        self.show_verdict(verdict)
        self.post_message(self.Finished(self))
