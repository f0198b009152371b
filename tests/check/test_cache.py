"""The on-disk cache: reused when nothing changed, redone where something did, never
read across checker versions, never wrong when its files are damaged or raced."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from unstuck.check import Report, analysis, check, summary
from unstuck.check.cache import Cache, checker_version
from unstuck.check.model import ModuleSummary

ROUTES = """\
import time

from fastapi import FastAPI

from app.services import slow

app = FastAPI()


@app.get("/a")
async def a():
    time.sleep(1)
    return slow()
"""
SERVICES = """\
def slow():
    return 1
"""
BLOCKING_SERVICES = """\
import subprocess


def slow():
    return subprocess.run(["true"], check=True)
"""


def make_project(root: Path) -> Path:
    package = root / "app"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "main.py").write_text(ROUTES)
    (package / "services.py").write_text(SERVICES)
    return package


def codes(report: Report) -> list[tuple[str, int, str]]:
    return [(Path(f.path).name, f.line, f.code) for f in report.findings]


def summarized(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files summarized from here on (the real summarizer still runs)."""
    calls: list[str] = []
    real = summary.summarize_file

    def recording(path: str, module: str, is_package: bool) -> ModuleSummary | str:
        calls.append(Path(path).name)
        return real(path, module, is_package)

    monkeypatch.setattr(summary, "summarize_file", recording)
    return calls


def test_an_unchanged_tree_is_read_back_without_any_analysis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(tmp_path)
    cache = Cache(tmp_path / "cache")
    first = check([project], jobs=1, cache=cache)
    assert codes(first) == [("main.py", 12, "USK101")]

    def fail(*args: object) -> None:
        raise AssertionError("the cached report should have been used")

    monkeypatch.setattr(summary, "summarize_file", fail)
    monkeypatch.setattr(analysis, "analyze", fail)
    again = check([project], jobs=1, cache=Cache(tmp_path / "cache"))
    assert again.as_json() == first.as_json()


def test_after_an_edit_only_the_edited_file_is_summarized_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(tmp_path)
    check([project], jobs=1, cache=Cache(tmp_path / "cache"))
    calls = summarized(monkeypatch)
    (project / "services.py").write_text(BLOCKING_SERVICES)
    report = check([project], jobs=1, cache=Cache(tmp_path / "cache"))
    assert calls == ["services.py"]
    assert ("services.py", 5, "USK109") in codes(report)  # at the blocking call


def test_another_checker_version_never_reads_the_old_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(tmp_path)
    directory = tmp_path / "cache"
    check([project], jobs=1, cache=Cache(directory, version="a" * 32))
    calls = summarized(monkeypatch)
    report = check([project], jobs=1, cache=Cache(directory, version="b" * 32))
    assert sorted(calls) == ["__init__.py", "main.py", "services.py"]
    assert codes(report) == [("main.py", 12, "USK101")]
    assert not (directory / ("a" * 32)).exists()  # the old version's entries are gone
    assert (directory / ".gitignore").read_text().endswith("*\n")


def test_the_default_version_is_a_hash_of_the_checker_and_python() -> None:
    version = checker_version()
    assert len(version) == 32 and int(version, 16) >= 0
    assert Cache(Path("unused")).version == version


def test_damaged_entries_are_misses(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    directory = tmp_path / "cache"
    expected = check([project], jobs=1, cache=Cache(directory))
    entries = [path for path in directory.rglob("*") if path.is_file() and path.name[0] != "."]
    assert len(entries) == 2
    for number, entry in enumerate(entries):
        entry.write_bytes(b"\x80\x05garbage" if number else b"")
    again = check([project], jobs=1, cache=Cache(directory))
    assert again.as_json() == expected.as_json()


def test_a_cache_that_cannot_be_written_is_skipped(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    report = check([project], jobs=1, cache=Cache(blocked / "cache"))
    assert codes(report) == [("main.py", 12, "USK101")]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "unstuck", "check", "--format", "json", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_concurrent_runs_share_one_cache_safely(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    reference = run_cli("--no-cache", str(project), cwd=tmp_path)
    assert not (tmp_path / ".unstuck_cache").exists()
    command = [sys.executable, "-m", "unstuck", "check", "--format", "json"]
    for round_ in range(2):
        if round_ == 1:
            (project / "services.py").write_text(BLOCKING_SERVICES)
            reference = run_cli("--no-cache", str(project), cwd=tmp_path)
        runs = [
            subprocess.Popen(
                [*command, "--cache-dir", "shared", str(project)],
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        outputs = [run.communicate(timeout=120)[0] for run in runs]
        assert all(json.loads(out) == json.loads(reference.stdout) for out in outputs)
    assert (tmp_path / "shared" / checker_version()).is_dir()


def test_the_cli_keeps_its_cache_next_to_the_configuration(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.unstuck]\nignore = ["USK203"]\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_cli(str(project), cwd=elsewhere)
    assert result.returncode == 1
    assert (tmp_path / ".unstuck_cache" / checker_version()).is_dir()
    assert not (elsewhere / ".unstuck_cache").exists()


def test_the_configuration_can_move_the_cache(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.unstuck]\ncache-dir = "build/check-cache"\n')
    assert run_cli(str(project), cwd=tmp_path).returncode == 1
    assert (tmp_path / "build" / "check-cache" / checker_version()).is_dir()
    assert not (tmp_path / ".unstuck_cache").exists()
    pyproject.write_text("[tool.unstuck]\ncache-dir = 3\n")
    result = run_cli(str(project), cwd=tmp_path)
    assert result.returncode == 2 and "cache-dir must be a path" in result.stderr
