"""Byte sources: serial ports (and ``socket://``/``rfc2217://``/``loop://`` URLs), replay files, recordings.

UI-free; see :mod:`meterui.sources.base` for the protocol. Import the submodules directly
(``meterui.sources.serial_port`` …): this package imports nothing eagerly, so a replay does not pay
for pyserial at start-up.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_EXPORTS = {
    "Chunk": "base",
    "ReconnectingSource": "base",
    "Source": "base",
    "SourceError": "base",
    "Recorder": "recording",
    "read_recording": "recording",
    "ReplaySource": "replay",
    "detect_format": "replay",
    "PortInfo": "serial_port",
    "SerialSource": "serial_port",
    "backoff_delays": "serial_port",
    "list_serial_ports": "serial_port",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """``from meterui.sources import SerialSource`` works; the submodule is imported on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
