"""Worker processes: settings passed down, warm stop, no orphan left in the group."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.service.video_fixtures import queue_settings, worker_env
from unstuck.service.settings import Settings
from unstuck.service.worker import settings_environment, spawn_embedded_worker, stop_worker, worker


def _group_members(group: int) -> list[int]:
    """Live (non-zombie) processes whose process group is `group`, from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == group:
            members.append(int(entry.name))
    return members


def _wait_for_members(group: int, count: int) -> list[int]:
    deadline = time.monotonic() + 30
    while len(members := _group_members(group)) < count:
        assert time.monotonic() < deadline, f"group {group} has only {members}"
        time.sleep(0.1)
    return members


def _wait_for_no_members(group: int) -> None:
    # SIGKILL is delivered asynchronously: give the kernel a moment to end each process.
    deadline = time.monotonic() + 5
    while members := _group_members(group):
        assert time.monotonic() < deadline, f"orphans left in group {group}: {members}"
        time.sleep(0.05)


def test_settings_survive_the_trip_through_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        broker_url="redis://127.0.0.1:6379/3",
        max_upload_bytes=1234,
        antipatterns=True,
        process_pool_start_method="forkserver",
    )
    environment = settings_environment(settings)

    assert environment["UNSTUCK_DATA_DIR"] == str((tmp_path / "data").resolve())
    assert "UNSTUCK_RESULT_BACKEND" not in environment
    for name in list(os.environ):
        if name.startswith("UNSTUCK_"):
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert Settings() == settings.model_copy(update={"data_dir": (tmp_path / "data").resolve()})


def test_embedded_worker_runs_a_pool_and_stops_without_orphans(tmp_path: Path) -> None:
    queue = queue_settings()
    process = spawn_embedded_worker(
        Settings(data_dir=tmp_path), loglevel="WARNING", extra_env=worker_env(queue)
    )
    try:
        # The worker leads its own group; with the prefork pool its child joins it.
        assert os.getpgid(process.pid) == process.pid
        members = _wait_for_members(process.pid, 2)
        assert process.pid in members
    finally:
        stop_worker(process, timeout=15.0)

    assert process.returncode == 0, "SIGTERM should be a warm shutdown"
    _wait_for_no_members(process.pid)


def test_stop_worker_kills_a_group_that_ignores_sigterm(tmp_path: Path) -> None:
    stubborn = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        "time.sleep(120)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", stubborn], start_new_session=True)
    _wait_for_members(process.pid, 2)

    stop_worker(process, timeout=0.5)

    assert process.returncode == -9
    _wait_for_no_members(process.pid)


def test_worker_command_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        worker(["--concurrency", "0"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        worker(["--pool", "gevent"])
    assert "invalid choice" in capsys.readouterr().err


def test_worker_command_reports_an_unsupported_broker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("UNSTUCK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("UNSTUCK_BROKER_URL", "ftp://broker.example")

    assert worker([]) == 2
    assert "ftp:// is not supported; use redis://" in capsys.readouterr().err


def test_worker_command_reports_inconsistent_time_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("UNSTUCK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("UNSTUCK_TASK_SOFT_TIME_LIMIT_S", "60")
    monkeypatch.setenv("UNSTUCK_TASK_TIME_LIMIT_S", "30")

    assert worker([]) == 2
    assert "UNSTUCK_TASK_TIME_LIMIT_S must be greater" in capsys.readouterr().err
