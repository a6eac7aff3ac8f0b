"""Command line: ``meterui [decode|demo|replay|monitor]``.

``meterui decode`` is headless and never imports Textual (scripts call it often; start-up counts).
The TUI commands import the app lazily.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
from collections.abc import Callable, Iterator

from meterui import __version__
from meterui.protocol.links import INPUT_FORMATS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, BinaryIO, TextIO

    from meterui.pipeline import PipelineStats
    from meterui.protocol.lists import MeterProfile
    from meterui.protocol.message import Message
    from meterui.sinks.base import PipelineEvent

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
CHUNK = 1 << 16
_GC_THRESHOLD = 50_000


class CliError(Exception):
    """A one-line, user-facing error: printed without a traceback, exit status 2."""


class OutputClosed(BaseException):
    """Standard output was closed by its reader (``meterui … | head``): end quietly.

    A ``BaseException`` so that loops which report and survive ordinary errors (the pipeline) let it
    through; their ``finally`` blocks still close the source and flush the recording."""


class _GuardedStdout:
    """``sys.stdout`` for the headless commands: a closed pipe raises :class:`OutputClosed` once, and
    the descriptor then points at ``/dev/null`` so the interpreter's final flush stays silent."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def _closed(self) -> OutputClosed:
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        return OutputClosed()

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise self._closed() from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise self._closed() from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


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

    def __init__(
        self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None
    ) -> None:
        super().__init__(prog, indent_increment, max_help_position, _terminal_columns() - 2 if width is None else width)


class _ArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser (and its sub-command parsers) with :class:`_HelpFormatter`."""

    def __init__(
        self, *args: Any, build: Callable[[argparse.ArgumentParser], None] | None = None, **kwargs: Any
    ) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)
        self._build = build
        """Adds this (sub-command) parser's arguments on first use: parsing, usage or help."""

    def _built(self) -> None:
        build, self._build = self._build, None
        if build is not None:
            build(self)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        self._built()
        return super().parse_known_args(args, namespace)

    def format_usage(self) -> str:
        self._built()
        return super().format_usage()

    def format_help(self) -> str:
        self._built()
        return super().format_help()


def _translations_once() -> None:
    """Look each of argparse's own texts up in the message catalogues once, not at every use.

    ``gettext`` caches no miss: each of the ~20 texts a parser is built with (``usage:``, ``options``,
    ``show this help message and exit``…) searched the disk for catalogues of every language of the locale
    again, about a millisecond of ``meterui decode``'s start-up (issue #8). The answers are the same."""
    import functools

    translate = getattr(argparse, "_", None)
    if callable(translate) and not hasattr(translate, "cache_info"):
        argparse._ = functools.lru_cache(maxsize=256)(translate)  # type: ignore[attr-defined]


def _parser() -> argparse.ArgumentParser:
    _translations_once()
    p = _ArgumentParser(
        prog="meterui",
        description="Terminal UI and decoder for smart-meter customer ports (HAN/HDLC, Austrian M-Bus, "
        "B-route ECHONET Lite). Without a command: start the app on the saved configuration "
        "(the setup wizard on first run).",
    )
    p.add_argument("--version", action="version", version=f"meterui {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    d = sub.add_parser(
        "decode",
        help="decode a capture headlessly (no UI)",
        description="Decode a capture file or stdin and print the messages.",
    )
    d.add_argument("input", nargs="?", default="-", help="capture file, or - for stdin (default)")
    d.add_argument("--format", choices=INPUT_FORMATS, default="auto", help="input format (default: auto-detect)")
    _key_args(d)
    d.add_argument(
        "--output",
        choices=["text", "json", "tree", "hex", "summary"],
        default="text",
        help="output: text (default), json (one object per line), tree, hex, summary",
    )
    d.add_argument(
        "--invert-deviation",
        action="store_true",
        help="read the date-time deviation with the opposite sign (some meters get it wrong)",
    )
    _profile_args(d, "none")

    sub.add_parser("demo", help="start the app on the bundled demo capture (no hardware needed)")
    # the other commands' arguments are added when that command is parsed or its help shown: `decode`
    # (scripts call it often) never builds them, nor imports the MQTT options' module (start-up, issue #8)
    sub.add_parser("replay", help="open a recorded file for step-through inspection", build=_replay_args)
    sub.add_parser("monitor", help="read a meter port live (the app, or JSON lines with --json)", build=_monitor_args)
    sub.add_parser("simulate", help="run a virtual device on a pseudo-terminal (practice, tests)", build=_simulate_args)
    return p


def _replay_args(r: argparse.ArgumentParser) -> None:
    r.add_argument("file", help="recording, hex, raw or SKSTACK transcript file")
    r.add_argument("--format", choices=INPUT_FORMATS, default="auto")
    _key_args(r)
    _profile_args(r, "system")
    r.add_argument(
        "--speed",
        default="max",
        help="replay speed: max (default: every frame listed at once for inspection), or a factor "
        "such as 1 (real time, following recorded timestamps) or 10",
    )
    from meterui.export.cli import add_mqtt_arguments  # --headless, --mqtt… (issue #11)

    add_mqtt_arguments(r)


def _monitor_args(m: argparse.ArgumentParser) -> None:
    m.add_argument("--port", required=True, help="device path or pyserial URL (socket://host:port, rfc2217://…)")
    m.add_argument(
        "--baud", type=int, default=None, help="baud rate (default 2400, 115200 with --broute-id; 50 to 4000000)"
    )
    m.add_argument("--parity", choices=["N", "E", "O"], default=None, help="parity (default E, N with --broute-id)")
    m.add_argument("--bytesize", type=int, choices=[7, 8], default=8)
    m.add_argument("--stopbits", type=float, choices=[1, 1.5, 2], default=1)
    _key_args(m)
    _profile_args(m, "system")
    m.add_argument("--json", action="store_true", help="no UI: print decode JSON objects live, one per line")
    m.add_argument("--record", metavar="FILE", help="also record what is read to FILE")
    _broute_args(m)
    from meterui.export.cli import add_mqtt_arguments  # --headless, --mqtt… (issue #11)

    add_mqtt_arguments(m)


def _profile_args(p: argparse.ArgumentParser, tz_default: str) -> None:
    p.add_argument(
        "--scale",
        metavar="GROUP=FACTOR[,…]",
        default="",
        help="per-installation scaling override applied after the list's own scaling, e.g. "
        "energy=0.1 (a Swedish Kamstrup sending Wh) or voltage=0.1; groups: energy, power, "
        "voltage, current, pf",
    )
    p.add_argument(
        "--tz",
        metavar="ZONE",
        default=None,
        help="IANA time zone for meter clocks whose UTC deviation is not specified, or 'system' "
        f"(default: {'as sent, no offset' if tz_default == 'none' else 'the system zone'})",
    )


def _profile(args: argparse.Namespace, tz_default: str | None = None) -> MeterProfile | None:
    """The decoding profile from ``--scale`` and ``--tz`` (CliError, exit 2, when malformed)."""
    tz = getattr(args, "tz", None)
    tz = tz if tz is not None else tz_default
    scale = getattr(args, "scale", "")
    if not scale and tz is None:
        return None  # what meter_profile() gives, without importing the config module (start-up)
    from meterui.config import meter_profile

    try:
        return meter_profile(scale, tz)
    except ValueError as exc:
        raise CliError(str(exc)) from None


# -- B-route (issue #10): monitor credentials and the virtual Wi-SUN module ----------------------
def _broute_args(monitor: argparse.ArgumentParser) -> None:
    monitor.add_argument(
        "--broute-id", metavar="ID", help="B-route ID (32 characters; or METERUI_BROUTE_ID): talk to a Wi-SUN module"
    )
    monitor.add_argument(
        "--broute-password", metavar="PW", help="B-route password (12 characters; or METERUI_BROUTE_PASSWORD)"
    )


def _simulate_args(s: argparse.ArgumentParser) -> None:
    ssub = s.add_subparsers(dest="device", metavar="DEVICE", required=True)
    b = ssub.add_parser(
        "broute",
        help="a virtual Wi-SUN module (SKSTACK-IP) with a smart meter behind it",
        description="Emulate a BP35A1 (a1) or BP35C2 (c2) module and a B-route meter on a pty. "
        "Without --id/--password it accepts the built-in practice credentials "
        "(meterui.simulate.broute.DEFAULT_ID / DEFAULT_PASSWORD).",
    )
    b.add_argument("--link", metavar="PATH", required=True, help="keep a symlink to the pty at PATH")
    b.add_argument("--dialect", choices=["a1", "c2"], default="a1", help="module family (default a1)")
    b.add_argument(
        "--data-mode",
        choices=["binary", "hex"],
        default="binary",
        help="ERXUDP data format before any WOPT (default binary)",
    )
    b.add_argument("--id", metavar="ID", help="the B-route ID the meter accepts (or METERUI_BROUTE_ID)")
    b.add_argument("--password", metavar="PW", help="the password the meter accepts (or METERUI_BROUTE_PASSWORD)")
    b.add_argument("--time-scale", type=float, default=1.0, help="multiply every delay (0.02 = 50x faster)")
    b.add_argument("--seed", type=int, default=0, help="random seed for values and failures")
    b.add_argument("--send-fail-rate", type=float, default=0.02, help="share of sends that fail (EVENT 21 01)")
    b.add_argument(
        "--expire-every", type=float, default=900.0, help="mean seconds between PANA session expiries (0 = never)"
    )
    b.add_argument(
        "--tx-limit-every",
        type=float,
        default=3600.0,
        help="mean seconds between transmit-time limit events (0 = never)",
    )


def broute_credentials(rbid: str | None, password: str | None) -> tuple[str, str] | None:
    """Validated (ID, password) from the arguments or the environment; ``None`` when neither is given."""
    from meterui.broute.credentials import CredentialError, validate_id, validate_password

    rbid = rbid or os.environ.get("METERUI_BROUTE_ID")
    password = password or os.environ.get("METERUI_BROUTE_PASSWORD")
    if not rbid and not password:
        return None
    try:
        return validate_id(rbid), validate_password(password)
    except CredentialError as exc:  # its message never contains the value
        raise CliError(str(exc)) from None


def cmd_simulate(args: argparse.Namespace) -> int:
    import threading

    from meterui.simulate.broute import DEFAULT_ID, DEFAULT_PASSWORD, PtyModule, VirtualModule

    if not args.time_scale > 0:
        raise CliError("--time-scale must be positive")
    if not 0 <= args.send_fail_rate <= 1:
        raise CliError("--send-fail-rate must be between 0 and 1")
    creds = broute_credentials(
        args.id or os.environ.get("METERUI_BROUTE_ID") or DEFAULT_ID,
        args.password or os.environ.get("METERUI_BROUTE_PASSWORD") or DEFAULT_PASSWORD,
    )
    assert creds is not None
    module = VirtualModule(
        args.dialect,
        hex_mode=args.data_mode == "hex",
        rbid=creds[0],
        password=creds[1],
        time_scale=args.time_scale,
        seed=args.seed,
        send_fail_rate=args.send_fail_rate,
        expire_every=args.expire_every or None,
        tx_limit_every=args.tx_limit_every or None,
    )
    try:
        sim = PtyModule(module, link=args.link)
    except OSError as exc:
        raise CliError(f"{args.link}: cannot create the link ({exc.strerror or exc})") from None
    print(
        f"virtual {'BP35A1' if args.dialect == 'a1' else 'BP35C2'} module on {sim.path} (link {args.link}), "
        f"115200 8N1; Ctrl-C to stop",
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sim.close()
    return EXIT_OK


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
        if sys.stdin.isatty():
            print(
                "meterui: reading hex, raw or SKSTACK input from standard input (end with Ctrl-D; "
                "give a file name to decode a file, or see meterui decode --help)",
                file=sys.stderr,
            )
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
    """Yield ``(stream format, bytes)`` chunks from a file in the given or detected format.

    Memory stays bounded: hex text is parsed in pieces of :data:`CHUNK` bytes, however long its lines.
    Each read returns what one system read gives (a terminal's Ctrl-D ends the input at once)."""
    import codecs

    from meterui.protocol.errors import LineError
    from meterui.protocol.inputs import HexStream

    read = getattr(stream, "read1", stream.read)
    try:
        # the head decides the format: a whole chunk (a pipe may deliver a few bytes at first), except
        # from a terminal, where the first line typed is all there is until Ctrl-D
        head = read(CHUNK) if stream.isatty() else stream.read(CHUNK)
    except OSError as exc:
        raise CliError(f"{name}: cannot read ({exc.strerror or exc})") from None
    if fmt == "auto":
        fmt = detect_format(head)
    decoder_fmt = "skstack" if fmt == "skstack" else "raw"
    if fmt != "hex":
        data = head
        while data:
            yield decoder_fmt, data
            data = read(CHUNK)
        return
    hexs = HexStream()
    text = codecs.getincrementaldecoder("utf-8")("replace")
    data = head
    # a meterui recording may hold a B-route session (SKSTACK lines): let the decoder tell from the bytes
    hex_fmt = "auto" if head.lstrip().startswith(b"# meterui recording") else "raw"
    try:
        while data:
            yield hex_fmt, hexs.feed(text.decode(data))
            data = read(CHUNK)
        yield hex_fmt, hexs.feed(text.decode(b"", final=True)) + hexs.finish()
    except LineError as exc:
        raise CliError(f"{name}: {exc.message}") from None


class _CollectBetweenBatches:
    """A sink of ``decode`` that only notes each batch handed out, so that the garbage collector runs
    when the fewest messages are alive: at the next decoder feed, once the batch is gone. Messages are
    cyclic (parent and child nodes), so only the collector frees them; collected young, right after
    they die, none is promoted and traversed again by an older generation's collection (at a fixed
    threshold, a third of ``decode``'s collector time, issue #8). The threshold of
    :func:`_few_gc_passes` stays as the safety net."""

    def __init__(self) -> None:
        self._posted = False
        self._collections = 0

    def on_messages(self, messages: Sequence[Message], stats: PipelineStats) -> None:
        self._posted = True

    def on_event(self, event: PipelineEvent) -> None:
        pass

    def close(self) -> None:
        pass

    def before_feed(self) -> None:
        if not self._posted:
            return
        import gc

        self._posted = False
        self._collections += 1
        # now and then the older generations too: what survived (the rest of a batch) dies later
        gen = 2 if self._collections % 512 == 0 else 1 if self._collections % 32 == 0 else 0
        gc.collect(gen)


def cmd_decode(args: argparse.Namespace) -> int:
    from meterui.pipeline import Pipeline
    from meterui.protocol.decoder import StreamDecoder
    from meterui.render import RENDERERS, render_summary
    from meterui.sinks.output import RenderSink
    from meterui.sources.stream import IterSource

    key, auth = _keys(args)
    profile = _profile(args)
    stream = _open_input(args.input)
    name = "stdin" if args.input == "-" else args.input
    out = sys.stdout
    batches = _CollectBetweenBatches()

    class Decoder(StreamDecoder):
        def feed(self, data: bytes, received: float | None = None) -> list[Message]:
            batches.before_feed()
            return super().feed(data, received)

    try:
        source = IterSource(iter_input(stream, args.format, name), name)
        pipeline = Pipeline(
            source,
            key=key,
            auth_key=auth,
            invert_deviation=args.invert_deviation,
            speed=float("inf"),
            decoder_factory=lambda fmt: Decoder(
                key, auth, fmt, invert_deviation=args.invert_deviation, profile=profile, hold_unscaled=True
            ),
        )
        sink = None
        if args.output != "summary":
            sink = RenderSink(out, RENDERERS[args.output], on_failure=pipeline.stop)
        pipeline.run(sinks=[sink, batches] if sink is not None else [batches])
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
    if text.strip().lower() == "max":
        return float("inf")
    try:
        value = float(text.strip().lower().rstrip("x×"))
    except ValueError:
        raise CliError(f"--speed: {text[:40]!r} is not a number or 'max'") from None
    if not math.isfinite(value) or value <= 0:
        raise CliError(f"--speed: {text[:40]!r} is not a positive number; use a factor such as 1 or 10, or 'max'")
    return value


def _check_app_args(args: argparse.Namespace) -> None:
    """Refuse bad arguments of the app commands before anything starts (one line, exit 2)."""
    from meterui.config import check_baudrate

    if args.command == "replay":
        args.speed_value = _speed(args.speed)
    if args.command == "monitor":
        try:
            if args.baud is not None:
                check_baudrate(args.baud, "--baud")
        except ValueError as exc:
            raise CliError(str(exc)) from None
        if args.record:
            from meterui.sources.base import SourceError
            from meterui.sources.recording import check_record_target

            try:
                check_record_target(args.record)
            except SourceError as exc:
                raise CliError(f"--record: {exc}") from None
    if args.command in ("replay", "monitor"):
        _keys(args)


def _secrets(args: argparse.Namespace) -> list[bytes | str | None]:
    """Every key the user may have given, as typed and as bytes (for redacting internal errors)."""
    from meterui.crash import env_secrets
    from meterui.protocol.keys import parse_key

    found: list[bytes | str | None] = [
        getattr(args, "key", None),
        getattr(args, "auth_key", None),
        *env_secrets(),
        getattr(args, "broute_id", None),
        getattr(args, "broute_password", None),
        os.environ.get("METERUI_BROUTE_ID"),
        os.environ.get("METERUI_BROUTE_PASSWORD"),
    ]
    for text in list(found):
        with contextlib.suppress(Exception):
            found.append(parse_key(text))
    return found


@contextlib.contextmanager
def _few_gc_passes() -> Iterator[None]:
    """Run the cyclic garbage collector less often while decoding. Each message's tree links parent and
    children, so it is freed by the collector, not by reference counting; at the default threshold
    (700 allocations) the messages of one input chunk, still alive, are traversed and promoted over and
    over, about 10 % of ``meterui decode``'s time. :class:`_CollectBetweenBatches` collects after each
    batch instead; the threshold (50,000: some MB of garbage) is only a safety net should batches stall."""
    import gc

    before = gc.get_threshold()
    gc.set_threshold(_GC_THRESHOLD, 50, 50)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def cmd_app(args: argparse.Namespace) -> int:
    # Textual paints at most TEXTUAL_FPS times a second, so a change waits up to one frame (17 ms at its default
    # 60) before it is drawn. The app asks for a redraw at most 4 times a second (REFRESH_INTERVAL), so a higher
    # cap costs no CPU and takes a frame's wait or two off the first readings (issue #8). The user's value wins.
    os.environ.setdefault("TEXTUAL_FPS", "240")
    from meterui.launch import launch

    args.keys = _keys(args) if args.command in ("monitor", "replay") else (None, None)
    return launch(args, CliError)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    headless = args.command == "decode" or (args.command == "monitor" and args.json)
    saved_stdout = sys.stdout
    if headless and not isinstance(sys.stdout, _GuardedStdout):
        sys.stdout = _GuardedStdout(sys.stdout)  # type: ignore[assignment]
    try:
        if args.command == "decode":
            with _few_gc_passes():
                return cmd_decode(args)
        if args.command == "simulate":
            return cmd_simulate(args)
        _check_app_args(args)
        if args.command in ("replay", "monitor"):
            args.profile = _profile(args, "system")
        if args.command == "monitor":
            args.broute = broute_credentials(args.broute_id, args.broute_password)
        return cmd_app(args)
    except CliError as exc:
        print(f"meterui: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except (OutputClosed, BrokenPipeError):
        # the reader went away (e.g. `| head`): not an error worth a traceback
        _GuardedStdout(saved_stdout)._closed()
        return EXIT_OK
    except Exception as exc:
        from meterui.crash import report

        print(report(exc, _secrets(args), where=f"meterui {args.command or 'app'}"), file=sys.stderr)
        return EXIT_INTERNAL
    finally:
        sys.stdout = saved_stdout


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
