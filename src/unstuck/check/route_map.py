"""The route map: every route, where its code runs, and what blocks it.

Routes come from ``@app.get(...)``-style decorators, ``api_route``, ``add_api_route``,
on ``FastAPI()`` apps and ``APIRouter()`` routers, wherever they are created (module
level or an app factory). Prefixes compose across modules through
``APIRouter(prefix=...)``, ``include_router(..., prefix=...)`` and ``mount``. Where code
runs follows FastAPI: ``async def`` handlers and dependencies on the event loop, ``def``
ones in the thread pool (anyio, 40 tokens per worker).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from unstuck.check.blocking import BlockingAnalysis
from unstuck.check.model import Expr, Finding
from unstuck.check.program import EMPTY, Key, Program, Value, keyword, last_name

EVENT_LOOP = "event loop"
THREAD_POOL = "thread pool"
_HTTP_METHODS = frozenset(["get", "post", "put", "patch", "delete", "head", "options", "trace"])
_ROUTE_DECORATORS = _HTTP_METHODS | {"api_route", "websocket"}
_LOOP_FINE = "async def on the event loop and nothing blocks it: keep awaiting async I/O only"
_THREAD_FINE = (
    "def: runs in the thread pool (40 tokens per worker, shared with sync dependencies); "
    "blocking I/O is fine here"
)
_THREAD_CPU = "; CPU-heavy work still holds the GIL: use a process pool or a task queue"

RouterKey = tuple[str, int, int]
# how many calls deep an app is followed through untyped parameters
_MAX_PASSING = 4
# FastAPI's security schemes are callables with an ``async def __call__``.
_ASYNC_LIBRARY_DEPENDENCIES = ("fastapi.security.",)


@dataclass(slots=True)
class Blocking:
    code: str
    path: str
    line: int
    message: str
    runs: str

    def as_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "path": self.path,
            "line": self.line,
            "message": self.message,
            "runs": self.runs,
        }


@dataclass(slots=True)
class Dependency:
    name: str
    path: str
    line: int
    runs: str
    dependencies: list[Dependency] = field(default_factory=list)
    blocking: list[Blocking] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "location": {"path": self.path, "line": self.line} if self.path else None,
            "runs": self.runs,
            "dependencies": [dependency.as_json() for dependency in self.dependencies],
            "blocking": [item.as_json() for item in self.blocking],
        }


@dataclass(slots=True)
class Route:
    methods: list[str]
    path: str
    handler: str
    handler_key: Key
    location: tuple[str, int]
    runs: str
    dependencies: list[Dependency]
    blocking: list[Blocking]
    advice: str
    loop_functions: set[Key]  # coroutines that serve this route

    @property
    def label(self) -> str:
        return f"{','.join(self.methods)} {self.path}"

    def as_json(self) -> dict[str, object]:
        return {
            "methods": self.methods,
            "path": self.path,
            "handler": self.handler,
            "location": {"path": self.location[0], "line": self.location[1]},
            "runs": self.runs,
            "dependencies": [dependency.as_json() for dependency in self.dependencies],
            "blocking": [item.as_json() for item in self.blocking],
            "advice": self.advice,
        }


@dataclass(slots=True)
class _Registration:
    routers: list[RouterKey]
    path: str
    methods: list[str]
    handler: Key
    dependencies: list[Expr]
    module: str


class RouteMapper:
    def __init__(self, program: Program, analysis: BlockingAnalysis) -> None:
        self.program = program
        self.analysis = analysis
        self._findings: dict[Key, list[Finding]] = {}
        self._parents: dict[RouterKey, list[tuple[RouterKey, str, list[Expr], str]]] = {}
        self._calls_by_name: dict[str, list[tuple[str, Expr]]] | None = None

    def findings_in(self, key: Key) -> list[Finding]:
        known = self._findings.get(key)
        if known is None:
            known = self._findings[key] = self.analysis.findings_in(key)
        return known

    def routes(self) -> list[Route]:
        registrations = self._registrations()
        routes: list[Route] = []
        # ``app = FastAPI(debug=True) if ... else FastAPI()``: two apps, one route each
        seen: set[tuple[tuple[str, ...], str, Key]] = set()
        for registration in registrations:
            handler = self.program.function(registration.handler)
            if handler is None:
                continue
            for router in registration.routers:
                extra = [(expr, registration.module) for expr in registration.dependencies]
                for prefix, inherited in self._prefixes(router, set()):
                    path = _join(prefix, registration.path)
                    identity = (tuple(registration.methods), path, registration.handler)
                    if identity in seen:
                        continue
                    seen.add(identity)
                    routes.append(self._route(registration, path, [*inherited, *extra]))
        routes.sort(key=lambda route: (route.path, route.methods))
        return routes

    # -- discovery --------------------------------------------------------------------

    def _routers(self, expr: Expr, module: str, depth: int = 0) -> list[RouterKey]:
        found = [value[1] for value in self.program.eval(expr, module) if value[0] == "R"]
        if found or expr[0] != "p" or depth > _MAX_PASSING:
            return found
        return self._routers_passed(expr, module, depth)

    def _routers_passed(self, parameter: Expr, module: str, depth: int) -> list[RouterKey]:
        """The apps passed to an untyped parameter: ``def configure_routes(app)`` called
        as ``configure_routes(app)`` with a ``FastAPI()``, from any module."""
        program = self.program
        key = (module, parameter[1])
        function = program.function(key)
        if function is None:
            return []
        names = [name for name, _annotation, _default in function.params]
        if parameter[2] not in names:
            return []
        position = names.index(parameter[2])
        found: list[RouterKey] = []
        for caller, call in self._calls_named(key[1].rpartition(".")[2]):
            if ("F", key) not in program.eval(call[1], caller):
                continue
            args = call[4]
            argument = args[position] if position < len(args) else keyword(call, parameter[2])
            if argument is not None:
                found.extend(self._routers(argument, caller, depth + 1))
        return list(dict.fromkeys(found))

    def _calls_named(self, name: str) -> list[tuple[str, Expr]]:
        if self._calls_by_name is None:
            index: dict[str, list[tuple[str, Expr]]] = {}
            for key, function in self.program.functions():
                for call, _awaited in function.calls:
                    called = last_name(call[1])
                    if called is not None:
                        index.setdefault(called, []).append((key[0], call))
            self._calls_by_name = index
        return self._calls_by_name.get(name, [])

    def _registrations(self) -> list[_Registration]:
        program = self.program
        found: list[_Registration] = []
        for key, function in list(program.functions()):
            module = key[0]
            for decorator in function.decorators:
                if decorator[0] != "c" or decorator[1][0] != "a":
                    continue
                verb = decorator[1][2]
                if verb not in _ROUTE_DECORATORS:
                    continue
                routers = self._routers(decorator[1][1], module)
                if not routers:
                    continue
                path = program.text(
                    decorator[4][0] if decorator[4] else keyword(decorator, "path"), module
                )
                methods = self._methods(verb, decorator, module)
                found.append(
                    _Registration(
                        routers,
                        str(path or ""),
                        methods,
                        key,
                        _list(keyword(decorator, "dependencies")),
                        module,
                    )
                )
            for call, _awaited in function.calls:
                name = last_name(call[1])
                if name not in ("add_api_route", "include_router", "mount") or call[1][0] != "a":
                    continue
                routers = self._routers(call[1][1], module)
                if not routers:
                    continue
                args = call[4]
                if name == "add_api_route":
                    endpoint = args[1] if len(args) > 1 else keyword(call, "endpoint")
                    path = program.text(args[0] if args else keyword(call, "path"), module)
                    if endpoint is None:
                        continue
                    for value in program.eval(endpoint, module):
                        if value[0] == "F":
                            found.append(
                                _Registration(
                                    routers,
                                    str(path or ""),
                                    self._methods("api_route", call, module),
                                    value[1],
                                    _list(keyword(call, "dependencies")),
                                    module,
                                )
                            )
                elif name == "include_router":
                    child = args[0] if args else keyword(call, "router")
                    prefix = program.text(keyword(call, "prefix"), module)
                    dependencies = _list(keyword(call, "dependencies"))
                    for child_key in self._routers(child, module) if child else []:
                        for parent in routers:
                            entry = (parent, str(prefix or ""), dependencies, module)
                            self._parents.setdefault(child_key, []).append(entry)
                else:
                    child = args[1] if len(args) > 1 else keyword(call, "app")
                    prefix = program.text(args[0] if args else keyword(call, "path"), module)
                    for child_key in self._routers(child, module) if child else []:
                        for parent in routers:
                            entry = (parent, str(prefix or ""), [], module)
                            self._parents.setdefault(child_key, []).append(entry)
        return found

    def _methods(self, verb: str, call: Expr, module: str) -> list[str]:
        if verb in _HTTP_METHODS:
            return [verb.upper()]
        if verb == "websocket":
            return ["WEBSOCKET"]
        listed = keyword(call, "methods")
        if listed is not None and listed[0] == "l":
            methods = [self.program.constant(item, module) for item in listed[1]]
            return sorted(str(method).upper() for method in methods if isinstance(method, str))
        return ["GET"]

    def _prefixes(
        self, router: RouterKey, seen: set[RouterKey]
    ) -> list[tuple[str, list[tuple[Expr, str]]]]:
        """Full prefixes of a router, with the dependencies each inclusion adds."""
        info = self.program.routers.get(router)
        own = info.prefix if info is not None else ""
        own_dependencies = [(expr, router[0]) for expr in (info.dependencies if info else [])]
        parents = self._parents.get(router, [])
        if not parents or router in seen:
            return [(own, own_dependencies)]
        result: list[tuple[str, list[tuple[Expr, str]]]] = []
        for parent, prefix, dependencies, module in parents:
            for parent_prefix, inherited in self._prefixes(parent, seen | {router}):
                added = [(expr, module) for expr in dependencies]
                result.append(
                    (
                        _join(_join(parent_prefix, prefix), own),
                        [*inherited, *added, *own_dependencies],
                    )
                )
        return result

    # -- one route --------------------------------------------------------------------

    def _route(
        self, registration: _Registration, path: str, extra: list[tuple[Expr, str]]
    ) -> Route:
        program = self.program
        key = registration.handler
        handler = program.function(key)
        assert handler is not None
        runs = EVENT_LOOP if handler.is_async else THREAD_POOL
        dependencies: list[Dependency] = []
        loop_functions: set[Key] = set()
        for expr, module in extra:
            for value in program.eval(expr, module):
                if value[0] == "D":
                    for callable_ in value[1]:
                        dependencies.extend(self._dependency(callable_, set(), loop_functions))
        dependencies.extend(self._dependencies_of(key, {key}, loop_functions))
        dependencies = _distinct(dependencies)
        blocking = self._blocking(key, handler.is_async, loop_functions)
        if handler.is_async:
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
        for _name, annotation, default in function.params:
            annotated = program.eval(annotation, key[0]) if annotation is not None else EMPTY
            for callable_ in program.dependencies(annotated, default, key[0], library=True):
                result.extend(self._dependency(callable_, seen, loop))
        return result

    def _dependency(self, value: Value, seen: set[Key], loop: set[Key]) -> list[Dependency]:
        program = self.program
        if value[0] == "EI":  # a library callable, e.g. OAuth2PasswordBearer(...)
            runs = EVENT_LOOP if value[1].startswith(_ASYNC_LIBRARY_DEPENDENCIES) else "unknown"
            return [Dependency(value[1], "", 0, runs)]
        if value[0] == "F":
            key = value[1]
        elif value[0] == "C":
            key = program.method(value[1], "__init__") or value[1]
        else:
            method = program.method(value[1], "__call__")
            if method is None:
                return []
            key = method
        function = program.function(key)
        if key in seen:
            return []
        if function is None:  # a class without __init__: FastAPI calls it in the thread pool
            klass = program.klass(key)
            line = klass.line if klass is not None else 0
            return [Dependency(_dotted(key), program.modules[key[0]].path, line, THREAD_POOL)]
        is_async = function.is_async and value[0] != "C"
        if is_async:
            self._collect_loop(key, loop)
        return [
            Dependency(
                _dotted(key),
                program.modules[key[0]].path,
                function.line,
                EVENT_LOOP if is_async else THREAD_POOL,
                self._dependencies_of(key, seen | {key}, loop),
                self._blocking(key, is_async, loop),
            )
        ]

    def _collect_loop(self, key: Key, loop: set[Key]) -> None:
        pending = [key]
        while pending:
            current = pending.pop()
            if current in loop:
                continue
            loop.add(current)
            pending.extend(self.analysis.scan(current).async_calls)

    def _blocking(self, key: Key, is_async: bool, loop: set[Key]) -> list[Blocking]:
        if is_async:
            found: set[Key] = set()
            self._collect_loop(key, found)
            return [
                Blocking(f.code, f.path, f.line, f.message, EVENT_LOOP)
                for current in sorted(found)
                for f in self.findings_in(current)
            ]
        path = self.program.modules[key[0]].path
        return [
            Blocking(
                code,
                blocker.chain[-1].path,
                blocker.chain[-1].line,
                f"{blocker.label} blocks a worker thread (fine in def)",
                THREAD_POOL,
            )
            for code, blocker in sorted(self.analysis.blockers(key).items())
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


def _list(expr: Expr | None) -> list[Expr]:
    return list(expr[1]) if expr is not None and expr[0] == "l" else []


def _join(prefix: str, path: str) -> str:
    if not prefix:
        return path
    if not path:
        return prefix
    return prefix.rstrip("/") + "/" + path.lstrip("/") if path != "/" else prefix.rstrip("/") + "/"


def _dotted(key: Key) -> str:
    return f"{key[0]}.{key[1]}"
