"""What the route map reports: each route, its dependencies, and what blocks them.

Plain records with the JSON shape of ``--format json``: a ``Route`` holds its handler,
where it runs (``EVENT_LOOP`` or ``THREAD_POOL``, as FastAPI decides from ``async def``
or ``def``), the tree of ``Dependency`` it declares, the ``Blocking`` calls found
in its own code, the middleware and exception handlers it runs through (``Wrapping``),
and the advice that follows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Not typing.TYPE_CHECKING: ``typing`` is not otherwise needed to start, and a report
# read back from the cache needs these records, not the analysis.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from unstuck.check.values import Key

EVENT_LOOP = "event loop"
THREAD_POOL = "thread pool"


@dataclass(slots=True)
class Blocking:
    code: str
    path: str
    line: int
    message: str
    runs: str

    def as_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "path": self.path,
            "line": self.line,
            "message": self.message,
            "runs": self.runs,
        }


@dataclass(slots=True)
class Dependency:
    name: str
    path: str
    line: int
    runs: str
    dependencies: list[Dependency] = field(default_factory=list)
    blocking: list[Blocking] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "location": {"path": self.path, "line": self.line} if self.path else None,
            "runs": self.runs,
            "dependencies": [dependency.as_json() for dependency in self.dependencies],
            "blocking": [item.as_json() for item in self.blocking],
        }


@dataclass(slots=True)
class Wrapping:
    """Middleware or an exception handler of an app the route is served by: it runs
    around the route (an exception handler when the route raises), so what blocks in
    it blocks the route too."""

    kind: str  # "middleware" or "exception handler"
    name: str
    path: str  # "" for a library's
    line: int
    runs: str
    blocking: list[Blocking] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "name": self.name,
            "location": {"path": self.path, "line": self.line} if self.path else None,
            "runs": self.runs,
            "blocking": [item.as_json() for item in self.blocking],
        }


@dataclass(slots=True)
class Route:
    methods: list[str]
    path: str
    handler: str
    handler_key: Key
    location: tuple[str, int]
    runs: str
    dependencies: list[Dependency]
    blocking: list[Blocking]
    advice: str
    loop_functions: set[Key]  # coroutines that serve this route
    wrapped_by: list[Wrapping] = field(default_factory=list)

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
