"""Loop time by origin: short blocks that add up, start-up, GC, idle; in-process and on uvicorn."""

from __future__ import annotations

import asyncio
import gc
import re
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi import FastAPI

from unstuck.watch import watch, watcher_of
from unstuck.watch._loop_time import GARBAGE_COLLECTION, OTHER, LoopTime, line_of
from unstuck.watch._watchdog import LoopWatchdog

from .conftest import APPS, TOKEN, Server, marker_line

pytestmark = pytest.mark.anyio


def _cut() -> None:
    time.sleep(0.02)


async def _many_cuts() -> None:
    for _ in range(50):
        _cut()
        await asyncio.sleep(0)


async def _light_work(until: float) -> None:
    while time.monotonic() < until:
        sum(range(200))
        await asyncio.sleep(0.005)


def _origins(snapshot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["origin"]: row for row in snapshot["origins"]}


def _functions(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if node["frame"] is not None:
        yield node["frame"]
    for child in node["children"]:
        yield from _functions(child)


async def test_fifty_short_blocks_add_up_to_their_origin() -> None:
    cuts: asyncio.Task[None] | None = None

    def origin_of(task: asyncio.Task[Any] | None) -> str | None:
        return "GET /cuts" if task is not None and task is cuts else None

    sampler = LoopTime(origin_of=origin_of)
    sampler.start()
    try:
        noise = asyncio.create_task(_light_work(time.monotonic() + 1.2))
        cuts = asyncio.create_task(_many_cuts())
        await cuts
        await noise
    finally:
        await asyncio.to_thread(sampler.stop)
    snapshot = sampler.snapshot()
    origins = _origins(snapshot)
    # 50 x 20 ms is one second of loop time; sampling gives it within a few samples.
    assert 0.8 <= origins["GET /cuts"]["seconds"] <= 1.3, snapshot
    assert snapshot["origins"][0]["origin"] == "GET /cuts"
    assert origins["GET /cuts"]["share_of_busy"] >= 0.8
    names = {frame["function"] for frame in _functions(origins["GET /cuts"]["flame"])}
    assert {"_many_cuts", "_cut"} <= names
    # Waiting is not busy: the loop was idle for the rest of the light task's time.
    assert snapshot["busy_s"] < 1.5


async def test_an_idle_loop_counts_nothing() -> None:
    # Only the sleep is under test. A collection (this process holds the whole suite's
    # objects: a full one takes 100 ms) or the executor's first thread start would be
    # real loop time, and one sample after an idle one counts up to 150 ms.
    await asyncio.to_thread(lambda: None)
    sampler = LoopTime(origin_of=lambda task: None)
    gc.disable()
    sampler.start()
    try:
        await asyncio.sleep(0.5)
    finally:
        await asyncio.to_thread(sampler.stop)
        gc.enable()
    snapshot = sampler.snapshot()
    assert snapshot["busy_s"] < 0.05, snapshot


async def test_garbage_collection_is_its_own_origin() -> None:
    watchdog = LoopWatchdog(
        threshold_s=0.1, heartbeat_s=0.01, sample_s=0.01, on_stall=lambda stall: None
    )
    sampler = LoopTime(origin_of=lambda task: "GET /x", gc_seconds=lambda: watchdog.gc_seconds)
    watchdog.start()
    sampler.start()
    try:
        garbage: list[Any] = []
        for _ in range(200_000):
            cycle: list[Any] = []
            cycle.append(cycle)
            garbage.append(cycle)
        del garbage, cycle
        gc.collect()
    finally:
        await asyncio.to_thread(sampler.stop)
        watchdog.cancel_heartbeat()
        await asyncio.to_thread(watchdog.stop)
    origins = _origins(sampler.snapshot())
    assert origins[GARBAGE_COLLECTION]["seconds"] > 0.005
    assert origins[GARBAGE_COLLECTION]["flame"]["value"] == 0  # timed, not sampled


async def test_start_up_is_its_own_origin() -> None:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        time.sleep(0.3)  # noqa: ASYNC251 (a slow start-up, on purpose)
        yield

    app = watch(FastAPI(lifespan=lifespan))
    async with app.router.lifespan_context(app):
        watcher = watcher_of(app)
        assert watcher is not None
        origins = _origins(watcher.loop_time.snapshot())
        assert 0.2 <= origins["(start-up)"]["seconds"] <= 0.4, origins
        assert origins.get(OTHER, {"seconds": 0.0})["seconds"] < 0.1


def test_uvicorn_route_of_short_blocks_dominates() -> None:
    server = Server("fleet_app:app", {"UNSTUCK_WATCH_TOKEN": TOKEN})
    try:
        for _ in range(20):
            server.request("/pid")
        status, _, _ = server.request("/cuts")
        assert status == 200
        data = server.json("/_unstuck")
        # No stall: each block is under the threshold.
        assert not [stall for stall in data["stalls"] if stall["route"] == "GET /cuts"]
        loop_time = data["loop_time"]
        top = loop_time["origins"][0]
        assert top["origin"] == "GET /cuts", loop_time["origins"]
        assert 0.8 <= top["seconds"] <= 1.5
        assert top["share_of_busy"] >= 0.7
        line = marker_line(APPS / "fleet_app.py", "cut")
        assert any(
            frame["function"] == "one_cut" and frame["line"] == line and not frame["library"]
            for frame in _functions(top["flame"])
        )
        for _ in range(30):  # the counter is flushed once a second
            status, _, body = server.request("/_unstuck/metrics", TOKEN)
            match = re.search(
                r'unstuck_loop_busy_seconds_total\{origin="GET /cuts"\} (\S+)', body.decode()
            )
            if match and float(match.group(1)) >= 0.8:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("unstuck_loop_busy_seconds_total did not count GET /cuts")
    finally:
        server.stop()


def test_lines_are_worked_out_from_the_sampled_offsets() -> None:
    # The sampler keeps f_lasti; the flame graph shows the line f_lineno would have.
    def two_lines() -> list[tuple[int, int]]:
        frame = sys._getframe()
        first = (frame.f_lasti, frame.f_lineno)
        second = (frame.f_lasti, frame.f_lineno)
        return [first, second]

    code = two_lines.__code__
    for lasti, lineno in two_lines():
        assert line_of(code, lasti) == lineno
    assert line_of(code, -1) == code.co_firstlineno
