"""The global phase: from the summaries of a project's files to its findings and routes.

``Program`` resolves names and infers values across modules with what the rules know,
``BlockingAnalysis`` follows each coroutine to the blocking work it reaches, and
``RouteMapper`` finds the routes and where each of their parts runs, and ``sites`` makes
one finding per blocking site (work that runs once per process apart). The findings are
then filtered: the configuration's ``select`` and ``ignore``, suppression comments,
duplicates, and findings another one on the same line makes redundant.
"""

from __future__ import annotations

from collections.abc import Sequence

from unstuck.check.blocking import BlockingAnalysis
from unstuck.check.config import Config
from unstuck.check.model import MODULE_BODY, ChainLink, Finding, ModuleSummary
from unstuck.check.program import Program
from unstuck.check.route_map import RouteMapper
from unstuck.check.routes import Route
from unstuck.check.rule import Knowledge, Rule
from unstuck.check.rules import ALL_RULES
from unstuck.check.rules.configured import RULE as CONFIGURED
from unstuck.check.sites import site_findings


def analyze(
    summaries: list[ModuleSummary], config: Config, keep: list[object] | None = None
) -> tuple[list[Finding], list[Route], list[Finding]]:
    """Per-request findings, routes, and (when asked for) once-per-process findings.

    ``keep``: where to leave the analysis's own state when the process ends next, rather
    than freeing it here (see ``engine.check``)."""
    modules = {summary.name: summary for summary in summaries}
    program = Program(modules, Knowledge(ALL_RULES))
    extra_blocking: dict[str, Rule] = {name: CONFIGURED for name in config.extra_blocking}
    analysis = BlockingAnalysis(program, extra_blocking, frozenset(config.extra_offloaders))
    mapper = RouteMapper(program, analysis)
    routes = mapper.routes()
    if keep is not None:
        keep.append(mapper)  # and through it the program and the analysis

    suppressions = {summary.path: summary.suppressions for summary in summaries}

    def suppressed(path: str, line: int, code: str) -> bool:
        codes = suppressions.get(path, {}).get(line, frozenset())
        return codes is None or code in codes

    route_of: dict[tuple[str, str], str] = {}
    for route in routes:
        for key in sorted(route.loop_functions):
            route_of.setdefault(key, route.label)
    for route in routes:  # a ``def`` route's own calls (a missing timeout hangs it too)
        route_of.setdefault(route.handler_key, route.label)
    wrapped = mapper.wrapper_labels()
    for key, wrapper in wrapped.items():
        route_of.setdefault(key, wrapper)
    sites = site_findings(analysis, routes, suppressed, wrapped)
    findings: list[Finding] = list(sites.per_request)
    findings.extend(_library_findings(routes, program.knowledge))
    for key, function in program.functions():
        if key[1] != MODULE_BODY or function.calls:
            label = route_of.get(key)
            for finding in analysis.timeout_findings(key):
                findings.append(_with_route(finding, label) if label else finding)

    def selected(findings: list[Finding]) -> list[Finding]:
        kept = [
            finding
            for finding in findings
            if rule_selected(program.knowledge.rules[finding.code], config.select, config.ignore)
            and not _suppressed(finding, suppressions)
        ]
        kept.sort(key=lambda f: (f.path, f.line, f.column, f.code))
        return _without_subsumed(_unique(kept), program.knowledge.rules)

    once = selected(sites.once_per_process) if config.once_per_process else []
    return selected(findings), routes, once


def _library_findings(routes: list[Route], knowledge: Knowledge) -> list[Finding]:
    """What a library's routes block on the loop in the library's own code (fastapi-users'
    password checks), one finding per place the router is included, with its routes."""
    sites: dict[tuple[str, int, str], tuple[str, str, list[str]]] = {}
    for route in routes:
        if route.handler_key[0]:
            continue  # the project's own handler: its findings come from its code
        for blocking in route.blocking:
            site = (blocking.path, blocking.line, blocking.code)
            known = sites.setdefault(site, (blocking.message, route.handler_key[1], []))
            known[2].append(route.label)
    return [
        Finding(
            code,
            path,
            line,
            1,
            message,
            knowledge.rules[code].severity,
            labels[0],
            (ChainLink(path, line, made_by),),
            tuple(sorted(labels)),
        )
        for (path, line, code), (message, made_by, labels) in sorted(sites.items())
    ]


def rule_selected(rule: Rule, select: Sequence[str], ignore: Sequence[str]) -> bool:
    code = rule.code
    if not rule.on_by_default:
        chosen = code in select
    elif select:
        chosen = any(code.startswith(prefix) for prefix in select)
    else:
        chosen = True
    return chosen and not any(code.startswith(prefix) for prefix in ignore)


def _with_route(finding: Finding, route: str) -> Finding:
    return finding.reached_by((route,))


def _unique(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, int, int, str]] = set()
    result: list[Finding] = []
    for finding in findings:
        key = (finding.path, finding.line, finding.column, finding.code)
        if key not in seen:
            seen.add(key)
            result.append(finding)
    return result


def _without_subsumed(findings: list[Finding], rules: dict[str, Rule]) -> list[Finding]:
    """Drop the findings that another finding on the same line makes redundant."""
    codes_at: dict[tuple[str, int], set[str]] = {}
    for finding in findings:
        codes_at.setdefault((finding.path, finding.line), set()).add(finding.code)
    kept = []
    for finding in findings:
        rule = rules.get(finding.code)
        if rule is None or not rule.subsumed_by & codes_at[(finding.path, finding.line)]:
            kept.append(finding)
    return kept


def _suppressed(
    finding: Finding, suppressions: dict[str, dict[int, frozenset[str] | None]]
) -> bool:
    """A suppression on the reported line, or on any line of the chain (an intended
    ``time.sleep`` in a helper is marked once, where it is, not at every caller)."""
    places = {(finding.path, finding.line)} | {(link.path, link.line) for link in finding.chain}
    for path, line in places:
        lines = suppressions.get(path, {})
        if line in lines:
            codes = lines[line]
            if codes is None or finding.code in codes:
                return True
    return False
