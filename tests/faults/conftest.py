"""Fixtures of the fault tests: servers of their own, settings with short bounds.

PostgreSQL and moto's S3 server are started once for the suite (a database and
a bucket per test); Redis once per test, so that a test can kill it. Bounds
are made small through settings (heartbeat 0.5 s, re-queue after 2 s), so that
a recovery is seen in seconds.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.faults.servers import (
    Postgres,
    Redis,
    S3Server,
    free_port,
    postgres_binaries,
    require,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    binaries = postgres_binaries()
    require(binaries is not None, "no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
    assert binaries is not None
    # Not under pytest's temporary folder: that one is private to root, and the
    # cluster runs as the postgres user.
    folder = Path(tempfile.mkdtemp(prefix="unstuck-faults-pg-"))
    server = Postgres(folder / "cluster", free_port(), binaries)
    try:
        server.start()
        yield server
    finally:
        with contextlib.suppress(Exception):
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def database(postgres: Postgres) -> str:
    """A fresh database on the suite's cluster; its name."""
    name = f"faults_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(
        f"postgresql://postgres@127.0.0.1:{postgres.port}/postgres", autocommit=True
    ) as admin:
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


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = S3Server(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    name = f"faults-{uuid.uuid4().hex[:10]}"
    s3_server.create_bucket(name)
    return name
