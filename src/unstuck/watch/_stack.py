"""Stacks as plain data: ``{"path", "line", "function"}`` frames, innermost last.

Two sources: a thread's running frames (sampled by the watchdog while the loop
is stalled) and a suspended coroutine's ``cr_await`` chain (where an in-flight
request is waiting). A running stack ends at the running task's coroutine (or,
outside a task, just inside the loop's dispatch frame): what lies below is the
event loop and the server that started it, the same for every stall, and
naming it would point at the user's ``uvicorn.run(...)`` line. Every frame
between the loop and the culprit is kept, wherever it lives: only the loop's
own files in the standard library are recognized as the loop, so packages with
``asyncio`` in their path (``sqlalchemy/ext/asyncio``) keep their frames.
"""

from __future__ import annotations

import os
import sysconfig
from collections.abc import Iterator
from types import CodeType, FrameType
from typing import Any, TypedDict


class StackFrame(TypedDict):
    path: str
    line: int
    function: str


#: Innermost frames kept: only runaway recursion is longer.
MAX_FRAMES = 256

_LIBRARY_DIRS = tuple(
    {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
)
_ASYNCIO_DIR = os.path.join(sysconfig.get_paths()["stdlib"], "asyncio")
#: The files whose frames run the loop itself and dispatch its callbacks.
_LOOP_FILES = frozenset(
    os.path.join(_ASYNCIO_DIR, name)
    for name in ("events.py", "base_events.py", "runners.py", "selector_events.py")
)
#: The watcher's own frames (the pytest plugin's wrapper) are not the application's.
_WATCH_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_UVLOOP_PART = os.sep + "uvloop" + os.sep


def _frame(code: CodeType, line: int | None) -> StackFrame:
    return {
        "path": code.co_filename,
        "line": line or code.co_firstlineno,
        "function": code.co_qualname,
    }


def is_loop_dispatch(path: str) -> bool:
    """A file of the event loop itself (asyncio's loop and runner, uvloop)."""
    return path in _LOOP_FILES or (_UVLOOP_PART in path and path.startswith(_LIBRARY_DIRS))


def thread_stack(frame: FrameType | None, outermost: FrameType | None = None) -> list[StackFrame]:
    """The frames of a running thread from ``frame`` outwards, innermost last.

    ``outermost`` is the running task's coroutine frame: the stack ends there.
    Without it (no task, or the frame is not on this stack) it ends just inside
    the first frame of the loop's dispatch; a stall in the loop's own code keeps
    that one frame.
    """
    frames: list[StackFrame] = []
    walked = frame
    while walked is not None and len(frames) < MAX_FRAMES:
        frames.append(_frame(walked.f_code, walked.f_lineno))
        if walked is outermost:
            frames.reverse()
            return frames
        walked = walked.f_back
    frames = []
    while frame is not None and len(frames) < MAX_FRAMES:
        if is_loop_dispatch(frame.f_code.co_filename):
            if not frames:
                frames.append(_frame(frame.f_code, frame.f_lineno))
            break
        frames.append(_frame(frame.f_code, frame.f_lineno))
        frame = frame.f_back
    frames.reverse()
    return frames


def _awaited(obj: Any) -> Any:
    for attribute in ("cr_await", "gi_yieldfrom", "ag_await"):
        if hasattr(obj, attribute):
            return getattr(obj, attribute)
    return None


def _code_and_line(obj: Any) -> tuple[CodeType, int | None] | None:
    for attribute in ("cr_frame", "gi_frame", "ag_frame"):
        frame = getattr(obj, attribute, None)
        if frame is not None:
            return frame.f_code, frame.f_lineno
    return None


def _await_chain(coroutine: Any) -> Iterator[Any]:
    seen = 0
    while coroutine is not None and seen < 200:
        yield coroutine
        coroutine = _awaited(coroutine)
        seen += 1


def await_stack(coroutine: Any) -> list[StackFrame]:
    """Where a suspended coroutine waits: its ``cr_await`` chain, innermost last."""
    frames: list[StackFrame] = []
    for link in _await_chain(coroutine):
        located = _code_and_line(link)
        if located is not None:
            frames.append(_frame(*located))
        elif frames:
            # A future, a task or an awaitable object: name what is awaited.
            name = type(link).__qualname__
            if name == "FutureIter":  # the C Future's __await__ iterator
                name = "Future"
            frames.append({"path": "<awaitable>", "line": 0, "function": name})
            break
    return frames[-MAX_FRAMES:]


_PACKAGE_DIRS = (os.sep + "site-packages" + os.sep, os.sep + "dist-packages" + os.sep)


def is_library(path: str) -> bool:
    """Not the application's code: the standard library, installed packages
    (in this environment or another one on the path, as ``uv run --with``
    layers them), the watcher itself, or code without a file
    (``<frozen importlib._bootstrap>``)."""
    return (
        path.startswith(_LIBRARY_DIRS)
        or path.startswith(_WATCH_DIR)
        or path.startswith("<")
        or any(part in path for part in _PACKAGE_DIRS)
    )


def blamed_frame(stack: list[StackFrame]) -> StackFrame | None:
    """The innermost frame of the application's own code, else the innermost
    frame that has a file, else the innermost frame."""
    for frame in reversed(stack):
        if not is_library(frame["path"]):
            return frame
    for frame in reversed(stack):
        if not frame["path"].startswith("<"):
            return frame
    return stack[-1] if stack else None
