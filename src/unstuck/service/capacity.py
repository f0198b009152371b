"""Thread capacity of its own for the video pipeline's routes.

Every ``def`` route, sync dependency and ``anyio.to_thread.run_sync`` shares
anyio's default limiter (``UNSTUCK_THREAD_POOL_TOKENS``). The demo routes
(``GET /sync``, ``/sync/users``) can hold all of its tokens for seconds each;
the pipeline's blocking calls (writing an upload, probing it, reading a task)
would then queue behind them. They run under a limiter of their own
(``UNSTUCK_PIPELINE_THREAD_TOKENS``) through :func:`pipeline_thread`, so
``/upload-video``, ``/task`` and ``/videos`` keep answering. ``/health`` uses
no thread at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, TypeVarTuple, Unpack

import anyio.to_thread
from anyio import CapacityLimiter
from anyio.lowlevel import RunVar

T = TypeVar("T")
Args = TypeVarTuple("Args")

DEFAULT_TOKENS = 10

# One limiter per event loop, as anyio keeps its default one.
_limiter: RunVar[CapacityLimiter] = RunVar("unstuck_pipeline_limiter")


def set_pipeline_tokens(tokens: int) -> None:
    """Called in lifespan, on the server's loop."""
    _limiter.set(CapacityLimiter(tokens))


def pipeline_limiter() -> CapacityLimiter:
    try:
        return _limiter.get()
    except LookupError:
        limiter = CapacityLimiter(DEFAULT_TOKENS)
        _limiter.set(limiter)
        return limiter


async def pipeline_thread(function: Callable[[Unpack[Args]], T], *args: *Args) -> T:
    """``anyio.to_thread.run_sync`` under the pipeline's own limiter."""
    return await anyio.to_thread.run_sync(function, *args, limiter=pipeline_limiter())
