"""SQLAlchemy connection pools: occupancy, checkout waits and PostgreSQL lock waits.

A registered engine's pool gets its ``connect`` wrapped on the instance (no
SQLAlchemy class is changed): the time spent in it is how long the caller
waited for a connection, and the number of callers inside it is how many are
waiting right now. ``engine.dispose()`` replaces the pool, so the wrapper is
re-applied whenever the stats are read. SQLAlchemy is imported lazily: the
watcher must import without it.

Lock waits come from ``pg_stat_activity`` and ``pg_blocking_pids`` through a
separate, unpooled connection (the app's pool may be the thing that is
exhausted), only when the diagnostics are requested, never on the loop: an
async engine is queried with a timeout, a sync one in a short-lived thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.ext.asyncio import AsyncEngine

LOCK_QUERY_TIMEOUT_S = 3.0

_LOCK_WAITS_SQL = """
SELECT w.pid, w.usename, w.application_name, w.state, w.wait_event_type, w.wait_event,
       extract(epoch FROM clock_timestamp() - w.query_start) AS waiting_s,
       left(w.query, 500) AS query,
       b.pid AS blocker_pid, b.state AS blocker_state,
       extract(epoch FROM clock_timestamp() - b.xact_start) AS blocker_xact_s,
       left(b.query, 500) AS blocker_query
FROM pg_stat_activity AS w
CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS blocking(pid)
JOIN pg_stat_activity AS b ON b.pid = blocking.pid
ORDER BY waiting_s DESC
LIMIT 100
"""


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class WatchedPool:
    """One registered engine (sync, or the sync core of an async one)."""

    def __init__(
        self,
        engine: Engine | AsyncEngine,
        name: str | None = None,
        on_wait: Callable[[str, float], None] | None = None,
        on_timeout: Callable[[str], None] | None = None,
    ) -> None:
        self.engine = engine
        self.sync_engine: Engine = getattr(engine, "sync_engine", None) or engine  # type: ignore[assignment]
        self.is_async = self.sync_engine is not engine
        self.name = name or self.sync_engine.url.render_as_string(hide_password=True)
        self._on_wait = on_wait
        self._on_timeout = on_timeout
        self._lock = threading.Lock()
        self._waits: deque[float] = deque(maxlen=2000)
        self.waiting = 0
        self.checkouts = 0
        self.timeouts = 0
        self.max_wait_s = 0.0
        self._instrumented: Any = None
        self.instrument()

    @property
    def is_postgres(self) -> bool:
        return self.sync_engine.dialect.name == "postgresql"

    def instrument(self) -> None:
        from sqlalchemy.exc import TimeoutError as PoolTimeout

        pool = self.sync_engine.pool
        if pool is self._instrumented:
            return
        original = pool.connect

        def connect() -> Any:
            started = time.perf_counter()
            with self._lock:
                self.waiting += 1
            try:
                return original()
            except PoolTimeout:
                with self._lock:
                    self.timeouts += 1
                if self._on_timeout is not None:
                    self._on_timeout(self.name)
                raise
            finally:
                waited = time.perf_counter() - started
                with self._lock:
                    self.waiting -= 1
                    self.checkouts += 1
                    self._waits.append(waited)
                    self.max_wait_s = max(self.max_wait_s, waited)
                if self._on_wait is not None:
                    self._on_wait(self.name, waited)

        # An instance attribute: only this pool is timed, SQLAlchemy stays untouched.
        pool.connect = connect  # type: ignore[method-assign]
        self._instrumented = pool

    def snapshot(self) -> dict[str, Any]:
        self.instrument()
        pool = self.sync_engine.pool
        with self._lock:
            waits = list(self._waits)
            row: dict[str, Any] = {
                "name": self.name,
                "dialect": self.sync_engine.dialect.name,
                "driver": self.sync_engine.dialect.driver,
                "async": self.is_async,
                "pool": type(pool).__name__,
                "waiting": self.waiting,
                "checkouts": self.checkouts,
                "timeouts": self.timeouts,
            }
        row["wait_ms"] = {
            "p50": round(_percentile(waits, 0.5) * 1000, 3),
            "p99": round(_percentile(waits, 0.99) * 1000, 3),
            "max": round(self.max_wait_s * 1000, 3),
            "last": round(waits[-1] * 1000, 3) if waits else None,
        }
        size = getattr(pool, "size", None)
        if callable(size):
            overflow = pool.overflow()  # type: ignore[attr-defined]
            row.update(
                size=size(),
                checked_out=pool.checkedout(),  # type: ignore[attr-defined]
                checked_in=pool.checkedin(),  # type: ignore[attr-defined]
                overflow=max(0, overflow),
                max_overflow=getattr(pool, "_max_overflow", None),
                timeout_s=pool.timeout(),  # type: ignore[attr-defined]
            )
        else:
            row.update(size=None, checked_out=None, checked_in=None, overflow=None)
        row["status"] = pool.status()
        return row

    async def lock_waits(self) -> dict[str, Any]:
        """Sessions blocked by another session's lock, queried off the loop."""
        try:
            if self.is_async:
                rows = await asyncio.wait_for(self._lock_waits_async(), LOCK_QUERY_TIMEOUT_S)
            else:
                rows = await asyncio.wait_for(self._lock_waits_in_thread(), LOCK_QUERY_TIMEOUT_S)
        except TimeoutError:
            return {"engine": self.name, "error": "the lock query timed out", "waits": []}
        except Exception as exc:
            return {"engine": self.name, "error": f"{type(exc).__name__}: {exc}", "waits": []}
        return {"engine": self.name, "error": None, "waits": rows}

    def _connect_timeout(self) -> dict[str, Any]:
        """Bound the side connection too: its thread must not outlive the request by much."""
        seconds = int(LOCK_QUERY_TIMEOUT_S)
        driver = self.sync_engine.dialect.driver
        if driver == "asyncpg":
            return {"timeout": seconds}
        if driver in {"psycopg", "psycopg2", "pg8000"}:
            return {"connect_timeout": seconds} if driver != "pg8000" else {"timeout": seconds}
        return {}

    async def _lock_waits_async(self) -> list[dict[str, Any]]:
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine
        from sqlalchemy.pool import NullPool

        side = create_async_engine(
            self.sync_engine.url, poolclass=NullPool, connect_args=self._connect_timeout()
        )
        try:
            async with side.connect() as connection:
                result = await connection.execute(text(_LOCK_WAITS_SQL))
                return [_json_row(row._asdict()) for row in result]
        finally:
            await side.dispose()

    async def _lock_waits_in_thread(self) -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[list[dict[str, Any]]] = loop.create_future()

        def deliver(outcome: Callable[[], None]) -> None:
            if not done.done():
                outcome()

        def run() -> None:
            try:
                rows = self._lock_waits_sync()
            except Exception as exc:
                error = exc
                loop.call_soon_threadsafe(deliver, lambda: done.set_exception(error))
            else:
                loop.call_soon_threadsafe(deliver, lambda: done.set_result(rows))

        # A thread of its own: the anyio tokens may all be taken when this is needed.
        threading.Thread(target=run, name="unstuck-lock-query", daemon=True).start()
        return await done

    def _lock_waits_sync(self) -> list[dict[str, Any]]:
        from sqlalchemy import create_engine, text
        from sqlalchemy.pool import NullPool

        side = create_engine(
            self.sync_engine.url, poolclass=NullPool, connect_args=self._connect_timeout()
        )
        try:
            with side.connect() as connection:
                connection.execute(
                    text(f"SET statement_timeout = {int(LOCK_QUERY_TIMEOUT_S * 1000)}")
                )
                return [
                    _json_row(row._asdict()) for row in connection.execute(text(_LOCK_WAITS_SQL))
                ]
        finally:
            side.dispose()


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if value is not None and not isinstance(value, (str, int, float, bool)):
            value = float(value) if hasattr(value, "as_integer_ratio") else str(value)
        out[key] = value
    return out
