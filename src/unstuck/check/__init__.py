"""unstuck.check: a FastAPI-aware static checker for code that blocks the event loop.

Pure standard library: it reads source, never imports the analyzed code. Pipeline:
``discovery`` (files, module names) -> ``summary`` (one AST pass per file, in a process
pool: ``statements`` walked in order, ``expressions`` read into ``Expr``) -> ``program``
(names, imports, classes, a small type inference) -> ``blocking`` (from each coroutine
to the blocking calls it reaches: ``blockers`` records, ``bound_values`` passed to
untyped parameters, ``timeouts``) and ``route_map`` (where each route and dependency
runs, from ``registrations`` of routes and prefixes, into ``routes`` records) ->
``formats``. One module per rule in ``rules``.
"""

from unstuck.check.config import Config, ConfigError, load_config
from unstuck.check.engine import Report, check
from unstuck.check.model import ChainLink, FileProblem, Finding
from unstuck.check.routes import Route
from unstuck.check.rule import Rule
from unstuck.check.rules import ALL_RULES

__all__ = [
    "ALL_RULES",
    "ChainLink",
    "Config",
    "ConfigError",
    "FileProblem",
    "Finding",
    "Report",
    "Route",
    "Rule",
    "check",
    "load_config",
]
