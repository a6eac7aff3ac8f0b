#!/usr/bin/env python3
"""First readings of ``meterui demo`` vs the first paint of a trivial Textual app (issue #8).

Each app runs in a real pseudo-terminal (80x24, via ``bench_app``'s helpers), interleaved so both see the
same machine state. Reported (medians of ``--runs``):

- ``first_paint``: ``meterui demo`` drew its first screen (the line-health strip's first text);
- ``first_readings``: the live table shows a decoded reading (``Voltage L1``, a row name);
- ``trivial``: a Header + DataTable (one row) + Footer app drew its row.

The target is ``first_readings / trivial ≤ 1.5``. Nothing is asserted: figures go in the notes.

Usage: ``python bench/bench_first_readings.py [--runs N] [--json] [--tree DIR …]``. With ``--tree`` (repeatable)
the meterui of each source tree is measured, interleaved in the same run (before/after figures: unpack the
old commit with ``git archive REF | tar -x -C DIR``).
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

import bench_app
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
    ap.add_argument("--tree", type=Path, action="append", help="bench the meterui in this source tree (repeatable)")
    args = ap.parse_args()
    exe = sys.executable
    trees = [t.resolve() for t in args.tree] if args.tree else [bench_app.TREE]
    paint: dict[Path, list[float]] = {t: [] for t in trees}
    readings: dict[Path, list[float]] = {t: [] for t in trees}
    trivial: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "trivial_table.py"
        script.write_text(TRIVIAL_TABLE_APP)
        for _ in range(args.runs):
            trivial.append(times_to([exe, str(script)], [b"hello from a trivial"])[0])
            for tree in trees:
                bench_app.TREE = tree
                p, r = times_to([exe, "-m", "meterui", "demo"], [FIRST_PAINT, b"Voltage L1"])
                paint[tree].append(p)
                readings[tree].append(r)
    base = statistics.median(trivial)
    results = []
    for tree in trees:
        results.append(
            {
                "tree": str(tree),
                "first_paint_s": round(statistics.median(paint[tree]), 3),
                "first_readings_s": round(statistics.median(readings[tree]), 3),
                "trivial_table_app_s": round(base, 3),
                "first_readings_ratio": round(statistics.median(readings[tree]) / base, 2),
                "runs": args.runs,
            }
        )
    if args.json:
        print(json.dumps(results[0] if len(results) == 1 else results))
        return 0
    print(f"trivial app    first paint     {base * 1000:6.0f} ms   (Header+DataTable+Footer)")
    for result in results:
        print(result["tree"])
        print(f"  meterui demo   first paint     {result['first_paint_s'] * 1000:6.0f} ms")
        print(f"  meterui demo   first readings  {result['first_readings_s'] * 1000:6.0f} ms")
        print(
            f"  ratio first readings / trivial {result['first_readings_ratio']:6.2f}      target ≤ 1.5   "
            f"(median of {args.runs})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
