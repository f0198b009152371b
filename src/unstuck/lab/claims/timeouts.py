"""Claim 8: a timeout turns a slow dependency into a 504 on time; it does not stop threads.

The article: "add timeouts to everything, to avoid waiting forever", with
``asyncio.wait_for(..., timeout=10.0)`` and a 504 (任何操作都加超时,避免无限等待).

Measured, first: concurrent ``GET /safe?delay=3`` (the built-in upstream
waits 3 s; ``/safe``'s deadline is ``UNSTUCK_SAFE_TIMEOUT_S``, 2 s by
default) answer 504 at the deadline, and ``GET /safe?delay=0.1`` answers 200.
Second, the correction: a timeout around work in a thread does not stop the
thread. 40 clients call ``GET /sync?delay=2`` and give up after 0.3 s; a
request that comes next still waits for a thread-pool token until the
abandoned sleeps end.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from unstuck.lab import figures
from unstuck.lab.claim import Claim, Finding, Judgement, Lab, Verdict
from unstuck.lab.client import Request
from unstuck.lab.load import burst, latency_ms, percentile
from unstuck.lab.services import RunningService

SAFE_DEADLINE_S = 2.0
SLOW_UPSTREAM_S = 3.0
ABANDONED = 40
THREAD_SLEEP_S = 2.0
CLIENT_TIMEOUT_S = 0.3


async def _abandoned_threads(service: RunningService) -> tuple[float, int, object]:
    """How long a fresh ``def`` request waits after 40 clients gave up on theirs."""
    requests = [Request.get(f"/sync?delay={THREAD_SLEEP_S}")] * ABANDONED
    started = time.perf_counter()
    gave_up = await burst(service.target, requests, timeout_s=CLIENT_TIMEOUT_S)
    diagnostics = await service.diagnostics()
    pool = diagnostics.get("threadpool") if diagnostics else None
    after = await burst(service.target, [Request.get("/sync?delay=0")], timeout_s=30.0)
    waited = after[0].elapsed
    # Let the abandoned sleeps end before the next claim uses this service.
    await asyncio.sleep(max(0.0, started + THREAD_SLEEP_S + 0.2 - time.perf_counter()))
    return waited, sum(o.status == 0 for o in gave_up), pool


@dataclass(frozen=True)
class Deadlines:
    """``count`` slow and fast /safe calls, and the wait of a def request after abandoned ones."""

    count: int
    timed_out: int
    answered_after_s: float
    fast_ok: int
    abandoned: int
    waited_s: float


def judge(run: Deadlines) -> Judgement:
    """504 on time; a correction when abandoned threads still held their tokens."""
    ratio = run.answered_after_s / SAFE_DEADLINE_S if run.timed_out else None
    on_time = ratio is not None and run.timed_out == run.count and 0.9 <= ratio <= 1.5
    if not (on_time and run.fast_ok == run.count):
        return Judgement(
            Verdict.DOES_NOT_HOLD,
            ratio,
            f"{run.timed_out} of {run.count} slow /safe calls answered 504 (median "
            f"{run.answered_after_s:.2f} s for a {SAFE_DEADLINE_S:g} s deadline), "
            f"{run.fast_ok} of {run.count} fast ones answered.",
        )
    if run.waited_s >= 0.5 * (THREAD_SLEEP_S - CLIENT_TIMEOUT_S):
        return Judgement(
            Verdict.CORRECTED,
            ratio,
            f"/safe gave up at the deadline ({run.answered_after_s:.2f} s for "
            f"{SAFE_DEADLINE_S:g} s) with a 504 and answered fast calls; but after "
            f"{run.abandoned} clients timed out on /sync?delay={THREAD_SLEEP_S:g} at "
            f"{CLIENT_TIMEOUT_S:g} s, the next def request still waited {run.waited_s:.2f} s "
            "for a thread: a timeout around work in a thread does not stop the thread, which "
            "keeps its token until it ends.",
        )
    return Judgement(
        Verdict.HOLDS,
        ratio,
        f"/safe answered 504 at the deadline and the next def request after the abandoned "
        f"ones waited only {run.waited_s:.2f} s.",
    )


async def measure(lab: Lab) -> Finding:
    service = await lab.fleet.service()
    count = lab.scale(quick=4, full=10)
    slow = await burst(
        service.target, [Request.get(f"/safe?delay={SLOW_UPSTREAM_S}")] * count, timeout_s=30.0
    )
    fast = await burst(service.target, [Request.get("/safe?delay=0.1")] * count, timeout_s=30.0)
    waited, abandoned, pool_seen = await _abandoned_threads(service)

    timed_out = [o for o in slow if o.status == 504]
    answered_after = percentile([o.elapsed for o in timed_out], 50)
    fast_ok = sum(o.ok for o in fast)
    judgement = judge(Deadlines(count, len(timed_out), answered_after, fast_ok, abandoned, waited))
    ratio, verdict, why = judgement.ratio, judgement.verdict, judgement.why
    plot = figures.bars(
        lab.report_dir,
        "timeouts",
        "Timeouts: /safe's deadline, and a def request after abandoned ones",
        {
            f"/safe?delay={SLOW_UPSTREAM_S:g} (504)": answered_after,
            "/safe?delay=0.1 (200)": percentile([o.elapsed for o in fast], 50),
            f"/sync?delay=0 after {ABANDONED} abandoned": waited,
        },
        ylabel="seconds (median)",
        references={f"deadline {SAFE_DEADLINE_S:g} s": SAFE_DEADLINE_S},
    )
    return Finding(
        measured=f"{len(timed_out)}/{count} /safe?delay={SLOW_UPSTREAM_S:g} answered 504 after "
        f"{answered_after:.2f} s; a def request after {abandoned} abandoned ones waited "
        f"{waited:.2f} s",
        ideal=f"504 at the {SAFE_DEADLINE_S:g} s deadline; a stopped thread would free its "
        "token at once (0 s wait)",
        ratio=ratio,
        verdict=verdict,
        explanation=why,
        metrics={
            "deadline_s": SAFE_DEADLINE_S,
            "upstream_delay_s": SLOW_UPSTREAM_S,
            "slow": latency_ms(slow),
            "slow_504": len(timed_out),
            "fast": latency_ms(fast),
            "abandoned_clients": abandoned,
            "client_timeout_s": CLIENT_TIMEOUT_S,
            "thread_sleep_s": THREAD_SLEEP_S,
            "next_def_request_waited_s": waited,
            "watcher_threadpool_after_abandon": pool_seen if isinstance(pool_seen, dict) else {},
        },
        plots=[plot],
    )


CLAIM = Claim(
    name="timeouts",
    ratio_of="time to the 504 / the deadline",
    title="timeouts answer 504 on time, but do not stop work in threads",
    article="Put a timeout on every operation (asyncio.wait_for(..., timeout=10.0)) and "
    "answer 504 when it expires, to avoid waiting forever.",
    measure=measure,
)
