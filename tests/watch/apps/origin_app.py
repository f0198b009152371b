"""An app whose blocking code runs on behalf of a request without being the route itself.

In a gathered coroutine, under ``wait_for``, in an anyio task group, in a task
that outlives its request, in a middleware before routing, in the start-up and
the shutdown (``BLOCK_IN=start-up,shutdown``), and a garbage collection while
a route awaits. ``# BLOCKS: <name>`` marks each blocking line.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI

from unstuck.watch import watch

STALL_S = float(os.environ.get("STALL_S", "0.3"))
BLOCK_IN = set(os.environ.get("BLOCK_IN", "").split(","))
_background: set[asyncio.Task[None]] = set()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    if "start-up" in BLOCK_IN:
        time.sleep(STALL_S)  # noqa: ASYNC251 (on purpose)  # BLOCKS: start-up
    yield
    if "shutdown" in BLOCK_IN:
        time.sleep(STALL_S)  # noqa: ASYNC251 (on purpose)  # BLOCKS: shutdown


app = FastAPI(lifespan=lifespan)


async def blocker() -> None:
    await asyncio.sleep(0)
    time.sleep(STALL_S)  # noqa: ASYNC251 (on purpose)  # BLOCKS: blocker


@app.get("/gather")
async def fan_out() -> dict[str, bool]:
    await asyncio.gather(blocker(), asyncio.sleep(0.01))
    return {"ok": True}


@app.get("/wait-for")
async def with_timeout() -> dict[str, bool]:
    await asyncio.wait_for(blocker(), timeout=10)
    return {"ok": True}


@app.get("/task-group")
async def task_group() -> dict[str, bool]:
    async with anyio.create_task_group() as group:
        group.start_soon(blocker)
    return {"ok": True}


async def after_the_response() -> None:
    await asyncio.sleep(0.2)
    time.sleep(STALL_S)  # noqa: ASYNC251 (on purpose)  # BLOCKS: spawned


@app.get("/spawn")
async def spawn() -> dict[str, bool]:
    task = asyncio.create_task(after_the_response())
    _background.add(task)
    task.add_done_callback(_background.discard)
    return {"ok": True}


def collect_a_big_heap() -> None:
    # Grow the heap until one full collection of it takes three times the 100 ms threshold
    # on this machine, fast or loaded: the stall must depend on neither.
    heap: list[list[None]] = []
    for _ in range(100):
        heap.extend([] for _ in range(500_000))
        started = time.perf_counter()
        gc.collect()
        if time.perf_counter() - started > 0.3:
            break
    del heap


@app.get("/gc")
async def awaits_while_the_collector_runs() -> dict[str, bool]:
    # The collection holds the GIL from a worker thread: the loop stalls, the route awaits.
    await asyncio.to_thread(collect_a_big_heap)
    return {"ok": True}


@app.get("/pid")
async def pid() -> dict[str, int]:
    return {"pid": os.getpid()}


Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


class AuditMiddleware:
    """Runs before routing: the route is not known yet when it blocks."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/audited/"):
            time.sleep(STALL_S)  # noqa: ASYNC251 (on purpose)  # BLOCKS: middleware
        await self.app(scope, receive, send)


@app.get("/audited/{item_id}")
async def audited(item_id: int) -> dict[str, int]:
    return {"item_id": item_id}


app.add_middleware(AuditMiddleware)
watch(app)
