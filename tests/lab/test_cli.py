"""``unstuck lab`` usage errors, and the pieces of a verdict that need no service."""

from __future__ import annotations

from pathlib import Path

import pytest

from unstuck.cli import main as unstuck
from unstuck.lab.claims import ALL
from unstuck.lab.claims.thread_pool import capacity_bounds
from unstuck.lab.cli import main, service_database_url


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--only", "nope"], "--only: unknown claim nope; choose from: async_sleep"),
        (["--only", ","], "--only: unknown claim (none)"),
        (["--database-url", "mysql://x@h/db"], "--database-url must be a PostgreSQL URL"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_usage_exits_2_with_a_message(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--report", str(tmp_path / "r")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r" / "results.json").exists()


def test_a_report_path_that_is_a_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "taken"
    target.write_text("not a directory")
    assert unstuck(["lab", "--report", str(target)]) == 2
    assert "exists and is not a directory" in capsys.readouterr().err


def test_list_names_every_claim(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == [claim.name for claim in ALL]
    assert len(listed) == 9


def test_database_urls_are_given_the_async_driver() -> None:
    assert service_database_url("postgresql://u@h:5432/d") == "postgresql+asyncpg://u@h:5432/d"
    assert service_database_url("postgres://u@h/d") == "postgresql+asyncpg://u@h/d"
    assert service_database_url("postgresql+asyncpg://u@h/d") == "postgresql+asyncpg://u@h/d"


def test_capacity_bounds_pin_the_pool_size() -> None:
    assert capacity_bounds(80, 2) == (40, 79)
    assert capacity_bounds(41, 2) == (21, 40)
    assert capacity_bounds(80, 14) == (6, 6)
    assert capacity_bounds(80, 1)[0] == 80
