"""Can the video pipeline work right now? Database, broker, a worker that answered.

`PipelineMonitor` answers from a cache refreshed at most every
``_FRESH_S``: the checks are network round trips (a ``SELECT`` on the sync
engine, a broker connection), so they run in a worker thread, one refresh at a
time, each bounded by the engine's pool and connect timeouts and the broker's. ``/health`` and
``/upload-video`` read it; a request never waits on more than one refresh.

A worker is alive when its recovery thread wrote ``video_workers`` within
three heartbeats (``3 * job_heartbeat_s``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from unstuck.service import jobs
from unstuck.service.capacity import pipeline_thread

if TYPE_CHECKING:
    from celery import Celery
    from sqlalchemy import Engine

    from unstuck.service.settings import Settings

logger = logging.getLogger("unstuck.service.pipeline")

_FRESH_S = 2.0
_BROKER_TIMEOUT_S = 3


@dataclass(frozen=True)
class PipelineStatus:
    database: str  # "ok" or what went wrong
    broker: str
    worker_seen_at: datetime | None
    worker_alive: bool

    @property
    def can_work(self) -> bool:
        return self.database == "ok" and self.broker == "ok" and self.worker_alive

    def problem(self) -> str | None:
        """What keeps the pipeline from working, for the user; None when it can."""
        if self.database != "ok":
            return f"the database is unreachable ({self.database})"
        if self.broker != "ok":
            return f"the task queue is unreachable ({self.broker})"
        if not self.worker_alive:
            return "no video worker is running; try again later"
        return None


class PipelineMonitor:
    def __init__(self, settings: Settings, engine: Engine, celery: Celery) -> None:
        self.settings = settings
        self.engine = engine
        self.celery = celery
        self._status: PipelineStatus | None = None
        self._checked_at = 0.0
        self._lock = asyncio.Lock()

    async def status(self) -> PipelineStatus:
        if self._status is not None and time.monotonic() - self._checked_at < _FRESH_S:
            return self._status
        async with self._lock:
            if self._status is None or time.monotonic() - self._checked_at >= _FRESH_S:
                self._status = await self._check()
                self._checked_at = time.monotonic()
        return self._status

    async def _check(self) -> PipelineStatus:
        return await pipeline_thread(self._check_now)

    def _check_now(self) -> PipelineStatus:
        broker = self._check_broker()
        seen_at: datetime | None = None
        try:
            with self.engine.connect() as connection:
                found = connection.execute(jobs.latest_worker_statement()).scalar()
            database = "ok"
            seen_at = jobs.aware(found) if found is not None else None
        except Exception as exc:
            logger.warning("database check failed: %s", exc)
            database = type(exc).__name__
        window = timedelta(seconds=3 * self.settings.job_heartbeat_s)
        alive = seen_at is not None and jobs.now() - seen_at < window
        return PipelineStatus(database, broker, seen_at, alive)

    def _check_broker(self) -> str:
        if self.settings.broker_url is None:
            return "ok"  # the filesystem transport: a folder of this host
        try:
            with self.celery.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=_BROKER_TIMEOUT_S)
        except Exception as exc:
            logger.warning("broker check failed: %s", exc)
            return type(exc).__name__
        return "ok"
