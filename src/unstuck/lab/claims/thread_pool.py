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
from collections.abc import Sequence
from typing import Any

from unstuck.lab import figures
from unstuck.lab.claim import Claim, Finding, Lab, Verdict
from unstuck.lab.http11 import Request
from unstuck.lab.load import Outcome, burst, wall_time
from unstuck.lab.services import RunningService

DELAY_S = 1.0
ANYIO_TOKENS = 40
REQUESTS = 2 * ANYIO_TOKENS


def article_pool_size() -> int:
    return min(32, (os.cpu_count() or 1) + 4)


def first_wave(outcomes: Sequence[Outcome], delay_s: float) -> int:
    """Requests answered before one and a half delays: those that got a thread at once."""
    first = min(outcome.started for outcome in outcomes)
    return sum(outcome.ok and outcome.finished - first < 1.5 * delay_s for outcome in outcomes)


async def _run(service: RunningService) -> tuple[list[Outcome], dict[str, Any] | None]:
    requests = [Request.get(f"/sync?delay={DELAY_S}")] * REQUESTS
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


async def measure(lab: Lab) -> Finding:
    default_run, default_seen = await _run(await lab.fleet.service())
    raised_run, raised_seen = await _run(await lab.fleet.service(thread_pool_tokens=REQUESTS))
    article = article_pool_size()
    cap = first_wave(default_run, DELAY_S)
    raised_cap = first_wave(raised_run, DELAY_S)
    wall, raised_wall = wall_time(default_run), wall_time(raised_run)
    waves, raised_waves = round(wall / DELAY_S), round(raised_wall / DELAY_S)
    near_40 = abs(cap - ANYIO_TOKENS) <= 4
    if near_40 and raised_cap >= REQUESTS - 4:
        verdict = Verdict.CORRECTED
        why = (
            f"def routes are capped, but at {cap} at once, anyio's {ANYIO_TOKENS} tokens, not "
            f"the article's min(32, cpu+4) = {article} on this {os.cpu_count()}-core machine; "
            f"raising the tokens to {REQUESTS} ran all {raised_cap} in one wave."
        )
    elif abs(cap - article) <= 1:
        verdict, why = Verdict.HOLDS, f"the cap measured ({cap}) is min(32, cpu+4)."
    else:
        verdict = Verdict.DOES_NOT_HOLD
        why = f"{cap} ran at once with the defaults and {raised_cap} with {REQUESTS} tokens."
    first = min(o.started for o in default_run)
    raised_first = min(o.started for o in raised_run)
    plot = figures.finish_times(
        lab.report_dir,
        "thread_pool",
        f"{REQUESTS} concurrent GET /sync?delay={DELAY_S:g}",
        {
            f"{ANYIO_TOKENS} tokens (default): {waves} waves": [
                o.finished - first for o in default_run
            ],
            f"{REQUESTS} tokens: {raised_waves} wave(s)": [
                o.finished - raised_first for o in raised_run
            ],
        },
        references={
            f"article: {article} threads": _staircase(article),
            f"anyio: {ANYIO_TOKENS} tokens": _staircase(ANYIO_TOKENS),
        },
    )
    return Finding(
        measured=f"{cap} of {REQUESTS} /sync?delay={DELAY_S:g} ran at once ({waves} waves, "
        f"{wall:.2f} s); with {REQUESTS} tokens {raised_cap} at once ({raised_wall:.2f} s)",
        ideal=f"article: min(32, cpu+4) = {article}; anyio's limiter: {ANYIO_TOKENS}",
        ratio=cap / ANYIO_TOKENS,
        verdict=verdict,
        explanation=why,
        metrics={
            "requests": REQUESTS,
            "delay_s": DELAY_S,
            "article_pool_size": article,
            "default": {
                "concurrent": cap,
                "waves": waves,
                "wall_s": wall,
                "ok": sum(o.ok for o in default_run),
                "watcher_threadpool": _tokens_seen(default_seen),
            },
            "raised": {
                "tokens": REQUESTS,
                "concurrent": raised_cap,
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
    title="def routes are capped by the thread pool: 40 tokens, not min(32, cpu+4)",
    article="def routes run in a ThreadPoolExecutor; their concurrency is limited by the pool "
    "size, min(32, os.cpu_count() + 4) by default.",
    measure=measure,
)
