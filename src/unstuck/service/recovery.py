"""The periodic work of every Celery worker: liveness, re-queueing, retention.

`Recovery` is a thread in the worker's main process (started when the worker
is ready, stopped when it shuts down). Every ``job_heartbeat_s`` it:

1. records that this worker is alive (``video_workers``: what ``/health`` and
   ``/upload-video`` read to know a worker answered recently);
2. sends again the jobs `jobs.requeue` finds: those whose worker went silent
   for ``job_requeue_after_s``, and those whose message was lost;
3. deletes what a web process killed mid-upload left, past
   ``upload_abandoned_after_s``: the upload and row of a job still UPLOADING
   (`jobs.abandon`), and the files of this host's ``incoming`` folder;
4. deletes, past ``retention_s``, the finished jobs' rows and their objects in
   storage (upload, video, thumbnail), and the stored answers of
   ``Idempotency-Key`` requests older than a day.

Several workers run it side by side: each update is conditional, so each job
is taken by one of them. A failing round (database or broker unreachable) is
logged and tried again at the next tick.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from pathlib import Path

from celery import Celery

from unstuck.service import idempotency, jobs, storage
from unstuck.service.queue import TRANSCODE_TASK
from unstuck.service.settings import Settings

logger = logging.getLogger("unstuck.service.recovery")


class Recovery:
    def __init__(self, app: Celery, settings: Settings, worker: str) -> None:
        self.app = app
        self.settings = settings
        self.worker = worker
        self.engine = jobs.worker_engine(settings)
        self.storage = storage.create_storage(settings)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="unstuck-recovery", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout=10)
        try:
            jobs.worker_gone(self.engine, self.worker)
        except Exception:
            logger.warning("could not remove worker %s from video_workers", self.worker)
        self.engine.dispose()

    def _run(self) -> None:
        while True:
            try:
                self.tick()
            except Exception:
                logger.exception("recovery round failed; trying again in %s s", self._period)
            if self._stop.wait(self._period):
                return

    def _forget_abandoned(self) -> None:
        after_s = self.settings.upload_abandoned_after_s
        abandoned = jobs.abandon(self.engine, after_s)
        for task_id in abandoned:
            # The object first: a row outliving it is deleted next round, the reverse leaks.
            self.storage.delete(storage.upload_key(task_id))
        if abandoned:
            jobs.delete_abandoned(self.engine, abandoned)
            logger.warning(
                "deleted %d uploads whose web process died before queueing them",
                len(abandoned),
            )
        _sweep_incoming(storage.incoming_folder(self.settings), after_s)

    @property
    def _period(self) -> float:
        return self.settings.job_heartbeat_s

    def tick(self) -> None:
        jobs.worker_seen(self.engine, self.worker)
        for task_id in jobs.requeue(self.engine, self.settings.job_requeue_after_s):
            logger.warning("job %s silent for too long: sending it again", task_id)
            # If this send fails, the row is PENDING with a fresh sent_at: the next
            # rounds send it again.
            self.app.tasks[TRANSCODE_TASK].apply_async(task_id=task_id)
        self._forget_abandoned()
        expired = jobs.expired(self.engine, self.settings.retention_s)
        for task_id in expired:
            # Objects first: a row outliving its objects is retried, the reverse leaks them.
            for key in (
                storage.upload_key(task_id),
                storage.video_key(task_id),
                storage.thumbnail_key(task_id),
            ):
                self.storage.delete(key)
        idempotency.expire(self.engine)
        if expired:
            jobs.delete_jobs(self.engine, expired)
            logger.info("deleted %d jobs past retention, with their files", len(expired))


def _sweep_incoming(folder: Path, after_s: float) -> None:
    """Remove files a web process was receiving when it died (untouched for `after_s`)."""
    if not folder.is_dir():
        return
    before = time.time() - after_s
    for entry in folder.iterdir():
        with contextlib.suppress(FileNotFoundError):
            if entry.is_file() and entry.stat().st_mtime < before:
                entry.unlink()
                logger.warning("deleted %s: its upload stopped %g s ago or more", entry, after_s)
