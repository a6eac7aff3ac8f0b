"""The recording format: what ``meterui --record`` writes and replay reads back with timestamps.

A recording is a text file that is also plain hex input for ``meterui decode`` (hex bytes, ``#``
comments)::

    # meterui recording v1
    # source: /dev/ttyUSB0 2400 8E1
    # t=1700000000.123456
    7E A0 E2 2B 21 13 23 9A E6 E7 00 0F 00 00 00 00 0C 07 E3 01 15 01 17 2B 0A FF 80 00 00 02 19 0A
    # t=1700000002.623000
    …

Each chunk read from the source is one ``# t=<UNIX seconds, 6 decimals>`` line followed by its bytes in
uppercase hex, at most 64 bytes per line. Keys are never written (the source description holds none).
The file is opened in append mode; a new session adds another ``# source:`` line.

Bytes a session *wrote* to the source (commands to a Wi-SUN module) are recorded as comment lines,
one per write, so that a replay (and ``meterui decode``) never feeds them to the decoder as received::

    # tx t=1700000003.000000 534B 5345 5441 ...

that is ``# tx t=<UNIX seconds, 6 decimals> <uppercase hex, no spaces inside a 2-byte group>``.
Recordings without such lines read exactly as before; readers that do not know the marker skip it as a
comment.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from types import TracebackType

from meterui.protocol.inputs import HexSyntaxError, hex_digits
from meterui.sources.base import Chunk, SourceError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

HEADER = "# meterui recording v1"
HEADER_PREFIX = "# meterui recording v"
BYTES_PER_LINE = 64
MAX_CHUNK = 65536
"""Longer runs of bytes under one timestamp are split so memory stays bounded."""

_TIMESTAMP = re.compile(r"#\s*t=(\S*)\s*$")
TX_PREFIX = "# tx t="
"""Marks bytes written to the source (never fed to the decoder on replay)."""
_SENT = re.compile(r"#\s*tx\s+t=(\S+)\s+([0-9A-Fa-f ]*)$")


def read_sent(path: str | os.PathLike[str]) -> Iterator[Chunk]:
    """The chunks a session wrote (the ``# tx`` lines) of a recording, in order."""
    with open(path, encoding="utf-8", errors="replace") as file:
        for line in file:
            match = _SENT.match(line.strip())
            if match is not None:
                try:
                    yield Chunk(bytes.fromhex(match.group(2)), float(match.group(1)))
                except ValueError:
                    continue


def hex_line_digits(line: str, path: str | os.PathLike[str], lineno: int) -> str:
    """The hex digits of one line (the syntax of :func:`meterui.protocol.inputs.hex_digits`, what
    ``meterui decode`` reads). Raises :class:`SourceError` naming the file and line."""
    try:
        return hex_digits(line)
    except HexSyntaxError as exc:
        raise SourceError(f"{os.fspath(path)}, line {lineno}: not hex ({exc.bad!r})") from None


def check_record_target(path: str | os.PathLike[str]) -> None:
    """Can a recording be written to ``path``? Raises :class:`SourceError` (one line) if not: a
    directory, a missing directory, a file that cannot be written or is not a meterui recording.
    Nothing is created or changed."""
    from pathlib import Path  # here: pathlib (and urllib) cost `meterui decode` start-up

    target = Path(path)
    name = os.fspath(path)
    if target.is_dir():
        raise SourceError(f"{name} is a directory; give a file name to record to")
    parent = target.parent
    if not parent.is_dir():
        raise SourceError(f"cannot record to {name}: the directory {os.fspath(parent)} does not exist")
    if target.exists():
        try:
            with target.open("ab"):
                pass
            with target.open("rb") as f:
                head = f.read(len(HEADER_PREFIX))
        except OSError as exc:
            raise SourceError(f"cannot record to {name}: {exc.strerror or exc}") from None
        if head and not head.startswith(HEADER_PREFIX.encode()):
            raise SourceError(f"{name} exists and is not a meterui recording; not appending to it")
        return
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise SourceError(f"cannot record to {name}: {exc.strerror or exc}") from None
    os.close(fd)
    os.unlink(target)


def format_chunk(chunk: Chunk, received: float) -> str:
    """The text for one chunk: its timestamp line and its hex lines."""
    lines = [f"# t={received:.6f}"]
    data = chunk.data
    for start in range(0, len(data), BYTES_PER_LINE):
        lines.append(data[start : start + BYTES_PER_LINE].hex(" ").upper())
    return "\n".join(lines) + "\n"


def format_sent(chunk: Chunk, sent: float) -> str:
    """The text for bytes written to the source: one ``# tx t=<time> <hex>`` comment line."""
    groups = " ".join(chunk.data[i : i + 2].hex().upper() for i in range(0, len(chunk.data), 2))
    return f"{TX_PREFIX}{sent:.6f} {groups}\n"


class Recorder:
    """Appends chunks to a recording, flushing at most once a second (a crash loses about 1 s).

    Call :meth:`maybe_flush` now and then when idle (the pipeline does it each pass) so buffered data
    does not wait for the next chunk.
    """

    def __init__(self, path: str | os.PathLike[str], source: str | None = None, *, flush_interval: float = 1.0) -> None:
        from pathlib import Path

        self.path = Path(path)
        self.flush_interval = flush_interval
        self.chunks = 0
        self.bytes = 0
        try:
            self._file: TextIO | None = self._open()
        except OSError as exc:
            raise SourceError(f"cannot record to {self.path}: {exc.strerror or exc}") from exc
        if source:
            self._file.write(f"# source: {' '.join(source.split())}\n")
        self._last_flush = time.monotonic()

    def _open(self) -> TextIO:
        needs_newline = False
        fresh = True
        if self.path.exists() and self.path.stat().st_size > 0:
            fresh = False
            with self.path.open("rb") as f:
                head = f.read(len(HEADER_PREFIX))
                f.seek(-1, os.SEEK_END)
                needs_newline = f.read(1) != b"\n"
            if not head.startswith(HEADER_PREFIX.encode()):
                raise SourceError(f"{self.path} exists and is not a meterui recording; not appending to it")
        file = self.path.open("a", encoding="ascii", newline="\n")
        if fresh:
            file.write(HEADER + "\n")
        elif needs_newline:  # the last session ended mid-line (crash): start on a fresh line
            file.write("\n")
        return file

    def write(self, chunk: Chunk) -> None:
        """Append one chunk; a chunk without a time is stamped with the current time."""
        if self._append(chunk, format_chunk):
            self.chunks += 1
            self.bytes += len(chunk.data)

    def write_sent(self, chunk: Chunk) -> None:
        """Append bytes that were written to the source, as one ``# tx t=… HEX`` comment line."""
        self._append(chunk, format_sent)

    def _append(self, chunk: Chunk, fmt: Callable[[Chunk, float], str]) -> bool:
        """Write ``fmt(chunk, time)``; ``False`` for an empty chunk. Raises :class:`SourceError`."""
        if self._file is None:
            raise SourceError(f"recording {self.path} is closed")
        if not chunk.data:
            return False
        stamp = chunk.received if chunk.received is not None else time.time()
        try:
            self._file.write(fmt(chunk, stamp))
        except OSError as exc:
            raise SourceError(f"cannot write to {self.path}: {exc.strerror or exc}") from exc
        self.maybe_flush()
        return True

    def maybe_flush(self) -> None:
        if self._file is not None and time.monotonic() - self._last_flush >= self.flush_interval:
            self.flush()

    def flush(self) -> None:
        if self._file is None:
            return
        try:
            self._file.flush()
        except OSError as exc:
            raise SourceError(f"cannot write to {self.path}: {exc.strerror or exc}") from exc
        self._last_flush = time.monotonic()

    def close(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            file.close()

    @property
    def closed(self) -> bool:
        return self._file is None

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def read_recording(path: str | os.PathLike[str]) -> Iterator[Chunk]:
    """Stream the chunks of a recording with their timestamps.

    Raises :class:`SourceError` naming the line for a bad header, timestamp or hex line. Bytes before
    the first timestamp come back with ``received=None``.
    """
    try:
        file = open(path, encoding="utf-8-sig", errors="replace")  # noqa: SIM115 - closed in finally
    except OSError as exc:
        raise SourceError(f"cannot read {os.fspath(path)}: {exc.strerror or exc}") from exc
    try:
        yield from _parse_recording(file, path)
    finally:
        file.close()


def _parse_recording(lines: TextIO, path: str | os.PathLike[str]) -> Iterator[Chunk]:
    name = os.fspath(path)
    seen_header = False
    received: float | None = None
    data = bytearray()
    for lineno, line in enumerate(lines, 1):
        text = line.strip()
        if not text:
            continue
        if not seen_header:
            if not text.startswith(HEADER_PREFIX):
                raise SourceError(f"{name}, line {lineno}: not a meterui recording (no '{HEADER}' header)")
            if text != HEADER:
                raise SourceError(
                    f"{name}, line {lineno}: unsupported recording version {text[len(HEADER_PREFIX) - 1 :]!r}"
                )
            seen_header = True
            continue
        if text.startswith("#"):
            match = _TIMESTAMP.match(text)
            if match is None:
                continue  # another comment
            try:
                stamp = float(match.group(1))
            except ValueError:
                stamp = float("nan")
            if stamp != stamp or stamp in (float("inf"), float("-inf")):
                raise SourceError(f"{name}, line {lineno}: bad timestamp {match.group(1)[:32]!r}")
            if data:
                yield Chunk(bytes(data), received)
                data.clear()
            received = stamp
            continue
        digits = hex_line_digits(text, name, lineno)
        if len(digits) % 2:
            raise SourceError(f"{name}, line {lineno}: odd number of hex digits")
        data += bytes.fromhex(digits)
        if len(data) >= MAX_CHUNK:
            yield Chunk(bytes(data), received)
            data.clear()
    if data:
        yield Chunk(bytes(data), received)
