"""Isolation: the pipeline's routes answer while the demo ``def`` routes hold every thread token."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from tests.service.conftest import ServeApp
from unstuck.service.settings import Settings

pytestmark = pytest.mark.anyio


async def test_pipeline_routes_answer_while_def_routes_hold_every_token(
    sqlite_settings: Settings, serve: ServeApp
) -> None:
    settings = sqlite_settings.model_copy(update={"thread_pool_tokens": 4})
    async with serve(settings) as client:
        # Twice as many sleepers as tokens: the default limiter is full, with a queue.
        sleepers = [asyncio.create_task(client.get("/sync?delay=3")) for _ in range(8)]
        await asyncio.sleep(0.5)
        started = time.monotonic()
        task = await client.get(f"/task/{uuid.uuid4()}")
        video = await client.get(f"/videos/{uuid.uuid4()}")
        health = await client.get("/health")
        elapsed = time.monotonic() - started
        still_sleeping = sum(not sleeper.done() for sleeper in sleepers)
        await asyncio.gather(*sleepers)
    assert still_sleeping == 8
    assert task.status_code == 404
    assert video.status_code == 404
    # No video worker runs here: /health says so (503), and says it at once.
    assert health.status_code == 503
    # Queued behind the sleepers they would have taken 3 s or more.
    assert elapsed < 1.5
