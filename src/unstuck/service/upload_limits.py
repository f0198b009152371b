"""Limits on uploads as a whole: how many at once, and how much disk the data dir may take.

Each upload is bounded by ``UNSTUCK_MAX_UPLOAD_BYTES``; without more, 200
clients uploading at once fill the disk. :func:`upload_slot`, a dependency of
``POST /upload-video``, refuses before any byte is read:

* ``503`` with ``Retry-After`` when ``UNSTUCK_MAX_CONCURRENT_UPLOADS`` uploads
  are already running in this worker process;
* ``507 Insufficient Storage`` when the data dir has no room for one more
  upload of the largest size: its files would pass
  ``UNSTUCK_DATA_DIR_QUOTA_BYTES``, or the disk would keep less than
  ``UNSTUCK_MIN_FREE_DISK_BYTES`` free.

Measuring the data dir walks its files, in a thread of the pipeline's limiter.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from anyio.lowlevel import RunVar
from fastapi import HTTPException, Request

from unstuck.service.capacity import pipeline_thread
from unstuck.service.settings import Settings


@dataclass
class _Running:
    count: int = 0


# Uploads running on this event loop (one per worker process).
_running: RunVar[_Running] = RunVar("unstuck_running_uploads")


def _uploads() -> _Running:
    try:
        return _running.get()
    except LookupError:
        running = _Running()
        _running.set(running)
        return running


def data_dir_bytes(data_dir: Path) -> int:
    """Bytes of the files under `data_dir` (blocking: call it in a thread)."""
    total = 0
    for root, _dirs, names in os.walk(data_dir):
        for name in names:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue  # removed while we walked: no longer takes room
    return total


@dataclass(frozen=True)
class DiskRoom:
    used_bytes: int
    free_bytes: int


def _room(data_dir: Path) -> DiskRoom:
    data_dir.mkdir(parents=True, exist_ok=True)
    return DiskRoom(data_dir_bytes(data_dir), shutil.disk_usage(data_dir).free)


def refusal(settings: Settings, room: DiskRoom) -> str | None:
    """Why one more upload of the largest size does not fit, or ``None``."""
    needed = settings.max_upload_bytes
    if room.used_bytes + needed > settings.data_dir_quota_bytes:
        return (
            f"the data dir holds {room.used_bytes} bytes: one more upload of up to {needed} "
            f"bytes would pass its quota of {settings.data_dir_quota_bytes} "
            "(UNSTUCK_DATA_DIR_QUOTA_BYTES); try again once videos have been removed"
        )
    if room.free_bytes - needed < settings.min_free_disk_bytes:
        return (
            f"the disk has {room.free_bytes} bytes free: one more upload of up to {needed} "
            f"bytes would leave less than {settings.min_free_disk_bytes} "
            "(UNSTUCK_MIN_FREE_DISK_BYTES)"
        )
    return None


async def upload_slot(request: Request) -> AsyncIterator[None]:
    """Dependency: hold one of the worker's upload slots for the request, or refuse it."""
    settings: Settings = request.state.settings
    running = _uploads()
    if running.count >= settings.max_concurrent_uploads:
        detail = (
            f"{running.count} uploads are already running in this worker "
            "(UNSTUCK_MAX_CONCURRENT_UPLOADS); try again shortly"
        )
        raise HTTPException(503, detail, headers={"Retry-After": "1"})
    running.count += 1
    try:
        why = refusal(settings, await pipeline_thread(_room, settings.data_dir))
        if why is not None:
            raise HTTPException(507, why)
        yield
    finally:
        running.count -= 1
