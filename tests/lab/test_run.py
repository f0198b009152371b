"""``unstuck lab --only`` end to end: real service processes, real load, a real report.

Only loose bounds on timings (shared machine): the verdicts themselves are
what the lab computes from its own measurements.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def _lab(*args: str, timeout_s: float = 150) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("UNSTUCK_")}
    return subprocess.run(
        [sys.executable, "-m", "unstuck", "lab", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=env,
        check=False,
    )


def test_two_claims_measured_reported_and_plotted(tmp_path: Path) -> None:
    report = tmp_path / "report"
    done = _lab("--quick", "--only", "async_sleep,blocking_call", "--report", str(report))
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((report / "results.json").read_text())
    assert results["run"]["mode"] == "quick"
    assert results["run"]["database"] == "sqlite"
    claims = {claim["name"]: claim for claim in results["claims"]}
    assert list(claims) == ["async_sleep", "blocking_call"]

    sleep = claims["async_sleep"]
    assert sleep["metrics"]["ok"] == sleep["metrics"]["requests"] == 500
    # 500 overlapping 1 s sleeps: far from 500 s, and never under the delay itself.
    assert 1.0 <= sleep["metrics"]["wall_s"] < 10
    assert sleep["ratio"] == pytest.approx(sleep["metrics"]["wall_s"])
    assert sleep["verdict"] == "holds"

    blocking = claims["blocking_call"]
    metrics = blocking["metrics"]
    assert metrics["blocking_ok"] == metrics["concurrent"]
    # /bad blocks the loop for its delay: a /health probe must have waited most of it.
    assert metrics["health_during_blocking"]["max_ms"] >= 0.8 * metrics["delay_s"] * 1000
    assert metrics["blocking_wall_s"] >= 0.8 * metrics["concurrent"] * metrics["delay_s"]
    assert blocking["verdict"] == "holds"

    for claim in claims.values():
        for key in ("article", "measured", "ideal", "ratio", "verdict", "explanation"):
            assert claim[key] is not None, key
        for plot in claim["plots"]:
            assert (report / plot).read_bytes().startswith(b"\x89PNG")
    page = (report / "report.html").read_text()
    assert "data:image/png;base64," in page
    assert "blocking call in async def" in page
    assert "[1] async def + await" in done.stdout
    assert "verdict" in done.stdout


def test_a_service_that_cannot_start_is_reported_not_measured(tmp_path: Path) -> None:
    report = tmp_path / "report"
    done = _lab(
        "--quick",
        "--only",
        "async_sleep",
        "--report",
        str(report),
        "--database-url",
        "postgresql://nobody@127.0.0.1:9/nothing",
        timeout_s=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    claim = json.loads((report / "results.json").read_text())["claims"][0]
    assert claim["verdict"] == "not measured"
    assert "exited with code" in claim["error"]
    assert "not measured" in (report / "report.html").read_text()
