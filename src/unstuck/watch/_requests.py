"""In-flight requests: who is running, for how long, and which route it is.

The ASGI middleware registers each request's ``scope`` and start time with the
task serving it; the router later writes
``scope["route"]`` into that same dict, so the route template becomes known
without any hook. The registry feeds the in-flight table and gauges; stalls
are named from the running task's context (``_origin``), or, for code outside
the watcher's context, from the ``scope`` local of a sampled frame.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import MutableMapping
from types import FrameType
from typing import Any

from unstuck.watch._origin import Origin, Scope, origin_of_scope, route_of
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

    ``active`` maps the task serving a request to its ``Entry``. The middleware
    writes it inline, since it is the only cost paid by every request; readers
    build ``InflightRequest`` views.
    """

    def __init__(self) -> None:
        self.active: dict[asyncio.Task[Any], Entry] = {}

    def __len__(self) -> int:
        return len(self.active)

    def requests(self) -> list[InflightRequest]:
        # A copy in one C call: the loop may change the dict while another thread reads.
        items = list(self.active.items())
        return [InflightRequest(scope, started, task) for task, (scope, started) in items]

    def for_task(self, task: asyncio.Task[Any] | None) -> InflightRequest | None:
        entry = None if task is None else self.active.get(task)
        return None if entry is None else InflightRequest(entry[0], entry[1], task)

    def serving(self, scope: Scope, task: asyncio.Task[Any] | None = None) -> bool:
        """Whether the request of ``scope`` is in flight; safe from another thread.

        ``task``, when it is the one serving the request, answers in one lookup;
        otherwise (a task the request created) the entries are searched.
        """
        entry = None if task is None else self.active.get(task)
        if entry is not None and entry[0] is scope:
            return True
        return any(entry[0] is scope for entry in list(self.active.values()))

    def snapshot(self) -> list[dict[str, Any]]:
        """Every in-flight request with its age and await stack; call on the loop."""
        now = time.monotonic()
        rows: list[dict[str, Any]] = []
        for request in sorted(self.requests(), key=lambda r: r.started):
            coroutine = request.task.get_coro() if request.task is not None else None
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
