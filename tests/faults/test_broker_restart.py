"""Redis killed and restarted, with and without persistence, with tasks finished, running
and queued: every task ends SUCCESS, and /task agrees with /videos throughout."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest

from tests.faults.pipeline import (
    agree,
    fault_settings,
    record,
    start_worker,
    wait_for_state,
)
from tests.own_servers import OwnPostgres, Redis, free_port
from tests.service.video_fixtures import make_slow_clip, queue_settings, video_client
from unstuck.service.queue import create_celery
from unstuck.service.worker import stop_worker

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("persistent", [False, True], ids=["no-persistence", "aof"])
async def test_every_task_succeeds_across_a_redis_restart(
    tmp_path: Path, postgres: OwnPostgres, database: str, persistent: bool
) -> None:
    redis = Redis(tmp_path / "redis", free_port(), persistent=persistent)
    redis.start()
    settings = fault_settings(
        tmp_path / "var", postgres.database_url(database), broker_url=redis.url()
    )
    queue = queue_settings()
    clip = make_slow_clip(tmp_path / "slow.mp4", frames=250).read_bytes()
    files = {"file": ("slow.mp4", clip, "video/mp4")}
    worker = start_worker(settings, queue)
    try:
        async with video_client(settings, create_celery(settings, queue)) as http:

            async def upload() -> str:
                response = await http.post("/upload-video", files=files)
                assert response.status_code == 202, response.text
                task_id: str = response.json()["task_id"]
                return task_id

            finished = await upload()
            await agree(http, finished)
            running = await upload()
            queued = [await upload(), await upload()]
            await wait_for_state(http, running, {"STARTED"})

            redis.kill()
            # The rows answer while the broker is down, and say the truth.
            assert (await wait_for_state(http, finished, {"SUCCESS"}))["state"] == "SUCCESS"
            await anyio.sleep(1.0)
            redis.start()
            restarted_at = time.monotonic()

            for task_id in [finished, running, *queued]:
                await agree(http, task_id)
            recovered_s = time.monotonic() - restarted_at
            record(
                "redis killed and restarted",
                persistence="aof" if persistent else "none",
                tasks=4,
                outcome="4/4 SUCCESS",
                all_done_after_restart_s=round(recovered_s, 2),
            )
    finally:
        stop_worker(worker, timeout=5)
        redis.kill()
