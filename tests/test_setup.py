"""The setup wizard: presets, the commissioning verdicts, the wizard screen (pilot + snapshots).

Listen tests go through a real pseudo-terminal (``os.openpty``) with a :class:`SerialSource`; only the
snapshots use an in-memory source, so the counters on screen are the same on every run.
"""

from __future__ import annotations

import json
import os
import random
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual import events
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Button, Input, OptionList, Static

from meterui.commissioning import ListenCounts, listen, verdict_for
from meterui.config import Config, load_config
from meterui.presets import PRESETS, countries, get_preset
from meterui.protocol import encode as E
from meterui.protocol.decoder import StreamDecoder
from meterui.screens.setup import SetupWizard
from meterui.sources.base import Chunk, SourceError
from meterui.sources.serial_port import PortInfo, SerialSource
from tests.apputil import run_async
from tests.conftest import (
    AUTH_KEY,
    TEST_KEY,
    TEST_KEY_HEX,
    encrypted_hdlc,
    encrypted_mbus,
    kamstrup_body,
    plain_hdlc,
    vector_bytes,
)

PORTS = [
    PortInfo("/dev/ttyUSB0", "FT232R USB UART", "0403:6001", "A10K1234"),
    PortInfo("/dev/ttyUSB1", "CP2102 USB to UART Bridge Controller", "10C4:EA60", "0001"),
]
SPACED_KEY = "00:01:02:03 04 05 06 07 0x08 09 0a 0b 0C0D0E0F"
FRAME = plain_hdlc(kamstrup_body())  # Kamstrup list, P+ = 2824 W
TO_TEST = ("enter",) * 5
"""From the first step to the listen test: port, meter, serial, keys, MQTT (off)."""


sync = run_async  # shared with the other pilot tests (tests/apputil.py)


def decoded(data: bytes | list[bytes], **kw: object) -> tuple[StreamDecoder, list]:
    dec = StreamDecoder(**kw)  # type: ignore[arg-type]
    chunks = data if isinstance(data, list) else [data]
    msgs = [m for c in chunks for m in dec.feed(c)]
    return dec, msgs + dec.flush_garbage()


# -- presets ---------------------------------------------------------------------------------------
def test_presets_are_sane() -> None:
    ids = [p.id for p in PRESETS]
    assert len(ids) == len(set(ids))
    for p in PRESETS:
        assert p.parity in ("N", "E", "O"), p.id
        assert p.baudrate in (300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200), p.id
        assert p.bytesize in (7, 8) and p.stopbits in (1, 2), p.id
        assert p.name and p.country and p.meters, p.id
        assert get_preset(p.id) is p
    # each country's presets are together, so the wizard can group them
    seen = [p.country for p in PRESETS]
    assert [c for i, c in enumerate(seen) if i == 0 or seen[i - 1] != c] == countries()
    assert get_preset("nope") is None and get_preset(None) is None


@pytest.mark.parametrize(
    ("pid", "serial", "key", "auth"),
    [
        ("no-aidon", "2400 8E1", False, False),
        ("no-kaifa", "2400 8E1", False, False),
        ("no-kamstrup", "2400 8N1", False, False),
        ("se-p1-dsmr5", "115200 8N1", False, False),
        ("dk-kamstrup-omnipower", "2400 8N1", True, True),
        ("at-tinetz", "2400 8E1", True, False),
        ("at-evn", "2400 8E1", True, False),
        ("at-burgenland", "9600 8N1", True, True),
        ("at-wiener-netze", "9600 8N1", True, False),
        ("at-steiermark", "9600 8N1", True, True),
        ("jp-broute", "115200 8N1", False, False),
    ],
)
def test_preset_settings(pid: str, serial: str, key: bool, auth: bool) -> None:
    p = get_preset(pid)
    assert p is not None
    assert (p.serial, p.needs_key, p.needs_auth_key) == (serial, key, auth)


def test_disputed_parity_is_noted() -> None:
    for pid in ("at-tinetz", "at-evn"):
        assert "8N1" in get_preset(pid).note  # type: ignore[union-attr]


def test_core_modules_are_ui_free() -> None:
    code = (
        "import sys, meterui.presets, meterui.commissioning; "
        "assert 'textual' not in sys.modules and 'rich' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- verdicts (pure) -------------------------------------------------------------------------------
def test_verdict_no_bytes() -> None:
    dec, msgs = decoded(b"")
    v = verdict_for(dec.stats, msgs)
    assert (v.level, v.code) == ("error", "no-bytes")
    assert "cable" in v.advice and "port name" in v.advice and "enabled" in v.advice


def test_verdict_bytes_but_no_frames() -> None:
    dec, msgs = decoded(random.Random(1).randbytes(700))
    v = verdict_for(dec.stats, msgs)
    assert (v.level, v.code, v.title) == ("error", "no-frames", "Bytes but no frames")
    assert "8N1 instead of 8E1" in v.advice


def test_verdict_checksum_errors() -> None:
    bad = bytearray(FRAME)
    bad[30] ^= 0x10  # inside the information field: the FCS fails, the header still checks out
    dec, msgs = decoded(bytes(bad) * 3)
    assert dec.stats.checksum_bad >= 2 and dec.stats.checksum_ok == 0
    v = verdict_for(dec.stats, msgs)
    assert (v.level, v.code, v.title) == ("error", "bad-frames", "Frames with checksum errors")
    assert "parity" in v.advice


def test_verdict_encrypted_without_key() -> None:
    dec, msgs = decoded(encrypted_mbus(kamstrup_body()))
    v = verdict_for(dec.stats, msgs)
    assert (v.level, v.code) == ("warn", "no-key")
    assert v.title == "Frames OK but encrypted, and no key"
    assert "grid operator" in v.advice


def test_verdict_wrong_key() -> None:
    dec, msgs = decoded(encrypted_mbus(kamstrup_body()), key=bytes(16))
    v = verdict_for(dec.stats, msgs)
    assert (v.code, v.title) == ("wrong-key", "Key does not decrypt")
    assert "per meter" in v.advice


def test_verdict_authentication_failed() -> None:
    dec, msgs = decoded(encrypted_hdlc(kamstrup_body()), key=TEST_KEY, auth_key=bytes(16))
    v = verdict_for(dec.stats, msgs)
    assert (v.level, v.code, v.title) == ("error", "auth-failed", "Authentication failed")
    assert "authentication key" in v.advice


def test_verdict_all_good_quotes_a_reading() -> None:
    dec, msgs = decoded([FRAME, FRAME])
    v = verdict_for(dec.stats, msgs)
    assert (v.level, v.code) == ("ok", "ok")
    assert v.title == "All good: 2 messages decoded, e.g. P+ = 2824 W"


def test_verdict_all_good_with_keys() -> None:
    dec, msgs = decoded(encrypted_hdlc(kamstrup_body()), key=TEST_KEY, auth_key=AUTH_KEY)
    assert verdict_for(dec.stats, msgs).title.startswith("All good: 1 message decoded")


def test_verdict_all_good_but_some_noise() -> None:
    bad = bytearray(FRAME)
    bad[30] ^= 0x10
    dec, msgs = decoded([FRAME, bytes(bad), FRAME])
    v = verdict_for(dec.stats, msgs)
    assert (v.level, v.code) == ("warn", "ok")
    assert "1 frame failed the checksum" in v.advice


def test_verdict_undecodable_content() -> None:
    dec, msgs = decoded(E.hdlc_frame(E.LLC + b"\x42" + bytes(40)) * 2)
    v = verdict_for(dec.stats, msgs)
    assert (v.level, v.code) == ("warn", "undecoded")


def test_verdict_p1_text() -> None:
    telegram = b"/ELL5\\253833635_A\r\n\r\n0-0:1.0.0(210217184019W)\r\n1-0:1.7.0(00.345*kW)\r\n!ABCD\r\n"
    dec, msgs = decoded(telegram)
    if dec.stats.checksum_ok or any(m.ok for m in msgs):  # pragma: no cover - once P1 decoding lands
        pytest.skip("the decoder reads P1 now")
    v = verdict_for(dec.stats, msgs, telegram)
    assert (v.level, v.code) == ("warn", "p1-text")


def test_verdict_real_kamstrup_capture() -> None:
    data = json.loads((Path(__file__).with_name("data") / "model_kamstrup_vectors.json").read_text())
    vec = next(v for v in data["vectors"] if v["id"] == "kamstrup-list1-a")  # from shared/vectors/hdlc.json
    dec, msgs = decoded(vector_bytes(vec))
    assert verdict_for(dec.stats, msgs).title == "All good: 1 message decoded, e.g. P+ = 2824 W"


# -- listen() against real ports -------------------------------------------------------------------
@pytest.fixture
def pty() -> Iterator[tuple[int, str]]:
    master, slave = os.openpty()
    try:
        yield master, os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


def feeder(master: int, data: bytes, stop: threading.Event, every: float = 0.15) -> threading.Thread:
    """Write ``data`` to the pty master every ``every`` seconds until ``stop`` is set."""

    def run() -> None:
        while not stop.wait(every):
            try:
                os.write(master, data)
            except OSError:
                return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_listen_on_a_pty(pty: tuple[int, str]) -> None:
    master, port = pty
    stop = threading.Event()
    thread = feeder(master, FRAME, stop)
    progress: list[ListenCounts] = []
    try:
        # ends once two frames' bytes were read (not after a wall-clock second a loaded machine may not give)
        report = listen(
            EndsAfter(SerialSource(port, 2400, "N"), 2 * len(FRAME)), StreamDecoder(), 60.0, progress.append
        )
    finally:
        stop.set()
        thread.join()
    assert report.error is None
    assert report.verdict.code == "ok"
    assert report.counts.stats.checksum_ok >= 2 and report.counts.stats.bytes_received >= 2 * len(FRAME)
    assert progress[0].elapsed == 0 and progress[-1].elapsed == 60.0
    assert report.example is not None


def test_listen_port_error_is_a_verdict() -> None:
    report = listen(SerialSource("/dev/does-not-exist-meterui"), StreamDecoder(), 1.0)
    assert report.verdict.code == "port-error"
    assert "no such device" in report.verdict.advice
    assert report.error is not None


def test_listen_stops_when_asked(pty: tuple[int, str]) -> None:
    _, port = pty
    report = listen(SerialSource(port), StreamDecoder(), 30.0, should_stop=lambda: True)
    assert report.verdict.code == "no-bytes"


# -- the wizard ------------------------------------------------------------------------------------
class FakeSource:
    """Gives a fixed byte string once, then ends like a replay file that ran out (``EOFError``), so a
    listen test ends when the data is read, not when a wall-clock pause is over: deterministic under load."""

    description = "fake"

    def __init__(self, data: bytes, *, then_silence: bool = False) -> None:
        self.data = data
        self.then_silence = then_silence
        """Stay open and silent after the data instead (a listen test then runs to its end)."""

    def open(self) -> None:
        pass

    def read(self, timeout: float = 0.2) -> Chunk | None:
        data, self.data = self.data, b""
        if not data:
            if self.then_silence:
                threading.Event().wait(min(timeout, 0.05))  # a read waits for data, at most ``timeout``
                return None
            raise EOFError
        return Chunk(data, None)

    def close(self) -> None:
        pass


class Host(App[None]):
    """A bare app that opens the wizard at start and keeps its result."""

    CURSOR_BLINK = False

    def __init__(self, **kw: object) -> None:
        super().__init__()
        self.kw = kw
        self.result: Config | str | None = "pending"

    def on_mount(self) -> None:
        self.push_screen(SetupWizard(**self.kw), self._done)  # type: ignore[arg-type]

    def _done(self, result: Config | None) -> None:
        self.result = result


def wizard(app: App[None]) -> SetupWizard:
    screen = app.screen
    assert isinstance(screen, SetupWizard)
    return screen


def screen_text(app: App[None]) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def choose_preset(pilot: Pilot[None], preset_id: str) -> None:
    presets = pilot.app.screen.query_one("#presets", OptionList)
    presets.focus()
    for _ in range(len(PRESETS) + 10):
        highlighted = presets.highlighted
        if highlighted is not None and presets.get_option_at_index(highlighted).id == preset_id:
            return
        await pilot.press("down")
    raise AssertionError(f"preset {preset_id} not reached")


async def wait_for_report(pilot: Pilot[None], timeout: float = 90.0) -> None:
    w = wizard(pilot.app)
    for _ in range(int(timeout / 0.05)):
        if w.report is not None:
            await pilot.pause()
            return
        await pilot.pause(0.05)
    raise AssertionError("the listen test did not finish")


@sync
async def test_walk_the_wizard_with_keys() -> None:
    app = Host(ports=PORTS, listen_seconds=0.3)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        w = wizard(app)
        assert w.step_id == "port"
        await pilot.press("down")  # second port
        assert w.port == "/dev/ttyUSB1"
        await pilot.press("enter")
        assert w.step_id == "preset"
        await choose_preset(pilot, "no-kamstrup")
        await pilot.press("enter")
        assert w.step_id == "serial"
        assert w.serial_settings() == (2400, "N", 8, 1)
        assert "2400 8N1" in str(w.query_one("#serial-summary", Static).render())
        await pilot.press("enter")
        assert w.step_id == "keys"
        await pilot.press("enter")  # no keys for Kamstrup in Norway
        assert w.step_id == "mqtt"
        await pilot.press("enter")  # MQTT is off unless switched on
        assert w.step_id == "listen"
        await wait_for_report(pilot)
        assert w.report is not None and w.report.verdict.code == "port-error"  # no such adapter here
        await pilot.click("#save")  # a failing verdict: the first press only asks
        await pilot.pause()
        assert app.result == "pending" and "did not work" in screen_text(app)
        await press_again(pilot, "#save")  # the deliberate second press saves
        await pilot.pause()
    assert isinstance(app.result, Config)
    assert (
        app.result.port,
        app.result.baudrate,
        app.result.parity,
        app.result.bytesize,
        app.result.stopbits,
        app.result.preset,
        app.result.key,
    ) == ("/dev/ttyUSB1", 2400, "N", 8, 1, "no-kamstrup", None)


@sync
async def test_back_and_typed_port() -> None:
    app = Host(ports=[], listen_seconds=0.3)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        w = wizard(app)
        await pilot.press("enter")  # nothing chosen yet
        assert w.step_id == "port"
        assert "Choose a port" in str(w.query_one("#port-error", Static).render())
        await pilot.press(*"socket://localhost:1")
        await pilot.press("enter")
        assert w.step_id == "preset"
        await pilot.click("#back")
        assert w.step_id == "port"
        assert w.port == "socket://localhost:1"


@sync
async def test_invalid_key_blocks_next_and_never_echoes() -> None:
    app = Host(ports=PORTS, initial=Config(preset="at-tinetz"), listen_seconds=0.3)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        w = wizard(app)
        await pilot.press("enter", "enter", "enter")
        assert w.step_id == "keys"
        assert "TINETZ Tirol (Austria) encrypts its data: you need the encryption key" in screen_text(app)
        await pilot.press(*"0011zz")
        error = str(w.query_one("#key-error", Static).render())
        assert "hexadecimal" in error and "0011zz" not in error
        await pilot.press("enter")
        assert w.step_id == "keys"  # blocked
        w.query_one("#key", Input).value = "00112233445566778899AABBCCDDEE"  # 30 digits
        await pilot.pause()
        assert "got 30 digit(s)" in str(w.query_one("#key-error", Static).render())
        await pilot.press("enter")
        assert w.step_id == "keys"


@sync
async def test_spaced_key_is_accepted_and_masked() -> None:
    app = Host(ports=PORTS, initial=Config(preset="dk-kamstrup-omnipower"), listen_seconds=0.3)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        w = wizard(app)
        await pilot.press("enter", "enter", "enter")
        assert w.step_id == "keys"
        w.query_one("#key", Input).post_message(events.Paste(SPACED_KEY))  # as pasted from a letter
        w.query_one("#auth-key", Input).value = "0x" + AUTH_KEY.hex()
        await pilot.pause()
        assert "looks right" in str(w.query_one("#key-error", Static).render())
        assert w.keys() == (TEST_KEY, AUTH_KEY)
        shown = app.export_screenshot() + screen_text(app)
        for secret in (TEST_KEY_HEX, TEST_KEY_HEX.lower(), "0a 0b", "0C0D0E0F", AUTH_KEY.hex(), "c0c1"):
            assert secret not in shown
        await pilot.press("enter", "enter")  # keys → MQTT (off) → listen
        assert w.step_id == "listen"
        await wait_for_report(pilot)
        assert TEST_KEY_HEX.lower() not in app.export_screenshot().lower()
        await pilot.click("#save")  # the port does not exist here: a failing verdict, so two presses
        await press_again(pilot, "#save")
    assert isinstance(app.result, Config)
    assert (app.result.key, app.result.auth_key) == (TEST_KEY, AUTH_KEY)
    assert app.result.describe_serial() == "2400 8E1"  # an existing config's line settings are kept


@sync
async def test_escape_cancels() -> None:
    app = Host(ports=PORTS)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
    assert app.result is None


class EndsAfter:
    """A real serial source that ends (``EOFError``, as a replay file does) once ``size`` bytes were read:
    the listen test then ends on data, not on a wall-clock pause a loaded machine may not keep."""

    def __init__(self, source: SerialSource, size: int) -> None:
        self.source, self.size, self.seen = source, size, 0
        self.description = source.description

    def open(self) -> None:
        self.source.open()

    def read(self, timeout: float = 0.2) -> Chunk | None:
        if self.seen >= self.size:
            raise EOFError
        chunk = self.source.read(timeout)
        self.seen += len(chunk.data) if chunk is not None else 0
        return chunk

    def close(self) -> None:
        self.source.close()


async def run_listen(port: str, data: bytes, master: int) -> tuple[Host, SetupWizard]:
    stop = threading.Event()
    thread = feeder(master, data, stop)

    def source(cfg: Config) -> EndsAfter:
        return EndsAfter(
            SerialSource(cfg.port or "", cfg.baudrate, cfg.parity, cfg.bytesize, cfg.stopbits), 2 * len(data)
        )

    app = Host(
        ports=[PortInfo(port, "pseudo-terminal", None, None)],
        listen_seconds=60,
        source_factory=source,
        initial=Config(port=port, preset="generic", baudrate=9600, parity="N"),
    )
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            w = wizard(app)
            await pilot.press(*TO_TEST)
            assert w.step_id == "listen"
            await wait_for_report(pilot)
            await pilot.click("#save")
            await pilot.pause()
    finally:
        stop.set()
        thread.join()
    return app, w


@sync
async def test_listen_step_all_good_on_a_pty(pty: tuple[int, str]) -> None:
    master, port = pty
    app, w = await run_listen(port, FRAME, master)
    assert w.report is not None
    verdict = w.report.verdict
    assert verdict.code == "ok" and verdict.title.startswith("All good"), verdict
    assert "P+ = 2824 W" in verdict.title
    assert isinstance(app.result, Config)
    assert (app.result.port, app.result.describe_serial(), app.result.preset) == (port, "9600 8N1", "generic")


@sync
async def test_listen_step_noise_on_a_pty(pty: tuple[int, str]) -> None:
    master, port = pty
    noise = bytes(b for b in random.Random(7).randbytes(400) if b not in (0x7E, 0x68))
    _, w = await run_listen(port, noise, master)
    assert w.report is not None
    assert w.report.verdict.title == "Bytes but no frames"


@sync
async def test_save_option_writes_the_file(tmp_path: Path) -> None:
    target = tmp_path / "meterui" / "config.toml"
    app = Host(
        ports=PORTS,
        listen_seconds=30,
        save=True,
        config_file=target,
        initial=Config(preset="at-kelag"),
        source_factory=lambda cfg: FakeSource(FRAME),
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press(*TO_TEST)
        await wait_for_report(pilot)
        report = wizard(app).report  # the FakeSource ends on its data: no wall-clock listen to outlast
        assert report is not None and report.verdict.code == "ok", report.verdict
        await pilot.click("#save")
        await wait_for(pilot, lambda: app.result != "pending", timeout=60)  # the save runs in a thread
    assert isinstance(app.result, Config)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    saved = load_config(target)
    assert saved is not None and saved.port == "/dev/ttyUSB0" and saved.preset == "at-kelag"


async def wait_for(
    pilot: Pilot[None], condition: object, timeout: float = 10.0, why: Callable[[], str] | None = None
) -> None:
    """Poll ``condition()`` between UI turns (no fixed sleeps: it holds under any load); ``why()`` says
    what the screen showed when it was not reached."""
    for _ in range(int(timeout / 0.02)):
        if condition():  # type: ignore[operator]
            return
        await pilot.pause(0.02)
    raise AssertionError("condition not reached" + (f": {why()}" if why is not None else ""))


async def press_again(pilot: Pilot[None], selector: str) -> None:
    """Click a button again once its press effect is over (a Button ignores clicks while it shows it)."""
    button = pilot.app.screen.query_one(selector, Button)
    await wait_for(pilot, lambda: not button.has_class("-active"))
    await pilot.click(selector)
    await pilot.pause()


@sync
async def test_listen_text_follows_the_counters() -> None:
    """Item 12: no "Waiting for data from the meter…" while the counters already show frames."""
    app = Host(
        ports=PORTS,
        listen_seconds=60,
        initial=Config(preset="generic", parity="N"),
        source_factory=lambda cfg: FakeSource(FRAME + FRAME, then_silence=True),
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press(*TO_TEST)
        w = wizard(app)
        assert w.step_id == "listen" and w.focused is None  # Enter while listening must not save
        await wait_for(pilot, lambda: "Frames ok 2" in str(w.query_one("#counters", Static).render()))
        await pilot.pause()
        verdict = str(w.query_one("#verdict", Static).render())
        assert "Waiting for data" not in verdict and "Frames arrive: 2 read so far" in verdict
        await pilot.press("enter")
        assert app.result == "pending"
        await pilot.press("escape")


@sync
async def test_failing_verdict_focuses_the_fix_not_save() -> None:
    """Item 12: after a failing verdict Enter goes to what fixes it; saving anyway takes two presses."""
    noise = bytes(b for b in random.Random(3).randbytes(300) if b not in (0x7E, 0x68))
    app = Host(
        ports=PORTS,
        listen_seconds=30,
        initial=Config(preset="generic", parity="N"),
        source_factory=lambda cfg: FakeSource(noise),
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press(*TO_TEST)
        await wait_for_report(pilot)
        w = wizard(app)
        assert w.report is not None and w.report.verdict.code == "no-frames"
        fix = w.query_one("#fix", Button)
        assert w.focused is fix and fix.display and str(fix.label) == "Serial settings"
        assert str(w.query_one("#save", Button).label) == "Save anyway"
        await pilot.press("enter")
        assert w.step_id == "serial" and app.result == "pending"
        await pilot.press("enter", "enter", "enter")  # serial → keys → MQTT → listen again
        await wait_for_report(pilot)
        await pilot.click("#save")
        await pilot.pause()
        assert app.result == "pending" and str(w.query_one("#save", Button).label) == "Really save?"
        await press_again(pilot, "#save")
        await pilot.pause()
    assert isinstance(app.result, Config)


@sync
async def test_working_verdict_focuses_save() -> None:
    app = Host(
        ports=PORTS,
        listen_seconds=30,
        initial=Config(preset="generic", parity="N"),
        source_factory=lambda cfg: FakeSource(FRAME + FRAME),
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press(*TO_TEST)
        await wait_for_report(pilot)
        w = wizard(app)
        assert w.focused is w.query_one("#save", Button) and not w.query_one("#fix", Button).display
        await pilot.press("enter")
        await pilot.pause()
    assert isinstance(app.result, Config)


@sync
async def test_keys_step_notices_a_key_the_meter_does_not_need() -> None:
    """Item 17: "no keys needed, leave these empty" must not stand next to a filled-in key."""
    app = Host(ports=PORTS, initial=Config(preset="no-aidon", key=bytes(range(16))))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("enter", "enter", "enter")
        w = wizard(app)
        assert w.step_id == "keys"
        status = str(w.query_one("#keys-status", Static).render())
        assert "Leave these empty" not in status and "will not be used" in status
        w.query_one("#key", Input).value = ""
        await pilot.pause()
        assert "Leave these empty" in str(w.query_one("#keys-status", Static).render())


def test_undecoded_presets_say_so() -> None:
    """Item 17: the wizard must not offer DSMR as if meterui decoded it."""
    from meterui.screens.setup import _preset_prompt

    dsmr = get_preset("se-p1-dsmr5")
    assert dsmr is not None and not dsmr.decoded
    assert "not decoded yet" in _preset_prompt(dsmr).plain
    aidon = get_preset("no-aidon")
    assert aidon is not None and aidon.decoded and "not decoded" not in _preset_prompt(aidon).plain


class SourceThatFails:
    description = "broken"

    def open(self) -> None:
        raise SourceError("cannot open /dev/ttyUSB9: permission denied")

    def read(self, timeout: float = 0.2) -> Chunk | None:  # pragma: no cover
        return None

    def close(self) -> None:
        pass


@sync
async def test_open_failure_is_shown_not_raised() -> None:
    app = Host(ports=PORTS, listen_seconds=0.2, source_factory=lambda cfg: SourceThatFails())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press(*TO_TEST)
        await wait_for_report(pilot)
        assert "permission denied" in screen_text(app)
        assert "Cannot use the port" in screen_text(app)


# -- snapshots -------------------------------------------------------------------------------------
SIZES = [(80, 24), (120, 40)]


def snap_app(**kw: object) -> Host:
    kw.setdefault("ports", PORTS)
    return Host(**kw)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_port_step(snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(snap_app(), terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_preset_step(snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot[None]) -> None:
        await pilot.press("enter")
        await choose_preset(pilot, "at-evn")

    assert snap_compare(snap_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_keys_step(snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot[None]) -> None:
        await pilot.press("enter", "enter", "enter")
        pilot.app.screen.query_one("#key", Input).post_message(events.Paste(SPACED_KEY))
        await pilot.pause()

    assert snap_compare(snap_app(initial=Config(preset="at-burgenland")), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_listen_verdict(snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot[None]) -> None:
        await pilot.press(*TO_TEST)
        await wait_for_report(pilot)

    app = snap_app(
        initial=Config(preset="generic", parity="N"),
        listen_seconds=30,
        source_factory=lambda cfg: FakeSource(FRAME + FRAME),
    )
    assert snap_compare(app, terminal_size=size, run_before=run_before)
