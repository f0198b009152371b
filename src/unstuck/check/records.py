"""Plain records for what every run of the checker handles: its configuration, the
files it finds and the report it prints (or reads back from the cache).

They behave as the dataclasses they replace (equal and shown by their fields, frozen
ones hashable, pickled by value, matched by position) without importing
``dataclasses``, which imports ``inspect`` and with it ``dis``, ``ast`` and ``tokenize``:
with the classes it builds, a third of the checker's start. A record names its fields
in order in ``__match_args__``, makes them its ``__slots__`` and sets them in
``__init__``; the fields of a frozen one are ``Final``, so the type checker refuses any
later assignment. The analysis, only loaded when there are files, keeps dataclasses.
"""

from __future__ import annotations


class Record:
    """Compared, shown and pickled by its fields; mutable, so unhashable (as a
    dataclass that is not frozen)."""

    __slots__ = ()
    __match_args__: tuple[str, ...]

    def _fields(self) -> tuple[object, ...]:
        return tuple([getattr(self, name) for name in self.__match_args__])

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self) or not isinstance(other, Record):
            return NotImplemented
        return self._fields() == other._fields()

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__match_args__)
        return f"{type(self).__qualname__}({shown})"

    def __reduce__(self) -> tuple[type[Record], tuple[object, ...]]:
        # rebuilt as ``Class(*fields)``: a record's ``__init__`` takes its fields in order
        return (type(self), self._fields())


class FrozenRecord(Record):
    """A record whose fields never change after ``__init__``: hashable by them."""

    __slots__ = ()

    def __hash__(self) -> int:
        return hash(self._fields())
