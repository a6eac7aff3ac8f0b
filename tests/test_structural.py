"""The run-time seam protocols (:mod:`meterui.protocol.structural`) answer ``isinstance`` as the
``typing`` protocols they stand in for: each is compared with a ``@runtime_checkable`` ``typing.Protocol``
built from the same class body, over every class of the project (and of the tests' fakes)."""

from __future__ import annotations

import importlib
import math
import pkgutil
import types
import typing
from pathlib import Path

import pytest

import meterui
from meterui.pipeline import Decoder, Pipeline
from meterui.protocol import structural
from meterui.sessions.base import Session
from meterui.sinks.base import BoundedSink, ByteSink, Sink
from meterui.sinks.basic import CallbackSink
from meterui.sinks.output import RenderSink
from meterui.sources.base import CancellableSource, ReconnectingSource, Source, WritableSource
from meterui.sources.replay import ReplaySource
from tests.conftest import kamstrup_body, plain_hdlc

PROTOCOLS: list[type] = [
    Sink,
    ByteSink,
    BoundedSink,
    Source,
    ReconnectingSource,
    CancellableSource,
    WritableSource,
    Session,
]
_OWN = {"__dict__", "__weakref__", "_is_protocol", "_is_runtime_protocol", "_protocol_members", "_protocol_methods"}


def _typing_twin(cls: type, twins: dict[type, type]) -> type:
    """A ``typing`` protocol with ``cls``'s body and the twins of its protocol bases."""
    if cls not in twins:
        bases = tuple(_typing_twin(b, twins) for b in cls.__bases__ if b is not structural.Protocol)
        body = {k: v for k, v in vars(cls).items() if k not in _OWN}
        twin = types.new_class(cls.__name__, (*bases, typing.Protocol), exec_body=lambda ns: ns.update(body))
        twins[cls] = typing.runtime_checkable(twin)
    return twins[cls]


_TWINS: dict[type, type] = {}
TWINS = {cls: _typing_twin(cls, _TWINS) for cls in PROTOCOLS}


def _project_classes() -> list[type]:
    modules = [meterui.__name__]
    modules += [m.name for m in pkgutil.walk_packages(meterui.__path__, "meterui.") if not m.name.endswith("__main__")]
    modules += ["tests.test_pipeline_seams", "tests.test_mqtt", "tests.test_sources", "tests.test_broute"]
    found: list[type] = []
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError:  # pragma: no cover - an optional dependency is missing
            continue
        for value in vars(module).values():
            if isinstance(value, type) and value.__module__ == name:
                found.append(value)
                found += [v for v in vars(value).values() if isinstance(v, type) and v.__module__ == name]
    return found


def _bare_instances() -> list[object]:
    """One instance of every project class that can be made without ``__init__`` (attributes set in
    ``__init__`` are missing alike for both implementations)."""
    out: list[object] = []
    for cls in _project_classes():
        try:
            out.append(cls.__new__(cls))  # type: ignore[call-overload]
        except Exception:
            continue
    return out


def _built_instances(tmp_path: Path) -> list[object]:
    path = tmp_path / "one.hex"
    path.write_text(plain_hdlc(kamstrup_body()).hex() + "\n")

    class MethodBlocked(CallbackSink):
        on_event = None  # type: ignore[assignment]

    class WithProperties:
        live = False
        decoder_format = "auto"
        description = "x"

        def open(self) -> None: ...
        def read(self, timeout: float = 0.2) -> None: ...
        def close(self) -> None: ...

    import io

    from meterui.broute.session import BrouteSession
    from meterui.simulate.broute import DEFAULT_ID, DEFAULT_PASSWORD
    from meterui.sources.serial_port import SerialSource
    from tests.test_pipeline_seams import EchoSession

    return [
        SerialSource("/dev/does-not-exist-meterui", 2400, "E", 8, 1),
        BrouteSession(DEFAULT_ID, DEFAULT_PASSWORD),
        EchoSession(),
        CallbackSink(lambda messages, stats: None),
        MethodBlocked(lambda messages, stats: None),
        RenderSink(io.StringIO(), str),
        ReplaySource(path),
        WithProperties(),
        Pipeline(ReplaySource(path), speed=math.inf),
        object(),
        None,
        "text",
        io.BytesIO(),
    ]


def test_members_are_typing_s_protocol_attributes() -> None:
    for cls, twin in TWINS.items():
        assert set(cls._protocol_members) == typing._get_protocol_attrs(twin), cls  # type: ignore[attr-defined]


def test_isinstance_answers_as_typing_over_the_project_s_classes(tmp_path: Path) -> None:
    objects = _bare_instances() + _built_instances(tmp_path)
    assert len(objects) > 100
    hits = dict.fromkeys(PROTOCOLS, 0)
    for obj in objects:
        for cls, twin in TWINS.items():
            try:
                expected: bool | type = isinstance(obj, twin)
            except Exception as exc:  # a property that raises something else than AttributeError
                expected = type(exc)
            try:
                got: bool | type = isinstance(obj, cls)
            except Exception as exc:
                got = type(exc)
            assert got == expected, (type(obj), cls)
            hits[cls] += got is True
    assert all(hits.values()), hits  # each protocol matched something


def test_protocols_are_not_instantiable_and_checks_need_runtime_checkable() -> None:
    with pytest.raises(TypeError):
        Sink()  # type: ignore[misc]
    with pytest.raises(TypeError):
        isinstance(object(), Decoder)  # type: ignore[misc]
    with pytest.raises(TypeError):
        structural.runtime_checkable(CallbackSink)


def test_the_seam_protocols_are_the_run_time_stand_ins() -> None:
    for cls in [*PROTOCOLS, Decoder]:
        assert type(cls).__module__ == structural.__name__, cls


def _edge_cases() -> list[object]:
    """Objects where a class-level and an instance-level look-up differ."""

    class Methods:
        def on_messages(self, messages: object, stats: object) -> None: ...
        def on_event(self, event: object) -> None: ...
        def close(self) -> None: ...

    class Blocked(Methods):
        close = None  # type: ignore[assignment]

    class Slots:
        __slots__ = ("close", "on_event", "on_messages")

    class Dynamic:
        def __getattr__(self, name: str) -> object:
            return lambda *args: None

    class Raising:
        live = False
        decoder_format = "auto"

        @property
        def description(self) -> str:
            raise AttributeError("not yet")

        def open(self) -> None: ...
        def read(self, timeout: float = 0.2) -> None: ...
        def close(self) -> None: ...

    blocked_on_instance = Methods()
    blocked_on_instance.close = None  # type: ignore[method-assign, assignment]
    given_on_instance = Blocked()
    given_on_instance.__dict__["close"] = lambda: None
    filled = Slots()
    filled.close = filled.on_event = filled.on_messages = lambda *args: None  # type: ignore[attr-defined]
    return [Methods(), Blocked(), blocked_on_instance, given_on_instance, Slots(), filled, Dynamic(), Raising()]


def test_isinstance_answers_as_typing_where_class_and_instance_look_ups_differ() -> None:
    for obj in _edge_cases():
        for cls, twin in TWINS.items():
            assert isinstance(obj, cls) == isinstance(obj, twin), (type(obj).__name__, cls)
