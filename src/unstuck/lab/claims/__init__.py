"""The article's claims, one module each, in the order the report shows them."""

from __future__ import annotations

from unstuck.lab.claim import Claim
from unstuck.lab.claims import (
    async_sleep,
    blocking_call,
    cpu_work,
    pool_exhaustion,
    sqlalchemy_throughput,
    sync_session,
    thread_pool,
    timeouts,
    workers,
)

ALL: tuple[Claim, ...] = tuple(
    module.CLAIM
    for module in (
        async_sleep,
        thread_pool,
        blocking_call,
        sync_session,
        cpu_work,
        sqlalchemy_throughput,
        pool_exhaustion,
        timeouts,
        workers,
    )
)

BY_NAME: dict[str, Claim] = {claim.name: claim for claim in ALL}
