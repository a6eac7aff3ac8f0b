"""User configuration: the serial settings, meter preset and keys, stored as TOML.

The file lives in the platform config directory (``platformdirs.user_config_dir("meterui")``) unless
``METERUI_CONFIG`` names another path. It may hold AES keys, so it is written with mode 0600 from the
start (never created readable and tightened afterwards) and replaced atomically. UI-free.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass, field, fields
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from meterui.protocol.errors import KeyFormatError
from meterui.protocol.keys import mask_key, parse_key

if TYPE_CHECKING:
    from meterui.protocol.lists import MeterProfile

ENV_VAR = "METERUI_CONFIG"
PARITIES = ("N", "E", "O", "M", "S")
BYTESIZES = (5, 6, 7, 8)
STOPBITS = (1, 1.5, 2)
BAUD_MIN = 50
BAUD_MAX = 4_000_000
"""Baud rates accepted: pyserial's standard rates from 50 up, and anything else up to 4 Mbaud."""


class ConfigError(Exception):
    """The config file cannot be read or holds invalid values (one-line message naming the file)."""


@dataclass(repr=False)
class Config:
    """What the user chose: port and line settings, meter preset, keys and display options."""

    port: str | None = None
    baudrate: int = 2400
    parity: str = "E"
    bytesize: int = 8
    stopbits: float = 1
    preset: str | None = None
    key: bytes | None = field(default=None, repr=False)
    auth_key: bytes | None = field(default=None, repr=False)
    invert_deviation: bool = False
    scale: str = ""
    """Per-installation scaling override, e.g. ``energy=0.1`` (``lists.parse_scale``); empty: none."""
    timezone: str = "system"
    """IANA zone for meter clocks whose deviation is "not specified"; ``system``: the machine's zone."""
    broute_scan: str | None = None
    """The last B-route scan result (``PanDescriptor.to_config()``), so later starts skip the scan."""
    broute_id: str | None = field(default=None, repr=False)
    """B-route ID (32 characters, ``[broute] id``); masked in repr, the file is 0600."""
    broute_password: str | None = field(default=None, repr=False)
    """B-route password (12 characters, ``[broute] password``); masked in repr."""
    # [mqtt] (issue #11): where the exporter publishes; the URL may hold a password (masked in repr)
    mqtt_url: str | None = field(default=None, repr=False)
    mqtt_ca_file: str | None = None
    mqtt_discovery_prefix: str | None = "homeassistant"
    mqtt_interval: float = 0.0
    mqtt_qos: int = 0

    def describe_serial(self) -> str:
        """Line settings in the usual short form, e.g. ``2400 8E1``."""
        from meterui.sources.base import line_settings

        return line_settings(self.baudrate, self.bytesize, self.parity, self.stopbits)

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            shown = mask_key(value) if f.name in ("key", "auth_key") else repr(value)
            if f.name in ("broute_id", "broute_password") and value:
                shown = f"<{len(value)} characters hidden>"
            if f.name == "mqtt_url" and value:
                from meterui.export.url import mask_url

                shown = repr(mask_url(value))
            parts.append(f"{f.name}={shown}")
        return f"Config({', '.join(parts)})"

    __str__ = __repr__


def config_path() -> Path:
    """Where the config lives: ``$METERUI_CONFIG`` if set, else ``<user config dir>/config.toml``."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser()
    import platformdirs  # only when the default location is needed

    return Path(platformdirs.user_config_dir("meterui")) / "config.toml"


def check_baudrate(value: object, name: str = "baudrate") -> int:
    """``value`` as a baud rate; ``ValueError`` (one line naming ``name``) outside 50..4000000."""
    if not isinstance(value, int) or isinstance(value, bool) or not BAUD_MIN <= value <= BAUD_MAX:
        shown = str(value) if len(str(value)) <= 20 else str(value)[:20] + "…"
        raise ValueError(f"{name} must be a whole number from {BAUD_MIN} to {BAUD_MAX}; got {shown}")
    return value


# -- loading ---------------------------------------------------------------------------------------
def load_config(path: Path | None = None) -> Config | None:
    """Read the config; ``None`` when the file does not exist.

    Raises :class:`ConfigError` (one line, naming the file, never echoing a key) when the file is
    unreadable, not TOML, or holds a value of the wrong type.
    """
    import tomllib

    path = config_path() if path is None else Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {' '.join(str(exc).split())}") from exc
    try:
        return _from_dict(data)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def _table(data: dict[str, Any], name: str) -> dict[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise ValueError(f"[{name}] must be a table")
    return table


def _get(table: dict[str, Any], section: str, key: str, types: tuple[type, ...]) -> Any:
    value = table.get(key)
    if value is None:
        return None
    # bool is an int in Python but not in TOML's eyes
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        names = " or ".join(t.__name__.replace("str", "string").replace("bool", "boolean") for t in types)
        raise ValueError(f"{section}.{key} must be a {names}")
    return value


def _from_dict(data: dict[str, Any]) -> Config:
    serial = _table(data, "serial")
    meter = _table(data, "meter")
    display = _table(data, "display")
    cfg = Config()
    port = _get(serial, "serial", "port", (str,))
    cfg.port = port or None
    baudrate = _get(serial, "serial", "baudrate", (int,))
    if baudrate is not None:
        cfg.baudrate = check_baudrate(baudrate, "serial.baudrate")
    parity = _get(serial, "serial", "parity", (str,))
    if parity is not None:
        if parity.upper() not in PARITIES:
            raise ValueError(f"serial.parity must be one of {', '.join(PARITIES)}")
        cfg.parity = parity.upper()
    bytesize = _get(serial, "serial", "bytesize", (int,))
    if bytesize is not None:
        if bytesize not in BYTESIZES:
            raise ValueError("serial.bytesize must be 5, 6, 7 or 8")
        cfg.bytesize = bytesize
    stopbits = _get(serial, "serial", "stopbits", (int, float))
    if stopbits is not None:
        if stopbits not in STOPBITS:
            raise ValueError("serial.stopbits must be 1, 1.5 or 2")
        cfg.stopbits = stopbits
    preset = _get(meter, "meter", "preset", (str,))
    cfg.preset = preset or None
    for name, what in (("key", "key"), ("auth_key", "authentication key")):
        text = _get(meter, "meter", name, (str,))
        try:
            setattr(cfg, name, parse_key(text, what))
        except KeyFormatError as exc:  # its message never contains the key
            raise ValueError(f"meter.{name}: {exc.message}") from exc
    invert = _get(display, "display", "invert_deviation", (bool,))
    if invert is not None:
        cfg.invert_deviation = invert
    scale = _get(meter, "meter", "scale", (str,))
    if scale is not None:
        try:
            meter_profile(scale, None)
        except ValueError as exc:
            raise ValueError(f"meter.scale: {exc}") from None
        cfg.scale = scale
    zone = _get(display, "display", "timezone", (str,))
    if zone is not None:
        try:
            resolve_timezone(zone)
        except ValueError as exc:
            raise ValueError(f"display.timezone: {exc}") from None
        cfg.timezone = zone
    broute = _table(data, "broute")
    for key, name, check in (("id", "broute_id", "validate_id"), ("password", "broute_password", "validate_password")):
        text = _get(broute, "broute", key, (str,))
        if text:
            from meterui.broute import credentials

            try:  # the message never contains the value
                setattr(cfg, name, getattr(credentials, check)(text))
            except credentials.CredentialError as exc:
                raise ValueError(f"broute.{key}: {exc}") from None
    scan = _get(broute, "broute", "scan", (str,))
    if scan:
        from meterui.broute.commands import PanDescriptor

        if PanDescriptor.from_config(scan) is None:
            raise ValueError("broute.scan must be 'channel pan_id addr lqi' in hex (delete it to scan again)")
        cfg.broute_scan = scan
    _mqtt_from_dict(_table(data, "mqtt"), cfg)
    return cfg


# -- meter profile (scaling override, time zone) ----------------------------------------------------
def resolve_timezone(name: str | None) -> tzinfo | None:
    """An IANA zone by name; ``system`` (or empty) → the machine's zone; ``None`` → no zone.

    Raises ValueError (one line) for an unknown name."""
    if name is None:
        return None
    name = name.strip()
    if name in ("", "system"):
        return system_timezone()
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Oslo)") from None


def system_timezone() -> tzinfo:
    """The machine's zone: ``$TZ``, else ``/etc/localtime``'s zone name, else its current fixed offset."""
    from datetime import datetime
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    candidates = [os.environ.get("TZ", "").lstrip(":")]
    with contextlib.suppress(OSError):
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    for cand in candidates:
        if cand:
            with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
                return ZoneInfo(cand)
    return datetime.now().astimezone().tzinfo or ZoneInfo("UTC")


def meter_profile(scale: str | None, timezone: str | None) -> MeterProfile | None:
    """The decoder's :class:`~meterui.protocol.lists.MeterProfile` for a scale text and a zone name
    (the CLI, the config and the setup wizard call this); ``None`` when neither is set.

    Raises ValueError (one line) for a malformed scale or an unknown zone."""
    from meterui.protocol.lists import MeterProfile, parse_scale

    groups = parse_scale(scale) if scale else {}
    tz = resolve_timezone(timezone)
    if not groups and tz is None:
        return None
    return MeterProfile(groups, tz)


def _mqtt_from_dict(mqtt: dict[str, Any], cfg: Config) -> None:
    """The [mqtt] section (issue #11), checked as ``--mqtt`` would be; errors never quote the password."""
    from meterui.export.url import MqttConfigError, parse_mqtt_url

    url = _get(mqtt, "mqtt", "url", (str,)) or None
    ca_file = _get(mqtt, "mqtt", "ca_file", (str,)) or None
    prefix = _get(mqtt, "mqtt", "discovery_prefix", (str,))
    interval = _get(mqtt, "mqtt", "interval", (int, float))
    qos = _get(mqtt, "mqtt", "qos", (int,))
    cfg.mqtt_url, cfg.mqtt_ca_file = url, ca_file
    if prefix is not None:
        cfg.mqtt_discovery_prefix = prefix or None
    cfg.mqtt_interval = float(interval) if interval is not None else 0.0
    cfg.mqtt_qos = qos if qos is not None else 0
    if url is not None:
        try:
            parse_mqtt_url(
                url,
                discovery_prefix=cfg.mqtt_discovery_prefix,
                interval=cfg.mqtt_interval,
                qos=cfg.mqtt_qos,
                environ={},
            )
        except MqttConfigError as exc:
            raise ValueError(f"mqtt: {exc}") from exc


# -- saving ----------------------------------------------------------------------------------------
def _toml_string(text: str) -> str:
    out = []
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def dumps(cfg: Config) -> str:
    """The TOML text for ``cfg`` (keys as hex strings; ``None`` values left out)."""
    lines = ["# meterui configuration (holds AES keys: keep it private, mode 0600)", "", "[serial]"]
    if cfg.port is not None:
        lines.append(f"port = {_toml_string(cfg.port)}")
    stop = int(cfg.stopbits) if float(cfg.stopbits).is_integer() else float(cfg.stopbits)
    lines += [
        f"baudrate = {int(cfg.baudrate)}",
        f"parity = {_toml_string(cfg.parity)}",
        f"bytesize = {int(cfg.bytesize)}",
        f"stopbits = {stop}",
        "",
        "[meter]",
    ]
    if cfg.preset is not None:
        lines.append(f"preset = {_toml_string(cfg.preset)}")
    if cfg.key:
        lines.append(f'key = "{cfg.key.hex().upper()}"')
    if cfg.auth_key:
        lines.append(f'auth_key = "{cfg.auth_key.hex().upper()}"')
    if cfg.scale:
        lines.append(f"scale = {_toml_string(cfg.scale)}")
    lines += ["", "[display]", f"invert_deviation = {'true' if cfg.invert_deviation else 'false'}"]
    if cfg.timezone != "system":
        lines.append(f"timezone = {_toml_string(cfg.timezone)}")
    lines.append("")
    if cfg.broute_scan or cfg.broute_id or cfg.broute_password:  # the file is 0600: the credentials stay private
        lines.append("[broute]")
        for key, value in (("id", cfg.broute_id), ("password", cfg.broute_password), ("scan", cfg.broute_scan)):
            if value:
                lines.append(f"{key} = {_toml_string(value)}")
        lines.append("")
    if cfg.mqtt_url:  # [mqtt] (issue #11): the file is 0600, so a password in the URL stays private
        lines += ["[mqtt]", f"url = {_toml_string(cfg.mqtt_url)}"]
        if cfg.mqtt_ca_file:
            lines.append(f"ca_file = {_toml_string(cfg.mqtt_ca_file)}")
        lines += [
            f"discovery_prefix = {_toml_string(cfg.mqtt_discovery_prefix or '')}",
            f"interval = {float(cfg.mqtt_interval)!r}",
            f"qos = {int(cfg.mqtt_qos)}",
            "",
        ]
    return "\n".join(lines)


def save_config(cfg: Config, path: Path | None = None) -> Path:
    """Write ``cfg`` atomically with mode 0600 and return the path.

    The data goes to a temporary file in the same directory, created 0600 from the start, which then
    replaces the target: the result is 0600 even when the old file was wider, and a crash never leaves
    a half-written config. The parent directory is created with mode 0700 when missing.
    """
    path = config_path() if path is None else Path(path)
    text = dumps(cfg)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot create {path.parent}: {exc.strerror or exc}") from exc
    tmp: Path | None = None
    try:
        # a name of its own (mkstemp: O_EXCL, mode 0600): two saves at once, e.g. the wizard's save pressed twice,
        # each write and replace their own file instead of failing on (or deleting) the other's
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        tmp = Path(name)
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o600)  # the umask can only narrow it; make it exact
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                fd = -1
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
        finally:
            if fd != -1:
                os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise ConfigError(f"{path}: cannot save: {exc.strerror or exc}") from exc
    return path
