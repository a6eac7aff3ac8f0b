"""The config file's [mqtt] section: round trip, mode 0600, and the password never shown."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from meterui.config import Config, ConfigError, dumps, load_config, save_config
from meterui.export.cli import settings_from_config


def test_mqtt_section_round_trips_in_a_private_file(tmp_path: Path) -> None:
    cfg = Config(
        port="/dev/ttyUSB0",
        mqtt_url="mqtt://ha:hunter2@broker.lan/home/meter",
        mqtt_interval=10.0,
        mqtt_qos=1,
        mqtt_discovery_prefix="ha",
    )
    path = save_config(cfg, tmp_path / "config.toml")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_config(path)
    assert loaded is not None
    assert (loaded.mqtt_url, loaded.mqtt_interval, loaded.mqtt_qos, loaded.mqtt_discovery_prefix) == (
        "mqtt://ha:hunter2@broker.lan/home/meter",
        10.0,
        1,
        "ha",
    )
    assert "hunter2" not in repr(loaded) and "mqtt://ha:***@broker.lan/home/meter" in repr(loaded)
    settings = settings_from_config(loaded)
    assert settings is not None
    assert (settings.host, settings.password, settings.base_topic, settings.interval, settings.qos) == (
        "broker.lan",
        "hunter2",
        "home/meter",
        10.0,
        1,
    )
    assert "hunter2" not in repr(settings)


def test_no_mqtt_section_without_a_url(tmp_path: Path) -> None:
    assert "[mqtt]" not in dumps(Config(port="/dev/ttyUSB0"))
    path = save_config(Config(port="/dev/ttyUSB0"), tmp_path / "c.toml")
    loaded = load_config(path)
    assert loaded is not None and loaded.mqtt_url is None and settings_from_config(loaded) is None


@pytest.mark.parametrize(
    ("section", "words"),
    [
        ('url = "http://u:hunter2@h"', "mqtt:// or mqtts://"),
        ('url = "mqtt://u:hunter2@h"\nqos = 5', "QoS"),
        ('url = "mqtt://u:hunter2@h"\ninterval = "often"', "mqtt.interval must be"),
        ("url = 3", "mqtt.url must be a string"),
    ],
)
def test_bad_mqtt_section_is_a_one_line_error_without_the_password(tmp_path: Path, section: str, words: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[serial]\nport = "/dev/ttyUSB0"\n\n[mqtt]\n{section}\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert words in text and "hunter2" not in text and "\n" not in text
