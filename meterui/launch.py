"""Start the app (or the headless JSON monitor) from parsed command-line arguments.

Kept apart from :mod:`meterui.cli` so that ``meterui decode`` never imports Textual. This module does
not import :mod:`meterui.cli` (the CLI parses the keys into ``args.keys`` and passes its error type).
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from meterui.config import Config, ConfigError, config_path, load_config
from meterui.pipeline import Pipeline
from meterui.sinks.base import Sink
from meterui.sources.base import SourceError
from meterui.sources.recording import Recorder
from meterui.sources.replay import ReplaySource

if TYPE_CHECKING:
    from meterui.export.mqtt import MqttExporter
    from meterui.sources.serial_port import SerialSource

DEMO_KEY = bytes(range(16))
"""The demo capture's Austrian meter is encrypted under the public test key 000102…0F."""
DEMO_FILE = "demo.rec"


def demo_capture_path() -> Path:
    # next to this module (the wheel installs it unpacked): importlib.resources would cost ~10 ms of
    # start-up on a Pi for the same path (issue #8)
    return Path(__file__).resolve().with_name("data") / DEMO_FILE


def serial_pipeline(
    cfg: Config, record: str | None = None, sinks: Sequence[Sink] = (), source: SerialSource | None = None
) -> Pipeline:
    """The pipeline on ``cfg``'s port (or on ``source``, already opened once: it is not opened again)."""
    from meterui.sources.serial_port import SerialSource

    assert cfg.port
    if source is None:
        source = SerialSource(cfg.port, cfg.baudrate, cfg.parity, cfg.bytesize, cfg.stopbits)
    recorder = Recorder(record, source.description) if record else None
    return Pipeline(
        source,
        key=cfg.key,
        auth_key=cfg.auth_key,
        invert_deviation=cfg.invert_deviation,
        recorder=recorder,
        decoder_factory=_profile_factory(cfg),
        sinks=sinks,
    )


def _profile_factory(cfg: Config, profile: object = None):  # type: ignore[no-untyped-def]
    """A decoder factory carrying the per-installation scaling override and time zone (None: defaults)."""
    from meterui.config import meter_profile
    from meterui.protocol.decoder import StreamDecoder

    if profile is None:
        try:
            profile = meter_profile(cfg.scale, cfg.timezone)
        except ValueError:
            profile = None
    if profile is None:
        return None
    return lambda fmt: StreamDecoder(cfg.key, cfg.auth_key, fmt, invert_deviation=cfg.invert_deviation, profile=profile)  # type: ignore[arg-type]


def launch(args: argparse.Namespace, cli_error: type[Exception]) -> int:
    """Run the command in ``args.command`` (None, demo, replay, monitor)."""
    command = args.command
    if command == "monitor":
        key, auth = args.keys
        broute: tuple[str, str] | None = getattr(args, "broute", None)
        baud, parity = getattr(args, "baud", None), getattr(args, "parity", None)
        cfg = Config(
            port=args.port,
            baudrate=baud or (115200 if broute else 2400),
            parity=parity or ("N" if broute else "E"),
            bytesize=args.bytesize,
            stopbits=args.stopbits,
            key=key,
            auth_key=auth,
            scale=getattr(args, "scale", ""),
            timezone=getattr(args, "tz", None) or "system",
        )
        if broute:
            cfg.broute_scan = _saved_broute_scan()
        if args.headless:  # MQTT / service mode (issue #11)
            from meterui.export.cli import run_service

            return run_service(_port_pipeline(cfg, args.record, broute), args, cli_error)
        if args.json:
            return monitor_json(cfg, args.record, cli_error, args)
        return _run_app(
            lambda c: _port_pipeline(c, args.record, broute, transcript=True) if c and c.port else None,
            cfg,
            exporter=_app_exporter(args, None, cli_error),
        )
    if command == "demo":
        path = demo_capture_path()
        if not path.exists():
            raise cli_error(f"the demo capture is missing from the installation ({path})")
        cfg = Config(port=None, key=DEMO_KEY)
        return _run_app(
            lambda c: Pipeline(ReplaySource(path), key=DEMO_KEY, loop=True, speed=1.0),
            cfg,
            title="meterui demo",
            plausibility=False,
        )  # the demo plays a day in minutes
    if command == "replay":
        key, auth = args.keys
        path = Path(args.file)
        if not path.is_file():
            raise cli_error(f"{path}: no such file")
        try:
            ReplaySource(path, args.format).open()
        except SourceError as exc:
            raise cli_error(str(exc)) from None
        cfg = Config(port=None, key=key, auth_key=auth)
        speed = getattr(args, "speed_value", math.inf)
        rcfg = Config(
            port=None,
            key=key,
            auth_key=auth,
            scale=getattr(args, "scale", ""),
            timezone=getattr(args, "tz", None) or "system",
        )
        factory = _profile_factory(rcfg, getattr(args, "profile", None))
        if args.headless:  # MQTT / service mode (issue #11), see monitor above
            from meterui.export.cli import run_service

            return run_service(
                Pipeline(ReplaySource(path, args.format), key=key, auth_key=auth, speed=speed, decoder_factory=factory),
                args,
                cli_error,
            )
        return _run_app(
            lambda c: Pipeline(
                ReplaySource(path, args.format),
                key=c.key if c else key,
                auth_key=c.auth_key if c else auth,
                speed=speed,
                decoder_factory=factory,
                transcript=replay_transcript(path),
            ),
            cfg,
            start="inspector",
            title=f"meterui replay {path.name}",
            exporter=_app_exporter(args, None, cli_error),
        )
    # no command: the saved configuration, or the wizard on first run
    try:
        saved = load_config()
    except ConfigError as exc:
        raise cli_error(f"{exc} (fix or delete {config_path()}, then run meterui again)") from None
    from meterui.broute.run import config_credentials

    return _run_app(
        lambda c: _port_pipeline(c, None, config_credentials(c), transcript=True) if c and c.port else None,
        saved,
        first_run=saved is None,
        exporter=_app_exporter(None, saved, cli_error),
    )


def replay_transcript(path: Path):  # type: ignore[no-untyped-def]
    """For a recording of a B-route session (it has ``# tx`` lines): the conversation as messages for
    the inspector, sent lines in their recorded places (:class:`meterui.protocol.sklines.Transcript`)."""
    from meterui.sources.recording import read_sent
    from meterui.sources.replay import HEAD_SIZE, detect_format

    try:
        with path.open("rb") as probe:  # only a recording has sent lines: other files are not scanned (a
            if detect_format(probe.read(HEAD_SIZE)) != "recording":  # million-frame hex file took a second)
                return None
        if next(read_sent(path), None) is None:
            return None
    except OSError:
        return None
    from meterui.protocol.sklines import Transcript

    return Transcript(read_sent(path))


def _saved_broute_scan() -> str | None:
    """The B-route scan cached in the saved configuration (``None`` when there is none or it is unreadable)."""
    try:
        saved = load_config()
    except ConfigError:
        return None
    return saved.broute_scan if saved is not None else None


def _port_pipeline(
    cfg: Config,
    record: str | None,
    broute: tuple[str, str] | None,
    source: SerialSource | None = None,
    sinks: Sequence[Sink] = (),
    say: Callable[[str], None] | None = None,
    transcript: bool = False,
) -> Pipeline:
    """The pipeline on ``cfg``'s port: with a B-route session when ``broute`` holds credentials."""
    if not broute:
        return serial_pipeline(cfg, record, sinks, source)
    from meterui.broute.run import broute_pipeline

    path = config_path()
    return broute_pipeline(
        cfg,
        broute,
        record,
        sinks,
        source=source,
        config_file=path if path.is_file() else None,
        say=say,
        decoder_factory=_profile_factory(cfg),
        transcript=transcript,
    )


def _app_exporter(
    args: argparse.Namespace | None, cfg: Config | None, cli_error: type[Exception]
) -> MqttExporter | None:
    """The app's MQTT exporter (issue #11): from ``--mqtt`` flags, else the config's [mqtt] url; None without.

    Its log lines go to the logging module (nothing is printed over the UI); its state shows in the
    line-health strip."""
    if args is not None and getattr(args, "mqtt", None):
        from meterui.export.cli import start_exporter

        return start_exporter(args, cli_error)
    if cfg is not None and cfg.mqtt_url:
        from meterui.export.cli import exporter_from_config

        return exporter_from_config(cfg, cli_error)
    return None


SETTLE_GC = 2.0
"""Seconds after start at which the app freezes its start-up objects out of the garbage collector's passes (the
first readings and the charts are on screen well before: a one-time collection of some tens of ms)."""


def _run_app(
    factory,
    cfg: Config | None,
    *,
    start: str = "live",
    first_run: bool = False,  # type: ignore[no-untyped-def]
    title: str = "meterui",
    exporter: MqttExporter | None = None,
    plausibility: bool = True,
) -> int:
    from meterui.app import MeterApp

    app = None
    try:
        app = MeterApp(factory, cfg, start=start, first_run=first_run, exporter=exporter, plausibility=plausibility)
        app.title = title
        app.SETTLE_GC = SETTLE_GC
        result = app.run()
    finally:
        import gc

        gc.unfreeze()
        if app is not None:
            app.close_exporter()  # the wizard may have replaced it (issue #11)
        elif exporter is not None:
            exporter.close()  # sends what is queued (a few seconds at most), then "offline"
    return int(result or 0)


def monitor_json(
    cfg: Config, record: str | None, cli_error: type[Exception], args: argparse.Namespace | None = None
) -> int:
    """Headless monitor: print ``meterui decode --output json`` objects live, one per line, and each
    change of the port's state on stderr, one line each. The port is opened once."""
    from meterui.render import render_json
    from meterui.sinks.output import EventLogSink, RenderSink
    from meterui.sources.serial_port import SerialSource

    assert cfg.port
    source = SerialSource(cfg.port, cfg.baudrate, cfg.parity, cfg.bytesize, cfg.stopbits)
    try:
        source.open()  # a port that cannot be opened at start is a one-line error, exit 2
    except SourceError as exc:
        raise cli_error(str(exc)) from None
    broute = getattr(args, "broute", None) if args is not None else None

    def say(text: str) -> None:
        print(f"meterui: {text}", file=sys.stderr, flush=True)

    try:
        pipeline = _port_pipeline(cfg, record, broute, source=source, say=say)
    except SourceError as exc:
        source.close()
        raise cli_error(str(exc)) from None
    output = RenderSink(sys.stdout, render_json, flush=True, on_failure=pipeline.stop)
    pipeline.sinks += [output, EventLogSink(sys.stderr)]
    from meterui.export.cli import ServiceLog, start_exporter  # MQTT (issue #11)

    exporter = start_exporter(args, cli_error, ServiceLog()) if args is not None else None
    if exporter is not None:
        pipeline.sinks.append(exporter)
    signal.signal(signal.SIGTERM, lambda *_: pipeline.stop())
    try:
        pipeline.run()
    except KeyboardInterrupt:
        pipeline.stop()
    finally:
        if exporter is not None:
            exporter.close()
    return 0
