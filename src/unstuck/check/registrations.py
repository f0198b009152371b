"""Where routes are registered, and the prefixes that reach each router.

``Registrations.collect`` finds route decorators (``@router.get``, ``api_route``,
``websocket``, stacked or called as ``app.get(path)(handler)``) and ``add_api_route``
calls on any app or router (values from ``program``: ``FastAPI``, ``APIRouter``, their
subclasses, wherever they were created), and records each ``include_router``,
``mount`` and ``host`` as an ``Inclusion`` of a child in a parent: routers built per
call of a function (with that call's prefix), items of registration loops, plugins and
modules found at run time, routers libraries build (``library_routes``). It hands the
middleware and exception handlers it meets to ``wrappers``. ``placements`` then
composes the full prefixes of a router through those links, with the dependencies
each inclusion adds and the apps on the way; of inclusions made in alternative
``if``/``match`` blocks it keeps one. An app passed to an untyped parameter
(``def configure_routes(app)``) is followed through the calls that pass it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from unstuck.check.library_routes import method_routes
from unstuck.check.model import Expr
from unstuck.check.program import Key, Program, RouterInfo, keyword, last_name
from unstuck.check.wrappers import DECORATORS as WRAPPER_DECORATORS
from unstuck.check.wrappers import EXCEPTION_HANDLER, Wrappers

RouterKey = tuple[str, int, int]
# reads a part of a path when it knows better than ``Program.text`` (or ``None``)
_Reader = Callable[[Expr], str | None]
_HTTP_METHODS = frozenset(["get", "post", "put", "patch", "delete", "head", "options", "trace"])
_ROUTE_DECORATORS = _HTTP_METHODS | {"api_route", "websocket"}
# calls that add one route (FastAPI's and, on the same objects, Starlette's)
_ADDING = frozenset(
    {"add_api_route", "add_api_websocket_route", "add_route", "add_websocket_route"}
)
_CALLS = _ADDING | frozenset(
    {
        "include_router",
        "mount",
        "add_middleware",
        "add_exception_handler",
        "host",
    }
)
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


@dataclass(slots=True)
class Inclusion:
    """A router included in (or an app mounted on) ``parent`` at ``prefix``."""

    parent: RouterKey
    prefix: str
    dependencies: list[Expr]
    module: str
    # the child's own prefix when a function made it with arguments of this call
    own: str | None = None
    # the function that makes the call, and the if/match blocks the call is in
    caller: Key | None = None
    branch: tuple[tuple[int, int], ...] = ()
    # found by discovery (a module imported by name): only if nothing else includes it
    tentative: bool = False

    def excludes(self, other: Inclusion) -> bool:
        """Made in different blocks of one ``if``/``match``: only one of them happens."""
        if self.caller != other.caller:
            return False
        for mine, theirs in zip(self.branch, other.branch, strict=False):
            if mine != theirs:
                return mine[0] == theirs[0]
        return False


class Registrations:
    def __init__(self, program: Program) -> None:
        self.program = program
        self._parents: dict[RouterKey, list[Inclusion]] = {}
        self._calls_by_name: dict[str, list[tuple[str, Expr]]] | None = None
        self._attribute_routers: dict[str, list[tuple[RouterKey, Key]]] | None = None
        self.wrappers = Wrappers(program)
        self._module_routers_by_name: dict[str, list[RouterKey]] = {}

    def _routers(self, expr: Expr, module: str, depth: int = 0) -> list[RouterKey]:
        found = [value[1] for value in self.program.eval(expr, module) if value[0] == "R"]
        if found or depth > _MAX_PASSING:
            return found
        if expr[0] == "p":
            return self._routers_passed(expr, module, depth)
        if expr[0] == "a" and expr[1][0] in ("each", "at", "p"):
            return self._routers_by_attribute(expr[2])
        if expr[0] == "a" and expr[2] == "router":  # ``app.router.add_api_route(...)``
            return [key for key in self._routers(expr[1], module, depth + 1) if self._is_app(key)]
        return found

    def _is_app(self, key: RouterKey) -> bool:
        info = self.program.routers.get(key)
        return info is not None and info.kind == "app"

    def _routers_by_attribute(self, name: str) -> list[RouterKey]:
        return list(dict.fromkeys(router for router, _klass in self._attribute_routers_of(name)))

    def _attribute_routers_of(self, name: str) -> list[tuple[RouterKey, Key]]:
        """``for plugin in plugins.all(): app.include_router(plugin.router)``: the items
        are not known, so every class of the project whose attribute ``name`` holds a
        router stands for one of them (with the class, for the other attributes read)."""
        if self._attribute_routers is None:
            index: dict[str, list[tuple[RouterKey, Key]]] = {}
            for module, summary in self.program.modules.items():
                for qualname, klass in summary.classes.items():
                    for attribute, exprs in klass.attributes.items():
                        for expr in exprs:
                            for value in self.program.eval(expr, module):
                                if value[0] == "R":
                                    entry = (value[1], (module, qualname))
                                    index.setdefault(attribute, []).append(entry)
            self._attribute_routers = index
        return self._attribute_routers.get(name, [])

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

    def collect(self) -> list[Registration]:
        found: list[Registration] = []
        for key, function in list(self.program.functions()):
            module = key[0]
            for decorator in function.decorators:
                if decorator[0] == "c" and decorator[1][0] == "a":
                    kind = WRAPPER_DECORATORS.get(decorator[1][2])
                    if kind is not None:
                        routers = self._routers(decorator[1][1], module)
                        self.wrappers.add(kind, frozenset({("F", key)}), routers)
                    found.extend(self._decorated(decorator, key, module))
                elif decorator[0] == "c":
                    found.extend(self._helper_decorated(decorator, key, module))
            for call, _awaited in function.calls:
                callee = call[1]
                if callee[0] == "c" and callee[1][0] == "a":  # ``app.get("/")(handler)``
                    handler = call[4][0] if call[4] else None
                    kind = WRAPPER_DECORATORS.get(callee[1][2])
                    if handler is not None and kind is not None:
                        routers = self._routers(callee[1][1], module)
                        self.wrappers.add(kind, self.program.eval(handler, module), routers)
                    for value in self.program.eval(handler, module) if handler else ():
                        if value[0] == "F":
                            found.extend(self._decorated(callee, value[1], module))
                    continue
                name = last_name(callee)
                if callee[0] != "a" or name not in _CALLS:
                    continue
                branch = function.branches.get((call[2], call[3]), ())
                routers = self._routers(callee[1], module)
                if not routers:
                    continue
                if name == "add_middleware" and call[4]:
                    self.wrappers.add_middleware(self.program.eval(call[4][0], module), routers)
                elif name == "add_exception_handler" and len(call[4]) > 1:
                    handler = call[4][1]
                    self.wrappers.add(
                        EXCEPTION_HANDLER, self.program.eval(handler, module), routers
                    )
                elif name in _ADDING:
                    found.extend(self._added(call, name, routers, module))
                elif name == "include_router":
                    site = Inclusion(routers[0], "", [], module, None, key, branch)
                    self._include(call, routers, site)
                else:  # ``mount(path, app)``; ``host(name, app)`` serves it at the root
                    child = call[4][1] if len(call[4]) > 1 else keyword(call, "app")
                    at = call[4][0] if call[4] else keyword(call, "path")
                    prefix = "" if name == "host" else self.program.text(at, module)
                    for child_key in self._routers(child, module) if child else []:
                        for parent in routers:
                            inclusion = Inclusion(parent, prefix, [], module, None, key, branch)
                            self._parents.setdefault(child_key, []).append(inclusion)
        return found

    def _decorated(self, decorator: Expr, handler: Key, module: str) -> list[Registration]:
        verb = decorator[1][2]
        if verb not in _ROUTE_DECORATORS:
            return []
        routers = self._routers(decorator[1][1], module)
        if not routers:
            return []
        path = self.program.text(
            decorator[4][0] if decorator[4] else keyword(decorator, "path"), module
        )
        methods = self._methods(verb, decorator, module)
        dependencies = _list(keyword(decorator, "dependencies"))
        return [Registration(routers, path, methods, handler, dependencies, module)]

    def _helper_decorated(self, decorator: Expr, handler: Key, module: str) -> list[Registration]:
        """``@page_route("/")`` with ``def page_route(path): return router.api_route(path,
        methods=["GET", "HEAD"])``, or ``@router_get("/")`` with ``router_get =
        partial(router.get, ...)``: the route decorator the helper stands for, its
        parameters read from this call."""
        program = self.program
        callee = decorator[1]
        if callee[0] == "g":  # ``router_get = partial(router.get, ...)`` in this module
            summary = program.modules.get(module)
            for bound in summary.globals.get(callee[1], []) if summary is not None else []:
                if bound[0] == "c" and last_name(bound[1]) == "partial" and bound[4]:
                    target = bound[4][0]
                    if target[0] == "a" and target[2] in _ROUTE_DECORATORS:
                        call = ("c", target, *decorator[2:5], (*bound[5], *decorator[5]))
                        return self._decorated(call, handler, module)
        found: list[Registration] = []
        for value in program.eval(callee, module):
            function = program.function(value[1]) if value[0] == "F" else None
            if function is None:
                continue
            for returned in function.returns:
                if not (
                    returned[0] == "c"
                    and returned[1][0] == "a"
                    and returned[1][2] in _ROUTE_DECORATORS
                ):
                    continue
                made = self._decorated(returned, handler, value[1][0])
                written = returned[4][0] if returned[4] else keyword(returned, "path")
                if written is not None:
                    path = self._text_with(written, value[1][0], value[1], decorator, module)
                    for registration in made:
                        registration.path = path
                found.extend(made)
        return found

    def _added(
        self, call: Expr, name: str, routers: list[RouterKey], module: str
    ) -> list[Registration]:
        program = self.program
        args = call[4]
        # Starlette's ``add_route(path, route)`` names the endpoint ``route``
        endpoint = args[1] if len(args) > 1 else keyword(call, "endpoint")
        endpoint = endpoint or keyword(call, "route")
        path = program.text(args[0] if args else keyword(call, "path"), module)
        if endpoint is None:
            return []
        verb = "websocket" if "websocket" in name else "api_route"
        return [
            Registration(
                routers,
                path,
                self._methods(verb, call, module),
                value[1],
                _list(keyword(call, "dependencies")),
                module,
            )
            for value in program.eval(endpoint, module)
            if value[0] == "F"
        ]

    def _include(self, call: Expr, routers: list[RouterKey], site: Inclusion) -> None:
        """``include_router``; ``site`` holds the module, caller and blocks of the call."""
        module = site.module
        child = call[4][0] if call[4] else keyword(call, "router")
        if child is None:
            return
        child = self._loop_part(child, module)
        prefix_expr = keyword(call, "prefix")
        if prefix_expr is not None:
            prefix_expr = self._loop_part(prefix_expr, module)
        dependencies = _list(keyword(call, "dependencies"))
        pairs: list[tuple[Expr, Expr | None, str]] = [(child, prefix_expr, module)]
        items = self.program.items
        if (
            child[0] == "at"
            and prefix_expr is not None
            and prefix_expr[0] == "at"
            and prefix_expr[1] == child[1]
        ):
            # ``for prefix, router in ROUTERS.items()``: each router with its own prefix
            pairs = [
                (item[1][child[2]], item[1][prefix_expr[2]], where)
                for item, where in items(child[1][1], module)
                if item[0] == "l" and max(child[2], prefix_expr[2]) < len(item[1])
            ]
        elif child[0] == "each":
            # one by one: a long list of routers is more values than one name may hold
            pairs = [(item, prefix_expr, where) for item, where in items(child[1], module)]
        elif child[0] == "at":
            pairs = [
                (item[1][child[2]], prefix_expr, where)
                for item, where in items(child[1][1], module)
                if item[0] == "l" and child[2] < len(item[1])
            ]
        for child_expr, prefix_of, where in pairs:
            for found in self._children(child_expr, prefix_of, where):
                for parent in routers:
                    inclusion = Inclusion(
                        parent,
                        found.prefix,
                        dependencies,
                        module,
                        found.own,
                        site.caller,
                        site.branch,
                        found.tentative,
                    )
                    self._parents.setdefault(found.router, []).append(inclusion)

    def _children(self, child: Expr, prefix: Expr | None, module: str) -> list[Child]:
        """Each router ``child`` may be, with its own prefix when the inclusion decides
        it, and the prefix the inclusion adds."""
        program = self.program
        found = [value[1] for value in program.eval(child, module) if value[0] == "R"]
        if not found and child[0] == "c":
            found = self._library_made(child, module)
        if not found and child[0] == "a" and not program.eval(child[1], module):
            return self._discovered(child, prefix, module)
        # a prefix read from a loop whose items are not paired with the router: unknown
        looped = prefix is not None and prefix[0] in ("each", "at")
        added = "{...}" if looped else program.text(prefix, module)
        return [
            Child(router, self._bound_prefix(router, child, module), added)
            for router in (found or self._routers(child, module))
        ]

    def _library_made(self, call: Expr, module: str) -> list[RouterKey]:
        """``include_router(fastapi_users.get_auth_router(backend))``: a router a library
        builds, with the routes ``library_routes`` knows it has."""
        for value in self.program.eval(call[1], module):
            if value[0] != "EM":
                continue
            routes = method_routes(value[1], value[2])
            if routes is None:
                continue
            key = (module, call[2], call[3])
            if key not in self.program.routers:
                made_by = f"{value[1]}.{value[2]}"
                self.program.routers[key] = RouterInfo(
                    key, "router", "", module=module, builtin=routes, made_by=made_by
                )
            return [key]
        return []

    def _discovered(self, child: Expr, prefix: Expr | None, module: str) -> list[Child]:
        """``include_router(item.router)`` on an object the code finds at run time.

        A plugin loop (``for plugin in registry.all()``) stands for every class of the
        project whose attribute holds a router (the prefix may read other attributes of
        the same plugin). Modules imported by name (``importlib.import_module``,
        ``pkgutil`` discovery) stand for every module whose global of that name is a
        router, tentatively: a router included anywhere else keeps only that inclusion.
        """
        program = self.program
        item, name = child[1], child[2]
        found: list[Child] = []
        if item[0] in ("each", "at", "p"):
            found = [
                Child(router, None, self._text(prefix, module, _class_reader(program, item, klass)))
                for router, klass in self._attribute_routers_of(name)
            ]
        added = program.text(prefix, module)
        found.extend(Child(router, None, added, True) for router in self._module_routers(name))
        return found

    def _module_routers(self, name: str) -> list[RouterKey]:
        """Routers made in a module and kept in its global ``name``."""
        known = self._module_routers_by_name.get(name)
        if known is None:
            program = self.program
            known = self._module_routers_by_name[name] = [
                value[1]
                for summary in program.modules.values()
                for expr in summary.globals.get(name, ())
                for value in program.eval(expr, summary.name)
                if value[0] == "R" and value[1][0] == summary.name
            ]
        return known

    def _loop_part(self, expr: Expr, module: str) -> Expr:
        """A module-level loop binds its names as globals: ``for prefix, router in ...``
        at the top of a module reads them back as the loop's parts."""
        if expr[0] != "g":
            return expr
        summary = self.program.modules.get(module)
        bound = summary.globals.get(expr[1], []) if summary is not None else []
        if len(bound) == 1 and bound[0][0] in ("each", "at"):
            return bound[0]
        return expr

    def _bound_prefix(self, router: RouterKey, child: Expr, module: str) -> str | None:
        """``include_router(make_router("github"))`` where ``make_router(name)`` creates
        ``APIRouter(prefix=f"/{name}")``: this call's prefix, ``/github``."""
        info = self.program.routers.get(router)
        if child[0] != "c" or info is None or info.prefix_expr is None:
            return None
        for value in self.program.eval(child[1], module):
            if value[0] != "F" or value[1][0] != info.module:
                continue
            function = self.program.function(value[1])
            if function is not None and _mentions(info.prefix_expr, value[1][1]):
                return self._text_with(info.prefix_expr, info.module, value[1], child, module)
        return None

    def _text_with(self, expr: Expr, module: str, function: Key, call: Expr, caller: str) -> str:
        """A prefix with the parameters of ``function`` read from ``call``."""
        program = self.program
        summary = program.function(function)
        names = [name for name, _annotation, _default in summary.params] if summary else []

        def argument(part: Expr) -> str | None:
            if part[0] != "p" or part[1] != function[1]:
                return None
            position = names.index(part[2]) if part[2] in names else len(call[4])
            given = call[4][position] if position < len(call[4]) else keyword(call, part[2])
            if given is not None and given[0] != "u":
                return program.text(given, caller)
            return program.text(part[4], module) if part[4] is not None else f"{{{part[2]}}}"

        return self._text(expr, module, argument)

    def _text(self, expr: Expr | None, module: str, reader: _Reader) -> str:
        """``program.text`` with some parts read by ``reader`` first."""
        if expr is None:
            return ""
        known = reader(expr)
        if known is not None:
            return known
        if expr[0] == "fs":
            return "".join(self._text(part, module, reader) or "{...}" for part in expr[1])
        return self.program.text(expr, module)

    def _methods(self, verb: str, call: Expr, module: str) -> list[str]:
        if verb in _HTTP_METHODS:
            return [verb.upper()]
        if verb == "websocket":
            return ["WEBSOCKET"]
        listed = keyword(call, "methods")
        if listed is not None and listed[0] == "l":
            # ``methods=[method]`` in a router factory: the parameter's default
            methods = [
                self.program.constant(item[4] if item[0] == "p" else item, module)
                for item in listed[1]
            ]
            return sorted(str(method).upper() for method in methods if isinstance(method, str))
        return ["GET"]

    def placements(self, router: RouterKey, seen: set[RouterKey]) -> list[Placement]:
        """Where a router's routes end up: each full prefix, with the dependencies each
        inclusion adds and the apps and routers on the way (their middleware runs)."""
        info = self.program.routers.get(router)
        own = info.prefix if info is not None else ""
        own_dependencies = list(info.dependencies) if info is not None else []
        parents = _without_alternatives(self._parents.get(router, []))
        if not parents or router in seen:
            return [Placement(own, own_dependencies, (router,))]
        result: list[Placement] = []
        for inclusion in parents:
            for above in self.placements(inclusion.parent, seen | {router}):
                added = [(expr, inclusion.module) for expr in inclusion.dependencies]
                mine = own if inclusion.own is None else inclusion.own
                result.append(
                    Placement(
                        join(join(above.prefix, inclusion.prefix), mine),
                        [*above.dependencies, *added, *own_dependencies],
                        (*above.routers, router),
                    )
                )
        return result


@dataclass(frozen=True, slots=True)
class Child:
    """A router an inclusion attaches, with the prefixes it gets there."""

    router: RouterKey
    own: str | None  # its own prefix, when a function made it for this inclusion
    prefix: str  # the prefix the inclusion adds
    tentative: bool = False


@dataclass(frozen=True, slots=True)
class Placement:
    prefix: str
    dependencies: list[tuple[Expr, str]]
    routers: tuple[RouterKey, ...]  # from the outermost app down to the router itself


def _list(expr: Expr | None) -> list[Expr]:
    return list(expr[1]) if expr is not None and expr[0] == "l" else []


def _without_alternatives(inclusions: list[Inclusion]) -> list[Inclusion]:
    """One inclusion of each set of alternatives (``if base: mount(base, api) else:
    mount("/api", api)``): the first whose prefix is fully known, else the first.
    Tentative inclusions only count when there is no other."""
    if any(not inclusion.tentative for inclusion in inclusions):
        inclusions = [inclusion for inclusion in inclusions if not inclusion.tentative]
    kept: list[Inclusion] = []
    for inclusion in sorted(inclusions, key=lambda inclusion: "{" in inclusion.prefix):
        if not any(inclusion.excludes(other) for other in kept):
            kept.append(inclusion)
    return kept


def _class_reader(program: Program, item: Expr, klass: Key) -> _Reader:
    """Reads ``plugin.name`` as the constant class attribute of the plugin's class."""

    def read(part: Expr) -> str | None:
        if part[0] != "a" or part[1] != item:
            return None
        for value in program.class_attribute(klass, part[2]):
            if value[0] == "K":
                return str(value[1])
        return None

    return read


def _mentions(expr: Expr, function: str) -> bool:
    """Whether a prefix reads a parameter of ``function``."""
    if expr[0] == "p":
        return expr[1] == function  # type: ignore[no-any-return]
    return expr[0] == "fs" and any(_mentions(part, function) for part in expr[1])


def join(prefix: str, path: str) -> str:
    """A prefix and a path as FastAPI joins them, one ``/`` between."""
    if not prefix:
        return path
    if not path:
        return prefix
    return prefix.rstrip("/") + "/" + path.lstrip("/") if path != "/" else prefix.rstrip("/") + "/"
