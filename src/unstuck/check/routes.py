"""What the route map reports: each route, its dependencies, and what blocks them.

Plain records with the JSON shape of ``--format json``: a ``Route`` holds its handler,
where it runs (``EVENT_LOOP`` or ``THREAD_POOL``, as FastAPI decides from ``async def``
or ``def``), the tree of ``Dependency`` it declares, the ``Blocking`` calls found
in its own code, the middleware and exception handlers it runs through (``Wrapping``),
and the advice that follows. They are ``records``, not dataclasses (slow to import): a
report read back from the cache needs these classes.
"""

from __future__ import annotations

from unstuck.check.records import Record

# Not typing.TYPE_CHECKING: ``typing`` is not otherwise needed to start, and a report
# read back from the cache needs these records, not the analysis.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from unstuck.check.values import Key

EVENT_LOOP = "event loop"
THREAD_POOL = "thread pool"


class Blocking(Record):
    __match_args__ = ("code", "path", "line", "message", "runs")
    __slots__ = __match_args__

    def __init__(self, code: str, path: str, line: int, message: str, runs: str) -> None:
        self.code = code
        self.path = path
        self.line = line
        self.message = message
        self.runs = runs

    def as_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "path": self.path,
            "line": self.line,
            "message": self.message,
            "runs": self.runs,
        }


class Dependency(Record):
    __match_args__ = ("name", "path", "line", "runs", "dependencies", "blocking")
    __slots__ = __match_args__

    def __init__(
        self,
        name: str,
        path: str,
        line: int,
        runs: str,
        dependencies: list[Dependency] | None = None,
        blocking: list[Blocking] | None = None,
    ) -> None:
        self.name = name
        self.path = path
        self.line = line
        self.runs = runs
        self.dependencies = [] if dependencies is None else dependencies
        self.blocking = [] if blocking is None else blocking

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "location": {"path": self.path, "line": self.line} if self.path else None,
            "runs": self.runs,
            "dependencies": [dependency.as_json() for dependency in self.dependencies],
            "blocking": [item.as_json() for item in self.blocking],
        }


class Wrapping(Record):
    """Middleware or an exception handler of an app the route is served by: it runs
    around the route (an exception handler when the route raises), so what blocks in
    it blocks the route too."""

    __match_args__ = ("kind", "name", "path", "line", "runs", "blocking")
    __slots__ = __match_args__

    def __init__(
        self,
        kind: str,  # "middleware" or "exception handler"
        name: str,
        path: str,  # "" for a library's
        line: int,
        runs: str,
        blocking: list[Blocking] | None = None,
    ) -> None:
        self.kind = kind
        self.name = name
        self.path = path
        self.line = line
        self.runs = runs
        self.blocking = [] if blocking is None else blocking

    def as_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "name": self.name,
            "location": {"path": self.path, "line": self.line} if self.path else None,
            "runs": self.runs,
            "blocking": [item.as_json() for item in self.blocking],
        }


class Route(Record):
    __match_args__ = (
        "methods",
        "path",
        "handler",
        "handler_key",
        "location",
        "runs",
        "dependencies",
        "blocking",
        "advice",
        "loop_functions",
        "wrapped_by",
    )
    __slots__ = __match_args__

    def __init__(
        self,
        methods: list[str],
        path: str,
        handler: str,
        handler_key: Key,
        location: tuple[str, int],
        runs: str,
        dependencies: list[Dependency],
        blocking: list[Blocking],
        advice: str,
        loop_functions: set[Key],  # coroutines that serve this route
        wrapped_by: list[Wrapping] | None = None,
    ) -> None:
        self.methods = methods
        self.path = path
        self.handler = handler
        self.handler_key = handler_key
        self.location = location
        self.runs = runs
        self.dependencies = dependencies
        self.blocking = blocking
        self.advice = advice
        self.loop_functions = loop_functions
        self.wrapped_by = [] if wrapped_by is None else wrapped_by

    @property
    def label(self) -> str:
        return f"{','.join(self.methods)} {self.path}"

    def as_json(self) -> dict[str, object]:
        return {
            "methods": self.methods,
            "path": self.path,
            "handler": self.handler,
            "location": {"path": self.location[0], "line": self.location[1]},
            "runs": self.runs,
            "dependencies": [dependency.as_json() for dependency in self.dependencies],
            "blocking": [item.as_json() for item in self.blocking],
            "wrapped_by": [item.as_json() for item in self.wrapped_by],
            "advice": self.advice,
        }
