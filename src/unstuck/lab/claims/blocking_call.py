"""Claim 3: one blocking call inside ``async def`` stalls every other request.

The article: "any blocking call inside async def freezes the whole service"
(async def 里的任何阻塞调用都会卡死整个服务), with ``requests.get`` in ``/bad``.

Measured: ``GET /health`` latency (a probe every 20 ms) while a few concurrent
``GET /bad?delay=0.5`` make a blocking HTTP call on the loop, against the
control ``GET /async?delay=0.5`` that waits as long without blocking.
"""

from __future__ import annotations

from unstuck.lab.claim import Claim, Finding, Lab
from unstuck.lab.stalls import stall_claim

DELAY_S = 0.5


async def measure(lab: Lab) -> Finding:
    count = lab.scale(quick=4, full=8)
    return await stall_claim(
        lab,
        name="blocking_call",
        title=f"/health while {count} x /bad (blocking HTTP on the loop) run",
        route=f"/bad?delay={DELAY_S}",
        control=f"/async?delay={DELAY_S}",
        delay_s=DELAY_S,
        count=count,
    )


CLAIM = Claim(
    name="blocking_call",
    ratio_of="worst /health wait / the control's worst",
    title="a blocking call in async def stalls every other request",
    article="requests.get() inside async def blocks the event loop: every other request, "
    "on the whole worker, waits.",
    measure=measure,
)
