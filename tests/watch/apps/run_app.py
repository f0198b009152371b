"""An app started the way many are: ``python run_app.py`` calls ``uvicorn.run(app)``."""

from __future__ import annotations

import asyncio
import os
import time

import uvicorn
from fastapi import FastAPI

from unstuck.watch import watch

app = FastAPI()


@app.get("/callback")
async def schedule_a_blocking_callback() -> dict[str, bool]:
    # A plain callback, in no task; time.sleep is C code: no frame of this file runs.
    asyncio.get_running_loop().call_soon(time.sleep, float(os.environ.get("STALL_S", "0.3")))
    return {"ok": True}


watch(app)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["PORT"]), access_log=False)  # run line
