"""Pools that heal: the process pool, the compute thread pool and the HTTP client.

Each is made by a factory and replaced when it breaks: a process of a
``ProcessPoolExecutor`` that dies (OOM killer, a crash in native code) breaks
the whole pool for good, an executor that was shut down refuses every new job,
and a closed ``httpx.AsyncClient`` refuses every request. The requests caught in
the break get :class:`PoolUnavailable` (a 503 with ``Retry-After``), the pool is
replaced once, off the loop, and the next requests use the new one. Each
replacement is recorded in :class:`Rebuilds`, which ``/health`` shows.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from concurrent.futures.thread import BrokenThreadPool
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import httpx

T = TypeVar("T")
R = TypeVar("R")

# Seconds a client should wait before it tries again: a new pool is ready by then.
RETRY_AFTER_S = 1


class PoolUnavailable(Exception):
    """A pool broke under this request; it has been replaced, the next request can go on."""

    def __init__(self, pool: str, reason: str) -> None:
        super().__init__(f"the {pool} broke ({reason}); it has been replaced, try again")
        self.pool, self.reason = pool, reason


@dataclass
class Rebuilds:
    """How often a pool was replaced, the last time and why."""

    count: int = 0
    last_at: datetime | None = None
    last_reason: str | None = None

    def record(self, reason: str) -> None:
        self.count += 1
        self.last_at = datetime.now(UTC)
        self.last_reason = reason


class _Healing(Generic[T]):
    """The current instance of a resource, replaced once per break however many saw it."""

    def __init__(
        self,
        name: str,
        factory: Callable[[], T],
        close: Callable[[T], Any],
        warm: Callable[[T], Any] = lambda resource: None,
    ) -> None:
        self.name, self._factory, self._close, self._warm = name, factory, close, warm
        self.current = factory()
        self.rebuilds = Rebuilds()
        self._lock = asyncio.Lock()

    async def replace(self, broken: T, reason: str) -> PoolUnavailable:
        """Replace `broken` unless another request did already; the error for this request."""
        async with self._lock:
            if self.current is broken:
                # Made off the loop: a factory may start processes or read CA certificates.
                self.current = await asyncio.to_thread(self._factory)
                await asyncio.to_thread(self._warm, self.current)
                self.rebuilds.record(reason)
                await asyncio.to_thread(self._close, broken)
        return PoolUnavailable(self.name, reason)


def _shutdown_now(executor: Executor) -> None:
    executor.shutdown(wait=False, cancel_futures=True)


class ExecutorPool(_Healing[Executor]):
    """A process or thread pool executor that is replaced when it is broken or shut down.

    A process pool starts its processes on demand; a replacement starts its
    `processes` at once, so they load while the requests caught in the break are answered.
    """

    def __init__(self, name: str, factory: Callable[[], Executor], processes: int = 0) -> None:
        def start(executor: Executor) -> None:
            for _ in range(processes):
                executor.submit(os.getpid)

        super().__init__(name, factory, _shutdown_now, start)

    async def run(self, function: Callable[..., R], *args: Any) -> R:
        executor = self.current
        try:
            # Submitted from a thread: a process pool starts its processes in submit(),
            # and waits there for the fork server, which must not hold up the loop.
            future = await asyncio.to_thread(executor.submit, function, *args)
            return await asyncio.wrap_future(future)
        except (BrokenProcessPool, BrokenThreadPool) as exc:
            raise await self.replace(executor, str(exc) or type(exc).__name__) from exc
        except RuntimeError as exc:
            if "after shutdown" not in str(exc) and "interpreter shutdown" not in str(exc):
                raise
            raise await self.replace(executor, "it was shut down") from exc

    def close(self) -> None:
        """Blocks until running jobs end: call it off the loop."""
        self.current.shutdown(wait=True, cancel_futures=True)


class HttpClient(_Healing[httpx.AsyncClient]):
    """The shared ``httpx.AsyncClient``, replaced when something closed it."""

    def __init__(self, factory: Callable[[], httpx.AsyncClient]) -> None:
        super().__init__("HTTP client", factory, lambda client: None)

    async def get(self, url: str, **options: Any) -> httpx.Response:
        client = self.current
        if client.is_closed:
            raise await self.replace(client, "it was closed")
        try:
            return await client.get(url, **options)
        except RuntimeError as exc:
            if not client.is_closed:
                raise
            raise await self.replace(client, "it was closed") from exc

    async def aclose(self) -> None:
        await self.current.aclose()
