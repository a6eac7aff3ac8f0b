"""The B-route session against the virtual Wi-SUN module on a real pseudo-terminal."""

from __future__ import annotations

from pathlib import Path

import pytest

from meterui.broute.commands import PanDescriptor
from meterui.broute.session import BrouteSession, Timing
from meterui.simulate.broute import DEFAULT_ID, DEFAULT_PASSWORD, METER_CHANNEL, METER_MAC, METER_PAN
from tests.brouteutil import SCALE, Driver, make

FAST = Timing().scaled(SCALE)


def _session(**kw: object) -> BrouteSession:
    return BrouteSession(DEFAULT_ID, DEFAULT_PASSWORD, timing=FAST, **kw)  # type: ignore[arg-type]


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
        assert session.new_scan == PanDescriptor(METER_CHANNEL, METER_PAN, METER_MAC, 0xA0, 9, "00AABBCC",
                                                 0 if dialect == "c2" else None)
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
