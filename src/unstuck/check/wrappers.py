"""Middleware and exception handlers: code that runs around the routes of an app.

``Wrappers.add`` records, per app, what ``registrations`` finds: ``@app.middleware("http")``
functions, ``add_middleware`` of a ``BaseHTTPMiddleware`` subclass (its ``dispatch``
runs per request), of a pure ASGI class (its ``__call__``), of a factory (what it
returns) or of a library's class (by name), and exception handlers from
``@app.exception_handler`` or ``add_exception_handler``.
"""

from __future__ import annotations

from dataclasses import dataclass

from unstuck.check.program import Program
from unstuck.check.values import (
    Class,
    Function,
    Instance,
    Key,
    LibraryInstance,
    LibraryObject,
    RouterKey,
    Value,
)

MIDDLEWARE = "middleware"
EXCEPTION_HANDLER = "exception handler"
# decorators and calls that add them, by the name of the method
DECORATORS = {"middleware": MIDDLEWARE, "exception_handler": EXCEPTION_HANDLER}
_BASE_HTTP_MIDDLEWARE = frozenset({"starlette.middleware.base.BaseHTTPMiddleware"})


@dataclass(frozen=True, slots=True)
class Wrapper:
    kind: str  # MIDDLEWARE or EXCEPTION_HANDLER
    name: str
    function: Key | None  # None: a library's (CORSMiddleware, ...)


class Wrappers:
    def __init__(self, program: Program) -> None:
        self.program = program
        self._by_app: dict[RouterKey, list[Wrapper]] = {}

    def of(self, app: RouterKey) -> list[Wrapper]:
        return self._by_app.get(app, [])

    def add(self, kind: str, values: frozenset[Value], apps: list[RouterKey]) -> None:
        """What ``values`` (functions, classes, library classes) add to ``apps``."""
        # A set's order follows the hash seed: sorted, the report is the same every run.
        for value in sorted(values, key=repr):
            wrapper: Wrapper | None = None
            match value:
                case Function(key):
                    wrapper = Wrapper(kind, _dotted(key), key)
                case Class(key):
                    wrapper = self._middleware_class(kind, key)
                case LibraryObject(name):
                    wrapper = Wrapper(kind, name, None)
            if wrapper is not None:
                for app in apps:
                    self._by_app.setdefault(app, []).append(wrapper)

    def add_middleware(self, values: frozenset[Value], apps: list[RouterKey]) -> None:
        """``add_middleware`` takes a class or a factory: a function called once with
        the app, whose result is the middleware that runs per request."""
        made: set[Value] = set()
        for value in values:
            if not isinstance(value, Function):
                made.add(value)
                continue
            for result in self.program.returns_of(value.key):
                if isinstance(result, Instance):
                    made.add(Class(result.key))
                elif isinstance(result, LibraryInstance):
                    made.add(LibraryObject(result.cls))
        self.add(MIDDLEWARE, frozenset(made), apps)

    def _middleware_class(self, kind: str, klass: Key) -> Wrapper:
        """A ``BaseHTTPMiddleware`` runs its ``dispatch`` per request; a pure ASGI
        middleware its ``__call__``."""
        program = self.program
        is_base = any(
            isinstance(entry, LibraryObject) and entry.name in _BASE_HTTP_MIDDLEWARE
            for entry in program.mro(klass)
        )
        method = program.method(klass, "dispatch" if is_base else "__call__")
        return Wrapper(kind, _dotted(method or klass), method)


def _dotted(key: Key) -> str:
    return f"{key[0]}.{key[1]}"
