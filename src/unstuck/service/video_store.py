"""Where uploads, transcoded videos and the record of issued task ids live on disk.

Layout under ``data_dir``::

    uploads/<task_id>.upload     the raw upload, removed once the task has run
    videos/<task_id>.mp4         the H.264 preview rendition
    videos/<task_id>.jpg         its thumbnail
    tasks/<task_id>.json         proof that this service issued the id

Every name is derived from a task id the service generated (a UUID), never
from the client's file name, so no request can reach outside these folders.
The web process and the Celery worker must see the same ``data_dir``: on one
machine that is a local folder; across hosts it has to be a shared volume.

The task records exist because Celery's result backend answers PENDING for an
id it has never seen: without them a mistyped id would look queued forever.
All methods do blocking file I/O: call them from a thread in async code.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path


def parse_task_id(text: str) -> str | None:
    """The canonical form of a task id, or None when `text` is not a UUID."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def new_task_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class VideoStore:
    root: Path

    @property
    def uploads(self) -> Path:
        return self.root / "uploads"

    @property
    def videos(self) -> Path:
        return self.root / "videos"

    @property
    def tasks(self) -> Path:
        return self.root / "tasks"

    def create_folders(self) -> None:
        for folder in (self.uploads, self.videos, self.tasks):
            folder.mkdir(parents=True, exist_ok=True)

    def upload_path(self, task_id: str) -> Path:
        return self.uploads / f"{_checked(task_id)}.upload"

    def video_path(self, task_id: str) -> Path:
        return self.videos / f"{_checked(task_id)}.mp4"

    def thumbnail_path(self, task_id: str) -> Path:
        return self.videos / f"{_checked(task_id)}.jpg"

    def record_issued(self, task_id: str, client_filename: str | None, size: int) -> None:
        """Remember that this service issued `task_id` (written before the task is sent)."""
        record = {
            "task_id": task_id,
            "client_filename": client_filename,
            "size": size,
            "created_at": time.time(),
        }
        path = self.tasks / f"{_checked(task_id)}.json"
        partial = path.with_name(path.name + ".part")
        partial.write_text(json.dumps(record), encoding="utf-8")
        os.replace(partial, path)

    def was_issued(self, task_id: str) -> bool:
        return (self.tasks / f"{_checked(task_id)}.json").is_file()

    def forget(self, task_id: str) -> None:
        """Drop the record and the upload of a task that could not be sent."""
        (self.tasks / f"{_checked(task_id)}.json").unlink(missing_ok=True)
        self.upload_path(task_id).unlink(missing_ok=True)


def _checked(task_id: str) -> str:
    canonical = parse_task_id(task_id)
    if canonical is None or canonical != task_id:
        raise ValueError(f"not a canonical task id: {task_id!r}")
    return canonical
