"""Stacks as plain data: ``{"path", "line", "function"}`` frames, innermost last.

Two sources: a thread's running frames (sampled by the watchdog while the loop
is stalled) and a suspended coroutine's ``cr_await`` chain (where an in-flight
request is waiting). The frames of the event loop itself (``asyncio``,
``uvloop``, the task step) are cut off: they are the same for every stall.
"""

from __future__ import annotations

import sysconfig
from collections.abc import Iterator
from types import CodeType, FrameType
from typing import Any, TypedDict


class StackFrame(TypedDict):
    path: str
    line: int
    function: str


#: Innermost frames kept; the deepest middleware stacks fit comfortably.
MAX_FRAMES = 60

_LIBRARY_DIRS = tuple(
    {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
)
_LOOP_MACHINERY = ("/asyncio/", "/uvloop/")


def _frame(code: CodeType, line: int | None) -> StackFrame:
    return {
        "path": code.co_filename,
        "line": line or code.co_firstlineno,
        "function": code.co_qualname,
    }


def thread_stack(frame: FrameType | None) -> list[StackFrame]:
    """The frames of a running thread from ``frame`` outwards, innermost last."""
    frames: list[StackFrame] = []
    in_task = False
    while frame is not None:
        machinery = any(part in frame.f_code.co_filename for part in _LOOP_MACHINERY)
        if machinery and in_task:
            # Below the task's own frames everything is the event loop's machinery.
            break
        in_task = in_task or not machinery
        frames.append(_frame(frame.f_code, frame.f_lineno))
        frame = frame.f_back
    frames.reverse()
    return frames[-MAX_FRAMES:]


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


def is_library(path: str) -> bool:
    return path.startswith(_LIBRARY_DIRS) or path.startswith("<")


def blamed_frame(stack: list[StackFrame]) -> StackFrame | None:
    """The innermost frame of the application's own code, else the innermost frame."""
    for frame in reversed(stack):
        if not is_library(frame["path"]):
            return frame
    return stack[-1] if stack else None
