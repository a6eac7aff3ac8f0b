"""The Japan B-route path (issue #10): the B-route ID and password, then a join test.

The credentials are typed into masked inputs and checked with :mod:`meterui.broute.credentials`, whose
messages never contain the value. The join test runs :class:`~meterui.broute.session.BrouteSession`
through the one :class:`~meterui.pipeline.Pipeline` in a thread worker, shows its progress (probing,
scanning with %, joining, joined, the first E7 reading) and ends with a plain-language verdict. A new
scan result is kept for the config (``Config.broute_scan``) so later starts skip the scan.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Input, Label, ProgressBar, Static
from textual.worker import Worker, WorkerState, get_current_worker

from meterui.broute.credentials import CredentialError, validate_id, validate_password
from meterui.commissioning import Verdict
from meterui.config import Config
from meterui.presets import Preset
from meterui.sources.base import Source
from meterui.widgets.setup.base import TestStep, WizardStep
from meterui.widgets.setup.summary import summary_text

if TYPE_CHECKING:
    from meterui.broute.session import BrouteSession, Timing
    from meterui.pipeline import PipelineStats
    from meterui.protocol.message import Message as MeterMessage
    from meterui.sinks.base import PipelineEvent

MODULE_LINE = (115200, "N", 8, 1)
"""The Wi-SUN modules' UART: 115200 8N1 (no choice needed)."""
FIELDS = {"broute-id": ("B-route ID", validate_id), "broute-password": ("B-route password", validate_password)}

SourceFactory = Callable[[Config], Source]


class BrouteStep(WizardStep):
    """The B-route ID (32 characters) and password (12), both masked."""

    STEP_ID: ClassVar[str] = "broute"
    LABEL: ClassVar[str] = "B-route"
    QUESTION: ClassVar[str] = "B-route ID and password from your power company"

    def compose(self) -> ComposeResult:
        cfg = self.initial
        yield Static(id="broute-status")
        yield Label("B-route ID (32 characters)", classes="field-label")
        yield Input(
            cfg.broute_id or "", password=True, id="broute-id", placeholder="as in the letter from the power company"
        )
        yield Static("", id="broute-id-error", classes="error")
        yield Label("Password (12 characters)", classes="field-label")
        yield Input(
            cfg.broute_password or "",
            password=True,
            id="broute-password",
            placeholder="as in the letter from the power company",
        )
        yield Static("", id="broute-password-error", classes="error")
        yield Static(
            "Both stay hidden here and are saved only in your private config file (mode 0600).", classes="hint"
        )

    def on_mount(self) -> None:
        for field in FIELDS:
            self.validate(field, quiet=True)

    def shown(self, preset: Preset, config: Config) -> None:
        line = "115200 8N1"
        self.query_one("#broute-status", Static).update(
            Text.assemble(
                "Wi-SUN module on ",
                (config.port or "?", "bold"),
                " at ",
                (line, "bold"),
                " (the modules' setting). Next, a join test: scan for the meter, join it, read the power.",
            )
        )
        self.query_one("#broute-id").focus()

    def validate(self, field: str, *, quiet: bool = False) -> bool:
        """Check one field; the message never contains what was typed. ``quiet``: no message for empty."""
        value = self.query_one(f"#{field}", Input).value
        out = self.query_one(f"#{field}-error", Static)
        check = FIELDS[field][1]
        try:
            check(value)
        except CredentialError as exc:
            if quiet and not value:
                out.update("")
            else:
                out.set_classes("error")
                out.update(f"✗ {exc}")
            return False
        out.set_classes("good")
        out.update("✓ looks right")
        return True

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        if event.input.id in FIELDS:
            self.validate(event.input.id, quiet=True)

    def leave(self) -> bool:
        bad = [field for field in FIELDS if not self.validate(field)]
        if bad:
            self.query_one(f"#{bad[0]}", Input).focus()
            return False
        return True

    def credentials(self) -> tuple[str | None, str | None]:
        out: list[str | None] = []
        for field, (_, check) in FIELDS.items():
            try:
                out.append(check(self.query_one(f"#{field}", Input).value))
            except CredentialError:
                out.append(None)
        return out[0], out[1]

    def apply(self, config: Config) -> Config:
        rbid, password = self.credentials()
        baud, parity, bytesize, stop = MODULE_LINE
        return replace(
            config,
            broute_id=rbid,
            broute_password=password,
            baudrate=baud,
            parity=parity,
            bytesize=bytesize,
            stopbits=stop,
        )


# -- the join test ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class JoinReport:
    verdict: Verdict
    state: str
    """The session's state when the test ended."""
    scan: str | None = None
    """A new scan result (``PanDescriptor.to_config()``) to save, if the session scanned."""
    reading: str | None = None


STATE_WORDS = {
    "idle": "starting",
    "probing": "looking for the module",
    "configuring": "setting up the module",
    "scanning": "scanning for the meter",
    "scanned": "found the meter",
    "joining": "joining the meter (PANA)",
    "joined": "joined, waiting for the first reading",
    "auth_failed": "refused by the meter",
    "no_meter": "no meter found",
    "reopen": "the module does not answer",
    "disconnected": "the port went away",
}


def join_verdict(outcome: str, state: str, reading: str | None, detail: str, seconds: float) -> Verdict:
    """The join test's verdict in plain words (never holding the ID or the password)."""
    if outcome == "ok":
        return Verdict(
            "ok",
            f"Joined the meter: instantaneous power {reading}",
            "The B-route ID and password work. The scan result is saved, so the next start joins at once.",
            "ok",
        )
    if outcome == "auth_failed":
        return Verdict(
            "error",
            "PANA authentication failed: wrong B-route ID or password",
            "The meter refused the join. Check both against the letter from the power company "
            "(ID 32 characters, password 12; 0/O and 1/I look alike).",
            "auth-failed",
        )
    if outcome == "no_meter":
        return Verdict(
            "error",
            "No meter answered the scan",
            "No beacon was heard on any channel: move the module closer to the meter or out of a "
            "metal box, check the antenna, and ask the power company whether the B-route service "
            "is activated.",
            "no-meter",
        )
    if outcome == "reopen":
        return Verdict(
            "error",
            "The Wi-SUN module does not answer",
            "Nothing came back to SKVER: check that this is the module's port, that nothing else "
            "uses it and that the module runs at 115200 8N1 (unplug it and plug it in again if it "
            "hangs).",
            "module-silent",
        )
    if outcome == "port-error":
        return Verdict("error", "Cannot use the port", f"{detail}. Check the port name and the cable.", "port-error")
    words = STATE_WORDS.get(state, state)
    return Verdict(
        "error",
        f"No result after {seconds:g} s",
        f"The test stopped while {words}. Try again; if it stops at the same point, move the "
        "module closer to the meter.",
        "timeout",
    )


class _JoinSink:
    """Watches the pipeline for the join test (called on the pipeline's thread)."""

    def __init__(self, session: BrouteSession, post: Callable[[str, str, float | None], object]) -> None:
        self.session = session
        self.post = post
        self.outcome: str | None = None
        self.detail = ""
        self.reading: str | None = None
        self.connected = False

    @property
    def done(self) -> bool:
        return self.outcome is not None

    def on_messages(self, messages: Sequence[MeterMessage], stats: PipelineStats) -> None:
        if self.reading is not None:
            return
        for msg in messages:
            for r in msg.readings:
                if r.id == "E7":
                    self.reading = f"{r.value} {r.unit or ''}".strip()
                    self.post("joined", f"first reading: instantaneous power {self.reading}", None)
                    self.outcome = "ok"
                    return

    def on_event(self, event: PipelineEvent) -> None:
        if event.kind == "connected":
            self.connected = True
        elif event.kind in ("error", "disconnected") and not self.connected and self.outcome is None:
            self.detail = event.text
            self.outcome = "port-error"
        elif event.kind == "session":
            state = self.session.state
            progress = self.session.scan_progress if state == "scanning" else None
            self.post(state, event.text, progress)
            if state in ("auth_failed", "no_meter", "reopen") and self.outcome is None:
                self.outcome = state

    def close(self) -> None:
        pass


class JoinStep(TestStep):
    """The last step of the B-route path: the join test, then Save."""

    STEP_ID: ClassVar[str] = "join"
    LABEL: ClassVar[str] = "Join"
    QUESTION: ClassVar[str] = "Joining the meter over the B-route"
    AGAIN: ClassVar[str] = "Join again"
    FIXES: ClassVar[dict[str, tuple[str, str]]] = {
        "auth-failed": ("broute", "Check ID and password"),
        "module-silent": ("port", "Change port"),
        "port-error": ("port", "Change port"),
    }

    class Progress(Message):
        def __init__(self, run: int, state: str, text: str, progress: float | None) -> None:
            super().__init__()
            self.run = run
            self.state = state
            self.text = text
            self.progress = progress

    class Done(Message):
        def __init__(self, run: int, report: JoinReport) -> None:
            super().__init__()
            self.run = run
            self.report = report

    def __init__(
        self,
        initial: Config,
        *,
        timing: Timing | None = None,
        timeout: float = 300.0,
        source_factory: SourceFactory | None = None,
    ) -> None:
        """``timing`` shortens the session's timeouts (tests with a fast virtual module); ``timeout`` is the
        longest the test runs; ``source_factory`` builds the module's source (default: a serial port)."""
        super().__init__(initial)
        self.timing = timing
        self.timeout = timeout
        self.source_factory = source_factory
        self._report: JoinReport | None = None
        self._run = 0
        self._lines: list[str] = []
        self._port = "?"
        self.seen: list[tuple[str, str]] = []
        """(state, text) of every progress line of the last test, in order (for a log and for tests)."""

    def compose(self) -> ComposeResult:
        yield Static(id="join-status", classes="test-status")
        yield ProgressBar(total=100, show_eta=False, id="join-progress")
        yield Static(id="join-log")
        yield Static(id="join-verdict", classes="verdict -pending")
        yield Static(id="join-summary", classes="summary")

    @property
    def report(self) -> JoinReport | None:
        return self._report

    def apply(self, config: Config) -> Config:
        report = self._report
        if report is not None and report.scan:
            return replace(config, broute_scan=report.scan)
        return config

    def start(self, config: Config) -> None:
        self._run += 1
        self._report = None
        self._lines = []
        self.seen = []
        self._port = config.port or "?"
        self.query_one("#join-progress", ProgressBar).update(total=100, progress=0)
        self.query_one("#join-log", Static).update("")
        self.show_status(
            Text.assemble(
                "Joining through the module on ",
                (config.port or "?", "bold"),
                " at ",
                (config.describe_serial(), "bold"),
                "…",
            )
        )
        self.query_one("#join-summary", Static).update(summary_text(config))
        self.show_pending("Starting the module…")
        self._join(self._run, config)

    def stop(self) -> None:
        self._run += 1
        self.workers.cancel_group(self, "join")

    def _make_source(self, cfg: Config) -> Source:
        if self.source_factory is not None:
            return self.source_factory(cfg)
        from meterui.sources.serial_port import SerialSource

        baud, parity, bytesize, stop = MODULE_LINE
        return SerialSource(cfg.port or "", baud, parity, bytesize, stop)

    @work(thread=True, exclusive=True, group="join", exit_on_error=False)
    def _join(self, run: int, cfg: Config) -> None:
        from meterui.broute.commands import PanDescriptor
        from meterui.broute.session import BrouteSession
        from meterui.pipeline import Pipeline

        worker = get_current_worker()
        cached = PanDescriptor.from_config(cfg.broute_scan) if cfg.broute_scan else None
        session = BrouteSession(cfg.broute_id or "", cfg.broute_password or "", cached_scan=cached, timing=self.timing)
        sink = _JoinSink(
            session, lambda state, text, progress: self.post_message(self.Progress(run, state, text, progress))
        )
        pipeline = Pipeline(self._make_source(cfg), session=session, fmt="skstack", sinks=[sink], cadence=0.2)
        started = time.monotonic()
        deadline = started + self.timeout
        pipeline.run(
            should_stop=lambda: worker.is_cancelled, finish_when=lambda: sink.done or time.monotonic() > deadline
        )
        if worker.is_cancelled:
            return
        outcome = sink.outcome or "timeout"
        verdict = join_verdict(outcome, session.state, sink.reading, sink.detail, round(time.monotonic() - started))
        scan = session.new_scan.to_config() if session.new_scan is not None else None
        self.post_message(self.Done(run, JoinReport(verdict, session.state, scan, sink.reading)))

    def on_join_step_progress(self, message: Progress) -> None:
        if message.run != self._run or message.state == "stopped":
            return
        self.seen.append((message.state, message.text))
        bar = self.query_one("#join-progress", ProgressBar)
        if message.progress is not None:
            bar.update(total=100, progress=round(message.progress * 100))
        elif message.state in ("joining", "joined"):
            bar.update(total=100, progress=100)
        self._lines = [*self._lines, message.text][-3:]
        self.query_one("#join-log", Static).update("\n".join(f"· {line}" for line in self._lines))
        words = STATE_WORDS.get(message.state, message.state)
        self.show_pending(f"{words[:1].upper()}{words[1:]}…")

    def on_join_step_done(self, message: Done) -> None:
        if message.run != self._run:
            return
        self._report = message.report
        self.show_status(Text.assemble("Tested through the module on ", (self._port, "bold"), " at 115200 8N1."))
        self.show_verdict(message.report.verdict)
        self.post_message(self.Finished(self))

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR or event.worker.group != "join":
            return
        error = event.worker.error
        reason = f"{type(error).__name__}: {error}" if error is not None else "unknown error"
        verdict = Verdict("error", "The join test failed", reason, "internal-error")
        self._report = JoinReport(verdict, "error")
        self.show_verdict(verdict)
        self.post_message(self.Finished(self))
