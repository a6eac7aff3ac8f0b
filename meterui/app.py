"""The Textual app: one source worker feeding the model, the frame store and the screens.

source (serial port or file) → :class:`~meterui.pipeline.Pipeline` in a thread worker → typed
:class:`~meterui.messages.MessagesDecoded` batches → :class:`~meterui.model.MeterModel` and
:class:`~meterui.framestore.FrameStore` → the active screen, refreshed at most a few times a second.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Sequence
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events, on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker, WorkerState, get_current_worker

from meterui.config import Config, ConfigError, save_config
from meterui.framestore import FrameStore
from meterui.messages import MessagesDecoded, SourceFinished
from meterui.model import MeterModel
from meterui.pipeline import Pipeline, PipelineStats
from meterui.screens.live import LiveScreen
from meterui.sinks.handoff import HandoffSink
from meterui.widgets.playstate import PlayState

if TYPE_CHECKING:
    from meterui.export.mqtt import ExporterStatus, MqttExporter
    from meterui.protocol.message import Message
    from meterui.screens.inspector import InspectorScreen
    from meterui.sinks.base import PipelineEvent, Sink

REFRESH_INTERVAL = 0.25
"""The UI redraws at most this often while data flows; nothing runs while the line is quiet."""
KEYS_FIRST = 0.3
"""After a key or a click, a full-speed replay rests this long (:meth:`Pipeline.hold`): the screen answers
before the decoder takes half the CPU again (a key waited up to half a second at max speed, issue #8)."""
SPEEDS = (1.0, 10.0, math.inf)

PipelineFactory = Callable[[Config | None], Pipeline | None]


def speed_text(speed: float) -> str:
    return "max" if math.isinf(speed) else f"×{speed:g}"


class _KeptSink:
    """The app's exporter as a sink of one pipeline run: fed like any sink, but not closed when the run ends
    (the wizard restarts the source; a replay ends). It feeds whichever exporter the app holds at the time,
    so a wizard that changes [mqtt] switches exporters under a running pipeline (issue #11)."""

    def __init__(self, app: MeterApp) -> None:
        self.app = app

    def on_messages(self, messages: Sequence[Message], stats: PipelineStats) -> None:
        exporter = self.app.exporter
        if exporter is not None:
            exporter.on_messages(messages, stats)

    def on_event(self, event: PipelineEvent) -> None:
        exporter = self.app.exporter
        if exporter is not None:
            exporter.on_event(event)

    def close(self) -> None:
        pass


class MeterApp(App[int]):
    """meterui's terminal UI."""

    TITLE = "meterui"
    ENABLE_COMMAND_PALETTE = False  # every action has a key (see ? for help); the footer needs the room
    CSS_PATH = str(Path(__file__).with_name("app.tcss"))
    CURSOR_BLINK = True
    LIVE_TICK: float | None = 1.0
    """Seconds between age updates on the live screen while the line is quiet (None: never)."""
    TIMEZONE: tzinfo | None = None
    """The zone the inspector shows arrival times in; None: the user's local time (tests fix it)."""
    PLAUSIBILITY = True
    """Warn on the live screen when values look off by a power of ten (issue #9); the demo turns it off."""
    SETTLE_GC: float | None = None
    """Seconds after start-up at which the objects built so far (modules, widgets, the preloaded history) are
    collected once and frozen out of the garbage collector's passes (``gc.freeze``): a full pass then walks only
    what came later (idle CPU on a Pi, issue #8). ``None``: never (tests run many apps in one process);
    :func:`meterui.launch` sets it for the one app of a process and unfreezes after it."""
    START_DELAY: float | None = 0.0
    """Not ``None``: the live table and charts are mounted right after the first paint (start-up time on a Pi,
    issue #8); ``None``: composed with the screen (deterministic, for tests and screenshots). The source starts
    at mount either way: its thread opens the capture and decodes the first frame while the screen is drawn."""
    # The keys help lists under "Everywhere" are priority bindings: they work whichever widget has focus
    # (the tree's space, the hex view's arrows…). An Input still gets the characters typed into it, and
    # on a modal screen (help, a prompt, the wizard) check_action switches them off.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "show_live", "Live", priority=True),
        Binding("i", "show_inspector", "Inspect", priority=True),
        Binding("s", "setup", "Setup", priority=True),
        Binding("question_mark,f1", "help", "Help", key_display="?", priority=True),
        Binding("space", "pause", "Pause", key_display="spc", priority=True),
        Binding("space", "resume", "Resume", key_display="spc", priority=True),  # one of the two shows
        Binding("n", "next_frame", "Next", priority=True),
        Binding("p", "previous_frame", "Prev", priority=True),
        Binding("g", "goto_frame", "Go to", priority=True),
        Binding("plus,equals_sign", "faster", "Faster", show=False, priority=True),
        Binding("minus", "slower", "Slower", show=False, priority=True),
        Binding("q", "quit", "Quit", priority=True),
    ]
    GLOBAL_ACTIONS: ClassVar[frozenset[str]] = frozenset(
        {
            "show_live",
            "show_inspector",
            "setup",
            "help",
            "pause",
            "resume",
            "toggle_pause",
            "next_frame",
            "previous_frame",
            "goto_frame",
            "faster",
            "slower",
            "quit",
        }
    )
    """Actions of the global keys: off while a modal screen (help, a prompt, the wizard) is on top."""

    play_state: reactive[PlayState] = reactive(PlayState, always_update=False)
    """What the source is doing (playing, paused, speed, ended); every
    :class:`~meterui.widgets.playstate.PlayStateView` shows it."""

    def __init__(
        self,
        pipeline_factory: PipelineFactory,
        config: Config | None = None,
        *,
        start: str = "live",
        first_run: bool = False,
        save_path: Path | None = None,
        clock: Callable[[], float] = time.time,
        history: int = 600,
        exporter: MqttExporter | None = None,
        plausibility: bool | None = None,
    ) -> None:
        """``exporter``: an MQTT exporter (already started) fed by every pipeline the app runs and shown
        in the line-health strip; the caller closes :attr:`exporter` after :meth:`run` (issue #11): the
        wizard may have replaced it (the app closes the ones it replaces). ``plausibility``: the
        power-of-ten warning on the live screen (default :attr:`PLAUSIBILITY`)."""
        super().__init__()
        self.exporter = exporter
        self._exporter_lock = threading.Lock()
        """Held while the wizard's [mqtt] switches exporters: one switch after the other."""
        self.pipeline_factory = pipeline_factory
        self.config = config
        self.start = start
        self.first_run = first_run
        self.save_path = save_path
        self.clock = clock
        self.model = MeterModel(history=history)
        key = config.key if config else None
        auth = config.auth_key if config else None
        self.frames = FrameStore(key=key, auth_key=auth)
        self.stats: PipelineStats | None = None
        self.pipeline: Pipeline | None = None
        self._refresh_pending = False
        self._source_held = False
        self._media_offset: float | None = None
        """For replays: recorded time minus wall time, so ages and plots follow the recording's clock."""
        self._live = LiveScreen(
            tick=self.LIVE_TICK,
            defer=self.START_DELAY,
            plausibility=self.PLAUSIBILITY if plausibility is None else plausibility,
        )
        self._inspector_screen: InspectorScreen | None = None

    @property
    def _inspector(self) -> InspectorScreen:
        """The inspector, imported and built on first use (it is not needed for the first paint)."""
        if self._inspector_screen is None:
            from meterui.screens.inspector import InspectorScreen

            self._inspector_screen = InspectorScreen(self.frames, timezone=self.TIMEZONE)
            self.install_screen(self._inspector_screen, "inspector")
        return self._inspector_screen

    # -- lifecycle ---------------------------------------------------------------------------------
    def on_mount(self) -> None:
        self.install_screen(self._live, "live")
        if self.start == "inspector":
            self.push_screen(self._inspector)
        else:
            self.push_screen("live")
        self._start_source()
        if self.first_run:
            self.action_setup()
        if self.SETTLE_GC is not None:
            self.set_timer(self.SETTLE_GC, self._settle_gc)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown)) and self.pipeline is not None:
            self.pipeline.hold(KEYS_FIRST)
        await super().on_event(event)

    def on_unmount(self) -> None:
        if self.pipeline is not None:
            self.pipeline.stop()  # its thread ends now, not at its next wake-up (the interpreter waits for it)

    @staticmethod
    def _settle_gc() -> None:
        import gc

        gc.collect()
        gc.freeze()

    def _start_source(self) -> None:
        self.pipeline = self.pipeline_factory(self.config)
        if self.pipeline is None:
            self._schedule_refresh()
            return
        self.stats = self.pipeline.stats
        self._run_pipeline(self.pipeline)
        self._update_play_state()
        self._schedule_refresh()

    def _stop_source(self) -> None:
        if self.pipeline is not None:
            self.pipeline.stop()
        self.workers.cancel_group(self, "source")
        self.pipeline = None
        self._update_play_state()

    @work(thread=True, exclusive=True, group="source", exit_on_error=False)
    def _run_pipeline(self, pipeline: Pipeline) -> None:
        worker = get_current_worker()

        def deliver(messages: list[Any], stats: PipelineStats) -> None:
            if worker.is_cancelled or not self.post_message(MessagesDecoded(messages, stats, ui.taken)):
                ui.taken()

        ui = HandoffSink(deliver)  # the decoder waits for the UI instead of queueing batches
        sinks: list[Sink] = [ui, _KeptSink(self)]
        pipeline.run(None, lambda: worker.is_cancelled, sinks=sinks)
        if not worker.is_cancelled:
            self.post_message(SourceFinished(pipeline.stats))

    @on(Worker.StateChanged)
    def _worker_state(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.group == "source":
            self.notify(f"The source stopped: {event.worker.error}", severity="error", timeout=10)

    # -- data --------------------------------------------------------------------------------------
    @on(MessagesDecoded)
    def _messages(self, event: MessagesDecoded) -> None:
        try:
            if self.stats is not None and event.stats.loops != self.stats.loops:
                self.model.clear()  # a looping replay restarted: its clock went back, start the charts afresh
            if event.messages:
                if self.pipeline is not None and not self.pipeline.live:
                    last = event.messages[-1].received
                    if last is not None:
                        self._media_offset = last - self.clock()
                self.model.update(event.messages, now=self.now())
                self.frames.add(event.messages)
            self.stats = event.stats
            self._update_play_state()
            self._schedule_refresh()
        finally:
            event.taken()  # the pipeline waits for this before the next batch

    @on(SourceFinished)
    def _finished(self, event: SourceFinished) -> None:
        self.stats = event.stats
        self._update_play_state()
        if event.stats.last_error:
            self.notify(event.stats.last_error, title="Source", severity="error", timeout=8)
        else:
            self.notify("End of the capture.", title="Replay", timeout=4)
        self._schedule_refresh()

    def _update_play_state(self) -> None:
        """Publish the pipeline's state to every PlayStateView and the footer's Pause/Resume label."""
        pipeline, stats = self.pipeline, self.stats
        if pipeline is None:
            state = PlayState()
        else:
            state = PlayState(
                source="live" if pipeline.live else "replay",
                paused=pipeline.paused,
                speed=pipeline.speed,
                finished=stats is not None and stats.finished,
            )
        if state != self.play_state:
            self.play_state = state
            self.refresh_bindings()

    def exporter_status(self) -> ExporterStatus | None:
        """The exporter's state for the health strip (``None``: no exporter)."""
        return self.exporter.status() if self.exporter is not None else None

    def now(self) -> float:
        """The time the screens measure ages against: the wall clock live, the recording's clock in replays."""
        return self.clock() + (self._media_offset or 0.0)

    _last_refresh: float = -math.inf
    """``time.monotonic()`` of the last refresh (first-readings path, issue #8)."""
    _refreshed_with = 0
    """How many messages the model held at the last refresh."""

    def _schedule_refresh(self) -> None:
        """Refresh at once for the first readings (since the start or a loop restart) and when the screens
        are idle, else at most every :data:`REFRESH_INTERVAL` (a burst of batches costs one redraw)."""
        shown, have = self._refreshed_with, self.model.messages
        first = have > 0 and (shown == 0 or shown > have)
        if self._refresh_pending and not first:
            return
        self._refresh_pending = True
        wait = 0.0 if first else REFRESH_INTERVAL - (time.monotonic() - self._last_refresh)
        if wait <= 0:
            self.call_later(self._refresh)  # after the messages already queued: they join this refresh
        else:
            self.set_timer(wait, self._refresh)

    def _refresh(self) -> None:
        self._refresh_pending = False
        self._last_refresh, self._refreshed_with = time.monotonic(), self.model.messages
        if not self.screen_stack:
            return  # shutting down: the timer outlived the screens
        screen = self.screen
        now = self.now()
        if isinstance(screen, LiveScreen):
            screen.refresh_view(self.model, self.stats, now)
        elif screen is self._inspector_screen and screen is not None and screen.is_mounted:
            screen.poll()  # (before it is mounted its list does not exist yet; it syncs itself on mount)

    # -- actions -----------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.GLOBAL_ACTIONS and self.screen_stack and self.screen.is_modal:
            return False
        if action == "show_live" and self.screen_stack and self.screen is self._live:
            return False  # already here: leave the footer's room to the other keys
        if action == "show_inspector" and self.screen_stack and self.screen is self._inspector_screen:
            return False
        frame_key = action in ("next_frame", "previous_frame", "goto_frame")
        if frame_key and self.screen_stack and not getattr(self.screen, "FRAME_KEYS", True):
            return False  # e.g. the B-route history: n would pause the session, p and g leave it
        if action == "pause":  # enabled without a source too: space must not fall through to the tree
            return not (self.pipeline is not None and self.pipeline.paused)
        if action == "resume":
            return self.pipeline is not None and self.pipeline.paused
        return True

    def _show_screen(self, screen: Screen[Any]) -> None:
        """Make ``screen`` (the live dashboard or the inspector) the base screen.

        Never pops the last screen: the stack always holds Textual's default screen and one of ours.
        """
        if self.screen_stack and self.screen is screen:
            return
        if len(self.screen_stack) > 1:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    def action_show_live(self) -> None:
        self._show_screen(self._live)
        self._schedule_refresh()

    def action_show_inspector(self) -> None:
        self._show_screen(self._inspector)
        self._schedule_refresh()

    def action_help(self) -> None:
        from meterui.screens.help import HelpScreen  # not needed for the first paint (issue #8)

        if not isinstance(self.screen, HelpScreen):
            if not self.is_screen_installed("help"):  # built once: its table is laid out once (issue #8)
                self.install_screen(HelpScreen(), "help")
            self.push_screen("help")

    def action_pause(self) -> None:
        self.action_toggle_pause()

    def action_resume(self) -> None:
        self.action_toggle_pause()

    def action_toggle_pause(self) -> None:
        if self.pipeline is None:
            self.notify("No source to pause: press s to choose the meter's port.", timeout=3)
            return
        paused = self.pipeline.toggle_pause()
        self.notify("Paused: press space to resume, n to step." if paused else "Resumed.", timeout=2)
        self._update_play_state()
        self._schedule_refresh()

    def action_next_frame(self) -> None:
        if self._inspector_screen is not None and self.screen is self._inspector_screen:
            self._inspector_screen.action_step(1)  # the next listed message; at the newest, steps the source
        else:
            self.step_source()

    def step_source(self) -> bool:
        """Let exactly one more message through (pausing first if playing). False without a source."""
        if self.pipeline is None:
            return False
        self.pipeline.step()
        self._update_play_state()
        self._schedule_refresh()
        return True

    def action_previous_frame(self) -> None:
        inspector = self._inspector
        self._show_screen(inspector)
        inspector.action_step(-1)

    def action_goto_frame(self) -> None:
        inspector = self._inspector
        self._show_screen(inspector)
        inspector.action_goto()

    def inspect_reading(self, meter: str, reading_id: str) -> None:
        """Open the inspector on the newest kept message of ``meter`` carrying ``reading_id``."""
        store = self.frames
        pos = store.find(lambda s: reading_id in s.reading_ids and s.meter == meter, len(store) - 1, -1)
        if pos is None:
            self.notify(f"No kept frame carries {reading_id}.", severity="warning", timeout=4)
            return
        number = store.summary(pos).index
        inspector = self._inspector
        self._show_screen(inspector)
        self.call_after_refresh(inspector.show_reading, number, reading_id)

    def _set_speed(self, step: int) -> None:
        if self.pipeline is None or self.pipeline.live:
            return
        current = self.pipeline.speed
        idx = min(
            range(len(SPEEDS)),
            key=lambda i: abs(SPEEDS[i] - current) if not math.isinf(current) else (0 if math.isinf(SPEEDS[i]) else 1),
        )
        new = SPEEDS[max(0, min(len(SPEEDS) - 1, idx + step))]
        self.pipeline.set_speed(new)
        self.notify(f"Replay speed {speed_text(new)}", timeout=2)
        self._update_play_state()

    def action_faster(self) -> None:
        self._set_speed(+1)

    def action_slower(self) -> None:
        self._set_speed(-1)

    def action_setup(self) -> None:
        from meterui.screens.setup import SetupWizard

        if isinstance(self.screen, SetupWizard):
            return
        # the wizard's listen step opens the port itself: two readers would each get part of the bytes
        self._source_held = self.pipeline is not None and self.pipeline.live
        if self._source_held:
            self._stop_source()
        self.push_screen(SetupWizard(self.config), self._setup_done)

    @work(thread=True, group="save-config", exit_on_error=False)
    def _save_config(self, config: Config) -> None:
        try:
            path = save_config(config, self.save_path)
        except (OSError, ConfigError) as exc:
            self.call_from_thread(self.notify, f"Could not save the configuration: {exc}", severity="error", timeout=10)
        else:
            self.call_from_thread(self.notify, f"Saved to {path}", title="Setup", timeout=4)

    def _setup_done(self, config: Config | None) -> None:
        held, self._source_held = self._source_held, False
        if config is None:
            if self.config is None:
                self.notify("No port configured yet: press s to run the setup wizard.", timeout=6)
            elif held:
                self._start_source()
            return
        self._save_config(config)  # in a thread: save_config fsyncs, which must not stall the event loop
        from meterui.export.cli import config_mqtt

        if config_mqtt(config) != config_mqtt(self.config):
            self._switch_exporter(config)
        self.config = config
        self.frames.set_keys(config.key, config.auth_key)
        self._stop_source()
        self.model.clear()
        self._start_source()

    @work(thread=True, group="mqtt", exit_on_error=False)
    def _switch_exporter(self, config: Config) -> None:
        """Start, restart or stop publishing for the wizard's new [mqtt] section (issue #11), in a thread:
        building reads the CA file and closing the old exporter sends what it queued (a few seconds at
        most). The new exporter takes over before the old one closes, so no message is lost; the old one
        publishes ``offline`` only when the broker or base topic changes (else the new one said ``online``)."""
        from meterui.export.cli import settings_from_config, started_exporter
        from meterui.export.url import MqttConfigError

        with self._exporter_lock:
            old, new, said, failed = self.exporter, None, "MQTT publishing stopped.", False
            try:
                settings = settings_from_config(config)
                if settings is not None:
                    new = started_exporter(settings)
                    said = f"Publishing to {settings.describe()}"
            except (MqttConfigError, OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                said, failed = f"MQTT publishing stopped: {exc}", True
            self.exporter = new
            if old is not None:
                old.close(offline=new is None or not new.settings.same_broker(old.settings))
        if new is not None or old is not None or failed:
            severity = "error" if failed else "information"
            self._from_thread(self.notify, said, title="MQTT", severity=severity, timeout=8)
        self._from_thread(self._schedule_refresh)

    def _from_thread(self, callback: Callable[..., object], *args: Any, **kwargs: Any) -> None:
        """``call_from_thread``, unless the app has stopped meanwhile (a worker outliving the screens)."""
        with contextlib.suppress(RuntimeError):
            self.call_from_thread(callback, *args, **kwargs)

    def close_exporter(self) -> None:
        """Close the exporter the app holds (after :meth:`run`; waits for a switch the wizard started)."""
        with self._exporter_lock:
            exporter, self.exporter = self.exporter, None
        if exporter is not None:
            exporter.close()  # sends what is queued (a few seconds at most), then "offline"

    # -- internal errors: one line and a log without secrets (Textual's traceback shows locals, keys too)
    def _handle_exception(self, error: Exception) -> None:
        from meterui.crash import env_secrets, report

        if getattr(self, "_crash_line", None) is None:
            secrets: list[bytes | str | None] = [*env_secrets(), self.frames.key, self.frames.auth_key]
            if self.config is not None:
                secrets += [self.config.key, self.config.auth_key]
            self._crash_line: str | None = report(error, secrets, where="the app")
        self._return_code = 1
        self._return_value = 1  # App.run() returns it: the process exits 1, not 0
        if self._exception is None:  # as Textual does: the pilot re-raises it in tests
            self._exception = error
            self._exception_event.set()
        self._fatal_error()

    def _fatal_error(self) -> None:
        """Exit with the one line (printed on stderr after the screen is restored), never a traceback."""
        from rich.text import Text

        self.bell()
        self.error_console.soft_wrap = True  # one line: the terminal wraps it, Rich neither breaks nor crops it
        self._exit_renderables.append(Text(getattr(self, "_crash_line", None) or "meterui: internal error"))
        self._close_messages_no_wait()
