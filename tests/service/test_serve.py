"""``unstuck serve`` as a real process: concurrency, the loop stalled on purpose, clean stops.

Timings are only asserted loosely: lower bounds where the point is that
something waited, generous upper bounds where the point is that it did not
wait for everything in turn.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from unstuck.service.settings import Settings

STARTUP_TIMEOUT_S = 60.0


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name may contain spaces and parentheses: split after the last ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def descendants(pid: int) -> set[int]:
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _environment(**variables: str) -> dict[str, str]:
    fields = {f"UNSTUCK_{name.upper()}" for name in Settings.model_fields}
    base = {key: value for key, value in os.environ.items() if key not in fields}
    return {**base, **variables}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Served:
    def __init__(self, process: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.process, self.url, self.log = process, url, log

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def serving(data_dir: Path, *args: str, **variables: str) -> Iterator[Served]:
    port = _free_port()
    log = data_dir / "serve.log"
    command = [sys.executable, "-m", "unstuck", "serve", "--port", str(port)]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*command, "--data-dir", str(data_dir), *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=_environment(**variables),
            start_new_session=True,
        )
    served = Served(process, f"http://127.0.0.1:{port}", log)
    ready = {200, 503} if "--no-worker" in args else {200}
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            assert process.poll() is None, f"serve exited early:\n{served.output()}"
            assert time.monotonic() < deadline, f"serve did not start:\n{served.output()}"
            try:
                # Without a video worker /health is a 503 (the pipeline cannot work),
                # still an answer of a started server.
                if httpx.get(f"{served.url}/health", timeout=2).status_code in ready:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield served
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def stop_and_check_no_orphans(served: Served, signum: int) -> None:
    family = descendants(served.process.pid)
    served.process.send_signal(signum)
    assert served.process.wait(timeout=60) == 0, served.output()
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in family) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = sorted(pid for pid in family if alive(pid))
    assert not left, f"processes left behind: {left}\n{served.output()}"


def _timed_get(url: str, timeout: float = 60) -> tuple[float, httpx.Response]:
    started = time.monotonic()
    response = httpx.get(url, timeout=timeout)
    return time.monotonic() - started, response


def test_one_worker_serves_concurrently_and_stops_cleanly(tmp_path: Path) -> None:
    with serving(tmp_path, "--antipatterns") as served, ThreadPoolExecutor(24) as pool:
        # The embedded Celery worker runs: it is one of serve's descendants.
        assert len(descendants(served.process.pid)) >= 2

        started = time.monotonic()
        responses = list(
            pool.map(lambda _: _timed_get(f"{served.url}/async?delay=1")[1], range(20))
        )
        elapsed = time.monotonic() - started
        assert all(response.status_code == 200 for response in responses)
        # One at a time would take 20 s; on the loop they all wait together.
        assert elapsed < 10, elapsed

        # A blocked loop serves nobody: /health waits for /also-bad and /bad to finish.
        for blocker in ("/also-bad?delay=2", "/bad?delay=2"):
            blocking = pool.submit(_timed_get, f"{served.url}{blocker}")
            time.sleep(0.5)
            health_s, health = _timed_get(f"{served.url}/health")
            assert blocking.result()[1].status_code == 200
            assert health.status_code == 200
            assert health_s > 1.0, (blocker, health_s)

        # Waiting on the loop the right way leaves /health free: it answers first.
        waiting = pool.submit(_timed_get, f"{served.url}/async?delay=3")
        time.sleep(0.5)
        assert _timed_get(f"{served.url}/health")[1].status_code == 200
        assert not waiting.done()
        assert waiting.result()[1].status_code == 200

        inference = httpx.post(
            f"{served.url}/ml-inference", json={"features": [[5.1, 3.5, 1.4, 0.2]]}, timeout=120
        )
        assert inference.status_code == 200, inference.text
        pool_pid = inference.json()["worker_pid"]
        assert pool_pid in descendants(served.process.pid)

        stop_and_check_no_orphans(served, signal.SIGTERM)


def test_watcher_names_the_route_that_stalled_the_loop(tmp_path: Path) -> None:
    with serving(tmp_path, "--antipatterns", "--no-worker", UNSTUCK_WATCH_TOKEN="s3cret") as served:
        assert httpx.get(f"{served.url}/also-bad", params={"delay": 0.5}).status_code == 200
        assert httpx.get(f"{served.url}/_unstuck").status_code == 401
        diagnostics = httpx.get(
            f"{served.url}/_unstuck", headers={"Authorization": "Bearer s3cret"}
        ).json()
        stalls = [stall for stall in diagnostics["stalls"] if stall["route"] == "GET /also-bad"]
        assert stalls, diagnostics["stalls"]
        assert stalls[0]["duration_ms"] >= 300
        pools = {pool["name"] for pool in diagnostics["db_pools"]}
        assert {"async", "sync"} <= pools
        stop_and_check_no_orphans(served, signal.SIGTERM)


def test_serve_makes_a_diagnostics_token_when_none_is_set(tmp_path: Path) -> None:
    with serving(tmp_path, "--no-worker") as served:
        match = re.search(r"/_unstuck/ui#token=(\S+)", served.output())
        assert match, served.output()
        assert httpx.get(f"{served.url}/_unstuck").status_code == 401
        authorized = httpx.get(
            f"{served.url}/_unstuck", headers={"Authorization": f"Bearer {match[1]}"}
        )
        assert authorized.status_code == 200
        assert authorized.json()["threadpool"]["total"] == 40
        stop_and_check_no_orphans(served, signal.SIGINT)


def test_several_workers_on_postgres_stop_on_sigint(tmp_path: Path, postgres_database: str) -> None:
    # A database of this test session's own: serve migrates it.
    database = postgres_database
    with serving(
        tmp_path,
        "--workers",
        "2",
        "--no-worker",
        "--antipatterns",
        UNSTUCK_DATABASE_URL=database,
        UNSTUCK_POOL_SIZE="4",
        UNSTUCK_MAX_OVERFLOW="2",
    ) as served:
        health = httpx.get(f"{served.url}/health").json()
        assert health["database"]["kind"] == "postgresql"
        # Flags reach the worker processes through UNSTUCK_* variables.
        assert httpx.get(f"{served.url}/bad").status_code == 200
        assert health["pid"] in descendants(served.process.pid)
        stop_and_check_no_orphans(served, signal.SIGINT)


def test_refuses_to_start_past_the_connection_budget(tmp_path: Path, postgres_url: str) -> None:
    database = postgres_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    result = subprocess.run(
        [sys.executable, "-m", "unstuck", "serve", "--workers", "4", "--data-dir", str(tmp_path)],
        env=_environment(UNSTUCK_DATABASE_URL=database, UNSTUCK_POOL_SIZE="1000"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "refusing to start" in result.stderr
    assert "4 workers x (pool_size 1000 + max_overflow 10) x 2 engines = 8080" in result.stderr
    assert "max_connections" in result.stderr
    assert "UNSTUCK_POOL_SIZE" in result.stderr


@pytest.mark.parametrize(
    ("args", "variables", "message"),
    [
        (["--port", "70000"], {}, "--port must be from 0 to 65535"),
        ([], {"UNSTUCK_POOL_SIZE": "0"}, "invalid settings"),
        ([], {"UNSTUCK_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/x"}, "cannot reach"),
    ],
)
def test_bad_configuration_is_a_clear_error(
    tmp_path: Path, args: list[str], variables: dict[str, str], message: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "unstuck", "serve", "--data-dir", str(tmp_path), *args],
        env=_environment(**variables),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode in (1, 2)
    assert message in result.stderr
    assert "Traceback" not in result.stderr


GUNICORN_CONF = Path(__file__).resolve().parents[2] / "deploy" / "gunicorn.conf.py"


def test_gunicorn_config_runs_uvicorn_workers(tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    variables = {
        "UNSTUCK_DATA_DIR": str(tmp_path),
        "UNSTUCK_WORKERS": "2",
        "UNSTUCK_BIND": f"127.0.0.1:{port}",
    }
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=_environment(**variables),
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                # 200 once the embedded Celery worker the master started has reported.
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                if health.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        # The master applied the migrations before forking the workers.
        assert (tmp_path / "unstuck.db").exists()
        # On the embedded default it runs one Celery worker itself, as serve does.
        children = _children().get(process.pid, [])
        commands = [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in children]
        assert sum(b"unstuck.service.worker" in command for command in commands) == 1
        stop_and_check_no_orphans(Served(process, "", log), signal.SIGTERM)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_gunicorn_config_refuses_past_the_budget(tmp_path: Path, postgres_url: str) -> None:
    database = postgres_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    variables = {
        "UNSTUCK_DATABASE_URL": database,
        "UNSTUCK_WORKERS": "4",
        "UNSTUCK_POOL_SIZE": "1000",
        "UNSTUCK_BIND": f"127.0.0.1:{_free_port()}",
    }
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF)],
        env=_environment(**variables),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "refusing to start: 4 workers x (pool_size 1000" in result.stderr
