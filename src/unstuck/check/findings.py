"""What the checker reports: findings, the chain of calls behind each, unreadable files.

Plain records with the JSON shape of ``--format json``, kept apart from the expression
model so that a run whose report comes from the cache loads nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass


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
    route: str | None  # the first of ``routes``
    chain: tuple[ChainLink, ...]  # the shortest, from where the event loop runs it
    # every route whose request reaches this blocking call
    routes: tuple[str, ...] = ()
    # every line where the event loop enters the (sync) code that reaches it
    entries: tuple[ChainLink, ...] = ()
    # why it runs once per process rather than per request (None: per request)
    once: str | None = None

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


@dataclass(frozen=True, slots=True)
class FileProblem:
    path: str
    reason: str

    def as_json(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}
