"""Command-line glue for the exporter: the ``--mqtt*`` and ``--headless`` flags, and service-mode logging.

Kept free of paho imports until an exporter is really built, so ``meterui --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TextIO

from meterui.export.url import DEFAULT_DISCOVERY_PREFIX, PASSWORD_ENV, MqttConfigError, MqttSettings, parse_mqtt_url

if TYPE_CHECKING:
    from meterui.config import Config
    from meterui.export.mqtt import MqttExporter
    from meterui.pipeline import Pipeline, PipelineStats
    from meterui.protocol.message import Message
    from meterui.sinks.base import PipelineEvent

FLUSH_SECONDS = 10.0
"""How long a finished headless replay waits for the broker to take what is queued."""


def _interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be 0 or a positive number of seconds")
    return value


def add_mqtt_arguments(parser: argparse.ArgumentParser) -> None:
    """``--headless`` and the ``--mqtt*`` options, for ``monitor`` and ``replay``."""
    g = parser.add_argument_group("publishing (MQTT, Home Assistant, Domoticz)")
    g.add_argument(
        "--headless",
        action="store_true",
        help="no UI and no JSON on stdout: one log line per event on stderr (service mode)",
    )
    g.add_argument(
        "--mqtt",
        metavar="URL",
        help="publish to mqtt://[user[:password]@]host[:port][/base-topic] or mqtts://…; the "
        f"password may come from ${PASSWORD_ENV} instead",
    )
    g.add_argument("--mqtt-ca", metavar="FILE", help="CA certificate file for mqtts:// (default: the system's)")
    g.add_argument(
        "--mqtt-discovery-prefix",
        metavar="PREFIX",
        default=DEFAULT_DISCOVERY_PREFIX,
        help="Home Assistant discovery prefix (default homeassistant; 'none' to send no discovery)",
    )
    g.add_argument(
        "--mqtt-interval",
        metavar="SECONDS",
        type=_interval,
        default=0.0,
        help="publish at most one state per meter every SECONDS (default 0: every message)",
    )
    g.add_argument("--mqtt-qos", type=int, choices=[0, 1, 2], default=0, help="MQTT QoS for states (default 0)")


def settings_from_args(args: argparse.Namespace) -> MqttSettings | None:
    """The exporter's settings, ``None`` without ``--mqtt``; :class:`MqttConfigError` when they cannot work."""
    url = getattr(args, "mqtt", None)
    if not url:
        return None
    prefix = args.mqtt_discovery_prefix
    if prefix is not None and prefix.strip().lower() in ("", "none", "off"):
        prefix = None
    return parse_mqtt_url(
        url, ca_file=args.mqtt_ca, discovery_prefix=prefix, interval=args.mqtt_interval, qos=args.mqtt_qos
    )


def start_exporter(
    args: argparse.Namespace, cli_error: type[Exception], log: Callable[[str], None] | None = None
) -> MqttExporter | None:
    """Build and start the exporter from the flags (a one-line ``cli_error`` for a bad setting)."""
    try:
        settings = settings_from_args(args)
    except MqttConfigError as exc:
        raise cli_error(f"--mqtt: {exc}") from None
    return started_exporter(settings, log) if settings is not None else None


def started_exporter(settings: MqttSettings, log: Callable[[str], None] | None = None) -> MqttExporter:
    """An exporter for ``settings``, started (it connects in the background). Raises what building it raises
    (``OSError``, ``ssl.SSLError`` for an unreadable CA file)."""
    from meterui.export.mqtt import MqttExporter

    exporter = MqttExporter(settings, log=log)
    exporter.start()
    return exporter


def config_mqtt(cfg: Config | None) -> tuple[object, ...] | None:
    """The config's [mqtt] section as a value to compare (``None`` without a URL): a change means a new
    exporter."""
    if cfg is None or not cfg.mqtt_url:
        return None
    return (cfg.mqtt_url, cfg.mqtt_ca_file, cfg.mqtt_discovery_prefix, cfg.mqtt_interval, cfg.mqtt_qos)


class ServiceLog:
    """Service-mode logging: one line on stderr per change (port up or down, errors, key problems)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self._connected: bool | None = None
        self._error: str | None = None
        self._crypto = 0

    def __call__(self, line: str) -> None:
        stream = self.stream or sys.stderr
        stream.write(f"meterui: {line}\n")
        stream.flush()

    def stats(self, stats: PipelineStats) -> None:
        """Log what changed since the last snapshot."""
        if stats.connected != self._connected and not stats.finished:
            self(f"{stats.source}: {'connected' if stats.connected else 'disconnected'}")
            self._connected = stats.connected
        if stats.last_error and stats.last_error != self._error:
            self(stats.last_error)
        self._error = stats.last_error
        if stats.decrypt_failures > self._crypto:
            if self._crypto == 0:
                self(f"{stats.decrypt_failures} message(s) failed to decrypt or authenticate: check the key(s)")
            self._crypto = stats.decrypt_failures

    def event(self, event: PipelineEvent) -> None:
        """A B-route session's steps (scanning, joined, expired…) and sink failures; the port's own
        changes come through :meth:`stats` once each."""
        if event.kind in ("session", "sink"):
            self(" ".join(event.text.split()))

    def finished(self, stats: PipelineStats, exporter: MqttExporter | None) -> None:
        self(f"{stats.source}: finished, {stats.frames_ok} message(s) ok, {stats.frames_bad} failed")
        if exporter is not None:
            if exporter.status().state in ("connected", "connecting"):
                exporter.flush(FLUSH_SECONDS)
            self(exporter.status().describe())


def run_service(
    pipeline: Pipeline, args: argparse.Namespace, cli_error: type[Exception], log: ServiceLog | None = None
) -> int:
    """``--headless``: run ``pipeline`` with no UI and no stdout, feeding the exporter, until it ends.

    Ends at the end of a replay, on SIGTERM or Ctrl-C; publishes ``offline`` on the way out. Exit 0; a
    bad ``--mqtt`` setting is a ``cli_error`` before anything starts.
    """
    import signal

    log = log or ServiceLog()
    stopped = [False]

    def stop(*_: object) -> None:
        stopped[0] = True
        pipeline.stop()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        exporter = start_exporter(args, cli_error, log)
    except BaseException:
        signal.signal(signal.SIGTERM, previous)
        raise
    last: list[PipelineStats] = []

    def on_messages(messages: list[Message], stats: PipelineStats) -> None:
        log.stats(stats)
        if exporter is not None:
            exporter.on_messages(messages, stats)
        last[:] = [stats]

    class _SessionLog:
        name = "service log"

        def on_messages(self, messages: Sequence[Message], stats: PipelineStats) -> None:
            pass

        def on_event(self, event: PipelineEvent) -> None:
            assert log is not None
            log.event(event)

        def close(self) -> None:
            pass

    try:
        if not stopped[0]:
            pipeline.run(on_messages, lambda: stopped[0], sinks=[_SessionLog()])
    except KeyboardInterrupt:
        pipeline.stop()
    finally:
        signal.signal(signal.SIGTERM, previous)
        if last:
            log.finished(last[-1], exporter)
        if exporter is not None:
            exporter.close()
    return 0


def settings_from_config(cfg: Config) -> MqttSettings | None:
    """The exporter's settings from the config's [mqtt] section (``None`` when it has no URL)."""
    if not cfg.mqtt_url:
        return None
    return parse_mqtt_url(
        cfg.mqtt_url,
        ca_file=cfg.mqtt_ca_file,
        discovery_prefix=cfg.mqtt_discovery_prefix,
        interval=cfg.mqtt_interval,
        qos=cfg.mqtt_qos,
    )


def exporter_from_config(
    cfg: Config | None, cli_error: type[Exception], log: Callable[[str], None] | None = None
) -> MqttExporter | None:
    """Build and start the exporter from the config's [mqtt] section (``None`` without a URL)."""
    if cfg is None:
        return None
    try:
        settings = settings_from_config(cfg)
    except MqttConfigError as exc:
        raise cli_error(f"[mqtt] url: {exc}") from None
    return started_exporter(settings, log) if settings is not None else None
