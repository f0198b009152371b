"""The two engines of the article, and one session per request from each.

The async engine (asyncpg / aiosqlite) serves ``async def`` routes; the sync
engine (psycopg 3 / sqlite3) serves ``def`` routes, which FastAPI runs in the
thread pool. Both get the pool settings, so a worker holds at most
``2 * (pool_size + max_overflow)`` connections. A session commits when the
route returns and rolls back when it raises, before the response is sent.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Engine, TextClause, create_engine, event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import Session

from unstuck.service import db_timeouts
from unstuck.service.settings import Settings
from unstuck.service.state import app_state

# SQLite: a writer waits this long for the file lock instead of failing at once.
_SQLITE_BUSY_TIMEOUT_MS = 5_000


def _pool_options(settings: Settings) -> dict[str, Any]:
    return {
        "pool_size": settings.pool_size,
        "max_overflow": settings.max_overflow,
        "pool_timeout": settings.pool_timeout,
        "pool_recycle": settings.pool_recycle,
        "pool_pre_ping": settings.pool_pre_ping,
    }


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers go on while one connection writes; both engines share the file.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()
    if isinstance(dbapi_connection, sqlite3.Connection):
        # SQLite has no pg_sleep: this gives the sync engine the same slow query.
        dbapi_connection.create_function("sleep", 1, time.sleep)


def create_engines(settings: Settings) -> tuple[AsyncEngine, Engine]:
    if settings.is_postgres:
        async_engine = create_async_engine(
            settings.async_database_url,
            connect_args=db_timeouts.asyncpg_connect_args(settings),
            **_pool_options(settings),
        )
        db_timeouts.bound_asyncpg_sockets(async_engine, settings)
        sync_engine = create_engine(
            settings.sync_database_url,
            connect_args=db_timeouts.psycopg_connect_args(settings),
            **_pool_options(settings),
        )
        return async_engine, sync_engine
    async_engine = create_async_engine(settings.async_database_url, **_pool_options(settings))
    sync_engine = create_engine(settings.sync_database_url, **_pool_options(settings))
    event.listen(async_engine.sync_engine, "connect", _configure_sqlite)
    event.listen(sync_engine, "connect", _configure_sqlite)
    return async_engine, sync_engine


def slow_query(dialect_name: str, delay_s: float) -> TextClause:
    """A query the database itself takes ``delay_s`` to answer (a slow query, a lock wait)."""
    function = "pg_sleep" if dialect_name == "postgresql" else "sleep"
    return text(f"SELECT {function}(:delay)").bindparams(delay=delay_s)


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with app_state(request)["sessionmaker"]() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


def _sync_session(request: Request) -> Iterator[Session]:
    with app_state(request)["sync_sessionmaker"]() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


# scope="function": the commit happens before the response goes out, so a failed
# commit is the response the client gets.
SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]
SyncSessionDep = Annotated[Session, Depends(_sync_session, scope="function")]
