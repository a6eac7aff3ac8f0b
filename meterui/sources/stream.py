"""Chunks from an iterator of ``(decoder format, bytes)`` as a source (``meterui decode`` on a file or stdin).

The iterator's own errors (a user-facing ``CliError`` for unreadable input, say) are kept in
:attr:`IterSource.failure` and end the run; the caller re-raises them after the pipeline returned.
"""

from __future__ import annotations

from collections.abc import Iterator

from meterui.sources.base import Chunk, SourceError


class IterSource:
    """A replay (``live = False``) of the chunks an iterator yields; the first chunk's format is the
    decoder's (``raw`` when there is none)."""

    live = False

    def __init__(self, chunks: Iterator[tuple[str, bytes]], name: str) -> None:
        self._chunks = chunks
        self.name = name
        self.decoder_format = "raw"
        self.failure: Exception | None = None
        self._first: bytes | None = None
        self._opened = False

    @property
    def description(self) -> str:
        return self.name

    def open(self) -> None:
        if self._opened:
            return
        self._opened = True
        first = self._next()
        if first is not None:
            self.decoder_format, self._first = first

    def _next(self) -> tuple[str, bytes] | None:
        try:
            return next(self._chunks)
        except StopIteration:
            return None
        except Exception as exc:  # the caller re-raises it (it is the input's error, not ours)
            self.failure = exc
            raise SourceError(str(exc)) from exc

    def read(self, timeout: float = 0.2) -> Chunk | None:
        if self._first is not None:
            data, self._first = self._first, None
            return Chunk(data, None)
        item = self._next()
        if item is None:
            raise EOFError(self.name)
        return Chunk(item[1], None)

    def close(self) -> None:
        pass
