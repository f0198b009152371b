"""The resources of one worker process, as yielded by the lifespan.

Starlette copies the lifespan's dict into every request's scope; :data:`StateDep`
gives route code the same dict, typed. Nothing here is created at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, TypedDict, cast

from fastapi import Depends, Request

if TYPE_CHECKING:
    from celery import Celery
    from sqlalchemy import Engine
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
    from sqlalchemy.orm import Session, sessionmaker

    from unstuck.service.cache import Cache
    from unstuck.service.pipeline_status import PipelineMonitor
    from unstuck.service.pools import ExecutorPool, HttpClient
    from unstuck.service.settings import Settings
    from unstuck.service.storage import Storage


class State(TypedDict):
    settings: Settings
    async_engine: AsyncEngine
    sync_engine: Engine
    sessionmaker: async_sessionmaker[AsyncSession]
    sync_sessionmaker: sessionmaker[Session]
    # Sessions for routes that only read (no transaction round trips).
    read_sessionmaker: async_sessionmaker[AsyncSession]
    sync_read_sessionmaker: sessionmaker[Session]
    cache: Cache
    http: HttpClient
    upstream_url: str
    compute_pool: ExecutorPool
    process_pool: ExecutorPool
    celery: Celery
    storage: Storage
    pipeline: PipelineMonitor


def app_state(request: Request) -> State:
    return cast(State, request.scope["state"])


# An ``async def`` dependency, so that reading the state never borrows a thread-pool token.
async def _state(request: Request) -> State:
    return app_state(request)


StateDep = Annotated[State, Depends(_state)]
