"""Work that runs once per process (startup, import time, CLI commands, memoised or
set-once code) is never a per-request finding; it is reported apart, on demand.

``fixtures/once`` marks per-request lines with ``# expect: CODE`` and once-per-process
lines with ``# once: CODE``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from unstuck.check import Report, check
from unstuck.check.config import Config
from unstuck.check.model import Finding
from unstuck.check.once import IN_TESTS

ONCE = Path(__file__).parent / "fixtures" / "once"


def _marked(kind: str) -> set[tuple[str, int, str]]:
    pattern = re.compile(rf"#\s*{kind}:\s*(USK\d+)")
    return {
        (path.relative_to(ONCE).as_posix(), number, code)
        for path in ONCE.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        for code in pattern.findall(line)
    }


def _lines(findings: list[Finding]) -> set[tuple[str, int, str]]:
    return {
        (Path(f.path).resolve().relative_to(ONCE.resolve()).as_posix(), f.line, f.code)
        for f in findings
    }


@pytest.fixture(scope="module")
def report() -> Report:
    return check([ONCE], Config(once_per_process=True), jobs=1)


def _once(report: Report, path: str, line: int) -> Finding:
    return next(f for f in report.once_per_process if f.path.endswith(path) and f.line == line)


def test_per_request_findings_are_only_the_per_request_lines() -> None:
    report = check([ONCE], jobs=1)
    assert _lines(report.findings) == _marked("expect")
    assert report.once_per_process == []  # off by default


def test_once_per_process_lines_are_reported_apart(report: Report) -> None:
    assert _lines(report.findings) == _marked("expect")
    assert _lines(report.once_per_process) == _marked("once")


def test_each_once_finding_says_why(report: Report) -> None:
    assert _once(report, "main.py", 17).once == "in the lifespan handler"
    # a coroutine only the lifespan handler calls runs once too
    assert _once(report, "main.py", 23).once == "in the lifespan handler"
    assert _once(report, "main.py", 35).once == "in a startup handler"
    assert _once(report, "main.py", 41).once == "in a shutdown handler"  # a sync handler
    assert _once(report, "main.py", 45).once == "in a startup handler"  # add_event_handler
    assert _once(report, "main.py", 53).once == "memoised by functools.lru_cache"
    assert _once(report, "main.py", 58).once == "memoised by functools.cache"
    assert _once(report, "main.py", 65).once == "memoised by functools.cached_property"
    assert _once(report, "engines.py", 32).once == "memoised by closing_lru_cache"
    assert _once(report, "main.py", 109).once == "started at import time"
    assert _once(report, "cli.py", 8).once == "started by the command rebuild()"
    assert _once(report, "cli.py", 18).once == (
        "on an event loop of its own, started by asyncio.run() in export_command()"
    )
    guarded = [_once(report, "clients.py", 11), _once(report, "settings.py", 11)]
    assert all("fills module state" in (f.once or "") for f in guarded)
    # a cache on an instance that a memoised factory makes
    assert "an instance made once per process" in (_once(report, "catalogs.py", 18).once or "")


def test_a_memoised_call_still_lists_the_routes_that_reach_it(report: Report) -> None:
    assert _once(report, "main.py", 53).routes == ("GET /rates",)
    assert _once(report, "clients.py", 17).routes == ("GET /template",)


def test_a_coroutine_also_called_per_request_is_per_request(report: Report) -> None:
    (shared,) = [f for f in report.findings if f.line == 27]
    assert shared.once is None and shared.routes == ("GET /refresh",)


def test_test_code_is_not_per_request_and_its_calls_change_nothing(report: Report) -> None:
    # blocking in a test is the suite's business, not a request's
    assert _once(report, "startup_checks.py", 8).once == IN_TESTS
    # a coroutine the lifespan and a test call is still once per process
    assert _once(report, "main.py", 23).once == "in the lifespan handler"
    # a job a queue runs, which only tests call directly, is still reported
    (job,) = [f for f in report.findings if f.path.endswith("clients.py")]
    assert job.once is None and job.line == 26


def test_a_tests_folder_is_test_code_but_only_below_the_path_checked(tmp_path: Path) -> None:
    # the project itself sits in a folder called tests: that says nothing of its code
    project = tmp_path / "tests" / "shop"
    (project / "tests").mkdir(parents=True)
    (project / "app.py").write_text(
        "import time\nfrom fastapi import FastAPI\n\napp = FastAPI()\n\n\n"
        '@app.get("/")\nasync def home():\n    time.sleep(1)\n'
    )
    # a helper of the suite, in a folder without __init__.py (its module is "helpers")
    (project / "tests" / "helpers.py").write_text(
        "import time\n\n\nasync def seed_database():\n    time.sleep(1)\n"
    )
    report = check([project], Config(once_per_process=True), jobs=1)
    assert [(Path(f.path).name, f.line) for f in report.findings] == [("app.py", 9)]
    (helper,) = report.once_per_process
    assert (Path(helper.path).name, helper.once) == ("helpers.py", IN_TESTS)


def test_jobs_of_task_queues_run_in_a_worker_not_on_the_loop(report: Report) -> None:
    assert _once(report, "jobs.py", 13).once == (
        "in a job of a task queue's worker (@rq.decorators.job), not on the app's loop"
    )
    assert "@dramatiq.actor" in (_once(report, "jobs.py", 17).once or "")
    # also a job, but another coroutine runs the same line on the loop
    assert not any(f.line == 21 for f in report.once_per_process if f.path.endswith("jobs.py"))


def test_a_task_a_request_starts_once_runs_for_no_request() -> None:
    report = check([ONCE], jobs=1)
    (watcher,) = [f for f in report.findings if f.path.endswith("poller.py") and f.line == 37]
    assert watcher.routes == ()
    # one task per key of an instance's dict is started by its session's request
    (starting,) = [f for f in report.findings if f.path.endswith("poller.py") and f.line == 57]
    assert starting.routes == ("POST /sessions/{session_id}",)
