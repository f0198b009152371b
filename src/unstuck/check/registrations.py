"""Where routes are registered, and the prefixes that reach each router.

``Registrations.collect`` finds route decorators (``@router.get``, ``api_route``,
``websocket``, Starlette's ``route`` and ``websocket_route``, stacked or called as
``app.get(path)(handler)``) and ``add_api_route`` calls on any app or router (values
from ``program``: ``FastAPI``, ``APIRouter``, their subclasses, wherever they were
created), and records each ``include_router``,
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

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from unstuck.check.discovery import is_test_module
from unstuck.check.library_routes import INCLUDING_METHODS, ROUTER_OBJECTS, method_routes
from unstuck.check.model import (
    At,
    Attribute,
    Call,
    Constant,
    Declared,
    DictDisplay,
    Each,
    Either,
    Expr,
    FString,
    FunctionRef,
    FunctionSummary,
    Global,
    Items,
    Keyword,
    Param,
    SelfRef,
    Subscript,
    SuperRef,
    Typed,
    Unknown,
    listed,
)
from unstuck.check.overrides import REGISTRATION_METHODS, apply
from unstuck.check.program import Program, RouterInfo, last_name
from unstuck.check.values import (
    EMPTY,
    Class,
    Function,
    Instance,
    Key,
    LibraryInstance,
    LibraryMethod,
    LibraryObject,
    Router,
    RouterKey,
    Text,
    Value,
    value_order,
)
from unstuck.check.wrappers import DECORATORS as WRAPPER_DECORATORS
from unstuck.check.wrappers import EXCEPTION_HANDLER, Wrappers

# reads a part of a path when it knows better than ``Program.text`` (or ``None``)
_Reader = Callable[[Expr], str | None]
_HTTP_METHODS = frozenset(["get", "post", "put", "patch", "delete", "head", "options", "trace"])
# ``route`` / ``websocket_route``: Starlette's decorators, on FastAPI's apps and routers too
_ROUTE_DECORATORS = _HTTP_METHODS | {"api_route", "websocket", "route", "websocket_route"}
# Starlette's routes, on FastAPI's objects too: no prefix of their router, no dependencies
_PLAIN_DECORATORS = frozenset({"route", "websocket_route"})
_PLAIN_ADDING = frozenset({"add_route", "add_websocket_route"})
# a router's list of routes grown by hand: ``router.routes.append(Route(...))``
_ROUTE_LIST_GROWERS = frozenset({"append", "extend", "insert"})
# calls that add one route (FastAPI's and, on the same objects, Starlette's)
_ADDING = frozenset(
    {"add_api_route", "add_api_websocket_route", "add_route", "add_websocket_route"}
)
_CALLS = (
    _ADDING
    | INCLUDING_METHODS
    | frozenset(
        {
            "include_router",
            "mount",
            "add_middleware",
            "add_exception_handler",
            "host",
        }
    )
)
# routes given as objects (Starlette's, and FastAPI's own route classes)
_LISTED = frozenset({"Route", "APIRoute", "WebSocketRoute", "APIWebSocketRoute", "Mount", "Host"})
_LISTED_FROM = ("starlette.", "fastapi.")
# how many calls deep an app is followed through untyped parameters
_MAX_PASSING = 4
_NOT_INSTANCE_METHODS = frozenset({"staticmethod", "classmethod"})


@dataclass(slots=True)
class Registration:
    routers: list[RouterKey]
    path: str
    methods: list[str]
    handler: Key
    dependencies: list[Expr]
    module: str
    # a method decorated in its class body: a class-based view (``@cbv(router)``) makes
    # the instance per request, resolving the class's ``Depends`` attributes first
    view_class: Key | None = None
    # Starlette's own kind of route (``@router.route``, ``add_route``): FastAPI gives
    # it neither its router's prefix nor any dependency, and calls it with the request
    plain: bool = False


@dataclass(frozen=True, slots=True)
class LibraryEndpoint:
    """A route whose endpoint a library defines (``app.add_route("/metrics",
    metrics)``): served all the same, though none of the project's code runs there."""

    routers: tuple[RouterKey, ...]
    path: str
    methods: tuple[str, ...]
    name: str  # the library callable's dotted name
    module: str
    line: int  # of the call that adds it
    plain: bool


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
        self._attribute_routers: dict[str, list[tuple[RouterKey, Key]]] | None = None
        self.wrappers = Wrappers(program)
        self._module_routers_by_name: dict[str, list[RouterKey]] = {}
        self.library_endpoints: list[LibraryEndpoint] = []
        # routers whose routes document OpenAPI callbacks (``callbacks=router.routes``)
        self.callback_routers: set[RouterKey] = set()

    def _routers(self, expr: Expr, module: str, depth: int = 0) -> list[RouterKey]:
        found = _router_keys(self.program.eval(expr, module))
        if found or depth > _MAX_PASSING:
            return found
        if isinstance(expr, Param):
            return self._routers_passed(expr, module, depth)
        if isinstance(expr, Attribute) and isinstance(expr.base, Each | At | Param):
            return self._routers_by_attribute(expr.name)
        if isinstance(expr, Attribute) and expr.name == "router":  # ``app.router.add_...``
            within = self._routers(expr.base, module, depth + 1)
            return [key for key in within if self._is_app(key)]
        if isinstance(expr, Attribute) and isinstance(expr.base, SelfRef):
            return self._routers_injected(expr.base.klass, expr.name, module, depth)
        if isinstance(expr, SelfRef | SuperRef):
            # ``super().add_api_route(...)`` in a subclass's ``__init__`` adds to itself
            return self._routers_made_of((module, expr.klass))
        return found

    def _routers_made_of(self, klass: Key) -> list[RouterKey]:
        """``self.add_api_route(...)`` in a method of a class derived from ``FastAPI`` or
        ``APIRouter``: the apps and routers the project makes of it (or of a subclass)."""
        program = self.program
        found: list[RouterKey] = []
        for made in (klass, *program.subclasses(klass)):
            for where, call in program.calls_named(made[1].rpartition(".")[2]):
                for value in program.eval(call, where[0]):
                    info = program.routers.get(value.key) if isinstance(value, Router) else None
                    if info is not None and info.cls == made:
                        found.append(info.key)
        return list(dict.fromkeys(found))

    def _routers_injected(self, klass: str, name: str, module: str, depth: int) -> list[RouterKey]:
        """``self.users_router``, stored from a parameter of ``__init__``: the routers
        the class is constructed with (whatever the parameter's annotation says)."""
        summary = self.program.klass((module, klass))
        found: list[RouterKey] = []
        for stored in summary.attributes.get(name, ()) if summary is not None else ():
            if isinstance(stored, Param):
                found.extend(self._routers_passed(stored, module, depth + 1))
        return list(dict.fromkeys(found))

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
                            for router in _router_keys(self.program.eval(expr, module)):
                                entry = (router, (module, qualname))
                                index.setdefault(attribute, []).append(entry)
            self._attribute_routers = index
        return self._attribute_routers.get(name, [])

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
        if names[:1] in (["self"], ["cls"]) and function.class_qualname is not None:
            position -= 1  # ``self._configure_routes(app)``: self is not among the args
        called: Value = Function(key)
        called_name = key[1].rpartition(".")[2]
        if called_name == "__init__" and function.class_qualname is not None:
            # a constructor is called by its class's name
            called = Class((module, function.class_qualname))
            called_name = function.class_qualname.rpartition(".")[2]
        found: list[RouterKey] = []
        for (caller, _), call in self.program.calls_named(called_name):
            if called not in program.eval(call.func, caller):
                continue
            argument = call.argument(parameter.name, position)
            if argument is not None:
                found.extend(self._routers(argument, caller, depth + 1))
        return list(dict.fromkeys(found))

    def collect(self) -> list[Registration]:
        found: list[Registration] = []
        program = self.program
        for key, function in list(program.functions()):
            module = key[0]
            if program.modules[module].in_tests or is_test_module(module):
                # the apps a test builds to exercise a router are not the service's
                continue
            decorated: list[Registration] = []
            for decorator in function.decorators:
                if not isinstance(decorator, Call):
                    continue
                self._note_callbacks(decorator, module)
                if isinstance(decorator.func, Attribute):
                    kind = WRAPPER_DECORATORS.get(decorator.func.name)
                    if kind is not None:
                        routers = self._routers(decorator.func.base, module)
                        self.wrappers.add(kind, frozenset({Function(key)}), routers)
                    # ``@router.get(...)``, or a method of the project's that stands for it
                    # (``@api_manager.get(...)``)
                    made = self._decorated(decorator, key, module)
                    decorated.extend(made or self._helper_decorated(decorator, key, module))
                else:
                    decorated.extend(self._helper_decorated(decorator, key, module))
            if function.class_qualname is not None and not any(
                last_name(decorator) in _NOT_INSTANCE_METHODS for decorator in function.decorators
            ):
                for registration in decorated:
                    registration.view_class = (module, function.class_qualname)
            found.extend(decorated)
            for call in function.calls:
                self._note_callbacks(call, module)
                callee = call.func
                routes = _items(call.keyword("routes"))
                if routes:  # ``Starlette(routes=[Route(...), ...])``
                    for owner in _router_keys(program.eval(call, module)):
                        found.extend(self._listed(routes, owner, module, key))
                if isinstance(callee, Call) and isinstance(callee.func, Attribute):
                    # ``app.get("/")(handler)``, ``app.middleware("http")(handler)``
                    handler = call.args[0] if call.args else None
                    handled = program.eval(handler, module) if handler is not None else ()
                    kind = WRAPPER_DECORATORS.get(callee.func.name)
                    if handler is not None and kind is not None:
                        routers = self._routers(callee.func.base, module)
                        self.wrappers.add(kind, frozenset(handled), routers)
                    if _closure_route(callee, handler, key):
                        continue  # ``@manager.get("/x")``: each use, by ``_helper_decorated``
                    for value in sorted(handled, key=value_order):
                        if isinstance(value, Function):
                            found.extend(self._decorated(callee, value.key, module))
                    continue
                if (
                    isinstance(callee, Attribute)
                    and callee.name in _ROUTE_LIST_GROWERS
                    and isinstance(callee.base, Attribute)
                    and callee.base.name == "routes"
                    and call.args
                ):
                    # ``router.routes.append(Route("/graphql", endpoint=graphql_app))``
                    grown = call.args[-1] if callee.name != "extend" else call.args[0]
                    listed_routes = _items(grown) if callee.name == "extend" else [grown]
                    for owner in self._routers(callee.base.base, module):
                        found.extend(self._listed(listed_routes, owner, module, key))
                    continue
                if not isinstance(callee, Attribute) or callee.name not in _CALLS:
                    continue
                name = callee.name
                if (
                    isinstance(callee.base, SuperRef)
                    and key[1].rpartition(".")[2] in REGISTRATION_METHODS
                ):
                    continue  # an override passing on what it is given: ``overrides`` reads it
                branch = function.branches.get((call.line, call.col), ())
                routers = self._routers(callee.base, module)
                if not routers:
                    continue
                if name == "add_middleware" and call.args:
                    self.wrappers.add_middleware(program.eval(call.args[0], module), routers)
                elif name == "add_exception_handler" and len(call.args) > 1:
                    handled = program.eval(call.args[1], module)
                    self.wrappers.add(EXCEPTION_HANDLER, handled, routers)
                elif name in _ADDING:
                    found.extend(self._added(call, name, routers, module, key))
                elif name in INCLUDING_METHODS:  # a library app's own include method
                    for argument in call.args:
                        for child_key in self._routers(argument, module):
                            for parent in routers:
                                inclusion = Inclusion(parent, "", [], module, None, key, branch)
                                self._parents.setdefault(child_key, []).append(inclusion)
                elif name == "include_router":
                    site = Inclusion(routers[0], "", [], module, None, key, branch)
                    self._include(call, routers, site)
                else:  # ``mount(path, app)``; ``host(name, app)`` serves it at the root
                    child = call.argument("app", 1)
                    at = call.argument("path", 0)
                    prefix = "" if name == "host" else program.text(at, module)
                    for child_key in self._routers(child, module) if child is not None else []:
                        for parent in routers:
                            inclusion = Inclusion(parent, prefix, [], module, None, key, branch)
                            self._parents.setdefault(child_key, []).append(inclusion)
        return [played for registration in found for played in self._overridden(registration)]

    def _overridden(self, registration: Registration) -> list[Registration]:
        """The routes a registration makes on a router whose class overrides
        ``api_route`` or ``add_api_route`` (``overrides``): one per path the
        override passes on to FastAPI's method, or the registration as it is."""
        if registration.plain:
            return [registration]
        program = self.program
        classes = {
            info.cls if info is not None else None
            for info in map(program.routers.get, registration.routers)
        }
        klass = classes.pop() if len(classes) == 1 else None
        if klass is None:
            return [registration]
        paths = [registration.path]
        for name in REGISTRATION_METHODS:
            method = program.method(klass, name)
            function = program.function(method) if method is not None else None
            if function is None or not function.path_variants:
                continue
            paths = list(
                dict.fromkeys(
                    played
                    for path in paths
                    for variant in function.path_variants
                    if (played := apply(variant, path)) is not None
                )
            )
        if paths == [registration.path]:
            return [registration]
        return [dataclasses.replace(registration, path=path) for path in paths]

    def _listed(
        self, given: list[Expr], owner: RouterKey, module: str, within: Key
    ) -> list[Registration]:
        """Routes given as objects: ``Route``/``APIRoute(path, endpoint, methods=...)``,
        ``WebSocketRoute(path, endpoint)``, and ``Mount(path, app=...)`` or
        ``Mount(path, routes=[...])`` (a router of its own, under the path)."""
        program = self.program
        found: list[Registration] = []
        for item in given:
            if not isinstance(item, Call):
                continue
            # the class's own name, or an alias (``from fastapi.routing import APIRoute as
            # FastAPIRoute``), or a class of the project derived from it
            # (``class APIRoute(FastAPIRoute)`` with its own request handler): what it
            # stands for decides
            made = [
                base
                for value in program.eval(item.func, module)
                for base in (program.mro(value.key) if isinstance(value, Class) else [value])
            ]
            kinds = {
                value.name.rpartition(".")[2]
                for value in made
                if isinstance(value, LibraryObject) and value.name.startswith(_LISTED_FROM)
            } & _LISTED
            kind = min(kinds, default=None)
            path = program.text(item.argument("path", 0), module)
            if kind in ("Mount", "Host"):
                routes = _items(item.keyword("routes"))
                if routes:
                    mounted = program.router("router", item, module).key
                    found.extend(self._listed(routes, mounted, module, within))
                    children = [mounted]
                else:
                    child = item.argument("app", 1)
                    children = self._routers(child, module) if child is not None else []
                prefix = "" if kind == "Host" else path
                for child_key in children:
                    inclusion = Inclusion(owner, prefix, [], module, None, within)
                    self._parents.setdefault(child_key, []).append(inclusion)
            elif kind is not None:
                endpoint = item.argument("endpoint", 1)
                verb = "websocket" if "WebSocket" in kind else "api_route"
                methods = self._methods(verb, item, module)
                dependencies = listed(item.keyword("dependencies"))
                values = program.eval(endpoint, module) if endpoint is not None else EMPTY
                handlers = []
                for value in sorted(values, key=value_order):
                    # a function, or an ASGI app of the project's (its ``__call__``)
                    handler = value.key if isinstance(value, Function) else None
                    if isinstance(value, Instance):
                        handler = program.method(value.key, "__call__")
                    if handler is not None:
                        handlers.append(handler)
                found.extend(
                    Registration([owner], path, methods, handler, dependencies, module)
                    for handler in handlers
                )
                library = sorted(
                    value.cls if isinstance(value, LibraryInstance) else value.name
                    for value in values
                    if isinstance(value, LibraryObject | LibraryInstance)
                )
                if not handlers and library:
                    # a library's app as the endpoint (a GraphQL app): listed where it is
                    self.library_endpoints.append(
                        LibraryEndpoint(
                            (owner,), path, tuple(methods), library[0], module, item.line, False
                        )
                    )
        return found

    def _decorated(self, decorator: Call, handler: Key, module: str) -> list[Registration]:
        """``@router.get(path)``: ``decorator`` is the call, its callee an attribute."""
        if not isinstance(decorator.func, Attribute):
            return []
        verb = decorator.func.name
        if verb not in _ROUTE_DECORATORS:
            return []
        routers = self._routers(decorator.func.base, module)
        if not routers:
            return []
        path = self._factory_path(decorator.argument("path", 0), module)
        methods = self._methods(verb, decorator, module)
        if verb in _PLAIN_DECORATORS:
            return [Registration(routers, path, methods, handler, [], module, plain=True)]
        dependencies = listed(decorator.keyword("dependencies"))
        return [Registration(routers, path, methods, handler, dependencies, module)]

    def _factory_path(self, written: Expr | None, module: str) -> str:
        """A route path written with a parameter of the app or router factory around
        the route (``def build(probe_path="/alive"): @app.get(probe_path)``): what
        the factory's calls pass, or the default when they pass nothing. Calls that
        pass different paths leave the parameter shown as ``{name}``: the app each
        call makes is not told apart."""
        program = self.program
        parts = written.parts if isinstance(written, FString) else (written,)
        owners = {part.function for part in parts if isinstance(part, Param)}
        if written is None or len(owners) != 1:
            return program.text(written, module)
        factory: Key = (module, owners.pop())
        texts = {
            self._text_with(written, module, factory, site, caller)
            for (caller, _), site in self.program.calls_named(factory[1].rpartition(".")[2])
            if Function(factory) in program.eval(site.func, caller)
        }
        if len(texts) == 1:
            return texts.pop()
        if not texts:  # never called here: each parameter's default, if it has one
            return self._text_with(written, module, factory, None, module)
        return program.text(written, module)

    def _helper_decorated(self, decorator: Call, handler: Key, module: str) -> list[Registration]:
        """``@page_route("/")`` with ``def page_route(path): return router.api_route(path,
        methods=["GET", "HEAD"])``, or ``@router_get("/")`` with ``router_get =
        partial(router.get, ...)``: the route decorator the helper stands for, its
        parameters read from this call."""
        program = self.program
        callee = decorator.func
        if isinstance(callee, Global):  # ``router_get = partial(router.get, ...)`` here
            summary = program.modules.get(module)
            for bound in summary.globals.get(callee.name, []) if summary is not None else []:
                if isinstance(bound, Call) and last_name(bound.func) == "partial" and bound.args:
                    target = bound.args[0]
                    if isinstance(target, Attribute) and target.name in _ROUTE_DECORATORS:
                        keywords = (*bound.keywords, *decorator.keywords)
                        call = Call(
                            target, decorator.line, decorator.col, decorator.args, keywords, False
                        )
                        return self._decorated(call, handler, module)
        found: list[Registration] = []
        for value in sorted(program.eval(callee, module), key=value_order):
            function = program.function(value.key) if isinstance(value, Function) else None
            if not isinstance(value, Function) or function is None:
                continue
            for returned in [*function.returns, *self._closure_routes(value.key, function)]:
                if isinstance(returned, Call) and isinstance(returned.func, Param):
                    found.extend(self._given_verb(returned, decorator, value.key, module, handler))
                    continue
                if not (
                    isinstance(returned, Call)
                    and isinstance(returned.func, Attribute)
                    and returned.func.name in _ROUTE_DECORATORS
                ):
                    continue
                made = self._decorated(returned, handler, value.key[0])
                written = returned.argument("path", 0)
                if written is not None:
                    path = self._text_with(written, value.key[0], value.key, decorator, module)
                    for registration in made:
                        registration.path = path
                found.extend(made)
        return found

    def _given_verb(
        self, returned: Call, decorator: Call, factory: Key, module: str, handler: Key
    ) -> list[Registration]:
        """``@protected_route(router.post, "/items", scopes)`` whose factory applies the
        route decorator it is given: ``method(path, dependencies=[...])(func)``. The
        router and verb are the argument this use passes; the path, options and
        dependencies are the factory's (read in its module)."""
        summary = self.program.function(factory)
        if summary is None or not isinstance(returned.func, Param):
            return []
        names = [param.name for param in summary.params]
        if returned.func.function != factory[1] or returned.func.name not in names:
            return []
        given = decorator.argument(returned.func.name, names.index(returned.func.name))
        if not (isinstance(given, Attribute) and given.name in _ROUTE_DECORATORS):
            return []
        routers = self._routers(given.base, module)
        if not routers:
            return []
        written = returned.argument("path", 0)
        path = (
            self._text_with(written, factory[0], factory, decorator, module)
            if written is not None
            else ""
        )
        call = Call(given, decorator.line, decorator.col, returned.args, returned.keywords, False)
        methods = self._methods(given.name, call, factory[0])
        if given.name in _PLAIN_DECORATORS:
            return [Registration(routers, path, methods, handler, [], factory[0], plain=True)]
        dependencies = listed(returned.keyword("dependencies"))
        return [Registration(routers, path, methods, handler, dependencies, factory[0])]

    def _closure_routes(self, key: Key, function: FunctionSummary) -> list[Call]:
        """``def get(self, path): def decorator(func): self.app.get(path)(func); return
        func`` then ``return decorator``: the route decorators the returned function
        applies to what it decorates (``self.app.get(path)``)."""
        found: list[Call] = []
        for returned in function.returns:
            if not isinstance(returned, FunctionRef):
                continue
            inner = self.program.function((key[0], returned.function))
            if inner is None or not inner.params:
                continue
            for call in inner.calls:
                if (
                    isinstance(call.func, Call)
                    and call.args
                    and _wraps(call.args[0], inner.params[0].name, returned.function)
                ):
                    found.append(call.func)
        return found

    def _added(
        self, call: Call, name: str, routers: list[RouterKey], module: str, within: Key
    ) -> list[Registration]:
        """``add_api_route(path, endpoint, methods=...)`` made in function ``within``."""
        # Starlette's ``add_route(path, route)`` names the endpoint ``route``
        endpoint = call.argument("endpoint", 1) or call.keyword("route")
        if endpoint is None:
            return []
        verb = "websocket" if "websocket" in name else "api_route"
        plain = name in _PLAIN_ADDING
        self._library_endpoint(call, endpoint, verb, routers, module, plain)
        dependencies = [] if plain else listed(call.keyword("dependencies"))
        tabled = self._tabled_routes(call, endpoint, verb, routers, module, within)
        if tabled:
            for registration in tabled:
                registration.dependencies, registration.plain = dependencies, plain
            return tabled
        return [
            Registration(routers, path, methods, handler, dependencies, module, plain=plain)
            for path, methods, handlers in self._added_routes(call, endpoint, verb, module, within)
            for handler in handlers
        ]

    def _library_endpoint(
        self,
        call: Call,
        endpoint: Expr,
        verb: str,
        routers: list[RouterKey],
        module: str,
        plain: bool,
    ) -> None:
        program = self.program
        values = program.eval(endpoint, module)
        if _function_keys(values):
            return  # the project's own handler: a registration of its own
        names = sorted(value.name for value in values if isinstance(value, LibraryObject))
        if not names:
            return
        path = program.text(call.argument("path", 0), module)
        methods = tuple(self._methods(verb, call, module))
        self.library_endpoints.append(
            LibraryEndpoint(tuple(routers), path, methods, names[0], module, call.line, plain)
        )

    def _added_routes(
        self, call: Call, endpoint: Expr, verb: str, module: str, within: Key
    ) -> list[tuple[str, list[str], list[Key]]]:
        """The path, methods and handlers of each route one ``add_api_route`` call
        registers: one per item of a loop over paths (``for path in ("/v1/messages",
        ...)``), one per call of a helper whose parameters it passes on (``def
        route(path, fn, methods): router.add_api_route(path, fn, methods=methods)``)."""
        program = self.program
        written = call.argument("path", 0)
        methods = self._methods(verb, call, module)
        handlers = _function_keys(program.eval(endpoint, module))
        if written is None:
            return [("", methods, handlers)]
        shown = self._loop_parts(written, module)
        looped = _loop_in(shown)
        if looped is not None:
            return [
                (
                    self._text(shown, module, _item_reader(program, looped, item, where)),
                    methods,
                    handlers,
                )
                for item, where in program.items(looped.iterable, module)
            ] or [(program.text(written, module), methods, handlers)]
        function = program.function(within)
        if not (isinstance(written, Param) and written.function == within[1]) or function is None:
            return [(program.text(written, module), methods, handlers)]
        names = [param.name for param in function.params]
        offset = 1 if names[:1] in (["self"], ["cls"]) and function.class_qualname else 0

        def given(expr: Expr | None, site: Call) -> Expr | None:
            """What a call of ``within`` passes to the parameter ``expr`` (if it is one)."""
            if not isinstance(expr, Param) or expr.function != within[1] or expr.name not in names:
                return None
            return site.argument(expr.name, names.index(expr.name) - offset)

        listed = call.keyword("methods")
        # ``def add_api_route(self, path, endpoint, **kwargs): self.app.add_api_route(path,
        # endpoint, **kwargs)``: the methods are what each call of the helper names
        spread = listed is None and any(
            keyword.name is None and _hands_on_keywords(keyword.value, within[1])
            for keyword in call.keywords
        )
        found: list[tuple[str, list[str], list[Key]]] = []
        for (caller, _), site in self.program.calls_named(within[1].rpartition(".")[2]):
            if Function(within) not in program.eval(site.func, caller):
                continue
            path = self._text_with(written, module, within, site, caller)
            bound = methods
            passed = site.keyword("methods") if spread else given(listed, site)
            if isinstance(passed, Items):
                constants = [program.constant(item, caller) for item in passed.items]
                bound = sorted(str(item).upper() for item in constants if isinstance(item, str))
            passed_endpoint = given(endpoint, site)
            site_handlers = (
                _function_keys(program.eval(passed_endpoint, caller))
                if passed_endpoint is not None
                else handlers
            )
            found.append((path, bound, site_handlers))
        return found or [(program.text(written, module), methods, handlers)]

    def _note_callbacks(self, call: Call, module: str) -> None:
        """``@app.post("/invoices", callbacks=invoice_callbacks.routes)``: the routes of
        that router document requests the app sends (OpenAPI callbacks); none is served."""
        given = call.keyword("callbacks")
        if isinstance(given, Attribute) and given.name == "routes":
            self.callback_routers.update(self._routers(given.base, module))

    def _tabled_routes(
        self,
        call: Call,
        endpoint: Expr,
        verb: str,
        routers: list[RouterKey],
        module: str,
        within: Key,
    ) -> list[Registration]:
        """``for spec in ROUTES: router.add_api_route(spec["path"], spec["endpoint"],
        methods=spec["methods"])``, also over objects (``config.path``, and
        ``config.as_view()`` returning ``self.endpoint``) and over a list a helper is
        given (``register_routes(router, configs)``, each call its router and its list):
        one route per item of the table, each read from its own item."""
        each = _read_item_of(endpoint)
        if each is None:
            return []
        found: list[Registration] = []
        for item, where, owners in self._table_items(each.iterable, call, routers, module, within):
            handler = self._of_item(endpoint, each, item, where)
            if handler is None:
                continue
            written = call.argument("path", 0)
            path_expr = self._of_item(written, each, item, where) if written is not None else None
            path = self.program.text(path_expr, where) if path_expr is not None else ""
            methods = self._item_methods(verb, call, each, item, where)
            for value in sorted(self.program.eval(handler, where), key=value_order):
                key = value.key if isinstance(value, Function) else None
                if isinstance(value, Class):  # a class-based view: its instances are called
                    key = self.program.method(value.key, "__call__")
                if key is not None:
                    found.append(Registration(owners, path, methods, key, [], module))
        return found

    def _table_items(
        self, iterable: Expr, call: Call, routers: list[RouterKey], module: str, within: Key
    ) -> list[tuple[Expr, str, list[RouterKey]]]:
        """The items of a table of routes, each with the routers it goes to: written out,
        or given to the helper's parameter by each of its callers, with the router that
        caller gives."""
        program = self.program
        if not (isinstance(iterable, Param) and iterable.function == within[1]):
            return [(item, where, routers) for item, where in program.items(iterable, module)]
        function = program.function(within)
        if function is None:
            return []
        names = [param.name for param in function.params]
        offset = 1 if names[:1] in (["self"], ["cls"]) and function.class_qualname else 0
        receiver = call.func.base if isinstance(call.func, Attribute) else None
        found: list[tuple[Expr, str, list[RouterKey]]] = []
        for (caller, _), site in program.calls_named(within[1].rpartition(".")[2]):
            if Function(within) not in program.eval(site.func, caller):
                continue
            given = site.argument(iterable.name, names.index(iterable.name) - offset)
            if given is None:
                continue
            owners = routers
            if (
                isinstance(receiver, Param)
                and receiver.function == within[1]
                and receiver.name in names
            ):
                passed = site.argument(receiver.name, names.index(receiver.name) - offset)
                owners = self._routers(passed, caller) if passed is not None else routers
            found.extend((item, where, owners) for item, where in program.items(given, caller))
        return found

    def _of_item(self, expr: Expr, each: Each, item: Expr, where: str) -> Expr | None:
        """What ``expr``, read from the loop's item, is for this ``item`` (in ``where``):
        a key of a dict, an argument of the construction, what a method returns of it."""
        match expr:
            case Each() if expr == each:
                return item
            case Subscript(base, Constant(key)) if base == each and isinstance(item, DictDisplay):
                for written, value in zip(item.keys, item.values, strict=True):
                    if isinstance(written, Constant) and written.value == key:
                        return value
                return None
            case Attribute(base, name) if base == each and isinstance(item, Call):
                return self._constructed_with(item, name, where)
            case Call(Attribute(base, name)) if base == each and isinstance(item, Call):
                # ``config.as_view()`` returning ``self.endpoint`` (among its returns)
                for made in self.program.eval(item.func, where):
                    method = (
                        self.program.method(made.key, name) if isinstance(made, Class) else None
                    )
                    function = self.program.function(method) if method is not None else None
                    for returned in function.returns if function is not None else ():
                        if isinstance(returned, Attribute) and isinstance(returned.base, SelfRef):
                            found = self._constructed_with(item, returned.name, where)
                            if found is not None:
                                return found
                return None
        return None

    def _constructed_with(self, made: Call, name: str, where: str) -> Expr | None:
        """The argument a construction gives the field ``name``: by keyword, or by
        position in the ``__init__`` (or a dataclass's fields, in their order)."""
        given = made.keyword(name)
        if given is not None:
            return given
        for value in self.program.eval(made.func, where):
            if not isinstance(value, Class):
                continue
            init = self.program.method(value.key, "__init__")
            function = self.program.function(init) if init is not None else None
            if function is not None:
                fields = [param.name for param in function.params[1:]]
            else:
                klass = self.program.klass(value.key)
                fields = [
                    field
                    for field, bound in (klass.attributes.items() if klass is not None else ())
                    if any(isinstance(each, Typed) for each in bound)
                ]
            if name in fields and fields.index(name) < len(made.args):
                return made.args[fields.index(name)]
        return None

    def _item_methods(self, verb: str, call: Call, each: Each, item: Expr, where: str) -> list[str]:
        """The methods of a route of a table: ``methods=spec["methods"]``, or
        ``methods=[method]`` in a loop over ``config.methods``."""
        listed = call.keyword("methods")
        if verb != "api_route" or listed is None:
            return self._methods(verb, call, where)
        shown = self._of_item(listed, each, item, where)
        if shown is None and isinstance(listed, Items) and len(listed.items) == 1:
            inner = listed.items[0]
            if isinstance(inner, Each):
                shown = self._of_item(inner.iterable, each, item, where)
        if isinstance(shown, Items):
            constants = [self.program.constant(entry, where) for entry in shown.items]
            return sorted(str(c).upper() for c in constants if isinstance(c, str))
        return ["GET"]

    def _include(self, call: Call, routers: list[RouterKey], site: Inclusion) -> None:
        """``include_router``; ``site`` holds the module, caller and blocks of the call."""
        module = site.module
        child = call.argument("router", 0)
        if child is None:
            # ``for spec in ROUTERS: app.include_router(**spec)``: each dict's keys are
            # the keywords of one inclusion
            for given in self._spread_dicts(call, module):
                self._include(given, routers, site)
            return
        child = self._loop_part(child, module)
        prefix_expr = call.keyword("prefix")
        if prefix_expr is not None:
            prefix_expr = self._loop_part(prefix_expr, module)
        dependencies = listed(call.keyword("dependencies"))
        # (router expression, prefix text when the loop item decides it, module)
        pairs: list[tuple[Expr, str | None, str]] = [(child, None, module)]
        each = child.each if isinstance(child, At) else child if isinstance(child, Each) else None
        if each is not None:
            # one item at a time: ``for prefix, router in ROUTERS.items()`` or
            # ``for name, router in ...: include_router(router, prefix=f"/{name}")``; a
            # long list of routers is also more values than one name may hold. The
            # f-string's names are read as the module-level loop's parts they are (a
            # new record: only ``_text`` reads it, never ``Program.eval``).
            shown = self._loop_parts(prefix_expr, module) if prefix_expr is not None else None
            reads_loop = shown is not None and _reads_loop(shown, each)
            pairs = []
            for item, where in self.program.items(each.iterable, module):
                part = item
                if isinstance(child, At):
                    if not isinstance(item, Items) or child.index >= len(item.items):
                        continue
                    part = item.items[child.index]
                text = None
                if reads_loop and shown is not None:
                    reader = _item_reader(self.program, each, item, where)
                    text = self._text(shown, module, reader)
                pairs.append((part, text, where))
        if each is None and isinstance(child, Call):
            # ``for name in ("books", "authors"): include_router(make_crud(name))``: the
            # factory's router once per item, each with the prefix that call gives it
            pairs = self._per_item_calls(child, module) or pairs
        if (
            each is None
            and (isinstance(child, Param) or isinstance(prefix_expr, Param))
            and site.caller is not None
        ):
            # ``def include_with_prefix(app, router, prefix): app.include_router(router,
            # prefix=prefix)`` (or ``**kwargs``): each call of the helper includes the
            # router it passes, at the prefix it passes
            spread = any(keyword.name is None for keyword in call.keywords)
            through = self._through_helper(child, prefix_expr, spread, site.caller, 0)
            if through:
                pairs = through
                prefix_expr = None
        if each is None and prefix_expr is not None:
            # ``for version in ("v1", "v2"): include_router(api, prefix=f"/{version}")``:
            # one router, once per item
            shown = self._loop_parts(prefix_expr, module)
            looped = _loop_in(shown)
            if looped is not None:
                pairs = [
                    (
                        child,
                        self._text(shown, module, _item_reader(self.program, looped, item, where)),
                        module,
                    )
                    for item, where in self.program.items(looped.iterable, module)
                ] or pairs
        for child_expr, text, where in pairs:
            at = (call.line, call.col)
            for found in self._children(child_expr, prefix_expr, where, module, text, at):
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

    def _spread_dicts(self, call: Call, module: str) -> list[Call]:
        """``include_router(**spec)`` once per dict ``spec`` may be (a dict display, or
        each of a list of them a loop goes over), the dict's keys as keywords; dicts
        written in another module are left alone (their names read there)."""
        spread = [keyword.value for keyword in call.keywords if keyword.name is None]
        if len(spread) != 1:
            return []
        given = self._loop_part(spread[0], module)
        if isinstance(given, DictDisplay):
            displays = [given]
        elif isinstance(given, Each):
            displays = [
                item
                for item, where in self.program.items(given.iterable, module)
                if isinstance(item, DictDisplay) and where == module
            ]
        else:
            return []
        made: list[Call] = []
        for display in displays:
            keys = [self.program.constant(key, module) for key in display.keys]
            if not all(isinstance(key, str) for key in keys):
                continue
            named = tuple(
                Keyword(str(key), value) for key, value in zip(keys, display.values, strict=True)
            )
            kept = tuple(keyword for keyword in call.keywords if keyword.name is not None)
            made.append(Call(call.func, call.line, call.col, call.args, named + kept, False))
        return made

    def _per_item_calls(self, call: Call, module: str) -> list[tuple[Expr, str | None, str]]:
        """``call`` once per item of the loop an argument of it reads, that argument
        replaced by the item (items written in another module are left alone)."""
        passed = [*call.args, *(keyword.value for keyword in call.keywords)]
        looped = next((value for value in passed if isinstance(value, Each | At)), None)
        if looped is None:
            return []
        each = looped if isinstance(looped, Each) else looped.each
        calls: list[tuple[Expr, str | None, str]] = []
        for item, where in self.program.items(each.iterable, module):
            part: Expr = item
            if isinstance(looped, At):
                if not isinstance(item, Items) or looped.index >= len(item.items):
                    continue
                part = item.items[looped.index]
            if where != module and not isinstance(part, Constant):
                return []

            def put(value: Expr, part: Expr = part) -> Expr:
                return part if value is looped else value

            args = tuple(put(arg) for arg in call.args)
            keywords = tuple(Keyword(keyword.name, put(keyword.value)) for keyword in call.keywords)
            made = Call(call.func, call.line, call.col, args, keywords, call.awaited)
            calls.append((made, None, module))
        return calls

    def _through_helper(
        self, child: Expr, prefix: Expr | None, spread: bool, within: Key, depth: int
    ) -> list[tuple[Expr, str | None, str]]:
        """The routers (and prefixes) the calls of helper ``within`` pass to its parameter
        ``child``, through helpers that call helpers (a few levels); or, for a router of
        its own, the prefix each call passes (``add_routes(route_prefix)``)."""
        program = self.program
        function = program.function(within)
        if function is None or depth > _MAX_PASSING:
            return []
        names = [param.name for param in function.params]
        if isinstance(child, Param) and (child.function != within[1] or child.name not in names):
            return []
        offset = 1 if names[:1] in (["self"], ["cls"]) and function.class_qualname else 0

        def passed(param: Param, site: Call) -> Expr | None:
            if param.function != within[1] or param.name not in names:
                return None
            return site.argument(param.name, names.index(param.name) - offset)

        found: list[tuple[Expr, str | None, str]] = []
        for (caller, _), site in self.program.calls_named(within[1].rpartition(".")[2]):
            if Function(within) not in program.eval(site.func, caller):
                continue
            router = passed(child, site) if isinstance(child, Param) else child
            where = caller if isinstance(child, Param) else within[0]
            if router is None:
                continue
            given: Expr | None = prefix
            if isinstance(prefix, Param):
                given = passed(prefix, site)
            elif prefix is None and spread:
                given = site.keyword("prefix")
            if isinstance(router, Param) and isinstance(child, Param):
                outer = (caller, router.function)
                more = any(keyword.name is None for keyword in site.keywords)
                found.extend(self._through_helper(router, given, more, outer, depth + 1))
            else:
                text = program.text(given, caller) if given is not None else ""
                found.append((router, text, where))
        return found

    def _children(
        self,
        child: Expr,
        prefix: Expr | None,
        module: str,
        site: str,
        text: str | None,
        at: tuple[int, int] = (0, 0),
    ) -> list[Child]:
        """Each router ``child`` (read in ``module``) may be, with its own prefix when the
        inclusion decides it, and the prefix the inclusion (in ``site``) adds: ``text``
        when a loop item decided it."""
        program = self.program
        found = _router_keys(program.eval(child, module))
        if not found and isinstance(child, Call):
            found = self._library_made(child, module)
        if not found:
            found = self._library_held(child, module, at)
        if not found and isinstance(child, Attribute) and not program.eval(child.base, module):
            return self._discovered(child, prefix, site)
        # a prefix read from a loop whose items are not paired with the router: unknown
        looped = isinstance(prefix, Each | At)
        added = text if text is not None else "{...}" if looped else program.text(prefix, site)
        return [
            Child(router, self._bound_prefix(router, child, module), added)
            for router in (found or self._routers(child, module))
        ]

    def _library_made(self, call: Call, module: str) -> list[RouterKey]:
        """``include_router(fastapi_users.get_auth_router(backend))``: a router a library
        builds, with the routes ``library_routes`` knows it has."""
        for value in sorted(self.program.eval(call.func, module), key=value_order):
            if not isinstance(value, LibraryMethod):
                continue
            routes = method_routes(value.cls, value.name)
            if routes is None:
                continue
            key = (module, call.line, call.col)
            if key not in self.program.routers:
                made_by = f"{value.cls}.{value.name}"
                self.program.routers[key] = RouterInfo(
                    key, "router", "", module=module, builtin=routes, made_by=made_by
                )
            return [key]
        return []

    def _library_held(self, child: Expr, module: str, at: tuple[int, int]) -> list[RouterKey]:
        """``include_router(dockerflow_router)``: a router a library module holds, with
        the routes ``library_routes`` knows it has, shown where it is included (``at``)."""
        for value in sorted(self.program.eval(child, module), key=value_order):
            if not isinstance(value, LibraryObject):
                continue
            routes = ROUTER_OBJECTS.get(value.name)
            if routes is None:
                continue
            key = (module, *at)
            if key not in self.program.routers:
                self.program.routers[key] = RouterInfo(
                    key, "router", "", module=module, builtin=routes, made_by=value.name
                )
            return [key]
        return []

    def _discovered(self, child: Attribute, prefix: Expr | None, module: str) -> list[Child]:
        """``include_router(item.router)`` on an object the code finds at run time.

        A plugin loop (``for plugin in registry.all()``) stands for every class of the
        project whose attribute holds a router (the prefix may read other attributes of
        the same plugin). Modules imported by name (``importlib.import_module``,
        ``pkgutil`` discovery) stand for every module whose global of that name is a
        router, tentatively: a router included anywhere else keeps only that inclusion.
        """
        program = self.program
        item, name = child.base, child.name
        found: list[Child] = []
        if isinstance(item, Each | At | Param):
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
                router
                for summary in program.modules.values()
                for expr in summary.globals.get(name, ())
                for router in _router_keys(program.eval(expr, summary.name))
                if router[0] == summary.name
            ]
        return known

    def _loop_parts(self, expr: Expr, module: str) -> Expr:
        """``_loop_part`` inside an f-string too: ``f"/{name}"`` in a module-level loop."""
        if isinstance(expr, FString):
            return FString(tuple(self._loop_part(part, module) for part in expr.parts))
        return self._loop_part(expr, module)

    def _loop_part(self, expr: Expr, module: str) -> Expr:
        """A module-level loop binds its names as globals: ``for prefix, router in ...``
        at the top of a module reads them back as the loop's parts."""
        if not isinstance(expr, Global):
            return expr
        summary = self.program.modules.get(module)
        bound = summary.globals.get(expr.name, []) if summary is not None else []
        loops = [value for value in bound if isinstance(value, Each | At)]
        return loops[0] if len(loops) == 1 else expr

    def _bound_prefix(self, router: RouterKey, child: Expr, module: str) -> str | None:
        """``include_router(make_router("github"))`` where ``make_router(name)`` creates
        ``APIRouter(prefix=f"/{name}")``: this call's prefix, ``/github``."""
        info = self.program.routers.get(router)
        if not isinstance(child, Call) or info is None or info.prefix_expr is None:
            return None
        for value in sorted(self.program.eval(child.func, module), key=value_order):
            if not isinstance(value, Function) or value.key[0] != info.module:
                continue
            function = self.program.function(value.key)
            if function is not None and _mentions(info.prefix_expr, value.key[1]):
                return self._text_with(info.prefix_expr, info.module, value.key, child, module)
        return None

    def _text_with(
        self, expr: Expr, module: str, function: Key, call: Call | None, caller: str
    ) -> str:
        """A prefix with the parameters of ``function`` read from ``call`` (their
        defaults without one)."""
        program = self.program
        summary = program.function(function)
        names = [param.name for param in summary.params] if summary else []
        # a method's call passes its arguments after ``self`` / ``cls``
        bound = summary is not None and summary.class_qualname and names[:1] in (["self"], ["cls"])
        offset = 1 if bound else 0

        def argument(part: Expr) -> str | None:
            if not isinstance(part, Param) or part.function != function[1]:
                return None
            position = names.index(part.name) - offset if part.name in names else -1
            given = call.argument(part.name, position) if call is not None else None
            if given is not None and not isinstance(given, Unknown):
                return program.text(given, caller)
            if part.default is not None:
                return program.text(part.default, module)
            return f"{{{part.name}}}"

        return self._text(expr, module, argument)

    def _text(self, expr: Expr | None, module: str, reader: _Reader) -> str:
        """``program.text`` with some parts read by ``reader`` first."""
        if expr is None:
            return ""
        known = reader(expr)
        if known is not None:
            return known
        if isinstance(expr, FString):
            return "".join(self._text(part, module, reader) or "{...}" for part in expr.parts)
        return self.program.text(expr, module)

    def _methods(self, verb: str, call: Call, module: str) -> list[str]:
        if verb in _HTTP_METHODS:
            return [verb.upper()]
        if verb in ("websocket", "websocket_route"):
            return ["WEBSOCKET"]
        listed = call.keyword("methods")
        if isinstance(listed, Items):
            # ``methods=[method]`` in a router factory: the parameter's default
            methods = [
                self.program.constant(item.default if isinstance(item, Param) else item, module)
                for item in listed.items
            ]
            return sorted(str(method).upper() for method in methods if isinstance(method, str))
        return ["GET"]

    def placements(
        self, router: RouterKey, seen: set[RouterKey], plain: bool = False
    ) -> list[Placement]:
        """Where a router's routes end up: each full prefix, with the dependencies each
        inclusion adds and the apps and routers on the way (their middleware runs).
        ``plain``: for Starlette's routes, which get the prefixes of inclusions and
        mounts only (FastAPI adds a router's own prefix and dependencies to its own
        kind of route as it is added)."""
        copies = self.program.router_copies.get(router)
        if copies and router not in seen:
            # made by a factory called from several places: its routes are on each copy
            return [
                placement
                for copy in copies
                for placement in self.placements(copy, seen | {router}, plain)
            ]
        info = self.program.routers.get(router)
        own = self._own_prefix(info) if info is not None and not plain else ""
        own_dependencies = list(info.dependencies) if info is not None and not plain else []
        parents = _without_alternatives(self._parents.get(router, []))
        if not parents or router in seen:
            return [Placement(own, own_dependencies, (router,))]
        result: list[Placement] = []
        for inclusion in parents:
            for above in self.placements(inclusion.parent, seen | {router}, plain):
                added = [] if plain else [(e, inclusion.module) for e in inclusion.dependencies]
                mine = own if inclusion.own is None or plain else inclusion.own
                result.append(
                    Placement(
                        join(join(above.prefix, inclusion.prefix), mine),
                        [*above.dependencies, *added, *own_dependencies],
                        (*above.routers, router),
                    )
                )
        return result

    def _own_prefix(self, info: RouterInfo) -> str:
        """A router's own prefix; for a copy a factory's call made, with the
        factory's parameters read from that call."""
        if info.made_by_call is None or info.prefix_expr is None:
            return info.prefix
        function, call, caller = info.made_by_call
        if not _mentions(info.prefix_expr, function[1]):
            return info.prefix
        return self._text_with(info.prefix_expr, info.module, function, call, caller)


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


def _function_keys(values: frozenset[Value]) -> list[Key]:
    """The functions among ``values``, in the same order (by name) in every process: when
    one method and path get several handlers, the first is the one listed."""
    return sorted(value.key for value in values if isinstance(value, Function))


def _items(expr: Expr | None) -> list[Expr]:
    """The items of a list written in the code, grown or joined (``a + b``) included."""
    match expr:
        case Items():
            return list(expr.items)
        case Either():
            return [*_items(expr.left), *_items(expr.right)]
        case Declared():
            return _items(expr.value)
        case _:
            return []


def _router_keys(values: frozenset[object] | tuple[()]) -> list[RouterKey]:
    return [value.key for value in values if isinstance(value, Router)]


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
        if not isinstance(part, Attribute) or part.base != item:
            return None
        for value in program.class_attribute(klass, part.name):
            if isinstance(value, Text):
                return value.value
        return None

    return read


def _reads_loop(expr: Expr, each: Each) -> bool:
    """Whether a prefix reads the item of the loop ``each`` (or a part of it)."""
    if expr == each or (isinstance(expr, At) and expr.each == each):
        return True
    return isinstance(expr, FString) and any(_reads_loop(part, each) for part in expr.parts)


def _read_item_of(expr: Expr) -> Each | None:
    """The loop whose item an endpoint is read from: ``spec["endpoint"]``,
    ``config.endpoint``, ``config.as_view()``."""
    match expr:
        case Subscript(Each() as each, _) | Attribute(Each() as each, _):
            return each
        case Call(Attribute(Each() as each, _)):
            return each
    return None


def _loop_in(expr: Expr) -> Each | None:
    """The loop a prefix reads the item of, if any."""
    match expr:
        case Each():
            return expr
        case At():
            return expr.each
        case FString():
            for part in expr.parts:
                found = _loop_in(part)
                if found is not None:
                    return found
    return None


def _item_reader(program: Program, each: Each, item: Expr, where: str) -> _Reader:
    """Reads the loop's item (or its unpacked parts) as this ``item`` of the iterable."""

    def read(part: Expr) -> str | None:
        if part == each:
            return None if isinstance(item, Items) else program.text(item, where)
        if isinstance(part, At) and part.each == each:
            if isinstance(item, Items) and part.index < len(item.items):
                return program.text(item.items[part.index], where)
            return "{...}"
        return None

    return read


def _wraps(expr: Expr, name: str, function: str, depth: int = 0) -> bool:
    """The parameter ``name`` of ``function``, or it wrapped by decorators applied in
    place (``require_scopes(scopes)(func)``, ``wraps(func)``)."""
    match expr:
        case Param():
            return expr.name == name and expr.function == function
        case Call() if expr.args and depth < 3:
            return _wraps(expr.args[0], name, function, depth + 1)
        case _:
            return False


def _closure_route(decorator: Call, handler: Expr | None, within: Key) -> bool:
    """``app.get(path)(func)`` in a function nested in a decorator factory, with the
    nested function's parameter for the handler and the factory's for the path: a
    route for each function the factory's decorator is put on, with the path that use
    gives (see ``_closure_routes``), not one route for them all."""
    if not (isinstance(handler, Param) and handler.function == within[1]):
        return False
    written = decorator.argument("path", 0)
    outer = within[1].rpartition(".<locals>.")[0]
    return bool(outer) and isinstance(written, Param) and written.function == outer


def _mentions(expr: Expr, function: str) -> bool:
    """Whether a prefix reads a parameter of ``function``."""
    if isinstance(expr, Param):
        return expr.function == function
    return isinstance(expr, FString) and any(_mentions(part, function) for part in expr.parts)


def join(prefix: str, path: str) -> str:
    """A prefix and a path as FastAPI joins them, one ``/`` between."""
    if not prefix:
        return path
    if not path:
        return prefix
    return prefix.rstrip("/") + "/" + path.lstrip("/") if path != "/" else prefix.rstrip("/") + "/"


def _hands_on_keywords(value: Expr, function: str) -> bool:
    """``**kwargs`` of ``function`` handed on as they came, or with keys of its own set
    (``kwargs["dependencies"] = [...]``, on some paths only)."""
    match value:
        case Param():
            return value.function == function
        case DictDisplay(keys, values):
            return any(
                isinstance(key, Unknown) and _hands_on_keywords(held, function)
                for key, held in zip(keys, values, strict=True)
            )
        case Either(left, right):
            return _hands_on_keywords(left, function) or _hands_on_keywords(right, function)
        case _:
            return False
