"""Run-time stand-ins for ``typing.Protocol`` and ``typing.runtime_checkable`` that need no ``typing``.

``meterui decode`` starts without importing ``typing`` (issue #8), yet the pipeline checks its sinks and
sources with ``isinstance`` against the seam protocols. Those modules use the real protocols for type
checkers and these at run time::

    TYPE_CHECKING = False
    if TYPE_CHECKING:
        from typing import Protocol, runtime_checkable
    else:
        from meterui.protocol.structural import Protocol, runtime_checkable

``isinstance(obj, P)`` then answers as ``typing`` does for a runtime-checkable protocol. The members
of ``P`` are what its class body and those of its protocol bases define or annotate (methods,
properties, attributes). ``obj`` is an instance when its class is ``P`` or a subclass; or when its
class defines every member, none as ``None`` (Python 3.11: only for a protocol of methods only); or
when ``obj`` has every member and no method member of ``P`` is ``None`` on ``obj``. As in ``typing``,
Python 3.11 looks the members up on ``obj`` with ``hasattr`` and later versions with
``inspect.getattr_static`` (imported at the first such check, as ``typing`` does). A protocol class
cannot be instantiated; ``issubclass`` is the nominal one.
"""

from __future__ import annotations

import sys

_EXCLUDED = frozenset(
    {
        "__abstractmethods__",
        "__annotations__",
        "__class_getitem__",
        "__dict__",
        "__doc__",
        "__final__",
        "__firstlineno__",
        "__init__",
        "__match_args__",
        "__module__",
        "__new__",
        "__non_callable_proto_members__",
        "__orig_bases__",
        "__orig_class__",
        "__parameters__",
        "__protocol_attrs__",
        "__slots__",
        "__static_attributes__",
        "__subclasshook__",
        "__type_params__",
        "__weakref__",
        "_MutableMapping__marker",
        "_is_protocol",
        "_is_runtime_protocol",
        "_protocol_members",
        "_protocol_methods",
    }
)
"""Names that are not protocol members (``typing.EXCLUDED_ATTRIBUTES`` of 3.11 to 3.13, and this
module's own)."""

_CLASS_CHECK_ALL = sys.version_info >= (3, 12)
"""Whether the class-level check applies to every protocol, not only to those of methods only."""


def _class_has_members(klass: type, members: tuple[str, ...]) -> bool:
    """``klass`` (or a base) defines each of ``members``, none as ``None`` (``typing``'s ``_proto_hook``)."""
    protocol = isinstance(klass, _ProtocolMeta) and klass._is_protocol
    for attr in members:
        for base in klass.__mro__:
            if attr in base.__dict__:
                if base.__dict__[attr] is None:
                    return False
                break
            if protocol and attr in vars(base).get("__annotations__", {}):
                break
        else:
            return False
    return True


if sys.version_info >= (3, 12):

    def _has_member(instance: object, attr: str, method: bool) -> bool:
        from inspect import getattr_static

        try:
            value = getattr_static(instance, attr)
        except AttributeError:
            return False
        return not method or value is not None

else:

    def _has_member(instance: object, attr: str, method: bool) -> bool:
        return hasattr(instance, attr) and (not method or getattr(instance, attr) is not None)


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
        members, methods = cls._protocol_members, cls._protocol_methods
        if (_CLASS_CHECK_ALL or len(methods) == len(members)) and _class_has_members(type(instance), members):
            return True
        return all(_has_member(instance, attr, attr in methods) for attr in members)


class Protocol(metaclass=_ProtocolMeta):
    """Base class of a structural protocol (as ``typing.Protocol``, without generics)."""

    __slots__ = ()


def runtime_checkable(cls: type) -> type:
    """Allow ``isinstance`` checks against the protocol class ``cls`` (as ``typing.runtime_checkable``)."""
    if not isinstance(cls, _ProtocolMeta) or not cls._is_protocol:
        raise TypeError(f"@runtime_checkable can be only applied to protocol classes, got {cls!r}")
    cls._is_runtime_protocol = True
    return cls
