"""Fixtures of the fault tests: servers of their own, settings with short bounds.

PostgreSQL and moto's S3 server are started once for the suite (a database and
a bucket per test); Redis once per test, so that a test can kill it. Bounds
are made small through settings (heartbeat 0.5 s, re-queue after 2 s), so that
a recovery is seen in seconds.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.own_servers import OwnPostgres, Redis, S3Server, free_port, own_postgres, require


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def postgres() -> Iterator[OwnPostgres]:
    # Listening on every address: the two-host test reaches it from other namespaces.
    with own_postgres(listen_all=True) as server:
        yield server


@pytest.fixture
def database(postgres: OwnPostgres) -> str:
    """A fresh database on the suite's cluster; its name."""
    name = f"faults_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres.libpq_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[Redis]:
    require(shutil.which("redis-server") is not None, "no redis-server binary on PATH")
    server = Redis(tmp_path / "redis", free_port())
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    name = f"faults-{uuid.uuid4().hex[:10]}"
    s3_server.create_bucket(name)
    return name
