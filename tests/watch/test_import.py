"""``import unstuck`` and the watcher's API need only the standard library and prometheus_client."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap

import unstuck

BLOCKED = ["fastapi", "starlette", "sqlalchemy", "anyio", "uvicorn", "httpx", "pydantic", "sniffio"]


def test_imports_without_the_service_dependencies() -> None:
    script = textwrap.dedent(
        f"""
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {BLOCKED!r}:
                    raise ImportError(f"{{name}} is blocked for this test")
                return None

        sys.meta_path.insert(0, Block())
        import unstuck
        from unstuck.watch import register_engine, watch
        import unstuck.watch.pytest_plugin
        import unstuck.watch._metrics, unstuck.watch._db_pools, unstuck.watch._watchdog

        assert callable(unstuck.watch) and unstuck.watch.watch is watch
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in {BLOCKED!r})
        assert loaded == [], loaded
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_public_api() -> None:
    assert unstuck.__all__ == ["watch"]
    package = importlib.import_module("unstuck.watch")
    assert sorted(package.__all__) == [
        "Stall",
        "WatchConfig",
        "Watcher",
        "mark_worker_dead",
        "register_engine",
        "watch",
        "watcher_of",
    ]
    assert unstuck.watch is package


def _run(script: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_import_unstuck_loads_neither_the_watcher_nor_prometheus() -> None:
    # The checker's start-up time depends on it.
    loaded = _run(
        """
        import sys
        import unstuck
        print(sorted(m for m in sys.modules if m.startswith(("unstuck.", "prometheus_client"))))
        """
    )
    assert loaded == "[]"


def test_every_spelling_of_the_watcher_is_the_same_package() -> None:
    out = _run(
        """
        import unstuck
        from unstuck import watch
        import unstuck.watch as w
        from unstuck.watch import register_engine, watch as watch_function
        from fastapi import FastAPI

        assert watch is w is unstuck.watch
        assert w.register_engine is register_engine and w.watch is watch_function
        app = FastAPI()
        assert unstuck.watch(app) is app  # the package is callable, as before
        assert w.watcher_of(app) is not None
        other = FastAPI()
        assert watch_function(other) is other and w.watcher_of(other) is not None
        print("ok")
        """
    )
    assert out == "ok"
