"""Plain record classes with a dataclass's ``repr``, equality and (frozen) immutability.

The classes that ``meterui decode`` imports use these instead of ``@dataclass``: importing
``dataclasses`` imports ``inspect`` (and ``ast``, ``dis``, ``tokenize`` with it), several milliseconds
of a one-frame decode's start-up (issue #8). A subclass lists its fields in ``__slots__``, in
constructor order, and writes its ``__init__``; ``repr`` and ``==`` then behave as a dataclass's do:
``Name(field=value, …)``, and equal when of the same class with equal field tuples.
"""

from __future__ import annotations

from typing import Any


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
