"""Config: TOML round-trip, 0600 permissions from the start, readable errors, keys kept out of repr."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from meterui.config import Config, ConfigError, config_path, dumps, load_config, save_config

KEY = bytes(range(16))
AUTH = bytes(range(16, 32))


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_round_trip(tmp_path: Path) -> None:
    cfg = Config(
        port='/dev/serial/by-id/usb-"odd"\\name',
        baudrate=115200,
        parity="N",
        bytesize=8,
        stopbits=1.5,
        preset="kaifa-ma309",
        key=KEY,
        auth_key=AUTH,
        invert_deviation=True,
    )
    path = save_config(cfg, tmp_path / "config.toml")
    assert load_config(path) == cfg


def test_defaults_round_trip_and_none_fields_left_out(tmp_path: Path) -> None:
    path = save_config(Config(), tmp_path / "c.toml")
    text = path.read_text()
    assert "port =" not in text and "key =" not in text and "preset =" not in text
    assert load_config(path) == Config()


def test_absent_file_is_none(tmp_path: Path) -> None:
    assert load_config(tmp_path / "missing.toml") is None


def test_env_var_overrides_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "sub" / "dir" / "meterui.toml"
    monkeypatch.setenv("METERUI_CONFIG", str(target))
    assert config_path() == target
    assert save_config(Config(port="/dev/ttyUSB0")) == target
    loaded = load_config()
    assert loaded is not None and loaded.port == "/dev/ttyUSB0"


def test_default_path_is_in_the_platform_config_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("METERUI_CONFIG", raising=False)
    path = config_path()
    assert path.name == "config.toml"
    assert path.parent.name.lower() == "meterui"


def test_new_file_is_0600(tmp_path: Path) -> None:
    old = os.umask(0o000)  # even with a permissive umask
    try:
        path = save_config(Config(key=KEY), tmp_path / "config.toml")
    finally:
        os.umask(old)
    assert mode(path) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name != "config.toml"], "temp file left behind"


def test_existing_0644_file_ends_0600(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[serial]\nbaudrate = 9600\n")
    os.chmod(path, 0o644)
    assert mode(path) == 0o644
    save_config(Config(key=KEY), path)
    assert mode(path) == 0o600
    loaded = load_config(path)
    assert loaded is not None and loaded.key == KEY


def test_parent_dir_created_private(tmp_path: Path) -> None:
    path = save_config(Config(), tmp_path / "new" / "config.toml")
    assert mode(path.parent) & 0o077 == 0


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[serial\nbaudrate = \n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "broken.toml" in message and "invalid TOML" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[serial]\nbaudrate = "fast"\n', "serial.baudrate"),
        ('[serial]\nparity = "X"\n', "serial.parity"),
        ("[serial]\nstopbits = 3\n", "serial.stopbits"),
        ("[serial]\nbytesize = 9\n", "serial.bytesize"),
        ("[display]\ninvert_deviation = 1\n", "display.invert_deviation"),
        ("serial = 5\n", "[serial]"),
        ('[meter]\nkey = "00112233"\n', "meter.key"),
    ],
)
def test_bad_values_name_file_and_field(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "config.toml" in str(info.value) and problem in str(info.value)


def test_bad_key_error_does_not_echo_the_key(tmp_path: Path) -> None:
    secret = "DEADBEEFDEADBEEFDEADBEEFDEADBEEFAA"  # 34 digits: wrong length
    path = tmp_path / "config.toml"
    path.write_text(f'[meter]\nkey = "{secret}"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert secret not in str(info.value) and "DEADBEEF" not in str(info.value)


def test_keys_never_in_repr() -> None:
    cfg = Config(key=KEY, auth_key=AUTH)
    for text in (repr(cfg), str(cfg), f"{cfg}"):
        assert KEY.hex() not in text.lower() and AUTH.hex() not in text.lower()
        assert "(set)" in text
    assert "(none)" in repr(Config())


def test_keys_stored_as_hex_strings(tmp_path: Path) -> None:
    text = dumps(Config(key=KEY))
    assert f'key = "{KEY.hex().upper()}"' in text


def test_key_with_separators_accepted(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[meter]\nkey = "' + KEY.hex(":") + '"\n')
    loaded = load_config(path)
    assert loaded is not None and loaded.key == KEY


def test_describe_serial() -> None:
    assert Config().describe_serial() == "2400 8E1"
    assert Config(baudrate=115200, parity="N", stopbits=2).describe_serial() == "115200 8N2"
    assert Config(baudrate=9600, parity="O", bytesize=7, stopbits=1.5).describe_serial() == "9600 7O1.5"


@pytest.mark.parametrize("baud", ["99999999999999999", "2147483648", "4000001", "49", "0", "-9600"])
def test_baudrate_out_of_range_refused(tmp_path: Path, baud: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[serial]\nbaudrate = {baud}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "config.toml" in message and "serial.baudrate" in message and "50" in message and "4000000" in message
    assert "\n" not in message


@pytest.mark.parametrize("baud", [50, 300, 2400, 115200, 921600, 4_000_000])
def test_baudrate_in_range_accepted(tmp_path: Path, baud: int) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[serial]\nbaudrate = {baud}\n")
    cfg = load_config(path)
    assert cfg is not None and cfg.baudrate == baud


def test_a_saved_out_of_range_baudrate_makes_the_app_refuse_to_start(tmp_path: Path) -> None:
    """The config as the app reads it: one line naming the file, exit 2, no traceback."""
    import subprocess
    import sys

    path = tmp_path / "config.toml"
    path.write_text('[serial]\nport = "/dev/ttyUSB0"\nbaudrate = 99999999999999999\n')
    env = {**os.environ, "METERUI_CONFIG": str(path)}
    proc = subprocess.run(
        [sys.executable, "-m", "meterui"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        stdin=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "serial.baudrate" in proc.stderr, proc.stderr


def test_saves_at_once_from_several_threads_all_succeed_and_leave_one_whole_file(tmp_path: Path) -> None:
    # the wizard saves in a worker: a save pressed twice ran two at once, and the second failed on (and
    # deleted) the first one's temporary file
    import threading

    path = tmp_path / "config.toml"
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def save(n: int) -> None:
        start.wait()
        try:
            for _ in range(20):
                save_config(Config(port=f"/dev/ttyUSB{n}", key=KEY), path)
        except BaseException as exc:  # collected: the test fails with what went wrong
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    cfg = load_config(path)
    assert cfg is not None and cfg.port is not None and cfg.port.startswith("/dev/ttyUSB") and cfg.key == KEY
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]  # no temporary file left behind
    assert path.stat().st_mode & 0o777 == 0o600
