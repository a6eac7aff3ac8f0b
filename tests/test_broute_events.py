"""B-route module events reach the line-health strip: the person at the meter sees PANA join/expiry."""

from __future__ import annotations

import json
import math
from pathlib import Path

from meterui.pipeline import Pipeline, PipelineStats
from meterui.protocol.decoder import StreamDecoder
from meterui.sources.replay import ReplaySource
from meterui.widgets.linehealth import LineHealth
from tests.apputil import run_async

VECTORS = Path(__file__).resolve().parent / "data" / "vectors"


def _transcript(tmp_path: Path, tail: list[str]) -> Path:
    lines = ["SKVER", "EVER 1.2.10", "OK", "EVENT 25 FE80:0000:0000:0000:02FF:EEDD:CCBB:AA99"]
    lines += [v["line"] for v in json.loads((VECTORS / "echonet.json").read_text())][:3]
    path = tmp_path / "broute.txt"
    path.write_bytes(("\r\n".join(lines + tail) + "\r\n").encode())
    return path


def _final_stats(path: Path) -> PipelineStats:
    seen: list[PipelineStats] = []
    Pipeline(ReplaySource(path), speed=math.inf).run(lambda _m, s: seen.append(s), lambda: False)
    return seen[-1]


def test_decoder_reports_the_newest_event_not_ok_lines() -> None:
    dec = StreamDecoder(fmt="skstack")
    dec.feed(b"EVENT 25 FE80:0000:0000:0000:02FF:EEDD:CCBB:AA99\r\nOK\r\n")
    event = dec.last_module_event
    assert event is not None and event.summary == "EVENT 25 PANA connected" and not event.trouble
    dec.feed(b"EVENT 21 FE80:0000:0000:0000:02FF:EEDD:CCBB:AA99 01\r\n")
    event = dec.last_module_event
    assert event is not None and event.trouble and "failed" in event.summary
    dec.feed(b"FAIL ER04\r\n")
    assert dec.last_module_event is not None and dec.last_module_event.summary.startswith("FAIL ER04")
    assert StreamDecoder(fmt="raw").last_module_event is None


def test_pipeline_stats_carry_the_module_event(tmp_path: Path) -> None:
    stats = _final_stats(_transcript(tmp_path, []))
    assert stats.module_event == "EVENT 25 PANA connected" and not stats.module_trouble
    expired = _final_stats(_transcript(tmp_path, ["EVENT 29 FE80:0000:0000:0000:02FF:EEDD:CCBB:AA99"]))
    assert expired.module_event == "EVENT 29 session expired" and expired.module_trouble


@run_async
async def test_line_health_shows_module_trouble_as_a_warning(tmp_path: Path) -> None:
    from textual.app import App, ComposeResult

    stats = _final_stats(_transcript(tmp_path, ["EVENT 29 FE80:0000:0000:0000:02FF:EEDD:CCBB:AA99"]))
    stats.finished = False
    stats.connected = True

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield LineHealth()

    app = Host()
    async with app.run_test(size=(120, 6)):
        strip = app.query_one(LineHealth)
        strip.update_from(stats, now=(stats.last_message_time or 0) + 1)
        assert "module: EVENT 29 session expired" in str(strip.render())
        assert strip.level == "warn"
