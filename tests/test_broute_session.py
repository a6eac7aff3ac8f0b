"""The B-route session against the virtual Wi-SUN module on a real pseudo-terminal."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from meterui.broute.commands import PanDescriptor
from meterui.broute.session import BrouteSession, Timing
from meterui.simulate.broute import (
    DEFAULT_ID,
    DEFAULT_PASSWORD,
    METER_CHANNEL,
    METER_MAC,
    METER_PAN,
    PtyModule,
    VirtualModule,
)
from tests.brouteutil import SCALE, Driver, make

FAST = replace(Timing().scaled(SCALE), command_timeout=1.0, request_timeout=1.5, join_timeout=4.0, reauth_timeout=4.0)
"""Intervals and delays 50× shorter; timeouts long enough that a loaded machine never trips them."""


def _session(**kw: object) -> BrouteSession:
    kw.setdefault("timing", FAST)
    return BrouteSession(DEFAULT_ID, DEFAULT_PASSWORD, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("dialect", ["a1", "c2"])
@pytest.mark.parametrize("hex_mode", [False, True], ids=["binary", "hex"])
def test_scan_join_and_poll(tmp_path: Path, dialect: str, hex_mode: bool) -> None:
    sim, module = make(tmp_path, dialect, hex_mode)
    session = _session()
    drv = Driver(session, sim)
    try:
        drv.run_until(lambda: len(drv.readings("E7")) >= 3 and len(drv.readings("E0")) >= 1, what="3 E7, 1 E0")
        assert session.single_stack is (dialect == "a1")
        assert session.hex_mode is hex_mode
        assert session.new_scan == PanDescriptor(
            METER_CHANNEL, METER_PAN, METER_MAC, 0xA0, 9, "00AABBCC", 0 if dialect == "c2" else None
        )
        assert all(isinstance(v, int) and 100 < v < 1000 for v in drv.readings("E7"))
        assert len(drv.readings("E8.R")) >= 2
        e0 = drv.readings("E0")
        assert isinstance(e0[0], float) and e0[0] > 8000
        assert all(m.ok for m in drv.messages), [m.error for m in drv.messages if not m.ok]
        assert module.wopt_writes == 0  # ROPT read, flash never written
        states = drv.states()
        assert states.index("probing") < states.index("scanning") < states.index("joining") < states.index("joined")
    finally:
        drv.close()
        sim.close()


def _joined_with_readings(drv: Driver, n: int = 2) -> int:
    start = len(drv.readings("E7"))
    drv.run_until(lambda: len(drv.readings("E7")) >= start + n, what=f"{n} more E7 readings")
    return len(drv.readings("E7"))


def _run(
    tmp_path: Path,
    dialect: str = "a1",
    hex_mode: bool = False,
    session_kw: dict[str, object] | None = None,
    **module_kw: object,
) -> tuple[Driver, PtyModule, VirtualModule]:
    sim, module = make(tmp_path, dialect, hex_mode, **module_kw)
    drv = Driver(_session(**(session_kw or {})), sim)
    return drv, sim, module


def _texts(drv: Driver) -> list[str]:
    return [e.text for e in drv.events]


def test_binary_data_with_cr_lf_inside_is_read_whole(tmp_path: Path) -> None:
    drv, sim, _module = _run(tmp_path)
    try:
        # TIDs 0x000A and 0x000D put LF and CR inside the binary DATA of the answers
        drv.run_until(lambda: drv.session.counters.responses >= 16, what="16 responses")
        edatas = [m.buffers["edata"] for m in drv.messages if "edata" in m.buffers]
        assert any(b"\n" in e for e in edatas) and any(b"\r" in e for e in edatas)
        assert all(m.ok for m in drv.messages)
        assert drv.session.counters.timeouts == 0
    finally:
        drv.close()
        sim.close()


def test_cached_scan_skips_the_scan(tmp_path: Path) -> None:
    cached = PanDescriptor(METER_CHANNEL, METER_PAN, METER_MAC, 0xA0)
    drv, sim, module = _run(tmp_path, session_kw={"cached_scan": cached})
    try:
        _joined_with_readings(drv, 2)
        assert "SKSCAN" not in module.log
        assert drv.session.counters.scans == 0
        assert drv.session.new_scan is None
    finally:
        drv.close()
        sim.close()


def test_stale_cached_scan_rescans(tmp_path: Path) -> None:
    stale = PanDescriptor(METER_CHANNEL + 1, 0x1234, METER_MAC, 0x50)
    drv, sim, module = _run(tmp_path, session_kw={"cached_scan": stale})
    try:
        _joined_with_readings(drv, 1)
        assert module.log.count("SKSCAN") == 1
        assert drv.session.new_scan is not None and drv.session.new_scan.pan_id == METER_PAN
        assert any("saved scan failed" in t for t in _texts(drv))
    finally:
        drv.close()
        sim.close()


def test_wrong_password_says_so_and_stops(tmp_path: Path) -> None:
    drv, sim, module = _run(tmp_path, password="OTHERPASS123")
    try:
        drv.run_until(lambda: drv.session.state == "auth_failed", what="auth_failed")
        texts = _texts(drv)
        assert any("PANA authentication failed" in t and "password" in t for t in texts)
        assert module.log.count("SKJOIN") == 3
        assert "SKSENDTO" not in module.log
        assert all(DEFAULT_PASSWORD not in t and DEFAULT_ID not in t for t in texts)
        # echo-back is switched off before the credentials are sent, so the module never repeats them
        assert DEFAULT_PASSWORD.encode() not in drv.received and DEFAULT_ID.encode() not in drv.received
        assert any(DEFAULT_PASSWORD.encode() in w for w in drv.writes)  # they were sent, though
    finally:
        drv.close()
        sim.close()


def test_no_beacon_retries_with_longer_duration(tmp_path: Path) -> None:
    drv, sim, _module = _run(tmp_path, min_scan_duration=7)
    try:
        _joined_with_readings(drv, 1)
        assert drv.session.counters.scans == 2
        assert any("listening longer" in t for t in _texts(drv))
        assert any(e.state == "scanning" and "%" in e.text for e in drv.events)  # visible progress
    finally:
        drv.close()
        sim.close()


def test_no_meter_explains_distance_antenna(tmp_path: Path) -> None:
    drv, sim, module = _run(tmp_path, min_scan_duration=9, session_kw={"max_scan_duration": 7})
    try:
        drv.run_until(lambda: drv.session.state == "no_meter", what="no_meter")
        text = next(e for e in drv.events if e.state == "no_meter")
        assert text.trouble and "closer" in text.text and "antenna" in text.text
        assert module.log.count("SKSCAN") == 2
    finally:
        drv.close()
        sim.close()


@pytest.mark.parametrize("dialect", ["a1", "c2"])
def test_session_expiry_and_reauthentication(tmp_path: Path, dialect: str) -> None:
    drv, sim, module = _run(tmp_path, dialect)
    try:
        _joined_with_readings(drv, 2)
        sim.control(lambda m: m.expire_session())
        drv.run_until(lambda: drv.session.counters.reauths == 1, what="re-authentication")
        assert "reauthenticating" in drv.states()
        _joined_with_readings(drv, 2)
        assert drv.session.counters.expiries == 1
        assert module.log.count("SKJOIN") == 1  # the module re-authenticated by itself
    finally:
        drv.close()
        sim.close()


def test_failed_reauthentication_rejoins(tmp_path: Path) -> None:
    drv, sim, module = _run(tmp_path)
    try:
        _joined_with_readings(drv, 2)
        sim.control(lambda m: m.expire_session(reauth_ok=False))
        drv.run_until(lambda: module.log.count("SKJOIN") == 2 and drv.session.state == "joined", what="rejoin")
        _joined_with_readings(drv, 2)
        assert any("re-authentication failed" in t for t in _texts(drv))
    finally:
        drv.close()
        sim.close()


def test_transmit_limit_pauses_until_released(tmp_path: Path) -> None:
    drv, sim, module = _run(tmp_path, "c2")
    try:
        _joined_with_readings(drv, 2)
        sent_before = module.log.count("SKSENDTO")
        sim.control(lambda m: m.tx_limit(seconds=20))
        drv.run_until(lambda: drv.session.state == "tx_limited", what="tx_limited")
        drv.run_until(lambda: not module.limited, what="limit released")
        # nothing new was sent while limited (the module would have answered FAIL ER10)
        assert module.log.count("SKSENDTO") <= sent_before + 1
        _joined_with_readings(drv, 2)
        first_join = drv.states().index("joined")
        assert "probing" not in drv.states()[first_join:]
        assert drv.session.counters.tx_limits == 1
    finally:
        drv.close()
        sim.close()


def test_failed_sends_are_resent(tmp_path: Path) -> None:
    drv, sim, _module = _run(tmp_path)
    try:
        _joined_with_readings(drv, 1)
        sim.control(lambda m: m.fail_sends(2))
        _joined_with_readings(drv, 3)
        assert drv.session.counters.send_failures == 2
        first_join = drv.states().index("joined")
        assert "probing" not in drv.states()[first_join:]
    finally:
        drv.close()
        sim.close()


def test_module_restart_reconnects_without_rescanning(tmp_path: Path) -> None:
    drv, sim, module = _run(tmp_path, "c2", hex_mode=True)
    try:
        _joined_with_readings(drv, 2)
        sim.control(lambda m: m.restart())
        drv.run_until(lambda: module.log.count("SKJOIN") == 2, what="second join")
        _joined_with_readings(drv, 3)
        assert module.log.count("SKSCAN") == 1  # the scan result was kept
        assert module.log.count("SKSETPWD") == 2  # credentials set again after the reset
    finally:
        drv.close()
        sim.close()


def test_silent_module_asks_for_reopen_then_recovers(tmp_path: Path) -> None:
    drv, sim, _module = _run(tmp_path)
    try:
        _joined_with_readings(drv, 2)
        sim.control(lambda m: m.set_silent(True))
        drv.run_until(lambda: drv.session.state == "reopen", what="reopen request")
        event = next(e for e in drv.events if e.state == "reopen")
        assert event.trouble and "port" in event.text and "115200" in event.text
        assert drv.session.reopen_wanted
        sim.control(lambda m: m.set_silent(False))
        drv.reopen()
        _joined_with_readings(drv, 2)
        assert drv.session.counters.reopen_requests == 1
        assert not drv.session.reopen_wanted
    finally:
        drv.close()
        sim.close()


def test_infc_is_answered_and_inf_used(tmp_path: Path) -> None:
    drv, sim, module = _run(tmp_path)
    try:
        _joined_with_readings(drv, 1)
        before = len(drv.readings("EA"))
        sim.control(lambda m: m.push_infc())
        drv.run_until(lambda: module.infc_acks == 1, what="INFC_Res")
        assert len(drv.readings("EA")) > before
        assert drv.session.counters.infc_answered == 1
        # the node-profile INF multicast after the join reached the decoder as a message too
        assert any(m.buffers.get("edata", b"")[10:11] == b"\x73" for m in drv.messages)
    finally:
        drv.close()
        sim.close()


def test_get_sna_drops_unsupported_properties(tmp_path: Path) -> None:
    drv, sim, module = _run(tmp_path, unsupported=(0xD3, 0xEB), session_kw={"timing": replace(FAST, slow_interval=0.4)})
    try:
        drv.run_until(lambda: len(drv.readings("E0")) >= 2, what="two E0 readings")
        assert 0xEB in drv.session.unsupported and 0xD3 not in drv.session.unsupported
        e0 = drv.readings("E0")
        assert isinstance(e0[0], float)  # D3 not available: coefficient 1, still scaled by E1
        last = module.requests[-1]
        slow = [f for f in module.requests if 0xE0 in f[12:]]
        assert 0xEB in slow[0][12:] and 0xEB not in slow[-1][12:], last
        assert any("does not provide EB" in t for t in _texts(drv))
    finally:
        drv.close()
        sim.close()


def test_history_fetch(tmp_path: Path) -> None:
    drv, sim, _module = _run(tmp_path, "c2")
    try:
        _joined_with_readings(drv, 1)
        drv.run_until(lambda: drv.session.meter_date is not None, what="meter date")
        drv.session.fetch_history(days=2)
        drv.run_until(lambda: len(drv.session.history) == 4, what="two days of history, both directions")
        yesterday = drv.session.history[("import", 1)]
        assert len(yesterday) == 48 and all(p.unit == "kWh" for p in yesterday)
        values = [p.value for p in drv.session.history_points() if p.direction == "import"]
        assert values == sorted(values) and len(values) > 48
        assert yesterday[1].time - yesterday[0].time == __import__("datetime").timedelta(minutes=30)
        assert sum(1 for e in drv.events if e.state == "history") == 4
    finally:
        drv.close()
        sim.close()


def test_history2_fetch(tmp_path: Path) -> None:
    import datetime as dt

    drv, sim, _module = _run(tmp_path)
    try:
        drv.run_until(
            lambda: drv.session.supported is not None and drv.session.unit_kwh is not None, what="property map and unit"
        )
        end = dt.datetime.fromtimestamp(_module.meter_time()) - dt.timedelta(hours=2)
        assert drv.session.fetch_history2(end, count=6)
        drv.run_until(lambda: len(drv.session.history2) == 12, what="6 slots of history 2, both directions")
        pts = drv.session.history2
        newest = end.replace(minute=end.minute - end.minute % 30, second=0, microsecond=0)
        assert pts[-1].time == newest and pts[0].time == newest - dt.timedelta(minutes=150)
        imports = [p.value for p in pts if p.direction == "import"]
        assert imports == sorted(imports) and all(p.unit == "kWh" for p in pts)
        assert any(e.state == "history" and "history 2" in e.text for e in drv.events)
    finally:
        drv.close()
        sim.close()


def test_energy_only_grows_and_no_secret_in_events(tmp_path: Path) -> None:
    drv, sim, _module = _run(tmp_path, session_kw={"timing": replace(FAST, slow_interval=0.2)})
    try:
        e0 = drv.readings("E0")
        drv.run_until(
            lambda: len(e0 := drv.readings("E0")) >= 3 and e0[-1] > e0[0],  # type: ignore[operator]
            what="three E0 readings, growing",
        )
        e0 = drv.readings("E0")
        assert e0 == sorted(e0)  # type: ignore[type-var]
        texts = [*_texts(drv), repr(drv.session)]
        assert all(DEFAULT_PASSWORD not in t and DEFAULT_ID not in t for t in texts)
        # echo-back is switched off before the credentials are sent, so the module never repeats them
        assert DEFAULT_PASSWORD.encode() not in drv.received and DEFAULT_ID.encode() not in drv.received
        assert any(DEFAULT_PASSWORD.encode() in w for w in drv.writes)  # they were sent, though
    finally:
        drv.close()
        sim.close()


def test_requested_data_mode_written_once_after_ropt(tmp_path: Path) -> None:
    sim, module = make(tmp_path, "a1", hex_mode=False)
    try:
        for _ in range(2):  # the second start finds hex already set: no second flash write
            drv = Driver(_session(data_mode="hex"), sim)
            try:
                _joined_with_readings(drv, 2)
                assert drv.session.hex_mode is True
            finally:
                drv.close()
        assert module.wopt_writes == 1 and module.hex_mode
        assert module.log.index("ROPT") < module.log.index("WOPT")
    finally:
        sim.close()


def test_c2_without_ropt_assumes_hex(tmp_path: Path) -> None:
    drv, sim, module = _run(tmp_path, "c2", hex_mode=True, ropt_unsupported=True)
    try:
        _joined_with_readings(drv, 2)
        assert drv.session.hex_mode is None and module.wopt_writes == 0
        assert any("ROPT" in t and "ASCII hex" in t for t in _texts(drv))
    finally:
        drv.close()
        sim.close()


def test_unanswered_requests_are_retried_then_rejoined(tmp_path: Path) -> None:
    drv, sim, module = _run(tmp_path, session_kw={"timing": replace(FAST, request_timeout=0.3)})
    try:
        _joined_with_readings(drv, 1)
        sim.control(lambda m: m.drop_answers(2))
        _joined_with_readings(drv, 2)
        assert drv.session.counters.timeouts >= 2 and module.log.count("SKJOIN") == 1
        # a meter that stops answering altogether: bounded retries, then a new join
        sim.control(lambda m: m.drop_answers(3 * 3))
        drv.run_until(lambda: module.log.count("SKJOIN") == 2, what="re-join after unanswered requests")
        _joined_with_readings(drv, 2)
        assert any("did not answer" in t for t in _texts(drv))
    finally:
        drv.close()
        sim.close()


def test_random_failures_from_a_seed_are_survived(tmp_path: Path) -> None:
    drv, sim, _module = _run(tmp_path, "c2", seed=7, send_fail_rate=0.2, expire_every=20.0, tx_limit_every=20.0)
    try:
        drv.run_until(
            lambda: (
                len(drv.readings("E7")) >= 30
                and drv.session.counters.expiries >= 1
                and drv.session.counters.tx_limits >= 1
            ),
            timeout=60,
            what="30 E7 readings through random failures",
        )
        c = drv.session.counters
        assert c.send_failures >= 1 and drv.session.state in ("joined", "reauthenticating", "tx_limited")
        assert all(m.ok for m in drv.messages)
    finally:
        drv.close()
        sim.close()
