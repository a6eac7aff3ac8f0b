"""The live dashboard: line health, the OBIS table, per-phase sparklines and the power plot.

The app owns the model and the pipeline and calls :meth:`LiveScreen.refresh_view` a few times a
second while data flows; the screen polls nothing. Its only timer is a 1 Hz tick that keeps the
"age" column and the line-health strip current on a quiet line (paused while the screen is hidden).

Small terminals (fewer than :data:`FULL_CHARTS_MIN_HEIGHT` rows) get a two-line chart strip under
the table instead of the sparklines and plot; ``c`` switches between the two either way.

The charts follow one meter: the one whose row is selected in the table (the first meter until a row is
selected), and name it when there are several.

Start-up on a Pi (issue #8): with ``defer`` the first paint has no table or charts; the table is mounted
right after it and shows whatever the model holds by then; the charts (and plotext, a 40–65 ms import)
are mounted only once the first readings have been painted.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Static

from meterui.model import MeterModel
from meterui.pipeline import PipelineStats
from meterui.protocol.errors import KeyMissingError
from meterui.widgets.footer import Footer
from meterui.widgets.linehealth import LineHealth, is_replay
from meterui.widgets.playstate import PlayState

if TYPE_CHECKING:  # imported when the table and charts are built: not needed for the first paint
    from meterui.widgets.obistable import ObisTable
    from meterui.widgets.phasebars import PhaseBars
    from meterui.widgets.powerplot import PowerPlot

FULL_CHARTS_MIN_HEIGHT = 34
"""Terminal rows from which the full charts are shown by default (below: the compact strip)."""
CHARTS_MIN_HEIGHT = 12
"""Rows the full charts keep under the table."""
TICK_SECONDS = 1.0
PLAUSIBILITY_SECONDS = 10.0
"""Seconds between plausibility checks of the model's histories while data flows (issue #9)."""
_PLAUSIBILITY_QUANTITIES = frozenset(
    {
        "voltage_l1",
        "voltage_l2",
        "voltage_l3",
        "active_power_import",
        "active_energy_import",
    }
)

KEY_MISSING_NOTICE = (
    "[b]This meter encrypts its data, and no key is set.[/b]\n"
    "Press [b]s[/b] to enter the key from your grid operator: 32 hex digits, often called the "
    "encryption key or GUEK (some meters also need the authentication key, GAK)."
)
KEY_WRONG_NOTICE = (
    "[b]Decryption failed: the key does not match this meter's data.[/b]\n"
    "The encryption key or the authentication key is wrong (or the frames were damaged). "
    "Press [b]s[/b] to check the keys from your grid operator."
)


def derive_notice(model: MeterModel, stats: PipelineStats | None) -> str | None:
    """What the user must do before any data can show, or ``None``.

    Derived from the stats (decrypt failures, frames ok) and, for the wording, from the last
    message's error: a missing key (``KeyMissingError``) or a key that does not fit.
    """
    if stats is None or not stats.decrypt_failures:
        return None
    last = model.last_message
    last_error = last.error if last is not None else None
    last_is_crypto = last_error is not None and last_error.layer == "crypto"
    if stats.frames_ok and not last_is_crypto:
        return None  # decrypting fine now (the failures were earlier)
    if last_is_crypto and not isinstance(last_error, KeyMissingError):
        return KEY_WRONG_NOTICE
    return KEY_MISSING_NOTICE


def plausibility_notice(model: MeterModel) -> str | None:
    """A warning (Textual markup) when the model's recent values look off by a power of ten, or ``None``.

    Runs :func:`meterui.protocol.plausibility.plausibility` on each meter's kept histories of phase
    voltage, import power and import energy; the energy counter is compared with the power over the span
    the power history covers (the histories are bounded, an hourly energy list may reach further back)."""
    from meterui.protocol.plausibility import plausibility

    lines: list[str] = []
    several = len(model.meters()) > 1
    for meter in model.meters():
        power: list[tuple[float, float]] = []
        series: list[tuple[float, list[tuple[str | None, str | None, int | float | str, str | None]]]] = []
        energy: list[tuple[float, str, float, str | None]] = []
        for state in model.readings(meter):
            quantity = state.quantity
            if quantity not in _PLAUSIBILITY_QUANTITIES:
                continue
            for t, v in model.history(state.id, meter):
                if quantity == "active_energy_import":
                    energy.append((t, state.id, v, state.unit))
                else:
                    series.append((t, [(quantity, state.id, v, state.unit)]))
                    if quantity == "active_power_import":
                        power.append((t, v))
        if power:
            first, last = min(t for t, _ in power), max(t for t, _ in power)
            series += [
                (t, [("active_energy_import", rid, v, unit)]) for t, rid, v, unit in energy if first <= t <= last
            ]
        series.sort(key=lambda item: item[0])
        for warning in plausibility(series):
            who = f" ({escape(meter)})" if several else ""
            lines.append(
                f"[b]⚠ {warning.group.capitalize()} looks off by a power of ten{who}:[/b] "
                f"{escape(warning.message)}, or set the scaling override in the setup wizard "
                f"([b]s[/b])."
            )
    return "\n".join(lines) if lines else None


def empty_text(stats: PipelineStats | None) -> str:
    """The empty state: where data is expected from, and what to check while it does not come."""
    if stats is None:
        return (
            "[b]No meter port is set up yet.[/b]\n\n"
            "Press [b]s[/b] to choose the port your meter's customer interface is connected to."
        )
    source = stats.source.replace("[", r"\[")
    if stats.finished:
        head = f"[b]{'The replay' if is_replay(stats) else 'The source'} ended without readings[/b] ({source})."
    elif not stats.connected and stats.last_error:
        error = stats.last_error.replace("[", r"\[")
        head = f"[b]Cannot read {source}[/b]: {error}\nRetrying…"
        return head + "\n\nCheck the cable, or press [b]s[/b] to choose another port."
    else:
        head = f"[b]Waiting for data from {source}…[/b]"
    from meterui.commissioning import empty_hint  # the wizard's diagnosis: not needed for the first paint

    hint = empty_hint(stats)
    return f"{head}\n\n{hint}"


class LiveScreen(Screen[None]):
    """The live dashboard. Feed it with :meth:`refresh_view`."""

    CSS_PATH = "live.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "toggle_charts", "Charts"),
        Binding("r", "reset_minmax", "Reset min/max", show=False),
        Binding("h", "history", "Hist"),  # "History" pushes Quit off an 80-column footer
    ]

    def __init__(
        self,
        *,
        tick: float | None = TICK_SECONDS,
        defer: float | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        plausibility: bool = True,
    ) -> None:
        """``tick``: seconds between age updates on a quiet line (``None``: none, for snapshots).
        ``defer``: mount the table and charts this many seconds after the first paint (start-up time on a
        Pi); ``None`` composes them at once (deterministic, for tests and screenshots).
        ``plausibility``: warn when values look off by a power of ten (issue #9; off for the bundled demo,
        which plays a day in minutes: its energy counters grow ~100× faster than its power, by design)."""
        super().__init__(name=name, id=id, classes=classes)
        self.tick = tick
        self.defer = defer
        self.notice: str | None = None
        self.charts_full: bool | None = None
        """``None``: by terminal height; ``True``/``False``: chosen with ``c``."""
        self._model: MeterModel | None = None
        self._stats: PipelineStats | None = None
        self._now = 0.0
        self._mono = 0.0
        self._empty = ""
        self._timer: Timer | None = None
        self._ready = False
        self._table: ObisTable | None = None
        self._phases: PhaseBars | None = None
        self._plot: PowerPlot | None = None
        self._charts_mounting = False
        self._table_mounting = False
        self._chart_meter: str | None = None
        """The meter whose row is selected in the table: the charts follow it (``None``: the first meter)."""
        self.monotonic = time.monotonic
        """The clock the tick extrapolates ``now`` with (tests replace it)."""
        self.plausibility = plausibility
        self.plausibility_seconds = PLAUSIBILITY_SECONDS
        """Seconds between plausibility checks (0: at every refresh with new messages)."""
        self._plausible_at = -float("inf")
        self._plausible_for: tuple[int, int] = (-1, -1)
        self._plausible: str | None = None
        self._health = LineHealth(id="health")
        self._notice_static = Static("", id="notice", markup=True)
        self._empty_static = Static("", id="empty")
        """The strip and the two banners, kept from construction (a DOM query per refresh cost idle CPU)."""
        self._has_data: bool | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="live-header"):
            yield self._health
            # the play state (paused, speed) is shown by the strip itself, patched from the app's
            # play_state the moment a key is pressed (see _show_current)
        with Vertical(id="live-main"):
            yield self._notice_static
            if self.defer is None:
                yield self._new_table()
            yield self._empty_static
        # with ``defer`` the table, the charts (and plotext) are mounted just after the first paint, which
        # shows no data yet anyway
        with Horizontal(id="charts"):
            if self.defer is None:
                yield from self._new_charts()
        yield Footer(compact=True)

    def _new_table(self) -> ObisTable:
        from meterui.widgets.obistable import ObisTable

        table = self._table = ObisTable(id="obis")
        table.display = False
        return table

    def _new_charts(self) -> tuple[PhaseBars, PowerPlot]:
        from meterui.widgets.phasebars import PhaseBars
        from meterui.widgets.powerplot import PowerPlot

        self._phases, self._plot = PhaseBars(id="phases"), PowerPlot(id="power")
        return self._phases, self._plot

    async def _mount_table(self) -> None:
        """Mount the table (deferred start-up) and show the model as it is now."""
        if self._table_mounting or self._table is not None:
            return
        self._table_mounting = True
        from meterui.widgets.obistable import ObisTable

        table = ObisTable(id="obis")
        table.display = False
        await self.query_one("#live-main").mount(table, before="#empty")
        self._table = table
        self._apply_charts()
        self._show_current()

    async def _mount_charts(self) -> None:
        """Mount the sparklines and the plot (deferred start-up): after the first readings were painted."""
        if self._charts_mounting or self._plot is not None:
            return
        self._charts_mounting = True
        phases, plot = self._new_charts()
        self._phases = self._plot = None  # not usable until mounted
        await self.query_one("#charts").mount(phases, plot)
        self._phases, self._plot = phases, plot  # only now: their children exist
        self._apply_charts()
        self._show_current()

    def _show_current(self) -> None:
        """Render the newest state: the app's model, stats and clock when the app has them (it may have
        decoded frames the screen was not told about yet), else what :meth:`refresh_view` last gave."""
        app = self.app
        model = getattr(app, "model", None)
        if isinstance(model, MeterModel):
            stats = getattr(app, "stats", self._stats)
            clock = getattr(app, "now", None)  # MeterApp.now(): the wall clock, or the recording's in replays
            if callable(clock):
                now = float(clock())
            elif isinstance(clock, int | float):
                now = float(clock)
            elif self._model is not None:
                now = self._now + (self.monotonic() - self._mono)
            else:
                now = time.time()
            self.refresh_view(model, stats if isinstance(stats, PipelineStats) else self._stats, now)
        elif self._model is not None:
            self.refresh_view(self._model, self._stats, self._now + (self.monotonic() - self._mono))

    def on_mount(self) -> None:
        self._ready = True
        if isinstance(getattr(self.app, "play_state", None), PlayState):
            self.watch(self.app, "play_state", lambda _state: self._show_current(), init=False)
        self._notice_static.display = False
        self._show_data(False)
        self._apply_charts()
        if self.defer is not None:
            # right after the first frame reached the terminal; the source, started with the app, has
            # decoded its first frame by then (issue #8)
            self.call_after_refresh(self._mount_table)
        if self.tick:
            self._timer = self.set_interval(self.tick, self._on_tick)
        if self._model is not None:  # refresh_view may have come before the screen was mounted
            self.refresh_view(self._model, self._stats, self._now)
        else:
            self._health.update_from(None, 0.0)
            self._set_empty(empty_text(None))

    def on_screen_suspend(self) -> None:
        if self._timer is not None:
            self._timer.pause()

    def on_screen_resume(self) -> None:
        """Back from another screen: show the newest numbers at once, not at the next refresh (item 10)."""
        if self._timer is not None:
            self._timer.resume()
        if self._ready:
            self._show_current()

    def on_resize(self, event: events.Resize) -> None:
        self._apply_charts()

    @on(DataTable.RowHighlighted, "#obis")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The charts follow the meter of the selected row."""
        from meterui.widgets.obistable import KEY_SEP

        meter = str(event.row_key.value or "").partition(KEY_SEP)[0]
        if meter and meter != self._chart_meter:
            self._chart_meter = meter
            if self._model is not None:
                self._update_charts(self._model, self._now)

    @property
    def chart_meter(self) -> str | None:
        """The meter the charts show (``None`` before any data)."""
        if self._model is None:
            return None
        meters = self._model.meters()
        if self._chart_meter in meters:
            return self._chart_meter
        return meters[0] if meters else None

    def _update_charts(self, model: MeterModel, now: float) -> None:
        if self._phases is not None and self._plot is not None:
            meter = self.chart_meter
            self._phases.update_from(model, meter)
            self._plot.update_from(model, now, meter)

    @on(DataTable.RowSelected, "#obis")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a reading: show the newest frame that carried it, bytes highlighted, in the inspector."""
        from meterui.widgets.obistable import HEADER_ID, KEY_SEP

        key = str(event.row_key.value or "")
        meter, _, reading_id = key.partition(KEY_SEP)
        inspect = getattr(self.app, "inspect_reading", None)
        if reading_id and reading_id != HEADER_ID and inspect is not None:
            inspect(meter, reading_id)

    # -- public API ------------------------------------------------------------------------------
    def refresh_view(self, model: MeterModel, stats: PipelineStats | None, now: float) -> None:
        """Show the model and the pipeline's stats; ``now`` (UNIX seconds) is the reference for ages."""
        self._model, self._stats, self._now, self._mono = model, stats, now, self.monotonic()
        health = self._health
        if not self._ready or not health.is_attached:
            return  # not mounted yet, or being torn down at exit (a late refresh timer): nothing to draw on
        play = getattr(self.app, "play_state", None)
        self._set_exporter(health)
        if stats is not None and isinstance(play, PlayState) and play.source != "none":
            # the user's pause/speed keys show at once, not with the next batch (issue #6 item 8)
            health.update_from(stats.replace(paused=play.paused, speed=play.speed), now)
        else:
            health.update_from(stats, now)
        self.set_notice(derive_notice(model, stats) or self._plausibility(model))
        has_rows = bool(model.meters())
        self._show_data(has_rows)
        table = self._table
        if table is not None:
            table.display = has_rows
            if has_rows:
                table.refresh_from(model, now)
                if self.focused is None and self.app.screen is self:
                    table.focus()  # hidden at mount, so nothing had focus: enter and the arrows work at once
        self._empty_static.display = not has_rows and self.notice is None
        if not has_rows:
            self._set_empty(empty_text(stats))
        elif table is not None and self._plot is None and not self._charts_mounting:
            self.call_after_refresh(self._mount_charts)  # deferred start-up: once the readings are painted
        self._update_charts(model, now)

    def _plausibility(self, model: MeterModel) -> str | None:
        """The plausibility warning, recomputed at most every :attr:`plausibility_seconds` with new data."""
        if not self.plausibility:
            return None
        seen = (id(model), model.messages)
        mono = self.monotonic()
        if seen != self._plausible_for and (
            seen[0] != self._plausible_for[0]
            or model.messages < self._plausible_for[1]
            or mono - self._plausible_at >= self.plausibility_seconds
        ):
            self._plausible_for, self._plausible_at = seen, mono
            self._plausible = plausibility_notice(model)
        return self._plausible

    def _show_data(self, has_rows: bool) -> None:
        """The charts show once there are readings; before, the empty state or the notice has the screen."""
        if has_rows == self._has_data:
            return
        self._has_data = has_rows
        self.query_one("#charts").display = has_rows
        self._notice_static.set_class(not has_rows, "-no-data")

    def _set_exporter(self, health: LineHealth) -> None:
        """Hand the MQTT exporter's state (the app's, if any) to the health strip: a lock and a small
        snapshot, at the strip's own pace."""
        status = getattr(self.app, "exporter_status", None)
        health.set_exporter(status() if callable(status) else None)

    def set_notice(self, text: str | None) -> None:
        """Show a notice (Textual markup) above the table, or hide it with ``None``."""
        if text == self.notice:
            return
        self.notice = text
        notice = self._notice_static
        notice.display = text is not None
        notice.update(text or "")
        self._apply_charts()
        if self._model is not None and not self._model.meters():
            self._empty_static.display = text is None

    # -- actions ---------------------------------------------------------------------------------
    def action_toggle_charts(self) -> None:
        self.charts_full = not self._charts_full()
        self._apply_charts()

    def _broute_session(self) -> object | None:
        """The B-route session the app's pipeline drives, if any (the ``h`` key is shown only then)."""
        session = getattr(getattr(self.app, "pipeline", None), "session", None)
        if session is None:
            return None
        from meterui.broute.session import BrouteSession

        return session if isinstance(session, BrouteSession) else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "history":
            return self._broute_session() is not None
        return True

    def action_history(self) -> None:
        """The B-route meter's half-hour history (issue #10)."""
        from meterui.broute.session import BrouteSession
        from meterui.screens.history import HistoryScreen

        session = self._broute_session()
        if isinstance(session, BrouteSession):
            self.app.push_screen(HistoryScreen(session))

    def action_reset_minmax(self) -> None:
        if self._model is None:
            return
        self._model.reset_minmax()
        if self._table is not None:
            self._table.refresh_from(self._model, self._now)
        self.notify("Min and max start again from the current values.", timeout=2)

    # -- internals -------------------------------------------------------------------------------
    def _charts_full(self) -> bool:
        if self.charts_full is not None:
            return self.charts_full
        return self.app.size.height >= FULL_CHARTS_MIN_HEIGHT  # the terminal's: known before this screen's layout

    def _apply_charts(self) -> None:
        full = self._charts_full()
        self.set_class(not full, "-compact")
        self.set_class(full, "-full")
        # full charts: the table takes what it needs, up to all but the charts' minimum height
        # (less the banner's height when a notice shows: 2 lines of text in most widths + border)
        banner = 5 if self.notice is not None else 0
        table = self._table
        if table is not None:
            table.styles.max_height = max(4, self.app.size.height - 3 - banner - CHARTS_MIN_HEIGHT) if full else None
        phases = self._phases
        if phases is not None and phases.compact == full:
            phases.compact = not full

    def _set_empty(self, text: str) -> None:
        if text != self._empty:
            self._empty = text
            self._empty_static.update(text)

    def _on_tick(self) -> None:
        model, stats = self._model, self._stats
        if model is None or (stats is None and model.last_update is None):
            return
        health = self._health
        if not health.is_attached:
            return
        now = self._now + (self.monotonic() - self._mono)
        self._set_exporter(health)
        health.update_from(stats, now)
        if model.meters() and self._table is not None:
            self._table.refresh_ages(now)
            if self._plot is not None:
                self._plot.follow_clock(now)
