"""The article's snippets as printed: the checker reports exactly its mistakes, and the
route map says where each of its routes runs."""

from __future__ import annotations

import re
from pathlib import Path

from unstuck.check import check

ARTICLE = Path(__file__).parent / "fixtures" / "article"
_EXPECT = re.compile(r"expect:\s*(USK\d+)")


def test_findings_are_the_articles_mistakes() -> None:
    report = check([ARTICLE], jobs=1)
    expected = {
        (number, code)
        for number, line in enumerate((ARTICLE / "main.py").read_text().splitlines(), start=1)
        for code in _EXPECT.findall(line)
    }
    assert {(f.line, f.code) for f in report.findings} == expected
    assert {Path(f.path).name for f in report.findings} == {"main.py"}


def test_route_map_of_the_article() -> None:
    routes = {route.label: route for route in check([ARTICLE], jobs=1).routes}
    runs = {label: route.runs for label, route in routes.items()}
    assert runs == {
        "GET /async": "event loop",
        "GET /sync": "thread pool",
        "GET /users/{user_id}": "event loop",
        "GET /proxy": "event loop",
        "GET /cached": "event loop",
        "GET /sync/users/{user_id}": "thread pool",
        "GET /bad": "event loop",
        "GET /also-bad": "event loop",
        "POST /compute": "event loop",
        "POST /ml-inference": "event loop",
        "POST /upload-video": "event loop",
        "GET /task/{task_id}": "event loop",
        "GET /safe": "event loop",
    }
    assert "AsyncSession" in routes["GET /also-bad"].advice
    assert "task queue" not in routes["GET /proxy"].advice
    upload = routes["POST /upload-video"]
    assert {item.code for item in upload.blocking} == {"USK110", "USK111"}
    also_bad = routes["GET /also-bad"].as_json()
    assert also_bad["dependencies"] == [
        {
            "name": "database.get_sync_db",
            "location": {"path": also_bad["dependencies"][0]["location"]["path"], "line": 16},  # type: ignore[index]
            "runs": "thread pool",
            "dependencies": [],
            "blocking": [],
        }
    ]
