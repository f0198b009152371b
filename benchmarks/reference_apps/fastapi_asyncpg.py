"""FastAPI without an ORM: the bare app's asyncpg pool and query behind FastAPI's routing.

Between ``starlette_asyncpg`` and the service: the same query and JSON as the bare
app, through a FastAPI route with a typed path parameter and a dependency that
takes a connection from the pool for the request. What it costs over the bare app
is FastAPI's share of a request; what the service costs over it is the share of
SQLAlchemy's ``AsyncSession``. ``REFERENCE_DATABASE_URL`` and ``REFERENCE_POOL_SIZE``
as for the bare app.

Run: ``uvicorn benchmarks.reference_apps.fastapi_asyncpg:create_app --factory``.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import asyncpg
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import Response

_QUERY = "SELECT id, name, email, created_at FROM users WHERE id = $1"


async def _connection(request: Request) -> AsyncIterator[asyncpg.Connection]:
    pool: asyncpg.Pool = request.app.state.pool
    async with pool.acquire() as connection:
        yield connection


ConnectionDep = Annotated[asyncpg.Connection, Depends(_connection)]


async def get_user(user_id: int, connection: ConnectionDep) -> Response:
    row = await connection.fetchrow(_QUERY, user_id)
    if row is None:
        raise HTTPException(404, f"no user with id {user_id}")
    body = {
        "id": row["id"],
        "name": row["name"],
        "email": row["email"],
        "created_at": row["created_at"].isoformat().replace("+00:00", "Z"),
    }
    return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")


async def sleep(delay: float = 1.0) -> dict[str, object]:
    await asyncio.sleep(delay)
    return {"message": "async", "delay_s": delay, "runs_on": "event loop"}


def create_app() -> FastAPI:
    url = os.environ["REFERENCE_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        size = int(os.environ.get("REFERENCE_POOL_SIZE", "20"))
        app.state.pool = await asyncpg.create_pool(url, min_size=size, max_size=size)
        yield
        await app.state.pool.close()

    app = FastAPI(lifespan=lifespan)
    app.get("/users/{user_id}")(get_user)
    app.get("/async")(sleep)
    return app
