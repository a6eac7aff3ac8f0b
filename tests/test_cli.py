"""``meterui decode``: input formats, output modes, JSON schema, exit codes, keys never echoed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from meterui.cli import main
from tests.conftest import (
    AUTH_KEY,
    AUTH_KEY_HEX,
    JSON_KEYS,
    QUANTITIES,
    READING_KEYS,
    TEST_KEY_HEX,
    UNITS,
    encrypted_hdlc,
    kamstrup_body,
    load_vectors,
    requires_vectors,
    vector_by_id,
    vector_bytes,
)

ROOT = Path(__file__).resolve().parents[1]
KEY_SPELLINGS = [TEST_KEY_HEX, TEST_KEY_HEX.lower(), " ".join(TEST_KEY_HEX[i : i + 2] for i in range(0, 32, 2))]


@pytest.fixture(autouse=True)
def _no_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("METERUI_KEY", raising=False)
    monkeypatch.delenv("METERUI_AUTH_KEY", raising=False)


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["decode", *args])
    out, err = capsys.readouterr()
    return code, out, err


def run_proc(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("METERUI_KEY", "METERUI_AUTH_KEY")}
    return subprocess.run(
        [sys.executable, "-m", "meterui", "decode", *args],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )


def assert_no_key(text: str, *keys: str) -> None:
    flat = text.replace(" ", "").replace(":", "").lower()
    for k in keys:
        assert k.replace(" ", "").lower() not in flat


def check_json_lines(out: str) -> list[dict]:
    objs = [json.loads(line) for line in out.splitlines()]
    for i, obj in enumerate(objs):
        assert set(obj) == JSON_KEYS
        assert obj["index"] == i
        assert isinstance(obj["ok"], bool) and obj["ok"] == (obj["error"] is None)
        if obj["error"] is not None:
            assert set(obj["error"]) == {"layer", "message"}
            assert obj["error"]["layer"] in ("line", "frame", "crypto", "apdu")
        assert all(isinstance(o, list) and len(o) == 2 and o[0] < o[1] for o in obj["offsets"])
        assert obj["authenticated"] in (True, False, None)
        assert isinstance(obj["encrypted"], bool)
        for r in obj["readings"]:
            assert set(r) == READING_KEYS
            assert r["quantity"] is None or r["quantity"] in QUANTITIES
            assert r["unit"] is None or r["unit"] in UNITS
    return objs


def hex_capture(frames: list[bytes]) -> str:
    lines = ["# meterui test capture", "# one frame per line, colons between bytes"]
    for i, f in enumerate(frames):
        lines.append(f"# frame {i}")
        lines.append(":".join(f"{b:02X}" for b in f[:40]) + "   # head")
        lines.append(f[40:].hex())
    return "\n".join(lines) + "\n"


@pytest.fixture
def hdlc_frames() -> list[bytes]:
    return [vector_bytes(v) for v in load_vectors("hdlc")]


@pytest.fixture
def mbus_testkey() -> bytes:
    return vector_bytes(vector_by_id("vkw-kaifa-ma309m-testkey"))


# -- outputs --------------------------------------------------------------------------------------
def test_json_hex_input_with_comments_and_colons(tmp_path: Path, capsys, hdlc_frames) -> None:
    path = tmp_path / "cap.hex"
    path.write_text(hex_capture(hdlc_frames))
    code, out, err = run_main(capsys, str(path), "--output", "json")
    assert code == 0 and err == ""
    objs = check_json_lines(out)
    assert len(objs) == len(hdlc_frames) and all(o["ok"] for o in objs)
    assert objs[0]["clock"] == "2019-01-21T23:43:10"
    assert objs[0]["protocol"] == "hdlc"
    r = {x["id"]: x for x in objs[0]["readings"]}
    assert r["1.1.31.7.0.255"]["value"] == pytest.approx(10.91) and r["1.1.31.7.0.255"]["unit"] == "A"
    assert objs[1]["offsets"] == [[len(hdlc_frames[0]), len(hdlc_frames[0]) + len(hdlc_frames[1])]]


def test_json_raw_input(tmp_path: Path, capsys, hdlc_frames) -> None:
    path = tmp_path / "cap.bin"
    path.write_bytes(b"".join(hdlc_frames))
    for fmt in ("auto", "raw"):
        code, out, _ = run_main(capsys, str(path), "--output", "json", "--format", fmt)
        assert code == 0
        assert [o["ok"] for o in check_json_lines(out)] == [True] * len(hdlc_frames)


def test_hex_and_raw_give_the_same_json(tmp_path: Path, capsys, hdlc_frames) -> None:
    (tmp_path / "a.hex").write_text(hex_capture(hdlc_frames))
    (tmp_path / "a.bin").write_bytes(b"".join(hdlc_frames))
    _, hex_out, _ = run_main(capsys, str(tmp_path / "a.hex"), "--output", "json", "--format", "hex")
    _, raw_out, _ = run_main(capsys, str(tmp_path / "a.bin"), "--output", "json")
    assert hex_out == raw_out


@requires_vectors
def test_encrypted_json_with_key_spellings(tmp_path: Path, capsys, mbus_testkey) -> None:
    path = tmp_path / "m.bin"
    path.write_bytes(mbus_testkey)
    for spelling in KEY_SPELLINGS:
        code, out, err = run_main(capsys, str(path), "--output", "json", "--key", spelling)
        assert code == 0
        (obj,) = check_json_lines(out)
        assert obj["ok"] and obj["encrypted"] and obj["authenticated"] is False
        assert obj["system_title"] == "4B464D1020003774" and obj["invocation_counter"] == 7014
        assert obj["clock"] == "2023-08-21T23:23:00+02:00"
        assert_no_key(out + err, TEST_KEY_HEX)


@pytest.mark.parametrize("output", ["text", "json", "tree", "hex", "summary"])
def test_every_output_mode_never_echoes_keys(tmp_path: Path, capsys, output: str) -> None:
    path = tmp_path / "e.bin"
    path.write_bytes(encrypted_hdlc(kamstrup_body()) * 2)
    code, out, err = run_main(capsys, str(path), "--output", output, "--key", TEST_KEY_HEX, "--auth-key", AUTH_KEY_HEX)
    assert code == 0 and out
    assert_no_key(out + err, TEST_KEY_HEX, AUTH_KEY_HEX, AUTH_KEY.hex())
    if output == "json":
        objs = check_json_lines(out)
        assert [o["authenticated"] for o in objs] == [True, True]
    if output == "summary":
        assert out.count("\n") == 1 and "messages=2 ok=2" in out
    if output == "text":
        assert "Active power import" in out and "2824 W" in out
    if output == "tree":
        assert "invocation_counter" in out and "[frame " in out
    if output == "hex":
        assert "-- apdu" in out and "-- frame" in out


def test_wrong_key_error_and_no_echo(tmp_path: Path, capsys) -> None:
    path = tmp_path / "e.bin"
    path.write_bytes(encrypted_hdlc(kamstrup_body()))
    wrong = "FF" * 16
    code, out, err = run_main(capsys, str(path), "--output", "json", "--key", TEST_KEY_HEX, "--auth-key", wrong)
    assert code == 0
    (obj,) = check_json_lines(out)
    assert obj["error"]["layer"] == "crypto" and "authentication failed" in obj["error"]["message"]
    assert_no_key(out + err, TEST_KEY_HEX, wrong)


def test_summary_counts_by_layer(tmp_path: Path, capsys, hdlc_frames) -> None:
    bad = bytearray(hdlc_frames[0])
    bad[40] ^= 1
    data = b"noise!!" + hdlc_frames[0] + bytes(bad) + hdlc_frames[1] + encrypted_hdlc(kamstrup_body())
    path = tmp_path / "s.bin"
    path.write_bytes(data)
    code, out, _ = run_main(capsys, str(path), "--output", "summary")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("messages=5 ok=2 errors: line=1 frame=1 crypto=1 apdu=0")
    assert f"bytes={len(data)}" in lines[0]


def test_text_output_one_header_per_message(tmp_path: Path, capsys, hdlc_frames) -> None:
    path = tmp_path / "t.bin"
    path.write_bytes(b"".join(hdlc_frames))
    code, out, _ = run_main(capsys, str(path))
    assert code == 0
    headers = [ln for ln in out.splitlines() if ln.startswith("#")]
    assert len(headers) == len(hdlc_frames) and all(h.endswith("[ok]") for h in headers)
    assert "Current L1 = 10.91 A" in out


def test_tree_and_hex_cover_every_byte(tmp_path: Path, capsys, hdlc_frames) -> None:
    path = tmp_path / "t.bin"
    path.write_bytes(hdlc_frames[0])
    _, tree, _ = run_main(capsys, str(path), "--output", "tree")
    assert "frame/fcs" not in tree and "fcs: frame check sequence" in tree
    _, hexout, _ = run_main(capsys, str(path), "--output", "hex")
    dumped = "".join(ln[9:56].replace(" ", "") for ln in hexout.splitlines() if ln[:8].strip().isdigit())
    assert hdlc_frames[0].hex().upper() in dumped


# -- stdin and subprocess -----------------------------------------------------------------------------
def test_stdin_via_dash_in_a_subprocess(hdlc_frames) -> None:
    proc = run_proc("-", "--output", "json", stdin=hex_capture(hdlc_frames).encode())
    assert proc.returncode == 0, proc.stderr
    objs = check_json_lines(proc.stdout.decode())
    assert len(objs) == len(hdlc_frames)
    proc = run_proc("--output", "summary", stdin=b"".join(hdlc_frames))  # default input is stdin
    assert proc.returncode == 0 and proc.stdout.decode().startswith(f"messages={len(hdlc_frames)} ok=")


def test_subprocess_with_key_never_echoes_it(tmp_path: Path) -> None:
    path = tmp_path / "e.hex"
    path.write_text(encrypted_hdlc(kamstrup_body()).hex())
    proc = run_proc(str(path), "--output", "tree", "--key", TEST_KEY_HEX, "--auth-key", AUTH_KEY_HEX)
    assert proc.returncode == 0
    assert_no_key((proc.stdout + proc.stderr).decode(), TEST_KEY_HEX, AUTH_KEY_HEX)


def test_skstack_auto_detect_smoke(tmp_path: Path) -> None:
    vecs = load_vectors("echonet")
    path = tmp_path / "b.txt"
    path.write_text("".join(v["line"] + "\r\n" for v in vecs))
    proc = run_proc(str(path), "--output", "json")
    assert proc.returncode == 0, proc.stderr
    objs = [json.loads(ln) for ln in proc.stdout.decode().splitlines()]
    assert objs and all(set(o) == JSON_KEYS for o in objs)
    assert {o["protocol"] for o in objs} == {"echonet"}


# -- exit codes ------------------------------------------------------------------------------------
def test_missing_file_exit_2_one_line(tmp_path: Path) -> None:
    proc = run_proc(str(tmp_path / "nope.hex"))
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert err.count("\n") == 1 and "Traceback" not in err and "nope.hex" in err
    assert proc.stdout == b""


def test_directory_input_exit_2(tmp_path: Path, capsys) -> None:
    code, out, err = run_main(capsys, str(tmp_path))
    assert code == 2 and err.count("\n") == 1 and out == ""


@pytest.mark.parametrize("key", ["00" * 15, "00" * 17, "0" * 31, "zz" * 16, "not a key at all!!"])
@pytest.mark.parametrize("flag", ["--key", "--auth-key"])
def test_bad_key_exit_2_without_echo(tmp_path: Path, capsys, key: str, flag: str) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(encrypted_hdlc(kamstrup_body()))
    code, out, err = run_main(capsys, str(path), flag, key)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("meterui: error:")
    assert key not in err
    assert ("authentication key" if flag == "--auth-key" else "encryption key") in err


def test_bad_key_subprocess_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(b"\x00")
    secret = "0123456789ABCDEF0123456789ABCDE"
    proc = run_proc(str(path), "--key", secret)
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert "Traceback" not in err and err.count("\n") == 1 and secret not in err


def test_bad_hex_file_exit_2(tmp_path: Path, capsys) -> None:
    path = tmp_path / "bad.hex"
    path.write_text("# capture\n7E A0 12\n7E G0\n")
    code, _, err = run_main(capsys, str(path), "--format", "hex")
    assert code == 2 and "line 3" in err and err.count("\n") == 1


def test_bad_argument_exit_2(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["decode", "--output", "xml"])
    assert info.value.code == 2


def test_garbage_input_exit_0_with_line_errors(tmp_path: Path, capsys) -> None:
    path = tmp_path / "g.bin"
    path.write_bytes(bytes(range(1, 200)) * 3)
    code, out, err = run_main(capsys, str(path), "--output", "json")
    assert code == 0 and err == ""
    objs = check_json_lines(out)
    assert objs and all(not o["ok"] for o in objs)
    assert {o["error"]["layer"] for o in objs} <= {"line", "frame"}
    assert "line" in {o["error"]["layer"] for o in objs}


def test_empty_input_exit_0(tmp_path: Path, capsys) -> None:
    path = tmp_path / "empty.bin"
    path.write_bytes(b"")
    code, out, _ = run_main(capsys, str(path), "--output", "summary")
    assert code == 0 and out.startswith("messages=0 ok=0")


def test_encrypted_without_key_exit_0_crypto_error(tmp_path: Path, capsys) -> None:
    path = tmp_path / "e.bin"
    path.write_bytes(encrypted_hdlc(kamstrup_body()))
    code, out, _ = run_main(capsys, str(path), "--output", "json")
    assert code == 0
    (obj,) = check_json_lines(out)
    assert obj["error"]["layer"] == "crypto" and "key is needed" in obj["error"]["message"]
    assert obj["system_title"] == "4B414D4500000001" and obj["invocation_counter"] == 42


# -- issue #6: bad arguments are refused before anything starts (one line, exit 2) ---------------------
def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    full = {k: v for k, v in os.environ.items() if k not in ("METERUI_KEY", "METERUI_AUTH_KEY")}
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "meterui", *args],
        capture_output=True,
        cwd=ROOT,
        env=full,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def assert_refused(proc: subprocess.CompletedProcess[bytes], *words: str) -> str:
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert err.count("\n") == 1 and err.startswith("meterui: error:") and "Traceback" not in err, err
    assert proc.stdout == b""
    for word in words:
        assert word in err
    return err


@pytest.fixture
def dead_port() -> Iterator[str]:
    """A pseudo-terminal nobody writes to: a port that opens (nothing may get that far here)."""
    master, slave = os.openpty()
    yield os.ttyname(slave)
    os.close(master)
    os.close(slave)


@pytest.mark.parametrize("target", ["dir", "missing-dir", "not-a-recording"])
def test_monitor_record_target_refused(tmp_path: Path, dead_port: str, target: str) -> None:
    path = {"dir": tmp_path, "missing-dir": tmp_path / "nope" / "x.rec", "not-a-recording": tmp_path / "notes.txt"}[
        target
    ]
    if target == "not-a-recording":
        path.write_text("my notes\n")
    for json_flag in (["--json"], []):
        proc = run_cli("monitor", "--port", dead_port, *json_flag, "--record", str(path), "--key", TEST_KEY_HEX)
        err = assert_refused(proc, "--record", str(path))
        assert_no_key(err, TEST_KEY_HEX)
    if target == "not-a-recording":
        assert path.read_text() == "my notes\n"
    assert not (tmp_path / "nope").exists()


def test_monitor_record_unwritable_file_refused(tmp_path: Path, dead_port: str) -> None:
    # /proc/version cannot be written even by root; a read-only file stands in for non-root users
    path = Path("/proc/version")
    if not path.exists():
        path = tmp_path / "ro.rec"
        path.write_text("# meterui recording v1\n")
        path.chmod(0o444)
    assert_refused(run_cli("monitor", "--port", dead_port, "--json", "--record", str(path)), "cannot record")


def test_check_record_target_creates_nothing(tmp_path: Path) -> None:
    from meterui.sources.recording import check_record_target

    check_record_target(tmp_path / "new.rec")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("baud", ["2147483648", "99999999999999999", "0", "-2400", "49", "4000001"])
def test_monitor_baud_out_of_range_refused(dead_port: str, baud: str) -> None:
    assert_refused(run_cli("monitor", "--port", dead_port, "--json", f"--baud={baud}"), "--baud", "50", "4000000")


@pytest.mark.parametrize("speed", ["nan", "inf", "-inf", "0", "-1", "1e999", "fast"])
def test_replay_bad_speed_refused(tmp_path: Path, speed: str) -> None:
    path = tmp_path / "c.hex"
    path.write_text(encrypted_hdlc(kamstrup_body()).hex())
    assert_refused(run_cli("replay", str(path), f"--speed={speed}", "--key", TEST_KEY_HEX), "--speed")


@pytest.mark.parametrize(
    "speed,value", [("max", float("inf")), ("MAX", float("inf")), ("1", 1.0), ("10x", 10.0), ("0.5", 0.5)]
)
def test_replay_good_speeds_accepted(speed: str, value: float) -> None:
    from meterui.cli import _speed

    assert _speed(speed) == value


@pytest.mark.parametrize(
    "key",
    [
        "0x0x" + TEST_KEY_HEX,
        "00" + "0x" + TEST_KEY_HEX[2:],
        TEST_KEY_HEX[:16] + "0x" + TEST_KEY_HEX[16:],
        "0x" + TEST_KEY_HEX[:30] + "0x0F",
    ],
)
def test_doubled_or_inner_0x_in_key_refused(dead_port: str, key: str) -> None:
    err = assert_refused(run_cli("monitor", "--port", dead_port, "--json", "--key", key), "encryption key")
    assert_no_key(err, TEST_KEY_HEX)


# -- issue #6: an internal error shows one line, logs details without secrets, exits 1 --------------------
def key_forms(key: bytes) -> list[str]:
    return [key.hex(), key.hex().upper(), repr(key), repr(key)[2:-1], key.hex(" "), key.hex(" ").upper()]


def assert_no_key_forms(text: str, *keys: bytes) -> None:
    for key in keys:
        for form in key_forms(key):
            assert form not in text, form
    assert_no_key(text, *(k.hex() for k in keys))


_CRASH_APP = """
import sys
from meterui.app import MeterApp
def boom(self):
    key = self.config.key  # a local holding the key, as in the reported traceback
    auth = self.config.auth_key
    raise RuntimeError(f"forced failure with {key!r} {key.hex()} {auth.hex().upper()}")
MeterApp.action_help = boom
from meterui.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_app_internal_error_one_line_no_key_exit_1(tmp_path: Path) -> None:
    """Through a real pseudo-terminal: an action raises with the key in its locals and its message."""
    import pty
    import select
    import time

    capture = tmp_path / "c.hex"
    capture.write_text(encrypted_hdlc(kamstrup_body()).hex() + "\n")
    pid, fd = pty.fork()
    if pid == 0:  # the child: the app with an action that fails
        os.environ.update(TERM="xterm-256color", PYTHONPATH=str(ROOT), XDG_STATE_HOME=str(tmp_path / "state"))
        os.environ.pop("METERUI_KEY", None)
        os.execv(
            sys.executable,
            [
                sys.executable,
                "-c",
                _CRASH_APP,
                "replay",
                str(capture),
                "--key",
                TEST_KEY_HEX,
                "--auth-key",
                AUTH_KEY_HEX,
            ],
        )
    out = b""

    def read_until(done, seconds: float) -> None:
        nonlocal out
        end = time.monotonic() + seconds
        while not done() and (left := end - time.monotonic()) > 0:
            ready, _, _ = select.select([fd], [], [], min(left, 0.2))
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    return
                if not chunk:
                    return
                out += chunk

    status = None
    try:
        read_until(lambda: b"Quit" in out, 30)  # the first paint
        os.write(fd, b"?")
        end = time.monotonic() + 30
        while status is None and time.monotonic() < end:
            read_until(lambda: False, 0.2)
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = st
                read_until(lambda: False, 0.5)
    finally:
        if status is None:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)
    assert status is not None, "the app did not exit after the internal error"
    text = out.decode("utf-8", "replace")
    assert os.waitstatus_to_exitcode(status) == 1
    assert "meterui: internal error: RuntimeError: forced failure with" in text
    assert "Traceback" not in text and "locals" not in text
    log = tmp_path / "state" / "meterui" / "log" / "crash.log"
    line = (
        "meterui: internal error: RuntimeError: forced failure with <redacted> <redacted> <redacted> "
        f"(details in {log})\r\n"
    )
    assert line in text  # one line, whole
    logged = log.read_text()
    assert "Traceback" in logged and "RuntimeError" in logged and "boom" in logged
    assert_no_key_forms(text + logged, bytes.fromhex(TEST_KEY_HEX), AUTH_KEY)


_CRASH_DECODE = """
import sys
import meterui.render as render
def boom(msg):
    key = bytes.fromhex(sys.argv[-1])
    raise ValueError(f"forced failure with {key!r} {key.hex()} {key.hex(' ').upper()}")
render.RENDERERS["text"] = boom
from meterui.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_cli_internal_error_one_line_no_key_exit_1(tmp_path: Path) -> None:
    capture = tmp_path / "c.bin"
    capture.write_bytes(encrypted_hdlc(kamstrup_body()))
    env = {k: v for k, v in os.environ.items() if k not in ("METERUI_KEY", "METERUI_AUTH_KEY")}
    env.update(XDG_STATE_HOME=str(tmp_path / "state"), PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-c", _CRASH_DECODE, "decode", str(capture), "--key", TEST_KEY_HEX],
        capture_output=True,
        env=env,
        timeout=60,
        cwd=tmp_path,
    )
    err = proc.stderr.decode()
    log = tmp_path / "state" / "meterui" / "log" / "crash.log"
    assert proc.returncode == 1, err
    assert (
        err == f"meterui: internal error: ValueError: forced failure with <redacted> <redacted> <redacted> "
        f"(details in {log})\n"
    )
    logged = log.read_text()
    assert "Traceback" in logged and "boom" in logged
    assert_no_key_forms(err + proc.stdout.decode() + logged, bytes.fromhex(TEST_KEY_HEX))
    assert (log.stat().st_mode & 0o777) == 0o600


def test_redact_every_form_and_key_shaped_hex() -> None:
    from meterui.crash import redact

    key = bytes(range(16))
    for form in key_forms(key):
        assert redact(f"x {form} y", [key]) == "x <redacted> y"
    other = bytes(range(100, 116)).hex()
    assert other not in redact(f"a {other} b")  # anything shaped like a key goes too
    assert redact("system title 4B414D4500000001, 7E A0 E2") == "system title 4B414D4500000001, 7E A0 E2"


# -- issue #6: closed pipes end quietly; a terminal on stdin is told what is read -------------------------
def test_decode_into_a_closed_pipe_ends_quietly(tmp_path: Path, hdlc_frames: list[bytes]) -> None:
    capture = tmp_path / "many.bin"
    capture.write_bytes(b"".join(hdlc_frames) * 400)
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "meterui", "decode", str(capture), "--output", "json"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr.decode()


def test_monitor_json_into_a_closed_pipe_ends_quietly(tmp_path: Path, hdlc_frames: list[bytes]) -> None:
    """``meterui monitor --json | head``: data arrives on a real pty, the reader has gone; the recording
    still holds the bytes read."""
    master, slave = os.openpty()
    read_end, write_end = os.pipe()
    record = tmp_path / "r.rec"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "meterui",
            "monitor",
            "--port",
            os.ttyname(slave),
            "--parity",
            "N",
            "--json",
            "--record",
            str(record),
        ],
        stdout=write_end,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    os.close(write_end)
    try:
        first = b""
        while b"\n" not in first:  # the first JSON line: the monitor runs
            os.write(master, hdlc_frames[0])
            import select

            if select.select([read_end], [], [], 0.5)[0]:
                first += os.read(read_end, 65536)
        os.close(read_end)  # like head after its lines
        for frame in hdlc_frames * 3:
            os.write(master, frame)
            if proc.poll() is not None:
                break
        err = proc.communicate(timeout=30)[1].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
        os.close(slave)
    assert json.loads(first.splitlines()[0])["protocol"] == "hdlc"
    assert proc.returncode == 0 and "Traceback" not in err and "BrokenPipe" not in err, err
    assert record.read_text().startswith("# meterui recording v1") and "7E A0" in record.read_text()


def test_decode_from_a_terminal_says_it_reads_stdin() -> None:
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "meterui", "decode", "--output", "summary"],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline().decode()  # said before waiting for input
        os.write(master, (hdlc_hex := vector_bytes(load_vectors("hdlc")[0]).hex()).encode() + b"\n\x04")
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
        os.close(slave)
    assert "reading" in first and "standard input" in first and "Ctrl-D" in first
    assert hdlc_hex and proc.returncode == 0 and out.decode().startswith("messages=1 ok=1")


def test_decode_from_a_pipe_says_nothing(hdlc_frames: list[bytes]) -> None:
    proc = run_proc("-", "--output", "summary", stdin=hdlc_frames[0])
    assert proc.returncode == 0 and proc.stderr == b""


@pytest.mark.parametrize(("given", "expected"), [(None, "240"), ("30", "30")])
def test_app_commands_raise_textuals_frame_cap_unless_the_user_set_it(
    monkeypatch: pytest.MonkeyPatch, given: str | None, expected: str
) -> None:
    import meterui.launch

    seen: list[str | None] = []

    def fake_launch(args: object, cli_error: object) -> int:
        seen.append(os.environ.get("TEXTUAL_FPS"))
        return 0

    monkeypatch.setenv("TEXTUAL_FPS", given or "unset")  # (so that the test's end restores the variable)
    if given is None:
        monkeypatch.delenv("TEXTUAL_FPS")
    monkeypatch.setattr(meterui.launch, "launch", fake_launch)
    assert main(["demo"]) == 0
    assert seen == [expected]
