"""What the checker reports: findings, the chain of calls behind each, unreadable files.

Plain records with the JSON shape of ``--format json``, kept apart from the expression
model so that a run whose report comes from the cache loads nothing else (``records``:
not dataclasses, which are slow to import).
"""

from __future__ import annotations

from unstuck.check.records import FrozenRecord

# Not typing.TYPE_CHECKING: ``typing`` is not otherwise needed to start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final


class ChainLink(FrozenRecord):
    __match_args__ = ("path", "line", "function")
    __slots__ = __match_args__

    def __init__(self, path: str, line: int, function: str) -> None:
        self.path: Final = path
        self.line: Final = line
        self.function: Final = function

    def as_json(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "function": self.function}


class Finding(FrozenRecord):
    __match_args__ = (
        "code",
        "path",
        "line",
        "column",
        "message",
        "severity",
        "route",
        "chain",
        "routes",
        "entries",
        "once",
    )
    __slots__ = __match_args__

    def __init__(
        self,
        code: str,
        path: str,
        line: int,
        column: int,
        message: str,
        severity: str,
        route: str | None,  # one of ``routes``, where ``chain`` starts
        chain: tuple[ChainLink, ...],  # the shortest, from where the event loop runs it
        # every route whose request reaches this blocking call
        routes: tuple[str, ...] = (),
        # every line where the event loop enters the (sync) code that reaches it
        entries: tuple[ChainLink, ...] = (),
        # why it runs once per process rather than per request (None: per request)
        once: str | None = None,
    ) -> None:
        self.code: Final = code
        self.path: Final = path
        self.line: Final = line
        self.column: Final = column
        self.message: Final = message
        self.severity: Final = severity
        self.route: Final = route
        self.chain: Final = chain
        self.routes: Final = routes
        self.entries: Final = entries
        self.once: Final = once

    def reached_by(
        self,
        routes: tuple[str, ...],
        entries: tuple[ChainLink, ...] | None = None,
        route: str | None = None,
    ) -> Finding:
        """The same finding, reached by ``routes`` and, when given, entered from
        ``entries``; ``route`` is the one named (by default the first)."""
        return Finding(
            self.code,
            self.path,
            self.line,
            self.column,
            self.message,
            self.severity,
            route or (routes[0] if routes else None),
            self.chain,
            routes,
            self.entries if entries is None else entries,
            self.once,
        )

    def as_json(self) -> dict[str, object]:
        found: dict[str, object] = {
            "code": self.code,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "severity": self.severity,
            "route": self.route,
            "routes": list(self.routes),
            "entries": [link.as_json() for link in self.entries],
            "chain": [link.as_json() for link in self.chain],
        }
        if self.once is not None:
            found["once"] = self.once
        return found


class FileProblem(FrozenRecord):
    __match_args__ = ("path", "reason")
    __slots__ = __match_args__

    def __init__(self, path: str, reason: str) -> None:
        self.path: Final = path
        self.reason: Final = reason

    def as_json(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}
