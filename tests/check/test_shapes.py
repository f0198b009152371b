"""Shapes of real applications: package layouts, route registration and value flows
that the checker must model. Each fixture under ``fixtures/shapes/`` marks every line
that must be reported with ``# expect: CODE``; nothing else may be reported."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from unstuck.check import Report, check

SHAPES = Path(__file__).parent / "fixtures" / "shapes"
_EXPECT = re.compile(r"#\s*expect:\s*(USK\d+)")


def _check(name: str) -> Report:
    return check([SHAPES / name], jobs=1)


def _marked(root: Path) -> set[tuple[str, int, str]]:
    return {
        (path.relative_to(root).as_posix(), number, code)
        for path in root.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        for code in _EXPECT.findall(line)
    }


def _found(report: Report, root: Path) -> set[tuple[str, int, str]]:
    return {
        (Path(f.path).resolve().relative_to(root.resolve()).as_posix(), f.line, f.code)
        for f in report.findings
    }


def _routes(report: Report) -> dict[str, str]:
    return {f"{','.join(r.methods)} {r.path}": r.handler for r in report.routes}


@pytest.mark.parametrize("name", sorted(p.name for p in SHAPES.iterdir() if p.is_dir()))
def test_findings_are_exactly_the_marked_lines(name: str) -> None:
    assert _found(_check(name), SHAPES / name) == _marked(SHAPES / name)


def test_namespace_portion_inside_a_package_keeps_its_full_name() -> None:
    report = _check("namespace_portion")
    assert _routes(report) == {"POST /api/orders/{order_id}/confirm": "shop.routers.orders.confirm"}
    connect, send = report.findings
    assert (connect.line, send.line) == (5, 6)
    assert [step.function for step in send.chain] == [
        "shop.routers.orders.confirm",
        "shop.mail.sender.send_confirmation",
    ]


def test_app_without_init_files_resolves_imports_spelled_from_above() -> None:
    report = _check("no_init")
    assert set(_routes(report)) == {"GET /items/v1/{item_id}", "GET /users/me"}
    assert {f.route for f in report.findings} == {"GET /items/v1/{item_id}", "GET /users/me"}


def test_app_passed_to_an_untyped_parameter_gets_its_routes() -> None:
    report = _check("app_passed")
    assert len(report.routes) == 2  # one app per branch, each route listed once
    assert set(_routes(report)) == {
        "POST /api/{version}/notes",
        "GET /health",
    }
    (finding,) = report.findings
    assert finding.route == "POST /api/{version}/notes"


def test_router_filled_and_returned_by_a_function_keeps_each_prefix() -> None:
    report = _check("router_factory")
    assert set(_routes(report)) == {"GET /api/me", "GET /{tenant}/api/me"}
