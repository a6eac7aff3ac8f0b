#!/usr/bin/env python3
"""Memory at max replay speed: the app (headless, 120x40, inspector first as ``meterui replay``) replaying
a raw capture of N frames (default 1,000,000) at ``--speed max``. Prints RSS every 100k messages, the
peak RSS sampled every 0.2 s, how many messages the decoder ran ahead of the UI at most (the bounded
hand-off keeps this at about one batch), and the longest gap between two UI ticks (responsiveness).

Usage: ``python bench/bench_memory.py [--frames N] [--json]``. Figures for the notes; nothing asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_app import _rss_mb  # noqa: E402


def _capture(path: Path, frames: int) -> None:
    """The demo capture's chunks repeated as raw bytes (one chunk is one frame or a noise burst)."""
    from meterui.launch import demo_capture_path
    from meterui.sources.recording import read_recording

    chunks = [c.data for c in read_recording(demo_capture_path())]
    with path.open("wb") as f:
        n = 0
        while n < frames:
            take = chunks[: frames - n]
            f.write(b"".join(take))
            n += len(take)


async def _run(path: Path, frames: int) -> dict[str, object]:
    from meterui.app import MeterApp
    from meterui.config import Config
    from meterui.launch import DEMO_KEY
    from meterui.pipeline import Pipeline
    from meterui.protocol.decoder import StreamDecoder
    from meterui.sources.replay import ReplaySource

    decoders: list[StreamDecoder] = []

    def decoder(fmt: str) -> StreamDecoder:
        decoders.append(StreamDecoder(DEMO_KEY, None, fmt))
        return decoders[-1]

    app = MeterApp(
        lambda _c: Pipeline(ReplaySource(path), key=DEMO_KEY, speed=float("inf"), decoder_factory=decoder),
        Config(key=DEMO_KEY),
        start="inspector",
    )
    marks: list[tuple[int, float]] = []
    peak, ahead, gap = 0.0, 0, 0.0
    next_mark = 100_000
    started = time.monotonic()
    async with app.run_test(size=(120, 40)) as pilot:
        last = time.monotonic()
        while True:
            await pilot.pause(0.2)
            now = time.monotonic()
            gap, last = max(gap, now - last), now
            peak = max(peak, _rss_mb(os.getpid()))
            shown = app.model.messages
            if decoders:
                ahead = max(ahead, decoders[-1].stats.messages - shown)
            if shown >= next_mark:
                gc.collect()
                marks.append((shown, round(_rss_mb(os.getpid()), 1)))
                next_mark += 100_000
            if app.stats is not None and app.stats.finished and shown >= (app.stats.frames or 0):
                break
    return {
        "frames": frames,
        "messages": app.model.messages,
        "seconds": round(time.monotonic() - started, 1),
        "rss_mb_every_100k": marks,
        "peak_rss_mb": round(peak, 1),
        "max_decoded_ahead_of_ui": ahead,
        "longest_ui_tick_gap_s": round(gap, 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=1_000_000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.raw"
        _capture(path, args.frames)
        result = asyncio.run(_run(path, args.frames))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:28} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
