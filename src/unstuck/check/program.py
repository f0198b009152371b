"""The whole project: name resolution and a small type inference over module summaries.

Expressions from ``summary`` (``model.Expr``) are evaluated to sets of abstract values
(``values.Value``): project modules, functions, classes and instances, library objects,
instances and methods, FastAPI apps and routers, ``Depends`` markers, known strings.

Evaluation is flow-insensitive across functions, memoized per expression, and stops
at cycles: it never guesses. A value it cannot know is simply absent, which is how
the checker stays quiet on code it does not understand.
"""

from __future__ import annotations

import builtins
import dataclasses
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

from unstuck.check.discovery import import_aliases, is_test_module
from unstuck.check.library_routes import (
    APP_CLASSES,
    ROUTER_CLASSES,
    LibraryRoute,
    is_generic_owner,
)
from unstuck.check.model import (
    At,
    Attribute,
    Await,
    Call,
    ClassRef,
    ClassSummary,
    Constant,
    Declared,
    DictDisplay,
    Divide,
    Each,
    Either,
    Entered,
    Expr,
    FString,
    FunctionRef,
    FunctionSummary,
    Global,
    Imported,
    ImportedModule,
    ItemOf,
    Items,
    ModuleSummary,
    Narrowed,
    Param,
    Rebound,
    SelfRef,
    Subscript,
    SuperRef,
    Truthy,
    Typed,
    Unknown,
    listed,
)
from unstuck.check.rule import ANY_METHOD, Knowledge, ReturnsFor, Sized
from unstuck.check.values import (
    EMPTY,
    AnnotatedType,
    Class,
    Depends,
    Function,
    Instance,
    Key,
    LibraryInstance,
    LibraryMethod,
    LibraryObject,
    Module,
    Router,
    RouterKey,
    SessionFactory,
    Super,
    TaskMethod,
    Text,
    Value,
    value_order,
)

__all__ = ["EMPTY", "Key", "Program", "RouterInfo", "Value", "describe", "keyword", "last_name"]

_MAX_VALUES = 12
# at most this many evaluations of one expression in a cycle before its result is kept
_MAX_PARTIAL = 64
# The project's own functions, classes and instances are kept beyond that: an abstract
# method stands for each override, a factory picks among dozens of classes (a library's
# too), and each is code the analysis follows, where dropping one loses what it blocks.
_MAX_PROJECT_VALUES = 64
_MAX_ITEMS_DEPTH = 6  # names bound to names bound to a list, ...
_DICT_VIEWS = frozenset({"items", "keys", "values"})
# calls that read a setting by name, with a default: ``getenv(name, default)``
_DEFAULTED = frozenset({"getenv", "get", "str", "get_env", "getenv_or_default", "env"})
# pydantic's ``Field``: a model's or settings class's attribute holds its ``default``
_FIELDS = frozenset({"pydantic.Field", "pydantic.fields.Field", "sqlmodel.Field"})
# methods of ``str`` that edit a path or prefix, read on a text known here
_TEXT_METHODS = frozenset({"strip", "rstrip", "lstrip", "lower", "removeprefix", "removesuffix"})
_BUILTINS = frozenset(dir(builtins))
_ROUTER_FACTORIES = {
    "fastapi.FastAPI": "app",
    "fastapi.APIRouter": "router",
    # Starlette's own: routes listed in ``routes=[Route(...), Mount(...)]``
    "starlette.applications.Starlette": "app",
    "starlette.routing.Router": "router",
}
# the paths of the pages FastAPI serves itself, by default
_APP_PAGES = {
    "docs_url": "/docs",
    "redoc_url": "/redoc",
    "openapi_url": "/openapi.json",
    "swagger_ui_oauth2_redirect_url": "/docs/oauth2-redirect",
}
_DEPENDS = frozenset({"fastapi.Depends", "fastapi.Security"})
_ANNOTATED = frozenset({"typing.Annotated"})
# library classes whose methods run the subclass's hooks on another thread or process
_RUN_ELSEWHERE = frozenset({"threading.Thread", "threading.Timer", "multiprocessing.Process"})
# bases that call none of a class's methods back: abstract bases, generics, protocols,
# enums, exceptions (``class Connector(ABC)`` has no hooks for ``abc`` to run)
_NO_HOOKS = frozenset(
    {
        "abc.ABC",
        "typing.Generic",
        "typing.Protocol",
        "typing_extensions.Protocol",
        "builtins.object",
        "builtins.Exception",
        "builtins.ValueError",
        "builtins.RuntimeError",
        "enum.Enum",
        "enum.IntEnum",
        "enum.StrEnum",
        "enum.Flag",
    }
)
# annotations of a dict whose second argument is the type of its values
_MAPPINGS = frozenset(
    {
        "builtins.dict",
        "typing.Dict",
        "typing.Mapping",
        "typing.MutableMapping",
        "typing.DefaultDict",
        "typing.OrderedDict",
        "collections.abc.Mapping",
        "collections.abc.MutableMapping",
        "collections.defaultdict",
        "collections.OrderedDict",
    }
)
# methods of a dict that hand out one of its values
_MAPPING_READS = frozenset({"get", "pop", "setdefault"})
_SINGLE_DISPATCH = frozenset({"functools.singledispatch", "functools.singledispatchmethod"})
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
        # a class attribute's or a constant's own type
        "ClassVar",
        "Final",
    ]
) | frozenset(
    {
        "contextlib.AbstractContextManager",
        "contextlib.AbstractAsyncContextManager",
        # what the dishka container injects (``service: FromDishka[StoreService]``)
        "dishka.FromDishka",
        "dishka.integrations.base.FromDishka",
        "dishka.integrations.fastapi.FromDishka",
    }
)
# annotations of a collection whose first argument is the type of its items
_COLLECTIONS = (
    frozenset(
        f"{module}.{name}"
        for module, names in (
            ("builtins", "list set frozenset tuple"),
            ("typing", "List Set FrozenSet Tuple Sequence MutableSequence Collection AbstractSet"),
            ("collections.abc", "Sequence MutableSequence Collection Set"),
        )
        for name in names.split()
    )
    | _FIRST_ARGUMENT
) - {"typing.Type", "collections.abc.Type"}
_GENERIC_ALIASES = {
    "typing_extensions": "typing",
    "fastapi.params": "fastapi",
    "fastapi.param_functions": "fastapi",
    "fastapi.applications": "fastapi",
    "fastapi.routing": "fastapi",
    "sqlalchemy.ext.asyncio.session": "sqlalchemy.ext.asyncio",
}
_PATH = "pathlib.Path"
_TASK_ATTRIBUTES = frozenset({"delay", "apply_async", "AsyncResult", "s", "si", "signature"})


@dataclass(slots=True)
class RouterInfo:
    key: RouterKey
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
    # an app's pages (``app.docs_url``): as given to ``FastAPI(...)``, else FastAPI's own
    pages: dict[str, object] = field(default_factory=dict)
    # the project's class it is an instance of (``class SlashRouter(APIRouter)``)
    cls: Key | None = None
    # a router a factory function makes, as one call of it made it (see
    # ``Program.router_copies``): the function, the call, and the caller's module
    made_by_call: tuple[Key, Call, str] | None = None


_TUPLES = frozenset({"builtins.tuple", "typing.Tuple"})
_PROTOCOLS = frozenset({"typing.Protocol", "typing_extensions.Protocol"})
_CLASS_OF = frozenset({"builtins.type", "typing.Type"})
# at most this many calls of a function for its unannotated parameters to take what
# they give (a factory is called once or twice)
_FEW_CALLERS = 3


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
        roots = _library_roots(knowledge)
        self._top_level = _top_level_names(modules, roots)
        self._shadowing = _nested_library_names(modules, roots)
        self.routers: dict[RouterKey, RouterInfo] = {}
        # Keyed by the expression's id, and holding the expression: kept alive, an
        # expression made for one evaluation (a call rebuilt with a loop's item) cannot
        # be freed and its id reused by another, which would read this one's values.
        self._memo: dict[tuple[str, int], tuple[Expr, frozenset[Value]]] = {}
        # how often each expression was worked out without its result being kept (see
        # ``eval``)
        self._partial: dict[tuple[str, int], int] = {}
        # expressions being evaluated, by depth; the outermost depth a cycle cut reached
        # (functions whose return values are being found are in it too, by their key)
        self._active: dict[tuple[str, int] | Key, int] = {}
        self._cut = 0
        self._dotted: dict[str, frozenset[Value]] = {}
        self._returns: dict[Key, frozenset[Value]] = {}
        self._mro: dict[Key, list[Class | LibraryObject]] = {}
        self._subclasses: dict[Key, list[Key]] | None = None
        self._implementers: dict[Key, list[Key]] = {}
        # a router made inside a function called from several places is one router per
        # call (``stores = make_crud_router(...)``, then ``@stores.get(...)``): the
        # router as made in the function, and the copy each call gives (keyed by the
        # call's own place)
        self.router_copies: dict[RouterKey, list[RouterKey]] = {}
        self._factory_calls: dict[Key, int] = {}
        self._calls_by_name: dict[str, list[tuple[Key, Call]]] | None = None
        self._registered: dict[Key, list[Key]] | None = None
        self._names_tabled: set[str] | None = None
        self._decorated: dict[Key, list[Key]] | None = None
        self._forwarding: set[tuple[Key, str]] = set()
        self._handed_by_name: dict[str, list[tuple[Key, Attribute]]] | None = None
        self._names_handed: set[str] | None = None
        self._state: dict[str, frozenset[Value]] = {}
        self._exporting: set[tuple[str, str]] = set()
        self._outside_stores: dict[tuple[str, str], list[tuple[Expr, str]]] | None = None
        # class -> __init__ parameter -> (value, module) given through add_middleware
        self._middleware_arguments: dict[Key, dict[str, list[tuple[Expr, str]]]] | None = None
        self._passed_in: dict[tuple[str, str, str], frozenset[Value]] = {}
        self._elsewhere: dict[Key, str | None] = {}
        self._calls_of_function: dict[Key, list[tuple[Key, Call]]] = {}
        self._lifespans: dict[Key, set[Value]] | None = None
        self._hooks: dict[Key, list[Key]] = {}
        self._method_owners: dict[str, list[Key]] | None = None
        self._beside: dict[tuple[Key, str], bool] = {}

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

    def library(self, dotted: str) -> LibraryObject:
        return LibraryObject(self.knowledge.canonical(dotted))

    def resolve_dotted(self, dotted: str) -> frozenset[Value]:
        known = self._dotted.get(dotted)
        if known is not None:
            return known
        self._dotted[dotted] = EMPTY
        parts = dotted.split(".")
        result: frozenset[Value] = frozenset({self.library(dotted)})
        for index in range(len(parts), 0, -1):
            module = self.project_module(".".join(parts[:index]))
            if module is not None:
                if index == len(parts) > 1:
                    shadowed = self._bound_over_submodule(parts, dotted)
                    if shadowed:
                        result = shadowed
                        break
                result = frozenset({Module(module)})
                for attribute in parts[index:]:
                    result = self.attribute(result, attribute)
                break
        else:
            result = self._from_top_level(parts) or result
        self._dotted[dotted] = result
        return result

    def _bound_over_submodule(self, parts: list[str], dotted: str) -> frozenset[Value]:
        """``from pkg.routers import get_router`` where ``pkg/routers/__init__.py`` does
        ``from .get_router import get_router``: the package's name is bound to the
        function, over the submodule of the same name, and ``from`` takes the package's
        attribute before it looks for a submodule."""
        parent = self.project_module(".".join(parts[:-1]))
        summary = self.modules.get(parent) if parent is not None else None
        if summary is None or parent is None:
            return EMPTY
        exprs = summary.globals.get(parts[-1], ())
        if not exprs or any(
            isinstance(expr, Imported | ImportedModule) and expr.dotted == dotted for expr in exprs
        ):
            return EMPTY  # not bound, or bound to the submodule itself (``from . import x``)
        return self.module_attribute(parent, parts[-1], False)

    def _from_top_level(self, parts: list[str]) -> frozenset[Value] | None:
        """``from helpers import save`` in code run from inside the folder that holds
        ``helpers.py`` (``sys.path.insert``, ``cd backend``): the one project module of
        that name, when it defines ``save`` itself (a def, a class or an assignment), so
        that a library's name (``from redis import Redis``) stays the library's."""
        module = self._top_level.get(parts[0]) if len(parts) > 1 else None
        summary = self.modules.get(module) if module is not None else None
        if summary is None or module is None:
            return None
        name = parts[1]
        exprs = summary.globals.get(name, ())
        defined = name in summary.functions or name in summary.classes
        if not defined and not any(
            not isinstance(expr, (Imported, ImportedModule)) for expr in exprs
        ):
            return None
        result = self.module_attribute(module, name, False)
        for attribute in parts[2:]:
            result = self.attribute(result, attribute)
        return result

    def project_module(self, name: str) -> str | None:
        """The project module or package a dotted name imports, through aliases too."""
        if name in self.packages and name not in self._shadowing:
            return name
        alias = self.aliases.get(name)
        if alias is not None:
            return alias
        return name if name in self.namespaces else None

    def module_attribute(self, module: str, name: str, builtin: bool) -> frozenset[Value]:
        summary = self.modules.get(module)
        if summary is not None:
            exprs = summary.globals.get(name)
            stored = self._stored_from_outside().get((module, name))
            if stored:
                found = _union(self.eval(expr, where) for expr, where in stored)
                return found | _union(self.eval(expr, module) for expr in exprs or ())
            if exprs:
                if len(exprs) == 1:  # most names are bound once: no copy
                    return self.eval(exprs[0], module)
                return _union(self.eval(expr, module) for expr in exprs)
        submodule = self.project_module(f"{module}.{name}" if module else name)
        if submodule is not None:
            return frozenset({Module(submodule)})
        if summary is None and module in self.namespaces:
            # a directory of the project's that may share its name with a library
            return frozenset({self.library(f"{module}.{name}")})
        if summary is not None and (module, name) not in self._exporting:
            # Star imports and lazy exports can go round (``a`` does ``from b import *``
            # and ``b`` does ``from a import *``): a name looked for again is not there.
            self._exporting.add((module, name))
            try:
                found = self._exported(summary, name)
            finally:
                self._exporting.discard((module, name))
            if found:
                return found
        if builtin and name in _BUILTINS:
            return frozenset({LibraryObject(f"builtins.{name}")})
        return EMPTY

    def _stored_from_outside(self) -> dict[tuple[str, str], list[tuple[Expr, str]]]:
        """(module, name) -> the values other modules store in that attribute of the
        module (``shared.api = Api(app)``), each with the module that stores it."""
        if self._outside_stores is None:
            stores: dict[tuple[str, str], list[tuple[Expr, str]]] = {}
            self._outside_stores = stores  # resolving an owner below may read a global
            for summary in self.modules.values():
                for store in summary.module_stores:
                    for owner in self.eval(store.owner, summary.name):
                        if isinstance(owner, Module) and owner.name in self.modules:
                            stores.setdefault((owner.name, store.name), []).append(
                                (store.value, summary.name)
                            )
        return self._outside_stores

    def _exported(self, summary: ModuleSummary, name: str) -> frozenset[Value]:
        """A name a module has through ``from x import *`` or a PEP 562 lazy export."""
        libraries: list[str] = []
        for star in summary.star_imports:
            project = self.project_module(star)
            if project is None:
                libraries.append(star)
                continue
            if not self._star_exports(project, name):
                continue
            found = self.module_attribute(project, name, False)
            if found:
                return found
        # a library's ``*`` may hold any name: only what no module of the project has
        for star in libraries:
            return frozenset({self.library(f"{star}.{name}")})
        lazy = self._lazy_export(summary, name)
        if lazy is not None:
            return self.module_attribute(*lazy, False)
        return EMPTY

    def _star_exports(self, module: str, name: str) -> bool:
        """Whether ``from module import *`` binds ``name``: listed in its ``__all__``
        when it has one written as a list of texts, else any name without a ``_``."""
        summary = self.modules.get(module)
        listed = summary.globals.get("__all__") if summary is not None else None
        if listed and len(listed) == 1 and isinstance(listed[0], Items):
            names = {item.value for item in listed[0].items if isinstance(item, Constant)}
            if len(names) == len(listed[0].items):
                return name in names
        return not name.startswith("_")

    def _lazy_export(self, summary: ModuleSummary, name: str) -> tuple[str, str] | None:
        """What a module's ``__getattr__`` hands out for ``name`` (PEP 562 lazy exports),
        read from a module-level dict written in the code: ``{"name": ("pkg.mod",
        "attr")}`` or ``{"name": "pkg.mod:attr"}``. Only a project module's attribute:
        the module and the name, read as ``getattr(module, name)`` reads it (a package's
        global before a submodule of the same name), or None."""
        getter = summary.functions.get("__getattr__")
        if getter is None:
            return None
        for returned in getter.returns:
            # ``return getattr(import_module("pkg.store"), name)``
            module = _imported_module(returned, summary)
            project = self.project_module(module) if module is not None else None
            if project is not None:
                return project, name
        for exprs in summary.globals.values():
            table = exprs[0]
            if len(exprs) != 1 or not isinstance(table, DictDisplay):
                continue
            for key, value in zip(table.keys, table.values, strict=True):
                if key == Constant(name):
                    target = _export_target(value)
                    project = self.project_module(target[0]) if target is not None else None
                    if target is not None and project is not None:
                        return project, target[1]
        return None

    def mro(self, key: Key) -> list[Class | LibraryObject]:
        known = self._mro.get(key)
        if known is not None:
            return known
        self._mro[key] = [Class(key)]
        order_: list[Class | LibraryObject] = [Class(key)]
        klass = self.klass(key)
        if klass is not None:
            for base in klass.bases:
                values = self.eval(base, key[0])
                if not values and isinstance(base, Subscript):
                    # ``BaseUserManager[User, ID]``: a generic library class subscripted
                    values = self.eval(base.base, key[0])
                for value in values:
                    if isinstance(value, Class):
                        order_.extend(v for v in self.mro(value.key) if v not in order_)
                    elif isinstance(value, LibraryObject) and value not in order_:
                        order_.append(value)
        self._mro[key] = order_
        return order_

    def method(self, key: Key, name: str, after: bool = False) -> Key | None:
        """The project function that ``name`` resolves to on instances of class ``key``."""
        skipping = after
        for entry in self.mro(key):
            if skipping:
                skipping = entry != Class(key)
                continue
            if not isinstance(entry, Class):
                continue
            klass = self.klass(entry.key)
            if klass is not None and name in klass.methods:
                return (entry.key[0], klass.methods[name])
        return None

    def subclasses(self, key: Key) -> list[Key]:
        """The project classes derived from class ``key``, directly or not, but for
        those of its test code and the test doubles kept beside production code
        (``MockAgentService``, ``FakeLLM``): a test double is never what production
        runs in place of an abstract method."""
        if self._subclasses is None:
            index: dict[Key, list[Key]] = {}
            for module_name, module in self.modules.items():
                if module.in_tests or is_test_module(module_name):
                    continue
                for qualname in module.classes:
                    if is_test_double(qualname):
                        continue
                    derived = (module_name, qualname)
                    for entry in self.mro(derived)[1:]:
                        if isinstance(entry, Class):
                            index.setdefault(entry.key, []).append(derived)
            self._subclasses = index
        return self._subclasses.get(key, [])

    def dispatched(self, key: Key, name: str, method: Key) -> frozenset[Value]:
        """What calling ``name`` on an instance of class ``key`` may run, ``method``
        being what the class itself has: an abstract method (or a protocol's, a stub)
        never runs, so the call runs the override of whichever subclass the instance
        really is."""
        function = self.function(method)
        if function is None or not function.stub:  # abstract, or a body of ``...``/``pass``
            return frozenset({Function(method)})
        overrides: set[Value] = {Function(method)}
        for derived in [*self.subclasses(key), *self.implementers(key)]:
            override = self.method(derived, name)
            if override is not None:
                overrides.add(Function(override))
        return frozenset(overrides)

    def _routers_for_call(
        self, key: Key, made: frozenset[Value], call: Call, module: str
    ) -> frozenset[Value]:
        """What a call of function ``key`` returns, each router the function makes
        itself (an ``APIRouter``, not an app) replaced by the copy this call makes, when
        the function is called from more than one place: routes a caller adds to its
        router are its own, and the function's own routes are on every copy."""
        function = self.function(key)
        if function is None or self._factory_call_count(key) < 2:
            return made
        result: set[Value] = set()
        for value in made:
            info = self.routers.get(value.key) if isinstance(value, Router) else None
            if (
                not isinstance(value, Router)
                or info is None
                or info.kind != "router"
                or info.made_by_call is not None
                or value.key[0] != key[0]
                or not any(c.line == value.key[1] and c.col == value.key[2] for c in function.calls)
            ):
                result.add(value)
                continue
            copy: RouterKey = (module, call.line, call.col)
            if copy not in self.routers:
                self.routers[copy] = dataclasses.replace(
                    info, key=copy, made_by_call=(key, call, module)
                )
                self.router_copies.setdefault(value.key, []).append(copy)
            result.add(Router(copy))
        return frozenset(result)

    def _factory_call_count(self, key: Key) -> int:
        """How many calls of function ``key`` the project makes (by name, then by
        what they call)."""
        known = self._factory_calls.get(key)
        if known is None:
            name = key[1].rpartition(".")[2]
            known = sum(
                1
                for (caller, _), site in self.calls_named(name)
                if Function(key) in self.eval(site.func, caller)
            )
            self._factory_calls[key] = known
        return known

    def implementers(self, key: Key) -> list[Key]:
        """The project classes that implement protocol ``key`` without naming it (a
        structural type: ``password_hasher: PasswordHasherProtocol``, the class a
        dependency injector hands in): those of production code that define every
        method the protocol declares, with the same parameters. Empty for a class that
        is not a protocol, and for one that declares fewer than two methods but special
        ones: a lone ``execute`` or ``__call__`` fits too many classes (a library's
        session as well as the project's sandbox runner) to say which one is handed in."""
        known = self._implementers.get(key)
        if known is not None:
            return known
        found: list[Key] = []
        klass = self.klass(key)
        declared = {name for name in klass.methods if not name.startswith("__")} if klass else set()
        if klass and len(declared) >= 2 and self._protocols_only(frozenset({Instance(key)})):
            for module_name, module in self.modules.items():
                if module.in_tests or is_test_module(module_name):
                    continue
                for qualname, candidate in module.classes.items():
                    other = (module_name, qualname)
                    if (
                        other == key
                        or is_test_double(qualname)
                        or not declared <= candidate.methods.keys()
                        or self._protocols_only(frozenset({Instance(other)}))
                    ):
                        continue
                    # each method written against the protocol: the same parameters
                    # (a ``get``/``set`` pair alone is half the classes of a project)
                    if all(
                        self._parameter_names((key[0], klass.methods[name]))
                        == self._parameter_names((module_name, candidate.methods[name]))
                        for name in declared
                    ):
                        found.append(other)
        self._implementers[key] = found
        return found

    def _parameter_names(self, key: Key) -> tuple[str, ...]:
        function = self.function(key)
        return tuple(param.name for param in function.params[1:]) if function else ()

    def calls_named(self, name: str) -> list[tuple[Key, Call]]:
        """Every call, in every function, of something named ``name`` (``f(...)``,
        ``x.f(...)``), with the function it is in: the one index that the passes looking
        for a kind of call (registrations, constructions, handlers) share, so that none
        of them walks every call of the project again."""
        if self._calls_by_name is None:
            index: dict[str, list[tuple[Key, Call]]] = {}
            for key, function in self.functions():
                for call in function.calls:
                    name_of = last_name(call.func)
                    if name_of is not None:
                        index.setdefault(name_of, []).append((key, call))
            self._calls_by_name = index
        return self._calls_by_name.get(name, [])

    def decorated_with(self, param: Param, module: str) -> list[Key]:
        """The functions decorated with the function whose first parameter ``param`` is,
        when it hands them back as they are (a decorator that registers them)."""
        key = (module, param.function)
        function = self.function(key)
        if function is None or not function.params or function.params[0].name != param.name:
            return []
        if not any(
            isinstance(returned, Param) and returned.name == param.name
            for returned in function.returns
        ):
            # a decorator that returns a wrapper of its own calls the function it wraps for
            # that function only: one wrapper stands for all, so none is followed from it
            return []
        if self._decorated is None:
            index: dict[Key, list[Key]] = {}
            for decorated, summary in self.functions():
                for decorator in summary.decorators:
                    if not isinstance(decorator, Call | Global | Attribute):
                        continue
                    for value in self.eval(decorator, decorated[0]):
                        if isinstance(value, Function) and value.key != decorated:
                            index.setdefault(value.key, []).append(decorated)
            self._decorated = index
        return self._decorated.get(key, [])

    def dispatched_to(self, key: Key) -> list[Key]:
        """The implementations registered on a ``functools.singledispatch`` function or
        ``singledispatchmethod`` (``@render.register``, ``@render.register(list)``): a
        call of it runs one of them, by the type of its first argument."""
        if self._registered is None:
            index: dict[Key, list[Key]] = {}
            for implementation, function in self.functions():
                for decorator in function.decorators:
                    if isinstance(decorator, Call):
                        decorator = decorator.func
                    if not (isinstance(decorator, Attribute) and decorator.name == "register"):
                        continue
                    for dispatcher in self._dispatchers(decorator.base, implementation, function):
                        index.setdefault(dispatcher, []).append(implementation)
            self._registered = index
        return self._registered.get(key, [])

    def _dispatchers(self, base: Expr, implementation: Key, function: FunctionSummary) -> list[Key]:
        module = implementation[0]
        if function.class_qualname is not None and isinstance(base, Global):
            # ``@export.register`` in a class body: the method of that class
            candidates = [(module, f"{function.class_qualname}.{base.name}")]
        else:
            candidates = [v.key for v in self.eval(base, module) if isinstance(v, Function)]
        found: list[Key] = []
        for candidate in candidates:
            dispatcher = self.function(candidate)
            if dispatcher is not None and any(
                isinstance(value, LibraryObject) and value.name in _SINGLE_DISPATCH
                for decorator in dispatcher.decorators
                for value in self.eval(decorator, candidate[0])
            ):
                found.append(candidate)
        return found

    def names_handed(self, name: str) -> bool:
        """Whether something named ``name`` (``f``, ``x.f``) is given as an argument
        anywhere (``Depends(f)``, ``add_task(f, path)``): its calls are then made where
        the analysis does not see them."""
        if self._names_handed is None:
            self._index_handed()
        assert self._names_handed is not None
        return name in self._names_handed

    def methods_handed(self, name: str) -> list[tuple[Key, Attribute]]:
        """Every ``x.name`` given as an argument (``run(executor, self._delete, ids)``),
        with the function it is in: a method the project hands over itself."""
        if self._handed_by_name is None:
            self._index_handed()
        assert self._handed_by_name is not None
        return self._handed_by_name.get(name, [])

    def _index_handed(self) -> None:
        """One walk of every call's arguments for ``names_handed`` and ``methods_handed``."""
        names: set[str] = set()
        tabled: set[str] = set()
        index: dict[str, list[tuple[Key, Attribute]]] = {}
        for key, function in self.functions():
            for call in function.calls:
                for argument in (*call.args, *(keyword.value for keyword in call.keywords)):
                    if isinstance(argument, Attribute):
                        names.add(argument.name)
                        index.setdefault(argument.name, []).append((key, argument))
                    elif isinstance(argument, Global | Imported | FunctionRef | ClassRef):
                        named = last_name(argument)
                        if named is not None:
                            names.add(named)
        # kept in a table (``HANDLERS = {"snap": snapshot}``) and called through it
        for summary in self.modules.values():
            bound = [*summary.globals.values()]
            bound.extend(v for klass in summary.classes.values() for v in klass.attributes.values())
            for values in bound:
                for value in values:
                    if isinstance(value, DictDisplay | Items):
                        shown = value.values if isinstance(value, DictDisplay) else value.items
                        tabled.update(n for n in map(last_name, shown) if n is not None)
        names |= tabled
        self._names_handed, self._handed_by_name = names, index
        self._names_tabled = tabled

    def names_tabled(self, name: str) -> bool:
        """Whether something named ``name`` is kept in a list or dict of a module or
        class (``CONFIGURATORS = [TaskConfigurator, ServiceConfigurator]``): a class kept
        there may be made from the table, where no call names it."""
        if self._names_tabled is None:
            self._index_handed()
        assert self._names_tabled is not None
        return name in self._names_tabled

    def library_hooks(self, key: Key) -> list[Key]:
        """The methods a project class derived from a library class defines for the
        library to call back (template methods: an OAuth server's ``query_client``, a
        ``JSONEncoder``'s ``default``): sync, neither property nor dunder, and called by
        no code of the project on such an instance. A library method called on an
        instance runs them, on the caller's thread (but for a thread's or a process's
        ``start()``)."""
        known = self._hooks.get(key)
        if known is not None:
            return known
        self._hooks[key] = []  # a class registered into one it registers: cut
        hooks: list[Key] = []
        entries = self.mro(key)
        bases = [
            entry.name
            for entry in entries
            if isinstance(entry, LibraryObject) and entry.name not in _NO_HOOKS
        ]
        if bases and not any(base in _RUN_ELSEWHERE for base in bases):
            for entry in entries:
                if not isinstance(entry, Class):
                    continue
                klass = self.klass(entry.key)
                for name, qualname in klass.methods.items() if klass is not None else ():
                    method = (entry.key[0], qualname)
                    function = self.function(method)
                    if (
                        function is None
                        or name.startswith("__")
                        or function.is_async
                        or function.stub
                        or self.method(key, name) != method  # overridden below
                        or self.is_property(function)
                        or any(
                            last_name(decorator) in ("classmethod", "staticmethod")
                            for decorator in function.decorators
                        )
                        or self._called_on(key, name)
                    ):
                        continue
                    hooks.append(method)
            for registered in self._registered_classes(key):
                hooks.extend(hook for hook in self.library_hooks(registered) if hook not in hooks)
        self._hooks[key] = hooks
        return hooks

    def _registered_classes(self, key: Key) -> list[Key]:
        """Classes of the project derived from library classes that class ``key``'s own
        methods (or a function they hand the instance to) give to a library method of the
        instance: ``server.register_grant(CodeGrant)``. The library makes them and calls
        their hooks when its methods run on the instance."""
        places: list[Key] = []
        for entry in self.mro(key):
            if isinstance(entry, Class):
                klass = self.klass(entry.key)
                methods = klass.methods.values() if klass is not None else ()
                places.extend((entry.key[0], qualname) for qualname in methods)
        found: list[Key] = []
        for place in list(places):
            function = self.function(place)
            for call in function.calls if function is not None else ():
                passes_instance = any(
                    isinstance(value, Instance) and value.key == key
                    for arg in call.args
                    for value in self.eval(arg, place[0])
                )
                if passes_instance:  # ``register_grants(server)``: one call deep
                    places.extend(
                        value.key
                        for value in self.eval(call.func, place[0])
                        if isinstance(value, Function) and value.key not in places
                    )
        for place in places:
            function = self.function(place)
            for call in function.calls if function is not None else ():
                func = call.func
                if not isinstance(func, Attribute) or not any(
                    isinstance(value, Instance) and value.key == key
                    for value in self.eval(func.base, place[0])
                ):
                    continue
                if not any(isinstance(v, LibraryMethod) for v in self.eval(func, place[0])):
                    continue
                for arg in call.args:
                    for value in self.eval(arg, place[0]):
                        if (
                            isinstance(value, Class)
                            and value.key not in found
                            and any(isinstance(e, LibraryObject) for e in self.mro(value.key))
                        ):
                            found.append(value.key)
        return found

    def defined_beside(self, key: Key, name: str) -> bool:
        """Whether a class of the project derived from one of the library classes that
        class ``key`` derives from defines a method ``name``: a call of ``name`` on an
        instance of ``key`` is then more likely that method, not found, than the library's."""
        known = self._beside.get((key, name))
        if known is not None:
            return known
        found = self._beside[(key, name)] = self._defined_beside(key, name)
        return found

    def _defined_beside(self, key: Key, name: str) -> bool:
        owners = self._method_owners
        if owners is None:
            owners = self._method_owners = {}
            for module_name, module in self.modules.items():
                for qualname, klass in module.classes.items():
                    for method in klass.methods:
                        owners.setdefault(method, []).append((module_name, qualname))
        candidates = owners.get(name)
        if not candidates:
            return False
        bases = {entry for entry in self.mro(key) if isinstance(entry, LibraryObject)}
        return any(bases.intersection(self.mro(owner)) for owner in candidates)

    def _called_on(self, klass: Key, name: str) -> bool:
        """Whether project code calls method ``name`` on an instance of ``klass`` (or of a
        class related to it), or hands it over, so that the method is no hook only the
        library calls."""
        used = [(where, call.func) for where, call in self.calls_named(name)]
        # a method the project hands to a call (a thread pool, a retry helper) is
        # its own to run, not the library's to call back
        used.extend(self.methods_handed(name))
        for where, func in used:
            if not isinstance(func, Attribute):
                continue
            for value in self.eval(func.base, where[0]):
                made: Key | None = None
                if isinstance(value, Instance | Super):
                    made = value.key
                elif isinstance(value, Router) and value.key in self.routers:
                    # an app of a class of the project's (``class App(FastAPI)``)
                    made = self.routers[value.key].cls
                else:
                    continue
                if made is not None and (
                    Class(klass) in self.mro(made) or Class(made) in self.mro(klass)
                ):
                    return True
        return False

    def constructions(self, klass: Key) -> list[Key]:
        """The functions (``MODULE_BODY`` for a module's own code) that call class
        ``klass`` to make an instance, test code left out."""
        wanted = Class(klass)
        places: list[Key] = []
        for key, call in self.calls_named(klass[1].rpartition(".")[2]):
            module = self.modules[key[0]]
            if module.in_tests or is_test_module(key[0]):
                continue
            if wanted in self.eval(call.func, key[0]) and key not in places:
                places.append(key)
        return places

    def callee(self, value: Value) -> Key | None:
        """The project function that calling ``value`` runs."""
        match value:
            case Function():
                return value.key
            case Class():
                return self.method(value.key, "__init__")
            case Instance():
                return self.method(value.key, "__call__")
            case _:
                return None

    def is_property(self, function: FunctionSummary) -> bool:
        """``@property`` / ``@cached_property``: reading the attribute gives the return value."""
        return any(
            last_name(decorator) in ("property", "cached_property")
            for decorator in function.decorators
        )

    # -- evaluation ---------------------------------------------------------------

    def eval(self, expr: Expr, module: str) -> frozenset[Value]:
        if isinstance(expr, Unknown):
            return EMPTY
        if isinstance(expr, Constant):
            value = expr.value
            return frozenset({Text(value)}) if isinstance(value, str) else EMPTY
        key = (module, id(expr))
        known = self._memo.get(key)
        if known is not None:
            return known[1]
        active = self._active
        depth = active.get(key)
        if depth is not None:  # a cycle: cut it, and remember how far out it reached
            self._cut = min(self._cut, depth)
            return EMPTY
        depth = len(active)
        active[key] = depth
        outer_cut, self._cut = self._cut, depth
        try:
            result = self._evaluate(expr, module)
        finally:
            del active[key]
            cut, self._cut = self._cut, min(outer_cut, self._cut)
        if len(result) > _MAX_VALUES:
            result = _bounded(result)
        # A result that depends on an expression still being evaluated further out is
        # partial: kept, it would make the answer depend on the order of evaluation.
        if cut >= depth:
            self._memo[key] = (expr, result)
        else:
            # Names that refer to each other in a ring are worked out again for every way
            # into the ring, which grows as the factorial of its size: past a bound, the
            # partial result is kept, and the run ends in bounded time.
            tries = self._partial[key] = self._partial.get(key, 0) + 1
            if tries > _MAX_PARTIAL:
                self._memo[key] = (expr, result)
        return result

    # The matches on the hot paths test the class only and then read fields: capture
    # patterns (``case Global(name)``) cost about half as much again.

    def _evaluate(self, expr: Expr, module: str) -> frozenset[Value]:
        match expr:
            case Global():
                return self.module_attribute(module, expr.name, True)
            case Attribute():
                found = self.attribute(self.eval(expr.base, module), expr.name)
                base = expr.base
                if isinstance(base, Attribute) and base.name == "state":
                    found |= self.state_attribute(expr.name)
                return found
            case Call():
                func = expr.func
                if isinstance(func, Attribute) and func.name in _TEXT_METHODS:
                    # ``os.environ.get("PREFIX", "").rstrip("/")``
                    edited = self._text_method(func, expr, module)
                    if edited:
                        return edited
                callee = self.eval(expr.func, module)
                if last_name(func) == "Field" and any(
                    isinstance(value, LibraryObject) and value.name in _FIELDS for value in callee
                ):
                    # ``api_prefix: str = Field(default="/v1", description=...)``
                    default = expr.argument("default", 0)
                    return self.eval(default, module) if default is not None else EMPTY
                called = self.call(callee, expr, module)
                if isinstance(func, Attribute) and func.name in _MAPPING_READS and expr.args:
                    # ``SESSIONS.get(key)``: an item of the dict, as ``SESSIONS[key]`` is
                    called |= self.stored_items(Subscript(func.base, expr.args[0]), module)
                if any(isinstance(value, Text) for value in called):
                    return called
                return called | _setting_default(expr)
            case Imported():
                return self.resolve_dotted(expr.dotted)
            case ImportedModule():
                project = self.project_module(expr.dotted)
                if project is not None:
                    return frozenset({Module(project)})
                return frozenset({self.library(expr.dotted)})
            case Await():
                return self.eval(expr.value, module)
            case Entered():
                return self.entered(self.eval(expr.value, module))
            case Param():
                return self.parameter(expr, module)
            case Typed():
                return self.instances(self.eval(expr.annotation, module))
            case SelfRef():
                return frozenset({Instance((module, expr.klass))})
            case ClassRef():
                return frozenset({Class((module, expr.klass))})
            case SuperRef():
                return frozenset({Super((module, expr.klass))})
            case FunctionRef():
                return frozenset({Function((module, expr.function))})
            case Either():
                return self.eval(expr.left, module) | self.eval(expr.right, module)
            case Rebound():
                return self.eval(expr.value, module) or self.eval(expr.previous, module)
            case Truthy():
                return self.eval(expr.value, module) - _EMPTY_TEXT
            case Narrowed():
                return self._narrowed(expr, module)
            case Subscript():
                return self.subscript(expr, module)
            case FString():
                pieces = [self.constant(part, module) for part in expr.parts]
                if all(isinstance(piece, str) for piece in pieces):
                    return frozenset({Text("".join(str(piece) for piece in pieces))})
                return EMPTY
            case Each():
                return (
                    _union(
                        self.eval(item, where) for item, where in self.items(expr.iterable, module)
                    )
                    | self.library_items(expr.iterable, module)
                    | self.annotated_items(expr.iterable, module)
                )
            case At():
                index = expr.index
                return _union(
                    self.eval(item.items[index], where)
                    for item, where in self.items(expr.each.iterable, module)
                    if isinstance(item, Items) and index < len(item.items)
                )
            case ItemOf():
                return self.unpacked(expr.value, expr.index, module)
            case Declared():
                return self._declared(expr, module)
            case Divide():
                path = (LibraryInstance(_PATH), LibraryObject(_PATH))
                return frozenset(value for value in self.eval(expr.left, module) if value in path)
            case _:
                return EMPTY

    def unpacked(self, value: Expr, index: int, module: str) -> frozenset[Value]:
        """Item ``index`` of what a call of a project function returns, unpacked: the
        item at that place of each tuple its ``return`` statements write, or of its
        ``-> tuple[Path, Scratch]`` annotation."""
        call = value.value if isinstance(value, Await) else value
        if not isinstance(call, Call):
            return EMPTY
        result: set[Value] = set()
        for callee in self.eval(call.func, module):
            function = self.function(callee.key) if isinstance(callee, Function) else None
            if function is None or not isinstance(callee, Function):
                continue
            where = callee.key[0]
            annotation = function.return_annotation
            if isinstance(annotation, Subscript) and any(
                isinstance(base, LibraryObject) and base.name in _TUPLES
                for base in self.eval(annotation.base, where)
            ):
                index_of = annotation.index
                parts = index_of.items if isinstance(index_of, Items) else (index_of,)
                # ``tuple[Job, ...]`` (its ``...`` read as unknown) is no fixed tuple
                if index < len(parts) and not any(isinstance(p, Unknown) for p in parts):
                    result |= self.instances(self.eval(parts[index], where))
            for returned in function.returns:
                if isinstance(returned, Items) and index < len(returned.items):
                    result |= self.eval(returned.items[index], where)
        return frozenset(result)

    def attribute(self, values: frozenset[Value], name: str) -> frozenset[Value]:
        result: set[Value] = set()
        for value in values:
            match value:
                case Module():
                    result |= self.module_attribute(value.name, name, False)
                case LibraryObject() if value.name in self.knowledge.instances:
                    # an object a library module holds, imported by name (``Settings``)
                    held = self.knowledge.instances[value.name]
                    result |= self.library_attribute(held, name)
                case LibraryObject():
                    dotted = self.knowledge.canonical(f"{value.name}.{name}")
                    cls = self.knowledge.instances.get(dotted)
                    result.add(LibraryInstance(cls) if cls is not None else LibraryObject(dotted))
                case LibraryInstance(cls) if cls == "fastapi.FastAPI" and name in _APP_PAGES:
                    # an app known by its type only: FastAPI's own paths
                    result.add(Text(_APP_PAGES[name]))
                case LibraryInstance():
                    result |= self.library_attribute(value.cls, name)
                case Instance():
                    result |= self.instance_attribute(value.key, name)
                case Super():
                    result |= self.instance_attribute(value.key, name, after=True)
                case Class():
                    method = self.method(value.key, name)
                    if method is not None:
                        result.add(Function(method))
                    else:
                        result |= self.class_attribute(value.key, name)
                case Router() if name in _APP_PAGES:
                    # ``@app.get(app.docs_url)``: the pages of FastAPI's docs, served anew
                    info = self.routers.get(value.key)
                    page = info.pages.get(name) if info is not None else None
                    if isinstance(page, str):
                        result.add(Text(page))
                case SessionFactory() if name == "begin":
                    # ``with SessionLocal.begin() as session:`` gives a session too
                    result.add(value)
                case Function() if name in _TASK_ATTRIBUTES and self.is_celery_task(value.key):
                    if name in ("delay", "apply_async"):
                        result.add(TaskMethod(value.key, name))
                    elif name == "AsyncResult":
                        result.add(LibraryObject("celery.result.AsyncResult"))
                    else:
                        result.add(LibraryObject("celery.canvas.Signature"))
        return frozenset(result)

    def library_attribute(self, cls: str, name: str) -> frozenset[Value]:
        """``instance.name`` on a library class: a typed attribute, or a method."""
        knowledge = self.knowledge
        exact = knowledge.attribute_types.get((cls, name))
        if exact is not None:
            return frozenset({LibraryInstance(exact)})
        typed = knowledge.attribute_type(cls, name)
        method = LibraryMethod(cls, name)
        # a wildcard-typed attribute may be a resource (``client.chat``) or a method
        if typed is not None:
            return frozenset({LibraryInstance(typed), method})
        return frozenset({method})

    def class_attribute(self, key: Key, name: str) -> frozenset[Value]:
        for entry in self.mro(key):
            if isinstance(entry, LibraryObject):
                return frozenset({self.library(f"{entry.name}.{name}")})
            klass = self.klass(entry.key)
            if klass is not None and name in klass.attributes:
                return _union(self.eval(expr, entry.key[0]) for expr in klass.attributes[name])
        return EMPTY

    def instance_attribute(self, key: Key, name: str, after: bool = False) -> frozenset[Value]:
        method = self.method(key, name, after)
        if method is not None:
            function = self.function(method)
            if function is not None and self.is_property(function):
                return self.returns_of(method)
            if after:  # ``super().name()`` runs the base class's own method
                return frozenset({Function(method)})
            return self.dispatched(key, name, method)
        # ``super().name`` looks past the class itself
        first_library: frozenset[Value] | None = None
        knowledge = self.knowledge
        for entry in self.mro(key)[1:] if after else self.mro(key):
            if isinstance(entry, LibraryObject):
                # the first library base that says what the attribute is, past mixins
                # that do not (``class UserManager(IDMixin, BaseUserManager[...])``)
                if (entry.name, name) in knowledge.attribute_types or knowledge.attribute_type(
                    entry.name, name
                ):
                    return self.library_attribute(entry.name, name)
                if first_library is None:
                    first_library = self.library_attribute(entry.name, name)
                continue
            klass = self.klass(entry.key)
            if klass is not None and name in klass.attributes:
                return _union(self.eval(expr, entry.key[0]) for expr in klass.attributes[name])
        if first_library is not None:
            return first_library
        if name.startswith("__"):
            return EMPTY
        return self._forwarded_attribute(key, name)

    def _forwarded_attribute(self, key: Key, name: str) -> frozenset[Value]:
        """``name`` of a wrapper whose ``__getattr__`` returns ``getattr(self._client,
        name)``: the attribute of what it wraps (a lazy or instrumented client)."""
        hook = self.method(key, "__getattr__")
        function = self.function(hook) if hook is not None else None
        if hook is None or function is None or len(function.params) < 2:
            return EMPTY
        asked = function.params[1].name
        if (key, name) in self._forwarding:
            return EMPTY  # a wrapper of a wrapper of its own class
        self._forwarding.add((key, name))
        found: set[Value] = set()
        for returned in function.returns:
            if (
                isinstance(returned, Call)
                and last_name(returned.func) == "getattr"
                and len(returned.args) >= 2
                and isinstance(returned.args[1], Param)
                and returned.args[1].name == asked
            ):
                found |= self.attribute(self.eval(returned.args[0], hook[0]), name)
        self._forwarding.discard((key, name))
        return frozenset(found)

    def call(self, callees: frozenset[Value], call: Call, module: str) -> frozenset[Value]:
        result: set[Value] = set()
        knowledge = self.knowledge
        for value in callees:
            match value:
                case Function():
                    elsewhere = self.runs_elsewhere(value.key)
                    if elsewhere is not None:
                        # pebble's ``@concurrent.process``: the call gives a future
                        result.add(LibraryInstance(elsewhere))
                        continue
                    made = self.returns_for(value.key, call)
                    if any(isinstance(v, Router) for v in made):
                        made = self._routers_for_call(value.key, made, call, module)
                    result |= self._made_for_receiver(value.key, made, call, module)
                    result |= self.returned_arguments(value.key, call, module)
                case Class():
                    result.add(self.router_subclass(value.key, call, module) or Instance(value.key))
                case Instance():
                    method = self.method(value.key, "__call__")
                    if method is not None:
                        result |= self.returns_of(method)
                case LibraryObject():
                    result |= self.call_library(value.name, call, module)
                case LibraryMethod():
                    if f"{value.cls}.{value.name}" in knowledge.model_rows:
                        result |= self._model_row(call, module)
                    returned = knowledge.returns.get(f"{value.cls}.{value.name}")
                    if returned is not None:
                        result.add(LibraryInstance(knowledge.canonical(returned)))
                    if f"{value.cls}.{value.name}" in knowledge.returns_receiver and isinstance(
                        call.func, Attribute
                    ):
                        result |= {
                            receiver
                            for receiver in self.eval(call.func.base, module)
                            if isinstance(receiver, Instance | LibraryInstance)
                        }
                case LibraryInstance():  # a callable library object (scoped_session)
                    returned = knowledge.returns.get(f"{value.cls}.__call__")
                    if returned is not None:
                        result.add(LibraryInstance(knowledge.canonical(returned)))
                case SessionFactory():
                    result |= value.made
                case TaskMethod():
                    result.add(LibraryInstance("celery.result.AsyncResult"))
        return frozenset(result)

    def _made_for_receiver(
        self, key: Key, returned: frozenset[Value], call: Call, module: str
    ) -> frozenset[Value]:
        """What a class method returns when called on a subclass: ``cls(...)`` in the base
        makes an instance of the class it is called on (``await Source.get(id)`` with
        ``get`` defined on ``Model`` gives a ``Source``)."""
        function = self.function(key)
        if (
            function is None
            or function.class_qualname is None
            or not isinstance(call.func, Attribute)
            or not any(last_name(each) == "classmethod" for each in function.decorators)
        ):
            return returned
        owner = Instance((key[0], function.class_qualname))
        if owner not in returned:
            return returned
        receivers = [
            value for value in self.eval(call.func.base, module) if isinstance(value, Class)
        ]
        if not receivers or all(value.key == owner.key for value in receivers):
            return returned
        return (returned - {owner}) | {Instance(value.key) for value in receivers}

    def library_items(self, iterable: Expr, module: str) -> frozenset[Value]:
        """The items of what a library call returns, when a rule knows their class
        (``folder.iterdir()``, ``folder.glob("*.json")``: paths)."""
        if not isinstance(iterable, Call):
            return EMPTY
        knowledge = self.knowledge
        result: set[Value] = set()
        for value in self.eval(iterable.func, module):
            name = (
                f"{value.cls}.{value.name}"
                if isinstance(value, LibraryMethod)
                else value.name
                if isinstance(value, LibraryObject)
                else None
            )
            item = knowledge.yields.get(name) if name is not None else None
            if item is not None:
                result.add(LibraryInstance(knowledge.canonical(item)))
        return frozenset(result)

    def returned_arguments(self, key: Key, call: Call, module: str) -> frozenset[Value]:
        """What a call passes to a parameter the function returns as is, such as
        ``def include_routers(router): ...; return router`` called with ``APIRouter()``."""
        function = self.function(key)
        if function is None:
            return EMPTY
        names = [param.name for param in function.params]
        result: set[Value] = set()
        for returned in function.returns:
            if (
                not isinstance(returned, Param)
                or returned.function != key[1]
                or returned.name not in names
            ):
                continue
            position = names.index(returned.name)
            if names[:1] in (["self"], ["cls"]) and function.class_qualname is not None:
                position -= 1
            argument = call.argument(returned.name, position)
            if argument is not None:
                result |= self.eval(argument, module)
        return frozenset(result)

    def call_library(self, name: str, call: Call, module: str) -> frozenset[Value]:
        knowledge = self.knowledge
        produced = knowledge.factories.get(name)
        if produced is not None:
            class_ = call.keyword("class_")
            made = self.instances(self.eval(class_, module)) if class_ is not None else EMPTY
            return frozenset({SessionFactory(made or frozenset({LibraryInstance(produced)}))})
        router_kind = _ROUTER_FACTORIES.get(name) or ("app" if name in APP_CLASSES else None)
        if router_kind is not None:
            return frozenset({self.router(router_kind, call, module)})
        builtin = ROUTER_CLASSES.get(name)
        if builtin is not None:  # a library's APIRouter subclass
            library_router = self.router("router", call, module)
            info = self.routers[library_router.key]
            if builtin and not info.made_by:
                info.builtin, info.made_by = builtin, name
                info.builtin_path = self.text(call.keyword("path"), module)
            return frozenset({library_router})
        if name in _DEPENDS:
            target = call.args[0] if call.args else call.keyword("dependency")
            callables = self.eval(target, module) if target is not None else EMPTY
            return frozenset({Depends(callables)})
        based_on = knowledge.based_on.get(name)
        if based_on is not None:
            given = call.keyword(based_on)
            if given is not None:
                return frozenset(v for v in self.eval(given, module) if isinstance(v, Class))
        if name == "typing.cast" and len(call.args) == 2:
            # ``cast(Session, value)``: an instance of the class named; but for a
            # ``Protocol`` (``cast(BlobStore, request.app.state.blobs)``), whose classes
            # need not name it, what is cast, when known
            named = self.instances(self.eval(call.args[0], module))
            if not self._protocols_only(named):
                return named
            return self.eval(call.args[1], module) or named
        if name == "functools.partial" and call.args:
            # calling what ``partial(f, ...)`` returns calls ``f``
            return self.eval(call.args[0], module)
        if self.opens_memory_file(name, call, module):
            return EMPTY
        sized = knowledge.sized.get(name)
        if sized is not None and self.given_size(sized, call, module):
            return frozenset({LibraryInstance(sized.returned)})
        returned = knowledge.returns.get(name)
        if returned is not None:
            return frozenset({LibraryInstance(knowledge.canonical(returned))})
        by_argument = knowledge.returns_for_argument.get(name)
        if by_argument is not None:
            return self.returned_for_argument(by_argument, call, module)
        if self.is_class_name(name):
            return frozenset({LibraryInstance(name)})
        return EMPTY

    def opens_memory_file(self, name: str, call: Call, module: str) -> bool:
        """Whether the call opens a path known to lie under a root of ``memory_paths``
        (``open("/proc/self/status")``, ``open(f"/proc/{pid}/stat")``)."""
        where = self.knowledge.memory_paths.get(name)
        if where is None:
            return False
        path = self.text(call.argument(where.keyword, where.position), module)
        return any(path == root or path.startswith(f"{root}/") for root in where.roots)

    def given_size(self, sized: Sized, call: Call, module: str) -> bool:
        """The call passes a size that bounds it: a positive constant, or a value not
        known here (the code asked for a bound)."""
        argument = call.argument(sized.keyword, sized.position)
        if argument is None:
            return False
        size = self.constant(argument, module)
        if size is None:
            return not (isinstance(argument, Constant) and argument.value is None)
        return not (isinstance(size, int) and size <= 0)

    def returned_for_argument(
        self, returns: ReturnsFor, call: Call, module: str
    ) -> frozenset[Value]:
        """What a library function returns when its first argument is one of the given
        classes; anything else it is given (a model, an async engine) makes nothing known."""
        if not call.args:
            return EMPTY
        canonical = self.knowledge.canonical
        for value in self.eval(call.args[0], module):
            if isinstance(value, LibraryInstance) and canonical(value.cls) in returns.classes:
                return frozenset({LibraryInstance(canonical(returns.returned))})
        return EMPTY

    def router(
        self, kind: str, call: Call, module: str, defaults: tuple[Call, str] | None = None
    ) -> Router:
        """An app or router, by the call that creates it; ``defaults``: the
        ``super().__init__(...)`` call of a subclass, for a prefix or dependencies it
        passes itself."""
        key = (module, call.line, call.col)
        if key not in self.routers:
            prefix = call.keyword("prefix")
            prefix_module = module
            if prefix is None and defaults is not None:
                given = defaults[0].keyword("prefix")
                if given is not None and not isinstance(given, Param):
                    prefix, prefix_module = given, defaults[1]
            dependencies = [(expr, module) for expr in listed(call.keyword("dependencies"))]
            if defaults is not None:
                given = defaults[0].keyword("dependencies")
                if given is not None and not isinstance(given, Param):
                    dependencies += [(expr, defaults[1]) for expr in listed(given)]
            self.routers[key] = RouterInfo(
                key,
                kind,
                self.text(prefix, prefix_module),
                dependencies,
                prefix,
                prefix_module if prefix is not None else module,
            )
            if kind == "app":
                self.routers[key].pages = {
                    name: self.constant(call.keyword(name), module) if name in given else default
                    for given in [{keyword.name for keyword in call.keywords}]
                    for name, default in _APP_PAGES.items()
                }
        return Router(key)

    def is_router_type(self, value: Value) -> bool:
        match value:
            case LibraryInstance():
                return _router_kind(value.cls) is not None
            case Instance():
                return any(
                    isinstance(entry, LibraryObject) and _router_kind(entry.name)
                    for entry in self.mro(value.key)
                )
            case _:
                return False

    def router_subclass(self, key: Key, call: Call, module: str) -> Router | None:
        """``UserAPIRouter(prefix=...)``: a class of the project's derived from
        ``APIRouter`` or ``FastAPI`` (directly, or made and returned by a function)."""
        for entry in self.mro(key):
            kind = _router_kind(entry.name) if isinstance(entry, LibraryObject) else None
            if kind is None:
                continue
            defaults: tuple[Call, str] | None = None
            init = self.method(key, "__init__")
            function = self.function(init) if init is not None else None
            if init is not None and function is not None:
                for made in function.calls:
                    callee = made.func
                    if (
                        isinstance(callee, Attribute)
                        and callee.name == "__init__"
                        and isinstance(callee.base, SuperRef)
                    ):
                        defaults = (made, init[0])
                        break
            router = self.router(kind, call, module, defaults)
            self.routers[router.key].cls = key
            return router
        return None

    def items(self, expr: Expr, module: str, depth: int = 0) -> list[tuple[Expr, str]]:
        """The items of an iterable written as a list, tuple or dict display (directly,
        through a name or a module attribute, ``.items()``/``.keys()``/``.values()``,
        what a function returns), each with its module. A ``.items()`` pair is a new
        ``Items`` record: never evaluated itself (evaluation is memoized by identity),
        only its parts are."""
        if depth > _MAX_ITEMS_DEPTH:
            return []
        match expr:
            case Items():
                return [(item, module) for item in expr.items]
            case DictDisplay():
                return [(key, module) for key in expr.keys]
            case Either():
                left = self.items(expr.left, module, depth + 1)
                return left + self.items(expr.right, module, depth + 1)
            case Declared():
                return self.items(expr.value, module, depth + 1)
            case Call() if isinstance(expr.func, Attribute) and expr.func.name in _DICT_VIEWS:
                found: list[tuple[Expr, str]] = []
                for shown, where in self.displays(expr.func.base, module, depth + 1):
                    if not isinstance(shown, DictDisplay):
                        continue
                    if expr.func.name == "keys":
                        found.extend((key, where) for key in shown.keys)
                    elif expr.func.name == "values":
                        found.extend((value, where) for value in shown.values)
                    else:
                        found.extend(
                            (Items(pair), where)
                            for pair in zip(shown.keys, shown.values, strict=True)
                        )
                return found
            case Call():  # ``for router in all_routers():``, what the function returns
                return [
                    item
                    for value in self.eval(expr.func, module)
                    if isinstance(value, Function)
                    and (function := self.function(value.key)) is not None
                    for returned in function.returns
                    for item in self.items(returned, value.key[0], depth + 1)
                ]
            case Attribute(SelfRef() as owner, name):  # ``for finder in self.finders:``
                return [
                    item
                    for bound, where in self.self_attribute_bindings((module, owner.klass), name)
                    for item in self.items(bound, where, depth + 1)
                ]
            case _:
                return [
                    item
                    for shown, where in self.displays(expr, module, depth + 1)
                    for item in self.items(shown, where, depth + 1)
                ]

    def self_attribute_bindings(self, key: Key, name: str) -> list[tuple[Expr, str]]:
        """What the nearest class of ``key``'s bases that sets ``self.name`` binds it to."""
        for entry in self.mro(key):
            if isinstance(entry, LibraryObject):
                return []
            klass = self.klass(entry.key)
            if klass is not None and name in klass.attributes:
                return [(expr, entry.key[0]) for expr in klass.attributes[name]]
        return []

    def displays(self, expr: Expr, module: str, depth: int) -> list[tuple[Expr, str]]:
        """The list, tuple or dict displays a name or module attribute is bound to, an
        attribute of ``self`` is set to, or a function of the project returns (a table of
        handlers built in a method: ``self.handlers = self._init_handlers()``)."""
        if isinstance(expr, Items | DictDisplay):
            return [(expr, module)]
        if depth > _MAX_ITEMS_DEPTH:
            return []
        match expr:
            case Attribute(SelfRef() as owner, name):
                bound = self.self_attribute_bindings((module, owner.klass), name)
            case Attribute(base, name) if classes := self._classes_in(base, module):
                # ``File._prefix_to_storage[kind]``: a table kept on a class
                bound = [
                    (held, entry.key[0])
                    for klass in classes
                    for entry in self.mro(klass)
                    if isinstance(entry, Class) and (summary := self.klass(entry.key)) is not None
                    for held in summary.attributes.get(name, ())
                ]
            case Call(func) if not expr.args:
                bound = [
                    (returned, value.key[0])
                    for value in self.eval(func, module)
                    if isinstance(value, Function)
                    and (function := self.function(value.key)) is not None
                    for returned in function.returns
                ]
            case _:
                bound = self.module_bindings(expr, module)
        return [found for shown, where in bound for found in self.displays(shown, where, depth + 1)]

    def _fully_known(self, expr: Expr, module: str) -> bool:
        """Every value an expression may have is known: none of its alternatives (``x or
        "local"``, a local bound in branches) is something the analysis cannot read."""
        if isinstance(expr, Either):
            return self._fully_known(expr.left, module) and self._fully_known(expr.right, module)
        return bool(self.eval(expr, module))

    def _classes_in(self, expr: Expr, module: str) -> list[Key]:
        """The classes of the project an expression names (``File``, ``cls``)."""
        if not isinstance(expr, Global | Imported | ClassRef | Attribute):
            return []
        return [value.key for value in self.eval(expr, module) if isinstance(value, Class)]

    def module_bindings(self, expr: Expr, module: str) -> list[tuple[Expr, str]]:
        """What a module-level name (``NAME``, ``module.NAME``) is bound to, and where."""
        bound: list[tuple[Expr, str]] = []
        match expr:
            case Global():
                summary = self.modules.get(module)
                if summary is not None:
                    bound = [(e, module) for e in summary.globals.get(expr.name, [])]
            case Imported() | Attribute():
                if isinstance(expr, Imported):
                    owner_name, _, name = expr.dotted.rpartition(".")
                    owners = self.resolve_dotted(owner_name)
                else:
                    owners, name = self.eval(expr.base, module), expr.name
                for value in owners:
                    summary = self.modules.get(value.name) if isinstance(value, Module) else None
                    if summary is not None:
                        bound.extend((e, summary.name) for e in summary.globals.get(name, []))
        return bound

    def is_class_name(self, name: str) -> bool:
        last = name.rpartition(".")[2]
        return last[:1].isupper() or name in self.knowledge.classes

    def _narrowed(self, expr: Narrowed, module: str) -> frozenset[Value]:
        """What ``isinstance(name, classes)`` lets through: the instances among the
        local's values whose class is or derives from one of them; when none is known
        to, an instance of each class named (what an annotation would say)."""
        parts = expr.classes.items if isinstance(expr.classes, Items) else (expr.classes,)
        classes: set[Value] = set()
        for part in parts:
            classes |= self.eval(part, module)
        kept: set[Value] = set()
        values = self.eval(expr.value, module)
        for value in values:
            if isinstance(value, Instance):
                if any(entry in classes for entry in self.mro(value.key)):
                    kept.add(value)
            elif isinstance(value, LibraryInstance) and LibraryObject(value.cls) in classes:
                kept.add(value)
        if not expr.instances:  # the ``else``: what the test let through is not there
            return values - kept
        return frozenset(kept) if kept else self.instances(frozenset(classes))

    def _classes_given(
        self, annotation: Expr | None, default: Expr | None, module: str
    ) -> frozenset[Value]:
        """``codec_cls: type[Codec] = FrameCodec``: a class of the project, the one named
        or the default (calling it makes an instance of it)."""
        if not isinstance(annotation, Subscript) or not any(
            isinstance(base, LibraryObject) and base.name in _CLASS_OF
            for base in self.eval(annotation.base, module)
        ):
            return EMPTY
        given = self.eval(annotation.index, module)
        if default is not None:
            given |= self.eval(default, module)
        return frozenset(value for value in given if isinstance(value, Class))

    def _declared(self, expr: Declared, module: str) -> frozenset[Value]:
        """A value stored with an annotation: what the annotation says, and what the
        value may be; but for ``type[Base]`` naming a class of the project, only the
        classes the value may be that are (or derive from) it (a factory that can return
        every storage class gives a ``type[KVStore]`` attribute the key-value ones
        only). An instance annotation narrows nothing: the analysis may know only some
        of what the value is, and the annotation stands for the rest."""
        values = self.eval(expr.value, module)
        annotation = expr.annotation
        if isinstance(annotation, Subscript) and any(
            isinstance(base, LibraryObject) and base.name in _CLASS_OF
            for base in self.eval(annotation.base, module)
        ):
            allowed = self.eval(annotation.index, module)
            if allowed and all(isinstance(each, Class) for each in allowed):
                kept = frozenset(
                    value
                    for value in values
                    if isinstance(value, Class)
                    and any(entry in allowed for entry in self.mro(value.key))
                )
                return kept or allowed
        return self.instances(self.eval(annotation, module)) | values

    def instances(self, values: frozenset[Value]) -> frozenset[Value]:
        result: set[Value] = set()
        for value in values:
            match value:
                case Class(key):
                    result.add(Instance(key))
                case LibraryObject(name) if self.is_class_name(name) and name != "typing.Any":
                    result.add(LibraryInstance(name))
                case AnnotatedType(types):
                    result |= self.instances(types)
        return frozenset(result)

    def entered(self, values: frozenset[Value]) -> frozenset[Value]:
        result: set[Value] = set()
        for value in values:
            if isinstance(value, Instance):
                method = self.method(value.key, "__enter__") or self.method(value.key, "__aenter__")
                if method is not None:
                    result |= self.returns_of(method)
                    continue
            result.add(value)
        return frozenset(result)

    def state_attribute(self, name: str) -> frozenset[Value]:
        """What the project stores as ``<app or request>.state.<name>``, anywhere."""
        known = self._state.get(name)
        if known is None:
            self._state[name] = EMPTY
            known = _union(
                self.eval(expr, module)
                for module, summary in self.modules.items()
                for expr in summary.state_attributes.get(name, ())
            )
            self._state[name] = known
        return known

    def _no_prefix_by_default(self, expr: Expr, module: str, depth: int = 0) -> bool:
        """A path part read from a setting whose default is empty, ``os.environ.get(
        "BASE_PATH", "")`` (maybe ``.rstrip("/")``, maybe through a module-level name):
        by default, nothing. Only paths read it so (elsewhere an empty text is a flag)."""
        if (
            isinstance(expr, Call)
            and isinstance(expr.func, Attribute)
            and expr.func.name in _TEXT_METHODS
        ):
            return self._no_prefix_by_default(expr.func.base, module, depth)
        if isinstance(expr, Call):
            return (
                last_name(expr.func) in _DEFAULTED
                and len(expr.args) >= 2
                and isinstance(expr.args[0], Constant)
                and expr.args[1] == Constant("")
            )
        if isinstance(expr, Global | Imported) and depth < 2:
            bound = self.module_bindings(expr, module)
            return len(bound) == 1 and self._no_prefix_by_default(*bound[0], depth + 1)
        return False

    def _text_method(self, func: Attribute, call: Call, module: str) -> frozenset[Value]:
        """A method of ``str`` that edits a text known here, with constant arguments."""
        arguments = [self.constant(argument, module) for argument in call.args]
        if call.keywords or not all(isinstance(argument, str) for argument in arguments):
            return EMPTY
        edit = getattr(str, func.name)
        edited: set[Value] = set()
        for value in self.eval(func.base, module):
            if isinstance(value, Text):
                try:
                    edited.add(Text(edit(value.value, *arguments)))
                except TypeError:  # ``"/API".lower("x")``: a call that fails when run
                    return EMPTY
        return frozenset(edited)

    def stored_items(self, expr: Subscript, module: str) -> frozenset[Value]:
        """``CLIENTS["s3"]``: the values of a module-level dict display (the one under a
        constant key when there is one) and what the project stores into it."""
        key = expr.index.value if isinstance(expr.index, Constant) else None
        result: set[Value] = set()
        for shown, where in self.displays(expr.base, module, 0):
            if isinstance(shown, DictDisplay):
                pairs = list(zip(shown.keys, shown.values, strict=True))
                if key is None and not isinstance(expr.index, Constant):
                    # ``ROUTES[Action.CHAT]``: the entry whose key is the same member
                    asked = self.eval(expr.index, module)
                    same = [
                        (item_key, value)
                        for item_key, value in pairs
                        if asked and asked & self.eval(item_key, where)
                    ]
                    if self._fully_known(expr.index, module):
                        # ``"local"`` or a part of the URI: any entry
                        pairs = same or pairs
                for item_key, value in pairs:
                    if key is None or not isinstance(item_key, Constant) or item_key.value == key:
                        result |= self.eval(value, where)
        if isinstance(expr.base, Global):
            summary = self.modules.get(module)
            for item in summary.item_stores.get(expr.base.name, ()) if summary else ():
                # ``_cfg.get("ui")`` reads what ``_cfg["ui"] = ui`` stores, not the rest
                if key is None or item.key is None or item.key == key:
                    result |= self.eval(item.value, module)
        # ``SESSIONS: dict[str, Session] = {}``: what the annotation says its values are
        for bound, where in self.module_bindings(expr.base, module):
            annotation = bound.annotation if isinstance(bound, Typed) else None
            result |= self._mapped_values(annotation, where)
        # the same on an attribute of ``self`` (``self.addons: dict[str, Addon] = {}``)
        base = expr.base
        if isinstance(base, Attribute) and isinstance(base.base, SelfRef):
            for entry in self.mro((module, base.base.klass)):
                if not isinstance(entry, Class):
                    continue
                klass = self.klass(entry.key)
                for bound in klass.attributes.get(base.name, ()) if klass else ():
                    if isinstance(bound, Typed | Declared):
                        result |= self._mapped_values(bound.annotation, entry.key[0])
                # what the class's methods store into it (``self.listeners[kind] = f``)
                for stored in klass.item_stores.get(base.name, ()) if klass else ():
                    result |= self.eval(stored, entry.key[0])
        return frozenset(result)

    def _mapped_values(self, annotation: Expr | None, module: str) -> frozenset[Value]:
        """Instances of the values' class of a mapping annotation (``dict[str, Addon]``)."""
        if not (isinstance(annotation, Subscript) and isinstance(annotation.index, Items)):
            return EMPTY
        if len(annotation.index.items) == 2 and any(
            isinstance(value, LibraryObject) and value.name in _MAPPINGS
            for value in self.eval(annotation.base, module)
        ):
            return self.instances(self.eval(annotation.index.items[1], module))
        return EMPTY

    def annotated_items(self, expr: Expr, module: str) -> frozenset[Value]:
        """The items of a parameter or local annotated as a collection of some class
        (``images: list[Image] | None``, ``Sequence[Job]``): instances of that class."""
        match expr:
            case Either():
                left = self.annotated_items(expr.left, module)
                return left | self.annotated_items(expr.right, module)
            case Param() | Typed() | Declared() if expr.annotation is not None:
                return self.element_types(expr.annotation, module)
        return EMPTY

    def element_types(self, annotation: Expr, module: str) -> frozenset[Value]:
        match annotation:
            case Either():
                left = self.element_types(annotation.left, module)
                return left | self.element_types(annotation.right, module)
            case Subscript():
                index = annotation.index
                items = index.items if isinstance(index, Items) else (index,)
                result: set[Value] = set()
                for base in self.eval(annotation.base, module):
                    if not isinstance(base, LibraryObject) or not items:
                        continue
                    if base.name in _UNION:
                        for item in items:
                            result |= self.element_types(item, module)
                    elif base.name in _COLLECTIONS:
                        result |= self.instances(self.eval(items[0], module))
                return frozenset(result)
        return EMPTY

    def subscript(self, expr: Subscript, module: str) -> frozenset[Value]:
        index = expr.index
        items: tuple[Expr, ...] = index.items if isinstance(index, Items) else (index,)
        if not items:
            return EMPTY
        result: set[Value] = set(self.stored_items(expr, module))
        for base in self.eval(expr.base, module):
            if isinstance(base, Class):  # ``Repository[User]``: the class, as a base too
                result.add(base)
                continue
            if isinstance(base, LibraryInstance):
                # ``client["app"]["users"]``: a client whose attributes are resource groups
                # (``client.app.users``) has them by item too
                if self.knowledge.attribute_types.get((base.cls, ANY_METHOD)) == base.cls:
                    result.add(base)
                continue
            if not isinstance(base, LibraryObject):
                continue
            if base.name in _ANNOTATED:
                depends = frozenset(
                    value
                    for item in items[1:]
                    for value in self.eval(item, module)
                    if isinstance(value, Depends)
                )
                result.add(AnnotatedType(self.eval(items[0], module), depends))
            elif base.name in _UNION:
                for item in items:
                    result |= self.eval(item, module)
            elif base.name in _FIRST_ARGUMENT:
                result |= self.eval(items[0], module)
            elif is_generic_owner(base.name):  # ``FastAPIUsers[User, UUID]``: the class
                result.add(base)
            elif self.knowledge.knows_class(self.knowledge.canonical(base.name)):
                # ``scoped_session[Session]``: a generic library class a rule knows
                result.add(base)
        return frozenset(result)

    def parameter(self, expr: Param, module: str) -> frozenset[Value]:
        annotation, default = expr.annotation, expr.default
        classes = self._classes_given(annotation, default, module)
        if classes:
            return classes
        annotated = self.eval(annotation, module) if annotation is not None else EMPTY
        types = self.instances(annotated)
        if any(self.is_router_type(value) for value in types):
            # ``def init_routers(app: FastAPI)``: the apps its few callers pass, and the
            # app a lifespan function is given to
            passed: set[Value] = {v for v in self.passed_in(expr, module) if isinstance(v, Router)}
            passed |= self._lifespan_of(expr, module)
            if passed:
                return types | passed
        if types and not self.opaque(types):
            return types
        result: set[Value] = set(types)
        for dependency in self.dependencies(annotated, default, module):
            result |= self.dependency_result(dependency)
        owner, _, method = expr.function.rpartition(".")
        if method == "__init__":
            given = self.middleware_arguments().get((module, owner), {})
            for value, where in given.get(expr.name, ()):
                result |= self.eval(value, where)
        if annotation is None or self.opaque(types):
            # no annotation, or one that says nothing (``agent_factory: Any``)
            result |= self.passed_in(expr, module)
            # a decorator's parameter: the functions it decorates (``def register(f):
            # HANDLERS[kind] = f``, applied as ``@on("append")``)
            result.update(Function(key) for key in self.decorated_with(expr, module))
        if default is not None:
            # ``def __init__(self, client: "S3Client" = shared_client)``: what the caller
            # gets when it passes nothing
            result.update(
                value
                for value in self.eval(default, module)
                if isinstance(value, Instance | LibraryInstance)
            )
        return frozenset(result)

    def passed_in(self, expr: Param, module: str) -> frozenset[Value]:
        """What the calls of a module-level function give its parameter that has no
        annotation, when the function is called by name in a few places only: the
        router factory ``create_routes(rag)`` whose routes use ``rag``, which no call
        of theirs passes. A helper called from many places keeps its parameter unknown
        (a union over all its callers would be a guess)."""
        cached = (module, expr.function, expr.name)
        known = self._passed_in.get(cached)
        if known is not None:
            return known
        self._passed_in[cached] = EMPTY  # a parameter handed back to its own function: cut
        key = (module, expr.function)
        function = self.function(key)
        if function is None or function.class_qualname is not None or "." in expr.function:
            return EMPTY
        names = [param.name for param in function.params]
        if expr.name not in names or self.names_handed(expr.function):
            return EMPTY
        position = names.index(expr.name)
        calls = self._wrapper_calls(key, function)
        if calls is None:
            calls = self._calls_of_function.get(key)
            if calls is None:
                # the same for each of the function's parameters: found once
                calls = self._calls_of_function[key] = [
                    (where, call)
                    for where, call in self.calls_named(expr.function)
                    if Function(key) in self.eval(call.func, where[0])
                ]
            if not calls or len(calls) > _FEW_CALLERS:
                return EMPTY
        result: set[Value] = set()
        for where, call in calls:
            given = call.keyword(expr.name)
            if given is None and position < len(call.args):
                if any(isinstance(arg, Unknown) for arg in call.args[: position + 1]):
                    continue  # ``*args`` before it: its position is not known
                given = call.args[position]
            if given is not None:
                # objects only: a text (a path's prefix) given by some calls is not what
                # the others, which leave the default, give
                result.update(v for v in self.eval(given, where[0]) if not isinstance(v, Text))
        found = frozenset(result)
        self._passed_in[cached] = found
        return found

    def _lifespan_of(self, expr: Param, module: str) -> frozenset[Value]:
        """The apps a function is the lifespan of (``FastAPI(lifespan=lifespan)``), for
        its first parameter: FastAPI calls it with the app."""
        function = self.function((module, expr.function))
        if function is None or not function.params or function.params[0].name != expr.name:
            return EMPTY
        if self._lifespans is None:
            self._lifespans = {}
            for where, call in self.calls_named("FastAPI"):
                given = call.keyword("lifespan")
                if given is None:
                    continue
                if LibraryObject("fastapi.FastAPI") not in self.eval(call.func, where[0]):
                    continue
                # the app the call makes, by its key (``router``), not by evaluating the
                # call: that may be what asked for this, still being evaluated
                apps = [Router((where[0], call.line, call.col))]
                for value in self.eval(given, where[0]):
                    if isinstance(value, Function):
                        self._lifespans.setdefault(value.key, set()).update(apps)
        return frozenset(self._lifespans.get((module, expr.function), ()))

    def wrapped_by_coroutine(self, key: Key) -> Key | None:
        """The ``async def`` wrapper a decorator of the project puts around sync function
        ``key`` and that calls it right there (``@permission_checker(...)`` whose
        ``async def wrapper(*args, **kwargs): return func(*args, **kwargs)``): a route
        so decorated is a coroutine to FastAPI, and the sync body runs on the loop."""
        function = self.function(key)
        if function is None or function.is_async or not function.decorators:
            return None
        for wrapper, call in self._wrapper_calls(key, function) or ():
            inner = self.function(wrapper)
            if inner is not None and inner.is_async and not call.awaited:
                return wrapper
        return None

    def _wrapper_calls(self, key: Key, function: FunctionSummary) -> list[tuple[Key, Call]] | None:
        """How the wrappers of the project's decorators of the function call it, when
        one does: ``@with_session`` whose ``wrapper(*args)`` calls ``fn(session, *args)``
        gives the function its first argument, whatever its callers pass."""
        found: list[tuple[Key, Call]] = []
        for decorator in function.decorators:
            target = decorator.func if isinstance(decorator, Call) else decorator
            for value in self.eval(target, key[0]):
                if not isinstance(value, Function):
                    continue
                # ``@with_session`` (the decorator) or ``@retry(3)`` (what it returns)
                decorators = [value.key]
                for made in self.returns_of(value.key):
                    if isinstance(made, Function) and made.key[1].startswith(value.key[1] + "."):
                        decorators.append(made.key)
                for maker in decorators:
                    summary = self.function(maker)
                    if summary is None or not summary.params:
                        continue
                    wrapped = (maker[1], summary.params[0].name)
                    inside = maker[1] + "."
                    for qualname, inner in self.modules[maker[0]].functions.items():
                        if qualname.startswith(inside):
                            found.extend(
                                ((maker[0], qualname), call)
                                for call in inner.calls
                                if isinstance(call.func, Param)
                                and (call.func.function, call.func.name) == wrapped
                            )
        return found or None

    def middleware_arguments(self) -> dict[Key, dict[str, list[tuple[Expr, str]]]]:
        """What ``app.add_middleware(Cls, name=value)`` gives ``Cls.__init__``: Starlette
        makes the middleware with those arguments, so ``self.name`` holds ``value``."""
        known = self._middleware_arguments
        if known is None:
            known = self._middleware_arguments = {}
            for module, summary in self.modules.items():
                for klass, keywords in summary.middleware_arguments:
                    for value in self.eval(klass, module):
                        if not isinstance(value, Class):
                            continue
                        given = known.setdefault(value.key, {})
                        for keyword in keywords:
                            if keyword.name is not None:
                                given.setdefault(keyword.name, []).append((keyword.value, module))
        return known

    def opaque(self, types: frozenset[Value]) -> bool:
        """An annotation that names only library classes no rule knows (a stub-only type
        imported under ``TYPE_CHECKING``, such as ``mypy_boto3_s3.S3Client``) says nothing
        the analysis can use: the value given or returned still tells what it is."""
        knows = self.knowledge.knows_class
        return all(isinstance(value, LibraryInstance) and not knows(value.cls) for value in types)

    def dependencies(
        self,
        annotated: frozenset[Value],
        default: Expr | None,
        module: str,
        library: bool = False,
    ) -> list[Value]:
        """The callables a parameter depends on (``Depends``/``Annotated``/``Depends()``)."""
        markers: list[Depends] = [
            marker
            for value in annotated
            if isinstance(value, AnnotatedType)
            for marker in value.depends
        ]
        if default is not None:
            markers.extend(
                value for value in self.eval(default, module) if isinstance(value, Depends)
            )
        callables: list[Value] = []
        for marker in markers:
            if marker.callables:
                callables.extend(marker.callables)
            else:  # Depends() with no argument: the annotation is the dependency
                for value in annotated:
                    callables.extend(value.types if isinstance(value, AnnotatedType) else (value,))
        project = (Function, Class, Instance)
        kinds = (*project, LibraryInstance) if library else project
        # in the same order in every process (alternatives come from sets)
        return sorted((value for value in callables if isinstance(value, kinds)), key=value_order)

    def dependency_result(self, dependency: Value) -> frozenset[Value]:
        match dependency:
            case Function(key):
                return self.returns_of(key)
            case Class(key):
                return frozenset({Instance(key)})
            case Instance(key):
                method = self.method(key, "__call__")
                return self.returns_of(method) if method is not None else EMPTY
            case _:
                return EMPTY

    def returns_of(self, key: Key) -> frozenset[Value]:
        known = self._returns.get(key)
        if known is not None:
            return known
        active = self._active
        depth = active.get(key)
        if depth is not None:  # recursion: cut, as ``eval`` does
            self._cut = min(self._cut, depth)
            return EMPTY
        depth = len(active)
        active[key] = depth
        outer_cut, self._cut = self._cut, depth
        try:
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
                elif self.opaque(result):  # ``-> "S3Client"``: and what it returns
                    result |= _union(
                        self.eval(expr, key[0]) for expr in (*function.returns, *function.yields)
                    )
                elif self._protocols_only(result):
                    # ``-> BlobStore`` of a ``Protocol``: what it returns says which class
                    result |= _union(self.eval(expr, key[0]) for expr in function.returns)
                elif all(isinstance(value, Instance) for value in result):
                    result = self._returned_subclasses(function, key[0], result)
        finally:
            del active[key]
            cut, self._cut = self._cut, min(outer_cut, self._cut)
        if any(isinstance(v, Instance) and is_test_double(v.key[1]) for v in result):
            # ``return MockService() if settings.mock else Service()``: production's
            kept = frozenset(
                v for v in result if not (isinstance(v, Instance) and is_test_double(v.key[1]))
            )
            result = kept or result
        if cut >= depth:
            self._returns[key] = result
        return result

    def _protocols_only(self, values: frozenset[Value]) -> bool:
        """Instances of classes derived from ``typing.Protocol`` only: a structural type,
        which the classes that implement it need not name."""
        return bool(values) and all(
            isinstance(value, Instance)
            and any(
                isinstance(entry, LibraryObject) and entry.name in _PROTOCOLS
                for entry in self.mro(value.key)
            )
            for value in values
        )

    def _returned_subclasses(
        self, function: FunctionSummary, module: str, annotated: frozenset[Value]
    ) -> frozenset[Value]:
        """``def catalog_for(user) -> Catalog`` whose every ``return`` gives instances of
        classes derived from ``Catalog`` (``return MemoryCatalog(...)``): those, which
        say which overrides run; else the annotation's classes."""
        if not function.returns or function.yields:
            return annotated
        wanted = {value for value in annotated if isinstance(value, Instance)}
        found: set[Value] = set()
        for expr in function.returns:
            values = self.eval(expr, module)
            if not values or not all(
                isinstance(value, Instance)
                and any(Class(base.key) in self.mro(value.key) for base in wanted)
                for value in values
            ):
                return annotated
            if isinstance(expr, Subscript) and values - wanted:
                # ``_cache[user]`` of ``_cache: dict[str, Catalog]`` filled with
                # ``MemoryCatalog``s: the items stored say more than the container's
                # annotation (a global annotated with the base keeps it: it may be
                # set to what the analysis does not know)
                values = values - wanted
            found |= values
        return frozenset(found)

    def _model_row(self, call: Call, module: str) -> frozenset[Value]:
        """The object of the project's model that a query gives (``Rule.model_rows``):
        the model is the first argument of the nearest call down the chain that names it
        (``session.query(User)``, ``session.get(User, 1)``)."""
        queries = self.knowledge.model_queries
        expr: Expr = call
        while isinstance(expr, Call) and isinstance(expr.func, Attribute):
            named = any(
                isinstance(value, LibraryMethod) and f"{value.cls}.{value.name}" in queries
                for value in self.eval(expr.func, module)
            )
            if named:
                return frozenset(
                    Instance(value.key)
                    for value in (self.eval(expr.args[0], module) if expr.args else EMPTY)
                    if isinstance(value, Class)
                )
            expr = expr.func.base
        return EMPTY

    def runs_elsewhere(self, key: Key) -> str | None:
        """The class of what a call of function ``key`` gives when a decorator runs it in
        another thread or process (``Rule.runs_elsewhere``), else None."""
        if key in self._elsewhere:
            return self._elsewhere[key]
        found: str | None = None
        function = self.function(key)
        table = self.knowledge.runs_elsewhere
        for decorator in function.decorators if function is not None and table else ():
            target = decorator.func if isinstance(decorator, Call) else decorator
            for value in self.eval(target, key[0]):
                if isinstance(value, LibraryObject) and value.name in table:
                    found = table[value.name]
        self._elsewhere[key] = found
        return found

    def returns_for(self, key: Key, call: Call) -> frozenset[Value]:
        """What a call of function ``key`` returns: ``returns_of``, less what the
        ``return`` statements under a branch the call's constant arguments turn off
        make (``get_store(mode="async")`` never returns the store of ``if mode ==
        "sync": return SyncStore(...)``). Only constants the call writes count: a
        default may be overridden by ``**options``."""
        function = self.function(key)
        if function is None or not function.flag_blocks or function.return_annotation:
            return self.returns_of(key)
        off = _constant_off(function, call)
        if not off:
            return self.returns_of(key)
        made = [*function.returns, *function.yields]
        kept = [
            expr
            for expr in made
            if not (isinstance(expr, Call) and any(a <= expr.line <= b for a, b in off))
        ]
        if len(kept) == len(made):
            return self.returns_of(key)
        return _union(self.eval(expr, key[0]) for expr in kept)

    def constant(self, expr: Expr | None, module: str) -> object:
        if expr is None:
            return None
        if isinstance(expr, Constant):
            return expr.value
        # the same in every process when several texts are possible (a set's order
        # follows the hash seed)
        texts = [value.value for value in self.eval(expr, module) if isinstance(value, Text)]
        return min(texts) if texts else None

    def text(self, expr: Expr | None, module: str) -> str:
        """A path or prefix: its value when known, else ``{the expression}``."""
        if expr is None:
            return ""
        value = self.constant(expr, module)
        if isinstance(value, str):
            return value
        if isinstance(expr, FString):
            return "".join(
                ""
                if self._no_prefix_by_default(part, module)
                else self.text(part, module) or "{...}"
                for part in expr.parts
            )
        if self._no_prefix_by_default(expr, module):
            return ""
        if isinstance(expr, Param) and expr.function.endswith(".__init__"):
            given = self._init_argument_text(expr, module)
            if given is not None:
                return given
        shown = describe(expr)
        return f"{{{shown}}}" if shown else ""

    def _init_argument_text(self, param: Param, module: str) -> str | None:
        """``def __init__(self, prefix="/api/tracking"): self.router =
        APIRouter(prefix=prefix)``: the text every construction of the class gives the
        parameter (its default where a construction passes nothing), when they agree."""
        owner = param.function.rpartition(".")[0]
        init = self.function((module, param.function))
        if init is None:
            return None
        names = [each.name for each in init.params]
        if param.name not in names:
            return None
        position = names.index(param.name) - 1  # ``self`` is not passed
        texts: set[str] = set()
        for place in self.constructions((module, owner)):
            maker = self.function(place)
            for call in maker.calls if maker is not None else ():
                if Class((module, owner)) not in self.eval(call.func, place[0]):
                    continue
                given = call.argument(param.name, position)
                if given is None:
                    given = param.default
                value = self.constant(given, place[0] if given is not param.default else module)
                if not isinstance(value, str):
                    return None
                texts.add(value)
        return texts.pop() if len(texts) == 1 else None

    def is_celery_task(self, key: Key) -> bool:
        function = self.function(key)
        if function is None:
            return False
        for decorator in function.decorators:
            target = decorator.func if isinstance(decorator, Call) else decorator
            if last_name(target) in ("task", "shared_task"):
                return True
        return False


def keyword(call: Call, name: str) -> Expr | None:
    return call.keyword(name)


def describe(expr: Expr) -> str | None:
    """Source-like text of a name or attribute chain (``settings.API_V1_STR``)."""
    match expr:
        case Global(name):
            return name
        case Imported(dotted) | ImportedModule(dotted):
            return dotted.rpartition(".")[2]
        case Attribute(base, name):
            shown = describe(base)
            return f"{shown}.{name}" if shown else None
        case Param(_, name):
            return name
        case SelfRef():
            return "self"
        case Call():  # ``mount(settings.base_path(), api)``
            called = describe(expr.func)
            return f"{called}()" if called else None
        case Truthy() | Narrowed():
            return describe(expr.value)
        case _:
            return None


def _bounded(values: frozenset[Value]) -> frozenset[Value]:
    own = sorted((v for v in values if isinstance(v, _PROJECT_VALUES)), key=value_order)
    others = sorted((v for v in values if not isinstance(v, _PROJECT_VALUES)), key=value_order)
    return frozenset(own[:_MAX_PROJECT_VALUES]) | frozenset(others[:_MAX_VALUES])


_PROJECT_VALUES = (Function, Class, Instance)
_EMPTY_TEXT = frozenset({Text("")})


def last_name(expr: Expr) -> str | None:
    match expr:
        case Attribute() | Global():
            return expr.name
        case Imported() | ImportedModule():
            return expr.dotted.rpartition(".")[2]
        case FunctionRef():
            return expr.function.rpartition(".")[2]
        case ClassRef():
            return expr.klass.rpartition(".")[2]
        case _:
            return None


def _setting_default(call: Call) -> frozenset[Value]:
    """``os.getenv("API_PREFIX", "/api")``, ``confi.str("ROUTE", "/policy-data")``: a
    setting read by name whose default is written: the default (for paths and prefixes)."""
    if len(call.args) < 2 or last_name(call.func) not in _DEFAULTED:
        return EMPTY
    name, default = call.args[0], call.args[1]
    if (
        isinstance(name, Constant)
        and isinstance(default, Constant)
        and isinstance(default.value, str)
        and default.value.startswith("/")
    ):
        return frozenset({Text(default.value)})
    return EMPTY


def _router_kind(name: str) -> str | None:
    """``app`` or ``router`` for FastAPI's classes and libraries' app and router classes."""
    if name in APP_CLASSES:
        return "app"
    return _ROUTER_FACTORIES.get(name) or ("router" if name in ROUTER_CLASSES else None)


def _imported_module(returned: Expr, summary: ModuleSummary) -> str | None:
    """The module of ``getattr(import_module("pkg.mod"), name)`` (or of a relative
    ``import_module(".mod", __name__)``), as ``__getattr__`` returns it."""
    if not (isinstance(returned, Call) and last_name(returned.func) == "getattr"):
        return None
    if len(returned.args) != 2 or not isinstance(returned.args[0], Call):
        return None
    imported = returned.args[0]
    if last_name(imported.func) != "import_module" or not imported.args:
        return None
    target = imported.args[0]
    if not (isinstance(target, Constant) and isinstance(target.value, str)):
        return None
    dotted = target.value
    if dotted.startswith("."):
        package = summary.name if summary.is_package else summary.name.rpartition(".")[0]
        dotted = package + dotted
    return dotted


def _union(sets: Iterable[frozenset[Value]]) -> frozenset[Value]:
    first: frozenset[Value] = EMPTY
    merged: set[Value] | None = None
    for values in sets:
        if not values:
            continue
        if merged is not None:
            merged |= values
        elif not first:
            first = values  # one non-empty set (the usual case) is returned as it is
        else:
            merged = set(first)
            merged |= values
    return first if merged is None else frozenset(merged)


def _export_target(value: Expr) -> tuple[str, str] | None:
    """``("pkg.mod", "attr")`` or ``"pkg.mod:attr"``: the module and attribute."""
    if isinstance(value, Items) and len(value.items) == 2:
        module, attribute = value.items
        if (
            isinstance(module, Constant)
            and isinstance(attribute, Constant)
            and isinstance(module.value, str)
            and isinstance(attribute.value, str)
        ):
            return module.value, attribute.value
    if isinstance(value, Constant) and isinstance(value.value, str) and ":" in value.value:
        module_name, _, attribute_name = value.value.partition(":")
        return module_name, attribute_name
    return None


def _library_roots(knowledge: Knowledge) -> frozenset[str]:
    """The top-level names of the libraries the checker knows (``redis``, ``fastapi``):
    a project module of such a name (``app/redis.py``) never stands for them."""
    names = [
        *knowledge.functions,
        *(cls for cls, _ in knowledge.methods),
        *knowledge.returns,
        *knowledge.aliases,
        *knowledge.factories,
        *_ROUTER_FACTORIES,
        *ROUTER_CLASSES,
        *APP_CLASSES,
    ]
    return frozenset(name.partition(".")[0] for name in names)


def _nested_library_names(
    modules: dict[str, ModuleSummary], libraries: frozenset[str]
) -> frozenset[str]:
    """Files outside any package, named as a standard or known library (``requests.py``)
    and deeper than the shallowest such file: ``import requests`` finds them only from
    their own folder, which is no folder code is run from, so it means the library."""
    loose = [
        (name, os.path.dirname(summary.path))
        for name, summary in modules.items()
        if "." not in name and name != "__init__"
    ]
    if not loose:
        return frozenset()
    top = min(len(directory) for _, directory in loose)
    return frozenset(
        name
        for name, directory in loose
        if len(directory) > top and (name in sys.stdlib_module_names or name in libraries)
    )


def _top_level_names(
    modules: dict[str, ModuleSummary], libraries: frozenset[str]
) -> dict[str, str]:
    """Modules by their last name alone, when one module has it and it is the name of
    no standard library nor known library: the names code run from inside their folder
    imports them by."""
    claims: dict[str, set[str]] = {}
    for name in modules:
        short = name.partition("#")[0]
        last = short.rpartition(".")[2]
        if (
            "." in short
            and last not in sys.stdlib_module_names
            and last not in libraries
            and last != "__init__"
        ):
            claims.setdefault(last, set()).add(name)
    return {last: next(iter(names)) for last, names in claims.items() if len(names) == 1}


def _constant_off(function: FunctionSummary, call: Call) -> list[tuple[int, int]]:
    """The lines of ``function`` under ``if <parameter>`` tests that the constants the
    call passes (by keyword, or by a position no ``*args`` before it could shift) make
    fail: ``if mode == "sync":`` for ``mode="async"``."""
    names = [param.name for param in function.params]
    skipped = 1 if function.class_qualname is not None and names[:1] in (["self"], ["cls"]) else 0
    off: list[tuple[int, int]] = []
    for block in function.flag_blocks:
        if block.name not in names:
            continue
        position = names.index(block.name) - skipped
        given = call.keyword(block.name)
        if given is None and 0 <= position < len(call.args):
            if any(isinstance(arg, Unknown) for arg in call.args[: position + 1]):
                continue
            given = call.args[position]
        if not isinstance(given, Constant):
            continue
        if block.values:
            if not all(isinstance(value, Constant) for value in block.values):
                continue
            equal = any(
                isinstance(value, Constant)
                and type(value.value) is type(given.value)
                and value.value == given.value
                for value in block.values
            )
            if equal != block.when:
                off.append((block.first, block.last))
        elif bool(given.value) != block.when:
            off.append((block.first, block.last))
    return off


_TEST_DOUBLE = re.compile(r"(?:Mock|Fake|Dummy|Stub)(?:[A-Z_]|$)")


def is_test_double(qualname: str) -> bool:
    """A class named as a test double (``MockAgentService``, ``FakeRedis``,
    ``DummyCache``): it stands in for the real one in tests and demos."""
    return _TEST_DOUBLE.match(qualname.rpartition(".")[2]) is not None
