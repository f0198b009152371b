"""USK202 nested-loop-run: ``asyncio.run`` / ``run_until_complete`` under a running loop.

Incident: a sync helper wrapped an async client with ``asyncio.run(...)`` so that "sync
code can use it"; called from an ``async def`` route it raised ``RuntimeError: asyncio.run()
cannot be called from a running event loop`` on every request (and with nest_asyncio it
blocked the loop instead).

Fix: ``await`` the coroutine; keep the sync wrapper for sync callers only.
"""

from unstuck.check.rule import Rule

RULE = Rule(
    code="USK202",
    name="nested-loop-run",
    catches="`asyncio.run` / `loop.run_until_complete` reached from a coroutine",
    example="""\
import asyncio

import httpx
from fastapi import FastAPI

app = FastAPI()


async def fetch(url: str) -> str:
    async with httpx.AsyncClient(timeout=5) as client:
        return (await client.get(url)).text

def fetch_sync(url):
    return asyncio.run(fetch(url))

@app.get("/proxy")
async def proxy(url: str):
    return fetch_sync(url)
""",
    doc=__doc__ or "",
    summary="starts an event loop inside the running one (RuntimeError or a blocked loop)",
    fix="`await` the coroutine instead",
    advice="await the coroutine directly",
    functions=frozenset({"asyncio.run", "anyio.run", "anyio.from_thread.run"}),
    methods=frozenset(
        {("asyncio.AbstractEventLoop", "run_until_complete"), ("asyncio.Runner", "run")}
    ),
    aliases={"asyncio.runners.run": "asyncio.run"},
)
