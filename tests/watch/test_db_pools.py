"""DB pool probes on real engines: SQLite (sync and async) and PostgreSQL, lock waits."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI, HTTPException
from sqlalchemy import create_engine, exc, text
from sqlalchemy.ext.asyncio import create_async_engine

import unstuck
from unstuck.watch import register_engine

pytestmark = pytest.mark.anyio
TOKEN = "pool-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def _until(
    client: httpx.AsyncClient, ready: Callable[[dict[str, Any]], bool], within: float = 10
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        data: dict[str, Any] = (await client.get("/_unstuck", headers=AUTH)).json()
        if ready(data) or time.monotonic() > deadline:
            return data
        await asyncio.sleep(0.05)


def _pool(data: dict[str, Any], dialect: str, is_async: bool) -> dict[str, Any]:
    [row] = [p for p in data["db_pools"] if p["dialect"] == dialect and p["async"] is is_async]
    pool: dict[str, Any] = row
    return pool


async def test_sqlite_sync_and_async_pools_show_checkout_waits(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pool.db'}"
    sync_engine = create_engine(url, pool_size=1, max_overflow=0, pool_timeout=10)
    gate = threading.Event()
    async_gate = asyncio.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Engines created in the lifespan register there.
        engine = create_async_engine(
            f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}", pool_size=1, max_overflow=0
        )
        app.state.engine = engine
        register_engine(app, engine)
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/sync/hold")
    def hold_sync() -> dict[str, int]:
        with sync_engine.connect() as connection:
            value = connection.execute(text("select 1")).scalar_one()
            gate.wait(10)
        return {"value": value}

    @app.get("/async/hold")
    async def hold_async() -> dict[str, int]:
        async with app.state.engine.connect() as connection:
            value = (await connection.execute(text("select 1"))).scalar_one()
            await async_gate.wait()
        return {"value": value}

    unstuck.watch.watch(app, token=TOKEN, engines=[sync_engine])
    async with app.router.lifespan_context(app), _client(app) as client:
        calls = [asyncio.create_task(client.get(f"/{kind}/hold")) for kind in ("sync", "async")]
        calls += [asyncio.create_task(client.get(f"/{kind}/hold")) for kind in ("sync", "async")]
        during = await _until(
            client,
            lambda d: all(p["waiting"] == 1 and p["checked_out"] == 1 for p in d["db_pools"]),
        )
        await asyncio.sleep(0.3)
        gate.set()
        async_gate.set()
        assert [r.json() for r in await asyncio.gather(*calls)] == [{"value": 1}] * 4
        after = (await client.get("/_unstuck", headers=AUTH)).json()
    for is_async in (False, True):
        row = _pool(during, "sqlite", is_async)
        assert (row["size"], row["checked_out"], row["waiting"]) == (1, 1, 1), row
        done = _pool(after, "sqlite", is_async)
        assert done["checked_out"] == 0 and done["waiting"] == 0
        assert done["checkouts"] == 2
        assert done["wait_ms"]["max"] >= 250  # the second caller waited for the first
    sync_engine.dispose()


async def test_pool_timeouts_are_counted(tmp_path: Path) -> None:
    engine = create_engine(
        f"sqlite:///{tmp_path / 't.db'}", pool_size=1, max_overflow=0, pool_timeout=0.2
    )
    app = FastAPI()

    @app.get("/hold")
    def hold() -> dict[str, bool]:
        with engine.connect():
            time.sleep(0.8)
        return {"ok": True}

    @app.get("/quick")
    def quick() -> dict[str, bool]:
        try:
            with engine.connect():
                return {"ok": True}
        except exc.TimeoutError:
            raise HTTPException(503, "no database connection free") from None

    unstuck.watch.watch(app, token=TOKEN, engines=[engine])
    async with _client(app) as client:
        held = asyncio.create_task(client.get("/hold"))
        await _until(client, lambda d: d["db_pools"][0]["checked_out"] == 1)
        assert (await client.get("/quick")).status_code == 503
        await held
        [row] = (await client.get("/_unstuck", headers=AUTH)).json()["db_pools"]
    assert row["timeouts"] == 1
    engine.dispose()


async def test_postgres_pool_wait_and_lock_wait(postgres_url: str) -> None:
    async_url = postgres_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    sync_url = postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_async_engine(async_url, pool_size=1, max_overflow=0)
    sync_engine = create_engine(sync_url, pool_size=1, max_overflow=0)
    key = random.randint(1, 2**31)
    app = FastAPI()

    @app.get("/locked")
    async def locked() -> dict[str, bool]:
        async with engine.begin() as connection:
            await connection.execute(text("select pg_advisory_xact_lock(:key)"), {"key": key})
        return {"ok": True}

    unstuck.watch.watch(app, token=TOKEN, engines=[engine, sync_engine])
    holder = await psycopg.AsyncConnection.connect(postgres_url)
    try:
        await holder.execute("select pg_advisory_xact_lock(%s)", (key,))
        holder_pid = holder.info.backend_pid
        async with _client(app) as client:
            calls = [asyncio.create_task(client.get("/locked")) for _ in range(2)]

            def blocked(data: dict[str, Any]) -> bool:
                groups = data["lock_waits"]
                waits = [w for g in groups for w in g["waits"] if w["blocker_pid"] == holder_pid]
                return len(waits) >= 2 and _pool(data, "postgresql", True)["waiting"] == 1

            data = await _until(client, blocked)
            await holder.commit()
            assert all(r.status_code == 200 for r in await asyncio.gather(*calls))
    finally:
        await holder.close()
        await engine.dispose()
        sync_engine.dispose()
    row = _pool(data, "postgresql", True)
    assert (row["size"], row["checked_out"], row["waiting"]) == (1, 1, 1)
    assert len(data["lock_waits"]) == 2  # one per engine, each through its own driver
    for group in data["lock_waits"]:
        assert group["error"] is None, group
        [wait] = [w for w in group["waits"] if w["blocker_pid"] == holder_pid]
        assert "pg_advisory_xact_lock" in wait["query"]
        assert wait["wait_event_type"] == "Lock"
        assert wait["waiting_s"] >= 0


async def test_unreachable_postgres_is_an_error_in_the_diagnostics_not_a_500() -> None:
    port = 1  # nothing listens there: the connection is refused at once
    sync_engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/test")
    async_engine = create_async_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/test")
    app = unstuck.watch.watch(FastAPI(), token=TOKEN, engines=[sync_engine, async_engine])
    async with _client(app) as client:
        response = await client.get("/_unstuck", headers=AUTH)
    assert response.status_code == 200
    groups = response.json()["lock_waits"]
    assert len(groups) == 2
    for group in groups:
        assert group["waits"] == []
        assert group["error"] and "Error" in group["error"]
    await async_engine.dispose()
    sync_engine.dispose()
