"""The connection budget: do all workers' pools fit in PostgreSQL's ``max_connections``?

Each worker process has two engines (async and sync), each of which may open
``pool_size + max_overflow`` connections. PostgreSQL refuses connections past
``max_connections`` minus the slots reserved for superusers, and it does so
at the worst time: under load, when the pools grow. ``unstuck serve`` checks
the sum before it starts any worker and refuses to start when it cannot fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import make_url

from unstuck.service.db_timeouts import psycopg_connect_args
from unstuck.service.settings import Settings

ENGINES_PER_WORKER = 2


@dataclass(frozen=True)
class ConnectionBudget:
    workers: int
    pool_size: int
    max_overflow: int
    max_connections: int
    reserved_connections: int

    @property
    def needed(self) -> int:
        return self.workers * (self.pool_size + self.max_overflow) * ENGINES_PER_WORKER

    @property
    def available(self) -> int:
        return self.max_connections - self.reserved_connections

    @property
    def fits(self) -> bool:
        return self.needed <= self.available

    def explain(self) -> str:
        verdict = "fits in" if self.fits else "exceeds"
        lines = [
            f"{self.workers} workers x (pool_size {self.pool_size} + max_overflow "
            f"{self.max_overflow}) x {ENGINES_PER_WORKER} engines = {self.needed} connections, "
            f"which {verdict} the {self.available} PostgreSQL allows "
            f"(max_connections {self.max_connections} - {self.reserved_connections} reserved).",
        ]
        if self.fits:
            return "\n".join(lines)
        largest = self.available // (self.workers * ENGINES_PER_WORKER)
        if largest >= 1:
            lines.append(
                "Lower UNSTUCK_POOL_SIZE + UNSTUCK_MAX_OVERFLOW to at most "
                f"{largest} in total, or run fewer workers (--workers),"
            )
        else:
            lines.append("Even one connection per engine does not fit: run fewer workers,")
        lines.append("or raise max_connections in postgresql.conf (or put PgBouncer in front).")
        return "\n".join(lines)


def read_connection_limits(
    sync_database_url: str, connect_args: dict[str, Any] | None = None
) -> tuple[int, int]:
    """``max_connections`` and the slots reserved for superusers (and, on 16+, for roles)."""
    engine = create_engine(
        sync_database_url, poolclass=pool.NullPool, connect_args=connect_args or {}
    )
    try:
        with engine.connect() as connection:
            max_connections = int(connection.execute(text("SHOW max_connections")).scalar_one())
            reserved = 0
            rows = connection.execute(
                text(
                    "SELECT setting FROM pg_settings "
                    "WHERE name IN ('superuser_reserved_connections', 'reserved_connections')"
                )
            )
            for (setting,) in rows:
                reserved += int(setting)
    finally:
        engine.dispose()
    return max_connections, reserved


def connection_budget(settings: Settings) -> ConnectionBudget | None:
    """The budget of ``settings`` on its PostgreSQL; ``None`` for SQLite (no server limit)."""
    if not settings.is_postgres:
        return None
    max_connections, reserved = read_connection_limits(
        settings.sync_database_url, psycopg_connect_args(settings)
    )
    return ConnectionBudget(
        workers=settings.workers,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        max_connections=max_connections,
        reserved_connections=reserved,
    )


def database_label(settings: Settings) -> str:
    return make_url(settings.async_database_url).render_as_string(hide_password=True)
