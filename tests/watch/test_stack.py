"""Stacks keep every frame between the loop and the culprit, and blame the application."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import textwrap
from pathlib import Path
from types import FrameType, ModuleType

from unstuck.watch._stack import StackFrame, blamed_frame, thread_stack


def _module_at(path: Path, source: str) -> ModuleType:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_package_with_asyncio_in_its_path_keeps_its_frames(tmp_path: Path) -> None:
    # Like sqlalchemy: its asyncio layer between the user's code and the sync ORM.
    orm = _module_at(
        tmp_path / "site" / "sqlalchemy" / "orm" / "session.py",
        """
        import sys

        def execute(callback):
            return callback(sys._getframe())
        """,
    )
    library = _module_at(
        tmp_path / "site" / "sqlalchemy" / "ext" / "asyncio" / "session.py",
        """
        async def execute(orm, callback):
            return orm.execute(callback)
        """,
    )
    user = _module_at(
        tmp_path / "app" / "orders.py",
        """
        async def list_orders(execute, orm, callback):
            return await execute(orm, callback)
        """,
    )

    async def main() -> list[StackFrame]:
        task = asyncio.current_task()
        assert task is not None
        coroutine: object = task.get_coro()
        outermost: FrameType | None = getattr(coroutine, "cr_frame", None)
        frames: list[StackFrame] = await user.list_orders(
            library.execute, orm, lambda frame: thread_stack(frame, outermost)
        )
        return frames

    stack = asyncio.run(main())
    functions = [frame["function"] for frame in stack]
    assert functions == [
        "test_a_package_with_asyncio_in_its_path_keeps_its_frames.<locals>.main",
        "list_orders",
        "execute",
        "execute",
    ]
    assert stack[2]["path"].endswith("ext/asyncio/session.py")


def test_a_callback_outside_any_task_ends_at_the_loop(tmp_path: Path) -> None:
    # No task runs: the stack must not go on to asyncio.run(...) and this test's frames.
    captured: list[list[StackFrame]] = []

    def callback() -> None:
        captured.append(thread_stack(sys._getframe()))

    async def main() -> None:
        asyncio.get_running_loop().call_soon(callback)
        await asyncio.sleep(0.01)

    asyncio.run(main())
    (stack,) = captured
    assert [frame["function"] for frame in stack] == [
        "test_a_callback_outside_any_task_ends_at_the_loop.<locals>.callback"
    ]


def test_frames_without_a_file_are_not_the_application() -> None:
    app: StackFrame = {"path": "/srv/app/main.py", "line": 3, "function": "handler"}
    frozen: StackFrame = {"path": "<frozen importlib._bootstrap>", "line": 1, "function": "_load"}
    library: StackFrame = {
        "path": str(Path(asyncio.__file__).parent / "tasks.py"),
        "line": 9,
        "function": "sleep",
    }
    assert blamed_frame([app, frozen]) == app
    # A package of another environment on the path (``uv run --with`` layers them).
    other_env: StackFrame = {
        "path": "/cache/env/lib/python3.11/site-packages/fastapi/routing.py",
        "line": 5,
        "function": "run_endpoint_function",
    }
    assert blamed_frame([app, other_env]) == app
    # With no application frame, a frame that has a file, not <frozen ...>.
    assert blamed_frame([library, frozen]) == library


def test_a_stall_in_the_loops_own_code_does_not_reach_the_code_that_started_it() -> None:
    # The loop itself (a collection during _run_once, the selector): the stack
    # must stop there, not go on to asyncio.run(...) or the server's run line.
    captured: list[list[StackFrame]] = []

    def callback() -> None:
        frame: FrameType | None = sys._getframe()
        while frame is not None and frame.f_code.co_name != "_run_once":
            frame = frame.f_back
        captured.append(thread_stack(frame))

    async def main() -> None:
        asyncio.get_running_loop().call_soon(callback)
        await asyncio.sleep(0.01)

    asyncio.run(main())
    (stack,) = captured
    assert [frame["function"] for frame in stack] == ["BaseEventLoop._run_once"]
    assert not any(frame["path"] == __file__ for frame in stack)
