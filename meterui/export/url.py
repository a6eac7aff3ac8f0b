"""``mqtt://[user[:password]@]host[:port][/base-topic]`` (and ``mqtts://``) into :class:`MqttSettings`.

The password may come from ``METERUI_MQTT_PASSWORD`` instead of the URL. It is never part of an error
message, a ``repr`` or a log line: :func:`mask_url` gives the form that may be shown.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

PASSWORD_ENV = "METERUI_MQTT_PASSWORD"
DEFAULT_BASE = "meterui"
DEFAULT_DISCOVERY_PREFIX = "homeassistant"
DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
QOS_LEVELS = (0, 1, 2)


class MqttConfigError(ValueError):
    """A fatal misconfiguration of the exporter (one line, never holding the password)."""


@dataclass(frozen=True)
class MqttSettings:
    """Where and how to publish."""

    host: str
    port: int = 1883
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    base_topic: str = DEFAULT_BASE
    ca_file: str | None = None
    discovery_prefix: str | None = DEFAULT_DISCOVERY_PREFIX
    """``None`` turns Home Assistant discovery off."""
    interval: float = 0.0
    """At most one state per meter every ``interval`` seconds (0: every message)."""
    qos: int = 0

    def describe(self) -> str:
        """``mqtt://user@host:port/base`` without the password, for logs and the health strip."""
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}/{self.base_topic}"

    def __repr__(self) -> str:
        secret = "set" if self.password else "none"
        return (
            f"MqttSettings({self.describe()}, password={secret}, ca_file={self.ca_file!r}, "
            f"discovery_prefix={self.discovery_prefix!r}, interval={self.interval!r}, qos={self.qos})"
        )

    __str__ = __repr__

    def same_broker(self, other: MqttSettings | None) -> bool:
        """Whether ``other`` publishes to the same broker, as the same user, under the same base topic (so the
        ``BASE/status`` topic this one set ``online`` stays the one to watch)."""
        return other is not None and (self.host, self.port, self.tls, self.username, self.base_topic) == (
            other.host,
            other.port,
            other.tls,
            other.username,
            other.base_topic,
        )


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe to print)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(invalid URL)"
    if parts.password is None:
        return url
    netloc = parts.netloc
    at = netloc.rfind("@")
    userinfo, hostport = netloc[:at], netloc[at + 1 :]
    user = userinfo.split(":", 1)[0]
    return parts._replace(netloc=f"{user}:***@{hostport}").geturl()


def _topic_part(text: str, what: str) -> str:
    text = text.strip("/")
    if not text:
        raise MqttConfigError(f"the {what} is empty")
    if any(ch in text for ch in "+#\0") or "//" in text:
        raise MqttConfigError(f"the {what} {text!r} must not contain '+', '#', NUL or an empty level")
    return text


def parse_mqtt_url(
    url: str,
    *,
    ca_file: str | None = None,
    discovery_prefix: str | None = DEFAULT_DISCOVERY_PREFIX,
    interval: float = 0.0,
    qos: int = 0,
    environ: dict[str, str] | None = None,
) -> MqttSettings:
    """Parse and check everything; raise :class:`MqttConfigError` for anything that cannot work."""
    env = os.environ if environ is None else environ
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        # urllib's messages may quote the netloc (and so the password): keep only its kind
        kind = "port" if "port" in str(exc).lower() else "syntax"
        raise MqttConfigError(f"invalid MQTT URL {mask_url(url)!r}: bad {kind}") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise MqttConfigError(f"the MQTT URL must start with mqtt:// or mqtts:// (got {mask_url(url)!r})")
    host = parts.hostname
    if not host:
        raise MqttConfigError(f"the MQTT URL {mask_url(url)!r} names no host")
    if parts.query or parts.fragment:
        raise MqttConfigError(f"the MQTT URL {mask_url(url)!r} must not have a query or fragment")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is None:
        password = env.get(PASSWORD_ENV) or None
    if password is not None and username is None:
        raise MqttConfigError(f"an MQTT password needs a user name (mqtt://user@{host}/…)")
    base = _topic_part(unquote(parts.path), "base topic") if parts.path.strip("/") else DEFAULT_BASE
    tls = scheme == "mqtts"
    if ca_file is not None:
        if not tls:
            raise MqttConfigError("a CA file needs an mqtts:// URL")
        if not Path(ca_file).is_file():
            raise MqttConfigError(f"{ca_file}: CA file not found")
    prefix = _topic_part(discovery_prefix, "discovery prefix") if discovery_prefix else None
    if not (interval >= 0 and interval < float("inf")):
        raise MqttConfigError("the MQTT interval must be 0 or a positive number of seconds")
    if qos not in QOS_LEVELS:
        raise MqttConfigError("the MQTT QoS must be 0, 1 or 2")
    return MqttSettings(
        host=host,
        port=port or DEFAULT_PORTS[scheme],
        tls=tls,
        username=username,
        password=password,
        base_topic=base,
        ca_file=ca_file,
        discovery_prefix=prefix,
        interval=float(interval),
        qos=qos,
    )
