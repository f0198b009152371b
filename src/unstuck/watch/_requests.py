"""In-flight requests: who is running, for how long, and which route it is.

The ASGI middleware registers each request's ``scope`` and start time; the
router later writes
``scope["route"]`` into that same dict, so the route template becomes known
without any hook. The registry feeds the in-flight table and gauges; stalls
are named from the running task's context (``_origin``), or, for code outside
the watcher's context, from the ``scope`` local of a sampled frame.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import MutableMapping
from types import CodeType, FrameType
from typing import Any

from unstuck.watch._origin import ACTIVITY, Origin, Scope, origin_of_scope, route_of, task_context
from unstuck.watch._stack import StackFrame, await_stack

__all__ = ["Entry", "InflightRequest", "RequestRegistry", "Scope", "origin_from_frames", "route_of"]


#: What the middleware registers per request: its ``scope`` and when it began
#: (monotonic). A plain pair: it is built on every request, and a class of our
#: own would cost several times the tuple.
Entry = tuple[Scope, float]


class InflightRequest:
    __slots__ = ("scope", "started", "task")

    def __init__(self, scope: Scope, started: float, task: asyncio.Task[Any] | None) -> None:
        self.scope = scope
        self.started = started
        self.task = task

    @property
    def route(self) -> str | None:
        return route_of(self.scope)


class RequestRegistry:
    """Requests being served by this process; written on the loop, read by the watchdog.

    ``active`` maps ``id(scope)`` of each request in flight to its ``Entry``
    (the scope is kept alive by the request meanwhile). The middleware writes it
    inline, since it is the only cost paid by every request: the task serving
    a request is not looked up then (``asyncio.current_task`` is a Python
    function before 3.12) but when a snapshot needs its await stack.

    ``now`` is the loop's clock as of the last heartbeat (0 before the first):
    the start of a request is read from it instead of the system clock, which
    costs more than the rest of the registration on some virtual machines; so
    an age is at most one heartbeat (plus the loop's lag) too long.
    """

    def __init__(self) -> None:
        self.active: dict[int, Entry] = {}
        self.now = 0.0
        #: The code of the middleware's per-request function, which stays on the
        #: await chain of the task serving a request while it is in flight.
        self.entry_code: CodeType | None = None

    def __len__(self) -> int:
        return len(self.active)

    def requests(self) -> list[InflightRequest]:
        # A copy in one C call: the loop may change the dict while another thread reads.
        entries = list(self.active.values())
        return [InflightRequest(scope, started, None) for scope, started in entries]

    def serving(self, scope: Scope) -> bool:
        """Whether the request of ``scope`` is in flight; safe from another thread."""
        entry = self.active.get(id(scope))
        return entry is not None and entry[0] is scope

    def _tasks(self) -> dict[int, asyncio.Task[Any]]:
        """The task serving each request in flight, by ``id(scope)``; call on the loop."""
        owners: dict[int, asyncio.Task[Any]] = {}
        if not self.active or self.entry_code is None:
            return owners
        for task in asyncio.all_tasks():
            context = task_context(task)
            value = None if context is None else context.get(ACTIVITY)
            if not isinstance(value, MutableMapping) or not self.serving(value):
                continue
            if _awaits_code(task, self.entry_code):
                owners[id(value)] = task
        return owners

    def snapshot(self) -> list[dict[str, Any]]:
        """Every in-flight request with its age and await stack; call on the loop."""
        now = time.monotonic()
        owners = self._tasks()
        rows: list[dict[str, Any]] = []
        for request in sorted(self.requests(), key=lambda r: r.started):
            task = owners.get(id(request.scope))
            coroutine = task.get_coro() if task is not None else None
            stack: list[StackFrame] = await_stack(coroutine) if coroutine is not None else []
            rows.append(
                {
                    "route": request.route,
                    "method": request.scope.get("method"),
                    "path": request.scope.get("path"),
                    "age_ms": round((now - request.started) * 1000, 1),
                    "stack": stack,
                }
            )
        return rows


def _awaits_code(task: asyncio.Task[Any], code: CodeType) -> bool:
    """Whether a frame of ``code`` is on the await chain of ``task``."""
    awaited: Any = task.get_coro()
    depth = 0
    while awaited is not None and depth < 200:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is not None and frame.f_code is code:
            return True
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
        depth += 1
    return False


def origin_from_frames(frame: FrameType | None) -> Origin | None:
    """The request of the innermost frame that holds an ASGI ``scope`` local.

    For code that runs outside the watcher's context (a middleware added after
    ``watch(app)`` runs before it).
    """
    depth = 0
    while frame is not None and depth < 200:
        # f_locals of a running frame is a snapshot; reading it needs only the GIL.
        scope = frame.f_locals.get("scope")
        if isinstance(scope, MutableMapping) and scope.get("type") in {"http", "websocket"}:
            return origin_of_scope(scope)
        frame = frame.f_back
        depth += 1
    return None
