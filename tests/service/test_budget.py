"""The connection budget against a real PostgreSQL, and the arithmetic of its message."""

from __future__ import annotations

from pathlib import Path

import psycopg

from unstuck.service.budget import ConnectionBudget, connection_budget, read_connection_limits
from unstuck.service.settings import Settings


def test_reads_the_server_limits(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as connection:
        row = connection.execute(
            "SELECT current_setting('max_connections')::int,"
            " current_setting('superuser_reserved_connections')::int"
        ).fetchone()
    assert row is not None
    url = postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)
    max_connections, reserved = read_connection_limits(url)
    assert max_connections == row[0]
    assert reserved >= row[1]


def test_budget_of_settings(postgres_url: str, tmp_path: Path) -> None:
    database = postgres_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    small = connection_budget(
        Settings(data_dir=tmp_path, database_url=database, pool_size=2, max_overflow=1, workers=2)
    )
    assert small is not None
    assert small.needed == 12
    assert small.fits
    huge = connection_budget(
        Settings(data_dir=tmp_path, database_url=database, pool_size=500, workers=2)
    )
    assert huge is not None
    assert not huge.fits
    assert connection_budget(Settings(data_dir=tmp_path)) is None


def test_message_says_the_numbers_and_the_fix() -> None:
    budget = ConnectionBudget(
        workers=4, pool_size=20, max_overflow=10, max_connections=100, reserved_connections=3
    )
    assert budget.needed == 240
    assert budget.available == 97
    assert budget.explain().splitlines() == [
        "4 workers x (pool_size 20 + max_overflow 10) x 2 engines = 240 connections, "
        "which exceeds the 97 PostgreSQL allows (max_connections 100 - 3 reserved).",
        "Lower UNSTUCK_POOL_SIZE + UNSTUCK_MAX_OVERFLOW to at most 12 in total, "
        "or run fewer workers (--workers),",
        "or raise max_connections in postgresql.conf (or put PgBouncer in front).",
    ]
    too_many_workers = ConnectionBudget(
        workers=64, pool_size=1, max_overflow=0, max_connections=100, reserved_connections=3
    )
    assert "Even one connection per engine does not fit" in too_many_workers.explain()
