"""Alembic migrations of the service, configured in code (no ``alembic.ini``).

``unstuck serve`` (and the gunicorn config) call :func:`upgrade` before any
worker starts, through the sync driver. For other Alembic commands build the
config with :func:`alembic_config` and pass it to ``alembic.command``::

    from alembic import command
    command.history(alembic_config(Settings()))
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, pool

from unstuck.service.db_timeouts import psycopg_connect_args
from unstuck.service.settings import Settings

_SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPT_LOCATION))
    # configparser treats '%' as interpolation: a password may contain one.
    config.set_main_option("sqlalchemy.url", settings.sync_database_url.replace("%", "%%"))
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Bring the database to ``revision``; creates the SQLite file's folder if needed."""
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    config = alembic_config(settings)
    # Bounded like the service's own connections: a silent database fails the start in time.
    connect_args = psycopg_connect_args(settings) if settings.is_postgres else {}
    engine = create_engine(
        settings.sync_database_url, poolclass=pool.NullPool, connect_args=connect_args
    )
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()
