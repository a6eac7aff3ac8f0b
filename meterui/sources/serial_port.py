"""Serial ports (and pyserial URLs: ``socket://``, ``rfc2217://``, ``loop://``) as a byte source.

Robustness notes (pyserial 3.5): on unplug ``read`` raises ``SerialException`` but ``in_waiting`` raises
a bare ``OSError``; ``SerialException`` subclasses ``OSError``, so catching ``OSError`` covers both.
``is_open`` may stay true after an unplug, so we always ``close()`` before reopening, and a USB adapter
that comes back as another ``/dev/ttyUSB*`` is found again by serial number or VID:PID.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import serial  # type: ignore[import-untyped]  # pyserial ships no type hints
from serial.tools import list_ports  # type: ignore[import-untyped]

from meterui.sources.base import Chunk, SourceError, format_stopbits, line_settings

try:  # termios.error is not an OSError; pyserial lets it escape from tcsetattr on POSIX
    from termios import error as _TermiosError
except ImportError:  # pragma: no cover - Windows

    class _TermiosError(Exception):  # type: ignore[no-redef]
        pass


_MAX_READ = 65536
_SLICE = 0.05
"""pyserial's own read timeout, set once at open: changing it later reconfigures the port (tcsetattr)
on every call, which some drivers and ptys reject with EINVAL, so :meth:`SerialSource.read` loops."""
_DEVICE_ERRORS: tuple[type[BaseException], ...] = (OSError, _TermiosError, ValueError, TypeError, AttributeError)
_URL_SCHEMES_WITHOUT_LINE_SETTINGS = ("socket://", "loop://")
_PLAIN: dict[str, Any] = {"parity": "N", "stopbits": 1, "bytesize": 8, "baudrate": 9600}
_LABELS = {"baudrate": "baud rate", "parity": "parity", "bytesize": "byte size", "stopbits": "stop bits"}
_PARITY_WORDS = {"N": "none", "E": "even", "O": "odd", "M": "mark", "S": "space"}


def backoff_delays(base: float = 0.5, cap: float = 30.0, factor: float = 2.0) -> Iterator[float]:
    """Capped exponential backoff: ``base, base·factor, …`` never above ``cap``; endless."""
    if base <= 0 or cap <= 0 or factor < 1:
        raise ValueError("backoff needs base > 0, cap > 0 and factor >= 1")
    delay = min(base, cap)
    while True:
        yield delay
        delay = min(delay * factor, cap)


@dataclass(frozen=True, slots=True)
class PortInfo:
    """A serial port found on this machine, for the port picker."""

    device: str
    description: str
    vid_pid: str | None
    """``"0403:6001"`` for USB adapters, else ``None``."""
    serial_number: str | None


def _natural_key(text: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _vid_pid(vid: int | None, pid: int | None) -> str | None:
    if vid is None or pid is None:
        return None
    return f"{vid:04X}:{pid:04X}"


def list_serial_ports() -> list[PortInfo]:
    """Ports from ``serial.tools.list_ports.comports()``, sorted naturally by device name."""
    ports = [
        PortInfo(
            device=p.device,
            description=p.description if p.description and p.description != "n/a" else "",
            vid_pid=_vid_pid(p.vid, p.pid),
            serial_number=p.serial_number or None,
        )
        for p in list_ports.comports()
    ]
    return sorted(ports, key=lambda p: _natural_key(p.device))


def _reason(exc: BaseException) -> str:
    """A one-line reason for an OS/pyserial error, without a Python traceback."""
    code = getattr(exc, "errno", None)
    if code == errno.ENOENT:
        return "no such device"
    if code in (errno.EACCES, errno.EPERM):
        return "permission denied (on Linux, is your user in the 'dialout' group?)"
    if code == errno.EBUSY:
        return "device busy (is another program using it?)"
    if isinstance(exc, _TermiosError) and len(exc.args) == 2 and isinstance(exc.args[1], str):
        return f"{exc.args[1].lower()}, errno {exc.args[0]}"
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


class SerialSource:
    """A serial port or pyserial URL read with a finite timeout.

    ``url`` is a device path (``/dev/ttyUSB0``, ``COM3``) or a pyserial URL. Line settings are applied
    where they mean something (ignored by ``socket://`` and ``loop://``).
    """

    live = True
    decoder_format = "auto"

    def __init__(
        self,
        url: str,
        baudrate: int = 2400,
        parity: str = "E",
        bytesize: int = 8,
        stopbits: float = 1,
        *,
        reconnect_base: float = 0.5,
        reconnect_cap: float = 30.0,
    ) -> None:
        self.url = url
        self.port = url
        """The device currently in use; may differ from ``url`` after a reconnect found it elsewhere."""
        self.baudrate = baudrate
        self.parity = parity.upper()
        self.bytesize = bytesize
        self.stopbits = stopbits
        self.reconnect_base = reconnect_base
        self.reconnect_cap = reconnect_cap
        self.last_error: str | None = None
        self._serial: serial.SerialBase | None = None
        self._cancel = threading.Event()
        self._serial_number: str | None = None
        self._vid_pid: str | None = None

    # -- description --------------------------------------------------------------------------------
    def describe_line(self) -> str:
        return line_settings(self.baudrate, self.bytesize, self.parity, self.stopbits)

    @property
    def description(self) -> str:
        if self.port.startswith(_URL_SCHEMES_WITHOUT_LINE_SETTINGS):
            return self.port
        return f"{self.port} {self.describe_line()}"

    @property
    def is_url(self) -> bool:
        return "://" in self.url

    # -- open / close ----------------------------------------------------------------------------
    def open(self) -> None:
        """Open the port; raises :class:`SourceError` with a one-line reason. A no-op when it is open
        already: the port is opened once (on Linux pseudo-terminals a second open with parity E or O
        fails with EINVAL)."""
        self._cancel.clear()
        if self._serial is not None:
            return
        self._open_port(self.port)

    def _configured(self, port: str, settings: dict[str, Any]) -> serial.SerialBase:
        ser = serial.serial_for_url(port, do_not_open=True)
        for name, value in settings.items():
            setattr(ser, name, value)
        ser.timeout = _SLICE
        ser.open()
        return ser

    def _settings(self) -> dict[str, Any]:
        return {"baudrate": self.baudrate, "parity": self.parity, "bytesize": self.bytesize, "stopbits": self.stopbits}

    def _open_port(self, port: str) -> None:
        self.close()
        try:
            ser = self._configured(port, self._settings())
        except (OSError, _TermiosError, ValueError) as exc:
            refused = self._refused_setting(port, exc)
            reason = _reason(exc)
            if refused is not None:
                reason = f"the device refused {refused} ({reason})"
            raise SourceError(f"cannot open {port}: {reason}") from exc
        self._serial = ser
        self.port = port
        self.last_error = None
        if "://" not in port:
            self._remember_identity(port)

    def _refused_setting(self, port: str, exc: BaseException) -> str | None:
        """Which line setting the OS refused, in plain words (``parity E (even)``): the first setting
        that, put back to its plain default (no parity, 1 stop bit, 8 bits, 9600 baud), lets the port
        open. ``None`` when the error is not about settings or no single setting explains it."""
        code = getattr(exc, "errno", None)
        if code is None and isinstance(exc, _TermiosError) and exc.args:
            code = exc.args[0]
        if code != errno.EINVAL and not isinstance(exc, ValueError):
            return None
        wanted = self._settings()
        for name in ("parity", "stopbits", "bytesize", "baudrate"):
            if wanted[name] == _PLAIN[name]:
                continue
            try:
                probe = self._configured(port, {**wanted, name: _PLAIN[name]})
            except (OSError, _TermiosError, ValueError):
                continue
            with contextlib.suppress(*_DEVICE_ERRORS):
                probe.close()
            value = wanted[name]
            shown = format_stopbits(value) if name == "stopbits" else str(value)
            plain = _PARITY_WORDS.get(str(value)) if name == "parity" else None
            return f"{_LABELS[name]} {shown}" + (f" ({plain})" if plain else "")
        return None

    def _remember_identity(self, port: str) -> None:
        """Note the USB serial number and VID:PID of ``port`` so a reconnect can find it again."""
        try:
            real = os.path.realpath(port)
            for p in list_ports.comports():
                if p.device in (port, real) or os.path.realpath(p.device) == real:
                    self._serial_number = p.serial_number or self._serial_number
                    self._vid_pid = _vid_pid(p.vid, p.pid) or self._vid_pid
                    return
        except OSError:  # enumeration is best effort
            return

    def close(self) -> None:
        ser, self._serial = self._serial, None
        if ser is not None:
            with contextlib.suppress(*_DEVICE_ERRORS):
                ser.close()

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    # -- reading ---------------------------------------------------------------------------------
    def read(self, timeout: float = 0.2) -> Chunk | None:
        """Bytes that arrived within ``timeout`` (as one chunk), ``None`` if none did.

        Raises :class:`SourceError` when the device is gone (never a bare ``OSError``).
        """
        ser = self._serial
        if ser is None:
            raise SourceError(f"{self.port} is not open")
        if self._cancel.is_set():
            return None
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self.port.startswith("socket://"):
                    # its in_waiting is only 0 or 1: take what arrives within one slice instead
                    waiting = 1
                    data = ser.read(_MAX_READ)
                else:
                    waiting = ser.in_waiting
                    data = ser.read(min(waiting, _MAX_READ) or 1)  # blocks at most _SLICE
                if data:
                    if not waiting:
                        more = ser.in_waiting
                        if more:
                            data += ser.read(min(more, _MAX_READ))
                    break
                if self._cancel.is_set() or time.monotonic() >= deadline:
                    return None
        except _DEVICE_ERRORS as exc:
            # OSError covers SerialException and the bare OSError of in_waiting; the others appear
            # when a concurrent close() pulls the file descriptor from under a read.
            if self._serial is None or self._cancel.is_set():
                return None
            message = f"{self.port}: device disconnected ({_reason(exc)})"
            self.last_error = message
            raise SourceError(message) from exc
        if not data:
            return None
        return Chunk(bytes(data), time.time())

    def write(self, data: bytes) -> None:
        """Send bytes (for modules that need commands, such as SKSTACK)."""
        ser = self._serial
        if ser is None:
            raise SourceError(f"{self.port} is not open")
        try:
            ser.write(data)
        except OSError as exc:
            raise SourceError(f"{self.port}: write failed ({_reason(exc)})") from exc

    def cancel_read(self) -> None:
        """Make a blocked :meth:`read` or :meth:`reconnect` return soon (for shutdown; thread-safe)."""
        self._cancel.set()
        ser = self._serial
        cancel = getattr(ser, "cancel_read", None)
        if cancel is not None:
            with contextlib.suppress(OSError, ValueError):
                cancel()

    # -- reconnecting ----------------------------------------------------------------------------
    def find_device(self) -> str:
        """Where the device is now: the same path if present, else a port with the same serial
        number, else the only port with the same VID:PID; the old path when nothing matches."""
        if self.is_url:
            return self.url
        try:
            ports = list_ports.comports()
        except OSError:
            return self.port
        known = self._serial_number is not None or self._vid_pid is not None
        for candidate in (self.port, self.url):
            if not os.path.exists(candidate):
                continue
            if not known:
                return candidate
            for p in ports:
                if p.device == candidate and self._matches(p):
                    return candidate
        if self._serial_number is not None:
            for p in ports:
                if p.serial_number == self._serial_number:
                    return str(p.device)
        if self._vid_pid is not None:
            same = [str(p.device) for p in ports if _vid_pid(p.vid, p.pid) == self._vid_pid]
            if len(same) == 1:
                return same[0]
        return self.port

    def _matches(self, p: Any) -> bool:
        if self._serial_number is not None:
            return bool(p.serial_number == self._serial_number)
        return _vid_pid(p.vid, p.pid) == self._vid_pid

    def reconnect(self, should_stop: Callable[[], bool] | None = None) -> bool:
        """Close, then retry opening with capped exponential backoff until it works.

        Returns ``True`` once open again, ``False`` if ``should_stop()`` became true or
        :meth:`cancel_read` was called. Never raises; the last failure is in :attr:`last_error`.
        """
        for delay in backoff_delays(self.reconnect_base, self.reconnect_cap):
            self.close()
            if self._wait(delay, should_stop):
                return False
            try:
                self._open_port(self.find_device())
            except SourceError as exc:
                self.last_error = str(exc)
                continue
            return True
        return False  # pragma: no cover - backoff_delays is endless

    def _wait(self, delay: float, should_stop: Callable[[], bool] | None) -> bool:
        """Sleep ``delay`` seconds in short slices; ``True`` if told to stop meanwhile."""
        deadline = time.monotonic() + delay
        while True:
            if self._cancel.is_set() or (should_stop is not None and should_stop()):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._cancel.wait(min(left, 0.05))

    def __repr__(self) -> str:
        return f"SerialSource({self.description!r})"
