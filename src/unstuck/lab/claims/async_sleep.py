"""Claim 1: ``async def`` + ``await asyncio.sleep(1)`` serves many requests at once.

The article: "1000 concurrent requests come in, the event loop handles all of
them on one thread, each request lets the others run while it waits for I/O"
(1000 个并发请求打过来,事件循环用一个线程交替处理所有请求).

Measured: 1,000 concurrent ``GET /async?delay=1`` on one worker, each on its
own connection (opened first), fired together; the p99 of their latencies.
Ideal: every one answered after the delay, 1 s, whatever their number.
"""

from __future__ import annotations

from dataclasses import dataclass

from unstuck.lab import figures
from unstuck.lab.claim import Claim, Finding, Judgement, Lab, Verdict
from unstuck.lab.client import Request
from unstuck.lab.load import burst, latency_ms, percentile, wall_time

DELAY_S = 1.0
REQUESTS = 1_000
# Within this of the ideal, the loop's own work for 1,000 requests is noise.
HOLDS_WITHIN = 1.1
# Beyond this the waits did not overlap as the article says (1,000 in a row would be 1,000x).
OVERLAP_WITHIN = 2.0


@dataclass(frozen=True)
class Burst:
    requests: int
    ok: int
    p99_s: float
    delay_s: float


def judge(burst: Burst) -> Judgement:
    """Holds within 1.1x of the delay; overlapping but slower is a correction."""
    ratio = burst.p99_s / burst.delay_s
    if burst.ok < burst.requests:
        return Judgement(
            Verdict.DOES_NOT_HOLD,
            ratio,
            f"only {burst.ok} of {burst.requests} answered: the loop did not hold them all.",
        )
    if ratio <= HOLDS_WITHIN:
        return Judgement(
            Verdict.HOLDS,
            ratio,
            f"all {burst.requests} waits overlapped on one event loop; the p99 is "
            f"{ratio:.2f}x the delay.",
        )
    if ratio <= OVERLAP_WITHIN:
        return Judgement(
            Verdict.CORRECTED,
            ratio,
            f"the {burst.requests} waits overlapped (in a row they would take "
            f"{burst.requests * burst.delay_s:g} s), but the p99 is {ratio:.2f}x the delay: "
            "the loop still parses, routes and answers each request one after the other, "
            "and that work, not the waiting, is what grows with the count.",
        )
    return Judgement(
        Verdict.DOES_NOT_HOLD,
        ratio,
        f"the p99 was {burst.p99_s:.2f} s, {ratio:.1f}x the delay: the requests did not all "
        "wait together.",
    )


async def measure(lab: Lab) -> Finding:
    service = await lab.fleet.service()
    outcomes = await burst(
        service.target, [Request.get(f"/async?delay={DELAY_S:g}")] * REQUESTS, timeout_s=30.0
    )
    latencies = [outcome.elapsed for outcome in outcomes]
    measured = Burst(
        requests=REQUESTS,
        ok=sum(outcome.ok for outcome in outcomes),
        p99_s=percentile(latencies, 99),
        delay_s=DELAY_S,
    )
    judgement = judge(measured)
    plot = figures.finish_times(
        lab.report_dir,
        "async_sleep",
        f"{REQUESTS} concurrent GET /async?delay={DELAY_S:g} on one worker",
        {"measured": latencies},
        references={"ideal: each one after the delay": [(1, DELAY_S), (REQUESTS, DELAY_S)]},
        ylabel="latency (s)",
        xlabel="request (sorted by latency)",
    )
    return Finding(
        measured=f"p99 latency {measured.p99_s:.2f} s over {REQUESTS} concurrent "
        f"/async?delay={DELAY_S:g} ({measured.ok} OK)",
        ideal=f"{DELAY_S:g} s (one delay, whatever the number of requests)",
        ratio=judgement.ratio,
        verdict=judgement.verdict,
        explanation=judgement.why,
        value=measured.p99_s,
        ideal_value=DELAY_S,
        unit="s",
        metrics={
            "requests": REQUESTS,
            "ok": measured.ok,
            "delay_s": DELAY_S,
            "p99_s": measured.p99_s,
            "wall_s": wall_time(outcomes),
            "latency": latency_ms(outcomes),
        },
        plots=[plot],
    )


CLAIM = Claim(
    name="async_sleep",
    ratio_of="p99 latency / the delay",
    title="async def + await: one loop serves many waiting requests",
    article="1000 concurrent requests are handled by one event-loop thread, each one letting "
    "the others run while it awaits I/O.",
    measure=measure,
)
