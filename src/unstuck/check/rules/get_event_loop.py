"""USK201 get-event-loop: ``asyncio.get_event_loop()`` inside a coroutine.

Incident: the article's ``/compute`` route calls ``asyncio.get_event_loop()``. Inside a
coroutine it returns the running loop today, but the function is deprecated for that
use, and the same habit at import time (``get_event_loop().set_debug(True)``) reaches a
different loop than the server's.

Fix: ``asyncio.get_running_loop()``, or ``asyncio.to_thread`` / ``run_in_threadpool``.
"""

from unstuck.check.rule import Rule

RULE = Rule(
    code="USK201",
    name="get-event-loop",
    catches="`asyncio.get_event_loop()` inside a coroutine (warning)",
    example="""\
import asyncio


def load_model() -> None: ...

async def warm_up():
    loop = asyncio.get_event_loop()
    await loop.run_in_executor(None, load_model)
""",
    doc=__doc__ or "",
    summary="in a coroutine: use the running loop",
    fix="use `asyncio.get_running_loop()`",
    advice="use asyncio.get_running_loop()",
    severity="warning",
    through_calls=False,
    functions=frozenset({"asyncio.get_event_loop"}),
    returns={
        "asyncio.get_event_loop": "asyncio.AbstractEventLoop",
        "asyncio.get_running_loop": "asyncio.AbstractEventLoop",
        "asyncio.new_event_loop": "asyncio.AbstractEventLoop",
    },
    aliases={
        "asyncio.events.get_event_loop": "asyncio.get_event_loop",
        "asyncio.events.AbstractEventLoop": "asyncio.AbstractEventLoop",
    },
)
