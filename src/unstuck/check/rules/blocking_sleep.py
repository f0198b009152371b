"""USK101 blocking-sleep: ``time.sleep`` on the event loop, and the calls that sleep
for an interval they are given (``psutil.cpu_percent(interval=0.5)``).

Incident: a retry loop with ``time.sleep(1)`` inside an ``async def`` route froze every
other request of the worker for a second per retry; health checks timed out and the
orchestrator restarted healthy pods.

Fix: ``await asyncio.sleep(...)`` in coroutines (or make the route ``def``).
"""

from unstuck.check.rule import GivenToWait, Rule, Wording, methods

# psutil measures CPU use over ``interval`` seconds by sleeping through it; with no
# interval it compares with the previous call and returns at once
_MEASURED = "cpu_percent cpu_times_percent"
_INTERVAL = Wording(
    summary="sleeps through its `interval` on the event loop: no other request runs meanwhile",
    fix="call it with no interval (the use since the last call), or `await asyncio.to_thread(...)`",
)

RULE = Rule(
    code="USK101",
    name="blocking-sleep",
    catches="`time.sleep`, `psutil.cpu_percent(interval=...)` and its kin",
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
    functions=frozenset({"time.sleep", *(f"psutil.{name}" for name in _MEASURED.split())}),
    methods=methods("psutil.Process", "cpu_percent"),
    messages={
        **{f"psutil.{name}": _INTERVAL for name in _MEASURED.split()},
        "psutil.Process.cpu_percent": _INTERVAL,
    },
    nonblocking={
        **{f"psutil.{name}": ("interval", 0, GivenToWait()) for name in _MEASURED.split()},
        "psutil.Process.cpu_percent": ("interval", 0, GivenToWait()),
    },
)
