"""The two engines of the article, and one session per request from each.

The async engine (asyncpg / aiosqlite) serves ``async def`` routes; the sync
engine (psycopg 3 / sqlite3) serves ``def`` routes, which FastAPI runs in the
thread pool. Both get the pool settings, so a worker holds at most
``2 * (pool_size + max_overflow)`` connections. A session commits when the
route returns and rolls back when it raises, before the response is sent.

Routes that only read take a read session (:data:`ReadSessionDep`,
:data:`SyncReadSessionDep`): the same pool, on an autocommit connection, so
a lookup costs its one query and no ``BEGIN``/``COMMIT`` round trips.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import Engine, TextClause, create_engine, event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import ConnectionPoolEntry

from unstuck.service import db_timeouts
from unstuck.service.settings import Settings
from unstuck.service.state import app_state

# SQLite: a writer waits this long for the file lock instead of failing at once.
_SQLITE_BUSY_TIMEOUT_MS = 5_000

# A connection idle in the pool for longer than this is pinged before it is handed out.
_PING_IF_IDLE_S = 1.0
_CHECKED_IN_AT = "unstuck_checked_in_at"

EngineT = TypeVar("EngineT", AsyncEngine, Engine)


def _pool_options(settings: Settings) -> dict[str, Any]:
    return {
        "pool_size": settings.pool_size,
        "max_overflow": settings.max_overflow,
        "pool_timeout": settings.pool_timeout,
        "pool_recycle": settings.pool_recycle,
        # Pinged in _ping_if_idle instead: SQLAlchemy's pre-ping costs every checkout a
        # round trip (three on asyncpg: BEGIN, the ping, ROLLBACK).
        "pool_pre_ping": False,
    }


def _note_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info[_CHECKED_IN_AT] = time.monotonic()


def _ping_if_idle(engine: Engine) -> Callable[[Any, ConnectionPoolEntry, Any], None]:
    """A pre-ping for connections that sat idle in the pool: only those can have gone stale.

    A connection back from a request a moment ago has just answered; one that waited
    longer may have been cut by a database restart or a firewall. A failed ping makes
    the pool discard it and hand out a fresh one. A connection broken while in use
    raises a disconnect error, and SQLAlchemy then recycles every older connection.
    """

    def ping(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        checked_in_at = record.info.get(_CHECKED_IN_AT)
        if checked_in_at is None or time.monotonic() - checked_in_at < _PING_IF_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError(f"stale connection: {exc}") from exc

    return ping


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
    else:
        async_engine = create_async_engine(settings.async_database_url, **_pool_options(settings))
        sync_engine = create_engine(settings.sync_database_url, **_pool_options(settings))
        event.listen(async_engine.sync_engine, "connect", _configure_sqlite)
        event.listen(sync_engine, "connect", _configure_sqlite)
    if settings.pool_pre_ping:
        for engine in (async_engine.sync_engine, sync_engine):
            event.listen(engine, "checkin", _note_checkin)
            event.listen(engine, "checkout", _ping_if_idle(engine))
    return async_engine, sync_engine


def read_only(engine: EngineT) -> EngineT:
    """The same engine and pool, each statement in its own implicit transaction."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


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


async def _read_session(request: Request) -> AsyncIterator[AsyncSession]:
    # Nothing to commit: closing the session hands the connection back to the pool.
    async with app_state(request)["read_sessionmaker"]() as session:
        yield session


def _sync_session(request: Request) -> Iterator[Session]:
    with app_state(request)["sync_sessionmaker"]() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def _sync_read_session(request: Request) -> Iterator[Session]:
    with app_state(request)["sync_read_sessionmaker"]() as session:
        yield session


# scope="function": the commit happens before the response goes out, so a failed
# commit is the response the client gets.
SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]
SyncSessionDep = Annotated[Session, Depends(_sync_session, scope="function")]
ReadSessionDep = Annotated[AsyncSession, Depends(_read_session, scope="function")]
SyncReadSessionDep = Annotated[Session, Depends(_sync_read_session, scope="function")]
