"""Where routes are registered, and the prefixes that reach each router.

``Registrations.collect`` finds route decorators (``@router.get``, ``api_route``,
``websocket``) and ``add_api_route`` calls on any ``FastAPI()`` app or ``APIRouter()``
(values from ``program``, wherever they were created), and records each
``include_router`` and ``mount`` as a parent link. ``prefixes`` then composes the full
prefixes of a router through those links, with the dependencies each inclusion adds.
An app passed to an untyped parameter (``def configure_routes(app)``) is followed
through the calls that pass it, a few levels deep.
"""

from __future__ import annotations

from dataclasses import dataclass

from unstuck.check.model import Attribute, Call, Expr, Items, Param
from unstuck.check.program import Program, last_name
from unstuck.check.values import Function, Key, Router, RouterKey

_HTTP_METHODS = frozenset(["get", "post", "put", "patch", "delete", "head", "options", "trace"])
_ROUTE_DECORATORS = _HTTP_METHODS | {"api_route", "websocket"}
# how many calls deep an app is followed through untyped parameters
_MAX_PASSING = 4


@dataclass(slots=True)
class Registration:
    routers: list[RouterKey]
    path: str
    methods: list[str]
    handler: Key
    dependencies: list[Expr]
    module: str


class Registrations:
    def __init__(self, program: Program) -> None:
        self.program = program
        self._parents: dict[RouterKey, list[tuple[RouterKey, str, list[Expr], str]]] = {}
        self._calls_by_name: dict[str, list[tuple[str, Call]]] | None = None

    def _routers(self, expr: Expr, module: str, depth: int = 0) -> list[RouterKey]:
        values = self.program.eval(expr, module)
        found = [value.key for value in values if isinstance(value, Router)]
        if found or not isinstance(expr, Param) or depth > _MAX_PASSING:
            return found
        return self._routers_passed(expr, module, depth)

    def _routers_passed(self, parameter: Param, module: str, depth: int) -> list[RouterKey]:
        """The apps passed to an untyped parameter: ``def configure_routes(app)`` called
        as ``configure_routes(app)`` with a ``FastAPI()``, from any module."""
        program = self.program
        key = (module, parameter.function)
        function = program.function(key)
        if function is None:
            return []
        names = [param.name for param in function.params]
        if parameter.name not in names:
            return []
        position = names.index(parameter.name)
        found: list[RouterKey] = []
        for caller, call in self._calls_named(key[1].rpartition(".")[2]):
            if Function(key) not in program.eval(call.func, caller):
                continue
            args = call.args
            argument = args[position] if position < len(args) else call.keyword(parameter.name)
            if argument is not None:
                found.extend(self._routers(argument, caller, depth + 1))
        return list(dict.fromkeys(found))

    def _calls_named(self, name: str) -> list[tuple[str, Call]]:
        if self._calls_by_name is None:
            index: dict[str, list[tuple[str, Call]]] = {}
            for key, function in self.program.functions():
                for call in function.calls:
                    called = last_name(call.func)
                    if called is not None:
                        index.setdefault(called, []).append((key[0], call))
            self._calls_by_name = index
        return self._calls_by_name.get(name, [])

    def collect(self) -> list[Registration]:
        program = self.program
        found: list[Registration] = []
        for key, function in list(program.functions()):
            module = key[0]
            for decorator in function.decorators:
                if not isinstance(decorator, Call) or not isinstance(decorator.func, Attribute):
                    continue
                verb = decorator.func.name
                if verb not in _ROUTE_DECORATORS:
                    continue
                routers = self._routers(decorator.func.base, module)
                if not routers:
                    continue
                path = program.text(
                    decorator.args[0] if decorator.args else decorator.keyword("path"), module
                )
                methods = self._methods(verb, decorator, module)
                found.append(
                    Registration(
                        routers,
                        str(path or ""),
                        methods,
                        key,
                        _list(decorator.keyword("dependencies")),
                        module,
                    )
                )
            for call in function.calls:
                name = last_name(call.func)
                if name not in ("add_api_route", "include_router", "mount") or not isinstance(
                    call.func, Attribute
                ):
                    continue
                routers = self._routers(call.func.base, module)
                if not routers:
                    continue
                args = call.args
                if name == "add_api_route":
                    endpoint = args[1] if len(args) > 1 else call.keyword("endpoint")
                    path = program.text(args[0] if args else call.keyword("path"), module)
                    if endpoint is None:
                        continue
                    for value in program.eval(endpoint, module):
                        if isinstance(value, Function):
                            found.append(
                                Registration(
                                    routers,
                                    str(path or ""),
                                    self._methods("api_route", call, module),
                                    value.key,
                                    _list(call.keyword("dependencies")),
                                    module,
                                )
                            )
                elif name == "include_router":
                    child = args[0] if args else call.keyword("router")
                    prefix = program.text(call.keyword("prefix"), module)
                    dependencies = _list(call.keyword("dependencies"))
                    for child_key in self._routers(child, module) if child else []:
                        for parent in routers:
                            entry = (parent, str(prefix or ""), dependencies, module)
                            self._parents.setdefault(child_key, []).append(entry)
                else:
                    child = args[1] if len(args) > 1 else call.keyword("app")
                    prefix = program.text(args[0] if args else call.keyword("path"), module)
                    for child_key in self._routers(child, module) if child else []:
                        for parent in routers:
                            entry = (parent, str(prefix or ""), [], module)
                            self._parents.setdefault(child_key, []).append(entry)
        return found

    def _methods(self, verb: str, call: Call, module: str) -> list[str]:
        if verb in _HTTP_METHODS:
            return [verb.upper()]
        if verb == "websocket":
            return ["WEBSOCKET"]
        listed = call.keyword("methods")
        if isinstance(listed, Items):
            methods = [self.program.constant(item, module) for item in listed.items]
            return sorted(str(method).upper() for method in methods if isinstance(method, str))
        return ["GET"]

    def prefixes(
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
            for parent_prefix, inherited in self.prefixes(parent, seen | {router}):
                added = [(expr, module) for expr in dependencies]
                result.append(
                    (
                        join(join(parent_prefix, prefix), own),
                        [*inherited, *added, *own_dependencies],
                    )
                )
        return result


def _list(expr: Expr | None) -> list[Expr]:
    return list(expr.items) if isinstance(expr, Items) else []


def join(prefix: str, path: str) -> str:
    """A prefix and a path as FastAPI joins them, one ``/`` between."""
    if not prefix:
        return path
    if not path:
        return prefix
    return prefix.rstrip("/") + "/" + path.lstrip("/") if path != "/" else prefix.rstrip("/") + "/"
