"""The checker on this project's own service: exactly the two anti-pattern routes."""

from __future__ import annotations

from pathlib import Path

import pytest

from unstuck.check import Report, check

SERVICE = Path(__file__).resolve().parents[2] / "src" / "unstuck" / "service"
ANTI_PATTERNS = {"GET /bad", "GET /also-bad"}


@pytest.fixture(scope="module")
def report() -> Report:
    return check([SERVICE])


def test_every_service_file_is_analyzed(report: Report) -> None:
    assert report.not_parsed == []
    assert report.analyzed == len(list(SERVICE.rglob("*.py")))


def test_findings_are_exactly_the_anti_pattern_routes(report: Report) -> None:
    details = [f"{f.path}:{f.line} {f.code} {f.message}" for f in report.findings]
    assert {finding.route for finding in report.findings} == ANTI_PATTERNS, details
    assert {Path(finding.path).name for finding in report.findings} == {"antipatterns.py"}


def test_bad_is_sync_http_and_also_bad_a_sync_session_from_depends(report: Report) -> None:
    by_route = {
        route: {f.code for f in report.findings if f.route == route} for route in ANTI_PATTERNS
    }
    assert by_route["GET /bad"] == {"USK102"}
    assert by_route["GET /also-bad"] == {"USK105"}
    also_bad = [f for f in report.findings if f.route == "GET /also-bad"]
    assert all("injected by Depends" in f.message for f in also_bad)


def test_route_map_only_the_anti_patterns_block_the_loop(report: Report) -> None:
    labels = {route.label: route for route in report.routes}
    assert set(labels) >= ANTI_PATTERNS
    blocking = {
        route.label
        for route in report.routes
        if any(item.runs == "event loop" for item in route.blocking)
    }
    assert blocking == ANTI_PATTERNS
    assert labels["GET /sync"].runs == "thread pool"
    assert labels["GET /async"].runs == "event loop"


def test_the_rest_of_the_project_does_not_block_its_loop() -> None:
    # The watcher, the lab and the checker itself hold to the rule they enforce.
    source = SERVICE.parent
    parts = [source / name for name in ("check", "watch", "lab")]
    findings = check([*parts, source / "cli.py", source / "__init__.py"]).findings
    assert [f"{f.path}:{f.line} {f.code}" for f in findings] == []
