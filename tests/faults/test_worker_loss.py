"""A worker killed mid-transcode (SIGKILL, Redis broker): its job is finished by the next one.

Five tries in a row. Each kills the worker while a job is STARTED, sends a
second task right after the kill, starts a new worker, and requires both to
end SUCCESS within the re-queue bound plus the transcode time (plus the new
worker's start-up), with ``/task`` and ``/videos`` in agreement.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults.pipeline import (
    HEARTBEAT_S,
    REQUEUE_AFTER_S,
    agree,
    fault_settings,
    kill_worker,
    record,
    start_worker,
    wait_for_state,
)
from tests.own_servers import OwnPostgres, Redis
from tests.service.video_fixtures import make_slow_clip, queue_settings, video_client
from unstuck.service.queue import create_celery
from unstuck.service.worker import stop_worker

pytestmark = pytest.mark.anyio

TRIES = 5
# Start-up of a worker on a loaded machine, scheduling, polling.
_SLACK_S = 5.0


async def test_killed_worker_job_and_the_next_one_succeed(
    tmp_path: Path, postgres: OwnPostgres, database: str, redis_server: Redis
) -> None:
    settings = fault_settings(
        tmp_path / "var",
        postgres.database_url(database),
        broker_url=redis_server.url(),
    )
    queue = queue_settings()
    clip = make_slow_clip(tmp_path / "slow.mp4", frames=400).read_bytes()
    files = {"file": ("slow.mp4", clip, "video/mp4")}
    worker = start_worker(settings, queue)
    try:
        async with video_client(settings, create_celery(settings, queue)) as http:
            for attempt in range(TRIES):
                accepted = await http.post("/upload-video", files=files)
                assert accepted.status_code == 202, accepted.text
                running = accepted.json()["task_id"]
                await wait_for_state(http, running, {"STARTED"})

                kill_worker(worker)
                killed_at = time.monotonic()
                after = await http.post("/upload-video", files=files)
                assert after.status_code == 202, after.text
                sent_after = after.json()["task_id"]

                worker = start_worker(settings, queue)
                restarted_s = time.monotonic() - killed_at
                first = await agree(http, running)
                recovered_s = time.monotonic() - killed_at
                second = await agree(http, sent_after)
                both_s = time.monotonic() - killed_at

                transcode_s = _duration(first)
                bound_s = restarted_s + REQUEUE_AFTER_S + 2 * HEARTBEAT_S + transcode_s
                record(
                    "worker SIGKILL while STARTED",
                    attempt=attempt + 1,
                    outcome=first["state"],
                    attempts=first["attempts"],
                    worker_back_s=round(restarted_s, 2),
                    recovered_s=round(recovered_s, 2),
                    bound_s=round(bound_s, 2),
                    sent_after_kill=second["state"],
                    both_done_s=round(both_s, 2),
                )
                assert first["attempts"] >= 2
                assert recovered_s <= bound_s + _SLACK_S, (recovered_s, bound_s)
    finally:
        stop_worker(worker, timeout=5)


def _duration(body: dict[str, object]) -> float:
    from datetime import datetime

    started = datetime.fromisoformat(str(body["started_at"]))
    finished = datetime.fromisoformat(str(body["finished_at"]))
    return (finished - started).total_seconds()
