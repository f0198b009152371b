"""The whole project: name resolution and a small type inference over module summaries.

Expressions from ``summary`` are evaluated to sets of abstract values (tuples):

    ("M", module)            a project module          ("E", "pkg.name")   a library object
    ("F", (module, qual))    a project function        ("EI", "pkg.Class") a library instance
    ("C", (module, qual))    a project class           ("EM", cls, name)   a library method
    ("I", (module, qual))    a project instance        ("EF", values)      a factory (sessionmaker)
    ("SUP", (module, qual))  ``super()`` in that class ("TM", fn, name)    a Celery task's method
    ("R", (module, line, col))  a FastAPI app or APIRouter, by the place it is created
    ("D", callables) ``Depends(...)``   ("AN", types, depends) ``Annotated[...]``   ("K", constant)

Evaluation is flow-insensitive across functions, memoized per expression, and stops
at cycles: it never guesses. A value it cannot know is simply absent, which is how
the checker stays quiet on code it does not understand.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from unstuck.check.discovery import import_aliases
from unstuck.check.library_routes import ROUTER_CLASSES, LibraryRoute, is_generic_owner
from unstuck.check.model import ClassSummary, Expr, FunctionSummary, ModuleSummary
from unstuck.check.rule import Knowledge

Value = tuple[Any, ...]
Key = tuple[str, str]
EMPTY: frozenset[Value] = frozenset()
_MAX_VALUES = 12
_MAX_ITEMS_DEPTH = 6  # names bound to names bound to a list, ...
_BUILTINS = frozenset(dir(builtins))
_ROUTER_FACTORIES = {"fastapi.FastAPI": "app", "fastapi.APIRouter": "router"}
_DEPENDS = frozenset({"fastapi.Depends", "fastapi.Security"})
_ANNOTATED = frozenset({"typing.Annotated"})
_UNION = frozenset({"typing.Optional", "typing.Union"})
_FIRST_ARGUMENT = frozenset(
    f"{module}.{name}"
    for module in ("typing", "collections.abc")
    for name in [
        "Iterator",
        "Generator",
        "AsyncIterator",
        "AsyncGenerator",
        "Iterable",
        "AsyncIterable",
        "Awaitable",
        "AbstractContextManager",
        "AbstractAsyncContextManager",
        "Type",
    ]
) | frozenset({"contextlib.AbstractContextManager", "contextlib.AbstractAsyncContextManager"})
_SESSION_FACTORIES = {
    "sqlalchemy.orm.sessionmaker": "sqlalchemy.orm.Session",
    "sqlalchemy.ext.asyncio.async_sessionmaker": "sqlalchemy.ext.asyncio.AsyncSession",
}
_GENERIC_ALIASES = {
    "typing_extensions": "typing",
    "fastapi.params": "fastapi",
    "fastapi.param_functions": "fastapi",
    "fastapi.applications": "fastapi",
    "fastapi.routing": "fastapi",
    "sqlalchemy.ext.asyncio.session": "sqlalchemy.ext.asyncio",
}


@dataclass(slots=True)
class RouterInfo:
    key: tuple[str, int, int]
    kind: str  # "app" or "router"
    prefix: str
    # each with the module it is written in (a subclass may add its own)
    dependencies: list[tuple[Expr, str]] = field(default_factory=list)
    # the prefix as written, and its module: a router made by a function called with
    # different arguments (``make_router("github")``) has a prefix per call
    prefix_expr: Expr | None = None
    module: str = ""
    # routes a library's router comes with (``library_routes``), under ``builtin_path``,
    # and the library callable that made it
    builtin: tuple[LibraryRoute, ...] = ()
    builtin_path: str = ""
    made_by: str = ""


class Program:
    def __init__(self, modules: dict[str, ModuleSummary], knowledge: Knowledge) -> None:
        self.modules = modules
        self.knowledge = knowledge
        for alias, target in _GENERIC_ALIASES.items():
            knowledge.aliases.setdefault(alias, target)
        self.packages = {
            ".".join(name.split(".")[:index])
            for name in modules
            for index in range(1, name.count(".") + 2)
        }
        self.aliases, self.namespaces = import_aliases(
            (name, summary.path) for name, summary in modules.items()
        )
        self.routers: dict[tuple[str, int, int], RouterInfo] = {}
        self._memo: dict[tuple[str, int], frozenset[Value]] = {}
        self._active: set[tuple[str, int]] = set()
        self._dotted: dict[str, frozenset[Value]] = {}
        self._returns: dict[Key, frozenset[Value]] = {}
        self._mro: dict[Key, list[Value]] = {}

    # -- lookups ------------------------------------------------------------------

    def function(self, key: Key) -> FunctionSummary | None:
        module = self.modules.get(key[0])
        return module.functions.get(key[1]) if module is not None else None

    def klass(self, key: Key) -> ClassSummary | None:
        module = self.modules.get(key[0])
        return module.classes.get(key[1]) if module is not None else None

    def functions(self) -> Iterable[tuple[Key, FunctionSummary]]:
        for name, module in self.modules.items():
            for qualname, function in module.functions.items():
                yield (name, qualname), function

    def resolve_dotted(self, dotted: str) -> frozenset[Value]:
        known = self._dotted.get(dotted)
        if known is not None:
            return known
        self._dotted[dotted] = EMPTY
        parts = dotted.split(".")
        result: frozenset[Value] = frozenset({("E", self.knowledge.canonical(dotted))})
        for index in range(len(parts), 0, -1):
            module = self.project_module(".".join(parts[:index]))
            if module is not None:
                result = frozenset({("M", module)})
                for attribute in parts[index:]:
                    result = self.attribute(result, attribute)
                break
        self._dotted[dotted] = result
        return result

    def project_module(self, name: str) -> str | None:
        """The project module or package a dotted name imports, through aliases too."""
        if name in self.packages:
            return name
        alias = self.aliases.get(name)
        if alias is not None:
            return alias
        return name if name in self.namespaces else None

    def module_attribute(self, module: str, name: str, builtin: bool) -> frozenset[Value]:
        summary = self.modules.get(module)
        if summary is not None:
            exprs = summary.globals.get(name)
            if exprs:
                return _union(self.eval(expr, module) for expr in exprs)
        submodule = self.project_module(f"{module}.{name}" if module else name)
        if submodule is not None:
            return frozenset({("M", submodule)})
        if summary is None and module in self.namespaces:
            # a directory of the project's that may share its name with a library
            return frozenset({("E", self.knowledge.canonical(f"{module}.{name}"))})
        if summary is not None:
            for star in summary.star_imports:
                project = self.project_module(star)
                if project is not None:
                    found = self.module_attribute(project, name, False)
                else:
                    found = frozenset({("E", self.knowledge.canonical(f"{star}.{name}"))})
                if found:
                    return found
        if builtin and name in _BUILTINS:
            return frozenset({("E", f"builtins.{name}")})
        return EMPTY

    def mro(self, key: Key) -> list[Value]:
        known = self._mro.get(key)
        if known is not None:
            return known
        self._mro[key] = [("C", key)]
        order: list[Value] = [("C", key)]
        klass = self.klass(key)
        if klass is not None:
            for base in klass.bases:
                for value in self.eval(base, key[0]):
                    if value[0] == "C":
                        order.extend(v for v in self.mro(value[1]) if v not in order)
                    elif value[0] == "E" and value not in order:
                        order.append(value)
        self._mro[key] = order
        return order

    def method(self, key: Key, name: str, after: bool = False) -> Key | None:
        """The project function that ``name`` resolves to on instances of class ``key``."""
        skipping = after
        for entry in self.mro(key):
            if skipping:
                skipping = entry != ("C", key)
                continue
            if entry[0] != "C":
                continue
            klass = self.klass(entry[1])
            if klass is not None and name in klass.methods:
                return (entry[1][0], klass.methods[name])
        return None

    def is_property(self, function: FunctionSummary) -> bool:
        """``@property`` / ``@cached_property``: reading the attribute gives the return value."""
        return any(
            last_name(decorator) in ("property", "cached_property")
            for decorator in function.decorators
        )

    # -- evaluation ---------------------------------------------------------------

    def eval(self, expr: Expr, module: str) -> frozenset[Value]:
        kind = expr[0]
        if kind == "u":
            return EMPTY
        if kind == "k":
            return frozenset({("K", expr[1])}) if isinstance(expr[1], str) else EMPTY
        key = (module, id(expr))
        known = self._memo.get(key)
        if known is not None:
            return known
        if key in self._active:
            return EMPTY
        self._active.add(key)
        try:
            result = self._evaluate(kind, expr, module)
        finally:
            self._active.discard(key)
        if len(result) > _MAX_VALUES:
            result = frozenset(sorted(result, key=_order)[:_MAX_VALUES])
        self._memo[key] = result
        return result

    def _evaluate(self, kind: str, expr: Expr, module: str) -> frozenset[Value]:
        if kind == "g":
            return self.module_attribute(module, expr[1], True)
        if kind == "a":
            return self.attribute(self.eval(expr[1], module), expr[2])
        if kind == "c":
            return self.call(self.eval(expr[1], module), expr, module)
        if kind == "imp":
            return self.resolve_dotted(expr[1])
        if kind == "mod":
            project = self.project_module(expr[1])
            if project is not None:
                return frozenset({("M", project)})
            return frozenset({("E", self.knowledge.canonical(expr[1]))})
        if kind in ("aw", "enter"):
            return (
                self.entered(self.eval(expr[1], module))
                if kind == "enter"
                else self.eval(expr[1], module)
            )
        if kind == "p":
            return self.parameter(expr, module)
        if kind == "ann":
            return self.instances(self.eval(expr[1], module))
        if kind == "self":
            return frozenset({("I", (module, expr[1]))})
        if kind == "class":
            return frozenset({("C", (module, expr[1]))})
        if kind == "super":
            return frozenset({("SUP", (module, expr[1]))})
        if kind == "fn":
            return frozenset({("F", (module, expr[1]))})
        if kind == "or":
            return self.eval(expr[1], module) | self.eval(expr[2], module)
        if kind == "sub":
            return self.subscript(expr, module)
        if kind == "fs":
            pieces = [self.constant(part, module) for part in expr[1]]
            if all(isinstance(piece, str) for piece in pieces):
                return frozenset({("K", "".join(str(piece) for piece in pieces))})
            return EMPTY
        if kind == "each":
            return _union(self.eval(item, where) for item, where in self.items(expr[1], module))
        if kind == "at":
            index = expr[2]
            return _union(
                self.eval(item[1][index], where)
                for item, where in self.items(expr[1][1], module)
                if item[0] == "l" and index < len(item[1])
            )
        if kind == "div":
            return frozenset(
                value
                for value in self.eval(expr[1], module)
                if value == ("EI", "pathlib.Path") or value == ("E", "pathlib.Path")
            )
        return EMPTY

    def items(self, expr: Expr, module: str, depth: int = 0) -> list[tuple[Expr, str]]:
        """The items of an iterable written as a list, tuple or dict display (directly,
        through a name or a module attribute, or ``.items()``/``.keys()``/``.values()``),
        each with its module. A synthesized ``("l", (key, value))`` pair is never
        evaluated itself (evaluation is memoized by identity), only its parts."""
        kind = expr[0]
        if depth > _MAX_ITEMS_DEPTH:
            return []
        if kind == "l":
            return [(item, module) for item in expr[1]]
        if kind == "dict":
            return [(key, module) for key in expr[1]]
        if kind == "or":
            return self.items(expr[1], module, depth + 1) + self.items(expr[2], module, depth + 1)
        if kind == "c" and expr[1][0] == "a" and expr[1][2] in ("items", "keys", "values"):
            found: list[tuple[Expr, str]] = []
            for shown, where in self.displays(expr[1][1], module, depth + 1):
                if shown[0] != "dict":
                    continue
                if expr[1][2] == "keys":
                    found.extend((key, where) for key in shown[1])
                elif expr[1][2] == "values":
                    found.extend((value, where) for value in shown[2])
                else:
                    found.extend(
                        (("l", pair), where) for pair in zip(shown[1], shown[2], strict=True)
                    )
            return found
        if kind == "c":  # ``for router in all_routers():``, what the function returns
            return [
                item
                for value in self.eval(expr[1], module)
                if value[0] == "F" and (function := self.function(value[1])) is not None
                for returned in function.returns
                for item in self.items(returned, value[1][0], depth + 1)
            ]
        return [
            item
            for shown, where in self.displays(expr, module, depth + 1)
            for item in self.items(shown, where, depth + 1)
        ]

    def displays(self, expr: Expr, module: str, depth: int) -> list[tuple[Expr, str]]:
        """The list, tuple or dict displays a name or module attribute is bound to."""
        kind = expr[0]
        if kind in ("l", "dict"):
            return [(expr, module)]
        bound: list[tuple[Expr, str]] = []
        if kind == "g":
            summary = self.modules.get(module)
            bound = [(e, module) for e in summary.globals.get(expr[1], [])] if summary else []
        elif kind in ("imp", "a"):
            owner, name = (
                (self.resolve_dotted(expr[1].rpartition(".")[0]), expr[1].rpartition(".")[2])
                if kind == "imp"
                else (self.eval(expr[1], module), expr[2])
            )
            for value in owner:
                summary = self.modules.get(value[1]) if value[0] == "M" else None
                if summary is not None:
                    bound.extend((e, value[1]) for e in summary.globals.get(name, []))
        if depth > _MAX_ITEMS_DEPTH:
            return []
        return [found for shown, where in bound for found in self.displays(shown, where, depth + 1)]

    def attribute(self, values: frozenset[Value], name: str) -> frozenset[Value]:
        result: set[Value] = set()
        knowledge = self.knowledge
        for value in values:
            kind = value[0]
            if kind == "M":
                result |= self.module_attribute(value[1], name, False)
            elif kind == "E":
                result.add(("E", knowledge.canonical(f"{value[1]}.{name}")))
            elif kind == "EI":
                result |= self.library_attribute(value[1], name)
            elif kind in ("I", "SUP"):
                result |= self.instance_attribute(value[1], name, after=kind == "SUP")
            elif kind == "C":
                method = self.method(value[1], name)
                if method is not None:
                    result.add(("F", method))
                else:
                    result |= self.class_attribute(value[1], name)
            elif kind == "EF" and name == "begin":
                # ``with SessionLocal.begin() as session:`` gives a session too
                result.add(value)
            elif kind == "F":
                if name in ("delay", "apply_async") and self.is_celery_task(value[1]):
                    result.add(("TM", value[1], name))
                elif name == "AsyncResult" and self.is_celery_task(value[1]):
                    result.add(("E", "celery.result.AsyncResult"))
                elif name in ("s", "si", "signature") and self.is_celery_task(value[1]):
                    result.add(("E", "celery.canvas.Signature"))
        return frozenset(result)

    def library_attribute(self, cls: str, name: str) -> frozenset[Value]:
        """``instance.name`` on a library class: a typed attribute, or a method."""
        knowledge = self.knowledge
        exact = knowledge.attribute_types.get((cls, name))
        if exact is not None:
            return frozenset({("EI", exact)})
        typed = knowledge.attribute_type(cls, name)
        method: Value = ("EM", cls, name)
        # a wildcard-typed attribute may be a resource (``client.chat``) or a method
        return frozenset({("EI", typed), method}) if typed is not None else frozenset({method})

    def class_attribute(self, key: Key, name: str) -> frozenset[Value]:
        for entry in self.mro(key):
            if entry[0] == "E":
                return frozenset({("E", self.knowledge.canonical(f"{entry[1]}.{name}"))})
            klass = self.klass(entry[1])
            if klass is not None and name in klass.attributes:
                return _union(self.eval(expr, entry[1][0]) for expr in klass.attributes[name])
        return EMPTY

    def instance_attribute(self, key: Key, name: str, after: bool = False) -> frozenset[Value]:
        method = self.method(key, name, after)
        if method is not None:
            function = self.function(method)
            if function is not None and self.is_property(function):
                return self.returns_of(method)
            return frozenset({("F", method)})
        for entry in self.mro(key):
            if entry[0] == "E":
                return self.library_attribute(entry[1], name)
            klass = self.klass(entry[1])
            if klass is not None and name in klass.attributes:
                return _union(self.eval(expr, entry[1][0]) for expr in klass.attributes[name])
        return EMPTY

    def call(self, callees: frozenset[Value], call: Expr, module: str) -> frozenset[Value]:
        result: set[Value] = set()
        knowledge = self.knowledge
        for value in callees:
            kind = value[0]
            if kind == "F":
                result |= self.returns_of(value[1])
                result |= self.returned_arguments(value[1], call, module)
            elif kind == "C":
                result.add(self.router_subclass(value[1], call, module) or ("I", value[1]))
            elif kind == "I":
                method = self.method(value[1], "__call__")
                if method is not None:
                    result |= self.returns_of(method)
            elif kind == "E":
                result |= self.call_library(value[1], call, module)
            elif kind == "EM":
                returned = knowledge.returns.get(f"{value[1]}.{value[2]}")
                if returned is not None:
                    result.add(("EI", knowledge.canonical(returned)))
            elif kind == "EI":  # a callable library object, e.g. a scoped_session registry
                returned = knowledge.returns.get(f"{value[1]}.__call__")
                if returned is not None:
                    result.add(("EI", knowledge.canonical(returned)))
            elif kind == "EF":
                result |= value[1]
            elif kind == "TM":
                result.add(("EI", "celery.result.AsyncResult"))
        return frozenset(result)

    def returned_arguments(self, key: Key, call: Expr, module: str) -> frozenset[Value]:
        """What a call passes to a parameter the function returns as is, such as
        ``def include_routers(router): ...; return router`` called with ``APIRouter()``."""
        function = self.function(key)
        if function is None:
            return EMPTY
        names = [name for name, _annotation, _default in function.params]
        result: set[Value] = set()
        for returned in function.returns:
            if returned[0] != "p" or returned[1] != key[1] or returned[2] not in names:
                continue
            position = names.index(returned[2])
            if names[:1] in (["self"], ["cls"]) and function.class_qualname is not None:
                position -= 1
            argument = keyword(call, returned[2])
            if argument is None and 0 <= position < len(call[4]):
                argument = call[4][position]
            if argument is not None:
                result |= self.eval(argument, module)
        return frozenset(result)

    def call_library(self, name: str, call: Expr, module: str) -> frozenset[Value]:
        knowledge = self.knowledge
        produced = _SESSION_FACTORIES.get(name)
        if produced is not None:
            class_ = keyword(call, "class_")
            made = self.instances(self.eval(class_, module)) if class_ is not None else EMPTY
            return frozenset({("EF", made or frozenset({("EI", produced)}))})
        router_kind = _ROUTER_FACTORIES.get(name)
        if router_kind is not None:
            return frozenset({self.router(router_kind, call, module)})
        builtin = ROUTER_CLASSES.get(name)
        if builtin is not None:  # a library's APIRouter subclass
            library_router = self.router("router", call, module)
            info = self.routers[library_router[1]]
            if builtin and not info.made_by:
                info.builtin, info.made_by = builtin, name
                info.builtin_path = self.text(keyword(call, "path"), module)
            return frozenset({library_router})
        if name in _DEPENDS:
            target = call[4][0] if call[4] else keyword(call, "dependency")
            callables = self.eval(target, module) if target is not None else EMPTY
            return frozenset({("D", callables)})
        returned = knowledge.returns.get(name)
        if returned is not None:
            return frozenset({("EI", knowledge.canonical(returned))})
        if self.is_class_name(name):
            return frozenset({("EI", name)})
        return EMPTY

    def router(
        self, kind: str, call: Expr, module: str, defaults: tuple[Expr, str] | None = None
    ) -> Value:
        """An app or router, by the call that creates it; ``defaults``: the
        ``super().__init__(...)`` call of a subclass, for a prefix or dependencies it
        passes itself."""
        key = (module, call[2], call[3])
        if key not in self.routers:
            prefix = keyword(call, "prefix")
            prefix_module = module
            if prefix is None and defaults is not None:
                given = keyword(defaults[0], "prefix")
                if given is not None and given[0] != "p":
                    prefix, prefix_module = given, defaults[1]
            dependencies = [(expr, module) for expr in _list(keyword(call, "dependencies"))]
            if defaults is not None:
                given = keyword(defaults[0], "dependencies")
                if given is not None and given[0] != "p":
                    dependencies += [(expr, defaults[1]) for expr in _list(given)]
            self.routers[key] = RouterInfo(
                key,
                kind,
                self.text(prefix, prefix_module),
                dependencies,
                prefix,
                prefix_module if prefix is not None else module,
            )
        return ("R", key)

    def is_router_type(self, value: Value) -> bool:
        if value[0] == "EI":
            return value[1] in _ROUTER_FACTORIES or value[1] in ROUTER_CLASSES
        if value[0] == "I":
            return any(_router_kind(entry[1]) for entry in self.mro(value[1]))
        return False

    def router_subclass(self, key: Key, call: Expr, module: str) -> Value | None:
        """``UserAPIRouter(prefix=...)``: a class of the project's derived from
        ``APIRouter`` or ``FastAPI`` (directly, or made and returned by a function)."""
        for entry in self.mro(key):
            if entry[0] != "E":
                continue
            kind = _router_kind(entry[1])
            if kind is None:
                continue
            defaults: tuple[Expr, str] | None = None
            init = self.method(key, "__init__")
            function = self.function(init) if init is not None else None
            if init is not None and function is not None:
                for made, _awaited in function.calls:
                    callee = made[1]
                    if callee[0] == "a" and callee[2] == "__init__" and callee[1][0] == "super":
                        defaults = (made, init[0])
                        break
            return self.router(kind, call, module, defaults)
        return None

    def is_class_name(self, name: str) -> bool:
        last = name.rpartition(".")[2]
        return last[:1].isupper() or name in self.knowledge.classes

    def instances(self, values: frozenset[Value]) -> frozenset[Value]:
        result: set[Value] = set()
        for value in values:
            kind = value[0]
            if kind == "C":
                result.add(("I", value[1]))
            elif kind == "E" and self.is_class_name(value[1]) and value[1] != "typing.Any":
                result.add(("EI", value[1]))
            elif kind == "AN":
                result |= self.instances(value[1])
        return frozenset(result)

    def entered(self, values: frozenset[Value]) -> frozenset[Value]:
        result: set[Value] = set()
        for value in values:
            if value[0] == "I":
                method = self.method(value[1], "__enter__") or self.method(value[1], "__aenter__")
                if method is not None:
                    result |= self.returns_of(method)
                    continue
            result.add(value)
        return frozenset(result)

    def subscript(self, expr: Expr, module: str) -> frozenset[Value]:
        index = expr[2]
        items: tuple[Expr, ...] = index[1] if index[0] == "l" else (index,)
        if not items:
            return EMPTY
        result: set[Value] = set()
        for base in self.eval(expr[1], module):
            if base[0] != "E":
                continue
            if base[1] in _ANNOTATED:
                depends = frozenset(
                    value
                    for item in items[1:]
                    for value in self.eval(item, module)
                    if value[0] == "D"
                )
                result.add(("AN", self.eval(items[0], module), depends))
            elif base[1] in _UNION:
                for item in items:
                    result |= self.eval(item, module)
            elif base[1] in _FIRST_ARGUMENT:
                result |= self.eval(items[0], module)
            elif is_generic_owner(base[1]):  # ``FastAPIUsers[User, UUID]``: the class
                result.add(base)
        return frozenset(result)

    def parameter(self, expr: Expr, module: str) -> frozenset[Value]:
        annotation, default = expr[3], expr[4]
        annotated = self.eval(annotation, module) if annotation is not None else EMPTY
        types = self.instances(annotated)
        if types:
            return types
        result: set[Value] = set()
        for dependency in self.dependencies(annotated, default, module):
            result |= self.dependency_result(dependency)
        return frozenset(result)

    def dependencies(
        self,
        annotated: frozenset[Value],
        default: Expr | None,
        module: str,
        library: bool = False,
    ) -> list[Value]:
        """The callables a parameter depends on (``Depends``/``Annotated``/``Depends()``)."""
        markers: list[Value] = [
            marker for value in annotated if value[0] == "AN" for marker in value[2]
        ]
        if default is not None:
            markers.extend(value for value in self.eval(default, module) if value[0] == "D")
        callables: list[Value] = []
        for marker in markers:
            if marker[1]:
                callables.extend(marker[1])
            else:  # Depends() with no argument: the annotation is the dependency
                for value in annotated:
                    callables.extend(value[1] if value[0] == "AN" else (value,))
        kinds = ("F", "C", "I", "EI") if library else ("F", "C", "I")
        return [value for value in callables if value[0] in kinds]

    def dependency_result(self, dependency: Value) -> frozenset[Value]:
        if dependency[0] == "F":
            return self.returns_of(dependency[1])
        if dependency[0] == "C":
            return frozenset({("I", dependency[1])})
        method = self.method(dependency[1], "__call__")
        return self.returns_of(method) if method is not None else EMPTY

    def returns_of(self, key: Key) -> frozenset[Value]:
        known = self._returns.get(key)
        if known is not None:
            return known
        self._returns[key] = EMPTY
        function = self.function(key)
        result: frozenset[Value] = EMPTY
        if function is not None:
            if function.return_annotation is not None:
                result = self.instances(self.eval(function.return_annotation, key[0]))
            # ``def make_router() -> APIRouter``: the router it returns, not any router
            if not result or any(self.is_router_type(value) for value in result):
                result = _union(
                    self.eval(expr, key[0]) for expr in (*function.returns, *function.yields)
                )
        self._returns[key] = result
        return result

    def constant(self, expr: Expr | None, module: str) -> object:
        if expr is None:
            return None
        if expr[0] == "k":
            return expr[1]
        for value in self.eval(expr, module):
            if value[0] == "K":
                return value[1]
        return None

    def text(self, expr: Expr | None, module: str) -> str:
        """A path or prefix: its value when known, else ``{the expression}``."""
        if expr is None:
            return ""
        value = self.constant(expr, module)
        if isinstance(value, str):
            return value
        if expr[0] == "fs":
            return "".join(self.text(part, module) or "{...}" for part in expr[1])
        shown = describe(expr)
        return f"{{{shown}}}" if shown else ""

    def is_celery_task(self, key: Key) -> bool:
        function = self.function(key)
        if function is None:
            return False
        for decorator in function.decorators:
            target = decorator[1] if decorator[0] == "c" else decorator
            if last_name(target) in ("task", "shared_task"):
                return True
        return False


def keyword(call: Expr, name: str) -> Expr | None:
    for key, value in call[5]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return None


def _router_kind(name: object) -> str | None:
    """``app`` or ``router`` for FastAPI's classes and libraries' router classes."""
    if not isinstance(name, str):
        return None
    return _ROUTER_FACTORIES.get(name) or ("router" if name in ROUTER_CLASSES else None)


def _list(expr: Expr | None) -> list[Expr]:
    return list(expr[1]) if expr is not None and expr[0] == "l" else []


def describe(expr: Expr) -> str | None:
    """Source-like text of a name or attribute chain (``settings.API_V1_STR``)."""
    kind = expr[0]
    if kind == "g":
        return str(expr[1])
    if kind in ("imp", "mod"):
        return str(expr[1]).rpartition(".")[2]
    if kind == "a":
        base = describe(expr[1])
        return f"{base}.{expr[2]}" if base else None
    if kind == "p":
        return str(expr[2])
    if kind == "self":
        return "self"
    if kind == "c":  # ``mount(settings.base_path(), api)``
        called = describe(expr[1])
        return f"{called}()" if called else None
    return None


def last_name(expr: Expr) -> str | None:
    kind = expr[0]
    if kind == "a":
        return expr[2]  # type: ignore[no-any-return]
    if kind == "g":
        return expr[1]  # type: ignore[no-any-return]
    if kind in ("imp", "mod", "fn", "class"):
        return expr[1].rpartition(".")[2]  # type: ignore[no-any-return]
    return None


def _order(value: Value) -> tuple[str, str]:
    """A cheap, deterministic order of values (names only, never nested sets)."""
    head = value[1]
    if isinstance(head, str):
        return value[0], head
    if isinstance(head, tuple) and all(isinstance(part, str | int) for part in head):
        return value[0], ".".join(map(str, head))
    return value[0], ""


def _union(sets: Iterable[frozenset[Value]]) -> frozenset[Value]:
    result: set[Value] = set()
    for values in sets:
        result |= values
    return frozenset(result)
