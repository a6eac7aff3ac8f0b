"""Byte sources: serial ports (and ``socket://``/``rfc2217://``/``loop://`` URLs), replay files, recordings.

UI-free; see :mod:`meterui.sources.base` for the protocol.
"""

from meterui.sources.base import Chunk, ReconnectingSource, Source, SourceError
from meterui.sources.recording import Recorder, read_recording
from meterui.sources.replay import ReplaySource, detect_format
from meterui.sources.serial_port import PortInfo, SerialSource, backoff_delays, list_serial_ports

__all__ = [
    "Chunk",
    "PortInfo",
    "ReconnectingSource",
    "Recorder",
    "ReplaySource",
    "SerialSource",
    "Source",
    "SourceError",
    "backoff_delays",
    "detect_format",
    "list_serial_ports",
    "read_recording",
]
