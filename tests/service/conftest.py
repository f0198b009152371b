"""Fixtures of the service tests: settings per backend, an in-process client, PostgreSQL.

``settings`` is parametrized over SQLite (a fresh data dir per test) and
PostgreSQL (one database per test session, created here and dropped at the
end, its table emptied before each test), with the migrations applied.
``serve`` runs the app's real lifespan and gives an ``httpx.AsyncClient`` on
``ASGITransport``; Starlette's lifespan state is passed into each request the
way a server does it.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, cast

import httpx
import psycopg
import pytest

from unstuck.service.app import create_app
from unstuck.service.migrations import upgrade
from unstuck.service.settings import Settings
from unstuck.service.state import State

ServeApp = Callable[[Settings], AbstractAsyncContextManager[httpx.AsyncClient]]
ServeAppWithState = Callable[
    [Settings], AbstractAsyncContextManager[tuple[httpx.AsyncClient, State]]
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests state their settings: a developer's ``UNSTUCK_*`` variables must not leak in."""
    for name in Settings.model_fields:
        monkeypatch.delenv(f"UNSTUCK_{name.upper()}", raising=False)


@pytest.fixture(scope="session")
def postgres_database(postgres_url: str) -> Iterator[str]:
    """A database of its own for this session, as a ``postgresql+asyncpg://`` URL."""
    name = f"unstuck_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = postgres_url.rsplit("/", 1)[0]
    try:
        yield f"{base.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{name}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _libpq(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def postgres_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    settings = Settings(data_dir=data_dir, database_url=database_url, **overrides)
    upgrade(settings)
    with psycopg.connect(_libpq(database_url), autocommit=True) as connection:
        connection.execute(
            "TRUNCATE users, idempotent_responses, video_jobs, video_workers RESTART IDENTITY"
        )
    return settings


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "postgres":
        return postgres_settings(request.getfixturevalue("postgres_database"), tmp_path)
    sqlite = Settings(data_dir=tmp_path)
    upgrade(sqlite)
    return sqlite


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    sqlite = Settings(data_dir=tmp_path)
    upgrade(sqlite)
    return sqlite


@asynccontextmanager
async def _serve_with_state(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, State]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app) as lifespan_state:
        assert lifespan_state is not None
        state = cast(State, lifespan_state)

        async def with_state(scope: Any, receive: Any, send: Any) -> None:
            scope["state"] = dict(state)
            await app(scope, receive, send)

        transport = httpx.ASGITransport(app=with_state)
        async with httpx.AsyncClient(transport=transport, base_url="http://unstuck.test") as client:
            yield client, state


@asynccontextmanager
async def _serve(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with _serve_with_state(settings) as (client, _):
        yield client


@pytest.fixture
def serve() -> ServeApp:
    return _serve


@pytest.fixture
def serve_with_state() -> ServeAppWithState:
    """Like ``serve``, with the lifespan's state too, for tests that hold its resources."""
    return _serve_with_state


@pytest.fixture
def unused_port() -> int:
    """A port nothing listens on (bound, read back, released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
