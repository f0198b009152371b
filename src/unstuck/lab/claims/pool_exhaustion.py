"""Claim 7: an exhausted connection pool makes requests wait, then fail.

The article: check whether the database connection pool is exhausted
(检查数据库连接池是否耗尽), with ``pool_size=20, max_overflow=10,
pool_timeout=30``, one pool per worker.

Measured: 40 concurrent ``GET /report`` (a ``def`` route whose sync session
holds its connection while matplotlib draws) with a pool smaller than the
thread pool (``UNSTUCK_POOL_SIZE=2``, ``UNSTUCK_MAX_OVERFLOW=0``,
``UNSTUCK_POOL_TIMEOUT=1``): how many wait, how many get a 503 and after how
long. Control: the article's pool (20 + 10, 30 s), where 10 of the 40 threads
wait for a connection but all are served.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from unstuck.lab import figures
from unstuck.lab.claim import Claim, Finding, Judgement, Lab, Verdict
from unstuck.lab.client import Request
from unstuck.lab.load import Outcome, burst, latency_ms, percentile, wall_time

POOL_SIZE = 2
POOL_TIMEOUT_S = 1.0
REQUESTS = 40


def _pools(diagnostics: dict[str, Any] | None) -> list[Any]:
    pools = diagnostics.get("db_pools") if diagnostics else None
    return pools if isinstance(pools, list) else []


def _points(outcomes: list[Outcome]) -> list[tuple[float, float, int]]:
    ordered = sorted(outcomes, key=lambda o: o.elapsed)
    return [(index, o.elapsed, o.status) for index, o in enumerate(ordered, start=1)]


@dataclass(frozen=True)
class Exhaustion:
    """The starved pool's answers, and failures with the default pool (the control)."""

    answered: int
    refused: int
    refused_after_s: float
    control_errors: int


def judge(run: Exhaustion) -> Judgement:
    """Holds when the starved requests got a 503 after about pool_timeout, the control none."""
    if not run.refused:
        return Judgement(
            Verdict.DOES_NOT_HOLD,
            None,
            f"none of {REQUESTS} got a 503 with a {POOL_SIZE}-connection pool "
            f"and {run.control_errors} failed with the default pool.",
        )
    ratio = run.refused_after_s / POOL_TIMEOUT_S
    if 0.8 <= ratio <= 3.0 and run.control_errors == 0:
        return Judgement(
            Verdict.HOLDS,
            ratio,
            f"with {POOL_SIZE} connections for {REQUESTS} threads, {run.answered} requests got "
            f"one and {run.refused} waited the pool timeout then got a 503 (median after "
            f"{run.refused_after_s:.2f} s, the limit is {POOL_TIMEOUT_S:g} s); with the "
            f"article's pool of 20 + 10 all {REQUESTS} were served, the last ones after "
            "waiting. Note the article's budget counts pool_size only: each worker may open "
            "pool_size + max_overflow per engine.",
        )
    return Judgement(
        Verdict.DOES_NOT_HOLD,
        ratio,
        f"{run.refused} of {REQUESTS} got a 503 with a {POOL_SIZE}-connection pool (median "
        f"after {run.refused_after_s:.2f} s for a {POOL_TIMEOUT_S:g} s timeout) and "
        f"{run.control_errors} failed with the default pool.",
    )


async def measure(lab: Lab) -> Finding:
    small = await lab.fleet.service(
        pool_size=POOL_SIZE, max_overflow=0, pool_timeout=POOL_TIMEOUT_S
    )
    requests = [Request.get("/report")] * REQUESTS
    # One report first: matplotlib's first drawing loads fonts, which is not the point here.
    await burst(small.target, requests[:1], timeout_s=60.0)
    starved = await burst(small.target, requests, timeout_s=60.0)
    small_pools = _pools(await small.diagnostics())
    default = await lab.fleet.service()
    await burst(default.target, requests[:1], timeout_s=60.0)
    served = await burst(default.target, requests, timeout_s=90.0)

    refused = [o for o in starved if o.status == 503]
    answered = [o for o in starved if o.ok]
    other = [o for o in starved if not o.ok and o.status != 503]
    refused_after = percentile([o.elapsed for o in refused], 50)
    control_errors = sum(not o.ok for o in served)
    judgement = judge(Exhaustion(len(answered), len(refused), refused_after, control_errors))
    ratio, verdict, why = judgement.ratio, judgement.verdict, judgement.why
    plot = figures.by_outcome(
        lab.report_dir,
        "pool_exhaustion",
        f"{REQUESTS} concurrent GET /report (def route holding a connection)",
        {
            f"pool {POOL_SIZE} + 0, timeout {POOL_TIMEOUT_S:g} s": _points(starved),
            "pool 20 + 10, timeout 30 s (defaults)": _points(served),
        },
        references={f"pool_timeout {POOL_TIMEOUT_S:g} s": POOL_TIMEOUT_S},
    )
    return Finding(
        measured=f"pool of {POOL_SIZE}: {len(answered)} served, {len(refused)} x 503 after "
        f"{refused_after:.2f} s (median), {len(other)} other; default pool: "
        f"{REQUESTS - control_errors}/{REQUESTS} served in {wall_time(served):.2f} s",
        ideal=f"at most {POOL_SIZE} connections at once; a wait of at most pool_timeout "
        f"({POOL_TIMEOUT_S:g} s), then a 503",
        ratio=ratio,
        verdict=verdict,
        explanation=why,
        metrics={
            "requests": REQUESTS,
            "pool_size": POOL_SIZE,
            "max_overflow": 0,
            "pool_timeout_s": POOL_TIMEOUT_S,
            "served": len(answered),
            "refused_503": len(refused),
            "other_errors": len(other),
            "refused_after_s_median": refused_after,
            "served_latency": latency_ms(answered),
            "control_latency": latency_ms(served),
            "control_errors": control_errors,
            "watcher_db_pools": small_pools,
        },
        plots=[plot],
    )


CLAIM = Claim(
    name="pool_exhaustion",
    ratio_of="time to the 503 / pool_timeout",
    title="a pool smaller than the thread pool: requests wait, then fail with 503",
    article="When requests hang, check whether the database connection pool is exhausted "
    "(pool_size=20, max_overflow=10, pool_timeout=30, one pool per worker).",
    measure=measure,
)
