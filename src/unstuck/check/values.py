"""The abstract values that ``program`` evaluates expressions to, one class per kind.

    Module(name)                 a project module
    Function(key)                a project function (``key``: module, qualname)
    Class(key) / Instance(key)   a project class, an instance of it
    Super(key)                   ``super()`` in that class
    Router(key)                  a FastAPI app or APIRouter, by the place it is created
    LibraryObject("pkg.name")    a library module, function or class
    LibraryInstance("pkg.Class") an instance of a library class
    LibraryMethod(cls, name)     a method of a library instance
    SessionFactory(made)         ``sessionmaker(...)``: calling it makes the ``made`` values
    TaskMethod(key, name)        ``task.delay`` / ``task.apply_async`` of a Celery task
    Depends(callables)           ``Depends(...)`` / ``Security(...)``
    AnnotatedType(types, depends)   ``Annotated[T, Depends(...)]``
    Text(value)                  a known string (a path, a prefix)

Values are small, frozen and hashable: the analysis keeps them in frozensets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

Key: TypeAlias = tuple[str, str]  # (module, qualname)
RouterKey: TypeAlias = tuple[str, int, int]  # (module, line, column) of its creation


@dataclass(frozen=True, slots=True)
class Module:
    name: str


@dataclass(frozen=True, slots=True)
class Function:
    key: Key


@dataclass(frozen=True, slots=True)
class Class:
    key: Key


@dataclass(frozen=True, slots=True)
class Instance:
    key: Key


@dataclass(frozen=True, slots=True)
class Super:
    key: Key


@dataclass(frozen=True, slots=True)
class Router:
    key: RouterKey


@dataclass(frozen=True, slots=True)
class LibraryObject:
    name: str


@dataclass(frozen=True, slots=True)
class LibraryInstance:
    cls: str


@dataclass(frozen=True, slots=True)
class LibraryMethod:
    cls: str
    name: str


@dataclass(frozen=True, slots=True)
class SessionFactory:
    made: frozenset[Value]


@dataclass(frozen=True, slots=True)
class TaskMethod:
    task: Key
    name: str


@dataclass(frozen=True, slots=True)
class Depends:
    callables: frozenset[Value]


@dataclass(frozen=True, slots=True)
class AnnotatedType:
    types: frozenset[Value]
    depends: frozenset[Depends]


@dataclass(frozen=True, slots=True)
class Text:
    value: str


Value: TypeAlias = (
    Module
    | Function
    | Class
    | Instance
    | Super
    | Router
    | LibraryObject
    | LibraryInstance
    | LibraryMethod
    | SessionFactory
    | TaskMethod
    | Depends
    | AnnotatedType
    | Text
)
EMPTY: frozenset[Value] = frozenset()


# The order values are kept in when a set is cut to its first few (``program``).
_RANK = {
    kind: rank
    for rank, kind in enumerate(
        [
            *(AnnotatedType, Class, Depends, LibraryObject, SessionFactory, LibraryInstance),
            *(LibraryMethod, Function, Instance, Text, Module, Router, Super, TaskMethod),
        ]
    )
}


def value_order(value: Value) -> tuple[int, str | tuple[object, ...]]:
    """A total, deterministic order of values: by kind, then by name (the members of a
    set-valued one in order). Sets are walked in this order wherever the order shows in
    the report or decides what is kept, since a set's own order follows the hashes of
    strings, which change from one process to the next."""
    rank = _RANK[type(value)]
    match value:
        case Module(name) | LibraryObject(name) | Text(name):
            return rank, name
        case LibraryInstance(cls):
            return rank, cls
        case LibraryMethod(cls, name):
            return rank, f"{cls}\0{name}"
        case Function(key) | Class(key) | Instance(key) | Super(key):
            return rank, ".".join(key)
        case TaskMethod(key, name):
            return rank, f"{'.'.join(key)}\0{name}"
        case Router(key):
            return rank, ".".join(map(str, key))
        case SessionFactory(made):
            return rank, tuple(sorted(map(value_order, made)))
        case Depends(callables):
            return rank, tuple(sorted(map(value_order, callables)))
        case AnnotatedType(types, depends):
            return rank, (
                tuple(sorted(map(value_order, types))),
                tuple(sorted(map(value_order, depends))),
            )
    return rank, ""
