"""``unstuck.check`` needs nothing but the standard library and never imports the service."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import unstuck.check

FIXTURE = Path(__file__).parent / "fixtures" / "rules" / "sqlalchemy" / "positive.py"

_PROBE = """
import importlib.abc, sys

BLOCKED = ("fastapi", "starlette", "sqlalchemy", "pydantic", "celery", "redis", "httpx",
           "requests", "anyio", "unstuck.service", "unstuck.lab")

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.startswith(BLOCKED):
            raise ImportError(f"{name} must not be imported")
        return None

sys.meta_path.insert(0, Refuse())
from unstuck.check.cli import main
code = main([sys.argv[1], "--format", "json"])
assert not [m for m in sys.modules if m.startswith(BLOCKED)]
sys.exit(code)
"""


def test_runs_without_the_service_dependencies() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, str(FIXTURE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert '"USK105"' in result.stdout


def test_no_module_of_the_checker_imports_another_part() -> None:
    package = Path(unstuck.check.__file__).parent
    for path in package.rglob("*.py"):
        text = path.read_text()
        for other in ("unstuck.service", "unstuck.watch", "unstuck.lab"):
            assert f"import {other}" not in text and f"from {other}" not in text, path


def test_public_api() -> None:
    assert sorted(unstuck.check.__all__) == [
        "ALL_RULES",
        "ChainLink",
        "Config",
        "ConfigError",
        "FileProblem",
        "Finding",
        "Report",
        "Route",
        "Rule",
        "check",
        "load_config",
    ]
    for name in unstuck.check.__all__:
        assert getattr(unstuck.check, name) is not None
