"""User configuration: the serial settings, meter preset and keys, stored as TOML.

The file lives in the platform config directory (``platformdirs.user_config_dir("meterui")``) unless
``METERUI_CONFIG`` names another path. It may hold AES keys, so it is written with mode 0600 from the
start (never created readable and tightened afterwards) and replaced atomically. UI-free.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from meterui.protocol.errors import KeyFormatError
from meterui.protocol.keys import mask_key, parse_key

ENV_VAR = "METERUI_CONFIG"
PARITIES = ("N", "E", "O", "M", "S")
BYTESIZES = (5, 6, 7, 8)
STOPBITS = (1, 1.5, 2)


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

    def describe_serial(self) -> str:
        """Line settings in the usual short form, e.g. ``2400 8E1``."""
        from meterui.sources.base import line_settings

        return line_settings(self.baudrate, self.bytesize, self.parity, self.stopbits)

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            shown = mask_key(value) if f.name in ("key", "auth_key") else repr(value)
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
        if baudrate <= 0:
            raise ValueError("serial.baudrate must be positive")
        cfg.baudrate = baudrate
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
    return cfg


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
    lines += ["", "[display]", f"invert_deviation = {'true' if cfg.invert_deviation else 'false'}", ""]
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
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
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
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise ConfigError(f"{path}: cannot save: {exc.strerror or exc}") from exc
    return path
