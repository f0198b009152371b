"""Claim 4: a sync SQLAlchemy ``Session`` used inside ``async def`` blocks the loop too.

The article's ``/also-bad``: "using sync SQLAlchemy blocks the event loop"
(使用同步 SQLAlchemy,会阻塞事件循环).

Measured: ``GET /health`` latency while a few concurrent
``GET /also-bad?delay=0.5`` wait on a slow query (``pg_sleep`` on PostgreSQL,
a sleeping SQL function on SQLite) through a sync session on the loop,
against the control ``GET /async?delay=0.5``.
"""

from __future__ import annotations

from unstuck.lab.claim import Claim, Finding, Lab
from unstuck.lab.stalls import stall_claim

DELAY_S = 0.5


async def measure(lab: Lab) -> Finding:
    count = lab.scale(quick=4, full=8)
    return await stall_claim(
        lab,
        name="sync_session",
        title=f"/health while {count} x /also-bad (sync Session on the loop) run",
        route=f"/also-bad?delay={DELAY_S}",
        control=f"/async?delay={DELAY_S}",
        delay_s=DELAY_S,
        count=count,
    )


CLAIM = Claim(
    name="sync_session",
    ratio_of="worst /health wait / the control's worst",
    title="a sync Session in async def stalls the loop as well",
    article="db.query(User).first() on a sync Session inside async def blocks the event loop.",
    measure=measure,
)
