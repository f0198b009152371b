"""What ``unstuck check`` loads before it has work: a run with nothing to analyze, or one
whose report is read back from the cache, never imports the parser or the analysis."""

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


def loaded(*args: str, cwd: Path) -> tuple[int, str]:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )
    return result.returncode, result.stdout.strip().splitlines()[-1].removeprefix("loaded:")


def test_nothing_to_analyze_loads_no_analysis(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, heavy = loaded("--no-config", "--no-cache", "empty", cwd=tmp_path)
    assert (code, heavy) == (0, "")


def test_a_report_read_back_from_the_cache_loads_no_analysis(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    code, heavy = loaded("--no-config", "app.py", cwd=tmp_path)
    assert code == 1 and "unstuck.check.analysis" in heavy.split(",")
    code, heavy = loaded("--no-config", "app.py", cwd=tmp_path)
    assert (code, heavy) == (1, "")
