"""One finding per blocking site, with every route and every entry that reaches it.

Each coroutine (and each sync startup handler, which Starlette runs on the loop) is an
entry; ``blocking`` gives the sites it reaches and the best chain to each. A site reached
per request by any entry is one finding, listing the routes whose requests reach it and
the lines where the loop enters the code that leads there. A site reached only once per
process (``once``: startup, import time, CLI, memoised or set-once code) is reported
apart, and only when asked for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from unstuck.check.blockers import Blocker, Site
from unstuck.check.blocking import BlockingAnalysis, as_finding
from unstuck.check.model import ChainLink, Finding
from unstuck.check.once import life_handlers, once_only, started_once
from unstuck.check.routes import Route
from unstuck.check.values import Key

# (path, line, code) -> whether a comment there suppresses that code
Suppressed = Callable[[str, int, str], bool]


@dataclasses.dataclass(slots=True)
class SiteFindings:
    per_request: list[Finding]
    once_per_process: list[Finding]


def site_findings(
    analysis: BlockingAnalysis,
    routes: list[Route],
    suppressed: Suppressed,
    wrapped: Mapping[Key, str],
) -> SiteFindings:
    """``wrapped``: the label of middleware and exception handlers (``middleware of 12
    routes``), which serve requests too."""
    program = analysis.program
    routes_of: dict[Key, set[str]] = {}
    for route in routes:
        for key in route.loop_functions:
            routes_of.setdefault(key, set()).add(route.label)
    for key, label in wrapped.items():
        routes_of.setdefault(key, {label})
    entries: dict[Key, str] = started_once(program)
    entries.update(life_handlers(program))
    callers: dict[Key, list[Key]] = {}
    coroutines = [key for key, function in program.functions() if function.is_async]
    for key in coroutines:
        for callee in analysis.scan(key).async_calls:
            callers.setdefault(callee, []).append(key)
    once = once_only(entries, callers, set(routes_of))
    reached: dict[Site, list[tuple[Key, Blocker]]] = {}
    for key in dict.fromkeys([*coroutines, *entries]):
        reason = once.get(key)
        for blocker in analysis.reaches(key):
            if _is_suppressed(blocker, suppressed):
                continue
            if reason is not None and blocker.once is None:
                blocker = dataclasses.replace(blocker, once=reason)
            reached.setdefault(blocker.site, []).append((key, blocker))
    found = SiteFindings([], [])
    for site in sorted(reached):
        ways = reached[site]
        per_request = [(key, blocker) for key, blocker in ways if blocker.once is None]
        chosen = per_request or ways
        best = min((blocker for _, blocker in chosen), key=_chain_order)
        labels = sorted({label for key, _ in chosen for label in routes_of.get(key, ())})
        entries_at = sorted(
            {blocker.chain[0] for _, blocker in chosen},
            key=lambda link: (link.path, link.line, link.function),
        )
        finding = dataclasses.replace(
            as_finding(best),
            route=labels[0] if labels else None,
            routes=tuple(labels),
            entries=tuple(entries_at),
        )
        (found.per_request if per_request else found.once_per_process).append(finding)
    return found


def _chain_order(blocker: Blocker) -> tuple[int, list[tuple[str, int, str]]]:
    return len(blocker.chain), [(link.path, link.line, link.function) for link in blocker.chain]


def _is_suppressed(blocker: Blocker, suppressed: Suppressed) -> bool:
    """A suppression at the site, or on any line of the way there (an intended call in
    a helper is marked once, where it is; a caller may mark the call it makes)."""
    code = blocker.site.code
    links: tuple[ChainLink, ...] = blocker.chain
    return suppressed(blocker.site.path, blocker.site.line, code) or any(
        suppressed(link.path, link.line, code) for link in links
    )
