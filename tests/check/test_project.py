"""A multi-module FastAPI project: calls across modules, classes and base classes,
``Depends`` through ``Annotated`` aliases, routers with prefixes, files that need a
newer Python, and a file that does not parse."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any, cast

import pytest

from unstuck.check import Report, check, engine
from unstuck.check.config import Config
from unstuck.check.model import Finding

PROJECT = Path(__file__).parent / "fixtures" / "project"
_EXPECT = re.compile(r"#\s*expect:\s*(USK\d+)")


@pytest.fixture(scope="module")
def report() -> Report:
    return check([PROJECT], jobs=1)


def _relative(path: str) -> str:
    return Path(path).resolve().relative_to(PROJECT.resolve()).as_posix()


def test_findings_are_exactly_the_marked_lines(report: Report) -> None:
    expected = {
        (path.relative_to(PROJECT).as_posix(), number, code)
        for path in PROJECT.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        for code in _EXPECT.findall(line)
    }
    found = {(_relative(f.path), f.line, f.code) for f in report.findings}
    assert found == expected


def test_chain_goes_from_the_route_through_classes_to_the_blocking_call(report: Report) -> None:
    (finding,) = [f for f in report.findings if f.code == "USK102"]
    assert finding.route == "POST /api/v1/orders/{order_id}/pay"
    assert [(_relative(link.path), link.line, link.function) for link in finding.chain] == [
        ("shop/api/orders.py", 13, "shop.api.orders.pay_order"),
        ("shop/services/payments.py", 8, "shop.services.payments.PaymentsClient.charge"),
        ("shop/services/base.py", 10, "shop.services.base.ServiceClient.post"),
    ]
    assert "fix:" in finding.message


def test_injected_session_names_its_dependency(report: Report) -> None:
    finding = next(f for f in report.findings if f.code == "USK105" and f.line == 12)
    assert "Depends(get_db)" in finding.message
    assert finding.chain[-1].line == 12


def test_coroutine_called_from_a_route_carries_the_route(report: Report) -> None:
    finding = next(f for f in report.findings if _relative(f.path) == "shop/services/audit.py")
    assert finding.route == "POST /api/v1/orders/{order_id}/pay"
    assert [(_relative(link.path), link.line) for link in finding.entries] == [
        ("shop/services/audit.py", 13)
    ]


def test_a_site_reached_per_request_is_never_once(report: Report) -> None:
    """The lifespan handler writes the audit log too, but a route does it per request:
    one per-request finding, and the lifespan's way there is not one of its entries."""
    with_once = check([PROJECT], Config(once_per_process=True), jobs=1)
    assert with_once.once_per_process == []
    assert _lines(with_once.findings) == _lines(report.findings)


def _lines(findings: list[Finding]) -> set[tuple[str, int, str]]:
    return {(_relative(f.path), f.line, f.code) for f in findings}


def test_route_map_prefixes_methods_and_where_code_runs(report: Report) -> None:
    routes = {(tuple(r.methods), r.path): r for r in report.routes}
    assert set(routes) == {
        (("POST",), "/api/v1/orders/{order_id}/pay"),
        (("GET",), "/api/v1/orders/{order_id}"),
        (("GET",), "/api/v1/users/me"),
        (("GET", "HEAD"), "/api/v1/users/admin/users"),
        (("GET",), "/health"),
    }
    read = routes[("GET",), "/api/v1/orders/{order_id}"]
    assert read.runs == "thread pool"
    assert [(d.name, d.runs) for d in read.dependencies] == [("shop.db.get_db", "thread pool")]
    assert "thread pool" in read.advice
    admin = routes[("GET", "HEAD"), "/api/v1/users/admin/users"].as_json()
    dependencies = cast(list[dict[str, Any]], admin["dependencies"])
    names = [(d["name"], d["runs"]) for d in dependencies]
    assert names == [
        ("shop.api.users.current_user", "event loop"),
        ("shop.api.users.require_admin", "thread pool"),
        ("shop.db.get_db", "thread pool"),
    ]
    nested = admin["dependencies"][1]["dependencies"]  # type: ignore[index]
    assert [d["name"] for d in nested] == ["shop.api.users.current_user"]
    pay = routes[("POST",), "/api/v1/orders/{order_id}/pay"]
    assert pay.runs == "event loop"
    assert {b.code for b in pay.blocking} == {"USK102", "USK105", "USK110"}
    assert pay.advice.startswith("blocks the event loop")
    assert routes[("GET",), "/health"].advice.startswith("async def on the event loop")


def test_newer_syntax_is_analyzed_and_reported(report: Report) -> None:
    notes = {_relative(p.path): p.reason for p in report.newer_syntax}
    assert "type statement" in notes["newer_syntax.py"]
    assert "except without parentheses" in notes["newer_syntax.py"]


def test_unparsable_part_is_listed_with_the_reason(report: Report) -> None:
    problems = {_relative(p.path): p.reason for p in report.not_parsed}
    assert set(problems) == {"broken.py"}
    assert "SyntaxError" in problems["broken.py"] and "line 8" in problems["broken.py"]
    assert report.analyzed == len(list(PROJECT.rglob("*.py")))


def test_parallel_run_gives_the_same_report(
    report: Report, monkeypatch: pytest.MonkeyPatch
) -> None:
    shares: list[int] = []
    split = engine._summarize_in_parallel

    def spy(items: list[tuple[str, str, bool]], workers: int) -> object:
        shares.append(workers)
        return split(items, workers)

    monkeypatch.setattr(engine, "_PARALLEL_FROM", 1)
    monkeypatch.setattr(engine, "_summarize_in_parallel", spy)
    parallel = check([PROJECT], jobs=2)
    assert shares == [2]
    assert parallel.as_json() == report.as_json()


def test_a_copy_that_dies_loses_no_file(report: Report, monkeypatch: pytest.MonkeyPatch) -> None:
    from unstuck.check import summary

    here = os.getpid()
    summarize = summary.summarize_file

    def dies_in_a_copy(path: str, module: str, is_package: bool) -> object:
        if os.getpid() != here:
            os._exit(9)  # killed while working on the batch it claimed
        time.sleep(0.05)  # so that the copies claim batches before this process has all
        return summarize(path, module, is_package)

    monkeypatch.setattr(engine, "_PARALLEL_FROM", 1)
    monkeypatch.setattr(summary, "summarize_file", dies_in_a_copy)
    assert check([PROJECT], jobs=3).as_json() == report.as_json()
