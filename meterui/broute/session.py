"""The B-route session: a sans-IO conversation with a Wi-SUN module and the smart meter behind it.

:class:`BrouteSession` implements :class:`meterui.sessions.base.Session`. It detects the module and
its dialect (``SKVER``, ``SKINFO``), reads ``ROPT`` (never writes flash unless asked), sets the
credentials, scans (or uses a cached scan), joins with PANA, then polls the meter (E7/E8 every few
seconds, D3/D7/E1/E0/E3/EA/EB at start and on a slower schedule), one request in flight at a time
with timeouts and bounded retries. It recovers by itself from failed sends (``EVENT 21``), session
expiry (``EVENT 29`` → ``25``/``24``), the transmit-time limit (``EVENT 32``/``33``) and a module that
restarts or goes silent (it then asks for the port to be reopened: state ``reopen``).

Every step is reported as a :class:`~meterui.sessions.base.SessionEvent` in plain words; the ID and
password never appear in them (protocols.md §6.3–§6.8).
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from meterui.broute import commands as C
from meterui.broute.commands import PanDescParser, PanDescriptor
from meterui.broute.credentials import validate_id, validate_password
from meterui.broute.history import HistoryPoint, history2_points, history_points
from meterui.protocol.skstack import SkEvent, SkstackDecoder
from meterui.sessions.base import SessionEvent, SessionOutput

if TYPE_CHECKING:
    from meterui.protocol.message import Message

FAST_EPCS = (0xE7, 0xE8)
"""Instantaneous power and currents: polled every ``Timing.fast_interval``."""
STATIC_EPCS = (0xD3, 0xD7, 0xE1, 0x8A, 0x8D, 0x97, 0x98, 0x9F)
"""Coefficient, effective digits, unit, maker, serial, clock and the Get property map: once at start."""
SLOW_EPCS = (0xE0, 0xE3, 0xEA, 0xEB)
"""Cumulative energy: at start and every ``Timing.slow_interval``."""
RESPONSE_ESVS = frozenset({0x71, 0x72, 0x51, 0x52, 0x7E, 0x5E})
SNA_ESVS = frozenset({0x50, 0x51, 0x52, 0x53, 0x5E})
PUSH_ESVS = frozenset({0x73, 0x74})
STATES = (
    "idle",
    "probing",
    "configuring",
    "scanning",
    "joining",
    "joined",
    "reauthenticating",
    "tx_limited",
    "reopen",
    "auth_failed",
    "no_meter",
    "disconnected",
    "stopped",
)
"""Every value :attr:`BrouteSession.state` can take."""
STATE_WORDS = {
    "idle": "starting",
    "probing": "looking for the module",
    "configuring": "configuring the module",
    "scanning": "scanning for the meter",
    "joining": "joining the meter",
    "joined": "joined",
    "reauthenticating": "re-authenticating",
    "tx_limited": "transmit limit: waiting",
    "reopen": "module silent: reopening the port",
    "auth_failed": "ID or password refused",
    "no_meter": "no meter found",
    "disconnected": "module away",
    "stopped": "stopped",
}
"""Each state in plain words, for the health strip."""
TROUBLE_STATES = frozenset({"tx_limited", "reopen", "auth_failed", "no_meter", "disconnected"})
"""States in which no readings arrive."""


@dataclass(frozen=True, slots=True)
class Timing:
    """Timeouts, intervals and back-offs (seconds). :meth:`scaled` shortens them all for tests."""

    command_timeout: float = 5.0
    join_timeout: float = 60.0
    request_timeout: float = 12.0
    send_retry_delay: float = 5.0
    fast_interval: float = 5.0
    slow_interval: float = 300.0
    progress_interval: float = 5.0
    scan_margin: float = 10.0
    scan_factor: float = 1.0
    """Multiplies the scan duration the module needs (``commands.scan_seconds``)."""
    backoff: float = 5.0
    max_backoff: float = 300.0
    reauth_timeout: float = 60.0

    def scaled(self, factor: float) -> Timing:
        return Timing(*(getattr(self, name) * factor for name in self.__slots__))


@dataclass(frozen=True, slots=True)
class _Await:
    """What a flow waits for: line kinds (``OK``, ``EVER``, ``EVENT25``…) after writing ``write``."""

    write: bytes | None
    kinds: frozenset[str]
    timeout: float


@dataclass(frozen=True, slots=True)
class _Reply:
    kind: str
    """The line kind, or ``TIMEOUT``."""
    text: str = ""
    event: SkEvent | None = None


TIMEOUT = _Reply("TIMEOUT")
_Flow = Generator[_Await, _Reply, None]


@dataclass(slots=True)
class _Request:
    tid: int
    epcs: tuple[int, ...]
    payload: bytes
    kind: str
    """``fast``, ``static``, ``slow``, ``history`` or ``infc`` (a reply that expects no answer)."""
    tries: int = 0
    phase: str = "new"
    """``new`` (to send), ``sending`` (waiting for EVENT 21/OK), ``waiting`` (for the meter), ``retry``."""
    deadline: float = 0.0


@dataclass(slots=True)
class SessionCounters:
    """What happened so far, for tests, benchmarks and a status line."""

    requests: int = 0
    responses: int = 0
    send_failures: int = 0
    timeouts: int = 0
    expiries: int = 0
    reauths: int = 0
    tx_limits: int = 0
    joins: int = 0
    scans: int = 0
    reopen_requests: int = 0
    infc_answered: int = 0
    readings: Counter[str] = field(default_factory=Counter)


class BrouteSession:
    """A sans-IO B-route session (see the module docstring; protocol: :class:`meterui.sessions.base.Session`).

    ``cached_scan`` skips the scan when joining with it works (a failed join rescans); a new scan is
    reported in :attr:`new_scan` and in a ``scanned`` event, for the caller to save in the config.
    ``data_mode`` ``"hex"`` or ``"binary"`` writes ``WOPT`` when ``ROPT`` reports the other mode;
    ``None`` (default) keeps the module's setting (both are decoded).
    """

    def __init__(
        self,
        rbid: str,
        password: str,
        *,
        cached_scan: PanDescriptor | None = None,
        timing: Timing | None = None,
        data_mode: str | None = None,
        scan_duration: int = 6,
        max_scan_duration: int = 8,
        rssi: bool = True,
        max_auth_failures: int = 3,
        max_tries: int = 3,
    ) -> None:
        self._rbid = validate_id(rbid)
        self._password = validate_password(password)
        if data_mode not in (None, "hex", "binary"):
            raise ValueError("data_mode must be 'hex', 'binary' or None")
        self.timing = timing or Timing()
        self.scan_result: PanDescriptor | None = cached_scan
        self.new_scan: PanDescriptor | None = None
        self.data_mode = data_mode
        self.hex_mode: bool | None = None
        self.version: str | None = None
        self.single_stack: bool | None = None
        self.meter_ip: str | None = None
        self.scan_duration = scan_duration
        self.max_scan_duration = max(scan_duration, max_scan_duration)
        self.rssi = rssi
        self.max_auth_failures = max_auth_failures
        self.max_tries = max_tries
        self.counters = SessionCounters()
        self.unsupported: set[int] = set()
        self.supported: set[int] | None = None
        self.history: dict[tuple[str, int], list[HistoryPoint]] = {}
        self.history2: list[HistoryPoint] = []
        self.coefficient = 1
        """D3 (1 until the meter reports one, or when it has none)."""
        self.unit_kwh: int | float | None = None
        """E1 as a kWh multiplier, once read."""
        self.meter_date: str | None = None
        self.reopen_wanted = False
        self.scan_progress: float | None = None
        self._state = "idle"
        self._now = 0.0
        self._dec = SkstackDecoder()
        self._pandesc = PanDescParser()
        self._beacons: list[PanDescriptor] = []
        self._writes: list[bytes] = []
        self._events: list[SessionEvent] = []
        self._flow: _Flow | None = None
        self._await: _Await | None = None
        self._deadline: float | None = None
        self._tid = 0
        self._inflight: _Request | None = None
        self._queue: list[_Request] = []
        self._infc: list[_Request] = []
        self._history_queue: list[_Request] = []
        self._next_fast = 0.0
        self._next_slow = 0.0
        self._paused: set[str] = set()
        self._reauth_deadline: float | None = None
        self._progress_at: float | None = None
        self._scan_started = 0.0
        self._scan_total = 0.0
        self._backoff = self.timing.backoff
        self._failed_requests = 0
        self._history_day: int | None = None
        self._history_wanted: int | None = None
        self._tail = b""
        self._masking = False

    # -- Session protocol --------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    def start(self, now: float) -> None:
        self._now = now
        self._begin(self._connect_flow())

    def on_bytes(self, data: bytes, now: float) -> None:
        self._now = now
        self._dec.feed(data, now)
        while self._dec.events:
            self._line(self._dec.events.popleft())

    def on_messages(self, messages: Sequence[Message], now: float) -> None:
        self._now = now
        for msg in messages:
            edata = msg.buffers.get("edata")
            if edata is not None and len(edata) >= 12 and edata[:2] == b"\x10\x81":
                self._echonet(msg, edata)

    def on_connection(self, connected: bool, now: float) -> None:
        self._now = now
        self._abort()
        if not connected:
            self._set_state("disconnected", "the module's port went away; waiting for it", trouble=True)
            return
        self.reopen_wanted = False
        self._dec = SkstackDecoder()
        self._begin(self._connect_flow())

    def poll(self, now: float) -> SessionOutput:
        self._now = now
        if self._await is not None and self._deadline is not None and now >= self._deadline:
            self._resume(TIMEOUT)
        if self._state == "scanning" and self._progress_at is not None and now >= self._progress_at:
            self._scan_tick()
        if self._reauth_deadline is not None and now >= self._reauth_deadline:
            self._reauth_deadline = None
            self._emit("joining", "re-authentication did not finish: joining again", trouble=True)
            self._begin(self._rejoin_flow())
        wanted, self._history_wanted = self._history_wanted, None
        if wanted is not None:
            self.fetch_history(wanted)
        self._check_request()
        if self._flow is None and self._state in ("joined",) and not self._paused:
            self._schedule()
        out = SessionOutput(self._writes, self._wake_at(), self._events)
        self._writes, self._events = [], []
        return out

    def stop(self, now: float) -> None:
        self._now = now
        joined = self._state in ("joined", "reauthenticating", "tx_limited")
        self._abort()
        if joined:
            self._writes.append(C.skterm())
        self._set_state("stopped", "B-route session stopped")

    # -- public helpers ------------------------------------------------------------------------------
    @staticmethod
    def redact(data: bytes) -> bytes:
        """What a write may be recorded or shown as: the password and ID masked (the pipeline calls it)."""
        return C.redact(data)

    def redact_received(self, data: bytes) -> bytes:
        """What bytes read may be recorded as: the password and ID masked, also in the echo of
        ``SKSETPWD``/``SKSETRBID`` by a module that refused ``SFE 0``, when it is split over two reads
        (the pipeline calls it for every read, in order). Nothing else is changed."""
        out = bytearray(data)
        pos = 0
        if self._masking:
            pos = self._mask_to_eol(out, 0)
        joined = self._tail + data
        for head in C.SECRET_COMMANDS:
            at = joined.find(head)
            while at >= 0:
                start = max(0, at + len(head) - len(self._tail))
                if start >= pos:
                    pos = self._mask_to_eol(out, start)
                at = joined.find(head, at + 1)
        for secret in (self._password.encode(), self._rbid.encode()):
            at = out.find(secret)
            while at >= 0:
                out[at : at + len(secret)] = b"*" * len(secret)
                at = out.find(secret, at + len(secret))
        self._tail = joined[-(max(map(len, C.SECRET_COMMANDS)) - 1) :]
        return bytes(out)

    def _mask_to_eol(self, out: bytearray, start: int) -> int:
        end = start
        while end < len(out) and out[end] not in (0x0D, 0x0A):
            end += 1
        out[start:end] = b"*" * (end - start)
        self._masking = end == len(out)
        return end

    def fetch_history(self, days: int = 1, reverse: bool = True) -> None:
        """Queue the 30-minute history of the last ``days`` days (E5 = day, then E2 and E4).

        Results arrive in :attr:`history` (and :meth:`history_points`) and in ``history`` events.
        """
        for day in range(max(1, min(days, 100))):
            self._history_queue.append(self._new_request((0xE5,), C.set_history_day(self._next_tid(), day), "history"))
            epcs = [0xE2, 0xE4] if reverse and 0xE4 not in self.unsupported else [0xE2]
            for epc in epcs:
                self._history_queue.append(self._new_request((epc,), b"", "history"))

    def request_history(self, days: int = 1) -> None:
        """Ask for :meth:`fetch_history` from another thread (the app): queued on the next :meth:`poll`."""
        self._history_wanted = max(1, min(days, 100))

    def fetch_history2(self, end: datetime.datetime, count: int = 12) -> bool:
        """Queue history 2 (ED = ``end`` and ``count`` 30-minute slots back from it, then EC).

        Only where the meter lists EC in its Get property map (9F); ``False`` (and an event) otherwise.
        Results arrive in :attr:`history2` (import and export points) and in a ``history`` event.
        """
        if self.supported is None or 0xEC not in self.supported or 0xEC in self.unsupported:
            self._emit(self._state, "this meter does not provide history 2 (EC)")
            return False
        count = max(1, min(count, 12))
        payload = C.set_history2_start(
            self._next_tid(), end.year, end.month, end.day, end.hour, end.minute - end.minute % 30, count
        )
        self._history_queue.append(self._new_request((0xED,), payload, "history"))
        self._history_queue.append(self._new_request((0xEC,), b"", "history"))
        return True

    def history_points(self) -> list[HistoryPoint]:
        """Every history point fetched so far, oldest first (import then export at equal times)."""
        return sorted((p for pts in self.history.values() for p in pts), key=lambda p: (p.time, p.direction))

    # -- flows ---------------------------------------------------------------------------------------
    def _begin(self, flow: _Flow) -> None:
        if self._flow is not None:
            self._flow.close()
        self._flow = flow
        self._await = None
        self._deadline = None
        self._step(None)

    def _step(self, reply: _Reply | None) -> None:
        flow = self._flow
        if flow is None:
            return
        try:
            wait = next(flow) if reply is None else flow.send(reply)
        except StopIteration:
            if self._flow is flow:
                self._flow = self._await = self._deadline = None
            return
        if self._flow is not flow:
            return
        self._await = wait
        self._deadline = self._now + wait.timeout
        if wait.write is not None:
            self._writes.append(wait.write)

    def _resume(self, reply: _Reply) -> None:
        self._await = None
        self._deadline = None
        self._step(reply)

    def _cmd(
        self, data: bytes | None, kinds: tuple[str, ...] = ("OK",), timeout: float | None = None, fail: bool = True
    ) -> Generator[_Await, _Reply, _Reply]:
        want = frozenset(kinds) | ({"FAIL"} if fail else frozenset())
        reply = yield _Await(data, want, self.timing.command_timeout if timeout is None else timeout)
        return reply

    def _sleep(self, seconds: float) -> Generator[_Await, _Reply, None]:
        yield _Await(None, frozenset(), seconds)

    def _connect_flow(self) -> _Flow:
        self._paused.clear()
        self._set_state("probing", "looking for the Wi-SUN module (SKVER)")
        reply = TIMEOUT
        for _ in range(3):
            reply = yield from self._cmd(C.skver(), ("EVER",))
            if reply.kind in ("EVER", "FAIL"):
                break
        if reply.kind == "TIMEOUT":
            self.counters.reopen_requests += 1
            self.reopen_wanted = True
            self._set_state(
                "reopen",
                "the Wi-SUN module does not answer: check the port and that it runs at 115200 8N1; reopening the port",
                trouble=True,
            )
            yield from self._sleep(self._backoff)
            self._backoff = min(self._backoff * 2, self.timing.max_backoff)
            self._begin(self._connect_flow())
            return
        self._backoff = self.timing.backoff
        if reply.kind == "EVER":
            parts = reply.text.split()
            self.version = parts[1] if len(parts) > 1 else None
            yield from self._cmd(None, ("OK",))
        self._set_state("configuring", "module found" + (f" (firmware {self.version})" if self.version else ""))
        yield from self._cmd(C.sksreg("SFE", "0"))  # echo off: tolerated, but not needed
        reply = yield from self._cmd(C.skinfo(), ("EINFO",))
        if reply.kind == "EINFO":
            self.single_stack = C.is_single_stack(reply.text)
            yield from self._cmd(None, ("OK",))
        else:
            self.single_stack = True
        self._emit(
            "configuring",
            "single-stack module (BP35A1 style)"
            if self.single_stack
            else "dual-stack module (BP35C0/C2 style, SIDE argument)",
        )
        reply = yield from self._cmd(C.ropt(), ("OK",))
        self.hex_mode = C.ropt_hex_mode(reply.text) if reply.kind == "OK" else None
        if reply.kind == "FAIL":
            self._emit("configuring", "the module cannot report its data format (ROPT): assuming ASCII hex")
        want_hex = {"hex": True, "binary": False}.get(self.data_mode or "")
        if want_hex is not None and self.hex_mode is not None and want_hex != self.hex_mode:
            reply = yield from self._cmd(C.wopt(want_hex))
            if reply.kind == "OK":
                self.hex_mode = want_hex
                self._emit("configuring", f"data format set to {self.data_mode} (WOPT)")
        if not self.single_stack and self.rssi:
            yield from self._cmd(C.sksreg("SA2", "1"))
        reply = yield from self._cmd(C.sksetpwd(self._password))
        if reply.kind != "OK":
            self._set_state(
                "auth_failed", "the module refused the password (SKSETPWD): it must be 12 characters", trouble=True
            )
            return
        reply = yield from self._cmd(C.sksetrbid(self._rbid))
        if reply.kind != "OK":
            self._set_state(
                "auth_failed", "the module refused the B-route ID (SKSETRBID): it must be 32 characters", trouble=True
            )
            return
        yield from self._scan_and_join()

    def _scan_and_join(self) -> Generator[_Await, _Reply, None]:
        auth_failures = 0
        fresh = False
        while True:
            pan = self.scan_result
            if pan is None:
                pan = yield from self._scan()
                if pan is None:
                    yield from self._sleep(self._backoff)
                    self._backoff = min(self._backoff * 2, self.timing.max_backoff)
                    continue
                fresh = True
            joined = yield from self._join(pan)
            if joined:
                self._backoff = self.timing.backoff
                self._on_joined()
                return
            if not fresh:
                self._emit("scanning", "joining with the saved scan failed: scanning again", trouble=True)
                self.scan_result = None
                continue
            auth_failures += 1
            if auth_failures >= self.max_auth_failures:
                self._set_state(
                    "auth_failed",
                    "PANA authentication failed: the meter refused the join. Check the "
                    "B-route ID and password from the power company; stopped trying",
                    trouble=True,
                )
                return
            self._emit(
                "joining",
                "PANA authentication failed: check the B-route ID and password; "
                f"trying again ({auth_failures}/{self.max_auth_failures})",
                trouble=True,
            )
            yield from self._sleep(self._backoff)

    def _scan(self) -> Generator[_Await, _Reply, PanDescriptor | None]:
        side = self.single_stack is False
        for duration in range(self.scan_duration, self.max_scan_duration + 1):
            self._beacons.clear()
            self.counters.scans += 1
            self._scan_total = C.scan_seconds(duration) * self.timing.scan_factor
            self._scan_started = self._now
            self._progress_at = self._now + self.timing.progress_interval
            self.scan_progress = 0.0
            self._set_state(
                "scanning",
                f"scanning all {C.SCAN_CHANNELS} channels for the meter "
                f"(duration {duration}, about {self._scan_total:.0f} s)",
            )
            reply = yield from self._cmd(C.skscan(duration, side))
            if reply.kind != "OK":
                self._emit("scanning", f"the module refused the scan ({reply.text or 'no answer'})", trouble=True)
                continue
            reply = yield from self._cmd(
                None, ("EVENT22",), self._scan_total * 1.5 + self.timing.scan_margin, fail=False
            )
            self._pandesc_end()
            self._progress_at = None
            self.scan_progress = 1.0
            if self._beacons:
                pan = max(self._beacons, key=lambda b: b.lqi)
                self.scan_result = self.new_scan = pan
                self._emit(
                    "scanned",
                    f"found the meter on channel {pan.channel} (0x{pan.channel:02X}), "
                    f"PAN ID {pan.pan_id:04X}, signal {pan.rssi_dbm} dBm",
                )
                return pan
            if duration < self.max_scan_duration:
                self._emit("scanning", "no beacon heard: scanning again, listening longer")
        self._set_state(
            "no_meter",
            "no meter answered the scan: move the module closer to the meter or out of "
            "a metal box, check the antenna, and that the B-route service is activated "
            "(retrying later)",
            trouble=True,
        )
        return None

    def _join(self, pan: PanDescriptor) -> Generator[_Await, _Reply, bool]:
        self._set_state("joining", f"joining the meter on channel {pan.channel}, PAN ID {pan.pan_id:04X}")
        for reg, value in (("S2", f"{pan.channel:02X}"), ("S3", f"{pan.pan_id:04X}")):
            reply = yield from self._cmd(C.sksreg(reg, value))
            if reply.kind != "OK":
                return False
        reply = yield from self._cmd(C.skll64(pan.addr), ("IPV6",))
        self.meter_ip = reply.text.strip() if reply.kind == "IPV6" else C.link_local(pan.addr)
        return (yield from self._pana())

    def _pana(self) -> Generator[_Await, _Reply, bool]:
        assert self.meter_ip is not None
        self.counters.joins += 1
        reply = yield from self._cmd(C.skjoin(self.meter_ip))
        if reply.kind != "OK":
            return False
        reply = yield from self._cmd(None, ("EVENT25", "EVENT24"), self.timing.join_timeout, fail=False)
        return reply.kind == "EVENT25"

    def _rejoin_flow(self) -> _Flow:
        """After a failed re-authentication: SKJOIN again; if that fails, start over (rescan)."""
        self._drop_inflight_for_resend()
        self._set_state("joining", "re-joining the meter")
        if self.meter_ip is not None:
            joined = yield from self._pana()
            if joined:
                self._on_joined()
                return
        self._emit("joining", "re-joining failed: restarting the module connection and scanning again", trouble=True)
        self.scan_result = None
        yield from self._sleep(self._backoff)
        self._backoff = min(self._backoff * 2, self.timing.max_backoff)
        self._begin(self._connect_flow())

    def _on_joined(self) -> None:
        self._paused.clear()
        self._failed_requests = 0
        self._set_state("joined", "joined the meter: reading power and energy")
        self._next_fast = self._now
        if not any(r.kind == "static" for r in self._queue):
            self._queue.append(self._new_request(STATIC_EPCS, b"", "static"))
        self._next_slow = self._now

    # -- incoming lines ------------------------------------------------------------------------------
    def _line(self, ev: SkEvent) -> None:
        text = ev.text
        if self._pandesc.fields is not None:
            if self._pandesc.line(text):
                return
            self._pandesc_end()
        kind = _kind(ev)
        if kind == "EPANDESC":
            self._pandesc.begin()
            return
        if self._await is not None and kind in self._await.kinds:
            self._resume(_Reply(kind, text, ev))
            return
        self._global(kind, ev)

    def _pandesc_end(self) -> None:
        pan = self._pandesc.end()
        if pan is not None:
            self._beacons.append(pan)
            self._emit(
                "scanning", f"beacon from PAN {pan.pan_id:04X} on channel {pan.channel}, signal {pan.rssi_dbm} dBm"
            )

    def _global(self, kind: str, ev: SkEvent) -> None:
        req = self._inflight
        if kind == "EVENT21" and req is not None and req.phase == "sending":
            param = (ev.param or "00").upper()
            if param == "00":
                if req.kind == "infc":
                    self._inflight = None
                else:
                    req.phase, req.deadline = "waiting", self._now + self.timing.request_timeout
            elif param == "01":
                self.counters.send_failures += 1
                self._emit(self._state, "the radio send failed (EVENT 21): sending again shortly", trouble=True)
                self._retry(req, self.timing.send_retry_delay)
            return
        if kind == "FAIL" and req is not None and req.phase == "sending" and self._paused:
            req.phase, req.deadline = "retry", self._now  # refused while paused: resent after the pause
            return
        if kind == "FAIL" and req is not None and req.phase == "sending":
            self._emit(
                "probing",
                f"the module refused to send ({ev.text.strip()}): it may have restarted; connecting again",
                trouble=True,
            )
            self._drop_inflight_for_resend()
            self._begin(self._connect_flow())
            return
        if self._state not in ("joined", "reauthenticating", "tx_limited"):
            return
        if kind == "EVENT29":
            self.counters.expiries += 1
            self._paused.add("reauth")
            self._reauth_deadline = self._now + self.timing.reauth_timeout
            self._set_state("reauthenticating", "PANA session expired: the module re-authenticates; requests paused")
        elif kind == "EVENT25" and "reauth" in self._paused:
            self.counters.reauths += 1
            self._paused.discard("reauth")
            self._reauth_deadline = None
            self._resume_after_pause("re-authenticated: reading again")
        elif kind in ("EVENT24", "EVENT26", "EVENT27", "EVENT28"):
            self._reauth_deadline = None
            self._paused.discard("reauth")
            what = "re-authentication failed" if kind == "EVENT24" else "the meter ended the session"
            self._emit("joining", f"{what}: joining again", trouble=True)
            self._begin(self._rejoin_flow())
        elif kind == "EVENT32":
            self.counters.tx_limits += 1
            self._paused.add("tx")
            self._set_state(
                "tx_limited",
                "radio transmit-time limit reached (ARIB STD-T108): requests paused until the module releases it",
                trouble=True,
            )
        elif kind == "EVENT33" and "tx" in self._paused:
            self._paused.discard("tx")
            self._resume_after_pause("transmit-time limit released: reading again")

    def _resume_after_pause(self, text: str) -> None:
        if self._paused:
            self._set_state("reauthenticating" if "reauth" in self._paused else "tx_limited", text)
            return
        self._set_state("joined", text)
        req = self._inflight
        if req is not None and req.phase in ("sending", "waiting"):
            req.phase, req.deadline = "retry", self._now

    # -- ECHONET Lite ------------------------------------------------------------------------------
    def _echonet(self, msg: Message, edata: bytes) -> None:
        tid = int.from_bytes(edata[2:4], "big")
        seoj, deoj, esv = edata[4:7], edata[7:10], edata[10]
        for r in msg.readings:
            self.counters.readings[r.id.split(".")[0]] += 1
            if r.id == "98" and isinstance(r.value, str):
                self.meter_date = r.value
            if r.id == "9F" and isinstance(r.value, str):
                self.supported = {int(x, 16) for x in r.value.split()}
            if r.id == "D3" and isinstance(r.value, int) and r.value > 0:
                self.coefficient = r.value
            if r.id == "E1" and isinstance(r.value, (int, float)):
                self.unit_kwh = r.value
        if esv == 0x74:
            epcs = _epcs(edata)
            self.counters.infc_answered += 1
            self._infc.append(self._new_request(tuple(epcs), C.infc_response(tid, deoj, seoj, epcs), "infc"))
        if esv in PUSH_ESVS and any(e in SLOW_EPCS for e in _epcs(edata)):
            self._next_slow = self._now + self.timing.slow_interval  # a push just brought these
        req = self._inflight
        if esv not in RESPONSE_ESVS or req is None or tid != req.tid or req.phase not in ("sending", "waiting"):
            return
        self._inflight = None
        self._failed_requests = 0
        self.counters.responses += 1
        if esv == 0x51:
            self._emit(
                self._state, "the meter refused to set " + ", ".join(f"{e:02X}" for e, _ in _props(edata)), trouble=True
            )
        if esv == 0x52:
            missing = [epc for epc, pdc in _props(edata) if pdc == 0 and epc != 0xD3]
            if any(epc == 0xD3 and pdc == 0 for epc, pdc in _props(edata)):
                self.coefficient = 1
            new = [e for e in missing if e not in self.unsupported]
            self.unsupported.update(missing)
            if new:
                self._emit(self._state, "the meter does not provide " + ", ".join(f"{e:02X}" for e in new))
        if req.kind == "history":
            self._history(msg, req)

    def _history(self, msg: Message, req: _Request) -> None:
        if req.epcs in ((0xE5,), (0xED,)):
            return
        if req.epcs == (0xEC,):
            edt = next((edata_edt for epc, edata_edt in _values(msg.buffers["edata"]) if epc == 0xEC), b"")
            pts2 = history2_points(edt, self.coefficient, self.unit_kwh)
            if pts2:
                self.history2 = sorted(
                    {(p.time, p.direction): p for p in [*self.history2, *pts2]}.values(),
                    key=lambda p: (p.time, p.direction),
                )
            self._emit("history", f"history 2: {len(pts2) // 2} half-hour values in both directions")
            return
        points = history_points(msg, self.meter_date, self._now)
        for direction, day, pts in points:
            self.history[(direction, day)] = pts
            self._emit("history", f"history of {direction} energy, day {day}: {len(pts)} half-hour values")

    # -- requests ------------------------------------------------------------------------------------
    def _next_tid(self) -> int:
        self._tid = self._tid % 0xFFFF + 1
        return self._tid

    def _new_request(self, epcs: tuple[int, ...], payload: bytes, kind: str) -> _Request:
        return _Request(0, epcs, payload, kind)

    def _schedule(self) -> None:
        if self._inflight is not None:
            return
        now = self._now
        req: _Request | None = None
        if self._infc:
            req = self._infc.pop(0)
        elif self._queue and self._queue[0].kind == "static":
            req = self._queue.pop(0)  # before the first power poll: the serial number (8D) names the meter
        elif now >= self._next_fast:
            self._next_fast = now + self.timing.fast_interval
            req = self._new_request(FAST_EPCS, b"", "fast")
        elif self._queue:
            req = self._queue.pop(0)
        elif self._history_queue:
            req = self._history_queue.pop(0)
        elif now >= self._next_slow:
            self._next_slow = now + self.timing.slow_interval
            req = self._new_request(SLOW_EPCS, b"", "slow")
        if req is None:
            return
        epcs = tuple(e for e in req.epcs if e not in self.unsupported or req.kind in ("infc", "history"))
        if not epcs:
            return
        if req.kind not in ("infc",) and not req.payload.startswith(b"\x10\x81"):
            req.tid = self._next_tid()
            req.payload = C.get_request(req.tid, list(epcs))
            req.epcs = epcs
        else:
            req.tid = int.from_bytes(req.payload[2:4], "big")
        self._send(req)

    def _send(self, req: _Request) -> None:
        assert self.meter_ip is not None
        req.tries += 1
        req.phase = "sending"
        req.deadline = self._now + self.timing.command_timeout
        self._inflight = req
        if req.kind != "infc":
            self.counters.requests += 1
        self._writes.append(C.sksendto(self.meter_ip, req.payload, side=self.single_stack is False))

    def _retry(self, req: _Request, delay: float) -> None:
        if req.tries >= self.max_tries:
            self._give_up(req)
            return
        req.phase, req.deadline = "retry", self._now + delay

    def _give_up(self, req: _Request) -> None:
        self._inflight = None
        self._failed_requests += 1
        self._emit(
            self._state,
            "the meter did not answer " + " ".join(f"{e:02X}" for e in req.epcs) + f" after {req.tries} tries",
            trouble=True,
        )
        if self._failed_requests >= self.max_tries:
            self._failed_requests = 0
            self._emit("joining", "the meter stopped answering: joining again", trouble=True)
            self._begin(self._rejoin_flow())

    def _check_request(self) -> None:
        req = self._inflight
        if req is None or self._now < req.deadline:
            return
        if req.phase == "retry":
            if not self._paused and self._flow is None:
                self._send(req)
        elif req.phase == "sending":
            self.counters.timeouts += 1
            self._emit("probing", "the module did not confirm the send: checking it", trouble=True)
            self._drop_inflight_for_resend()
            self._begin(self._connect_flow())
        elif req.phase == "waiting" and not self._paused:
            self.counters.timeouts += 1
            self._retry(req, 0.0)
            if self._inflight is req and req.phase == "retry":
                self._send(req)

    def _drop_inflight_for_resend(self) -> None:
        req, self._inflight = self._inflight, None
        if req is not None and req.kind in ("static", "history", "slow"):
            req.tries, req.phase = 0, "new"
            (self._history_queue if req.kind == "history" else self._queue).insert(0, req)

    # -- bookkeeping ---------------------------------------------------------------------------------
    def _abort(self) -> None:
        if self._flow is not None:
            self._flow.close()
        self._flow = self._await = self._deadline = None
        self._drop_inflight_for_resend()
        self._infc.clear()
        self._paused.clear()
        self._reauth_deadline = None
        self._progress_at = None

    def _scan_tick(self) -> None:
        elapsed = self._now - self._scan_started
        self.scan_progress = min(0.99, elapsed / self._scan_total) if self._scan_total > 0 else 0.0
        self._progress_at = self._now + self.timing.progress_interval
        self._emit("scanning", f"scanning: {self.scan_progress:.0%} of about {self._scan_total:.0f} s")

    def _wake_at(self) -> float | None:
        times = [t for t in (self._deadline, self._progress_at, self._reauth_deadline) if t is not None]
        if self._inflight is not None:
            times.append(self._inflight.deadline)
        elif self._state == "joined" and self._flow is None and not self._paused:
            pending = self._queue or self._history_queue or self._infc
            times.append(self._now if pending else min(self._next_fast, self._next_slow))
        return min(times) if times else None

    def _set_state(self, state: str, text: str, trouble: bool = False) -> None:
        self._state = state
        self._emit(state, text, trouble)

    def _emit(self, state: str, text: str, trouble: bool = False) -> None:
        self._events.append(SessionEvent(state, text, trouble))

    def __repr__(self) -> str:
        return f"BrouteSession(state={self._state!r}, module={self.version!r})"


def _kind(ev: SkEvent) -> str:
    if ev.num >= 0:
        return f"EVENT{ev.num:02X}"
    head = ev.text.split()[0] if ev.text.split() else ""
    if ev.name == "IPv6 address":
        return "IPV6"
    if head in ("OK", "FAIL", "EVER", "EINFO", "ESREG", "EPANDESC"):
        return head
    return "OTHER"


def _props(edata: bytes) -> list[tuple[int, int]]:
    """(EPC, PDC) of the first property list of an ECHONET Lite frame (bounded by its length)."""
    out: list[tuple[int, int]] = []
    pos, count = 12, edata[11]
    for _ in range(count):
        if pos + 2 > len(edata):
            break
        epc, pdc = edata[pos], edata[pos + 1]
        out.append((epc, pdc))
        pos += 2 + pdc
    return out


def _values(edata: bytes) -> list[tuple[int, bytes]]:
    """(EPC, EDT) of the first property list (bounded by the frame's length)."""
    out: list[tuple[int, bytes]] = []
    pos = 12
    for epc, pdc in _props(edata):
        out.append((epc, edata[pos + 2 : pos + 2 + pdc]))
        pos += 2 + pdc
    return out


def _epcs(edata: bytes) -> list[int]:
    return [epc for epc, _ in _props(edata)]
