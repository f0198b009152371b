"""An app whose routes block the event loop in every way the watcher must see.

Each blocking line carries a ``# BLOCKS: <name>`` marker; the tests find the
line number from the marker, so the app can be edited freely.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import time

from fastapi import FastAPI

import unstuck

STALL_S = float(os.environ.get("STALL_S", "0.3"))
EVIL = re.compile(r"(a+)+$")

app = FastAPI()


@app.get("/sleep")
async def blocking_sleep() -> dict[str, int]:
    time.sleep(STALL_S)  # noqa: ASYNC251 (on purpose)  # BLOCKS: sleep
    return {"pid": os.getpid()}


@app.get("/items/{item_id}")
async def read_item(item_id: int) -> dict[str, int]:
    time.sleep(STALL_S)  # noqa: ASYNC251 (on purpose)  # BLOCKS: item
    return {"item_id": item_id, "pid": os.getpid()}


@app.get("/socket")
async def blocking_socket() -> dict[str, bool]:
    # A listener that never answers: recv() waits for its whole timeout.
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        client.settimeout(STALL_S)
        try:
            client.recv(1)  # BLOCKS: socket
        except TimeoutError:
            pass
        finally:
            client.close()
    return {"ok": True}


@app.get("/fifo")
async def blocking_file(path: str) -> dict[str, int]:
    # Opening a FIFO for reading waits until a writer opens it.
    with open(path, "rb") as fifo:  # noqa: ASYNC230 (on purpose)  # BLOCKS: file
        data = fifo.read()
    return {"bytes": len(data)}


@app.get("/cpu")
async def busy_loop() -> dict[str, int]:
    count = 0
    deadline = time.perf_counter() + STALL_S
    while time.perf_counter() < deadline:  # BLOCKS: cpu
        count += 1
    return {"count": count}


@app.get("/regex")
async def catastrophic_regex(n: int = 22) -> dict[str, bool]:
    return {"matched": EVIL.match("a" * n + "b") is not None}  # BLOCKS: regex


_background: set[asyncio.Task[None]] = set()


async def spin_in_short_steps(seconds: float) -> None:
    # Keeps the loop thread ready to run without ever holding the loop for long: each
    # step is far shorter than any stall threshold.
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        step_ends = time.perf_counter() + 0.001
        while time.perf_counter() < step_ends:
            pass
        await asyncio.sleep(0)


@app.get("/spin")
async def spin(seconds: float) -> dict[str, bool]:
    task = asyncio.create_task(spin_in_short_steps(seconds))
    _background.add(task)
    task.add_done_callback(_background.discard)
    return {"ok": True}


@app.get("/async-sleep")
async def polite_sleep() -> dict[str, bool]:
    await asyncio.sleep(STALL_S)
    return {"ok": True}


@app.get("/thread-sleep")
def thread_pool_sleep() -> dict[str, bool]:
    time.sleep(STALL_S)
    return {"ok": True}


@app.get("/pid")
async def pid() -> dict[str, int]:
    return {"pid": os.getpid()}


unstuck.watch.watch(app)
