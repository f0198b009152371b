"""One finding per blocking site, with every route and every entry that reaches it.

Each coroutine (and each sync startup handler, which Starlette runs on the loop) is an
entry; ``blocking`` gives the sites it reaches and the best chain to each. A site reached
per request by any entry is one finding, listing the routes whose requests reach it and
the lines where the loop enters the code that leads there. A site reached only once per
process (``once``: startup, import time, CLI, memoised or set-once code) is reported
apart, and only when asked for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping

from unstuck.check.blockers import Blocker, Site
from unstuck.check.blocking import BlockingAnalysis, as_finding
from unstuck.check.model import Attribute, Call, ChainLink, Finding
from unstuck.check.once import (
    ONCE_BLOCK,
    life_handlers,
    once_only,
    started_on_own_loop,
    started_once,
    test_coroutines,
    worker_jobs,
)
from unstuck.check.program import Program, last_name
from unstuck.check.routes import Route
from unstuck.check.values import Class, Function, Instance, Key, LibraryObject, value_order

_MODEL_BASES = frozenset({"pydantic.BaseModel", "pydantic.main.BaseModel", "sqlmodel.SQLModel"})
_VALIDATORS = frozenset({"field_validator", "model_validator", "validator", "root_validator"})
# methods of an asyncio event loop that run a sync callback on the loop, later: the
# position of the callback among their arguments
_LOOP_CALLBACKS = {
    "call_soon": 0,
    "call_soon_threadsafe": 0,
    "call_later": 1,
    "call_at": 1,
    "add_signal_handler": 1,
    "add_reader": 1,
    "add_writer": 1,
}
# (path, line, code) -> whether a comment there suppresses that code
Suppressed = Callable[[str, int, str], bool]


@dataclasses.dataclass(slots=True)
class SiteFindings:
    per_request: list[Finding]
    once_per_process: list[Finding]


def site_findings(
    analysis: BlockingAnalysis,
    routes: list[Route],
    suppressed: Suppressed,
    wrapped: Mapping[Key, str],
) -> SiteFindings:
    """``wrapped``: the label of middleware and exception handlers (``middleware of 12
    routes``), which serve requests too."""
    program = analysis.program
    routes_of: dict[Key, set[str]] = {}
    added = _added_tasks(program)
    for route in routes:
        for key in route.loop_functions:
            routes_of.setdefault(key, set()).add(route.label)
        # a coroutine given to ``BackgroundTasks.add_task`` runs on the loop after the
        # response, whether the route is ``async def`` or ``def``; a sync function given
        # to it runs in the thread pool (not followed)
        serving = [*route.loop_functions, route.handler_key]
        for key in _background_coroutines(analysis, serving, added):
            routes_of.setdefault(key, set()).add(route.label)
    for key, label in wrapped.items():
        routes_of.setdefault(key, {label})
    validators = _validators(program, routes)
    for key, served in validators.items():
        routes_of.setdefault(key, set()).update(served)
    # a sync function the loop is asked to call back runs on the loop, for the route
    # that scheduled it
    scheduled = _loop_callbacks(program)
    for route in routes:
        for key in route.loop_functions:
            for callback in scheduled.get(key, ()):
                routes_of.setdefault(callback, set()).add(route.label)
    callbacks = list(dict.fromkeys(key for keys in scheduled.values() for key in keys))
    entries: dict[Key, str] = started_once(program)
    entries.update(life_handlers(program))
    for key, kind in worker_jobs(program).items():
        entries.setdefault(key, kind)
    for key, kind in started_on_own_loop(program).items():
        entries.setdefault(key, kind)
    tests = test_coroutines(program)
    for key, kind in tests.items():
        entries.setdefault(key, kind)
    callers: dict[Key, list[Key]] = {}
    coroutines = [key for key, function in program.functions() if function.is_async]
    for key in coroutines:
        if key in tests:
            # what a test calls directly, production may reach another way (a task
            # queue, a graph of nodes): a test's calls neither make code once per
            # process nor keep it per request
            continue
        # awaited only: a task started there (``scan.spawned``) runs on beside the
        # requests, so starting it from the lifespan does not make it once per process
        for callee in analysis.scan(key).async_calls:
            callers.setdefault(callee, []).append(key)
    for scheduler, keys in scheduled.items():
        for callback in keys:
            callers.setdefault(callback, []).append(scheduler)
    # a coroutine awaited only under once-guards runs once, whoever awaits it
    for key in coroutines:
        for callee in analysis.scan(key).awaited_once:
            if callee not in callers:
                entries.setdefault(callee, ONCE_BLOCK)
    once = once_only(entries, callers, set(routes_of))
    handled: dict[Key, set[str]] = {}  # the routes each handler serves
    for route in routes:
        handled.setdefault(route.handler_key, set()).add(route.label)
    # sync handlers a decorator's ``async def`` wrapper calls on the loop
    wrapped_sync = [
        route.handler_key
        for route in routes
        if route.handler_key[0]
        and (function := program.function(route.handler_key)) is not None
        and not function.is_async
        and route.handler_key in route.loop_functions
    ]
    # coroutines the framework or the loop runs, whatever calls them
    run_anyway = {*handled, *entries, *validators, *callbacks, *wrapped}
    reached: dict[Site, list[_Way]] = {}
    for key in dict.fromkeys([*coroutines, *entries, *validators, *callbacks, *wrapped_sync]):
        reason = once.get(key)
        for blocker in analysis.reaches(key):
            if _is_suppressed(blocker, suppressed):
                continue
            through = None
            if key not in run_anyway:
                # the line may run for some callers only: ``if socket_dir is not None:``
                through = analysis.callers_leaving_on(key, blocker)
                if through == []:
                    continue  # every call turns it off
            if reason is not None and blocker.once is None:
                blocker = dataclasses.replace(blocker, once=reason)
            reached.setdefault(blocker.site, []).append(_Way(key, blocker, through))
    found = SiteFindings([], [])
    for site in sorted(reached):
        ways = reached[site]
        per_request = [way for way in ways if way.blocker.once is None]
        chosen = per_request or ways
        # the chain shown starts from a route's coroutine when one reaches the site:
        # the route named must be one the chain shown starts from
        best_way = min(
            chosen, key=lambda way: (not way.routes(routes_of), _chain_order(way.blocker))
        )
        best = best_way.blocker
        labels = sorted({label for way in chosen for label in way.routes(routes_of)})
        # the route named is one the chain shown starts from, the nearest to it
        own = best_way.routes(routes_of)
        named = _nearest_route(best_way, callers, handled, own) or min(own, default=None)
        entries_at = sorted(
            {way.blocker.chain[0] for way in chosen},
            key=lambda link: (link.path, link.line, link.function),
        )
        finding = as_finding(best).reached_by(tuple(labels), tuple(entries_at), named)
        (found.per_request if per_request else found.once_per_process).append(finding)
    return found


@dataclasses.dataclass(frozen=True, slots=True)
class _Way:
    """How an entry reaches a site: the coroutine, its chain, and the callers whose calls
    of it run the chain's first line (``None``: every caller)."""

    key: Key
    blocker: Blocker
    through: list[Key] | None

    def routes(self, routes_of: Mapping[Key, set[str]]) -> set[str]:
        if self.through is None:
            return set(routes_of.get(self.key, ()))
        return {label for caller in self.through for label in routes_of.get(caller, ())}


def _nearest_route(
    start: _Way, callers: Mapping[Key, list[Key]], handled: Mapping[Key, set[str]], among: set[str]
) -> str | None:
    """Of the routes ``among``, the first of those whose handler awaits the way's
    coroutine in the fewest steps (``GET /events`` that awaits ``get_event`` itself,
    rather than a route that starts a poller that does)."""
    seen, frontier = {start.key}, [start.key]
    while frontier:
        here = {label for key in frontier for label in handled.get(key, ()) if label in among}
        if here:
            return min(here)
        following: list[Key] = []
        for key in frontier:
            step = start.through if key == start.key and start.through is not None else None
            for caller in step if step is not None else callers.get(key, ()):
                if caller not in seen:
                    seen.add(caller)
                    following.append(caller)
        frontier = following
    return None


def _validators(program: Program, routes: list[Route]) -> dict[Key, set[str]]:
    """Validators of the pydantic models a route takes as parameters: FastAPI validates
    the request on the event loop, before a ``def`` route goes to the thread pool (a
    parameter filled by ``Depends`` takes what the dependency returns, unvalidated)."""
    found: dict[Key, set[str]] = {}
    for route in routes:
        handler = program.function(route.handler_key)
        module = route.handler_key[0]
        for param in handler.params if handler is not None else ():
            if param.annotation is None:
                continue
            annotated = program.eval(param.annotation, module)
            if program.dependencies(annotated, param.default, module, library=True):
                continue  # a dependency's value is handed over as it is, not validated
            for value in program.instances(annotated):
                if isinstance(value, Instance) and _is_model(program, value.key):
                    for validator in _validator_methods(program, value.key):
                        found.setdefault(validator, set()).add(route.label)
    return found


def _loop_callbacks(program: Program) -> dict[Key, list[Key]]:
    """The sync project functions each function hands to the event loop to call back
    (``loop.call_later(5, flush)``, ``loop.call_soon(partial(flush, queue))``)."""
    found: dict[Key, list[Key]] = {}
    for name, position in _LOOP_CALLBACKS.items():
        for key, call in program.calls_named(name):
            if not isinstance(call.func, Attribute) or len(call.args) <= position:
                continue
            callback = call.args[position]
            if isinstance(callback, Call) and last_name(callback.func) == "partial":
                if not callback.args:
                    continue
                callback = callback.args[0]
            for value in sorted(program.eval(callback, key[0]), key=value_order):
                target = program.function(value.key) if isinstance(value, Function) else None
                if isinstance(value, Function) and target is not None and not target.is_async:
                    found.setdefault(key, []).append(value.key)
    return found


def _is_model(program: Program, key: Key) -> bool:
    return any(
        isinstance(entry, LibraryObject) and entry.name in _MODEL_BASES
        for entry in program.mro(key)
    )


def _validator_methods(program: Program, key: Key) -> list[Key]:
    methods: list[Key] = []
    for entry in program.mro(key):
        if not isinstance(entry, Class):
            continue
        module, klass = entry.key[0], program.klass(entry.key)
        for qualname in klass.methods.values() if klass is not None else ():
            function = program.function((module, qualname))
            if function is not None and any(
                last_name(decorator.func if isinstance(decorator, Call) else decorator)
                in _VALIDATORS
                for decorator in function.decorators
            ):
                methods.append((module, qualname))
    return methods


def _added_tasks(program: Program) -> dict[Key, list[Call]]:
    """The ``add_task(...)`` calls of each function that makes some."""
    found: dict[Key, list[Call]] = {}
    for key, call in program.calls_named("add_task"):
        if call.args:
            found.setdefault(key, []).append(call)
    return found


def _background_coroutines(
    analysis: BlockingAnalysis, serving: Iterable[Key], added: Mapping[Key, list[Call]]
) -> set[Key]:
    program = analysis.program
    found: set[Key] = set()
    pending: list[Key] = []
    for key in serving:
        for call in added.get(key, ()):
            for value in sorted(program.eval(call.args[0], key[0]), key=value_order):
                if not isinstance(value, Function):
                    continue
                task = program.function(value.key)
                if task is not None and task.is_async:
                    pending.append(value.key)
    while pending:  # and the coroutines they await or start
        key = pending.pop()
        if key not in found:
            found.add(key)
            scan = analysis.scan(key)
            pending.extend(scan.async_calls)
            pending.extend(scan.spawned)
    return found


def _chain_order(blocker: Blocker) -> tuple[int, list[tuple[str, int, str]]]:
    return len(blocker.chain), [(link.path, link.line, link.function) for link in blocker.chain]


def _is_suppressed(blocker: Blocker, suppressed: Suppressed) -> bool:
    """A suppression at the site, or on any line of the way there (an intended call in
    a helper is marked once, where it is; a caller may mark the call it makes)."""
    code = blocker.site.code
    links: tuple[ChainLink, ...] = blocker.chain
    return suppressed(blocker.site.path, blocker.site.line, code) or any(
        suppressed(link.path, link.line, code) for link in links
    )
