#!/usr/bin/env python3
"""First readings of ``meterui demo`` vs the first paint of a trivial Textual app (issue #8).

Each app runs in a real pseudo-terminal (80x24, via ``bench_app``'s helpers), interleaved so both see the
same machine state. Reported (medians of ``--runs``):

- ``first_paint``: ``meterui demo`` drew its first screen (the line-health strip's first text);
- ``first_readings``: the live table shows a decoded reading (``Voltage L1``, a row name);
- ``trivial``: a Header + DataTable (one row) + Footer app drew its row.

The target is ``first_readings / trivial ≤ 1.5``. Nothing is asserted: figures go in the notes.

Usage: ``python bench/bench_first_readings.py [--runs N] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_app import _drain, _kill, _spawn

TRIVIAL_TABLE_APP = """
from textual.app import App
from textual.widgets import DataTable, Footer, Header
class Trivial(App):
    def compose(self):
        yield Header()
        yield DataTable()
        yield Footer()
    def on_mount(self):
        table = self.query_one(DataTable)
        table.add_columns("name", "value")
        table.add_row("hello from a trivial app", "1")
Trivial().run()
"""


FIRST_PAINT = (b"no source", b"replay demo")
"""The line-health strip's first text: before the source starts, or once it has."""


def times_to(argv: list[str], markers: list[bytes | tuple[bytes, ...]], timeout: float = 30.0) -> list[float]:
    """Seconds from exec until each marker (or the first of a tuple of alternatives) appeared on the terminal."""
    start = time.perf_counter()
    pid, fd = _spawn(argv)
    seen = b""
    found: dict[bytes | tuple[bytes, ...], float] = {}
    try:
        while len(found) < len(markers):
            if time.perf_counter() - start > timeout:
                raise RuntimeError(f"markers {[m for m in markers if m not in found]} not seen in {timeout}s")
            seen += _drain(fd, 0.005)
            for marker in markers:
                alternatives = marker if isinstance(marker, tuple) else (marker,)
                if marker not in found and any(m in seen for m in alternatives):
                    found[marker] = time.perf_counter() - start
        return [found[m] for m in markers]
    finally:
        _kill(pid, fd)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    exe = sys.executable
    paint, readings, trivial = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "trivial_table.py"
        script.write_text(TRIVIAL_TABLE_APP)
        for _ in range(args.runs):
            trivial.append(times_to([exe, str(script)], [b"hello from a trivial"])[0])
            p, r = times_to([exe, "-m", "meterui", "demo"], [FIRST_PAINT, b"Voltage L1"])
            paint.append(p)
            readings.append(r)
    result = {
        "first_paint_s": round(statistics.median(paint), 3),
        "first_readings_s": round(statistics.median(readings), 3),
        "trivial_table_app_s": round(statistics.median(trivial), 3),
        "first_readings_ratio": round(statistics.median(readings) / statistics.median(trivial), 2),
        "runs": args.runs,
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"meterui demo   first paint     {result['first_paint_s'] * 1000:6.0f} ms")
    print(f"meterui demo   first readings  {result['first_readings_s'] * 1000:6.0f} ms")
    print(f"trivial app    first paint     {result['trivial_table_app_s'] * 1000:6.0f} ms   (Header+DataTable+Footer)")
    print(
        f"ratio first readings / trivial {result['first_readings_ratio']:6.2f}      target ≤ 1.5   "
        f"(median of {args.runs})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
