"""Plain record classes with a dataclass's ``repr``, equality and (frozen) immutability.

The classes that ``meterui decode`` imports use these instead of ``@dataclass``: importing
``dataclasses`` imports ``inspect`` (and ``ast``, ``dis``, ``tokenize`` with it), several milliseconds
of a one-frame decode's start-up (issue #8). A subclass lists its fields in ``__slots__``, in
constructor order, and writes its ``__init__``; ``repr`` and ``==`` then behave as a dataclass's do:
``Name(field=value, …)``, and equal when of the same class with equal field tuples.

:class:`TupleRecord` does the same for ``typing.NamedTuple``, whose class creation needs ``typing`` (also
a few milliseconds): a tuple subclass with named read-only fields and a named tuple's ``repr``.
"""

from __future__ import annotations

from operator import itemgetter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeVar

    _T = TypeVar("_T", bound="TupleRecord")


class FrozenRecordError(AttributeError):
    """Assignment to a field of a frozen record (as ``dataclasses.FrozenInstanceError``)."""


class Record:
    """A mutable record: unhashable, like a dataclass with ``eq=True``."""

    __slots__ = ()

    def _values(self) -> tuple[Any, ...]:
        names: tuple[str, ...] = self.__slots__
        return tuple([getattr(self, name) for name in names])

    def __repr__(self) -> str:
        names: tuple[str, ...] = self.__slots__
        fields = ", ".join([f"{name}={getattr(self, name)!r}" for name in names])
        return f"{type(self).__qualname__}({fields})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined, no-any-return]

    __hash__ = None  # type: ignore[assignment]


class FrozenRecord(Record):
    """An immutable record, hashable by its fields (a frozen dataclass). ``__init__`` assigns with
    ``object.__setattr__``."""

    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenRecordError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenRecordError(f"cannot delete field {name!r}")

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(self._values())


def tuple_field(index: int) -> Any:
    """A read-only field of a :class:`TupleRecord`: item ``index`` of the tuple."""
    return property(itemgetter(index))


class TupleRecord(tuple):  # type: ignore[type-arg]
    """A tuple with named fields, as a ``typing.NamedTuple``: it unpacks, indexes, compares and hashes as
    the tuple of its values. A subclass also names ``tuple[...]`` of its field types as a base, lists its
    fields in ``_fields``, declares each as ``name: type = tuple_field(i)`` and writes its ``__new__``."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def __repr__(self) -> str:
        fields = ", ".join([f"{name}={value!r}" for name, value in zip(self._fields, self, strict=True)])
        return f"{type(self).__name__}({fields})"

    def __getnewargs__(self) -> tuple[Any, ...]:
        return tuple(self)

    def _asdict(self) -> dict[str, Any]:
        return dict(zip(self._fields, self, strict=True))

    def _replace(self: _T, **changes: Any) -> _T:
        values = [changes.pop(name, value) for name, value in zip(self._fields, self, strict=True)]
        if changes:
            raise ValueError(f"Got unexpected field names: {list(changes)!r}")
        return type(self)(*values)
