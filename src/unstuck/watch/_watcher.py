"""The watcher of one app in one process: owns every probe and the diagnostics.

``start`` runs on the app's loop when its lifespan begins: the watchdog thread,
the heartbeat and a once-a-second sampler task (thread pool, DB pools and
in-flight requests to the gauges) begin; ``stop`` ends them all when the
lifespan ends, so no thread outlives the app. Stalls arrive from the watchdog
thread and go to the log, the metrics and a bounded deque.

Starting costs the loop nothing it would notice: what is slow to do the first
time (creating the metrics, importing anyio's asyncio backend, which the
thread-pool gauge needs) is done in a thread, and the first sample waits one
period. Between ``start`` and ``serving`` the code the loop runs is the app's
start-up; after ``shutting_down``, its shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import importlib
import json
import logging
import os
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from unstuck.watch._config import WatchConfig
from unstuck.watch._db_pools import WatchedPool
from unstuck.watch._fleet import PUBLISH_EVERY_S, Publisher, read_workers, worker_fleet_dir
from unstuck.watch._loop_time import LoopTime
from unstuck.watch._metrics import NO_ROUTE, WatchMetrics, metrics
from unstuck.watch._origin import (
    ACTIVITY,
    OUTSIDE,
    Origin,
    Phase,
    activity_of,
    metric_label,
    origin_of,
)
from unstuck.watch._requests import RequestRegistry, origin_from_frames
from unstuck.watch._stall import Stall, log_stall
from unstuck.watch._watchdog import LoopWatchdog

if TYPE_CHECKING:
    from types import FrameType

    from sqlalchemy.engine import Engine
    from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger("unstuck")

_SAMPLE_EVERY_S = PUBLISH_EVERY_S
#: Stalls and in-flight requests in a published snapshot: the newest, enough for the page.
_PUBLISHED_ROWS = 50


def _prepare() -> WatchMetrics:
    """What is slow the first time; run in a thread, off the loop."""
    # thread_pool_stats() would import it on the loop at the first sample; with
    # another anyio layout, that first sample imports what it needs.
    with contextlib.suppress(ImportError):
        importlib.import_module("anyio.to_thread")
        importlib.import_module("anyio._backends._asyncio")
    return metrics()


def _start_publisher() -> Publisher | None:
    """The publisher of this worker's snapshot, if it has somewhere to publish."""
    directory = worker_fleet_dir()
    if directory is None:
        return None
    publisher = Publisher(directory, _encode)
    publisher.start()
    return publisher


def thread_pool_stats() -> dict[str, int]:
    """anyio's default limiter (the 40 tokens of ``def`` routes); call on the loop."""
    import anyio.to_thread

    statistics = anyio.to_thread.current_default_thread_limiter().statistics()
    return {
        "borrowed": statistics.borrowed_tokens,
        "total": int(statistics.total_tokens),
        "waiting": statistics.tasks_waiting,
    }


class Watcher:
    def __init__(self, config: WatchConfig) -> None:
        self.config = config
        self.requests = RequestRegistry()
        self.pools: list[WatchedPool] = []
        self.stalls: deque[Stall] = deque(maxlen=config.history)
        self.stall_count = 0
        self.watchdog: LoopWatchdog | None = None
        self._metrics: WatchMetrics | None = None
        self._sampler: asyncio.Task[None] | None = None
        self._started = 0.0
        self._routes_seen: set[str] = set()
        self._phase: Phase | None = None
        self.loop_time = LoopTime(
            origin_of=self._origin_of_task,
            gc_seconds=self._gc_seconds,
            on_flush=self._count_busy,
        )
        self._publisher: Publisher | None = None

    # -- lifecycle ---------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.watchdog is not None and self.watchdog.running

    async def start(self) -> None:
        """Start watching; the caller's context (the lifespan's) is in start-up from here."""
        if self.running:
            return
        loop = asyncio.get_running_loop()
        self._metrics = await loop.run_in_executor(None, _prepare)
        lag_metric = self._metrics.loop_lag
        self.watchdog = LoopWatchdog(
            threshold_s=self.config.threshold_ms / 1000,
            heartbeat_s=self.config.heartbeat_s,
            sample_s=self.config.sample_s,
            on_stall=self._record_stall,
            resolve_origin=self._resolve_origin,
            on_lag=lag_metric.observe,
            on_hang=lambda stall: log_stall(stall, ongoing=True),
            clock=self.requests,
        )
        # Starting a thread waits for it to run: the sampler's start comes before the
        # watch, so that a busy machine does not make it a stall of the app's start-up.
        if self.config.loop_time:
            self.loop_time.start()
        self.watchdog.start()
        # It reads /proc and creates the directory: off the loop, like _prepare.
        self._publisher = await loop.run_in_executor(None, _start_publisher)
        self._started = time.monotonic()
        # The watcher's own task belongs to no request and to no phase of the app.
        self._sampler = loop.create_task(
            self._sample_forever(), name="unstuck-sampler", context=contextvars.Context()
        )
        self._enter_phase(Phase("start-up"))
        logger.info(
            "watching the event loop of pid %d: stalls over %g ms are reported",
            os.getpid(),
            self.config.threshold_ms,
        )

    def _enter_phase(self, phase: Phase | None) -> None:
        if self._phase is not None:
            self._phase.finished = True
        self._phase = phase
        ACTIVITY.set(phase)

    def serving(self) -> None:
        """The app's start-up is over; call in the lifespan's context."""
        self._enter_phase(None)

    def shutting_down(self) -> None:
        """The app's shutdown begins; call in the lifespan's context."""
        self._enter_phase(Phase("shutdown"))

    async def stop(self) -> None:
        if self._phase is not None:
            self._phase.finished = True
            self._phase = None
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
            self._sampler = None
        if self.watchdog is not None:
            self.watchdog.cancel_heartbeat()
            await asyncio.to_thread(self.watchdog.stop)
        await asyncio.to_thread(self.loop_time.stop)
        if self._publisher is not None:
            await asyncio.to_thread(self._publisher.stop)
            self._publisher = None

    # -- probes ------------------------------------------------------------

    def add_engine(self, engine: Engine | AsyncEngine, name: str | None = None) -> WatchedPool:
        target = getattr(engine, "sync_engine", engine)
        for pool in self.pools:
            if pool.sync_engine is target:
                return pool
        watched = WatchedPool(
            engine, name, on_wait=self._record_wait, on_timeout=self._record_timeout
        )
        self.pools.append(watched)
        return watched

    def _resolve_origin(self, task: asyncio.Task[Any] | None, frame: FrameType | None) -> Origin:
        """On the watchdog thread: the running task's activity, else a ``scope`` local."""
        activity = activity_of(task, self.requests.serving)
        if activity is not None:
            return origin_of(activity)
        return origin_from_frames(frame) or OUTSIDE

    def _origin_of_task(self, task: asyncio.Task[Any] | None) -> str | None:
        """The loop-time account of a task (a bounded label); called by the sampler thread."""
        activity = activity_of(task, self.requests.serving)
        return None if activity is None else metric_label(origin_of(activity))

    def _gc_seconds(self) -> float:
        return self.watchdog.gc_seconds if self.watchdog is not None else 0.0

    def _count_busy(self, seconds_by_origin: dict[str, float]) -> None:
        if self._metrics is not None:
            for origin, seconds in seconds_by_origin.items():
                self._metrics.loop_busy.labels(origin=origin).inc(seconds)

    def _record_stall(self, stall: Stall) -> None:
        self.stalls.append(stall)
        self.stall_count += 1
        log_stall(stall)
        if self._metrics is not None:
            label = stall.metric_label
            self._metrics.stalls.labels(route=label).inc()
            self._metrics.stall_seconds.labels(route=label).inc(stall.duration_ms / 1000)

    def _record_wait(self, engine: str, seconds: float) -> None:
        if self._metrics is not None:
            self._metrics.db_pool_wait.labels(engine=engine).observe(seconds)

    def _record_timeout(self, engine: str) -> None:
        if self._metrics is not None:
            self._metrics.db_pool_timeouts.labels(engine=engine).inc()

    async def _sample_forever(self) -> None:
        while True:
            # Sleep first: nothing of the watcher's runs on the loop as the app starts.
            await asyncio.sleep(_SAMPLE_EVERY_S)
            try:
                self._sample_gauges()
                if self._publisher is not None:
                    self._publisher.publish(self.worker_snapshot(rows=_PUBLISHED_ROWS))
            except Exception:
                logger.exception("unstuck could not sample the gauges")

    def _sample_gauges(self) -> None:
        m = self._metrics
        if m is None or self.watchdog is None:
            return
        m.loop_lag_recent.set(self.watchdog.lag.recent_max(_SAMPLE_EVERY_S))
        pool = thread_pool_stats()
        m.thread_pool_borrowed.set(pool["borrowed"])
        m.thread_pool_total.set(pool["total"])
        m.thread_pool_waiting.set(pool["waiting"])
        for watched in self.pools:
            row = watched.snapshot()
            m.db_pool_size.labels(engine=watched.name).set(row["size"] or 0)
            m.db_pool_checked_out.labels(engine=watched.name).set(row["checked_out"] or 0)
            m.db_pool_overflow.labels(engine=watched.name).set(row["overflow"] or 0)
            m.db_pool_waiting.labels(engine=watched.name).set(row["waiting"])
        by_route: dict[str, int] = {}
        for request in self.requests.requests():
            label = request.route or NO_ROUTE
            by_route[label] = by_route.get(label, 0) + 1
        # Routes that emptied are set to 0: in multiprocess mode a label cannot be removed.
        for label in self._routes_seen - by_route.keys():
            m.inflight.labels(route=label).set(0)
        for label, count in by_route.items():
            m.inflight.labels(route=label).set(count)
        self._routes_seen |= by_route.keys()

    # -- diagnostics -------------------------------------------------------

    def worker_snapshot(self, rows: int | None = None) -> dict[str, Any]:
        """This worker's diagnostics, without the lock-wait query; call on the loop.

        The values are computed when read, so the loop-time and lag parts, safe from
        any thread, are left as callables for whoever encodes the result.
        """
        stalls = list(self.stalls)  # one C call: the watchdog thread may append meanwhile
        inflight = self.requests.snapshot()
        if rows is not None:
            stalls = stalls[-rows:]
            inflight = inflight[:rows]
        return {
            "pid": os.getpid(),
            "running": self.running,
            "threshold_ms": self.config.threshold_ms,
            "uptime_s": round(time.monotonic() - self._started, 1) if self.running else None,
            "stall_count": self.stall_count,
            "stalls": [stall.to_json() for stall in reversed(stalls)],
            "loop": self.watchdog.lag.snapshot if self.watchdog is not None else _no_lag,
            "loop_time": self.loop_time.snapshot,
            "threadpool": thread_pool_stats(),
            "db_pools": [pool.snapshot() for pool in self.pools],
            "inflight": inflight,
        }

    async def snapshot(self) -> dict[str, Any]:
        """The diagnostics JSON; runs on the loop, the lock query and the fleet read off it."""
        data = _resolved(self.worker_snapshot())
        data["lock_waits"] = [await pool.lock_waits() for pool in self.pools if pool.is_postgres]
        workers = [_worker_view(data, published_s_ago=0.0, stale=False)]
        directory = self._publisher.directory if self._publisher is not None else None
        if directory is not None:
            others = await asyncio.to_thread(read_workers, directory, skip_pid=os.getpid())
            workers += others
        data["workers"] = sorted(workers, key=lambda worker: int(worker["pid"]))
        return data


def _no_lag() -> dict[str, Any]:
    return {"lag_ms": None}


def _resolved(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {key: value() if callable(value) else value for key, value in snapshot.items()}


def _encode(snapshot: dict[str, Any]) -> bytes:
    return json.dumps(_resolved(snapshot), separators=(",", ":"), default=str).encode()


def _worker_view(data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    view = {key: value for key, value in data.items() if key not in {"workers", "lock_waits"}}
    view.update(extra)
    return view
