"""Near the limit of Python on this stack: bare Starlette and an asyncpg pool.

The same ``GET /users/{id}`` query and JSON as the service, with no ORM, no
validation and no dependency injection; ``GET /async?delay=`` awaits
``asyncio.sleep``. The database URL comes from ``REFERENCE_DATABASE_URL``
(``postgresql://...``; a ``+asyncpg`` driver suffix is dropped), the pool size from
``REFERENCE_POOL_SIZE`` (20 by default).

Run: ``uvicorn benchmarks.reference_apps.starlette_asyncpg:create_app --factory``.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

_QUERY = "SELECT id, name, email, created_at FROM users WHERE id = $1"


def create_app() -> Starlette:
    url = os.environ["REFERENCE_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    pools: list[asyncpg.Pool] = []

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        size = int(os.environ.get("REFERENCE_POOL_SIZE", "20"))
        pools.append(await asyncpg.create_pool(url, min_size=size, max_size=size))
        yield
        await pools[0].close()

    async def get_user(request: Request) -> Response:
        user_id = int(request.path_params["user_id"])
        row = await pools[0].fetchrow(_QUERY, user_id)
        if row is None:
            return JSONResponse({"detail": f"no user with id {user_id}"}, status_code=404)
        body = {
            "id": row["id"],
            "name": row["name"],
            "email": row["email"],
            "created_at": row["created_at"].isoformat().replace("+00:00", "Z"),
        }
        return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")

    async def sleep(request: Request) -> Response:
        delay = float(request.query_params.get("delay", "1"))
        await asyncio.sleep(delay)
        body = {"message": "async", "delay_s": delay, "runs_on": "event loop"}
        return JSONResponse(body)

    routes = [Route("/users/{user_id:int}", get_user), Route("/async", sleep)]
    return Starlette(routes=routes, lifespan=lifespan)
