"""An app for several workers and for loop time: short blocks that add up.

``/cuts`` blocks its loop 50 times for 20 ms within about a second, each block
below the stall threshold; ``/sleep`` stalls once, over it.
"""

from __future__ import annotations

import asyncio
import os
import time

from fastapi import FastAPI

from unstuck.watch import watch

app = FastAPI()


def one_cut() -> None:
    time.sleep(0.02)  # BLOCKS: cut


@app.get("/cuts")
async def many_cuts() -> dict[str, int]:
    for _ in range(50):
        one_cut()
        await asyncio.sleep(0)
    return {"pid": os.getpid()}


@app.get("/sleep")
async def blocking_sleep() -> dict[str, int]:
    time.sleep(0.3)  # noqa: ASYNC251 (on purpose)  # BLOCKS: sleep
    return {"pid": os.getpid()}


@app.get("/pid")
async def pid() -> dict[str, int]:
    return {"pid": os.getpid()}


watch(app)
