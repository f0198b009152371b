"""The body of the transcode task, in a worker's pool process: safe to run twice.

A delivery first claims the job's row (`jobs.claim`): a job already finished,
or running on a live worker, is left alone, so a message delivered twice does
the work once. While it runs, a thread touches the row's heartbeat, so that a
worker killed mid-transcode is noticed and its job sent again. The upload is
fetched from storage into a scratch folder of this host's data dir, transcoded
there, and the outputs are stored under keys derived from the task id: a
second run writes the same objects, each one whole or not at all. Only then is
the row marked SUCCESS, and the upload deleted.

Failures are of two kinds. The video's own (not decodable, too slow) end the
job as FAILURE, with a message for the user. The infrastructure's (database,
storage unreachable: a cut link, a restart) are retried with back-off until
the soft time limit; past it the task gives up without touching the row, whose
heartbeat then goes stale, and the job is sent again.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from unstuck.service import jobs, storage, transcode
from unstuck.service.queue import QueueSettings
from unstuck.service.settings import Settings

logger = logging.getLogger("unstuck.service.transcode")

_T = TypeVar("_T")
# Errors that say "try again later", not "this video is bad".
INFRASTRUCTURE_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    storage.StorageUnavailableError,
    OSError,
)
_RETRY_FIRST_S = 0.5
_RETRY_MAX_S = 5.0


@dataclass(frozen=True)
class JobContext:
    """What one pool process needs, made once per process (never inherited through fork)."""

    settings: Settings
    queue: QueueSettings
    engine: Engine
    storage: storage.Storage
    worker: str
    scratch: Path


_contexts: dict[int, JobContext] = {}


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def context(settings: Settings, queue: QueueSettings) -> JobContext:
    pid = os.getpid()
    found = _contexts.get(pid)
    if found is None or found.settings != settings or found.queue != queue:
        scratch = settings.data_dir.resolve() / "work"
        scratch.mkdir(parents=True, exist_ok=True)
        found = JobContext(
            settings=settings,
            queue=queue,
            # No pool: a connection now and then, and nothing to go stale across a cut link.
            engine=jobs.worker_engine(settings),
            storage=storage.create_storage(settings),
            worker=worker_name(),
            scratch=scratch,
        )
        for stale in _contexts.values():
            stale.engine.dispose()
        _contexts.clear()
        _contexts[pid] = found
    return found


def run_job(settings: Settings, queue: QueueSettings, task_id: str) -> None:
    ctx = context(settings, queue)
    deadline = time.monotonic() + queue.task_soft_time_limit_s
    claim = _persist(
        deadline,
        jobs.claim,
        ctx.engine,
        task_id,
        ctx.worker,
        settings.job_requeue_after_s,
        settings.job_max_attempts,
    )
    if claim is not jobs.Claim.CLAIMED:
        logger.info("task %s not run here: %s", task_id, claim.value)
        if claim is jobs.Claim.FINISHED:
            # A run that finished but died before deleting the upload.
            _forget_upload(ctx, task_id)
        return
    stop = threading.Event()
    heart = threading.Thread(
        target=_beat, args=(ctx, task_id, stop), name=f"heartbeat-{task_id}", daemon=True
    )
    heart.start()
    try:
        _run_claimed(ctx, task_id, deadline)
    finally:
        stop.set()
        heart.join()


def _run_claimed(ctx: JobContext, task_id: str, deadline: float) -> None:
    folder = ctx.scratch / task_id
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        source, video, thumbnail = folder / "source", folder / "video.mp4", folder / "thumb.jpg"
        try:
            _persist(deadline, ctx.storage.get_file, storage.upload_key(task_id), source)
        except storage.ObjectMissingError:
            _persist(
                deadline,
                jobs.fail,
                ctx.engine,
                task_id,
                "UploadMissingError",
                "the upload is no longer in storage; upload the video again",
            )
            return
        try:
            info = transcode.transcode(source, video, thumbnail, ctx.queue.video_max_width)
        except transcode.NotAVideoError as exc:
            _persist(deadline, jobs.fail, ctx.engine, task_id, "NotAVideoError", str(exc))
            _forget_upload(ctx, task_id)
            return
        except SoftTimeLimitExceeded:
            message = (
                f"transcoding took longer than the limit of {ctx.queue.task_soft_time_limit_s} s"
            )
            jobs.fail(ctx.engine, task_id, "TranscodeTimeoutError", message)
            _forget_upload(ctx, task_id)
            return
        result: dict[str, Any] = {
            "width": info.width,
            "height": info.height,
            "codec": info.codec,
            "duration_s": info.duration_s,
            "size": video.stat().st_size,
        }
        # The thumbnail first: once the video is there, everything is.
        _persist(deadline, _put_copy, ctx, storage.thumbnail_key(task_id), thumbnail)
        _persist(deadline, _put_copy, ctx, storage.video_key(task_id), video)
        _persist(deadline, jobs.succeed, ctx.engine, task_id, result)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    _forget_upload(ctx, task_id)


def _put_copy(ctx: JobContext, key: str, path: Path) -> None:
    # put_file consumes its file; a retry after a failed put needs it still there.
    spare = path.with_name(path.name + ".sending")
    shutil.copyfile(path, spare)
    ctx.storage.put_file(key, spare)


def _forget_upload(ctx: JobContext, task_id: str) -> None:
    try:
        ctx.storage.delete(storage.upload_key(task_id))
    except storage.StorageUnavailableError:
        # Retention removes it later; the job itself is done.
        logger.warning("could not delete the upload of task %s", task_id, exc_info=True)


def _beat(ctx: JobContext, task_id: str, stop: threading.Event) -> None:
    while not stop.wait(ctx.settings.job_heartbeat_s):
        try:
            jobs.beat(ctx.engine, task_id, ctx.worker)
        except OperationalError:
            logger.warning("heartbeat of task %s not written; database unreachable", task_id)


def _persist(deadline: float, call: Callable[..., _T], *args: Any) -> _T:
    """`call(*args)`, retried with back-off on infrastructure errors until `deadline`."""
    delay = _RETRY_FIRST_S
    while True:
        try:
            return call(*args)
        except INFRASTRUCTURE_ERRORS as exc:
            if isinstance(exc, FileNotFoundError | storage.ObjectMissingError):
                raise
            if time.monotonic() + delay > deadline:
                raise
            logger.warning("%s failed (%s); retrying in %.1f s", call.__name__, exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX_S)
