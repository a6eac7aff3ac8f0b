"""Command line: ``meterui [decode|demo|replay|monitor]``.

``meterui decode`` is headless and never imports Textual (scripts call it often; start-up counts).
The TUI commands import the app lazily.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any, BinaryIO

from meterui import __version__

EXIT_OK = 0
EXIT_USAGE = 2
CHUNK = 1 << 16


class CliError(Exception):
    """A one-line, user-facing error: printed without a traceback, exit status 2."""


def _terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``: $COLUMNS, else the terminal's width, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, without importing ``shutil`` (and bz2, lzma, locale with it) at start-up:
    argparse makes a formatter for every ``add_argument``, and the default one asks shutil for the width."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         _terminal_columns() - 2 if width is None else width)


class _ArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser (and its sub-command parsers) with :class:`_HelpFormatter`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)


def _parser() -> argparse.ArgumentParser:
    p = _ArgumentParser(
        prog="meterui",
        description="Terminal UI and decoder for smart-meter customer ports (HAN/HDLC, Austrian M-Bus, "
                    "B-route ECHONET Lite). Without a command: start the app on the saved configuration "
                    "(the setup wizard on first run).",
    )
    p.add_argument("--version", action="version", version=f"meterui {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    d = sub.add_parser("decode", help="decode a capture headlessly (no UI)",
                       description="Decode a capture file or stdin and print the messages.")
    d.add_argument("input", nargs="?", default="-", help="capture file, or - for stdin (default)")
    d.add_argument("--format", choices=["auto", "hex", "raw", "skstack"], default="auto",
                   help="input format (default: auto-detect)")
    _key_args(d)
    d.add_argument("--output", choices=["text", "json", "tree", "hex", "summary"], default="text",
                   help="output: text (default), json (one object per line), tree, hex, summary")
    d.add_argument("--invert-deviation", action="store_true",
                   help="read the date-time deviation with the opposite sign (some meters get it wrong)")

    sub.add_parser("demo", help="start the app on the bundled demo capture (no hardware needed)")

    r = sub.add_parser("replay", help="open a recorded file for step-through inspection")
    r.add_argument("file", help="recording, hex, raw or SKSTACK transcript file")
    r.add_argument("--format", choices=["auto", "hex", "raw", "skstack"], default="auto")
    _key_args(r)
    r.add_argument("--speed", default="max",
                   help="replay speed: max (default: every frame listed at once for inspection), or a factor "
                        "such as 1 (real time, following recorded timestamps) or 10")

    m = sub.add_parser("monitor", help="read a meter port live (the app, or JSON lines with --json)")
    m.add_argument("--port", required=True, help="device path or pyserial URL (socket://host:port, rfc2217://…)")
    m.add_argument("--baud", type=int, default=2400, help="baud rate (default 2400)")
    m.add_argument("--parity", choices=["N", "E", "O"], default="E", help="parity (default E)")
    m.add_argument("--bytesize", type=int, choices=[7, 8], default=8)
    m.add_argument("--stopbits", type=float, choices=[1, 1.5, 2], default=1)
    _key_args(m)
    m.add_argument("--json", action="store_true", help="no UI: print decode JSON objects live, one per line")
    m.add_argument("--record", metavar="FILE", help="also record what is read to FILE")
    return p


def _key_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--key", metavar="HEX", help="AES-128 encryption key (GUEK), 32 hex digits")
    p.add_argument("--auth-key", metavar="HEX", help="AES-128 authentication key (GAK), 32 hex digits")


def _keys(args: argparse.Namespace) -> tuple[bytes | None, bytes | None]:
    from meterui.protocol.errors import KeyFormatError
    from meterui.protocol.keys import parse_key

    try:
        key = parse_key(args.key or os.environ.get("METERUI_KEY"), "encryption key")
        auth = parse_key(args.auth_key or os.environ.get("METERUI_AUTH_KEY"), "authentication key")
    except KeyFormatError as exc:
        raise CliError(str(exc)) from None
    return key, auth


def _open_input(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CliError(f"{path}: is a directory") from None
    except OSError as exc:
        raise CliError(f"{path}: cannot read ({exc.strerror or exc})") from None


def detect_format(head: bytes) -> str:
    """``hex``, ``skstack`` or ``raw`` from the first bytes of a file (a recording is hex text)."""
    from meterui.sources.replay import detect_format as detect_file_format

    fmt = detect_file_format(head)
    return "hex" if fmt == "recording" else fmt


def iter_input(stream: BinaryIO, fmt: str, name: str) -> Iterator[tuple[str, bytes]]:
    """Yield ``(stream format, bytes)`` chunks from a file in the given or detected format."""
    from meterui.protocol.errors import LineError
    from meterui.protocol.inputs import HexStream

    try:
        head = stream.read(CHUNK)
    except OSError as exc:
        raise CliError(f"{name}: cannot read ({exc})") from None
    if fmt == "auto":
        fmt = detect_format(head)
    decoder_fmt = "skstack" if fmt == "skstack" else "raw"
    if fmt != "hex":
        data = head
        while data:
            yield decoder_fmt, data
            data = stream.read(CHUNK)
        return
    hexs = HexStream()
    pending = b""
    data = head
    try:
        while data:
            pending += data
            cut = pending.rfind(b"\n") + 1
            if cut:
                yield "raw", hexs.feed(pending[:cut].decode("ascii", "replace"))
                pending = pending[cut:]
            data = stream.read(CHUNK)
        if pending:
            yield "raw", hexs.feed(pending.decode("ascii", "replace"))
        hexs.finish()
    except LineError as exc:
        raise CliError(f"{name}: {exc.message}") from None


def cmd_decode(args: argparse.Namespace) -> int:
    from meterui.protocol.decoder import StreamDecoder
    from meterui.render import RENDERERS, render_summary

    key, auth = _keys(args)
    stream = _open_input(args.input)
    name = "stdin" if args.input == "-" else args.input
    out = sys.stdout
    render = None if args.output == "summary" else RENDERERS[args.output]
    decoder: StreamDecoder | None = None
    try:
        for fmt, data in iter_input(stream, args.format, name):
            if decoder is None:
                decoder = StreamDecoder(key, auth, fmt, invert_deviation=args.invert_deviation)
            msgs = decoder.feed(data)
            if render is not None:
                for msg in msgs:
                    out.write(render(msg) + "\n")
        if decoder is None:
            decoder = StreamDecoder(key, auth, "raw")
        msgs = decoder.flush()
        if render is not None:
            for msg in msgs:
                out.write(render(msg) + "\n")
        else:
            out.write(render_summary(decoder.stats) + "\n")
        out.flush()
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    return EXIT_OK


def _speed(text: str) -> float:
    if text.lower() in ("max", "inf"):
        return float("inf")
    try:
        value = float(text.lower().rstrip("x×"))
    except ValueError:
        raise CliError(f"--speed: {text!r} is not a number or 'max'") from None
    if value <= 0:
        raise CliError("--speed must be positive")
    return value


@contextlib.contextmanager
def _few_gc_passes() -> Iterator[None]:
    """Run the cyclic garbage collector less often while decoding. Each message's tree links parent and
    children, so it is freed by the collector, not by reference counting; at the default threshold
    (700 allocations) the messages of one input chunk, still alive, are traversed and promoted over and
    over, about 10 % of ``meterui decode``'s time. 20,000 keeps at most a few MB of garbage waiting."""
    import gc

    before = gc.get_threshold()
    gc.set_threshold(20_000, 50, 50)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def cmd_app(args: argparse.Namespace) -> int:
    from meterui.launch import launch

    return launch(args, CliError)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "decode":
            with _few_gc_passes():
                return cmd_decode(args)
        if args.command == "replay":
            args.speed_value = _speed(args.speed)
        return cmd_app(args)
    except CliError as exc:
        print(f"meterui: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): not an error worth a traceback
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
