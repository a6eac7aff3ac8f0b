"""The one small protocol every byte source implements (serial ports, replay files, the B-route module).

Live and replay data run through the same :class:`~meterui.pipeline.Pipeline`; a source only turns the
world into :class:`Chunk` objects. Sources are UI-free and may be driven from a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable

from meterui.protocol.records import FrozenRecord

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol, runtime_checkable
else:
    from meterui.protocol.structural import Protocol, runtime_checkable


def format_stopbits(stopbits: float) -> str:
    """``1``, ``1.5``, ``2``."""
    return str(int(stopbits)) if float(stopbits).is_integer() else f"{stopbits:g}"


def line_settings(baudrate: int, bytesize: int, parity: str, stopbits: float) -> str:
    """Serial line settings in the usual short form, e.g. ``2400 8E1`` (``1.5`` stop bits stay ``1.5``)."""
    return f"{baudrate} {bytesize}{parity.upper()}{format_stopbits(stopbits)}"


class SourceError(Exception):
    """A source cannot be opened or read. The message is one line, meant for the user."""


class Chunk(FrozenRecord):
    """Bytes read in one go, with the UNIX time they arrived when known."""

    __slots__ = (
        "data",
        "received",
    )

    data: bytes
    received: float | None

    def __init__(
        self,
        data: bytes,
        received: float | None,
    ) -> None:
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "received", received)


@runtime_checkable
class Source(Protocol):
    """A byte source.

    Declared attributes (class attributes are enough):

    * ``live: bool``: live sources are not paced; replay sources (``False``) are.
    * ``decoder_format: str``: the ``fmt`` to give the ``StreamDecoder`` (``"auto"`` mostly).

    Capabilities are separate protocols the pipeline checks with ``isinstance``:
    :class:`ReconnectingSource`, :class:`WritableSource`, :class:`CancellableSource`.
    """

    @property
    def live(self) -> bool:
        """Live sources are not paced; replays are (a class attribute is enough)."""
        ...

    @property
    def decoder_format(self) -> str:
        """The ``fmt`` for the ``StreamDecoder`` (a class attribute is enough)."""
        ...

    @property
    def description(self) -> str:
        """One line for the UI, e.g. ``/dev/ttyUSB0 2400 8E1`` or ``replay capture.hex`` (never a key)."""
        ...

    def open(self) -> None:
        """Open the source; raise :class:`SourceError` on failure. Opening an open source is a no-op
        for live sources (a port is opened once)."""
        ...

    def read(self, timeout: float = 0.2) -> Chunk | None:
        """Return the next chunk, ``None`` if nothing arrived within ``timeout``.

        Raises :class:`SourceError` when the device is gone and ``EOFError`` at the end of a file.
        """
        ...

    def close(self) -> None:
        """Close the source; safe to call twice."""
        ...


@runtime_checkable
class ReconnectingSource(Source, Protocol):
    """A live source that can find its device again after it went away."""

    @property
    def last_error(self) -> str | None:
        """The last failure to reopen, one line (set when :meth:`reconnect` gives up or keeps failing)."""
        ...

    def reconnect(self, should_stop: Callable[[], bool] | None = None) -> bool:
        """Reopen after a :class:`SourceError`, with backoff; ``False`` when ``should_stop()``."""
        ...


@runtime_checkable
class CancellableSource(Source, Protocol):
    """A source whose blocked :meth:`read` (or reconnect wait) can be interrupted from another thread."""

    def cancel_read(self) -> None: ...


@runtime_checkable
class WritableSource(Source, Protocol):
    """A source that can send bytes back (a serial port to a Wi-SUN module); used by sessions."""

    def write(self, data: bytes) -> None:
        """Write all of ``data``; raise :class:`SourceError` when the device is gone."""
        ...
