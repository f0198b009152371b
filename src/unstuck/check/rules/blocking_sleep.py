"""USK101 blocking-sleep: ``time.sleep`` on the event loop.

Incident: a retry loop with ``time.sleep(1)`` inside an ``async def`` route froze every
other request of the worker for a second per retry; health checks timed out and the
orchestrator restarted healthy pods.

Fix: ``await asyncio.sleep(...)`` in coroutines (or make the route ``def``).
"""

from unstuck.check.rule import Rule

RULE = Rule(
    code="USK101",
    name="blocking-sleep",
    catches="`time.sleep`",
    example="""\
import time

from fastapi import FastAPI

app = FastAPI()

@app.get("/retry")
async def retry():
    time.sleep(1)
""",
    doc=__doc__ or "",
    summary="sleeps on the event loop: no other request runs meanwhile",
    fix="use `await asyncio.sleep(...)`",
    advice="await asyncio.sleep() instead of time.sleep()",
    functions=frozenset({"time.sleep"}),
)
