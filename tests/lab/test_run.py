"""``unstuck lab --only`` end to end: real service processes, real load, a real report.

Only loose bounds on timings (shared machine): the verdicts themselves are
what the lab computes from its own measurements.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
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
    claims = {claim["id"]: claim for claim in results["claims"]}
    assert list(claims) == ["async_sleep", "blocking_call"]

    sleep = claims["async_sleep"]
    assert sleep["metrics"]["ok"] == sleep["metrics"]["requests"] == 1000
    # 1,000 overlapping 1 s sleeps: far from 1,000 s, and never under the delay itself.
    assert 1.0 <= sleep["value"] <= sleep["metrics"]["wall_s"] < 10
    assert sleep["ratio"] == pytest.approx(sleep["value"] / sleep["ideal_value"])
    assert sleep["unit"] == "s"
    # How far over the delay depends on the machine's load: the verdict is one of two.
    assert sleep["verdict"] in {"holds", "holds with a correction"}

    blocking = claims["blocking_call"]
    metrics = blocking["metrics"]
    assert metrics["blocking_ok"] == metrics["concurrent"]
    # /bad blocks the loop for its delay: a /health probe must have waited most of it.
    assert metrics["health_during_blocking"]["max_ms"] >= 0.8 * metrics["delay_s"] * 1000
    assert metrics["blocking_wall_s"] >= 0.8 * metrics["concurrent"] * metrics["delay_s"]
    assert blocking["verdict"] == "holds"

    for claim in claims.values():
        for key in ("claim", "measured", "ideal", "ratio", "ratio_of", "verdict", "explanation"):
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


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _start_lab(tmp_path: Path, stderr: int) -> subprocess.Popen[bytes]:
    """A quick lab of one claim, in a process of its own, with none of this run's settings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("UNSTUCK_")}
    command = [sys.executable, "-m", "unstuck", "lab", "--quick", "--only", "thread_pool"]
    return subprocess.Popen(
        [*command, "--report", str(tmp_path / "report")],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        env=env,
    )


def test_sigterm_stops_the_lab_and_the_services_it_started(tmp_path: Path) -> None:
    lab = _start_lab(tmp_path, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        services: list[int] = []
        while not services and time.monotonic() < deadline and lab.poll() is None:
            time.sleep(0.2)
            services = _children(lab.pid)
        assert services, "the lab started no service"
        time.sleep(1)
        lab.send_signal(signal.SIGTERM)
        _, errors = lab.communicate(timeout=60)
        assert lab.returncode == 130, errors
        assert "interrupted" in errors.decode()
        assert not any(_alive(pid) for pid in services)
    finally:
        if lab.poll() is None:
            lab.kill()
        lab.communicate()


def _session_members(session: int) -> list[int]:
    """Live processes of the session led by `session` (a service and what it started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == session and fields[0] != "Z":
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_sigkilled_lab_leaves_no_service_behind(tmp_path: Path) -> None:
    lab = _start_lab(tmp_path, stderr=subprocess.DEVNULL)
    services: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while not services and time.monotonic() < deadline and lab.poll() is None:
            time.sleep(0.2)
            services = _children(lab.pid)
        assert services, "the lab started no service"
        # Until the service has started its own children (uvicorn, the pools).
        time.sleep(3)
        members = [pid for service in services for pid in _session_members(service)]
        assert len(members) >= len(services)
        lab.kill()
        lab.wait()
        deadline = time.monotonic() + 30
        while left := [pid for pid in members if _alive(pid)]:
            assert time.monotonic() < deadline, f"left running after the lab died: {left}"
            time.sleep(0.2)
    finally:
        if lab.poll() is None:
            lab.kill()
        lab.wait()
        for service in services:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(service, signal.SIGKILL)
