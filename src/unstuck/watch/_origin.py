"""On whose behalf the loop ran a piece of code: the origin of a stall.

The middleware puts the request's ASGI ``scope`` in the ``ACTIVITY`` context
variable for the length of each request (the dict itself: nothing is built per
request); the watcher puts a ``Phase`` there during the app's start-up and
shutdown. Every task created inside (``create_task``, ``gather``,
``wait_for``, anyio task groups) copies the context, so the scope travels with
the work. Whether its request is still being served is read, when asked, from
the registry of requests in flight: a task whose request has answered was
spawned by it and outlives it.

The watchdog thread cannot read another thread's context variables; it reads
the running task's ``Context`` object instead (``Task.get_context()`` from
Python 3.12; before, the C task exposes its context only to the garbage
collector, as one of its referents).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, MutableMapping
from contextvars import Context, ContextVar
from dataclasses import dataclass
from typing import Any, Literal

Scope = MutableMapping[str, Any]

OriginKind = Literal[
    "request", "before routing", "spawned", "start-up", "shutdown", "garbage collection", "outside"
]


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


def raw_target(scope: Scope) -> str:
    """``"GET /items/42"``: the method and the path as received, before routing."""
    method = scope.get("method", "WS" if scope.get("type") == "websocket" else "")
    return f"{method} {scope.get('path', '')}".strip()


class RequestActivity:
    """A request as seen from a task that runs on its behalf; built off the loop, when asked."""

    __slots__ = ("finished", "scope")

    def __init__(self, scope: Scope, finished: bool) -> None:
        self.scope = scope
        self.finished = finished

    @property
    def route(self) -> str | None:
        return route_of(self.scope)


class Phase:
    """The app's start-up or shutdown (its lifespan, before and after serving)."""

    __slots__ = ("finished", "name")

    def __init__(self, name: Literal["start-up", "shutdown"]) -> None:
        self.name: Literal["start-up", "shutdown"] = name
        self.finished = False


#: The ``scope`` of the request being served, or the app's ``Phase``.
ACTIVITY: ContextVar[Scope | Phase | None] = ContextVar("unstuck_activity", default=None)


@dataclass(frozen=True, slots=True)
class Origin:
    kind: OriginKind
    label: str
    """What the log and the page say: ``GET /x``, ``spawned by GET /x``, ``start-up``..."""
    route: str | None = None
    """The route template, for a request and for the tasks it spawned."""


NO_ROUTE = "(none)"

OUTSIDE = Origin("outside", "code outside any request")
GARBAGE_COLLECTION = Origin("garbage collection", "garbage collection")


def origin_of(activity: RequestActivity | Phase | None) -> Origin:
    match activity:
        case RequestActivity(finished=False) if (route := activity.route) is not None:
            return Origin("request", route, route)
        case RequestActivity(finished=False):
            return Origin("before routing", f"{raw_target(activity.scope)} (before routing)")
        case RequestActivity():
            route = activity.route
            return Origin("spawned", f"spawned by {route or raw_target(activity.scope)}", route)
        case Phase(finished=False):
            return Origin(activity.name, activity.name)
        case Phase():
            return Origin("spawned", f"spawned during {activity.name}")
    return OUTSIDE


def metric_label(origin: Origin) -> str:
    """The ``route`` or ``origin`` label of the counters: bounded, never a raw path."""
    match origin.kind:
        case "request":
            return origin.route or NO_ROUTE
        case "spawned" if origin.route is not None:
            return f"spawned by {origin.route}"
        case "outside":
            return NO_ROUTE
    return f"({origin.kind})"


def origin_of_scope(scope: Scope) -> Origin:
    """For a request met only through a ``scope`` local (a middleware outside ours)."""
    route = route_of(scope)
    if route is not None:
        return Origin("request", route, route)
    return Origin("before routing", f"{raw_target(scope)} (before routing)")


def task_context(task: asyncio.Task[Any]) -> Context | None:
    """The context a task runs in; safe to call from another thread."""
    get_context = getattr(task, "get_context", None)
    if get_context is not None:
        context: Context = get_context()
        return context
    for referent in gc.get_referents(task):
        if isinstance(referent, Context):
            return referent
    return None


def activity_of(
    task: asyncio.Task[Any] | None, serving: Callable[[Scope], bool]
) -> RequestActivity | Phase | None:
    """What ``task`` runs for; ``serving(scope)`` tells whether that request is still in flight."""
    if task is None:
        return None
    context = task_context(task)
    value = None if context is None else context.get(ACTIVITY)
    if value is None or isinstance(value, Phase):
        return value
    return RequestActivity(value, finished=not serving(value))
