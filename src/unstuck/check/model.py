"""What the checker knows about a module, and what it reports.

A module is parsed once (possibly in a worker process) into a ``ModuleSummary``:
plain picklable data, no AST. Expressions are kept as small tuples whose first
item says what they are; the global phase evaluates them to values (``program``):

    ("g", name)                      a module-level or builtin name
    ("imp", "pkg.mod.name")          a name bound by ``from ... import``
    ("mod", "pkg.mod")               a name bound by ``import``
    ("a", base, attr)                attribute access
    ("c", func, line, col, args, kwargs)   a call; kwargs is ((name | None, expr), ...)
    ("aw", expr) / ("enter", expr)   ``await expr`` / ``with expr as ...``
    ("p", function, name, annotation, default)   a parameter
    ("ann", annotation)              a variable of an annotated type
    ("self", class) / ("class", class) / ("super", class) / ("fn", function)
    ("sub", base, index) / ("or", a, b) / ("div", a, b) / ("l", items) / ("k", constant)
    ("dict", keys, values)           a dict display
    ("each", iterable) / ("at", each, index)   a loop's item / one part of it unpacked
    ("u",)                           unknown (including lambdas: their body runs elsewhere)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Expr = tuple[Any, ...]
UNKNOWN: Expr = ("u",)


@dataclass(slots=True)
class FunctionSummary:
    qualname: str
    line: int
    col: int
    is_async: bool
    class_qualname: str | None
    decorators: list[Expr]
    params: list[tuple[str, Expr | None, Expr | None]]
    return_annotation: Expr | None
    # (call expression, awaited): an awaited call (or ``async with``/``async for``)
    # returns an awaitable, so it is never the blocking call itself.
    calls: list[tuple[Expr, bool]] = field(default_factory=list)
    attribute_reads: list[tuple[int, int, Expr, str]] = field(default_factory=list)
    returns: list[Expr] = field(default_factory=list)
    yields: list[Expr] = field(default_factory=list)
    loops: list[tuple[int, int, int]] = field(default_factory=list)
    # (line, col) of a call that attaches routes -> the if/match blocks it is in
    branches: dict[tuple[int, int], tuple[tuple[int, int], ...]] = field(default_factory=dict)


@dataclass(slots=True)
class ClassSummary:
    qualname: str
    line: int
    bases: list[Expr]
    methods: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, list[Expr]] = field(default_factory=dict)


@dataclass(slots=True)
class ModuleSummary:
    name: str
    path: str
    is_package: bool
    globals: dict[str, list[Expr]] = field(default_factory=dict)
    star_imports: list[str] = field(default_factory=list)
    functions: dict[str, FunctionSummary] = field(default_factory=dict)
    classes: dict[str, ClassSummary] = field(default_factory=dict)
    # line -> codes suppressed there (None: every code)
    suppressions: dict[int, frozenset[str] | None] = field(default_factory=dict)
    syntax_note: str | None = None


MODULE_BODY = "<module>"


@dataclass(frozen=True, slots=True)
class ChainLink:
    path: str
    line: int
    function: str

    def as_json(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "function": self.function}


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    path: str
    line: int
    column: int
    message: str
    severity: str
    route: str | None
    chain: tuple[ChainLink, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "severity": self.severity,
            "route": self.route,
            "chain": [link.as_json() for link in self.chain],
        }


@dataclass(frozen=True, slots=True)
class FileProblem:
    path: str
    reason: str

    def as_json(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}
