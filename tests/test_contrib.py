"""The systemd unit in contrib/ runs a command line that meterui accepts, with the example settings."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from meterui.cli import _parser
from meterui.export.cli import settings_from_args

CONTRIB = Path(__file__).resolve().parents[1] / "contrib"


def _env() -> dict[str, str]:
    env = {}
    for line in (CONTRIB / "meterui.env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name] = value
    return env


def _exec_start() -> list[str]:
    (line,) = [ln for ln in (CONTRIB / "meterui.service").read_text().splitlines() if ln.startswith("ExecStart=")]
    env = _env()
    words: list[str] = []
    for word in shlex.split(line.removeprefix("ExecStart=")):
        if m := re.fullmatch(r"\$\{(\w+)\}", word):  # systemd: ${VAR} is one word
            words.append(env[m.group(1)])
        elif m := re.fullmatch(r"\$(\w+)", word):  # $VAR splits at whitespace
            words += env[m.group(1)].split()
        else:
            words.append(word)
    return words


def test_unit_runs_monitor_headless_with_mqtt() -> None:
    words = _exec_start()
    assert words[0].endswith("/meterui")
    args = _parser().parse_args(words[1:])
    assert args.command == "monitor" and args.headless
    assert args.port.startswith("/dev/serial/by-id/")
    assert (args.baud, args.parity, args.mqtt_interval) == (2400, "E", 10.0)
    settings = settings_from_args(args)
    assert settings is not None and settings.username == "meterui" and settings.base_topic == "meterui"


def test_unit_keeps_secrets_in_the_environment_file() -> None:
    unit = (CONTRIB / "meterui.service").read_text()
    assert "EnvironmentFile=/etc/meterui/meterui.env" in unit
    assert "--key" not in unit and "PASSWORD" not in unit
    assert "RestartPreventExitStatus=2" in unit and "Restart=on-failure" in unit
