"""Pools that heal: a killed pool process, a shut-down executor, a closed HTTP client.

The requests caught in the break get a 503 with ``Retry-After`` and a detail
that says what happened; the pool is replaced once, the next request succeeds,
and ``/health`` tells when and why.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest

from tests.service.conftest import ServeAppWithState
from unstuck.service.settings import Settings

pytestmark = pytest.mark.anyio

IRIS = {"features": [[5.1, 3.5, 1.4, 0.2]]}


async def test_a_killed_pool_process_is_a_503_then_the_pool_is_replaced(
    sqlite_settings: Settings, serve_with_state: ServeAppWithState
) -> None:
    async with serve_with_state(sqlite_settings) as (client, state):
        assert (await client.post("/ml-inference", json=IRIS)).status_code == 200
        executor = state["process_pool"].current
        assert isinstance(executor, ProcessPoolExecutor)
        # Both pool processes busy: the requests wait in the pool's queue when it breaks.
        busy = [executor.submit(time.sleep, 10) for _ in range(2)]
        in_flight = [asyncio.create_task(client.post("/ml-inference", json=IRIS)) for _ in range(8)]
        await asyncio.sleep(0.3)
        killed = list(executor._processes)
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        caught = await asyncio.gather(*in_flight)
        assert all(future.exception() is not None for future in busy)
        statuses = {response.status_code for response in caught}
        assert statuses <= {200, 503}, [r.text for r in caught]
        assert 503 in statuses
        refused = next(response for response in caught if response.status_code == 503)
        assert refused.headers["retry-after"] == "1"
        assert "process pool broke" in refused.json()["detail"]

        after = await client.post("/ml-inference", json=IRIS)
        assert after.status_code == 200, after.text
        # Loose: the machine may be busy; the new processes fork from the fork server.
        assert time.monotonic() - killed_at < 10
        assert after.json()["worker_pid"] not in killed
        assert state["process_pool"].current is not executor

        pools = (await client.get("/health")).json()["pools"]
        assert pools["process_pool"]["rebuilds"] == 1
        assert pools["process_pool"]["last_rebuilt_at"] is not None
        assert pools["compute_pool"]["rebuilds"] == 0


async def test_a_shut_down_compute_pool_is_replaced(
    sqlite_settings: Settings, serve_with_state: ServeAppWithState
) -> None:
    async with serve_with_state(sqlite_settings) as (client, state):
        executor = state["compute_pool"].current
        assert isinstance(executor, ThreadPoolExecutor)
        executor.shutdown()
        refused = await client.post("/compute", json={"n": 10})
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert "compute thread pool broke" in refused.json()["detail"]
        assert (await client.post("/compute", json={"n": 10})).json()["result"] == 45
        pools = (await client.get("/health")).json()["pools"]
        assert pools["compute_pool"]["rebuilds"] == 1
        assert pools["compute_pool"]["last_reason"] == "it was shut down"


async def test_a_closed_http_client_is_replaced(
    sqlite_settings: Settings, serve_with_state: ServeAppWithState
) -> None:
    async with serve_with_state(sqlite_settings) as (client, state):
        await state["http"].current.aclose()
        refused = await client.get("/proxy")
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert (await client.get("/proxy")).status_code == 200
        assert (await client.get("/health")).json()["pools"]["http_client"]["rebuilds"] == 1
