"""What ``unstuck check`` loads before it has work: a run with nothing to analyze, or one
whose report is read back from the cache, never imports the parser or the analysis; a
run with nothing to analyze not even the standard modules it only needs for that work
(the checker's start is judged against a bare interpreter's)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_PROBE = """
import sys
from unstuck.check.cli import main
code = main(sys.argv[1:])
heavy = sorted(
    name for name in sys.modules
    if name in ("unstuck.check.analysis", "unstuck.check.blocking", "unstuck.check.summary",
                "unstuck.check.statements", "unstuck.check.rules", "unstuck.check.rule",
                "unstuck.check.model", "unstuck.check.program", "unstuck.check.values")
)
print("loaded:" + ",".join(heavy))
sys.exit(code)
"""

APP = """\
import time

from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def index():
    time.sleep(1)
"""


def _probe(probe: str, args: tuple[str, ...], cwd: Path) -> tuple[int, str]:
    """Run the checker under ``probe``: its exit code and the modules it reports loaded."""
    result = subprocess.run(
        [sys.executable, "-c", probe, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )
    return result.returncode, result.stdout.strip().splitlines()[-1].removeprefix("loaded:")


def loaded(*args: str, cwd: Path) -> tuple[int, str]:
    return _probe(_PROBE, args, cwd)


def test_nothing_to_analyze_loads_no_analysis(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, heavy = loaded("--no-config", "--no-cache", "empty", cwd=tmp_path)
    assert (code, heavy) == (0, "")


def test_codes_in_the_configuration_are_checked_without_loading_the_rules(
    tmp_path: Path,
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "pyproject.toml").write_text('[tool.unstuck]\nignore = ["USK203"]\n')
    code, heavy = loaded("--select", "USK1", "empty", cwd=tmp_path)
    assert (code, heavy) == (0, "")
    (tmp_path / "pyproject.toml").write_text('[tool.unstuck]\nignore = ["USK999"]\n')
    code, heavy = loaded("empty", cwd=tmp_path)
    assert (code, heavy) == (2, "")


def test_a_report_read_back_from_the_cache_loads_no_analysis(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    code, heavy = loaded("--no-config", "app.py", cwd=tmp_path)
    assert code == 1 and "unstuck.check.analysis" in heavy.split(",")
    code, heavy = loaded("--no-config", "app.py", cwd=tmp_path)
    assert (code, heavy) == (1, "")


# Modules a run with nothing to analyze does without: ``dataclasses`` (and ``inspect``,
# which it imports), ``pickle`` (the cache), ``json`` (``--format json``), ``threading``
# (the process pool), ``shutil`` (argparse's own way to find the terminal's width),
# ``contextlib`` (the cache's clean-up of a failed write, the copies' reaping).
_LIGHT_PROBE = """
import sys
before = set(sys.modules)
from unstuck.check.cli import main
code = main(sys.argv[1:])
avoided = ("dataclasses", "inspect", "pickle", "json", "threading", "shutil", "contextlib")
print("loaded:" + ",".join(name for name in avoided if name in sys.modules.keys() - before))
sys.exit(code)
"""


def loaded_standard(*args: str, cwd: Path) -> tuple[int, str]:
    return _probe(_LIGHT_PROBE, args, cwd)


def test_nothing_to_analyze_loads_only_what_the_start_needs(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert loaded_standard("empty", cwd=tmp_path) == (0, "")
    # nothing to read back or keep: the cache is left alone
    assert not (tmp_path / ".unstuck_cache").exists()


def test_a_project_without_files_to_analyze_loads_only_what_the_start_needs(
    tmp_path: Path,
) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\n')
    (tmp_path / "app").mkdir()
    assert loaded_standard("app", cwd=tmp_path) == (0, "")


def test_the_probe_sees_what_a_run_with_work_loads(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    code, standard = loaded_standard("app.py", "--format", "json", cwd=tmp_path)
    assert code == 1
    assert {"dataclasses", "pickle", "json"} <= set(standard.split(","))


_TOML_PROBE = """
import sys
from unstuck.check.cli import main
code = main(sys.argv[1:])
print("loaded:" + ("tomllib" if "tomllib" in sys.modules else ""))
sys.exit(code)
"""


def test_an_unchanged_configuration_is_read_back_without_parsing_toml(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "app"\n\n[tool.unstuck]\nignore = ["USK203"]\n')
    assert _probe(_TOML_PROBE, ("empty",), tmp_path) == (0, "tomllib")
    assert (tmp_path / ".unstuck_cache" / "tool-unstuck.marshal").is_file()
    assert _probe(_TOML_PROBE, ("empty",), tmp_path) == (0, "")
    # any edit of the file is read again, and what it says holds
    pyproject.write_text('[project]\nname = "app"\n\n[tool.unstuck]\nignore = ["USK999"]\n')
    assert _probe(_TOML_PROBE, ("empty",), tmp_path) == (2, "tomllib")
    assert _probe(_TOML_PROBE, ("empty",), tmp_path) == (2, "")


def test_the_configuration_is_kept_only_where_the_cache_may_go(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "pyproject.toml").write_text('[tool.unstuck]\nignore = ["USK203"]\n')
    for _ in range(2):
        assert _probe(_TOML_PROBE, ("--no-cache", "empty"), tmp_path) == (0, "tomllib")
    assert not (tmp_path / ".unstuck_cache").exists()
    (tmp_path / "pyproject.toml").write_text('[tool.unstuck]\ncache-dir = "../elsewhere"\n')
    for _ in range(2):
        assert _probe(_TOML_PROBE, ("empty",), tmp_path) == (0, "tomllib")
    assert not (tmp_path / ".unstuck_cache").exists()
