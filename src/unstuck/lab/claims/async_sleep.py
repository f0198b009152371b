"""Claim 1: ``async def`` + ``await asyncio.sleep(1)`` serves many requests at once.

The article: "1000 concurrent requests come in, the event loop handles all of
them on one thread, each request lets the others run while it waits for I/O"
(1000 个并发请求打过来,事件循环用一个线程交替处理所有请求).

Measured: N concurrent ``GET /async?delay=1`` on one worker, each on its own
connection, fired together. Ideal: all done after 1 s (the delay), whatever N.
"""

from __future__ import annotations

from unstuck.lab import figures
from unstuck.lab.claim import Claim, Finding, Lab, Verdict
from unstuck.lab.client import Request
from unstuck.lab.load import burst, latency_ms, wall_time

DELAY_S = 1.0


async def measure(lab: Lab) -> Finding:
    service = await lab.fleet.service()
    count = lab.scale(quick=500, full=1000)
    outcomes = await burst(
        service.target, [Request.get(f"/async?delay={DELAY_S}")] * count, timeout_s=30.0
    )
    wall = wall_time(outcomes)
    ok = sum(outcome.ok for outcome in outcomes)
    ratio = wall / DELAY_S
    if ok == count and ratio <= 2.0:
        verdict, why = (
            Verdict.HOLDS,
            (
                f"all {count} sleeps overlapped on one event loop; the {ratio - 1:.0%} over the "
                "ideal is the cost of accepting and answering the connections on 2 shared cores."
            ),
        )
    else:
        verdict, why = (
            Verdict.DOES_NOT_HOLD,
            (
                f"{ok} of {count} answered and the burst took {wall:.2f} s, "
                f"{ratio:.1f}x the delay: the requests did not all wait together."
            ),
        )
    first = min(outcome.started for outcome in outcomes)
    plot = figures.finish_times(
        lab.report_dir,
        "async_sleep",
        f"{count} concurrent GET /async?delay={DELAY_S:g} on one worker",
        {"measured": [outcome.finished - first for outcome in outcomes]},
        references={"ideal: every one after the delay": [(1, DELAY_S), (count, DELAY_S)]},
    )
    return Finding(
        measured=f"{count} concurrent /async?delay={DELAY_S:g}: all answered in {wall:.2f} s "
        f"({ok} OK)",
        ideal=f"{DELAY_S:g} s (one delay, whatever the number of requests)",
        ratio=ratio,
        verdict=verdict,
        explanation=why,
        metrics={
            "requests": count,
            "ok": ok,
            "delay_s": DELAY_S,
            "wall_s": wall,
            "latency": latency_ms(outcomes),
        },
        plots=[plot],
    )


CLAIM = Claim(
    name="async_sleep",
    title="async def + await: one loop serves many waiting requests",
    article="1000 concurrent requests are handled by one event-loop thread, each one letting "
    "the others run while it awaits I/O.",
    measure=measure,
)
