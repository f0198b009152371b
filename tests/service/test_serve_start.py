"""``unstuck serve`` starts and stops like a good server.

Bad settings, unsupported URLs and a port in use are found before anything
starts (no diagnostics line, no database file) and end with exit 2 and one
line that names the variable or the flag. A SQLite file in a folder that does
not exist yet gets its folder. Ctrl-C (SIGINT to the whole process group, as a
terminal sends it) and SIGTERM stop quietly, process pool included.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.service.test_serve import (
    _environment,
    _free_port,
    serving,
    stop_and_check_no_orphans,
)


def _serve(tmp_path: Path, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "unstuck", "serve", "--data-dir", str(tmp_path), *args],
        env=_environment(**variables),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"UNSTUCK_DATABASE_URL": "mysql://root@127.0.0.1/app"}, "UNSTUCK_DATABASE_URL"),
        ({"UNSTUCK_BROKER_URL": "kafka://127.0.0.1"}, "UNSTUCK_BROKER_URL"),
        ({"UNSTUCK_MAX_DELAY_S": "abc"}, "UNSTUCK_MAX_DELAY_S"),
        ({"UNSTUCK_UPSTREAM_URL": "file:///etc/passwd"}, "UNSTUCK_UPSTREAM_URL"),
    ],
)
def test_bad_settings_are_one_line_naming_the_variable(
    tmp_path: Path, variables: dict[str, str], named: str
) -> None:
    result = _serve(tmp_path, **variables)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"unstuck serve: invalid settings: {named}=")
    assert not (tmp_path / "unstuck.db").exists()


def test_a_port_in_use_is_found_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _serve(tmp_path, "--port", str(port))
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == f"unstuck serve: port {port} on 127.0.0.1 is already in use (--port)"
    )
    # Nothing ran: no migrations, no diagnostics URL printed.
    assert not (tmp_path / "unstuck.db").exists()


def test_sqlite_in_a_missing_folder_gets_its_folder(tmp_path: Path) -> None:
    database = tmp_path / "not" / "yet" / "there.db"
    with serving(
        tmp_path, "--no-worker", UNSTUCK_DATABASE_URL=f"sqlite+aiosqlite:///{database}"
    ) as served:
        created = httpx.post(
            f"{served.url}/users", json={"name": "Ada", "email": "ada@example.com"}
        )
        assert created.status_code == 201
        assert database.exists()
        stop_and_check_no_orphans(served, signal.SIGTERM)


def test_ctrl_c_after_the_process_pool_ran_stops_quietly(tmp_path: Path) -> None:
    with serving(tmp_path, "--no-worker") as served:
        inference = httpx.post(
            f"{served.url}/ml-inference", json={"features": [[5.1, 3.5, 1.4, 0.2]]}, timeout=60
        )
        assert inference.status_code == 200
        # A terminal's Ctrl-C goes to every process of the foreground group.
        os.killpg(served.process.pid, signal.SIGINT)
        assert served.process.wait(timeout=60) == 0
        output = served.output()
    assert "Traceback" not in output, output
    assert "KeyboardInterrupt" not in output, output


def test_a_fresh_start_reports_no_stall_and_sigterm_stops_quietly(tmp_path: Path) -> None:
    with serving(tmp_path, "--no-worker") as served:
        # Answered; a 503 since no video worker runs.
        assert httpx.get(f"{served.url}/health").status_code == 503
        # The watcher logs any stall of the loop, start-up included.
        assert "event loop blocked" not in served.output(), served.output()
        stop_and_check_no_orphans(served, signal.SIGTERM)
        output = served.output()
    assert "Traceback" not in output, output


def test_a_database_migrated_by_a_newer_version_is_a_clear_refusal(tmp_path: Path) -> None:
    from unstuck.service.migrations import upgrade
    from unstuck.service.settings import Settings

    upgrade(Settings(data_dir=tmp_path))
    with sqlite3.connect(tmp_path / "unstuck.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    result = _serve(tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "at migration revision '9999'" in lines[0]


@pytest.mark.parametrize("after_s", [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5])
def test_sigterm_at_any_moment_of_the_start_stops_the_service(
    tmp_path: Path, after_s: float
) -> None:
    # A signal that comes while uvicorn sets up its event loop, before it takes the
    # signals over, once left the service serving on: the stop must hold at every moment.
    command = [sys.executable, "-m", "unstuck", "serve", "--data-dir", str(tmp_path)]
    process = subprocess.Popen(
        [*command, "--port", str(_free_port()), "--no-worker", "--log-level", "warning"],
        env=_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        time.sleep(after_s)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
