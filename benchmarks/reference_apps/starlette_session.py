"""The article's session pattern without FastAPI: bare Starlette and an ``AsyncSession``.

The same query and JSON as the bare app, run through a session from
``async_sessionmaker(expire_on_commit=False)``, one per request, on a SQLAlchemy
async engine (asyncpg), as Core rows (no ORM object). What it costs over the bare
app is the share of SQLAlchemy's session and execution layers, with no framework
around it: the least a service keeping that pattern can spend on a request.
``REFERENCE_DATABASE_URL`` (``postgresql+asyncpg://...``) and ``REFERENCE_POOL_SIZE``
as for the other apps.

Run: ``uvicorn benchmarks.reference_apps.starlette_session:create_app --factory``.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

_QUERY = text("SELECT id, name, email, created_at FROM users WHERE id = :id")


def create_app() -> Starlette:
    url = os.environ["REFERENCE_DATABASE_URL"]
    if url.startswith("postgresql://"):
        url = url.replace("postgresql://", "postgresql+asyncpg://", 1)
    size = int(os.environ.get("REFERENCE_POOL_SIZE", "20"))
    engine = create_async_engine(url, pool_size=size, max_overflow=0)
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    async def get_user(request: Request) -> Response:
        user_id = int(request.path_params["user_id"])
        async with sessions() as session:
            row = (await session.execute(_QUERY, {"id": user_id})).first()
        if row is None:
            return JSONResponse({"detail": f"no user with id {user_id}"}, status_code=404)
        body = {
            "id": row.id,
            "name": row.name,
            "email": row.email,
            "created_at": row.created_at.isoformat().replace("+00:00", "Z"),
        }
        return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")

    async def sleep(request: Request) -> Response:
        delay = float(request.query_params.get("delay", "1"))
        await asyncio.sleep(delay)
        return JSONResponse({"message": "async", "delay_s": delay, "runs_on": "event loop"})

    routes = [Route("/users/{user_id:int}", get_user), Route("/async", sleep)]
    return Starlette(routes=routes, lifespan=lifespan)
