"""Pieces the fault tests share: settings, workers to kill, waits that measure.

Timings are appended as JSON lines to ``$UNSTUCK_FAULT_REPORT`` when it is set,
so that a run can be summarised (tries, outcomes, times to recovery).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import anyio
import httpx

from tests.service.video_fixtures import wait_for_worker_row, worker_env
from unstuck.service.migrations import upgrade
from unstuck.service.queue import QueueSettings
from unstuck.service.settings import Settings
from unstuck.service.worker import spawn_embedded_worker, stop_worker

FINAL = {"SUCCESS", "FAILURE"}
HEARTBEAT_S = 0.5
REQUEUE_AFTER_S = 2.0


def fault_settings(data_dir: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "job_heartbeat_s": HEARTBEAT_S,
        "job_requeue_after_s": REQUEUE_AFTER_S,
        "pool_size": 2,
        "max_overflow": 2,
    }
    values.update(overrides)
    settings = Settings(**values)
    upgrade(settings)
    return settings


def start_worker(settings: Settings, queue: QueueSettings) -> subprocess.Popen[bytes]:
    """A worker process, returned once it has written its liveness row."""
    process = spawn_embedded_worker(settings, loglevel="WARNING", extra_env=worker_env(queue))
    try:
        wait_for_worker_row(settings, process.pid)
    except BaseException:
        stop_worker(process, timeout=5)
        raise
    return process


def kill_worker(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker and its pool processes, as a crash or a lost host would."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


async def wait_for_state(
    http: httpx.AsyncClient, task_id: str, states: set[str], within_s: float = 60.0
) -> dict[str, Any]:
    with anyio.fail_after(within_s):
        while True:
            response = await http.get(f"/task/{task_id}")
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            if body["state"] in states:
                return body
            await anyio.sleep(0.05)


async def agree(http: httpx.AsyncClient, task_id: str) -> dict[str, Any]:
    """/task says SUCCESS and /videos serves exactly the file /task describes."""
    body = await wait_for_state(http, task_id, FINAL)
    assert body["state"] == "SUCCESS", body
    video = await http.get(f"/videos/{task_id}")
    assert video.status_code == 200, video.text
    assert len(video.content) == body["result"]["size"]
    assert video.content[4:8] == b"ftyp"
    return body


def record(fault: str, **figures: Any) -> None:
    target = os.environ.get("UNSTUCK_FAULT_REPORT")
    if target:
        with open(target, "a", encoding="utf-8") as report:
            report.write(json.dumps({"fault": fault, "at": time.time(), **figures}) + "\n")
