"""The load generator: bursts, closed loops and a latency probe, all bounded.

Three shapes of load cover every claim:

* :func:`burst` opens one connection per request first, then fires them all at
  once, so connection set-up does not blur "how many run at the same time";
* :func:`closed_loop` keeps ``connections`` keep-alive connections busy, each
  sending its next request when the previous one answered, for a duration or a
  count (throughput);
* :class:`Probe` sends ``GET /health`` on its own connection at a fixed pace
  while another load runs: ``/health`` only touches the loop, so its latency
  is how long the loop took to get to it.

Every request has a timeout and every run a bound on count and time. Times are
``time.perf_counter()`` seconds, so runs that overlap share one clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType

from unstuck.lab.client import Connection, ProtocolError, Request

MAX_CONNECTIONS = 5_000
CONNECT_TIMEOUT_S = 10.0
_CONNECTS_AT_ONCE = 100


class LoadError(Exception):
    """The load could not be applied (connections refused, bad bounds)."""


@dataclass(frozen=True)
class Target:
    host: str
    port: int


@dataclass(frozen=True)
class Outcome:
    """One request: when it left, when its answer was in, and what it was."""

    started: float
    finished: float
    status: int
    error: str | None = None
    body: bytes = b""

    @property
    def elapsed(self) -> float:
        return self.finished - self.started

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


async def timed(connection: Connection, request: Request, timeout_s: float) -> Outcome:
    """Send one request; a timeout or a broken connection is an outcome, not an exception."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            response = await connection.send(request)
    except TimeoutError:
        # Giving up closes the connection, as a client with a timeout does.
        connection.close()
        error = f"no answer within {timeout_s:g} s"
        return Outcome(started, time.perf_counter(), 0, error)
    except (OSError, asyncio.IncompleteReadError, ProtocolError) as exc:
        connection.close()
        return Outcome(started, time.perf_counter(), 0, f"{type(exc).__name__}: {exc}")
    return Outcome(started, time.perf_counter(), response.status, None, response.body)


async def _open_all(target: Target, count: int) -> list[Connection]:
    if not 1 <= count <= MAX_CONNECTIONS:
        raise LoadError(f"connections must be from 1 to {MAX_CONNECTIONS}, not {count}")
    connections = [Connection(target.host, target.port) for _ in range(count)]
    gate = asyncio.Semaphore(_CONNECTS_AT_ONCE)

    async def open_one(connection: Connection) -> None:
        async with gate:
            await connection.open()

    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            await asyncio.gather(*(open_one(connection) for connection in connections))
    except (OSError, TimeoutError) as exc:
        for connection in connections:
            connection.close()
        where = f"{target.host}:{target.port}"
        raise LoadError(f"could not open {count} connections to {where}: {exc!r}") from None
    return connections


async def burst(target: Target, requests: Sequence[Request], timeout_s: float) -> list[Outcome]:
    """All ``requests`` at the same moment, each on its own connection; outcomes in order."""
    connections = await _open_all(target, len(requests))
    try:
        return list(
            await asyncio.gather(
                *(
                    timed(connection, request, timeout_s)
                    for connection, request in zip(connections, requests, strict=True)
                )
            )
        )
    finally:
        for connection in connections:
            connection.close()


async def closed_loop(
    target: Target,
    request_for: Callable[[int], Request],
    *,
    connections: int,
    duration_s: float,
    max_requests: int,
    timeout_s: float,
) -> list[Outcome]:
    """``connections`` clients each send their next request as soon as one answers.

    Stops taking new requests after ``duration_s`` or ``max_requests``, whichever
    comes first; ``request_for(i)`` builds the i-th request.
    """
    if duration_s <= 0 or max_requests < 1:
        raise LoadError("a closed loop needs a positive duration and at least one request")
    opened = await _open_all(target, connections)
    deadline = time.perf_counter() + duration_s
    outcomes: list[Outcome] = []
    issued = 0

    async def client(connection: Connection) -> None:
        nonlocal issued
        while issued < max_requests and time.perf_counter() < deadline:
            index, issued = issued, issued + 1
            outcomes.append(await timed(connection, request_for(index), timeout_s))

    try:
        await asyncio.gather(*(client(connection) for connection in opened))
    finally:
        for connection in opened:
            connection.close()
    return outcomes


class Probe:
    """``GET path`` every ``interval_s`` on one connection, while the ``async with`` lasts.

    A probe that waits longer than the interval is followed at once by the
    next one: the samples then show the whole stall, not a sampling artefact.
    """

    def __init__(
        self,
        target: Target,
        path: str = "/health",
        *,
        interval_s: float = 0.02,
        timeout_s: float = 30.0,
        max_samples: int = 20_000,
    ) -> None:
        self.samples: list[Outcome] = []
        self._target, self._request = target, Request.get(path)
        self._interval_s, self._timeout_s, self._max_samples = interval_s, timeout_s, max_samples
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        connection = Connection(self._target.host, self._target.port)
        try:
            while not self._stop.is_set() and len(self.samples) < self._max_samples:
                outcome = await timed(connection, self._request, self._timeout_s)
                self.samples.append(outcome)
                pause = self._interval_s - outcome.elapsed
                if pause > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), pause)
        finally:
            connection.close()

    async def __aenter__(self) -> Probe:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_ms(outcomes: Sequence[Outcome]) -> dict[str, float]:
    """Median, p95 and max latency in milliseconds, and how many answered 2xx."""
    elapsed = [outcome.elapsed * 1000 for outcome in outcomes]
    return {
        "count": float(len(outcomes)),
        "ok": float(sum(outcome.ok for outcome in outcomes)),
        "p50_ms": percentile(elapsed, 50),
        "p95_ms": percentile(elapsed, 95),
        "max_ms": max(elapsed, default=math.nan),
    }


def throughput(outcomes: Sequence[Outcome]) -> float:
    """Successful requests per second over the span of the run."""
    done = [outcome for outcome in outcomes if outcome.ok]
    if not done:
        return 0.0
    span = max(o.finished for o in outcomes) - min(o.started for o in outcomes)
    return len(done) / span if span > 0 else math.inf


def wall_time(outcomes: Sequence[Outcome]) -> float:
    """From the first request sent to the last answer received, in seconds."""
    if not outcomes:
        return math.nan
    return max(o.finished for o in outcomes) - min(o.started for o in outcomes)
