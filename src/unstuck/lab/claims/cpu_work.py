"""Claim 5: CPU work off the loop: a thread for medium work, a process for heavy work.

The article: "CPU-bound tasks hog the thread and other requests cannot be
handled"; medium work goes to a thread pool with ``run_in_executor``
("does not block the event loop"), heavy work to a process pool ("bypasses
the GIL") (方案一:丢到线程池 / 方案二:丢到进程池,绕过 GIL).

Measured: ``/health`` latency (the loop's responsiveness) with no load, while
``POST /compute`` (the article's CPU loop on the compute thread pool) runs on
a few connections, and while ``POST /ml-inference`` (a random forest in the
process pool) runs on as many. The service has no route that runs CPU work
inline on the loop (its only anti-patterns are the article's two I/O ones), so
the inline case is derived from ``/compute``'s own reported duration: inline,
each probe could wait for a whole computation.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from unstuck.lab import figures
from unstuck.lab.claim import Claim, Finding, Judgement, Lab, Verdict
from unstuck.lab.client import Request
from unstuck.lab.load import Outcome, Probe, closed_loop, latency_ms, percentile, throughput
from unstuck.lab.services import RunningService

COMPUTE_N = 2_000_000
INFERENCE_ROWS = 100
CONNECTIONS = 4


def _inference_body(rows: int, seed: int = 0) -> str:
    chooser = random.Random(seed)
    ranges = ((4.3, 7.9), (2.0, 4.4), (1.0, 6.9), (0.1, 2.5))
    features = [[round(chooser.uniform(low, high), 1) for low, high in ranges] for _ in range(rows)]
    return json.dumps({"features": features})


async def _probe_during(
    service: RunningService, duration_s: float, request: Request | None
) -> tuple[list[Outcome], list[Outcome], float]:
    """Probes (and the load's outcomes) over ``duration_s``; no request means no load."""
    async with Probe(service.target, interval_s=0.02) as probe:
        origin = time.perf_counter()
        if request is None:
            await asyncio.sleep(duration_s)
            load: list[Outcome] = []
        else:
            load = await closed_loop(
                service.target,
                _same(request),
                connections=CONNECTIONS,
                duration_s=duration_s,
                max_requests=10_000,
                timeout_s=60.0,
            )
    return probe.samples, load, origin


def _same(request: Request) -> Callable[[int], Request]:
    return lambda _: request


def _work_ms(outcomes: list[Outcome]) -> list[float]:
    durations = []
    for outcome in outcomes:
        if outcome.ok:
            try:
                durations.append(float(json.loads(outcome.body)["elapsed_ms"]))
            except (ValueError, KeyError, TypeError):
                continue
    return durations


@dataclass(frozen=True)
class Loop:
    """/health p95 idle, under CPU work in threads and in processes; one computation alone."""

    idle_p95_ms: float
    thread_p95_ms: float
    process_p95_ms: float
    inline_ms: float


def judge(loop: Loop) -> Judgement:
    """Processes must spare the loop more than threads; threads slowing it 2x is the correction."""
    idle, thread, process = loop.idle_p95_ms, loop.thread_p95_ms, loop.process_p95_ms
    thread_ratio = thread / max(idle, 0.1)
    process_ratio = process / max(idle, 0.1)
    if thread_ratio >= 2.0 and process < thread:
        return Judgement(
            Verdict.CORRECTED,
            thread_ratio,
            f"offloading keeps the loop running (inline, a probe could wait a whole "
            f"{loop.inline_ms:.0f} ms computation), but the thread still holds the GIL while "
            f"it counts: /health p95 went from {idle:.1f} ms idle to {thread:.1f} ms "
            f"({thread_ratio:.1f}x) under /compute, and only {process:.1f} ms "
            f"({process_ratio:.1f}x) with the work in the process pool.",
        )
    if process < thread:
        return Judgement(
            Verdict.HOLDS,
            thread_ratio,
            f"/compute in a thread slowed /health only {thread_ratio:.1f}x at p95 "
            f"({thread:.1f} ms), the process pool {process_ratio:.1f}x.",
        )
    return Judgement(
        Verdict.DOES_NOT_HOLD,
        thread_ratio,
        f"the process-pool route slowed the loop as much as the thread one "
        f"({process:.1f} vs {thread:.1f} ms at p95).",
    )


async def measure(lab: Lab) -> Finding:
    service = await lab.fleet.service()
    duration_s = lab.seconds(quick=2.5, full=10.0)
    compute = Request.post_json("/compute", json.dumps({"n": COMPUTE_N}))
    inference = Request.post_json("/ml-inference", _inference_body(INFERENCE_ROWS))
    # The pool's processes start and train their model on first use: not part of the measure.
    warm = await closed_loop(
        service.target,
        _same(inference),
        connections=2,
        duration_s=60,
        max_requests=4,
        timeout_s=90.0,
    )
    if not any(outcome.ok for outcome in warm):
        raise RuntimeError(f"/ml-inference did not answer during warm-up: {warm[0].error}")

    # One computation alone: how long the loop would be held if it ran inline.
    alone = await closed_loop(
        service.target,
        _same(compute),
        connections=1,
        duration_s=60,
        max_requests=3,
        timeout_s=60.0,
    )
    inline_ms = percentile(_work_ms(alone), 50)
    idle, _, idle_origin = await _probe_during(service, duration_s, None)
    threaded, compute_load, thread_origin = await _probe_during(service, duration_s, compute)
    pooled, inference_load, process_origin = await _probe_during(service, duration_s, inference)

    idle_p95 = percentile([p.elapsed * 1000 for p in idle], 95)
    thread_p95 = percentile([p.elapsed * 1000 for p in threaded], 95)
    process_p95 = percentile([p.elapsed * 1000 for p in pooled], 95)
    work_ms = _work_ms(compute_load)
    thread_ratio = thread_p95 / max(idle_p95, 0.1)
    process_ratio = process_p95 / max(idle_p95, 0.1)

    judgement = judge(Loop(idle_p95, thread_p95, process_p95, inline_ms))
    verdict, why = judgement.verdict, judgement.why

    def points(samples: list[Outcome], origin: float) -> list[tuple[float, float]]:
        return [(p.started - origin, p.elapsed * 1000) for p in samples]

    plot = figures.timeline(
        lab.report_dir,
        "cpu_work",
        "/health latency: idle, CPU in threads (/compute), CPU in processes (/ml-inference)",
        {
            f"/compute n={COMPUTE_N:,} on {CONNECTIONS} connections (thread pool)": points(
                threaded, thread_origin
            ),
            f"/ml-inference {INFERENCE_ROWS} rows on {CONNECTIONS} connections (process pool)": (
                points(pooled, process_origin)
            ),
            "idle": points(idle, idle_origin),
        },
        references={f"inline (derived): one computation, {inline_ms:.0f} ms": inline_ms},
    )
    return Finding(
        measured=f"/health p95 {idle_p95:.1f} ms idle, {thread_p95:.1f} ms during /compute "
        f"(threads), {process_p95:.1f} ms during /ml-inference (processes); inline would "
        f"wait up to {inline_ms:.0f} ms (derived)",
        ideal=f"the idle loop: {idle_p95:.1f} ms at p95",
        ratio=judgement.ratio,
        verdict=verdict,
        explanation=why,
        metrics={
            "duration_s": duration_s,
            "connections": CONNECTIONS,
            "compute_n": COMPUTE_N,
            "inference_rows": INFERENCE_ROWS,
            "health_idle": latency_ms(idle),
            "health_during_compute_threads": latency_ms(threaded),
            "health_during_inference_processes": latency_ms(pooled),
            "compute_per_s": throughput(compute_load),
            "inference_per_s": throughput(inference_load),
            "compute_work_ms_under_load": {
                "p50": percentile(work_ms, 50),
                "max": max(work_ms, default=float("nan")),
            },
            "compute_work_ms_alone": inline_ms,
            "inline_derived_worst_wait_ms": inline_ms,
            "thread_ratio": thread_ratio,
            "process_ratio": process_ratio,
        },
        plots=[plot],
    )


CLAIM = Claim(
    name="cpu_work",
    ratio_of="/health p95 under /compute / idle p95",
    title="CPU work: in a thread the GIL still slows the loop; in a process it does not",
    article="CPU-heavy work hogs the loop; run_in_executor with a thread pool suits medium "
    "work without blocking the loop, a process pool suits heavy work and bypasses the GIL.",
    measure=measure,
)
