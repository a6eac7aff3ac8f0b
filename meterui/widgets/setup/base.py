"""What every setup-wizard step is: a pane with its own widgets, checks and share of the ``Config``.

A step knows nothing about the screen that sequences it: the screen calls :meth:`WizardStep.shown`
when the step becomes current (with the chosen preset and the settings so far), :meth:`leave` before
moving on (``False`` keeps the user on the step, the step showing what is wrong) and :meth:`apply` to
fold the step's choices into the :class:`~meterui.config.Config` it assembles. Test steps (the listen
test, the B-route join test) end with a :class:`TestStep.Finished` message and a ``report``.
"""

from __future__ import annotations

from typing import ClassVar, Protocol

from rich.text import Text
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from meterui.commissioning import Verdict
from meterui.config import Config
from meterui.presets import Preset


class WizardStep(Vertical):
    """One pane of the wizard (its id is ``<STEP_ID>-pane``, for the screen's ``ContentSwitcher``)."""

    STEP_ID: ClassVar[str] = ""
    LABEL: ClassVar[str] = ""
    """Short name in the step bar."""
    QUESTION: ClassVar[str] = ""
    """The bold line above the pane."""

    def __init__(self, initial: Config) -> None:
        super().__init__(id=f"{self.STEP_ID}-pane")
        self.initial = initial

    def shown(self, preset: Preset, config: Config) -> None:
        """The step became the current one: refresh what depends on earlier steps and focus it."""

    def leave(self) -> bool:
        """Check the step before moving on; show what is wrong and return ``False`` if it is not right."""
        return True

    def apply(self, config: Config) -> Config:
        """``config`` with this step's choices filled in."""
        return config


class Report(Protocol):
    """What a test step concluded (a :class:`~meterui.commissioning.ListenReport` or a join report)."""

    @property
    def verdict(self) -> Verdict: ...


class TestStep(WizardStep):
    """The last step: a test of the chosen settings, then Save (the screen owns the buttons)."""

    __test__ = False  # not a pytest class
    FIXES: ClassVar[dict[str, tuple[str, str]]] = {}
    """Verdict code → (the step that fixes it, the fix button's label)."""
    AGAIN: ClassVar[str] = "Test again"

    class Finished(Message):
        """The test ended; ``step.report`` holds the result."""

        def __init__(self, step: TestStep) -> None:
            super().__init__()
            self.step = step

    @property
    def report(self) -> Report | None:
        raise NotImplementedError

    def start(self, config: Config) -> None:
        """(Re)start the test with these settings (in a worker; ends with :class:`Finished`)."""
        raise NotImplementedError

    def stop(self) -> None:
        """Cancel a running test; its late messages are ignored."""
        raise NotImplementedError

    def show_verdict(self, verdict: Verdict) -> None:
        """Show a verdict in the step's result box (also used for a failed save)."""
        widget = self.query_one(".verdict", Static)
        widget.set_classes(f"verdict -{verdict.level}")
        icon = {"ok": "✓", "warn": "!", "error": "✗"}[verdict.level]
        widget.border_title = {"ok": "Result", "warn": "Result: almost", "error": "Result: not yet"}[verdict.level]
        widget.update(Text.assemble((f"{icon} {verdict.title}", "bold"), "\n", verdict.advice))

    def show_pending(self, text: str) -> None:
        widget = self.query_one(".verdict", Static)
        widget.set_classes("verdict -pending")
        widget.border_title = None
        widget.update(text)

    def show_status(self, text: Text | str) -> None:
        """The line above the test (also where Save explains its second press)."""
        self.query_one(".test-status", Static).update(text)

    def failed(self) -> bool:
        report = self.report
        return report is not None and report.verdict.code != "ok"

    def fix(self) -> tuple[str, str] | None:
        """(step, label) that fixes the last failing verdict; ``None``: it did not fail, or no step can."""
        report = self.report
        if report is None or report.verdict.code == "ok":
            return None
        return self.FIXES.get(report.verdict.code)
