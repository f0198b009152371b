"""The article's first lesson, as routes: what runs on the loop, in threads, in an executor.

* ``GET /async`` awaits ``asyncio.sleep`` on the event loop: thousands can wait at once.
* ``GET /sync`` is a ``def`` route: FastAPI runs it on anyio's worker threads, at
  most ``thread_pool_tokens`` (40 by default) at a time per process. It is not
  asyncio's default executor of ``min(32, cpu + 4)`` threads that the article names.
* ``POST /compute`` runs the article's CPU loop with ``run_in_executor`` on the
  compute thread pool made in lifespan. The loop stays free to schedule, but
  the thread holds the GIL while it counts, so other requests still slow down.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from unstuck.service.errors import POOL_REPLACED, invalid
from unstuck.service.limits import maximum_from
from unstuck.service.settings import Settings
from unstuck.service.state import StateDep, app_state

router = APIRouter(tags=["concurrency"])

DelayQuery = Annotated[
    float,
    Query(
        ge=0,
        allow_inf_nan=False,
        description="seconds to wait; at most UNSTUCK_MAX_DELAY_S (10 by default)",
        json_schema_extra=maximum_from("max_delay_s"),
    ),
]


class Slept(BaseModel):
    message: str
    delay_s: float
    runs_on: str


class ComputeRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"n": 10_000_000}]})

    n: int = Field(
        default=10_000_000,
        ge=1,
        description="how many integers to add up; at most UNSTUCK_COMPUTE_MAX_N",
        json_schema_extra=maximum_from("compute_max_n"),
    )

    @field_validator("n", mode="before")
    @classmethod
    def _json_integer(cls, value: object) -> object:
        # JSON Schema's integer takes 44.0 (as pydantic does) but not true or "44",
        # which pydantic's lax mode would turn into 1 and 44.
        if isinstance(value, bool | str):
            raise ValueError("n must be a JSON number")
        return value


class ComputeResult(BaseModel):
    n: int
    result: int
    elapsed_ms: float
    runs_on: str


def _check_delay(delay: float, settings: Settings) -> None:
    if delay > settings.max_delay_s:
        message = f"delay must be at most {settings.max_delay_s} s"
        raise invalid(("query", "delay"), message, delay)


@router.get("/async", response_model=Slept)
async def async_sleep(request: Request, delay: DelayQuery = 1.0) -> Response:
    # The Request, not StateDep: a sub-dependency is a third of what FastAPI spends here.
    _check_delay(delay, app_state(request)["settings"])
    await asyncio.sleep(delay)
    # Serialised here, once: the article's headline route should cost its sleep and little else.
    body = Slept(message="async", delay_s=delay, runs_on="event loop").model_dump_json()
    return Response(body, media_type="application/json")


@router.get("/sync")
def sync_sleep(state: StateDep, delay: DelayQuery = 1.0) -> Slept:
    _check_delay(delay, state["settings"])
    time.sleep(delay)
    return Slept(message="sync", delay_s=delay, runs_on="thread pool")


def add_up(n: int) -> tuple[int, float]:
    """The article's CPU-heavy task: a plain Python loop, on purpose not ``sum(range(n))``."""
    started = time.perf_counter()
    result = 0
    for i in range(n):
        result += i
    return result, (time.perf_counter() - started) * 1000


@router.post("/compute", responses=POOL_REPLACED)
async def compute(body: ComputeRequest, state: StateDep) -> ComputeResult:
    limit = state["settings"].compute_max_n
    if body.n > limit:
        raise invalid(("body", "n"), f"n must be at most {limit}", body.n)
    result, elapsed_ms = await state["compute_pool"].run(add_up, body.n)
    return ComputeResult(
        n=body.n, result=result, elapsed_ms=elapsed_ms, runs_on="compute thread pool"
    )
