"""Replay a file as a byte source: a meterui recording, hex text, raw binary or an SKSTACK transcript.

Files are streamed (a 100 MB capture is never read at once): binary files in fixed-size blocks, hex
text in blocks of lines, recordings chunk by chunk with their timestamps.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from meterui.protocol.decoder import looks_like_skstack
from meterui.protocol.inputs import looks_like_hex
from meterui.sources.base import Chunk, SourceError
from meterui.sources.recording import hex_line_digits, read_recording

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Literal

    FileFormat = Literal["recording", "hex", "skstack", "raw"]

FORMATS: tuple[str, ...] = ("recording", "hex", "skstack", "raw")
HEAD_SIZE = 4096
"""How many bytes :func:`detect_format` should be given."""

_RECORDING_MAGIC = b"# meterui recording"
_LINE_LIMIT = 65536
_TOKEN_END = " \t\r\f\v:,;-"


def detect_format(head: bytes) -> FileFormat:
    """Guess a file's format from its first bytes (:data:`HEAD_SIZE` is plenty).

    * ``recording``: starts with ``# meterui recording``;
    * ``skstack``: has SKSTACK lines (``ERXUDP``, ``EVENT``, ``SKSENDTO``, ``OK``…) at line starts;
    * ``hex``: text holding only hex digits, separators (whitespace, ``:``, ``,``, ``0x``) and ``#``
      comments, the syntax of ``meterui decode``;
    * ``raw``: anything else (binary bytes as read from the port).
    """
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if head.lstrip(b" \t\r\n").startswith(_RECORDING_MAGIC):
        return "recording"
    if looks_like_skstack(head):
        return "skstack"
    if looks_like_hex(head):
        return "hex"
    return "raw"


class ReplaySource:
    """A file replayed as a source. ``fmt`` is ``auto`` or one of :data:`FORMATS`.

    Hex, raw and SKSTACK files have no timestamps (``received=None``); recordings do. SKSTACK
    transcripts are passed through as raw bytes (the decoder reads them with ``fmt="skstack"``).
    """

    live = False

    def __init__(self, path: str | os.PathLike[str], fmt: str = "auto", chunk_size: int = 4096) -> None:
        if fmt != "auto" and fmt not in FORMATS:
            raise ValueError(f"unknown replay format {fmt!r}; expected auto, {', '.join(FORMATS)}")
        from pathlib import Path  # here: pathlib (and urllib) cost `meterui decode` start-up

        self.path = Path(path)
        self.fmt = fmt
        self.format: str | None = None if fmt == "auto" else fmt
        """The format in use, known after :meth:`open` when ``fmt`` is ``auto``."""
        self.chunk_size = max(1, chunk_size)
        self._file: IO[bytes] | IO[str] | None = None
        self._chunks: Iterator[Chunk] | None = None

    @property
    def description(self) -> str:
        return f"replay {self.path.name}"

    @property
    def decoder_format(self) -> str:
        """The ``fmt`` for :class:`StreamDecoder`: SKSTACK transcripts are text, the rest bytes."""
        return "skstack" if self.format == "skstack" else "auto"

    def open(self) -> None:
        self.close()
        name = os.fspath(self.path)
        try:
            if self.fmt == "auto":
                with self.path.open("rb") as probe:
                    self.format = detect_format(probe.read(HEAD_SIZE))
            if self.format == "recording":
                self._chunks = read_recording(self.path)
            elif self.format == "hex":
                text = self.path.open(encoding="utf-8-sig", errors="replace", newline=None)  # a BOM is not hex
                self._file = text
                self._chunks = self._hex_chunks(text)
            else:
                binary = self.path.open("rb")
                self._file = binary
                self._chunks = self._binary_chunks(binary)
        except IsADirectoryError as exc:
            raise SourceError(f"cannot replay {name}: it is a directory") from exc
        except OSError as exc:
            raise SourceError(f"cannot replay {name}: {exc.strerror or exc}") from exc

    def read(self, timeout: float = 0.2) -> Chunk | None:
        """The next chunk; ``EOFError`` at the end; :class:`SourceError` for malformed content."""
        if self._chunks is None:
            raise SourceError(f"{self.description} is not open")
        try:
            return next(self._chunks)
        except StopIteration:
            raise EOFError(os.fspath(self.path)) from None
        except OSError as exc:
            raise SourceError(f"cannot read {os.fspath(self.path)}: {exc.strerror or exc}") from exc

    def close(self) -> None:
        chunks, self._chunks = self._chunks, None
        if chunks is not None and hasattr(chunks, "close"):
            chunks.close()
        file, self._file = self._file, None
        if file is not None:
            file.close()

    # -- formats ---------------------------------------------------------------------------------
    def _binary_chunks(self, file: IO[bytes]) -> Iterator[Chunk]:
        while data := file.read(self.chunk_size):
            yield Chunk(data, None)

    def _hex_chunks(self, file: IO[str]) -> Iterator[Chunk]:
        """Hex text in blocks of lines. A byte may be split across lines (digits are joined, as
        ``meterui decode`` does); very long lines are read in pieces of 64 KiB."""
        name = os.fspath(self.path)
        out = bytearray()
        token = ""  # an unfinished token at the end of a partial physical line
        nibble = ""  # an odd hex digit carried to the next line
        in_comment = False
        lineno = 1
        while True:
            piece = file.readline(_LINE_LIMIT)
            if not piece:
                break
            complete = piece.endswith("\n")
            if in_comment:
                if complete:
                    in_comment = False
                    lineno += 1
                continue
            text, token = token + piece, ""
            if not complete:
                if "#" in text:
                    in_comment = True
                    text = text.split("#", 1)[0]
                else:
                    cut = max(text.rfind(c) for c in _TOKEN_END)
                    if cut >= 0:
                        text, token = text[: cut + 1], text[cut + 1 :]
            digits = nibble + hex_line_digits(text, name, lineno)
            nibble = ""
            if len(digits) % 2:
                digits, nibble = digits[:-1], digits[-1]
            out += bytes.fromhex(digits)
            if complete:
                lineno += 1
            if len(out) >= self.chunk_size:
                yield Chunk(bytes(out), None)
                out.clear()
        if token:
            digits = nibble + hex_line_digits(token, name, lineno)
            nibble = ""
            if len(digits) % 2:
                digits, nibble = digits[:-1], digits[-1]
            out += bytes.fromhex(digits)
        if out:
            yield Chunk(bytes(out), None)
        if nibble:
            raise SourceError(f"{name}, line {lineno}: odd number of hex digits at the end of the file")

    def __repr__(self) -> str:
        return f"ReplaySource({os.fspath(self.path)!r}, fmt={self.fmt!r})"
