"""``--explain`` and the rule tables: everything a person reads about a rule comes from
the rule, and the tables in README.md and docs/check.md are the generated ones."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from unstuck.check import ALL_RULES, Config, check
from unstuck.check.explain import TABLE_BEGIN, TABLE_END, TableMissing, rule_table, with_table
from unstuck.check.rule import Rule

ROOT = Path(__file__).resolve().parents[2]
IDS = [rule.code for rule in ALL_RULES]


@pytest.mark.parametrize("document", ["README.md", "docs/check.md"])
def test_rule_tables_in_the_docs_are_generated_from_the_rules(document: str) -> None:
    text = (ROOT / document).read_text("utf-8")
    assert with_table(text, rule_table(ALL_RULES)) == text, (
        f"{document} is out of date: python -m unstuck.check.explain --write {document}"
    )


def test_a_stale_table_is_replaced_and_a_missing_one_is_an_error() -> None:
    stale = f"intro\n{TABLE_BEGIN}\n| code |\n| USK999 | gone |\n{TABLE_END}\nrest\n"
    updated = with_table(stale, rule_table(ALL_RULES))
    assert "USK999" not in updated and "| USK105 | sync-sqlalchemy |" in updated
    assert updated.startswith("intro\n") and updated.endswith(f"{TABLE_END}\nrest\n")
    with pytest.raises(TableMissing):
        with_table("no markers here", rule_table(ALL_RULES))


def test_the_table_command_fails_on_a_stale_file_and_fixes_it(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(f"{TABLE_BEGIN}\nold\n{TABLE_END}\n")
    command = [sys.executable, "-m", "unstuck.check.explain"]
    stale = subprocess.run([*command, "--check", str(page)], capture_output=True, text=True)
    assert stale.returncode == 1 and "out of date" in stale.stderr
    subprocess.run([*command, "--write", str(page)], check=True)
    fresh = subprocess.run([*command, "--check", str(page)], capture_output=True, text=True)
    assert fresh.returncode == 0
    assert (
        "| USK101 | blocking-sleep | `time.sleep`, `psutil.cpu_percent(interval=...)`"
        in page.read_text()
    )


@pytest.mark.parametrize("rule", ALL_RULES, ids=IDS)
def test_every_rule_documents_itself(rule: Rule) -> None:
    assert rule.doc.startswith(f"{rule.code} {rule.name}:")
    assert "Incident" in rule.doc and "Fix" in rule.doc
    assert rule.catches and "|" not in rule.catches  # one cell of a Markdown table
    ast.parse(rule.example)


@pytest.mark.parametrize("rule", ALL_RULES, ids=IDS)
def test_every_example_is_reported_by_its_rule(rule: Rule, tmp_path: Path) -> None:
    example = tmp_path / "example.py"
    example.write_text(rule.example)
    # USK100's example needs its configuration; rules off by default are selected
    config = Config(select=(rule.code,), extra_blocking=("billing.client.charge",))
    report = check([example], config, jobs=1)
    assert rule.code in {finding.code for finding in report.findings}


def test_explain_prints_what_why_example_and_fix() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "unstuck", "check", "--explain", "usk105"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("USK105 sync-sqlalchemy:")
    assert "Incident:" in out  # why it matters
    assert "Reports: sync `Session`" in out  # what it catches
    assert "    async def user(user_id: int, db: Session = Depends(get_db)):" in out
    assert "Fix: use `AsyncSession`" in out


def test_explain_of_an_unknown_code_is_a_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "unstuck", "check", "--explain", "USK999"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "unknown rule code 'USK999'" in result.stderr
