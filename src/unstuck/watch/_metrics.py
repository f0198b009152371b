"""Prometheus metrics of the watcher, correct with several worker processes.

The metrics live in a registry of their own, created once per process (several
watched apps in one process share them). With ``PROMETHEUS_MULTIPROC_DIR`` set
before the workers start, prometheus_client keeps every value in a file per
process; ``{path}/metrics`` then aggregates all of them: counters and the lag
histogram are summed, gauges are reported per live worker (a ``pid`` label).
Run ``unstuck.watch.mark_worker_dead(pid)`` when a worker exits (gunicorn's
``child_exit`` hook) so that its gauges disappear at once; without a hook
(``uvicorn --workers``) the gauges of dead workers are dropped when read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from unstuck.watch._fleet import drop_dead_gauges
from unstuck.watch._origin import NO_ROUTE

__all__ = ["CONTENT_TYPE", "NO_ROUTE", "WatchMetrics", "exposition", "metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_WAIT_BUCKETS = (0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0)


@dataclass(frozen=True, slots=True)
class WatchMetrics:
    registry: CollectorRegistry
    loop_lag: Histogram
    loop_lag_recent: Gauge
    stalls: Counter
    stall_seconds: Counter
    thread_pool_borrowed: Gauge
    thread_pool_total: Gauge
    thread_pool_waiting: Gauge
    db_pool_size: Gauge
    db_pool_checked_out: Gauge
    db_pool_overflow: Gauge
    db_pool_waiting: Gauge
    db_pool_wait: Histogram
    db_pool_timeouts: Counter
    inflight: Gauge
    loop_busy: Counter


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def _create() -> WatchMetrics:
    registry = CollectorRegistry(auto_describe=True)

    def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(name, doc, labels, registry=registry, multiprocess_mode="liveall")

    return WatchMetrics(
        registry=registry,
        loop_lag=Histogram(
            "unstuck_loop_lag_seconds",
            "How late the event loop ran a callback that was due (heartbeat lag).",
            buckets=_LAG_BUCKETS,
            registry=registry,
        ),
        loop_lag_recent=gauge(
            "unstuck_loop_lag_recent_seconds", "Worst loop lag of the last second."
        ),
        stalls=Counter(
            "unstuck_stalls",
            "Event-loop stalls longer than the threshold, by the route whose code ran.",
            ["route"],
            registry=registry,
        ),
        stall_seconds=Counter(
            "unstuck_stall_seconds",
            "Time the event loop spent stalled, by route.",
            ["route"],
            registry=registry,
        ),
        thread_pool_borrowed=gauge(
            "unstuck_thread_pool_borrowed", "anyio default thread limiter: tokens in use."
        ),
        thread_pool_total=gauge(
            "unstuck_thread_pool_total", "anyio default thread limiter: total tokens."
        ),
        thread_pool_waiting=gauge(
            "unstuck_thread_pool_waiting", "Tasks waiting for a thread-pool token."
        ),
        db_pool_size=gauge("unstuck_db_pool_size", "Configured pool size.", ("engine",)),
        db_pool_checked_out=gauge(
            "unstuck_db_pool_checked_out", "Connections checked out.", ("engine",)
        ),
        db_pool_overflow=gauge(
            "unstuck_db_pool_overflow", "Overflow connections open.", ("engine",)
        ),
        db_pool_waiting=gauge(
            "unstuck_db_pool_waiting", "Callers waiting for a connection now.", ("engine",)
        ),
        db_pool_wait=Histogram(
            "unstuck_db_pool_checkout_wait_seconds",
            "Time spent waiting for a pool connection.",
            ["engine"],
            buckets=_WAIT_BUCKETS,
            registry=registry,
        ),
        db_pool_timeouts=Counter(
            "unstuck_db_pool_timeouts",
            "Checkouts that hit the pool timeout.",
            ["engine"],
            registry=registry,
        ),
        inflight=gauge("unstuck_inflight_requests", "Requests being served.", ("route",)),
        loop_busy=Counter(
            "unstuck_loop_busy_seconds",
            "Time the event loop spent running code (sampled), by origin: the route, "
            "(start-up), (shutdown), (garbage collection), (before routing) or (other).",
            ["origin"],
            registry=registry,
        ),
    )


_metrics: WatchMetrics | None = None


def metrics() -> WatchMetrics:
    """The process's metrics, created on first use."""
    global _metrics
    if _metrics is None:
        _metrics = _create()
    return _metrics


def exposition() -> bytes:
    """The text format; in multiprocess mode the sum over every worker's files."""
    directory = multiprocess_dir()
    if directory:
        # uvicorn --workers has no hook for a worker's exit: drop dead workers' gauges here.
        drop_dead_gauges(directory)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(metrics().registry)
