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

RULE = Rule(
    code="USK111",
    name="celery-blocking",
    catches="`task.delay()`, `task.apply_async()`, `send_task`, `AsyncResult.get()` "
    "and state reads (`.state`, `.status`, `.result`)",
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
    | methods(_SIGNATURE, "delay apply_async"),
    attributes=methods(_RESULT, "state status result info traceback date_done"),
    returns={
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
