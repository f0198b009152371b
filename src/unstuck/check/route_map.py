"""The route map: every route, where its code runs, and what blocks it.

Routes and their full prefixes come from ``registrations`` (decorators, ``add_api_route``,
``include_router`` and ``mount`` on apps and routers, composed across modules), with
the middleware and exception handlers of every app on the way; the records are in
``routes``. Where code runs follows FastAPI: ``async def`` handlers and
dependencies on the event loop, ``def`` ones in the thread pool (anyio, 40 tokens per
worker). What blocks a route is what ``blocking`` finds in the code it runs on the loop.
"""

from __future__ import annotations

from collections.abc import Iterable

from unstuck.check.blockers import Blocker, SyncCall, blocker_message
from unstuck.check.blocking import BlockingAnalysis
from unstuck.check.library_routes import HOOK_BASES
from unstuck.check.model import Expr, Finding, Typed
from unstuck.check.program import Program
from unstuck.check.registrations import Registration, Registrations, join
from unstuck.check.routes import (
    EVENT_LOOP,
    THREAD_POOL,
    Blocking,
    Dependency,
    Route,
    Wrapping,
)
from unstuck.check.values import (
    EMPTY,
    Class,
    Depends,
    Function,
    Instance,
    Key,
    LibraryInstance,
    LibraryObject,
    RouterKey,
    Value,
    value_order,
)
from unstuck.check.wrappers import MIDDLEWARE, Wrapper

_LOOP_FINE = "async def on the event loop and nothing blocks it: keep awaiting async I/O only"
_LIBRARY_ENDPOINT = "a library's endpoint: none of your code runs there"
_THREAD_FINE = (
    "def: runs in the thread pool (40 tokens per worker, shared with sync dependencies); "
    "blocking I/O is fine here"
)
_THREAD_CPU = "; CPU-heavy work still holds the GIL: use a process pool or a task queue"
# FastAPI's security schemes are callables with an ``async def __call__``.
_ASYNC_LIBRARY_DEPENDENCIES = ("fastapi.security.",)


class RouteMapper:
    def __init__(self, program: Program, analysis: BlockingAnalysis) -> None:
        self.program = program
        self.analysis = analysis
        self._findings: dict[Key, list[Finding]] = {}
        self._registrations = Registrations(program)
        self._wrappings: dict[Wrapper, Wrapping] = {}
        self._wrapped: dict[Wrapper, int] = {}  # routes each wraps
        self._closures: dict[Key, frozenset[Key]] = {}
        self._made_coroutines: dict[Key, frozenset[Key]] = {}
        self._blocking_of: dict[tuple[Key, bool], list[Blocking]] = {}

    def findings_in(self, key: Key) -> list[Finding]:
        known = self._findings.get(key)
        if known is None:
            known = self._findings[key] = self.analysis.findings_in(key)
        return known

    def routes(self) -> list[Route]:
        registrations = self._registrations.collect()
        routes: list[Route] = []
        # ``app = FastAPI(debug=True) if ... else FastAPI()``: two apps, one route each
        seen: set[tuple[tuple[str, ...], str, Key]] = set()
        # one method and path on one app is served by its first handler (a handler
        # defined in each branch of an ``if`` is one route)
        served: dict[tuple[tuple[str, ...], str, RouterKey], Route] = {}
        for registration in registrations:
            handler = self.program.function(registration.handler)
            if handler is None:
                continue
            view = self._view_dependencies(registration.view_class)
            for router in registration.routers:
                if router in self._registrations.callback_routers:
                    continue  # an OpenAPI callback's description: the app serves none
                extra = [(expr, registration.module) for expr in registration.dependencies]
                placements = self._registrations.placements(router, set(), registration.plain)
                for placement in placements:
                    path = join(placement.prefix, registration.path)
                    methods = tuple(registration.methods)
                    identity = (methods, path, registration.handler)
                    at = (methods, path, placement.routers[0])
                    if identity in seen:
                        continue
                    first = served.get(at)
                    if first is not None:
                        # ``add_api_route("/solve", run_async if args.asy else run)``: the
                        # route is listed with its first handler, and what the other one
                        # runs on the loop is reported for it too
                        seen.add(identity)
                        if handler.is_async:
                            self._collect_loop(registration.handler, first.loop_functions)
                        continue
                    seen.add(identity)
                    extra = [*placement.dependencies, *extra]
                    route = self._route(registration, path, extra, view)
                    served[at] = route
                    self._wrap(route, placement.routers)
                    routes.append(route)
        routes.extend(self._library_routes(seen))
        routes.extend(self._library_endpoints(seen))
        routes.sort(key=lambda route: (route.path, route.methods))
        return routes

    def _view_dependencies(self, view: Key | None) -> list[Value]:
        """What the class attributes of a class-based view depend on (a ``Depends``
        default, or ``Annotated[T, Depends(...)]``), base classes' first (as the view's
        ``__init__`` takes them), each name once."""
        if view is None:
            return []
        program = self.program
        by_name: dict[str, list[Value]] = {}
        for entry in reversed(program.mro(view)):
            if not isinstance(entry, Class):
                continue
            klass, module = program.klass(entry.key), entry.key[0]
            for name, exprs in klass.attributes.items() if klass is not None else ():
                annotated = frozenset(
                    value
                    for expr in exprs
                    if isinstance(expr, Typed)
                    for value in program.eval(expr.annotation, module)
                )
                defaults: list[Expr | None] = [e for e in exprs if not isinstance(e, Typed)]
                found = [
                    callable_
                    for default in defaults or [None]
                    for callable_ in program.dependencies(annotated, default, module, True)
                ]
                if found:
                    by_name.pop(name, None)  # a subclass's own overrides its base's
                    by_name[name] = found
        return [callable_ for found in by_name.values() for callable_ in found]

    def _library_routes(self, seen: set[tuple[tuple[str, ...], str, Key]]) -> list[Route]:
        """Routes of routers libraries build (``library_routes``): no code of the
        project's runs there; the place shown is where the router is made."""
        routes: list[Route] = []
        for key, info in list(self.program.routers.items()):
            if not info.builtin:
                continue
            where = (self.program.modules[key[0]].path, key[1])
            for placement in self._registrations.placements(key, set()):
                for builtin in info.builtin:
                    path = join(placement.prefix, join(info.builtin_path, builtin.path))
                    identity = (builtin.methods, path, ("", info.made_by))
                    if identity in seen:
                        continue
                    seen.add(identity)
                    route = _library_route(builtin.methods, path, info.made_by, where, EVENT_LOOP)
                    for hook in self._hooks(info.made_by, builtin.hooks):
                        self._collect_loop(hook, route.loop_functions)
                    for block in builtin.blocks:
                        if not self._hooks(info.made_by, (block.hook,)):
                            # the library's own method runs: what it blocks, where the
                            # router is included
                            rule = self.program.knowledge.rules[block.code]
                            message = blocker_message(rule, block.label, None, ())
                            route.blocking.append(
                                Blocking(block.code, where[0], where[1], message, EVENT_LOOP)
                            )
                    self._wrap(route, placement.routers)
                    routes.append(route)
        return routes

    def _hooks(self, made_by: str, names: tuple[str, ...]) -> list[Key]:
        """The coroutines of the project a library's route calls: the methods ``names``
        of the project's subclasses of the library's hook classes (``HOOK_BASES``)."""
        bases = HOOK_BASES.get(made_by.partition(".")[0])
        if not names or not bases:
            return []
        program = self.program
        found: list[Key] = []
        for klass in self._subclasses_of(bases):
            for name in names:
                method = program.method(klass, name)
                function = program.function(method) if method is not None else None
                if method is not None and function is not None and function.is_async:
                    found.append(method)
        return found

    def _subclasses_of(self, bases: frozenset[str]) -> list[Key]:
        """The project's classes derived from any of the library classes ``bases``."""
        canonical = self.program.knowledge.canonical
        return [
            (name, qualname)
            for name, summary in sorted(self.program.modules.items())
            for qualname in sorted(summary.classes)
            if any(
                isinstance(entry, LibraryObject) and canonical(entry.name) in bases
                for entry in self.program.mro((name, qualname))
            )
        ]

    def _library_endpoints(self, seen: set[tuple[tuple[str, ...], str, Key]]) -> list[Route]:
        """Routes whose endpoint is a library's callable (``add_route("/metrics",
        metrics)``): listed where they are added; whether the endpoint is a coroutine
        function is not known here."""
        routes: list[Route] = []
        for endpoint in self._registrations.library_endpoints:
            where = (self.program.modules[endpoint.module].path, endpoint.line)
            for router in endpoint.routers:
                for placement in self._registrations.placements(router, set(), endpoint.plain):
                    path = join(placement.prefix, endpoint.path)
                    # one per call that adds it: two apps may serve the same endpoint
                    identity = (endpoint.methods, path, (endpoint.module, str(endpoint.line)))
                    if identity in seen:
                        continue
                    seen.add(identity)
                    route = _library_route(endpoint.methods, path, endpoint.name, where, "unknown")
                    self._wrap(route, placement.routers)
                    routes.append(route)
        return routes

    def wrapper_labels(self) -> dict[Key, str]:
        """For findings in middleware and exception handlers (and the coroutines they
        await): what they run for, ``middleware of 12 routes``. Call after ``routes``."""
        labels: dict[Key, str] = {}
        for wrapper, count in self._wrapped.items():
            function = self.program.function(wrapper.function) if wrapper.function else None
            if wrapper.function is None or function is None or not function.is_async:
                continue
            label = f"{wrapper.kind} of {count} route{'s' if count != 1 else ''}"
            reached: set[Key] = set()
            self._collect_loop(wrapper.function, reached)
            for key in sorted(reached):
                labels.setdefault(key, label)
        return labels

    # -- one route --------------------------------------------------------------------

    def _wrap(self, route: Route, routers: tuple[RouterKey, ...]) -> None:
        """The middleware and exception handlers of the apps on the way to the route, in
        the order the code adds them; what blocks in them changes the route's advice."""
        seen: set[str] = set()
        for router in routers:
            for wrapper in self._registrations.wrappers.of(router):
                if wrapper.name in seen:
                    continue
                seen.add(wrapper.name)
                route.wrapped_by.append(self._wrapping(wrapper))
                self._wrapped[wrapper] = self._wrapped.get(wrapper, 0) + 1
        blocking = [item for wrapping in route.wrapped_by for item in wrapping.blocking]
        if any(item.runs == EVENT_LOOP for item in blocking):
            route.advice = self._advice(
                route.runs, [*route.blocking, *_nested_blocking(route.dependencies), *blocking]
            )

    def _wrapping(self, wrapper: Wrapper) -> Wrapping:
        known = self._wrappings.get(wrapper)
        if known is not None:
            return known
        function = self.program.function(wrapper.function) if wrapper.function else None
        if wrapper.function is None or function is None:
            # an ASGI middleware is a coroutine: a library's runs on the loop too
            runs = EVENT_LOOP if wrapper.kind == MIDDLEWARE else "unknown"
            made = Wrapping(wrapper.kind, wrapper.name, "", 0, runs)
        else:
            # Starlette runs a sync exception handler in the thread pool
            runs = EVENT_LOOP if function.is_async else THREAD_POOL
            made = Wrapping(
                wrapper.kind,
                wrapper.name,
                self.program.modules[wrapper.function[0]].path,
                function.line,
                runs,
                self._blocking(wrapper.function, function.is_async),
            )
        self._wrappings[wrapper] = made
        return made

    def _route(
        self,
        registration: Registration,
        path: str,
        extra: list[tuple[Expr, str]],
        view: list[Value],
    ) -> Route:
        program = self.program
        key = registration.handler
        handler = program.function(key)
        assert handler is not None
        # a sync handler inside a decorator's ``async def`` wrapper is a coroutine to
        # FastAPI: its body runs on the loop
        on_loop = handler.is_async or program.wrapped_by_coroutine(key) is not None
        runs = EVENT_LOOP if on_loop else THREAD_POOL
        dependencies: list[Dependency] = []
        loop_functions: set[Key] = set()
        for expr, module in extra:
            for value in sorted(program.eval(expr, module), key=value_order):
                if isinstance(value, Depends):
                    for callable_ in sorted(value.callables, key=value_order):
                        dependencies.extend(self._dependency(callable_, set(), loop_functions))
        for callable_ in view:  # the class-based view's instance, made before the call
            dependencies.extend(self._dependency(callable_, set(), loop_functions))
        if not registration.plain:  # Starlette calls its own kind with the request only
            dependencies.extend(self._dependencies_of(key, {key}, loop_functions))
        dependencies = _distinct(dependencies)
        blocking = self._blocking(key, on_loop)
        if on_loop:
            self._collect_loop(key, loop_functions)
        blocking_all = [*blocking, *_nested_blocking(dependencies)]
        advice = self._advice(runs, blocking_all)
        return Route(
            registration.methods,
            path,
            _dotted(key),
            key,
            (program.modules[key[0]].path, handler.line),
            runs,
            dependencies,
            blocking,
            advice,
            loop_functions,
        )

    def _dependencies_of(self, key: Key, seen: set[Key], loop: set[Key]) -> list[Dependency]:
        program = self.program
        function = program.function(key)
        if function is None:
            return []
        result: list[Dependency] = []
        for param in function.params:
            annotation = param.annotation
            annotated = program.eval(annotation, key[0]) if annotation is not None else EMPTY
            for callable_ in program.dependencies(annotated, param.default, key[0], library=True):
                result.extend(self._dependency(callable_, seen, loop))
        return result

    def _dependency(self, value: Value, seen: set[Key], loop: set[Key]) -> list[Dependency]:
        program = self.program
        match value:
            case LibraryInstance(cls):  # a library callable, e.g. OAuth2PasswordBearer(...)
                runs = EVENT_LOOP if cls.startswith(_ASYNC_LIBRARY_DEPENDENCIES) else "unknown"
                return [Dependency(cls, "", 0, runs)]
            case Function(key):
                pass
            case Class(class_key):
                key = program.method(class_key, "__init__") or class_key
            case Instance(class_key):
                method = program.method(class_key, "__call__")
                if method is None:
                    return []
                key = method
            case _:
                return []
        function = program.function(key)
        if key in seen:
            return []
        if function is None:  # a class without __init__: FastAPI calls it in the thread pool
            klass = program.klass(key)
            line = klass.line if klass is not None else 0
            return [Dependency(_dotted(key), program.modules[key[0]].path, line, THREAD_POOL)]
        is_async = function.is_async and not isinstance(value, Class)
        if is_async:
            self._collect_loop(key, loop)
        return [
            Dependency(
                _dotted(key),
                program.modules[key[0]].path,
                function.line,
                EVENT_LOOP if is_async else THREAD_POOL,
                self._dependencies_of(key, seen | {key}, loop),
                self._blocking(key, is_async),
            )
        ]

    def _collect_loop(self, key: Key, loop: set[Key]) -> None:
        loop |= self._on_loop(key)

    def _on_loop(self, key: Key) -> frozenset[Key]:
        """The coroutine and every coroutine it awaits, transitively (once per key: many
        routes share their dependencies and services)."""
        known = self._closures.get(key)
        if known is not None:
            return known
        analysis = self.analysis
        whole: set[Key] = set()  # coroutines entered with every line on
        entered: set[tuple[Key, int]] = set()  # the others, by the call that turns some off
        found: set[Key] = set()
        pending: list[tuple[Key, SyncCall | None, str]] = [(key, None, key[0])]
        while pending:
            current, awaited, module = pending.pop()
            # ``await get_info(name, include_vectors=False)`` never runs what
            # ``if include_vectors:`` holds, for this call
            off = analysis.awaited_off(awaited.call, module, current) if awaited else []
            if current in whole or (off and (current, id(awaited)) in entered):
                continue
            if off:
                entered.add((current, id(awaited)))
            else:
                whole.add(current)
            found.add(current)
            scan = analysis.scan(current)
            for each in scan.awaited:
                if not any(first <= each.line <= last for first, last in off):
                    pending.append((each.target, each, current[0]))
            # a task a request starts runs for that request
            pending.extend((spawned, None, spawned[0]) for spawned in scan.spawned)
            # a coroutine a sync helper makes on the loop is run for the request too:
            # ``return sub_stream(run_id)`` whose ``EventSourceResponse(_events())`` the
            # response iterates, or a coroutine returned for the caller to await
            for sync_call in scan.sync_calls:
                if not sync_call.once and not any(
                    first <= sync_call.line <= last for first, last in off
                ):
                    made = self._coroutines_made(sync_call.target)
                    pending.extend((coroutine, None, coroutine[0]) for coroutine in made)
        closure = self._closures[key] = frozenset(found)
        return closure

    def _coroutines_made(self, key: Key) -> frozenset[Key]:
        """The coroutines sync function ``key`` makes (calls without awaiting, being
        sync), and those the sync functions it calls make, transitively."""
        known = self._made_coroutines.get(key)
        if known is not None:
            return known
        found: set[Key] = set()
        seen = {key}
        pending = [key]
        while pending:
            scan = self.analysis.scan(pending.pop())
            found.update(each.target for each in scan.awaited)
            found.update(scan.spawned)
            for sync_call in scan.sync_calls:
                if not sync_call.once and sync_call.target not in seen:
                    seen.add(sync_call.target)
                    pending.append(sync_call.target)
        made = self._made_coroutines[key] = frozenset(found)
        return made

    def _blocking(self, key: Key, is_async: bool) -> list[Blocking]:
        """What blocks in the function and what it reaches (shared between the routes
        that use it: read only)."""
        known = self._blocking_of.get((key, is_async))
        if known is None:
            known = self._blocking_of[(key, is_async)] = self._find_blocking(key, is_async)
        return known

    def _find_blocking(self, key: Key, is_async: bool) -> list[Blocking]:
        if is_async:
            # one line per call: a call reached through several coroutines of the route
            # is one place to fix (the first way to it is shown)
            found: dict[tuple[str, str, int], Blocking] = {}
            for current in sorted(self._on_loop(key)):
                for f in self.findings_in(current):
                    found.setdefault(
                        (f.code, f.path, f.line),
                        Blocking(f.code, f.path, f.line, f.message, EVENT_LOOP),
                    )
            return list(found.values())
        path = self.program.modules[key[0]].path
        shortest: dict[str, Blocker] = {}  # one per rule: it is fine in def anyway
        for site, blocker in sorted(self.analysis.blockers(key).items()):
            known = shortest.get(site.code)
            if known is None or len(blocker.chain) < len(known.chain):
                shortest[site.code] = blocker
        return [
            Blocking(
                code,
                blocker.chain[-1].path,
                blocker.chain[-1].line,
                f"{blocker.label} blocks a worker thread (fine in def)",
                THREAD_POOL,
            )
            for code, blocker in sorted(shortest.items())
            if path and blocker.rule.code.startswith("USK1")
        ]

    def _advice(self, runs: str, blocking: list[Blocking]) -> str:
        rules = self.program.knowledge.rules
        on_loop = [item for item in blocking if item.runs == EVENT_LOOP]
        if on_loop:
            advice = _unique(rules[item.code].advice for item in on_loop if item.code in rules)
            return "blocks the event loop: " + "; ".join(advice)
        if runs == EVENT_LOOP:
            return _LOOP_FINE
        if any(item.code == "USK113" for item in blocking):
            return _THREAD_FINE + _THREAD_CPU
        return _THREAD_FINE


def _library_route(
    methods: tuple[str, ...], path: str, name: str, where: tuple[str, int], runs: str
) -> Route:
    """A route where a library's code answers: no code of the project's runs there."""
    advice = _LOOP_FINE if runs == EVENT_LOOP else _LIBRARY_ENDPOINT
    return Route(
        list(methods), path, f"{name} (library)", ("", name), where, runs, [], [], advice, set()
    )


def _distinct(dependencies: list[Dependency]) -> list[Dependency]:
    """FastAPI calls a dependency once per request however often it is declared."""
    seen: set[str] = set()
    result: list[Dependency] = []
    for dependency in dependencies:
        if dependency.name not in seen:
            seen.add(dependency.name)
            result.append(dependency)
    return result


def _nested_blocking(dependencies: list[Dependency]) -> list[Blocking]:
    found: list[Blocking] = []
    for dependency in dependencies:
        found.extend(dependency.blocking)
        found.extend(_nested_blocking(dependency.dependencies))
    return found


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _dotted(key: Key) -> str:
    return f"{key[0]}.{key[1]}"
