"""``GET /health``: the worker is up, which backends it uses, and whether videos can be made.

The ``pipeline`` part (database, broker, a video worker seen recently) comes
from `PipelineMonitor`, whose checks run off the loop and are cached for two
seconds; when the pipeline cannot work the answer is a 503 with the same body,
so that a load balancer or an orchestrator sees it. Passwords in URLs are masked.
"""

from __future__ import annotations

import os
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from unstuck.service.state import State, StateDep

router = APIRouter(tags=["health"])


class Backend(BaseModel):
    kind: str
    url: str | None


class Pipeline(BaseModel):
    database: str
    broker: str
    storage: str
    worker_alive: bool
    worker_seen_at: datetime | None
    problem: str | None


class Health(BaseModel):
    status: str
    pid: int
    database: Backend
    cache: Backend
    broker: Backend
    upstream: str
    pipeline: Pipeline


def masked(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + netloc))


def _scheme(url: str) -> str:
    return urlsplit(url).scheme.split("+", 1)[0]


def _backends(state: State) -> tuple[Backend, Backend, Backend]:
    settings = state["settings"]
    database_url = state["async_engine"].url
    database = Backend(
        kind=database_url.get_backend_name(),
        url=database_url.render_as_string(hide_password=True),
    )
    if settings.redis_url:
        cache = Backend(kind="redis", url=masked(settings.redis_url))
    else:
        cache = Backend(kind="memory", url=None)
    if settings.broker_url:
        broker = Backend(kind=_scheme(settings.broker_url), url=masked(settings.broker_url))
    else:
        broker = Backend(kind="filesystem", url=None)
    return database, cache, broker


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(state: StateDep) -> Health | JSONResponse:
    database, cache, broker = _backends(state)
    status = await state["pipeline"].status()
    problem = status.problem()
    body = Health(
        status="ok" if problem is None else "unavailable",
        pid=os.getpid(),
        database=database,
        cache=cache,
        broker=broker,
        upstream=state["upstream_url"],
        pipeline=Pipeline(
            database=status.database,
            broker=status.broker,
            storage=state["storage"].describe(),
            worker_alive=status.worker_alive,
            worker_seen_at=status.worker_seen_at,
            problem=problem,
        ),
    )
    if problem is not None:
        return JSONResponse(body.model_dump(mode="json"), status_code=503)
    return body
