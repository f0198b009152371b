"""``GET /health``: the worker is up, which backends it uses, and whether videos can be made.

It answers from the loop: the ``pipeline`` part (database, broker, a video
worker seen recently) comes from `PipelineMonitor`, whose checks run in a
thread and are cached for two seconds; when the pipeline cannot work the
answer is a 503 with the same body, so that a load balancer or an orchestrator
sees it. The URLs of the backends, the upstream and the storage are internal:
they are shown (passwords masked) only to a request with the diagnostics token
(``Authorization: Bearer <UNSTUCK_WATCH_TOKEN>``). ``pools`` says when a pool
was replaced after it broke.
"""

from __future__ import annotations

import hmac
import os
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from fastapi import APIRouter, Request
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
    storage: str | None
    worker_alive: bool
    worker_seen_at: datetime | None
    problem: str | None


class PoolHealth(BaseModel):
    rebuilds: int
    last_rebuilt_at: datetime | None
    last_reason: str | None


class Health(BaseModel):
    status: str
    pid: int
    database: Backend
    cache: Backend
    broker: Backend
    upstream: str | None
    pools: dict[str, PoolHealth]
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


def _pools(state: State) -> dict[str, PoolHealth]:
    pools = {"process_pool": state["process_pool"], "compute_pool": state["compute_pool"]}
    healths = {name: pool.rebuilds for name, pool in pools.items()}
    healths["http_client"] = state["http"].rebuilds
    return {
        name: PoolHealth(
            rebuilds=rebuilds.count,
            last_rebuilt_at=rebuilds.last_at,
            last_reason=rebuilds.last_reason,
        )
        for name, rebuilds in healths.items()
    }


def _has_token(request: Request, token: str | None) -> bool:
    given = request.headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    if token is None or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(value.strip().encode(), token.encode())


def _without_url(backend: Backend) -> Backend:
    return Backend(kind=backend.kind, url=None)


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(state: StateDep, request: Request) -> Health | JSONResponse:
    database, cache, broker = _backends(state)
    upstream: str | None = state["upstream_url"]
    storage: str | None = state["storage"].describe()
    if not _has_token(request, state["settings"].watch_token):
        database, cache, broker = map(_without_url, (database, cache, broker))
        upstream = storage = None
    status = await state["pipeline"].status()
    problem = status.problem()
    body = Health(
        status="ok" if problem is None else "unavailable",
        pid=os.getpid(),
        database=database,
        cache=cache,
        broker=broker,
        upstream=upstream,
        pools=_pools(state),
        pipeline=Pipeline(
            database=status.database,
            broker=status.broker,
            storage=storage,
            worker_alive=status.worker_alive,
            worker_seen_at=status.worker_seen_at,
            problem=problem,
        ),
    )
    if problem is not None:
        return JSONResponse(body.model_dump(mode="json"), status_code=503)
    return body
