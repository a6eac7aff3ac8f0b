"""Wiring a :class:`BrouteSession` into the pipeline: the source, the session and the scan cache.

Used by ``meterui monitor --broute-id …`` (headless and app) and by plain ``meterui`` with a saved
configuration that holds B-route credentials. Imports nothing from Textual.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from meterui.broute.commands import PanDescriptor
from meterui.broute.session import BrouteSession
from meterui.pipeline import Pipeline
from meterui.sinks.base import PipelineEvent, Sink
from meterui.sources.recording import Recorder

if TYPE_CHECKING:
    from meterui.config import Config
    from meterui.pipeline import PipelineStats
    from meterui.protocol.message import Message
    from meterui.sources.serial_port import SerialSource

log = logging.getLogger(__name__)

BROUTE_BAUDRATE = 115200
BROUTE_PARITY = "N"
"""Wi-SUN modules (BP35A1/C0/C2, DSE) talk 115200 8N1."""


def config_credentials(cfg: Config | None) -> tuple[str, str] | None:
    """The B-route ID and password a configuration holds (``[broute] id``/``password``), else ``None``."""
    if cfg is None:
        return None
    rbid = getattr(cfg, "broute_id", None)
    password = getattr(cfg, "broute_password", None)
    if isinstance(rbid, str) and isinstance(password, str) and rbid and password:
        return rbid, password
    return None


class ScanSaver:
    """A sink that keeps a new scan result (``session.new_scan``) in ``cfg.broute_scan``.

    With ``path`` (a saved configuration file) the file is updated too, so the next start skips the scan;
    without, the result is kept in memory only. ``say`` gets one line saying which (never a secret).
    """

    name = "scan cache"

    def __init__(
        self, session: BrouteSession, cfg: Config, path: Path | None, say: Callable[[str], None] | None = None
    ) -> None:
        self.session = session
        self.cfg = cfg
        self.path = path
        self.say = say or log.info
        self._saved: PanDescriptor | None = None

    def on_messages(self, messages: Sequence[Message], stats: PipelineStats) -> None:
        self._check()

    def on_event(self, event: PipelineEvent) -> None:
        if event.kind == "session":
            self._check()

    def close(self) -> None:
        self._check()

    def _check(self) -> None:
        scan = self.session.new_scan
        if scan is None or scan == self._saved:
            return
        self._saved = scan
        text = scan.to_config()
        self.cfg.broute_scan = text
        if self.path is None:
            self.say("B-route scan result kept for this run only (no saved configuration to update)")
            return
        from meterui.config import ConfigError, load_config, save_config

        try:
            saved = load_config(self.path)
            if saved is None:
                self.say("B-route scan result kept for this run only (no saved configuration to update)")
                return
            saved.broute_scan = text
            save_config(saved, self.path)
        except (ConfigError, OSError) as exc:
            self.say(f"B-route scan result not saved ({type(exc).__name__}); kept for this run")
            return
        self.say(f"B-route scan result saved in {self.path} (the next start skips the scan)")


def _transcript():  # type: ignore[no-untyped-def]
    from meterui.protocol.sklines import Transcript

    return Transcript()


def make_session(cfg: Config, credentials: tuple[str, str]) -> BrouteSession:
    """The session for ``credentials``, starting from the scan cached in ``cfg`` (if any)."""
    cached = PanDescriptor.from_config(cfg.broute_scan) if cfg.broute_scan else None
    return BrouteSession(credentials[0], credentials[1], cached_scan=cached)


def broute_pipeline(
    cfg: Config,
    credentials: tuple[str, str],
    record: str | None = None,
    sinks: Sequence[Sink] = (),
    *,
    source: SerialSource | None = None,
    session: BrouteSession | None = None,
    config_file: Path | None = None,
    say: Callable[[str], None] | None = None,
    decoder_factory: Callable[[str], object] | None = None,
    transcript: bool = False,
) -> Pipeline:
    """The pipeline on ``cfg``'s port with a B-route session (SKSTACK decoding, both directions recorded).

    ``transcript``: every line sent and received also becomes a message, for the inspector (the app).
    """
    from meterui.sources.serial_port import SerialSource

    assert cfg.port
    if source is None:
        source = SerialSource(cfg.port, cfg.baudrate, cfg.parity, cfg.bytesize, cfg.stopbits)
    if session is None:
        session = make_session(cfg, credentials)
    recorder = Recorder(record, source.description) if record else None
    saver = ScanSaver(session, cfg, config_file, say)
    return Pipeline(
        source,
        session=session,
        fmt="skstack",
        recorder=recorder,
        decoder_factory=decoder_factory,  # type: ignore[arg-type]
        sinks=[*sinks, saver],
        transcript=_transcript() if transcript else None,
    )
