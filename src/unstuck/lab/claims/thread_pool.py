"""Claim 2: ``def`` routes run in a thread pool, and its size caps them.

The article: a ``def`` route runs in a ThreadPoolExecutor whose concurrency is
"limited by the thread-pool size (default min(32, os.cpu_count() + 4))"
(受限于线程池大小(默认 min(32, os.cpu_count() + 4))).

Correction measured here: FastAPI runs ``def`` routes on anyio's worker threads
under a CapacityLimiter of 40 tokens per event loop; min(32, cpu + 4) is
asyncio's default executor, another pool. Measured: 2 x 40 concurrent
``GET /sync?delay=1``; how many finish in the first wave is the cap. Then the
same with ``UNSTUCK_THREAD_POOL_TOKENS`` = 80: one wave.
"""

from __future__ import annotations

import asyncio
import math
import os
from dataclasses import dataclass
from typing import Any

from unstuck.lab import figures
from unstuck.lab.claim import Claim, Finding, Judgement, Lab, Verdict
from unstuck.lab.client import Request
from unstuck.lab.load import Outcome, burst, wall_time
from unstuck.lab.services import RunningService

DELAY_S = 1.0
ANYIO_TOKENS = 40
REQUESTS = 2 * ANYIO_TOKENS


def article_pool_size() -> int:
    return min(32, (os.cpu_count() or 1) + 4)


def capacity_bounds(requests: int, waves: int) -> tuple[int, int]:
    """The pool sizes ``c`` for which ``requests`` equal jobs take ``waves`` waves.

    ``ceil(requests / c) == waves``: 80 requests in 2 waves means 40 <= c <= 79,
    41 requests in 2 waves means 21 <= c <= 40; together, c is 40.
    """
    if waves <= 1:
        return requests, 1_000_000
    return math.ceil(requests / waves), math.ceil(requests / (waves - 1)) - 1


async def _run(
    service: RunningService, count: int = REQUESTS
) -> tuple[list[Outcome], dict[str, Any] | None]:
    requests = [Request.get(f"/sync?delay={DELAY_S}")] * count
    load = asyncio.create_task(burst(service.target, requests, timeout_s=30.0))
    # Halfway through the first wave, ask the watcher how many tokens are in use.
    await asyncio.sleep(DELAY_S / 2)
    diagnostics = await service.diagnostics()
    return await load, diagnostics


def _tokens_seen(diagnostics: dict[str, Any] | None) -> dict[str, Any]:
    pool = diagnostics.get("threadpool") if diagnostics else None
    if not isinstance(pool, dict):
        return {}
    return {key: pool[key] for key in ("borrowed", "total", "waiting") if key in pool}


def _staircase(size: int) -> list[tuple[float, float]]:
    points: list[tuple[float, float]] = []
    for wave in range(math.ceil(REQUESTS / size)):
        finish = (wave + 1) * DELAY_S
        points += [(wave * size + 1, finish), (min(REQUESTS, (wave + 1) * size), finish)]
    return points


def _waves(outcomes: list[Outcome]) -> int:
    return max(1, round(wall_time(outcomes) / DELAY_S))


@dataclass(frozen=True)
class Waves:
    """How many waves each burst of 1 s ``def`` requests took."""

    cpus: int
    article: int
    waves: int
    probe_count: int
    probe_waves: int
    raised_waves: int


def judge(run: Waves) -> Judgement:
    """The cap bracketed by two bursts, against the article's number and anyio's 40."""
    low_a, high_a = capacity_bounds(REQUESTS, run.waves)
    low_b, high_b = capacity_bounds(run.probe_count, run.probe_waves)
    low, high = max(low_a, low_b), min(high_a, high_b)
    cap_text = str(low) if low == high else f"{low}-{high}"
    ratio = low / run.article
    if low <= ANYIO_TOKENS <= high and not low <= run.article <= high and run.raised_waves == 1:
        return Judgement(
            Verdict.CORRECTED,
            ratio,
            f"def routes are capped, at {cap_text} at once: anyio's {ANYIO_TOKENS} tokens, not "
            f"the article's min(32, cpu+4) = {run.article} on this {run.cpus}-core machine "
            f"({REQUESTS} requests took {run.waves} waves, {run.probe_count} took "
            f"{run.probe_waves}); with {REQUESTS} tokens all ran in one wave.",
        )
    if low <= run.article <= high:
        return Judgement(Verdict.HOLDS, ratio, f"the cap measured ({cap_text}) is min(32, cpu+4).")
    return Judgement(
        Verdict.DOES_NOT_HOLD,
        ratio,
        f"the cap measured is {cap_text}, with {run.raised_waves} wave(s) at {REQUESTS} tokens.",
    )


async def measure(lab: Lab) -> Finding:
    default = await lab.fleet.service()
    default_run, default_seen = await _run(default)
    # One more than the expected cap: a second wave here bounds the cap from above.
    probe_count = ANYIO_TOKENS + 1
    above_run, _ = await _run(default, probe_count)
    raised_run, raised_seen = await _run(await lab.fleet.service(thread_pool_tokens=REQUESTS))
    article = article_pool_size()
    waves, above_waves, raised_waves = _waves(default_run), _waves(above_run), _waves(raised_run)
    low_a, high_a = capacity_bounds(REQUESTS, waves)
    low_b, high_b = capacity_bounds(probe_count, above_waves)
    low, high = max(low_a, low_b), min(high_a, high_b)
    cap_text = str(low) if low == high else f"{low}-{high}"
    wall, raised_wall = wall_time(default_run), wall_time(raised_run)
    first = min(o.started for o in default_run)
    earliest = min(o.finished - first for o in default_run)
    judgement = judge(Waves(lab.cpus, article, waves, probe_count, above_waves, raised_waves))
    verdict, why = judgement.verdict, judgement.why
    if waves > 1 and earliest > 1.5 * DELAY_S:
        why += (
            f" Even the first wave answered only after {earliest:.2f} s: a def route's response "
            "is validated on the thread pool too, and its token goes to the requests already "
            "waiting, so a saturated pool delays the answers of requests that are done."
        )
    plot = figures.finish_times(
        lab.report_dir,
        "thread_pool",
        f"{REQUESTS} concurrent GET /sync?delay={DELAY_S:g}",
        {
            f"{ANYIO_TOKENS} tokens (default): {waves} waves": [
                o.finished - first for o in default_run
            ],
            f"{REQUESTS} tokens: {raised_waves} wave(s)": [
                o.finished - min(r.started for r in raised_run) for o in raised_run
            ],
        },
        references={
            f"article: {article} threads": _staircase(article),
            f"anyio: {ANYIO_TOKENS} tokens": _staircase(ANYIO_TOKENS),
        },
    )
    return Finding(
        measured=f"{REQUESTS} x /sync?delay={DELAY_S:g} took {waves} waves ({wall:.2f} s), "
        f"{probe_count} took {above_waves}: {cap_text} at once; with {REQUESTS} tokens "
        f"{raised_waves} wave ({raised_wall:.2f} s)",
        ideal=f"the article's limit: min(32, cpu+4) = {article}; anyio's: {ANYIO_TOKENS}",
        ratio=low / article,
        verdict=verdict,
        explanation=why,
        metrics={
            "requests": REQUESTS,
            "delay_s": DELAY_S,
            "article_pool_size": article,
            "capacity_low": low,
            "capacity_high": high,
            "default": {
                "waves": waves,
                "wall_s": wall,
                "first_answer_s": earliest,
                "ok": sum(o.ok for o in default_run),
                "watcher_threadpool": _tokens_seen(default_seen),
            },
            "one_above": {
                "requests": probe_count,
                "waves": above_waves,
                "wall_s": wall_time(above_run),
                "ok": sum(o.ok for o in above_run),
            },
            "raised": {
                "tokens": REQUESTS,
                "waves": raised_waves,
                "wall_s": raised_wall,
                "ok": sum(o.ok for o in raised_run),
                "watcher_threadpool": _tokens_seen(raised_seen),
            },
        },
        plots=[plot],
    )


CLAIM = Claim(
    name="thread_pool",
    ratio_of="measured cap / the article's min(32, cpu+4)",
    title="def routes are capped by the thread pool: 40 tokens, not min(32, cpu+4)",
    article="def routes run in a ThreadPoolExecutor; their concurrency is limited by the pool "
    "size, min(32, os.cpu_count() + 4) by default.",
    measure=measure,
)
