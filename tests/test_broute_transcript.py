"""The SKSTACK conversation in the inspector: sent commands and module lines as annotated messages.

Unit tests of :mod:`meterui.protocol.sklines`, the frame store's re-decoding of those lines, and a
pilot test: a session recorded on the virtual module (real pty), then replayed in the inspector.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

from meterui.broute import commands as C
from meterui.broute.run import broute_pipeline
from meterui.broute.session import BrouteSession
from meterui.config import Config
from meterui.framestore import FrameStore
from meterui.launch import replay_transcript
from meterui.pipeline import Pipeline
from meterui.protocol.sklines import MODULE, SENT, Transcript, line_message
from meterui.protocol.skstack import FAIL_CODES, parse_event_line
from meterui.protocol.spans import Node, tiling_gaps
from meterui.screens.inspector import InspectorScreen
from meterui.simulate.broute import DEFAULT_ID, DEFAULT_PASSWORD, PtyModule, VirtualModule
from meterui.sources.base import Chunk
from meterui.sources.replay import ReplaySource
from tests.apputil import QuietApp, run_async
from tests.test_broute_monitor import FAST, SCALE, SECRETS, Collector, _secret_forms

METER = "FE80:0000:0000:0000:0280:8700:3012:24EF"


def _all_text(node: Node) -> str:
    parts = [f"{node.label} {node.value} {node.note}"]
    for child in node.children or []:
        parts.append(_all_text(child))
    return "\n".join(parts)


def test_password_and_id_never_reach_a_line_message() -> None:
    for data in (C.sksetpwd(DEFAULT_PASSWORD), C.sksetrbid(DEFAULT_ID)):
        for sent in (True, False):  # what meterui wrote, and the module's echo of it
            msg = line_message(data, sent)
            text = _all_text(msg.root) + msg.buffers["line"].decode()
            assert DEFAULT_PASSWORD not in text and DEFAULT_ID not in text
            assert "redacted" in text and not tiling_gaps(msg.root, msg.buffers)
    assert DEFAULT_PASSWORD not in parse_event_line(C.sksetpwd(DEFAULT_PASSWORD).decode().strip()).text


def test_sendto_request_is_annotated_with_its_echonet_properties() -> None:
    payload = C.get_request(7, [0xE7, 0xE8])
    for side in (False, True):
        msg = line_message(C.sksendto(METER, payload, side), True)
        assert msg.protocol == SENT and msg.ok
        fields = {n.key: n for n in msg.root.children or []}
        assert fields["command"].value == "SKSENDTO"
        assert fields["ipv6"].value == METER and fields["datalen"].note == f"{len(payload)} byte(s)"
        assert ("side" in fields) is side
        assert msg.buffers["edata"] == payload
        text = _all_text(msg.root)
        assert "E7" in text and "E8" in text
        assert not tiling_gaps(msg.root, msg.buffers)


def test_module_lines_are_annotated_field_by_field() -> None:
    event = line_message(f"EVENT 21 {METER} 0 01\r\n".encode(), False)
    fields = {n.key: n for n in event.root.children or []}
    assert event.protocol == MODULE
    assert fields["num"].note == "UDP send done" and fields["sender"].value == METER
    assert fields["side"].value == "0" and fields["param"].value == "01"
    fail = line_message(b"FAIL ER04\r\n", False)
    assert {n.key: n.note for n in fail.root.children or []}["code"] == FAIL_CODES["ER04"]
    pan = line_message(b"  Channel:2D\r\n", False)
    assert next((n.label, n.value) for n in pan.root.children or []) == ("Channel", "2D")
    for msg in (event, fail, pan):
        assert not tiling_gaps(msg.root, msg.buffers)


def test_transcript_puts_replayed_sent_lines_before_later_answers() -> None:
    sent = [Chunk(C.skver(), 10.0), Chunk(C.skinfo(), 12.0)]
    t = Transcript(sent)
    first = t.received(Chunk(b"EVER 1.0.3\r\nOK\r\n", 11.0))
    assert [(m.protocol, m.buffers["line"]) for m in first] == [
        (SENT, b"SKVER\r\n"),
        (MODULE, b"EVER 1.0.3\r\n"),
        (MODULE, b"OK\r\n"),
    ]
    assert [m.buffers["line"] for m in t.rest()] == [b"SKINFO\r\n"]


def test_frame_store_redecodes_line_messages() -> None:
    store = FrameStore(max_full=1)
    msgs = [line_message(C.sksreg("S2", "2D"), True, 5.0), line_message(b"OK\r\n", False, 6.0, [(0, 4)])]
    store.add(msgs)
    again = store.message(0)  # no longer kept whole: decoded again from its bytes
    assert again.protocol == SENT and again.buffers["line"] == b"SKSREG S2 2D\r\n"
    assert {n.key: n.note for n in again.root.children or []}["register"] == "channel"


def _record(tmp_path: Path) -> Path:
    record = tmp_path / "session.rec"
    sim = PtyModule(VirtualModule("c2", time_scale=SCALE), link=tmp_path / "wisun")
    col = Collector()
    session = BrouteSession(DEFAULT_ID, DEFAULT_PASSWORD, timing=FAST)
    pipeline = broute_pipeline(
        Config(port=sim.device, baudrate=115200, parity="N"), SECRETS, str(record), [col], session=session
    )
    thread = threading.Thread(target=pipeline.run, daemon=True)
    thread.start()
    try:
        col.wait(lambda: col.count("E7") >= 2, "readings")
    finally:
        pipeline.stop()
        thread.join(timeout=10)
        sim.close()
    return record


@run_async
async def test_replayed_recording_shows_sent_and_received_lines_in_the_inspector(tmp_path: Path) -> None:
    record = _record(tmp_path)
    app = QuietApp(
        lambda _c: Pipeline(ReplaySource(record), speed=math.inf, transcript=replay_transcript(record)),
        Config(),
        start="inspector",
    )
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(200):
            if app.stats is not None and app.stats.finished:
                break
            await pilot.pause(0.05)
        await pilot.pause()
        summaries = app.frames.summaries()
        protocols = [s.protocol for s in summaries]
        assert SENT in protocols and MODULE in protocols and "echonet" in protocols
        assert app.stats is not None and app.stats.frames_ok == protocols.count("echonet")  # lines are not frames
        inspector = app.screen
        assert isinstance(inspector, InspectorScreen)
        pwd = next(s for s in summaries if s.protocol == SENT and s.raw.startswith(b"SKSETPWD"))
        assert inspector.show_index(pwd.index)
        await pilot.pause()
        msg = inspector.message
        assert msg is not None and msg.buffers["line"] == b"SKSETPWD C ************\r\n"
        sendto = next(s for s in summaries if s.protocol == SENT and s.raw.startswith(b"SKSENDTO"))
        assert inspector.show_index(sendto.index)
        await pilot.pause()
        msg = inspector.message
        assert msg is not None and "edata" in msg.buffers
        screen = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
        assert "→ sent" in screen and "module" in screen
        every = "\n".join(
            _all_text(inspector.frames.message(inspector.frames.pos_of(s.index) or 0).root) for s in summaries[:80]
        )
        for form in _secret_forms():
            assert form not in screen and form not in every


def test_decode_reads_a_recorded_broute_session(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    import json

    from meterui.cli import main

    record = _record(tmp_path)
    assert main(["decode", str(record), "--output", "json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines and all(m["protocol"] == "echonet" and m["ok"] for m in lines)
    assert any(r["id"] == "E7" and r["unit"] == "W" for m in lines for r in m["readings"])


def test_only_recordings_are_scanned_for_sent_lines(tmp_path: Path) -> None:
    """Issue #8: every replay read its whole file on the UI thread, looking for sent lines, before the first
    frame; a hex file cannot hold any (a ``# tx`` line in it is a comment), so it is not scanned."""
    sent = "# tx t=1700000000.0 534B494E464F0D0A\n"
    hex_file = tmp_path / "frames.hex"
    hex_file.write_text("7E A0 08 01 02 03 04 7E\n" + sent)
    assert replay_transcript(hex_file) is None
    recording = tmp_path / "session.rec"
    recording.write_text("# meterui recording v1\n" + sent)
    assert isinstance(replay_transcript(recording), Transcript)
    plain = tmp_path / "plain.rec"
    plain.write_text("# meterui recording v1\n# t=1700000000.0\n7EA0087E\n")
    assert replay_transcript(plain) is None
