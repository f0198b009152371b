"""In-flight requests: who is running, for how long, and which route it is.

The ASGI middleware registers each request with the task serving it and keeps a
reference to its ``scope``; the router later writes ``scope["route"]`` into
that same dict, so the route template becomes known without any hook. The
watchdog thread reads the registry to name the route of a stall: first by the
loop's current task, then, for code running in a child task (``call_next`` of
``BaseHTTPMiddleware``), by the ``scope`` local of a sampled frame.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import MutableMapping
from types import FrameType
from typing import Any

from unstuck.watch._stack import StackFrame, await_stack

Scope = MutableMapping[str, Any]


def route_of(scope: Scope) -> str | None:
    """``"GET /items/{item_id}"`` once the router has matched, else ``None``."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if not isinstance(template, str):
        return None
    # A route inside a Mount: its template is relative to the mount's prefix.
    prefix = str(scope.get("root_path", ""))[len(str(scope.get("app_root_path", ""))) :]
    if prefix and not template.startswith(prefix):
        template = prefix + template
    method = scope.get("method", "WS" if scope.get("type") == "websocket" else "")
    return f"{method} {template}".strip()


class InflightRequest:
    __slots__ = ("scope", "started", "task")

    def __init__(self, scope: Scope, task: asyncio.Task[Any] | None, started: float) -> None:
        self.scope = scope
        self.task = task
        self.started = started

    @property
    def route(self) -> str | None:
        return route_of(self.scope)


class RequestRegistry:
    """Requests being served by this process; written on the loop, read by the watchdog.

    ``active`` maps the task serving a request to ``(scope, start time)``. The
    middleware writes it inline, since it is the only cost paid by every request;
    readers build ``InflightRequest`` views.
    """

    def __init__(self) -> None:
        self.active: dict[asyncio.Task[Any], tuple[Scope, float]] = {}

    def __len__(self) -> int:
        return len(self.active)

    def requests(self) -> list[InflightRequest]:
        # A copy in one C call: the loop may change the dict while another thread reads.
        items = list(self.active.items())
        return [InflightRequest(scope, task, started) for task, (scope, started) in items]

    def for_task(self, task: asyncio.Task[Any] | None) -> InflightRequest | None:
        entry = None if task is None else self.active.get(task)
        return None if entry is None else InflightRequest(entry[0], task, entry[1])

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


def route_from_frames(frame: FrameType | None) -> str | None:
    """The route of the innermost frame that holds a routed ASGI ``scope`` local."""
    depth = 0
    while frame is not None and depth < 200:
        # f_locals of a running frame is a snapshot; reading it needs only the GIL.
        scope = frame.f_locals.get("scope")
        if isinstance(scope, MutableMapping) and scope.get("type") in {"http", "websocket"}:
            route = route_of(scope)
            if route is not None:
                return route
        frame = frame.f_back
        depth += 1
    return None
