"""Start-up of ``meterui decode`` (issue #8): what a plaintext decode imports, and the plain record
classes that replaced ``@dataclass`` on that path (their repr, equality, immutability and hashing stay
a dataclass's). Speed itself is measured in ``bench/bench_decode.py``, not asserted here."""

from __future__ import annotations

import dataclasses
import os
import site
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from meterui.cli import _parser
from meterui.protocol.decoder import DecodeContext, DecoderStats
from meterui.protocol.links import LinkProtocol
from meterui.protocol.message import Message
from meterui.protocol.records import FrozenRecordError
from meterui.sessions.base import SessionEvent, SessionOutput
from meterui.sinks.base import PipelineEvent
from meterui.sinks.counters import PipelineStats
from meterui.sources.base import Chunk
from tests.conftest import kamstrup_body, plain_hdlc

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("dataclasses", "inspect", "urllib", "Crypto", "json", "datetime", "typing")


def _new_imports(argv: list[str], tmp_path: Path) -> tuple[set[str], str]:
    """Top-level modules a ``main(argv)`` run imports, in an interpreter started without ``site`` (so an
    editable install's import hook, which imports pathlib and urllib itself, does not hide them)."""
    paths = [str(ROOT), *site.getsitepackages(), site.getusersitepackages()]
    code = (
        "import os, sys; sys.path[:0] = sys.argv[1].split(os.pathsep); before = set(sys.modules)\n"
        "from meterui.cli import main\n"
        "try:\n    rc = main(sys.argv[2:])\nexcept SystemExit as exc:\n    rc = exc.code\n"
        "sys.stdout.flush(); new = sorted({m.split('.')[0] for m in set(sys.modules) - before})\n"
        "print('NEW', ' '.join(new)); sys.exit(rc)"
    )
    proc = subprocess.run(
        [sys.executable, "-S", "-c", code, os.pathsep.join(paths), *argv],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    out, _, new = proc.stdout.rpartition("NEW ")
    return set(new.split()), out


@pytest.mark.parametrize("output", ["json", "summary", "text"])
def test_plaintext_decode_imports_none_of_the_heavy_modules(tmp_path: Path, output: str) -> None:
    path = tmp_path / "plain.hex"
    path.write_text(plain_hdlc(kamstrup_body()).hex() + "\n")
    new, out = _new_imports(["decode", str(path), "--output", output], tmp_path)
    assert "meterui" in new  # the probe sees what the run imports
    assert not new & set(HEAVY), sorted(new & set(HEAVY))
    assert ('"ok": true' if output == "json" else "ok=1" if output == "summary" else "Kamstrup") in out


def test_the_probe_sees_the_modules_the_other_commands_import(tmp_path: Path) -> None:
    # `monitor --help` builds the MQTT options (their module uses urllib, dataclasses and typing): the
    # check above could fail if decode did the same
    new, out = _new_imports(["monitor", "--help"], tmp_path)
    assert "--mqtt" in out and "--broute-id" in out
    assert {"urllib", "dataclasses", "typing"} <= new


@pytest.mark.parametrize(
    ("command", "option"),
    [("replay", "--speed"), ("replay", "--mqtt"), ("monitor", "--record"), ("simulate", "DEVICE")],
)
def test_sub_command_arguments_are_built_when_used(command: str, option: str, capsys: Any) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args([command, "--help"])
    assert option in capsys.readouterr().out
    args = _parser().parse_args(["replay", "f.hex", "--speed", "10"])
    assert (args.command, args.file, args.speed) == ("replay", "f.hex", "10")


# -- the records keep a dataclass's behaviour -----------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Chunk:
    data: bytes
    received: float | None


@dataclasses.dataclass
class _Stats:
    bytes_in: int = 0
    messages: int = 0
    checksum_ok: int = 0
    checksum_bad: int = 0
    skipped_bytes: int = 0


def test_repr_is_a_dataclass_repr() -> None:
    assert repr(Chunk(b"\x01", 2.5)) == repr(_Chunk(b"\x01", 2.5)).replace("_Chunk", "Chunk")
    assert repr(DecoderStats(1, 2, 3)) == repr(_Stats(1, 2, 3)).replace("_Stats", "DecoderStats")
    assert repr(SessionEvent("joined", "PANA ok")) == "SessionEvent(state='joined', text='PANA ok', trouble=False)"


def test_equality_is_by_class_and_fields() -> None:
    assert Chunk(b"a", None) == Chunk(b"a", None)
    assert Chunk(b"a", None) != Chunk(b"a", 1.0)
    assert Chunk(b"a", None) != _Chunk(b"a", None)
    assert PipelineEvent("error", "x", 1.0) != PipelineEvent("error", "x", 1.0, trouble=True)
    assert SessionOutput() == SessionOutput([], None, [])
    assert SessionOutput().writes is not SessionOutput().writes  # a fresh list each, as default_factory
    one = Message(0, "hdlc", [(0, 3)], None, {})  # type: ignore[arg-type]
    assert one == Message(0, "hdlc", [(0, 3)], None, {})  # type: ignore[arg-type]
    assert one != Message(0, "hdlc", [(0, 4)], None, {})  # type: ignore[arg-type]
    assert one.readings == [] and one.warnings == [] and one.ok


def test_frozen_records_refuse_assignment_and_hash_by_fields() -> None:
    chunk = Chunk(b"a", None)
    with pytest.raises(AttributeError):
        chunk.data = b"b"  # type: ignore[misc]
    with pytest.raises(FrozenRecordError):
        del chunk.received
    assert hash(DecodeContext(True, (1, 2))) == hash(DecodeContext(True, (1, 2)))
    assert len({PipelineEvent("sink", "t", 1.0), PipelineEvent("sink", "t", 1.0)}) == 1
    with pytest.raises(TypeError):
        hash(DecoderStats())  # mutable: unhashable, as a dataclass with eq
    with pytest.raises(AttributeError):
        Chunk(b"", None).extra = 1  # type: ignore[attr-defined]


def test_pipeline_stats_replace_and_copy() -> None:
    stats = PipelineStats("replay x.hex", frames_ok=3, errors_by_layer={"line": 1})
    shown = stats.replace(paused=True, speed=10.0)
    assert (shown.paused, shown.speed, shown.frames_ok, shown.source) == (True, 10.0, 3, "replay x.hex")
    assert (stats.paused, stats.speed) == (False, 1.0)
    assert shown.errors_by_layer is stats.errors_by_layer  # shallow, as dataclasses.replace
    copy = stats.copy()
    assert copy == stats and copy.errors_by_layer is not stats.errors_by_layer
    with pytest.raises(TypeError):
        stats.replace(no_such_field=1)


@pytest.mark.parametrize(
    "cls",
    [
        Chunk,
        DecodeContext,
        DecoderStats,
        LinkProtocol,
        Message,
        PipelineEvent,
        PipelineStats,
        SessionEvent,
        SessionOutput,
    ],
)
def test_fields_are_in_constructor_order(cls: type) -> None:
    # repr and == follow __slots__: a linter's sorting of them would change the repr
    code = cls.__init__.__code__  # type: ignore[misc]
    assert tuple(vars(cls)["__slots__"]) == code.co_varnames[1 : code.co_argcount]


def test_decode_collects_between_batches_not_while_messages_are_in_flight() -> None:
    """``decode`` collects the young generation at a decoder feed that follows a posted batch (the
    messages, cyclic trees, are garbage then), and not at feeds while a batch is still building."""
    import gc

    from meterui.cli import _CollectBetweenBatches

    generations: list[int] = []

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            generations.append(info["generation"])

    batches = _CollectBetweenBatches()
    gc.callbacks.append(on_gc)
    try:
        before = gc.get_threshold()
        gc.set_threshold(10**9, 10**9, 10**9)  # no automatic collection during the test
        try:
            batches.before_feed()
            assert generations == []
            batches.on_messages([], PipelineStats("x"))
            batches.before_feed()
            assert generations == [0]
            batches.before_feed()  # no batch since: nothing
            assert generations == [0]
            for _ in range(31):
                batches.on_messages([], PipelineStats("x"))
                batches.before_feed()
            assert generations[-1] == 1 and generations.count(1) == 1  # the older generation now and then
        finally:
            gc.set_threshold(*before)
    finally:
        gc.callbacks.remove(on_gc)


def test_argparse_texts_are_translated_once_and_still_translated(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse
    import gettext

    lookups: list[str] = []

    def counting(text: str) -> str:
        lookups.append(text)
        return gettext.gettext(text).upper() if text == "options" else gettext.gettext(text)

    monkeypatch.setattr(argparse, "_", counting)
    for _ in range(3):
        parser = _parser()
    assert lookups and len(lookups) == len(set(lookups))  # each text looked up once across three parsers
    assert "OPTIONS" in parser.format_help()  # the (cached) translation is what argparse prints


# -- the tuple records keep a typing.NamedTuple's behaviour ---------------------------------------


def _named_tuple_twin(cls: type) -> type:
    """A ``typing.NamedTuple`` with ``cls``'s fields, annotations and defaults."""
    import inspect
    import types
    from typing import NamedTuple

    params = list(inspect.signature(cls.__new__).parameters.values())[1:]
    defaults = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
    body: dict[str, Any] = {
        "__module__": __name__,
        "__annotations__": {p.name: p.annotation for p in params},
        **defaults,
    }
    return types.new_class(cls.__name__, (NamedTuple,), exec_body=lambda ns: ns.update(body))


def _tuple_records() -> list[type]:
    from meterui.protocol.hdlc import HdlcHeader
    from meterui.protocol.lists import Field, PositionalList
    from meterui.protocol.mbus import MbusHeader
    from meterui.protocol.obis import ObisInfo
    from meterui.protocol.readings import Note
    from meterui.protocol.spans import Context, Span

    return [HdlcHeader, MbusHeader, ObisInfo, Field, PositionalList, Note, Span, Context]


@pytest.mark.parametrize("cls", _tuple_records(), ids=lambda cls: cls.__name__)
def test_tuple_records_behave_as_named_tuples(cls: type) -> None:
    import copy
    import pickle

    twin = _named_tuple_twin(cls)
    assert cls._fields == twin._fields  # type: ignore[attr-defined]
    n = len(twin._fields)  # type: ignore[attr-defined]
    values = [f"v{i}" for i in range(n)]
    ours, theirs = cls(*values), twin(*values)
    assert isinstance(ours, tuple) and ours == theirs == tuple(values) and hash(ours) == hash(theirs)
    assert repr(ours) == repr(theirs) and list(ours) == values and ours[-1] == values[-1]
    assert [getattr(ours, name) for name in cls._fields] == values  # type: ignore[attr-defined]
    assert ours._asdict() == theirs._asdict()  # type: ignore[attr-defined]
    changed = ours._replace(**{cls._fields[0]: "new"})  # type: ignore[attr-defined]
    assert type(changed) is cls and changed == theirs._replace(**{cls._fields[0]: "new"})  # type: ignore[attr-defined]
    with pytest.raises(ValueError):
        ours._replace(no_such_field=1)  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        setattr(ours, cls._fields[0], "x")  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        ours.extra = 1  # type: ignore[attr-defined]
    assert pickle.loads(pickle.dumps(ours)) == ours and type(copy.deepcopy(ours)) is cls
    required = n - len(twin._field_defaults)  # type: ignore[attr-defined]
    assert cls(*values[:required]) == twin(*values[:required])
