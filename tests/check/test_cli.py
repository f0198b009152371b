"""``unstuck check`` end to end, as a subprocess: formats, exit codes, suppressions, config."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from unstuck.check.discovery import discover

ROOT = Path(__file__).resolve().parents[2]
RULES = Path(__file__).parent / "fixtures" / "rules"

BLOCKING_APP = """\
import time

import requests
from fastapi import FastAPI

app = FastAPI()


@app.get("/slow")
async def slow():
    time.sleep(1)
    return requests.get("https://example.com", timeout=5).json()
"""


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "unstuck", "check", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(BLOCKING_APP)
    return tmp_path


def test_uv_run_unstuck_check_end_to_end(app_dir: Path) -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    result = subprocess.run(
        [uv, "run", "--no-sync", "--project", str(ROOT), "unstuck", "check", str(app_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "USK101" in result.stdout and "USK102" in result.stdout


def test_text_format_and_exit_code_on_findings(app_dir: Path) -> None:
    result = run(".", cwd=app_dir)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("app.py:11:5: USK101 time.sleep() ")
    assert "fix:" in lines[0]
    assert "    route: GET /slow" in lines
    assert lines[-1] == "2 findings in 1 file"


def test_clean_code_exits_zero() -> None:
    result = run(str(RULES / "sleep" / "negative.py"))
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("All clear")


def test_json_contract(app_dir: Path) -> None:
    result = run("--format", "json", str(app_dir))
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert set(data) == {"findings", "once_per_process", "routes", "files"}
    assert data["once_per_process"] == []  # only with --once-per-process
    assert data["files"]["analyzed"] == 1 and data["files"]["not_parsed"] == []
    finding = data["findings"][0]
    assert set(finding) == {
        "code", "path", "line", "column", "message", "severity", "route", "routes", "entries",
        "chain",
    }  # fmt: skip
    assert (finding["code"], finding["line"], finding["column"]) == ("USK101", 11, 5)
    assert finding["route"] == "GET /slow" and finding["severity"] == "error"
    assert finding["routes"] == ["GET /slow"]
    assert finding["chain"] == [{"path": finding["path"], "line": 11, "function": "app.slow"}]
    assert finding["entries"] == finding["chain"]
    (route,) = data["routes"]
    assert (route["methods"], route["path"], route["runs"]) == (["GET"], "/slow", "event loop")
    assert {item["code"] for item in route["blocking"]} == {"USK101", "USK102"}


def test_sarif(app_dir: Path) -> None:
    data = json.loads(run("--format", "sarif", str(app_dir)).stdout)
    assert data["version"] == "2.1.0"
    (sarif_run,) = data["runs"]
    assert [rule["id"] for rule in sarif_run["tool"]["driver"]["rules"]] == ["USK101", "USK102"]
    sleep_rule = sarif_run["tool"]["driver"]["rules"][0]
    assert "Incident" in sleep_rule["help"]["text"]  # the --explain text
    assert "Fix: use `await asyncio.sleep(...)`" in sleep_rule["help"]["text"]
    result = sarif_run["results"][0]
    assert result["ruleId"] == "USK101" and result["level"] == "error"
    region = result["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 11, "startColumn": 5}


def test_github_annotations(app_dir: Path) -> None:
    lines = run("--format", "github", str(app_dir)).stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("::error file=") and ",line=11,col=5,title=USK101::" in lines[0]


def test_select_and_ignore(app_dir: Path) -> None:
    selected = json.loads(run("--format", "json", "--select", "USK102", str(app_dir)).stdout)
    assert [f["code"] for f in selected["findings"]] == ["USK102"]
    ignored = run("--ignore", "USK1", str(app_dir))
    assert ignored.returncode == 0


@pytest.mark.parametrize(
    ("comment", "suppressed"),
    [
        ("# noqa: USK101", True),
        ("# noqa", True),
        ("# unstuck: ignore[USK101]", True),
        ("# unstuck: ignore", True),
        ("# noqa: USK102", False),
        ("# noqa: ASYNC251", False),
    ],
)
def test_suppression_comments(tmp_path: Path, comment: str, suppressed: bool) -> None:
    source = "import time\n\n\nasync def f():\n    time.sleep(1)  " + comment + "\n"
    (tmp_path / "mod.py").write_text(source)
    result = run(str(tmp_path))
    assert (result.returncode == 0) is suppressed, result.stdout


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    for args in (
        [str(tmp_path / "missing")],
        ["--format", "xml", str(tmp_path)],
        ["--select", "XYZ1", str(tmp_path)],
        ["--jobs", "0", str(tmp_path)],
        ["--no-such-option"],
    ):
        result = run(*args)
        assert result.returncode == 2, args
        assert result.stderr.startswith("unstuck check: error:"), result.stderr
        assert "Traceback" not in result.stderr


def test_pyproject_configuration(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [tool.unstuck]
            ignore = ["USK101"]
            exclude = ["legacy"]
            extra-blocking = ["billing.charge"]
            extra-offloaders = ["tools.in_thread"]
            """
        )
    )
    (tmp_path / "billing.py").write_text("def charge(amount):\n    return amount\n")
    (tmp_path / "tools.py").write_text("def in_thread(fn):\n    return fn\n")
    (tmp_path / "legacy").mkdir()
    (tmp_path / "legacy" / "old.py").write_text(
        "import os\n\n\nasync def f():\n    os.system('x')\n"
    )
    (tmp_path / "app.py").write_text(
        textwrap.dedent(
            """
            import time

            from billing import charge
            from tools import in_thread


            @in_thread
            def slow_report():
                time.sleep(1)
                open("report.txt").read()


            async def checkout():
                time.sleep(1)
                slow_report()
                return charge(10)
            """
        )
    )
    data = json.loads(run("--format", "json", ".", cwd=tmp_path).stdout)
    assert [(f["path"], f["line"], f["code"]) for f in data["findings"]] == [
        ("app.py", 17, "USK100")
    ]
    assert data["files"]["analyzed"] == 3  # legacy/ is excluded


def test_bad_configuration_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.unstuck]\nselct = ["USK1"]\n')
    (tmp_path / "app.py").write_text("x = 1\n")
    result = run(".", cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown key 'selct'" in result.stderr


def test_routes_option_prints_the_route_map(app_dir: Path) -> None:
    out = run("--routes", str(app_dir)).stdout
    assert "GET /slow  app.slow" in out
    assert "runs on: event loop" in out
    assert "advice: blocks the event loop: await asyncio.sleep()" in out
    assert "1 route: 1 on the event loop, 0 in the thread pool; 1 can block the event loop" in out


def test_unparsable_file_is_reported_and_fails(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("def (:\n")
    result = run(str(tmp_path))
    assert result.returncode == 1
    assert "bad.py: not parsed: SyntaxError" in result.stdout


def test_list_rules() -> None:
    result = run("--list-rules")
    assert result.returncode == 0
    assert "USK105  sync-sqlalchemy" in result.stdout


def test_pre_commit_hook_definition() -> None:
    text = (ROOT / ".pre-commit-hooks.yaml").read_text()
    assert "- id: unstuck-check" in text
    assert "entry: unstuck check" in text
    assert "language: python" in text
    assert "types: [python]" in text


def test_suppression_where_the_blocking_call_is(tmp_path: Path) -> None:
    source = (
        "import time\n\n\ndef pause():\n    time.sleep(0.01)  # noqa: USK101\n\n\n"
        "async def f():\n    pause()\n"
    )
    (tmp_path / "mod.py").write_text(source)
    assert run(str(tmp_path)).returncode == 0


def test_directory_that_cannot_be_listed_is_reported(tmp_path: Path) -> None:
    # os.walk reports the failure of a vanished (or unreadable) directory to onerror
    unreadable: list[tuple[Path, str]] = []
    assert discover([tmp_path / "vanished"], (), None, unreadable) == []
    assert unreadable == [(tmp_path / "vanished", "cannot be read: No such file or directory")]


def test_reader_closing_the_pipe_early_is_not_a_crash(app_dir: Path) -> None:
    """``unstuck check --routes . | head -1``: the report still ends with its status."""
    for index in range(300):
        (app_dir / f"extra_{index}.py").write_text(BLOCKING_APP)
    with subprocess.Popen(
        [sys.executable, "-m", "unstuck", "check", "--routes", str(app_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.read(10)
        process.stdout.close()
        stderr = process.stderr.read().decode()
        assert process.wait(timeout=120) == 1
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr


def test_the_codes_known_without_the_rules_are_the_rules_codes() -> None:
    from unstuck.check.cli import RULE_CODES
    from unstuck.check.rules import ALL_RULES

    assert tuple(rule.code for rule in ALL_RULES) == RULE_CODES
