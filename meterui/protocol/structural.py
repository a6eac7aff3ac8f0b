"""Run-time stand-ins for ``typing.Protocol`` and ``typing.runtime_checkable`` that need no ``typing``.

``meterui decode`` starts without importing ``typing`` (issue #8), yet the pipeline checks its sinks and
sources with ``isinstance`` against the seam protocols. Those modules use the real protocols for type
checkers and these at run time::

    TYPE_CHECKING = False
    if TYPE_CHECKING:
        from typing import Protocol, runtime_checkable
    else:
        from meterui.protocol.structural import Protocol, runtime_checkable

``isinstance(obj, P)`` then answers as ``typing`` does (Python 3.11) for a runtime-checkable protocol:
true when ``obj``'s class is ``P`` or a subclass, or when ``obj`` has every member of ``P`` and of its
protocol bases (methods, properties, annotated attributes) and no method member of ``P`` is set to
``None`` on ``obj``. A protocol class cannot be instantiated; ``issubclass`` is the nominal one.
"""

from __future__ import annotations

_EXCLUDED = frozenset(
    {
        "__abstractmethods__",
        "__annotations__",
        "__class_getitem__",
        "__dict__",
        "__doc__",
        "__final__",
        "__init__",
        "__module__",
        "__new__",
        "__orig_bases__",
        "__orig_class__",
        "__parameters__",
        "__slots__",
        "__subclasshook__",
        "__weakref__",
        "_MutableMapping__marker",
        "_is_protocol",
        "_is_runtime_protocol",
        "_protocol_members",
        "_protocol_methods",
    }
)
"""Names that are not protocol members (``typing.EXCLUDED_ATTRIBUTES``, and this module's own)."""


class _ProtocolMeta(type):
    _is_protocol: bool
    _is_runtime_protocol: bool
    _protocol_members: tuple[str, ...]
    _protocol_methods: frozenset[str]

    def __init__(cls, name: str, bases: tuple[type, ...], namespace: dict[str, object]) -> None:
        super().__init__(name, bases, namespace)
        cls._is_protocol = bool(bases) and Protocol in bases
        cls._is_runtime_protocol = False
        cls._protocol_members = ()
        cls._protocol_methods = frozenset()
        if not bases:  # Protocol itself
            return
        members: set[str] = set()
        for base in cls.__mro__[:-1]:
            if base is Protocol:
                continue
            for attr in [*vars(base), *vars(base).get("__annotations__", {})]:
                if not attr.startswith("_abc_") and attr not in _EXCLUDED:
                    members.add(attr)
        cls._protocol_members = tuple(sorted(members))
        cls._protocol_methods = frozenset(attr for attr in members if callable(getattr(cls, attr, None)))

    def __call__(cls, *args: object, **kwargs: object) -> object:
        if cls._is_protocol:
            raise TypeError("Protocols cannot be instantiated")
        return super().__call__(*args, **kwargs)

    def __instancecheck__(cls, instance: object) -> bool:
        if not cls._is_protocol:
            return type.__instancecheck__(cls, instance)
        if not cls._is_runtime_protocol:
            raise TypeError("Instance and class checks can only be used with @runtime_checkable protocols")
        if type.__instancecheck__(cls, instance):
            return True
        methods = cls._protocol_methods
        for attr in cls._protocol_members:
            if not hasattr(instance, attr) or (attr in methods and getattr(instance, attr) is None):
                return False
        return True


class Protocol(metaclass=_ProtocolMeta):
    """Base class of a structural protocol (as ``typing.Protocol``, without generics)."""

    __slots__ = ()


def runtime_checkable(cls: type) -> type:
    """Allow ``isinstance`` checks against the protocol class ``cls`` (as ``typing.runtime_checkable``)."""
    if not isinstance(cls, _ProtocolMeta) or not cls._is_protocol:
        raise TypeError(f"@runtime_checkable can be only applied to protocol classes, got {cls!r}")
    cls._is_runtime_protocol = True
    return cls
