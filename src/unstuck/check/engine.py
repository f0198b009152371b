"""Run the checker: discover, summarize (in parallel), analyze globally (``analysis``).

Parsing and summarizing is the expensive part and is independent per file, so it runs
in a process pool when there are enough files (the summaries are small and cheap to
send back; the ASTs never leave the worker). The global phase only evaluates the
expressions it needs, from coroutines outwards, so it stays a fraction of parse time.
With a cache, an unchanged tree's report is read back, and only the files that changed
are summarized again. The parser and the analysis are imported when there is work for
them, so that a run served from the cache starts fast.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from unstuck.check.cache import Cache, content_hash, scope_hash
from unstuck.check.config import Config
from unstuck.check.discovery import SourceFile, discover
from unstuck.check.findings import FileProblem, Finding
from unstuck.check.records import FrozenRecord, Record

# Not typing.TYPE_CHECKING: ``typing`` is not otherwise needed to start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Final

    from unstuck.check.model import ModuleSummary
    from unstuck.check.routes import Route

_RECURSION_LIMIT = 20_000
_PARALLEL_FROM = 48  # files; below this a pool costs more than it saves
_BUSY_SAMPLES = 5
_BUSY_INTERVAL_S = 0.002
# Batches are claimed as one byte each; 255 leave the last ones small enough.
_MAX_BATCHES = 255


class Report(Record):
    __match_args__ = (
        "findings",
        "routes",
        "analyzed",
        "not_parsed",
        "newer_syntax",
        "once_per_process",
    )
    __slots__ = __match_args__

    def __init__(
        self,
        findings: list[Finding],
        routes: list[Route],
        analyzed: int,
        not_parsed: list[FileProblem],
        newer_syntax: list[FileProblem] | None = None,
        # blocking work that runs once per process (only with ``once_per_process``)
        once_per_process: list[Finding] | None = None,
    ) -> None:
        self.findings = findings
        self.routes = routes
        self.analyzed = analyzed
        self.not_parsed = not_parsed
        self.newer_syntax = [] if newer_syntax is None else newer_syntax
        self.once_per_process = [] if once_per_process is None else once_per_process

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


class _StoredReport(FrozenRecord):
    __match_args__ = ("key", "report")
    __slots__ = __match_args__

    def __init__(self, key: str, report: Report) -> None:
        self.key: Final = key  # the hash of every analyzed file's name and content
        self.report: Final = report


def check(
    paths: Sequence[str | Path],
    config: Config | None = None,
    jobs: int | None = None,
    cache: Cache | None = None,
    process_ends: bool = False,
) -> Report:
    """Analyze the ``.py`` files under ``paths`` and return what blocks the event loop.

    With a ``cache``, work done on the same files by the same checker is reused.
    ``process_ends``: the process ends right after the report (``os._exit``, as the
    command line does), so what the analysis built is left to the end of the process,
    which gives its memory back at once instead of freeing millions of small objects one
    by one (about a tenth of a second on a thousand files).
    """
    # The analysis builds millions of small acyclic tuples: reference counting frees
    # them all, and the cyclic collector would only rescan them (over half the time).
    collecting = gc.isenabled()
    gc.disable()
    # Long method chains and deep expressions are walked recursively.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, _RECURSION_LIMIT))
    try:
        keep = _LEFT_TO_EXIT if process_ends else None
        return _check(paths, config or Config(), jobs, cache, keep)
    finally:
        sys.setrecursionlimit(limit)
        # kept to the end, what the run built would be scanned by the next collection
        if collecting and not process_ends:
            gc.enable()


# What a run that ends the process leaves to the process's end (see ``check``).
_LEFT_TO_EXIT: list[object] = []


def _check(
    paths: Sequence[str | Path],
    config: Config,
    jobs: int | None,
    cache: Cache | None,
    keep: list[object] | None,
) -> Report:
    roots = [Path(path) for path in paths]
    unreadable: list[tuple[Path, str]] = []
    files = discover(roots, config.exclude, config.root, unreadable)
    if not files:
        cache = None  # nothing to analyze: nothing to read back or keep (nor to import pickle)
    keys: dict[Path, str] = {}
    known: dict[str, ModuleSummary | str] = {}
    scope = run_key = ""
    if cache is not None:
        keys = _file_keys(files)
        scope = scope_hash(str(Path.cwd()), repr(config), *(str(root.resolve()) for root in roots))
        run_key = scope_hash(*keys.values(), *(str(file.path) for file in files), repr(unreadable))
        stored = cache.load(f"report-{scope}")
        if isinstance(stored, _StoredReport) and stored.key == run_key:
            return stored.report
        loaded = cache.load(f"summaries-{scope}")
        if isinstance(loaded, dict):
            known = loaded
    summaries, not_parsed, newer, results = _summarize(files, jobs, known, keys)
    writer = None
    if cache is not None and results != known:
        writer = _store_aside(cache, f"summaries-{scope}", results)
    not_parsed.extend(FileProblem(display_path(path), reason) for path, reason in unreadable)
    findings: list[Finding] = []
    once: list[Finding] = []
    routes: list[Route] = []
    if summaries:  # imported here: a run with nothing to analyze never loads the analysis
        from unstuck.check.analysis import analyze

        findings, routes, once = analyze(summaries, config, keep)
        if keep is not None:
            keep.append(summaries)
    report = Report(findings, routes, len(summaries), not_parsed, newer, once)
    if cache is not None:
        cache.store(f"report-{scope}", _StoredReport(run_key, report))
    if writer is not None:
        os.waitpid(writer, 0)
    return report


def _store_aside(cache: Cache, name: str, value: object) -> int | None:
    """Store ``value`` from a forked copy of this process, which pickles and writes it
    while this one goes on with the analysis (on another core, when there is one): the
    summaries of a large project take a good part of a second to pickle. Returns the
    copy's pid, or None when it was stored here (no fork on this platform, or threads
    running, which a fork would not copy)."""
    import threading  # here, as in ``_can_fork``: not needed to start

    if not hasattr(os, "fork") or threading.active_count() != 1:
        cache.store(name, value)
        return None
    pid = os.fork()
    if pid == 0:  # the copy: store, then leave without running any exit handler
        try:
            cache.store(name, value)
        finally:
            os._exit(0)
    return pid


def _file_keys(files: list[SourceFile]) -> dict[Path, str]:
    """What a file's summary depends on: its content, path, module name and kind. A file
    that cannot be read gets no key, so its reason is found again on every run."""
    keys: dict[Path, str] = {}
    for file in files:
        try:
            data = file.path.read_bytes()
        except OSError:
            continue
        kind = int(file.is_package)
        keys[file.path] = f"{content_hash(data)}:{file.path}:{file.module}:{kind}"
    return keys


def display_path(path: Path, cwd: str | None = None) -> str:
    """``path`` relative to the working directory when it is under it (``cwd``: that
    directory with a trailing separator, passed by callers that show many paths)."""
    if cwd is None:
        cwd = os.path.join(os.getcwd(), "")
    shown = str(path)
    if shown.startswith(cwd):
        return Path(shown[len(cwd) :]).as_posix()
    return path.as_posix()


def _summarize_batch(batch: list[tuple[str, str, bool]]) -> list[ModuleSummary | str]:
    if not batch:
        return []
    from unstuck.check import summary  # the parser's machinery, only when there are files

    return [summary.summarize_file(path, module, is_package) for path, module, is_package in batch]


def _summarize(
    files: list[SourceFile],
    jobs: int | None,
    known: dict[str, ModuleSummary | str],
    keys: dict[Path, str],
) -> tuple[
    list[ModuleSummary], list[FileProblem], list[FileProblem], dict[str, ModuleSummary | str]
]:
    """Summaries of ``files``: from ``known`` (cached, by ``keys``) or made now. The last
    item returned is every keyed file's result, for the cache."""
    missing = [file for file in files if keys.get(file.path) not in known]
    items = [(str(file.path), file.module, file.is_package) for file in missing]
    workers = jobs if jobs is not None else _idle_cores()
    made: list[ModuleSummary | str]
    if workers > 1 and len(items) >= _PARALLEL_FROM and _can_fork():
        made = _summarize_in_parallel(items, workers)
    else:
        made = _summarize_batch(items)
    fresh = dict(zip((file.path for file in missing), made, strict=True))
    summaries: list[ModuleSummary] = []
    not_parsed: list[FileProblem] = []
    newer: list[FileProblem] = []
    results: dict[str, ModuleSummary | str] = {}
    cwd = os.path.join(os.getcwd(), "")
    for file in files:
        key = keys.get(file.path)
        result = fresh[file.path] if file.path in fresh else known[key or ""]
        if key is not None:
            results[key] = result
        shown = display_path(file.path, cwd)
        if isinstance(result, str):
            not_parsed.append(FileProblem(shown, result))
            continue
        result.path = shown
        result.in_tests = file.in_tests
        if result.syntax_note is not None:
            problem = FileProblem(shown, result.syntax_note)
            # partly parsed files are listed as not parsed: some of their lines were not
            (not_parsed if "not analyzed" in result.syntax_note else newer).append(problem)
        summaries.append(result)
    return summaries, not_parsed, newer, results


def _summarize_in_parallel(
    items: list[tuple[str, str, bool]], workers: int
) -> list[ModuleSummary | str]:
    """Summarize in this process and ``workers - 1`` forked copies, each taking the next
    batch of files as it is free.

    A share fixed in advance finishes unevenly (a copy's core may be slower or busier,
    and only a copy pickles what it made), and this process would wait for the last
    one. Batches are claimed instead: each is a byte in a pipe, which every process
    reads one at a time (a read of one byte is atomic), the largest files first so
    that the last batches are small. A copy pickles each batch as it finishes, to a
    file of its own, so sending costs this process only the reading; a batch a copy
    claimed but did not deliver (it died) is summarized here.
    """
    import contextlib
    import pickle
    import tempfile

    from unstuck.check import summary  # before the fork: imported once for all

    batches = _batches(items, _MAX_BATCHES)
    claims, release = os.pipe()
    os.write(release, bytes(range(len(batches))))
    os.close(release)  # once the pipe is empty, a read finds its end
    copies: list[tuple[int, IO[bytes]]] = []
    made: dict[int, list[ModuleSummary | str]] = {}
    try:
        for _ in range(workers - 1):
            sink: IO[bytes] = tempfile.TemporaryFile(prefix="unstuck-check-")  # noqa: SIM115
            pid = os.fork()
            if pid == 0:  # the copy: summarize what it claims, then leave at once
                status = 1
                try:
                    for index in _claimed(claims):
                        batch = [summary.summarize_file(*item) for item in batches[index]]
                        pickle.dump((index, batch), sink, pickle.HIGHEST_PROTOCOL)
                    sink.flush()
                    status = 0
                finally:
                    os._exit(status)
            copies.append((pid, sink))
        for index in _claimed(claims):
            made[index] = [summary.summarize_file(*item) for item in batches[index]]
        for pid, sink in copies:
            with contextlib.suppress(ChildProcessError):  # reaped already (SIGCHLD ignored)
                os.waitpid(pid, 0)
            sink.seek(0)
            while True:
                try:
                    index, delivered = pickle.load(sink)
                except EOFError:
                    break
                except Exception:  # cut short by the copy's death: what it lacks is made below
                    break
                made[index] = delivered
    finally:
        os.close(claims)
        for _, sink in copies:
            sink.close()
    by_path: dict[str, ModuleSummary | str] = {}
    for index, share in enumerate(batches):
        results = made.get(index)
        if results is None:
            results = [summary.summarize_file(*item) for item in share]
        for (path, _, _), result in zip(share, results, strict=True):
            by_path[path] = result
    return [by_path[path] for path, _, _ in items]


def _batches(items: list[tuple[str, str, bool]], most: int) -> list[list[tuple[str, str, bool]]]:
    """At most ``most`` batches of about equal size in bytes, the largest files first."""
    sizes = {path: _size(path) for path, _, _ in items}
    ordered = sorted(items, key=lambda item: sizes[item[0]], reverse=True)
    target = sum(sizes.values()) / (most - 1) or 1.0
    batches: list[list[tuple[str, str, bool]]] = [[]]
    held = 0
    for item in ordered:
        if held >= target:
            batches.append([])
            held = 0
        batches[-1].append(item)
        held += sizes[item[0]]
    return batches


def _claimed(claims: int) -> Iterator[int]:
    """The batches this process claims, until none is left."""
    while claim := os.read(claims, 1):
        yield claim[0]


def _idle_cores() -> int:
    """Cores not already busy: a pool on a loaded machine only adds transfer costs.

    Busy means runnable now (``/proc/loadavg``'s running count, less this process), not
    the load average: that one trails by a minute, so after any run of a few seconds,
    the checker's own included, an idle machine would look busy. The count is read a
    few times over a few milliseconds and the least is kept: one process that runs for
    an instant (a daemon's wake-up) must not take the pool away for the whole run.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    try:
        busy = float(min(_running_others() for _ in range(_BUSY_SAMPLES)))
    except (OSError, ValueError, IndexError):
        try:
            busy = os.getloadavg()[0]
        except OSError:  # not available on this platform
            return cores
    return max(1, min(cores, round(cores - busy)))


def _running_others() -> int:
    with open("/proc/loadavg", "rb") as handle:
        running = int(handle.read().split()[3].split(b"/")[0])
    time.sleep(_BUSY_INTERVAL_S)
    return max(0, running - 1)


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _can_fork() -> bool:
    import multiprocessing
    import threading

    # fork is only safe from a single-threaded process
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1
