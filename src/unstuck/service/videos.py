"""Routes of the video pipeline: upload, task state, transcoded results.

The article's third CPU option, done right. Every blocking step runs in a
worker thread, never on the event loop: writing the upload (`uploads`), probing
it with PyAV, recording the task id, sending the task to the broker, and
reading ``AsyncResult(id).state`` from the result backend. Task ids are
generated here, so the upload's file name and the result's come from the id,
never from the client. An id this service never issued is a 404, not a task
PENDING forever.

The handlers find the Celery app and the settings in ``request.state``
(``celery`` and ``settings``), put there by the service's lifespan.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from celery.result import AsyncResult
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel

from unstuck.service import transcode
from unstuck.service.capacity import pipeline_thread
from unstuck.service.queue import TRANSCODE_TASK
from unstuck.service.upload_limits import upload_slot
from unstuck.service.uploads import UploadError, receive_upload
from unstuck.service.video_store import VideoStore, new_task_id, parse_task_id

if TYPE_CHECKING:
    from celery import Celery

    from unstuck.service.settings import Settings

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


def _store(request: Request) -> VideoStore:
    settings: Settings = request.state.settings
    return VideoStore(settings.data_dir)


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
        422: {"description": "no file field, or an empty file"},
        503: {"description": "the task queue is unavailable, or too many uploads at once"},
    },
)
async def upload_video(request: Request) -> UploadAccepted:
    """Stream the upload to the data dir, check it is a video, enqueue the transcode."""
    settings: Settings = request.state.settings
    store = _store(request)
    task_id = new_task_id()
    try:
        upload = await receive_upload(
            request, store.upload_path(task_id), settings.max_upload_bytes
        )
    except UploadError as exc:
        raise HTTPException(exc.status_code, exc.message) from exc
    enqueued = False
    try:
        try:
            await pipeline_thread(transcode.probe, upload.path)
        except transcode.NotAVideoError as exc:
            raise HTTPException(415, f"not a video: {exc}") from exc
        await pipeline_thread(store.record_issued, task_id, upload.client_filename, upload.size)
        task = _celery(request).tasks[TRANSCODE_TASK]
        send = functools.partial(task.apply_async, args=(upload.path.name,), task_id=task_id)
        try:
            await pipeline_thread(send)
        except _QUEUE_ERRORS as exc:
            logger.exception("could not send task %s to the broker", task_id)
            raise HTTPException(503, "the task queue is unavailable; try again later") from exc
        enqueued = True
    finally:
        if not enqueued:
            # Whatever stopped the request (refusal, outage, cancellation), no orphan
            # upload or record stays behind.
            with anyio.CancelScope(shield=True):
                await pipeline_thread(store.forget, task_id)
    return UploadAccepted(task_id=task_id)


@router.get("/task/{task_id}", response_model=TaskState, responses={404: {}, 503: {}})
async def get_task(task_id: str, request: Request) -> TaskState:
    """The state of a transcode, from ``AsyncResult(task_id).state``."""
    canonical = await _issued_id(request, task_id)
    state, result = await _read_result(request, canonical)
    return TaskState(
        task_id=canonical, state=state, result=_public_result(canonical, state, result)
    )


@router.get(
    "/videos/{task_id}",
    response_class=FileResponse,
    responses={200: {"content": {"video/mp4": {}}}, 404: {}, 409: {}},
)
async def get_video(task_id: str, request: Request) -> FileResponse:
    """The transcoded H.264 MP4 (at most 320 px wide), once the task has succeeded."""
    canonical = await _issued_id(request, task_id)
    path = _store(request).video_path(canonical)
    await _require_result(request, canonical, path)
    return FileResponse(path, media_type="video/mp4")


@router.get(
    "/videos/{task_id}/thumbnail",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}}}, 404: {}, 409: {}},
)
async def get_thumbnail(task_id: str, request: Request) -> FileResponse:
    """A JPEG frame of the transcoded video, once the task has succeeded."""
    canonical = await _issued_id(request, task_id)
    path = _store(request).thumbnail_path(canonical)
    await _require_result(request, canonical, path)
    return FileResponse(path, media_type="image/jpeg")


async def _issued_id(request: Request, task_id: str) -> str:
    canonical = parse_task_id(task_id)
    # Any case (RFC 9562 UUIDs compare case-insensitively), but only the hyphenated form.
    if canonical is None or canonical != task_id.lower():
        # Only the start of a malformed id is echoed: the client sent it and may be huge.
        shown = task_id if len(task_id) <= _SHOWN_ID_CHARS else task_id[:_SHOWN_ID_CHARS] + "…"
        raise HTTPException(404, f"no task {shown!r}: task ids are UUIDs from /upload-video")
    if not await pipeline_thread(_store(request).was_issued, canonical):
        raise HTTPException(404, f"no task {task_id!r} was issued by this service")
    return canonical


async def _read_result(request: Request, task_id: str) -> tuple[str, Any]:
    celery = _celery(request)

    def read() -> tuple[str, Any]:
        # Both are backend round trips; the result is cached once the state is final.
        async_result: AsyncResult[Any] = AsyncResult(task_id, app=celery)
        state = async_result.state
        return state, async_result.result if async_result.ready() else None

    try:
        return await pipeline_thread(read)
    except _QUEUE_ERRORS as exc:
        logger.exception("could not read the state of task %s", task_id)
        raise HTTPException(503, "the result backend is unavailable; try again later") from exc


async def _require_result(request: Request, task_id: str, path: Path) -> None:
    if await anyio.Path(path).is_file():
        return
    state, result = await _read_result(request, task_id)
    if state == "FAILURE":
        raise HTTPException(409, f"the transcode failed: {_failure_message(result)}")
    if state == "SUCCESS":
        raise HTTPException(404, "the transcoded file is no longer in the data dir")
    raise HTTPException(
        404, f"the video is not ready: the task is {state}; poll /task/{task_id} until SUCCESS"
    )


def _public_result(task_id: str, state: str, result: Any) -> dict[str, Any] | None:
    if state == "SUCCESS" and isinstance(result, dict):
        return {
            **result,
            "video_url": f"/videos/{task_id}",
            "thumbnail_url": f"/videos/{task_id}/thumbnail",
        }
    if state == "FAILURE":
        return {"error": type(result).__name__, "message": _failure_message(result)}
    return None


def _failure_message(result: Any) -> str:
    if isinstance(result, BaseException):
        return str(result) or type(result).__name__
    return str(result)
