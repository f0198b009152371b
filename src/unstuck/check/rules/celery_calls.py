"""USK111 celery-blocking: Celery broker and result-backend I/O on the event loop.

Incident: the article's ``/upload-video`` calls ``process_video.delay(path)`` and
``/task/{id}`` reads ``AsyncResult(id).status`` inside ``async def``. Both are synchronous
network round trips (broker publish, backend query); when the broker is slow or down,
``delay`` retries the connection and the loop stalls for seconds.

Fix: ``await run_in_threadpool(task.delay, ...)`` / ``await asyncio.to_thread(...)`` around
the call and the state read, or make the route ``def``. Read ``.state`` (not ``.status``);
PENDING also means "unknown id".
"""

from unstuck.check.rule import Rule, methods

_RESULT = "celery.result.AsyncResult"
_SIGNATURE = "celery.canvas.Signature"
_CONTROL = "celery.app.control.Control"
_INSPECT = "celery.app.control.Inspect"

RULE = Rule(
    code="USK111",
    name="celery-blocking",
    catches="`task.delay()`, `task.apply_async()`, `send_task`, `AsyncResult.get()`, "
    "state reads (`.state`, `.status`, `.result`) and remote control "
    "(`app.control.inspect().ping()`, `app.control.revoke()`)",
    example="""\
from celery import shared_task
from fastapi import FastAPI

app = FastAPI()


@shared_task
def process_video(path: str) -> None: ...

@app.post("/videos")
async def upload_video(path: str):
    return {"task": process_video.delay(path).id}
""",
    doc=__doc__ or "",
    summary="is synchronous Celery broker/backend I/O on the event loop",
    fix="`await run_in_threadpool(...)` / `await asyncio.to_thread(...)` around it, "
    "or make the route `def`",
    advice="offload the broker/backend call with await asyncio.to_thread(...), or make it def",
    methods=methods(_RESULT, "get wait ready successful failed forget revoke collect")
    | methods("celery.Celery", "send_task")
    | methods("celery.app.task.Task", "delay apply_async")
    | methods(_SIGNATURE, "delay apply_async")
    # remote control: a broadcast to the workers, and for most a wait of up to a second
    # (``timeout``) for their replies
    | methods(
        _CONTROL,
        "ping broadcast revoke terminate rate_limit time_limit purge discard_all election "
        "enable_events disable_events pool_grow pool_shrink autoscale shutdown "
        "add_consumer cancel_consumer heartbeat",
    )
    | methods(
        _INSPECT,
        "ping active scheduled reserved revoked registered registered_tasks stats report "
        "active_queues conf query_task clock memsample memdump objgraph",
    ),
    attributes=methods(_RESULT, "state status result info traceback date_done"),
    attribute_types={("celery.Celery", "control"): _CONTROL},
    returns={
        f"{_CONTROL}.inspect": _INSPECT,
        "celery.Celery.AsyncResult": _RESULT,
        "celery.Celery.send_task": _RESULT,
        "celery.app.task.Task.delay": _RESULT,
        "celery.app.task.Task.apply_async": _RESULT,
        "celery.app.task.Task.AsyncResult": _RESULT,
        f"{_SIGNATURE}.delay": _RESULT,
        f"{_SIGNATURE}.apply_async": _RESULT,
    },
    aliases={
        "celery.app.base.Celery": "celery.Celery",
        "celery.app.Celery": "celery.Celery",
        "celery.Task": "celery.app.task.Task",
        "celery.AsyncResult": _RESULT,
        "celery.app.shared_task": "celery.shared_task",
        # canvas: group(...), chain(...), chord(...) and task.s(...) are signatures
        "celery.group": _SIGNATURE,
        "celery.chain": _SIGNATURE,
        "celery.chord": _SIGNATURE,
        "celery.signature": _SIGNATURE,
        "celery.canvas.group": _SIGNATURE,
        "celery.canvas.chain": _SIGNATURE,
        "celery.canvas.chord": _SIGNATURE,
    },
)
