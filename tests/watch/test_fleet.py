"""Every worker in the diagnostics of any worker; dead workers dropped, with real servers."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from unstuck.watch._fleet import (
    is_alive,
    manager_dir,
    process_start,
    read_workers,
    snapshot_path,
)

from .conftest import APPS, TOKEN, Server, free_port

DEPLOY_CONF = Path(__file__).parents[2] / "deploy" / "gunicorn.conf.py"


def _until(check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _env(tmp_path: Path) -> dict[str, str]:
    metrics = tmp_path / "prometheus"
    metrics.mkdir()
    return {
        "UNSTUCK_WATCH_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
    }


def _worker_pids(server: Server) -> set[int]:
    """The pids of the server's workers, from the operating system (children of the master)."""
    result = subprocess.run(
        ["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True, check=False
    )
    pids = {int(pid) for pid in result.stdout.split()}
    # uvicorn's workers are spawned by multiprocessing, which adds its resource tracker.
    return {pid for pid in pids if b"resource_tracker" not in _cmdline(pid)}


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _serving_workers(server: Server, count: int) -> set[int]:
    def ready() -> set[int] | None:
        pids = _worker_pids(server)
        return pids if len(pids) == count else None

    pids: set[int] = _until(ready, f"{count} workers")
    return pids


def _stall_on_one_worker(server: Server) -> int:
    status, _, body = server.request("/sleep")
    assert status == 200
    pid: int = json.loads(body)["pid"]
    return pid


def _every_worker_shown(server: Server, pids: set[int], stalled: int) -> None:
    """Each answer, whichever worker gives it, lists all workers and the stall."""

    complete_views: set[int] = set()

    def all_published() -> bool:
        data = server.json("/_unstuck")
        workers = {worker["pid"]: worker for worker in data["workers"]}
        # Snapshots are published once a second (the first a second after start-up):
        # wait until each worker has shown all of them, the stall included.
        if set(workers) == pids and _sleep_stalls(workers[stalled]):
            complete_views.add(data["pid"])
        return complete_views == pids

    _until(all_published, "every worker's snapshot")
    for _ in range(10):
        data = server.json("/_unstuck")
        workers = {worker["pid"]: worker for worker in data["workers"]}
        assert set(workers) == pids, server.log()
        (stall,) = _sleep_stalls(workers[stalled])
        assert stall["where"]["function"] == "blocking_sleep"
        assert stall["pid"] == stalled
        for pid, worker in workers.items():
            if pid != stalled:
                assert _sleep_stalls(worker) == []


def _sleep_stalls(worker: dict[str, Any]) -> list[dict[str, Any]]:
    return [stall for stall in worker["stalls"] if stall["route"] == "GET /sleep"]


def _gauge_pids(server: Server) -> set[int]:
    status, _, body = server.request("/_unstuck/metrics", TOKEN)
    assert status == 200
    return {
        int(pid) for pid in re.findall(r'unstuck_thread_pool_total\{pid="(\d+)"\}', body.decode())
    }


def _killed_worker_disappears(
    server: Server, pids: set[int], tmp_path: Path, *, hooked: bool
) -> None:
    victim = min(pids)
    os.kill(victim, signal.SIGKILL)
    # The master replaces it: wait for the new set of workers.

    def replaced() -> set[int] | None:
        now = _worker_pids(server)
        return now if len(now) == len(pids) and victim not in now else None

    new_pids: set[int] = _until(replaced, "a replacement worker")
    metrics = tmp_path / "prometheus"
    if hooked:
        # gunicorn's child_exit ran before the replacement was forked: nothing left to read.
        assert not snapshot_path(metrics, victim).exists()
        assert not list(metrics.glob(f"gauge_live*_{victim}.db"))

    def shown() -> bool:
        data = server.json("/_unstuck")
        return {worker["pid"] for worker in data["workers"]} == new_pids

    _until(shown, "the replacement in the diagnostics, without the killed worker")
    assert not snapshot_path(metrics, victim).exists()
    _until(lambda: _gauge_pids(server) == new_pids, "gauges of live workers only")


def test_uvicorn_workers_all_shown_and_a_killed_one_dropped(tmp_path: Path) -> None:
    server = Server("fleet_app:app", _env(tmp_path), workers=2)
    try:
        pids = _serving_workers(server, 2)
        stalled = _stall_on_one_worker(server)
        _every_worker_shown(server, pids, stalled)
        assert _gauge_pids(server) == pids
        _killed_worker_disappears(server, pids, tmp_path, hooked=False)
    finally:
        server.stop()


def test_uvicorn_workers_find_each_other_without_configuration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No directory configured: the workers of one manager share one of their own."""
    # Unset, not empty: prometheus_client takes even an empty value as a directory.
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    server = Server("fleet_app:app", {"UNSTUCK_WATCH_TOKEN": TOKEN}, workers=2)
    directory = Path(manager_dir(server.process.pid))
    try:
        pids = _serving_workers(server, 2)

        def both_seen() -> bool:
            data = server.json("/_unstuck")
            return {worker["pid"] for worker in data["workers"]} == pids

        _until(both_seen, "both workers, through the manager's directory")
        expected = {snapshot_path(directory, pid).name for pid in pids}
        _until(
            lambda: {path.name for path in directory.iterdir()} == expected,
            "a snapshot file of each worker",
        )
        assert directory.stat().st_mode & 0o077 == 0  # private to the user
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


class Gunicorn(Server):
    """gunicorn with the deployment's ``child_exit`` hook, serving a test app."""

    def __init__(self, env: dict[str, str], workers: int, max_requests: int = 0) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.NamedTemporaryFile(prefix="unstuck-gunicorn-", suffix=".log")  # noqa: SIM115
        config = Path(env["PROMETHEUS_MULTIPROC_DIR"]).parent / "gunicorn_test.conf.py"
        # The deployment's hooks, without its start-up checks (they need the service's database).
        config.write_text(
            "import runpy\n"
            f"child_exit = runpy.run_path({str(DEPLOY_CONF)!r})['child_exit']\n"
            "worker_class = 'uvicorn_worker.UvicornWorker'\n"
            f"workers = {workers}\n"
            f"bind = '127.0.0.1:{self.port}'\n"
            f"max_requests = {max_requests}\n"
        )
        command = [
            sys.executable, "-m", "gunicorn", "-c", str(config), "--chdir", str(APPS),
            "fleet_app:app",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready()


def test_gunicorn_workers_all_shown_and_a_killed_one_dropped(tmp_path: Path) -> None:
    server = Gunicorn(_env(tmp_path), workers=2)
    try:
        pids = _serving_workers(server, 2)
        stalled = _stall_on_one_worker(server)
        _every_worker_shown(server, pids, stalled)
        _killed_worker_disappears(server, pids, tmp_path, hooked=True)
    finally:
        log = server.stop()
    assert "Traceback" not in log, log


def test_a_reused_pid_is_not_a_live_worker(tmp_path: Path) -> None:
    me = os.getpid()
    started = process_start(me)
    assert started is not None
    assert is_alive(me, started)
    assert not is_alive(me, started - 1)  # same pid, another process
    snapshot_path(tmp_path, me).write_text(json.dumps({"pid": me, "process_start": started - 1}))
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    gone = int(dead.stdout)
    snapshot_path(tmp_path, gone).write_text(json.dumps({"pid": gone, "process_start": None}))
    assert read_workers(tmp_path) == []
    assert list(tmp_path.iterdir()) == []  # both removed


def test_a_bad_file_in_the_directory_is_skipped(tmp_path: Path) -> None:
    snapshot_path(tmp_path, os.getpid()).write_text("{not json")
    (tmp_path / "unstuck-worker-x.json").write_text("{}")
    assert read_workers(tmp_path) == []


@pytest.fixture(autouse=True)
def _no_inherited_fleet_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNSTUCK_WATCH_FLEET_DIR", raising=False)


def test_gunicorn_recycled_workers_drop_out(tmp_path: Path) -> None:
    """Workers that gunicorn recycles (``max_requests``) leave no snapshot and no gauges."""
    server = Gunicorn(_env(tmp_path), workers=2, max_requests=15)
    metrics = tmp_path / "prometheus"
    try:
        first = _serving_workers(server, 2)

        def recycled() -> set[int] | None:
            server.request("/pid")
            now = _worker_pids(server)
            return now if len(now) == 2 and not now & first else None

        _until(recycled, "both first workers recycled", timeout=60)

        def shown() -> bool:
            data = server.json("/_unstuck")
            return {worker["pid"] for worker in data["workers"]} == _worker_pids(server)

        _until(shown, "only live workers in the diagnostics")
        for pid in first:
            assert not snapshot_path(metrics, pid).exists()
            assert not list(metrics.glob(f"gauge_live*_{pid}.db"))
        # Workers keep recycling while the test asks (every request counts): retry.
        _until(lambda: _gauge_pids(server) <= _worker_pids(server), "gauges of live workers only")
    finally:
        log = server.stop()
    assert "Traceback" not in log, log
