"""The engines' pools: reads without transaction round trips, stale connections replaced."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from tests.service.conftest import postgres_settings
from unstuck.service import database
from unstuck.service.database import create_engines, read_only

pytestmark = pytest.mark.anyio

_XACT_ID = text("SELECT pg_current_xact_id()::text")


async def test_a_read_session_runs_no_transaction(postgres_database: str, tmp_path: Path) -> None:
    settings = postgres_settings(postgres_database, tmp_path)
    async_engine, sync_engine = create_engines(settings)
    try:
        # In one transaction both statements see the same transaction id; each on its own, two.
        async with read_only(async_engine).connect() as connection:
            first = await connection.scalar(_XACT_ID)
            second = await connection.scalar(_XACT_ID)
        assert first != second
        with read_only(sync_engine).connect() as sync_connection:
            assert sync_connection.scalar(_XACT_ID) != sync_connection.scalar(_XACT_ID)
        async with async_engine.connect() as connection:
            assert await connection.scalar(_XACT_ID) == await connection.scalar(_XACT_ID)
    finally:
        await async_engine.dispose()
        sync_engine.dispose()


async def test_an_idle_connection_cut_by_the_server_is_replaced(
    postgres_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every connection counts as idle: the ping runs on each checkout.
    monkeypatch.setattr(database, "_PING_IF_IDLE_S", 0.0)
    settings = postgres_settings(postgres_database, tmp_path, pool_size=1, max_overflow=0)
    async_engine, sync_engine = create_engines(settings)
    admin_url = postgres_database.replace("postgresql+asyncpg://", "postgresql://", 1)
    try:
        async with async_engine.connect() as connection:
            first = await connection.scalar(text("SELECT pg_backend_pid()"))
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
        async with async_engine.connect() as connection:
            second = await connection.scalar(text("SELECT pg_backend_pid()"))
        assert second != first
    finally:
        await async_engine.dispose()
        sync_engine.dispose()


async def test_a_busy_connection_is_not_pinged(
    postgres_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings: list[object] = []
    settings = postgres_settings(postgres_database, tmp_path, pool_size=1, max_overflow=0)
    async_engine, sync_engine = create_engines(settings)
    monkeypatch.setattr(async_engine.sync_engine.dialect, "do_ping", pings.append)
    try:
        for _ in range(3):
            async with async_engine.connect() as connection:
                await connection.scalar(text("SELECT 1"))
        assert pings == []
    finally:
        await async_engine.dispose()
        sync_engine.dispose()
