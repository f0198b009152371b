"""Run the checker: discover, summarize (in parallel), analyze globally, filter.

Parsing and summarizing is the expensive part and is independent per file, so it runs
in a process pool when there are enough files (the summaries are small and cheap to
send back; the ASTs never leave the worker). The global phase only evaluates the
expressions it needs, from coroutines outwards, so it stays a fraction of parse time.
"""

from __future__ import annotations

import dataclasses
import gc
import multiprocessing
import os
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from unstuck.check.blocking import BlockingAnalysis
from unstuck.check.config import Config
from unstuck.check.discovery import SourceFile, discover
from unstuck.check.model import MODULE_BODY, FileProblem, Finding, ModuleSummary
from unstuck.check.program import Program
from unstuck.check.route_map import RouteMapper
from unstuck.check.routes import Route
from unstuck.check.rule import Knowledge, Rule
from unstuck.check.rules import ALL_RULES
from unstuck.check.rules.configured import RULE as CONFIGURED
from unstuck.check.sites import site_findings
from unstuck.check.summary import summarize_file

_RECURSION_LIMIT = 20_000
_PARALLEL_FROM = 48  # files; below this a pool costs more than it saves


@dataclass(slots=True)
class Report:
    findings: list[Finding]
    routes: list[Route]
    analyzed: int
    not_parsed: list[FileProblem]
    newer_syntax: list[FileProblem] = field(default_factory=list)
    # blocking work that runs once per process (only with ``once_per_process``)
    once_per_process: list[Finding] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "findings": [finding.as_json() for finding in self.findings],
            "once_per_process": [finding.as_json() for finding in self.once_per_process],
            "routes": [route.as_json() for route in self.routes],
            "files": {
                "analyzed": self.analyzed,
                "not_parsed": [problem.as_json() for problem in self.not_parsed],
                "newer_syntax": [problem.as_json() for problem in self.newer_syntax],
            },
        }


def rule_selected(code: str, select: Sequence[str], ignore: Sequence[str]) -> bool:
    if select and not any(code.startswith(prefix) for prefix in select):
        return False
    return not any(code.startswith(prefix) for prefix in ignore)


def check(
    paths: Sequence[str | Path],
    config: Config | None = None,
    jobs: int | None = None,
) -> Report:
    """Analyze the ``.py`` files under ``paths`` and return what blocks the event loop."""
    # The analysis builds millions of small acyclic tuples: reference counting frees
    # them all, and the cyclic collector would only rescan them (over half the time).
    collecting = gc.isenabled()
    gc.disable()
    # Long method chains and deep expressions are walked recursively.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, _RECURSION_LIMIT))
    try:
        return _check(paths, config or Config(), jobs)
    finally:
        sys.setrecursionlimit(limit)
        if collecting:
            gc.enable()


def _check(paths: Sequence[str | Path], config: Config, jobs: int | None) -> Report:
    roots = [Path(path) for path in paths]
    unreadable: list[tuple[Path, str]] = []
    files = discover(roots, config.exclude, config.root, unreadable)
    summaries, not_parsed, newer = _summarize(files, jobs)
    not_parsed.extend(FileProblem(display_path(path), reason) for path, reason in unreadable)
    modules = {summary.name: summary for summary in summaries}
    program = Program(modules, Knowledge(ALL_RULES))
    extra_blocking: dict[str, Rule] = {name: CONFIGURED for name in config.extra_blocking}
    analysis = BlockingAnalysis(program, extra_blocking, frozenset(config.extra_offloaders))
    mapper = RouteMapper(program, analysis)
    routes = mapper.routes()

    suppressions = {summary.path: summary.suppressions for summary in summaries}

    def suppressed(path: str, line: int, code: str) -> bool:
        codes = suppressions.get(path, {}).get(line, frozenset())
        return codes is None or code in codes

    sites = site_findings(analysis, routes, suppressed)
    route_of: dict[tuple[str, str], str] = {}
    for route in routes:
        for key in sorted(route.loop_functions):
            route_of.setdefault(key, route.label)
    findings: list[Finding] = list(sites.per_request)
    for key, function in program.functions():
        if key[1] != MODULE_BODY or function.calls:
            label = route_of.get(key)
            for finding in analysis.timeout_findings(key):
                findings.append(_with_route(finding, label) if label else finding)

    def selected(findings: list[Finding]) -> list[Finding]:
        kept = [
            finding
            for finding in findings
            if rule_selected(finding.code, config.select, config.ignore)
            and not _suppressed(finding, suppressions)
        ]
        kept.sort(key=lambda f: (f.path, f.line, f.column, f.code))
        return _unique(kept)

    once = selected(sites.once_per_process) if config.once_per_process else []
    return Report(selected(findings), routes, len(summaries), not_parsed, newer, once)


def _with_route(finding: Finding, route: str) -> Finding:
    return dataclasses.replace(finding, route=route, routes=(route,))


def _unique(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, int, int, str]] = set()
    result: list[Finding] = []
    for finding in findings:
        key = (finding.path, finding.line, finding.column, finding.code)
        if key not in seen:
            seen.add(key)
            result.append(finding)
    return result


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


def display_path(path: Path) -> str:
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix()


def _summarize_batch(batch: list[tuple[str, str, bool]]) -> list[ModuleSummary | str]:
    return [summarize_file(path, module, is_package) for path, module, is_package in batch]


def _summarize(
    files: list[SourceFile], jobs: int | None
) -> tuple[list[ModuleSummary], list[FileProblem], list[FileProblem]]:
    items = [(str(file.path), file.module, file.is_package) for file in files]
    workers = jobs if jobs is not None else _idle_cores()
    results: list[ModuleSummary | str]
    if workers > 1 and len(items) >= _PARALLEL_FROM and _can_fork():
        results = _summarize_in_parallel(items, workers)
    else:
        results = _summarize_batch(items)
    summaries: list[ModuleSummary] = []
    not_parsed: list[FileProblem] = []
    newer: list[FileProblem] = []
    for file, result in zip(files, results, strict=True):
        shown = display_path(file.path)
        if isinstance(result, str):
            not_parsed.append(FileProblem(shown, result))
            continue
        result.path = shown
        if result.syntax_note is not None:
            problem = FileProblem(shown, result.syntax_note)
            # partly parsed files are listed as not parsed: some of their lines were not
            (not_parsed if "not analyzed" in result.syntax_note else newer).append(problem)
        summaries.append(result)
    return summaries, not_parsed, newer


def _summarize_in_parallel(
    items: list[tuple[str, str, bool]], workers: int
) -> list[ModuleSummary | str]:
    """Split the files by size into ``workers`` shares; this process works on one share.

    Summaries cost time to send back, so this process keeps its own share local
    instead of idling while the pool works.
    """
    sizes = {path: _size(path) for path, _, _ in items}
    ordered = sorted(items, key=lambda item: sizes[item[0]], reverse=True)
    shares: list[list[tuple[str, str, bool]]] = [[] for _ in range(workers)]
    loads = [0] * workers
    for item in ordered:
        lightest = loads.index(min(loads))
        shares[lightest].append(item)
        loads[lightest] += sizes[item[0]]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers - 1, mp_context=context) as pool:
        futures = [pool.submit(_summarize_batch, share) for share in shares[1:]]
        outcomes = [_summarize_batch(shares[0])]
        outcomes.extend(future.result() for future in futures)
    by_path: dict[str, ModuleSummary | str] = {}
    for share, outcome in zip(shares, outcomes, strict=True):
        for (path, _, _), result in zip(share, outcome, strict=True):
            by_path[path] = result
    return [by_path[path] for path, _, _ in items]


def _idle_cores() -> int:
    """Cores not already busy: a pool on a loaded machine only adds transfer costs."""
    cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:  # not available on this platform
        return cores
    return max(1, min(cores, round(cores - busy)))


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _can_fork() -> bool:
    # fork is only safe from a single-threaded process
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1
