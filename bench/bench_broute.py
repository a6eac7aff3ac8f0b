"""B-route start-up: seconds from session start to the first E7 (power) reading, against the virtual module.

Usage: python bench/bench_broute.py [--time-scale 1.0] [--dialect a1|c2]

Runs the real BrouteSession through a real pty (SerialSource + StreamDecoder, the pipeline's call order)
against ``meterui.simulate.broute.VirtualModule`` at realistic delays (time scale 1: a full active scan
with duration 6 takes 17.5 s, PANA join 3.5 s, a meter answer about 1 s), once without and once with a
cached scan. Stdlib + meterui only.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from meterui.broute.commands import PanDescriptor
from meterui.broute.session import BrouteSession, Timing
from meterui.simulate.broute import DEFAULT_ID, DEFAULT_PASSWORD, PtyModule, VirtualModule
from tests.brouteutil import Driver


def first_e7(scale: float, dialect: str, cached: PanDescriptor | None) -> tuple[float, PanDescriptor | None]:
    with tempfile.TemporaryDirectory() as tmp:
        module = VirtualModule(dialect, time_scale=scale)
        sim = PtyModule(module, link=Path(tmp) / "wisun")
        timing = Timing() if scale == 1 else replace(Timing().scaled(scale), command_timeout=1.0)
        session = BrouteSession(DEFAULT_ID, DEFAULT_PASSWORD, timing=timing, cached_scan=cached)
        t0 = time.monotonic()
        drv = Driver(session, sim)
        try:
            drv.run_until(lambda: bool(drv.readings("E7")), timeout=300 * max(scale, 0.01), what="first E7")
            return time.monotonic() - t0, session.new_scan
        finally:
            drv.close()
            sim.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--time-scale", type=float, default=1.0)
    ap.add_argument("--dialect", choices=["a1", "c2"], default="a1")
    args = ap.parse_args()
    cold, scan = first_e7(args.time_scale, args.dialect, None)
    warm, _ = first_e7(args.time_scale, args.dialect, scan)
    print(
        f"time to first E7 ({args.dialect}, time scale {args.time_scale}): without cached scan {cold:.1f} s, "
        f"with cached scan {warm:.1f} s"
    )


if __name__ == "__main__":
    main()
