"""Claim 6: async SQLAlchemy for high concurrency, sync SQLAlchemy for simple code.

The article: sync SQLAlchemy with ``def`` routes suits "no very high
concurrency (< 500 QPS)"; async SQLAlchemy with ``async def`` suits "high
concurrency, long I/O waits" (适用场景:高并发场景).

Measured: after seeding users with ``POST /users``, the same closed-loop load
(the same number of keep-alive connections, each sending its next request as
soon as one answers) on ``GET /users`` (AsyncSession: asyncpg / aiosqlite) and
``GET /sync/users`` (Session in a ``def`` route: psycopg / sqlite3), twice
each in alternation. Throughput in requests/s and latency.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable

from unstuck.lab import figures
from unstuck.lab.claim import Claim, Finding, Judgement, Lab, Verdict
from unstuck.lab.client import Request
from unstuck.lab.load import Outcome, closed_loop, latency_ms, throughput
from unstuck.lab.services import RunningService

PAGE = 20


def _user(run_id: str) -> Callable[[int], Request]:
    def request(index: int) -> Request:
        body = {"name": f"Lab user {index}", "email": f"lab-{run_id}-{index}@example.com"}
        return Request.post_json("/users", json.dumps(body))

    return request


async def seed_users(service: RunningService, count: int) -> int:
    """Create ``count`` users with emails unique to this run; how many were created."""
    created = await closed_loop(
        service.target,
        _user(secrets.token_hex(4)),
        connections=4,
        duration_s=60.0,
        max_requests=count,
        timeout_s=30.0,
    )
    return sum(outcome.status == 201 for outcome in created)


async def _load(
    service: RunningService, path: str, connections: int, seconds: float
) -> list[Outcome]:
    request = Request.get(path)
    return await closed_loop(
        service.target,
        lambda _: request,
        connections=connections,
        duration_s=seconds,
        max_requests=1_000_000,
        timeout_s=30.0,
    )


def judge(async_rate: float, sync_rate: float, on: str) -> Judgement:
    """Async at least 1.1x sync holds; within 10% either way is a correction."""
    ratio = async_rate / sync_rate if sync_rate else float("nan")
    if ratio >= 1.1:
        return Judgement(
            Verdict.HOLDS,
            ratio,
            f"the async engine served {ratio:.2f}x the requests of the sync one {on}.",
        )
    if ratio >= 0.9:
        return Judgement(
            Verdict.CORRECTED,
            ratio,
            f"no real difference {on} ({ratio:.2f}x): with short queries both are bound by "
            "Python's CPU time in one process, not by waiting; async pays off when requests "
            "wait long (more of them than threads) rather than per query.",
        )
    if not ratio > 0:
        return Judgement(Verdict.DOES_NOT_HOLD, ratio, f"the async engine served nothing {on}.")
    return Judgement(
        Verdict.DOES_NOT_HOLD,
        ratio,
        f"the sync engine in the thread pool served {1 / ratio:.2f}x the requests of the "
        f"async one {on}: for short queries the async driver's extra hops cost more than "
        "the threads do; async wins when requests wait long, not per query.",
    )


async def measure(lab: Lab) -> Finding:
    service = await lab.fleet.service()
    created = await seed_users(service, lab.scale(quick=100, full=500))
    connections = lab.scale(quick=16, full=32)
    seconds = lab.seconds(quick=2.0, full=8.0)
    paths = {"async": f"/users?limit={PAGE}", "sync": f"/sync/users?limit={PAGE}"}
    for path in paths.values():
        await _load(service, path, 2, 0.3)
    runs: dict[str, list[Outcome]] = {"async": [], "sync": []}
    rates: dict[str, list[float]] = {"async": [], "sync": []}
    # Alternating rounds spread any drift of the machine over both.
    for _ in range(2):
        for kind, path in paths.items():
            outcomes = await _load(service, path, connections, seconds)
            runs[kind] += outcomes
            rates[kind].append(throughput(outcomes))
    async_rate = sum(rates["async"]) / len(rates["async"])
    sync_rate = sum(rates["sync"]) / len(rates["sync"])
    errors = {kind: sum(not o.ok for o in outcomes) for kind, outcomes in runs.items()}
    judgement = judge(async_rate, sync_rate, f"on {lab.database} with {connections} clients")
    ratio, verdict, why = judgement.ratio, judgement.verdict, judgement.why
    plot = figures.bars(
        lab.report_dir,
        "sqlalchemy_throughput",
        f"GET /users vs /sync/users, {connections} clients, {lab.database}",
        {"async: AsyncSession": async_rate, "sync: Session in def": sync_rate},
        ylabel="requests/s",
    )
    return Finding(
        measured=f"{async_rate:.0f} req/s async (/users) vs {sync_rate:.0f} req/s sync "
        f"(/sync/users), {connections} clients, {lab.database}",
        ideal="async at least as fast as sync (the article recommends it for high concurrency)",
        ratio=ratio,
        verdict=verdict,
        explanation=why,
        metrics={
            "database": lab.database,
            "users_created": created,
            "connections": connections,
            "seconds_per_round": seconds,
            "async_per_s": rates["async"],
            "sync_per_s": rates["sync"],
            "async_latency": latency_ms(runs["async"]),
            "sync_latency": latency_ms(runs["sync"]),
            "errors": errors,
        },
        plots=[plot],
    )


CLAIM = Claim(
    name="sqlalchemy_throughput",
    ratio_of="async req/s / sync req/s",
    title="sync vs async SQLAlchemy: throughput under the same concurrency",
    article="Sync SQLAlchemy in def routes suits moderate load (< 500 QPS); async SQLAlchemy "
    "suits high concurrency.",
    measure=measure,
)
