"""``GET /health``: the worker is up, and which database, cache and broker it uses.

It answers from the loop without touching any backend, so it measures the
loop itself: a slow ``/health`` means something blocks the loop. Passwords in
URLs are masked.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

from fastapi import APIRouter
from pydantic import BaseModel

from unstuck.service.state import State, StateDep

router = APIRouter(tags=["health"])


class Backend(BaseModel):
    kind: str
    url: str | None


class Health(BaseModel):
    status: str
    pid: int
    database: Backend
    cache: Backend
    broker: Backend
    upstream: str


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


@router.get("/health")
async def health(state: StateDep) -> Health:
    database, cache, broker = _backends(state)
    return Health(
        status="ok",
        pid=os.getpid(),
        database=database,
        cache=cache,
        broker=broker,
        upstream=state["upstream_url"],
    )
