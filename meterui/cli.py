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
from typing import BinaryIO

from meterui import __version__
from meterui.protocol.links import INPUT_FORMATS

EXIT_OK = 0
EXIT_USAGE = 2
CHUNK = 1 << 16


class CliError(Exception):
    """A one-line, user-facing error: printed without a traceback, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
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
    d.add_argument("--format", choices=INPUT_FORMATS, default="auto",
                   help="input format (default: auto-detect)")
    _key_args(d)
    d.add_argument("--output", choices=["text", "json", "tree", "hex", "summary"], default="text",
                   help="output: text (default), json (one object per line), tree, hex, summary")
    d.add_argument("--invert-deviation", action="store_true",
                   help="read the date-time deviation with the opposite sign (some meters get it wrong)")

    sub.add_parser("demo", help="start the app on the bundled demo capture (no hardware needed)")

    r = sub.add_parser("replay", help="open a recorded file for step-through inspection")
    r.add_argument("file", help="recording, hex, raw or SKSTACK transcript file")
    r.add_argument("--format", choices=INPUT_FORMATS, default="auto")
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
    from meterui.pipeline import Pipeline
    from meterui.render import RENDERERS, render_summary
    from meterui.sinks.output import RenderSink
    from meterui.sources.stream import IterSource

    key, auth = _keys(args)
    stream = _open_input(args.input)
    name = "stdin" if args.input == "-" else args.input
    out = sys.stdout
    try:
        source = IterSource(iter_input(stream, args.format, name), name)
        pipeline = Pipeline(source, key=key, auth_key=auth, invert_deviation=args.invert_deviation,
                            speed=float("inf"))
        sink = None
        if args.output != "summary":
            sink = RenderSink(out, RENDERERS[args.output], on_failure=pipeline.stop)
        pipeline.run(sinks=[sink] if sink is not None else [])
        if source.failure is not None:
            raise source.failure
        if sink is not None and sink.failure is not None:
            raise sink.failure
        if sink is None:
            out.write(render_summary(pipeline.stats) + "\n")
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


def cmd_app(args: argparse.Namespace) -> int:
    from meterui.launch import launch

    args.keys = _keys(args) if args.command in ("monitor", "replay") else (None, None)
    return launch(args, CliError)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "decode":
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
