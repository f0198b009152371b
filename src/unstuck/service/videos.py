"""Routes of the video pipeline: upload, task state, transcoded results.

The article's third CPU option, done right, and across hosts. Every blocking
step runs in a worker thread, never on the event loop: writing the upload
(`uploads`), probing it with PyAV, storing it (`storage`: a local folder or
S3), sending the task, streaming results back, in threads of the pipeline's
own limiter (`capacity.pipeline_thread`). Results are served whole or by one
byte range (`byte_ranges`), read from storage chunk by chunk. Task ids are
generated here, so every stored name comes from the id, never from the client.

The ``video_jobs`` row (`jobs`) is the truth about a task: inserted here,
before the task is sent, and moved by the worker. ``/task/{id}`` and
``/videos/{id}`` both read it (async engine), so they always agree; an id this
service never issued is a 404. Uploads are refused with a 503 up front when the
pipeline cannot work (database, broker, no live worker: `pipeline_status`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel

from unstuck.service import byte_ranges, fault_points, idempotency, jobs, storage, transcode
from unstuck.service.capacity import pipeline_thread
from unstuck.service.idempotency import IdempotencyKey
from unstuck.service.methods import is_head
from unstuck.service.queue import TRANSCODE_TASK
from unstuck.service.storage import new_task_id, parse_task_id
from unstuck.service.upload_limits import upload_slot
from unstuck.service.uploads import UploadError, receive_upload

if TYPE_CHECKING:
    from celery import Celery

    from unstuck.service.pipeline_status import PipelineMonitor
    from unstuck.service.settings import Settings
    from unstuck.service.storage import Storage

router = APIRouter(tags=["videos"])

logger = logging.getLogger("unstuck.service")

# Brokers and result backends fail with many types: kombu's OperationalError, redis-py's
# errors, the Redis backend's RuntimeError once its reconnects are spent, SQLAlchemy's.
# Whatever the cause, the client gets a 503 and the log gets the traceback.
_QUEUE_ERRORS = (Exception,)

_SHOWN_ID_CHARS = 40

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary", "minLength": 1}},
                }
            }
        },
    }
}


class UploadAccepted(BaseModel):
    task_id: str


class TaskState(BaseModel):
    task_id: str
    state: str
    result: dict[str, Any] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int


def _settings(request: Request) -> Settings:
    settings: Settings = request.state.settings
    return settings


def _storage(request: Request) -> Storage:
    found: Storage = request.state.storage
    return found


def _celery(request: Request) -> Celery:
    celery: Celery = request.state.celery
    return celery


@router.post(
    "/upload-video",
    status_code=202,
    response_model=UploadAccepted,
    openapi_extra=_UPLOAD_BODY,
    # Before the body is read: a slot of the worker's uploads, and room in the data dir.
    dependencies=[Depends(upload_slot, scope="function")],
    responses={
        507: {"description": "the data dir is at its quota, or the disk is nearly full"},
        413: {"description": "the file is larger than UNSTUCK_MAX_UPLOAD_BYTES"},
        400: {"description": "the multipart body is malformed"},
        415: {"description": "the body is not multipart/form-data, or the file is not a video"},
        409: {"description": "a request with this Idempotency-Key is still being handled"},
        422: {"description": "no file field, or an empty file"},
        503: {
            "description": "the pipeline cannot work (database, queue, storage, no worker), "
            "or too many uploads at once"
        },
    },
)
async def upload_video(
    request: Request, idempotency_key: IdempotencyKey = None
) -> UploadAccepted | JSONResponse:
    """Stream the upload in, check it is a video, store it, record the job, send the task.

    With an ``Idempotency-Key``, a retry gets the first 202 (the same task id) back.
    """
    engine = request.state.async_engine
    if idempotency_key is None:
        return await _upload_video(request)
    # The body streams in and its multipart boundary changes from try to try: the key
    # alone names the upload.
    found = await idempotency.claim(engine, "POST /upload-video", idempotency_key, "")
    if isinstance(found, JSONResponse):
        return found
    try:
        accepted = await _upload_video(request)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await idempotency.release(engine, found)
        raise
    await idempotency.remember(engine, found, 202, accepted.model_dump(mode="json"))
    return accepted


async def _upload_video(request: Request) -> UploadAccepted:
    monitor: PipelineMonitor = request.state.pipeline
    problem = (await monitor.status()).problem()
    if problem is not None:
        raise HTTPException(503, f"videos cannot be processed now: {problem}")
    settings = _settings(request)
    store = _storage(request)
    task_id = new_task_id()
    incoming = await pipeline_thread(storage.incoming_folder, settings)
    try:
        upload = await receive_upload(
            request, incoming / f"{task_id}.upload", settings.max_upload_bytes
        )
    except UploadError as exc:
        raise HTTPException(exc.status_code, exc.message) from exc
    fault_points.reach("upload-received")
    stored = recorded = enqueued = False
    try:
        try:
            await pipeline_thread(transcode.probe, upload.path)
        except transcode.NotAVideoError as exc:
            raise HTTPException(415, f"not a video: {exc}") from exc
        engine = request.state.async_engine
        # The row first, UPLOADING: if this process dies from here on, the row names
        # the object it may have stored, and the recovery deletes both (`jobs.abandon`).
        async with engine.begin() as connection:
            await connection.execute(
                jobs.reserve_statement(task_id, upload.client_filename, upload.size)
            )
        recorded = True
        key = storage.upload_key(task_id)
        try:
            await pipeline_thread(store.put_file, key, upload.path)
        except storage.StorageUnavailableError as exc:
            logger.exception("could not store the upload of task %s", task_id)
            raise HTTPException(503, "the video storage is unavailable; try again later") from exc
        stored = True
        fault_points.reach("upload-stored")
        async with engine.begin() as connection:
            issued = await connection.execute(jobs.issue_statement(task_id))
        if issued.rowcount != 1:
            # Storing took longer than UNSTUCK_UPLOAD_ABANDONED_AFTER_S: the recovery
            # took this upload for one a dead process left.
            raise HTTPException(503, "storing the upload took too long; try again later")
        task = _celery(request).tasks[TRANSCODE_TASK]
        send = functools.partial(task.apply_async, task_id=task_id)
        try:
            await pipeline_thread(send)
        except _QUEUE_ERRORS as exc:
            logger.exception("could not send task %s to the broker", task_id)
            raise HTTPException(503, "the task queue is unavailable; try again later") from exc
        enqueued = True
    finally:
        if not enqueued:
            # Whatever stopped the request (refusal, outage, cancellation), no orphan
            # upload or job stays behind.
            with anyio.CancelScope(shield=True):
                await _forget(request, task_id, upload.path, stored, recorded)
    return UploadAccepted(task_id=task_id)


async def _forget(request: Request, task_id: str, local: Any, stored: bool, recorded: bool) -> None:
    await anyio.Path(local).unlink(missing_ok=True)
    try:
        # The object before the row: a row left behind still names it for the recovery.
        if stored:
            await pipeline_thread(_storage(request).delete, storage.upload_key(task_id))
        if recorded:
            async with request.state.async_engine.begin() as connection:
                await connection.execute(jobs.delete_statement(task_id))
    except Exception:
        # A row left UPLOADING is deleted by the recovery after
        # UNSTUCK_UPLOAD_ABANDONED_AFTER_S, with its upload; one left PENDING is sent
        # again (or failed, its upload gone). The client had a refusal: nothing is lost.
        logger.exception("could not clean up after the refused upload of task %s", task_id)


@router.get("/task/{task_id}", response_model=TaskState, responses={404: {}, 503: {}})
async def get_task(task_id: str, request: Request) -> TaskState:
    """The state of a transcode, from its ``video_jobs`` row."""
    job = await _job(request, task_id)
    return TaskState(
        task_id=job.id,
        state=job.state,
        result=_public_result(job),
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        attempts=job.attempts,
    )


# Declared, so that the API's description shows them; malformed or several ranges are
# not refused: the whole file is sent, as RFC 9110 lets a server do.
RangeHeader = Annotated[
    str | None,
    Header(
        alias="Range",
        description="one byte range, `bytes=first-last`, `bytes=first-` or `bytes=-suffix`: "
        "a 206 with those bytes (a 416 when it starts past the end); anything else gets "
        "the whole file",
    ),
]
IfRangeHeader = Annotated[
    str | None,
    Header(
        alias="If-Range",
        description="the ETag of the copy the client holds: the range is sent only if the "
        "file is still that one, else the whole file",
    ),
]


def _result_answers(media_type: str) -> dict[int | str, dict[str, Any]]:
    content: dict[str, Any] = {media_type: {}}
    return {
        200: {"content": content},
        206: {"description": "the one byte range asked for with Range", "content": content},
        404: {},
        409: {},
        416: {"description": "the range starts past the end (Content-Range: bytes */size)"},
        503: {},
    }


@router.get(
    "/videos/{task_id}",
    response_class=StreamingResponse,
    responses=_result_answers("video/mp4"),
)
async def get_video(
    task_id: str, request: Request, range_: RangeHeader = None, if_range: IfRangeHeader = None
) -> Response:
    """The transcoded H.264 MP4 (at most 320 px wide), once the task has succeeded.

    ``Range: bytes=…`` (one range) gets a 206 with those bytes, as players ask for it.
    """
    job = await _job(request, task_id)
    key = storage.video_key(job.id)
    return await _stream_result(request, job, key, "video/mp4", range_, if_range)


@router.get(
    "/videos/{task_id}/thumbnail",
    response_class=StreamingResponse,
    responses=_result_answers("image/jpeg"),
)
async def get_thumbnail(
    task_id: str, request: Request, range_: RangeHeader = None, if_range: IfRangeHeader = None
) -> Response:
    """A JPEG frame of the transcoded video, once the task has succeeded."""
    job = await _job(request, task_id)
    key = storage.thumbnail_key(job.id)
    return await _stream_result(request, job, key, "image/jpeg", range_, if_range)


async def _job(request: Request, task_id: str) -> jobs.Job:
    canonical = parse_task_id(task_id)
    # Any case is the same id; other spellings (braces, urn:uuid:) are not ids we issue.
    if canonical is None or canonical != task_id.lower():
        # Only the start of a malformed id is echoed: the client sent it and may be huge.
        shown = task_id if len(task_id) <= _SHOWN_ID_CHARS else task_id[:_SHOWN_ID_CHARS] + "…"
        raise HTTPException(404, f"no task {shown!r}: task ids are UUIDs from /upload-video")
    async with request.state.async_engine.connect() as connection:
        row = (await connection.execute(jobs.select_statement(canonical))).first()
    # An UPLOADING or ABANDONED row is an upload whose 202 was never sent: not issued.
    if row is None or row.state in (jobs.UPLOADING, jobs.ABANDONED):
        raise HTTPException(404, f"no task {task_id!r} was issued by this service, or it expired")
    return jobs.Job.from_row(row)


async def _stream_result(
    request: Request,
    job: jobs.Job,
    key: str,
    media_type: str,
    range_: str | None,
    if_range: str | None,
) -> Response:
    if job.state == jobs.FAILURE:
        raise HTTPException(409, f"the transcode failed: {job.error_message}")
    if job.state != jobs.SUCCESS:
        raise HTTPException(
            404,
            f"the video is not ready: the task is {job.state}; poll /task/{job.id} until SUCCESS",
        )
    if is_head(request.scope):
        # Ranges are defined for GET only (RFC 9110, 14.2): a HEAD describes the whole
        # file, from what the store knows of it (the object is never opened).
        with _storage_errors(key):
            info = await pipeline_thread(_storage(request).stat, key)
        headers = {"Content-Length": str(info.size), "Accept-Ranges": "bytes"}
        if info.etag is not None:
            headers["ETag"] = info.etag
        return Response(headers=headers, media_type=media_type)
    wanted = byte_ranges.parse(range_)
    opening = functools.partial(_open_result, _storage(request), key, wanted, if_range)
    with _storage_errors(key):
        opened = await pipeline_thread(opening)
    headers = {"Content-Length": str(opened.length), "Accept-Ranges": "bytes"}
    if opened.etag is not None:
        headers["ETag"] = opened.etag
    status = 200
    if opened.span is not None:
        status = 206
        headers["Content-Range"] = opened.span.content_range()
    return StreamingResponse(
        _chunks(opened), status_code=status, media_type=media_type, headers=headers
    )


@contextlib.contextmanager
def _storage_errors(key: str) -> Iterator[None]:
    """The store's failures as the answers a client can act on."""
    try:
        yield
    except storage.ObjectMissingError as exc:
        raise HTTPException(404, "the transcoded file is no longer stored") from exc
    except storage.RangeNotSatisfiableError as exc:
        raise HTTPException(
            416,
            f"the range starts past the end of the file ({exc.size} bytes)",
            headers={"Content-Range": f"bytes */{exc.size}", "Accept-Ranges": "bytes"},
        ) from exc
    except storage.StorageUnavailableError as exc:
        logger.exception("could not open %s", key)
        raise HTTPException(503, "the video storage is unavailable; try again later") from exc


def _open_result(
    store: Storage, key: str, wanted: byte_ranges.RangeRequest | None, if_range: str | None
) -> storage.StoredObject:
    """The object, or the range `wanted` of it when ``If-Range`` (if any) allows.

    Blocking (a thread). ``If-Range`` is weighed before the range itself: a file that
    changed since the client's copy is sent whole, even if the range does not fit it.
    """
    if wanted is None:
        return store.open(key)
    try:
        opened = store.open(key, wanted)
    except storage.RangeNotSatisfiableError:
        if if_range is None:
            raise
        whole = store.open(key)
        if byte_ranges.if_range_allows(if_range, whole.etag):
            whole.close()
            raise
        return whole
    if byte_ranges.if_range_allows(if_range, opened.etag):
        return opened
    opened.close()
    return store.open(key)


async def _chunks(opened: storage.StoredObject) -> AsyncIterator[bytes]:
    try:
        while chunk := await pipeline_thread(opened.read):
            yield chunk
    finally:
        with anyio.CancelScope(shield=True):
            await pipeline_thread(opened.close)


def _public_result(job: jobs.Job) -> dict[str, Any] | None:
    if job.state == jobs.SUCCESS and job.result is not None:
        return {
            **job.result,
            "video_url": f"/videos/{job.id}",
            "thumbnail_url": f"/videos/{job.id}/thumbnail",
        }
    if job.state == jobs.FAILURE:
        return {"error": job.error_type, "message": job.error_message}
    return None
