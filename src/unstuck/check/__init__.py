"""unstuck.check: a FastAPI-aware static checker for code that blocks the event loop.

Pure standard library: it reads source, never imports the analyzed code. Pipeline:
``discovery`` (files, module names) -> ``summary`` (one AST pass per file, in a process
pool: ``statements`` walked in order, ``expressions`` read into ``Expr``) -> ``program``
(names, imports, classes, a small type inference) -> ``blocking`` (from each coroutine
to the blocking calls it reaches: ``blockers`` records, ``bound_values`` passed to
untyped parameters, ``timeouts``) and ``route_map`` (where each route and dependency
runs, from ``registrations`` of routes and prefixes, into ``routes`` records), together
the global phase of ``analysis`` -> ``formats``. ``engine`` runs it all, with the
on-disk ``cache``. One module per rule in ``rules``.

The names below are imported on first use (PEP 562): a run served from the cache, or
with nothing to analyze, never loads the parser and the analysis.
"""

from __future__ import annotations

import importlib

# Not typing.TYPE_CHECKING: ``typing`` is not otherwise needed to start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from unstuck.check.config import Config, ConfigError, load_config
    from unstuck.check.engine import Report, check
    from unstuck.check.findings import ChainLink, FileProblem, Finding
    from unstuck.check.routes import Route
    from unstuck.check.rule import Rule
    from unstuck.check.rules import ALL_RULES

_MODULES = {
    "ALL_RULES": "unstuck.check.rules",
    "ChainLink": "unstuck.check.findings",
    "Config": "unstuck.check.config",
    "ConfigError": "unstuck.check.config",
    "FileProblem": "unstuck.check.findings",
    "Finding": "unstuck.check.findings",
    "Report": "unstuck.check.engine",
    "Route": "unstuck.check.routes",
    "Rule": "unstuck.check.rule",
    "check": "unstuck.check.engine",
    "load_config": "unstuck.check.config",
}

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


def __getattr__(name: str) -> object:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'unstuck.check' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_MODULES])
