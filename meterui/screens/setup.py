"""The setup wizard: it sequences the step widgets (``meterui/widgets/setup/``) and assembles the Config.

Push meters: port → meter preset → serial settings → keys and meter profile → MQTT (optional) → listen
test. Japan B-route: port → preset → B-route ID and password → MQTT (optional) → join test. Each step
owns its widgets, checks and share of the :class:`~meterui.config.Config`; the screen only moves between
them, owns the buttons and saves. Returns the chosen Config through ``dismiss`` (``None`` when
cancelled); with ``save=True`` it first writes the file in a thread worker (``fsync`` never runs on
the event loop) and shows a failure in the wizard instead of crashing. Keys, passwords and the B-route
credentials are typed into masked inputs and never shown, logged or echoed in an error.
"""

from __future__ import annotations

from functools import reduce
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, ContentSwitcher, Input, Label, Select, Static
from textual.worker import Worker, WorkerState

from meterui.commissioning import Verdict
from meterui.config import Config, ConfigError, save_config
from meterui.presets import Preset
from meterui.sources.serial_port import PortInfo
from meterui.widgets.setup import (
    BrouteStep,
    JoinStep,
    KeysStep,
    ListenStep,
    MqttStep,
    PortStep,
    PresetStep,
    SerialStep,
    TestStep,
    WizardStep,
)
from meterui.widgets.setup.listen import SourceFactory
from meterui.widgets.setup.preset import preset_prompt as _preset_prompt

if TYPE_CHECKING:
    from meterui.broute.session import Timing

PATHS: dict[str | None, tuple[str, ...]] = {
    None: ("port", "preset", "serial", "keys", "mqtt", "listen"),
    "broute": ("port", "preset", "broute", "mqtt", "join"),
}
"""The steps for each kind of preset (``Preset.session``)."""

__all__ = ["PATHS", "SetupWizard", "SourceFactory", "_preset_prompt"]


class SetupWizard(ModalScreen[Config | None]):
    """Steps to a working meter connection; ``dismiss(Config)`` on Save, ``None`` on cancel."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "enter", "Next", show=False, priority=True),
    ]
    AUTO_FOCUS = None

    DEFAULT_CSS = """
    SetupWizard {
        align: center middle;
        background: $background 60%;

        #wizard {
            width: 100%; max-width: 110; height: 100%; max-height: 34;
            border: round $accent; border-title-style: bold; background: $surface;
            padding: 0 1;
        }
        #steps { height: 1; color: $text-muted; }
        #question { height: 1; text-style: bold; margin-bottom: 1; }
        ContentSwitcher { height: 1fr; }
        ContentSwitcher > WizardStep { height: 1fr; overflow-y: auto; scrollbar-size-vertical: 1; }
        .hint { color: $text-muted; height: auto; }
        .error { color: $text-error; height: auto; }
        .good { color: $text-success; height: auto; }
        .field-label { height: 1; margin-top: 1; }
        .inline-label { width: auto; margin: 0 1 0 0; }

        #ports { height: 1fr; min-height: 3; }
        #port-row { height: 3; }
        #port-row Input { width: 1fr; }
        #port-row Button { width: 12; margin-left: 1; }

        #presets { height: 1fr; min-height: 4; }
        #preset-details { height: auto; min-height: 3; padding: 0 1; border-left: tall $accent; }

        #serial-grid {
            grid-size: 2; grid-columns: 12 1fr; grid-rows: 1; grid-gutter: 1 1; height: auto;
            margin-bottom: 1;
        }
        #serial-grid Label { width: 100%; }
        #baud-row { height: 1; }
        #baud { width: 16; }
        #baud-other-label { width: auto; margin: 0 1 0 2; }
        #baud-other { width: 12; }
        #serial-grid RadioSet { layout: horizontal; width: auto; height: 1; }
        #serial-grid RadioButton { width: auto; margin-right: 2; }
        #serial-summary { height: auto; }
        #serial-note { margin-top: 1; }

        #keys-status { height: auto; }
        #keys-pane Input { width: 100%; max-width: 60; }
        #keys-pane #profile-row { height: 1; margin-top: 1; }
        #keys-pane #profile-row Input { width: 1fr; max-width: 26; margin-right: 2; }

        #mqtt-on { margin-bottom: 1; }
        #mqtt-grid { grid-size: 2; grid-columns: 14 1fr; grid-rows: 1; grid-gutter: 0 1; height: auto; }
        #mqtt-grid Input { max-width: 70; }
        #mqtt-error { margin-top: 1; }
        #mqtt-test-row { height: 3; margin-top: 1; }
        #mqtt-test-row Button { width: auto; }
        #mqtt-test-result { width: 1fr; height: auto; padding: 1 0 0 1; }

        #broute-status { height: auto; }
        #broute-pane Input { width: 100%; max-width: 60; }

        .test-status { height: auto; }
        #listen-progress, #join-progress { height: 1; margin: 1 0; }
        #listen-progress Bar, #join-progress Bar { width: 1fr; }
        #counters { height: auto; }
        #join-log { height: auto; max-height: 3; color: $text-muted; }
        .verdict { height: auto; min-height: 4; margin-top: 1; padding: 0 1; border: round $border; }
        .verdict.-ok { border: round $success; }
        .verdict.-warn { border: round $warning; }
        .verdict.-error { border: round $error; }
        .verdict.-pending { border: round $border; color: $text-muted; }
        .summary { height: auto; color: $text-muted; }

        #buttons { height: 3; align-horizontal: right; }
        #buttons Button { margin-left: 1; min-width: 10; }
        #buttons #cancel { margin-left: 0; }
        #buttons .spacer { width: 1fr; }
    }
    """

    class Saved(Message):
        """The config file was written (``save=True``), or could not be (``error``)."""

        def __init__(self, config: Config, error: str | None) -> None:
            super().__init__()
            self.config = config
            self.error = error

    def __init__(
        self,
        initial: Config | None = None,
        ports: list[PortInfo] | None = None,
        listen_seconds: float = 5.0,
        *,
        save: bool = False,
        config_file: Path | None = None,
        source_factory: SourceFactory | None = None,
        broute_timing: Timing | None = None,
        join_timeout: float = 300.0,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """``ports`` fixes the port list (tests, or a caller that already listed them); ``None`` lists
        them in a worker. ``listen_seconds`` is the shortest listen; presets whose meters push less
        often listen one push interval plus a second. ``save=True`` writes the config (to
        ``config_file`` or the default path) before dismissing. ``source_factory`` builds the source
        for the listen test from the chosen settings (default: a :class:`SerialSource`).
        ``broute_timing`` and ``join_timeout`` tune the B-route join test (tests use a fast virtual
        module)."""
        super().__init__(name=name, id=id, classes=classes)
        self.initial = initial or Config()
        self.save = save
        self.config_file = config_file
        self.step = 0
        self._save_armed = False
        steps: list[WizardStep] = [
            PortStep(self.initial, ports),
            PresetStep(self.initial),
            SerialStep(self.initial),
            KeysStep(self.initial),
            BrouteStep(self.initial),
            MqttStep(self.initial),
            ListenStep(self.initial, listen_seconds, source_factory),
            JoinStep(self.initial, timing=broute_timing, timeout=join_timeout),
        ]
        self._steps: dict[str, WizardStep] = {s.STEP_ID: s for s in steps}

    # -- layout ------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Vertical(id="wizard") as box:
            box.border_title = "Set up the meter connection"
            box.border_subtitle = "Enter: next · Esc: cancel"
            yield Static(id="steps")
            yield Label(id="question")
            with ContentSwitcher(initial="port-pane"):
                yield from self._steps.values()
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="cancel")
                yield Static(classes="spacer")
                yield Button("Back", id="back")
                yield Button("Next", id="next", variant="primary")
                yield Button("Listen again", id="again")
                yield Button("Fix", id="fix", variant="primary")
                yield Button("Save", id="save", variant="success")

    def on_mount(self) -> None:
        self._show_step()

    # -- the steps ---------------------------------------------------------------------------------
    @property
    def preset(self) -> Preset:
        step = self._steps["preset"]
        assert isinstance(step, PresetStep)
        return step.preset

    @property
    def step_ids(self) -> tuple[str, ...]:
        """The steps of the chosen preset's path, in order."""
        return PATHS.get(self.preset.session, PATHS[None])

    @property
    def step_id(self) -> str:
        return self.step_ids[self.step]

    @property
    def current(self) -> WizardStep:
        return self._steps[self.step_id]

    @property
    def test_step(self) -> TestStep:
        """The path's last step: the listen test, or the B-route join test."""
        step = self._steps[self.step_ids[-1]]
        assert isinstance(step, TestStep)
        return step

    @property
    def report(self) -> object | None:
        """The last test's report (a ``ListenReport`` or a ``JoinReport``), ``None`` while none."""
        return self.test_step.report

    @property
    def port(self) -> str:
        step = self._steps["port"]
        assert isinstance(step, PortStep)
        return step.port

    def serial_settings(self) -> tuple[int, str, int, int]:
        """(baud rate, parity, data bits, stop bits) as set in the serial step."""
        step = self._steps["serial"]
        assert isinstance(step, SerialStep)
        return step.serial_settings()

    def keys(self) -> tuple[bytes | None, bytes | None]:
        """The parsed keys (``None`` for an empty or invalid field)."""
        step = self._steps["keys"]
        assert isinstance(step, KeysStep)
        return step.keys()

    @property
    def listen_duration(self) -> float:
        step = self._steps["listen"]
        assert isinstance(step, ListenStep)
        return step.duration(self.preset)

    def config(self) -> Config:
        """The settings as chosen so far: each step of the path fills in its share."""
        return reduce(lambda cfg, step_id: self._steps[step_id].apply(cfg), self.step_ids, self.initial)

    # -- navigation --------------------------------------------------------------------------------
    def _show_bar(self) -> None:
        parts = Text()
        for i, step_id in enumerate(self.step_ids):
            if i:
                parts.append(" › ", "dim")
            style = "bold reverse" if i == self.step else ("" if i < self.step else "dim")
            parts.append(f" {i + 1} {self._steps[step_id].LABEL} ", style)
        self.query_one("#steps", Static).update(parts)

    def _show_step(self) -> None:
        step = self.current
        self._show_bar()
        self.query_one("#question", Label).update(step.QUESTION)
        self.query_one(ContentSwitcher).current = step.id
        last = isinstance(step, TestStep)
        self.query_one("#back", Button).display = self.step > 0
        self.query_one("#next", Button).display = not last
        again = self.query_one("#again", Button)
        again.display = last
        again.label = step.AGAIN if isinstance(step, TestStep) else ""
        self.query_one("#save", Button).display = last
        self.query_one("#fix", Button).display = last and self.test_step.fix() is not None
        step.shown(self.preset, self.config())
        if last:
            self.set_focus(None)  # nothing while testing (Enter must not save untested settings)

    def on_preset_step_changed(self, message: PresetStep.Changed) -> None:
        self._show_bar()  # the path may have changed (B-route)

    def action_enter(self) -> None:
        """Enter moves on from anywhere, except on a button (which it presses) or an open drop-down."""
        focused = self.focused
        if isinstance(focused, Button) or (
            focused is not None
            and any(isinstance(node, Select) and node.expanded for node in focused.ancestors_with_self)
        ):
            raise SkipAction()
        self.action_next()

    def action_next(self) -> None:
        if isinstance(self.current, TestStep) or not self.current.leave():
            return
        self.step += 1
        self._show_step()
        if isinstance(self.current, TestStep):
            self.start_test()

    def action_back(self) -> None:
        if self.step == 0:
            return
        if isinstance(self.current, TestStep):
            self.current.stop()
        self.step -= 1
        self._show_step()

    def action_cancel(self) -> None:
        self.test_step.stop()
        self.dismiss(None)

    @on(Button.Pressed, "#next")
    def _next_pressed(self) -> None:
        self.action_next()

    @on(Button.Pressed, "#back")
    def _back_pressed(self) -> None:
        self.action_back()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_next()

    # -- the test and Save -------------------------------------------------------------------------
    def start_test(self) -> None:
        """(Re)start the path's test with the settings chosen so far."""
        self._set_save()
        self.query_one("#fix", Button).display = False
        if isinstance(self.current, TestStep):
            self.set_focus(None)
        self.query_one("#again", Button).disabled = True
        self.test_step.start(self.config())

    start_listen = start_test

    def on_test_step_finished(self, message: TestStep.Finished) -> None:
        if message.step is not self.test_step:
            return
        self.query_one("#again", Button).disabled = False
        self._after_verdict()

    def _after_verdict(self) -> None:
        """Focus what comes next: Save after a working test, else what fixes it (Save needs two presses)."""
        self._set_save()
        test = self.test_step
        fix = self.query_one("#fix", Button)
        found = test.fix()
        fix.display = found is not None
        if found is not None:
            fix.label = found[1]
        if self.current is not test:
            return
        if not test.failed():
            self.query_one("#save", Button).focus()
        elif found is not None:
            fix.focus()
        else:
            self.query_one("#again", Button).focus()

    @on(Button.Pressed, "#again")
    def _again_pressed(self) -> None:
        self.start_test()

    @on(Button.Pressed, "#fix")
    def _fix_pressed(self) -> None:
        found = self.test_step.fix()
        if found is None or found[0] not in self.step_ids:
            return
        self.test_step.stop()
        self.step = self.step_ids.index(found[0])
        self._show_step()

    def _set_save(self, *, armed: bool = False) -> None:
        """Save as it should read: plain after a working test, a deliberate two-step after a failing one."""
        save = self.query_one("#save", Button)
        self._save_armed = armed
        if not self.test_step.failed():
            save.label, save.variant = "Save", "success"
        elif armed:
            save.label, save.variant = "Really save?", "error"
        else:
            save.label, save.variant = "Save anyway", "default"

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        test = self.test_step
        if self.current is test and test.failed() and not self._save_armed:
            self._set_save(armed=True)
            found = test.fix()
            test.show_status(
                Text.assemble(
                    ("These settings did not work in the test.", "bold"),
                    " Press ",
                    ("Really save?", "bold"),
                    " to save them all the same, or ",
                    (found[1] if found else "Back", "bold"),
                    " to fix them.",
                )
            )
            return
        config = self.config()
        test.stop()
        if self.save:
            self.query_one("#save", Button).disabled = True
            self._save_config(config)
        else:
            self.dismiss(config)

    @work(thread=True, exclusive=True, group="save", exit_on_error=False)
    def _save_config(self, config: Config) -> None:
        """Write the file off the event loop (``save_config`` fsyncs)."""
        try:
            save_config(config, self.config_file)
        except ConfigError as exc:
            self.post_message(self.Saved(config, str(exc)))
            return
        self.post_message(self.Saved(config, None))

    def on_setup_wizard_saved(self, message: Saved) -> None:
        if message.error is None:
            self.dismiss(message.config)
            return
        self._save_failed(message.error)

    def _save_failed(self, reason: str) -> None:
        self.query_one("#save", Button).disabled = False
        self.test_step.show_verdict(
            Verdict(
                "error",
                "Could not save the settings",
                f"{reason}. Nothing was changed; check the folder and try again.",
                "save-error",
            )
        )

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.group == "save":
            error = event.worker.error
            self._save_failed(f"{type(error).__name__}: {error}" if error is not None else "unknown error")
