"""The app of ``watch_overhead.py``: a trivial route for the cost, one route per kind of block.

``BENCH_MODE`` picks the monitor, wired the way its documentation says. Each
blocking line ends with ``# CASE: <name>``; the benchmark finds the line
numbers from these markers and looks for them in what each monitor reports.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import re
import sqlite3
import sys
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response

MODE = os.environ.get("BENCH_MODE", "off")
SLOW_URL = os.environ.get("BENCH_SLOW_URL", "")
EVIL = re.compile(r"(a+)+$")
_HEAP: list[Any] = []


def _report(text: str) -> None:
    """What a monitor's callback receives, printed as it is."""
    print(text, file=sys.stderr, flush=True)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with AsyncExitStack() as stack:
        if MODE == "asyncio-debug":
            asyncio.get_running_loop().set_debug(True)
        if MODE == "blockbuster":
            from blockbuster import BlockBuster

            buster = BlockBuster()
            buster.activate()
            stack.callback(buster.deactivate)
        if MODE == "aiocop":
            import aiocop

            aiocop.activate()
            stack.callback(aiocop.deactivate)
        if MODE == "pyleak":
            from pyleak import no_event_loop_blocking

            await stack.enter_async_context(no_event_loop_blocking(action="log", threshold=0.1))
        yield


app = FastAPI(lifespan=lifespan)

if MODE == "aiocop":
    import aiocop

    def _on_slow_task(event: Any) -> None:
        lines = [f"aiocop slow task {event.elapsed_ms:.0f} ms ({event.reason})"]
        lines += [
            f"  {blocking['event']} at {blocking['entry_point']}"
            for blocking in event.blocking_events
        ]
        _report("\n".join(lines))

    # Its ASGI recipe: patch, detect, a 30 ms threshold, activate in the lifespan.
    aiocop.patch_audit_functions()
    aiocop.start_blocking_io_detection(trace_depth=20)
    aiocop.detect_slow_tasks(threshold_ms=30, on_slow_task=_on_slow_task)

if MODE == "fastapi-loopguard":
    from fastapi_loopguard import LoopGuardMiddleware

    logging.getLogger("fastapi_loopguard").setLevel(logging.INFO)
    app.add_middleware(LoopGuardMiddleware)

if MODE == "pyinstrument":
    from pyinstrument import Profiler

    @app.middleware("http")
    async def profile(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        profiler = Profiler(async_mode="enabled")
        profiler.start()
        response = await call_next(request)
        profiler.stop()
        return response


@app.get("/ping")
async def ping() -> dict[str, bool]:
    return {"ok": True}


@app.get("/_threads")
async def threads() -> dict[int, str]:
    """Native thread ids and names, for the benchmark's CPU time by thread."""
    return {thread.native_id: thread.name for thread in threading.enumerate() if thread.native_id}


@app.get("/stall")
async def stall(ms: float) -> dict[str, float]:
    """A block of known length, for the accuracy of the reported duration."""
    started = time.perf_counter()
    time.sleep(ms / 1000)  # noqa: ASYNC251
    ended = time.perf_counter()
    return {"ms": (ended - started) * 1000, "ended": time.time()}


@app.get("/case/sleep")
async def case_sleep() -> dict[str, bool]:
    time.sleep(0.2)  # noqa: ASYNC251  # CASE: sleep
    return {"ok": True}


@app.get("/case/http")
async def case_http() -> dict[str, int]:
    with urllib.request.urlopen(SLOW_URL, timeout=5) as response:  # noqa: ASYNC210  # CASE: http
        return {"status": response.status}


@app.get("/case/db")
async def case_db() -> dict[str, int]:
    connection = sqlite3.connect(":memory:")
    try:
        # A query that runs for a while in SQLite, which releases the GIL meanwhile.
        query = (
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000)"
            " SELECT count(*) FROM n"
        )
        (count,) = connection.execute(query).fetchone()  # CASE: db
    finally:
        connection.close()
    return {"count": count}


@app.get("/case/cpu")
async def case_cpu() -> dict[str, int]:
    count = 0
    deadline = time.perf_counter() + 0.2
    while time.perf_counter() < deadline:  # CASE: cpu
        count += 1
    return {"count": count}


@app.get("/case/regex")
async def case_regex() -> dict[str, bool]:
    return {"matched": EVIL.match("a" * 24 + "b") is not None}  # CASE: regex


@app.get("/case/gc-setup")
async def case_gc_setup() -> dict[str, int]:
    """Many live containers, which a full collection has to traverse (not judged)."""
    if not _HEAP:
        _HEAP.extend([index, [index]] for index in range(600_000))
    return {"objects": len(_HEAP)}


@app.get("/case/gc")
async def case_gc() -> dict[str, int]:
    return {"collected": gc.collect()}  # CASE: gc


async def _blocking_part() -> None:
    time.sleep(0.15)  # noqa: ASYNC251  # CASE: fanout


@app.get("/case/fanout")
async def case_fanout() -> dict[str, bool]:
    await asyncio.gather(_blocking_part(), asyncio.sleep(0.01))
    return {"ok": True}


def _one_cut() -> None:
    time.sleep(0.02)  # CASE: cuts


@app.get("/case/cuts")
async def case_cuts() -> dict[str, bool]:
    for _ in range(50):
        _one_cut()
        await asyncio.sleep(0)
    return {"ok": True}


@app.get("/case/middleware")
async def case_middleware() -> dict[str, bool]:
    return {"ok": True}


class SlowMiddleware:
    """A pure ASGI middleware that blocks before routing, on one path."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/case/middleware":
            time.sleep(0.2)  # noqa: ASYNC251  # CASE: middleware
        await self.app(scope, receive, send)


app.add_middleware(SlowMiddleware)

if MODE.startswith("watch"):
    from unstuck.watch import watch

    lifespan_context = app.router.lifespan_context
    watch(app, token="bench", loop_time=MODE != "watch-no-loop-time")
    if MODE == "watch-middleware":
        # Only the per-request part: the heartbeat, the watchdog and the sampler never start.
        app.router.lifespan_context = lifespan_context
