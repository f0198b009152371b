"""Migrations: applied twice without harm, reported by Alembic, reversible."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory

from unstuck.service.migrations import alembic_config, upgrade
from unstuck.service.settings import Settings


def _tables(data_dir: Path) -> set[str]:
    with closing(sqlite3.connect(data_dir / "unstuck.db")) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}


def test_upgrade_is_idempotent_and_reversible(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "fresh")
    upgrade(settings)
    upgrade(settings)
    assert {"users", "alembic_version"} <= _tables(settings.data_dir)
    with closing(sqlite3.connect(settings.data_dir / "unstuck.db")) as connection:
        (version,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    head = ScriptDirectory.from_config(alembic_config(settings)).get_current_head()
    assert version == head

    command.downgrade(alembic_config(settings), "base")
    assert "users" not in _tables(settings.data_dir)


def test_config_in_code_works_with_alembic_commands(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    config = alembic_config(settings)
    settings.data_dir.mkdir(exist_ok=True)
    command.upgrade(config, "head")
    assert "users" in _tables(tmp_path)
