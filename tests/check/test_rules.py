"""Each rule family against its fixtures: ``# expect: CODE`` marks every line that must be
reported; every other line of the file must not be (negative files have no marks)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from unstuck.check import ALL_RULES, Config, check

FIXTURES = Path(__file__).parent / "fixtures" / "rules"
CASES = sorted(FIXTURES.glob("*/*.py"))
_EXPECT = re.compile(r"#\s*expect:\s*(USK\d+)")
# every rule, those off by default too
EVERY_RULE = Config(select=tuple(rule.code for rule in ALL_RULES))


def expected(path: Path) -> set[tuple[int, str]]:
    marks: set[tuple[int, str]] = set()
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        marks.update((number, code) for code in _EXPECT.findall(line))
    return marks


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_fixture_findings_are_exactly_the_marked_lines(path: Path) -> None:
    report = check([path], EVERY_RULE, jobs=1)
    assert report.not_parsed == []
    found = {(finding.line, finding.code) for finding in report.findings}
    assert found == expected(path)


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_positive_fixtures_mark_something_and_negatives_nothing(path: Path) -> None:
    assert bool(expected(path)) == (path.stem == "positive")


def test_every_rule_has_a_positive_fixture() -> None:
    covered = {code for path in CASES for _, code in expected(path)}
    missing = {rule.code for rule in ALL_RULES} - covered - {"USK100"}  # USK100: test_config
    assert missing == set()


def test_every_rule_module_documents_incident_and_fix() -> None:
    import unstuck.check.rules as rules_package

    for path in Path(rules_package.__file__).parent.glob("*.py"):
        if path.name == "__init__.py":
            continue
        text = path.read_text()
        docstring = text.split('"""')[1]
        assert docstring.startswith("USK"), path.name
        assert "Incident" in docstring and "Fix" in docstring, path.name


def test_codes_are_unique_and_stable() -> None:
    codes = [rule.code for rule in ALL_RULES]
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"USK[12]\d\d", code) for code in codes)


def test_a_rule_off_by_default_needs_its_full_code_in_select() -> None:
    path = FIXTURES / "file_metadata" / "positive.py"

    def codes(config: Config) -> set[str]:
        return {finding.code for finding in check([path], config, jobs=1).findings}

    assert codes(Config()) == {"USK110"}
    assert codes(Config(select=("USK1",))) == {"USK110"}
    assert codes(Config(select=("USK117",))) == {"USK117"}
    assert codes(Config(select=("USK110", "USK117"), ignore=("USK11",))) == set()


def test_a_template_environment_per_request_has_a_message_of_its_own() -> None:
    report = check([FIXTURES / "templates" / "positive.py"], Config(), jobs=1)
    messages = {finding.line: finding.message for finding in report.findings}
    assert messages[20] == (
        "jinja2.Environment() builds a new template environment per request, so each "
        "template is read and compiled again; fix: build it once at import (or in lifespan) "
        "and reuse it"
    )
    # the rest of the rule keeps its own words
    other = check([FIXTURES / "cpu" / "positive.py"], Config(), jobs=1).findings
    assert other
    assert all("template" not in finding.message for finding in other)


def test_a_missing_timeout_in_a_def_route_names_the_route(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        "import requests\n"
        "from fastapi import FastAPI\n\n"
        "app = FastAPI()\n\n\n"
        '@app.get("/callback")\n'
        "def callback(code: str):\n"
        '    return requests.post("https://example.com/token", data={"code": code}).json()\n'
    )
    (finding,) = check([tmp_path], jobs=1).findings
    assert (finding.code, finding.line, finding.route) == ("USK203", 9, "GET /callback")
