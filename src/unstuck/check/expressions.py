"""How one expression of a module becomes an ``Expr``, against the local names in scope.

``ExpressionReader`` keeps the environment of local names (a local stands for the
expression last assigned to it) and turns each expression into the small records of
``model.Expr``, recording calls, watched attribute reads and big ``range`` loops on the
function being walked. Only the arguments the analysis reads later are kept (see
``ARGUMENT_CALLS``): small summaries are what makes the process pool pay off. A lambda
is ``UNKNOWN``: it runs wherever it is passed, not in the enclosing function. Names and
constants are shared records within a module: most expressions are names, and sharing
keeps the summaries small to build and to send between processes.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from sys import intern
from typing import Any, ClassVar

from unstuck.check.model import (
    ITERATED,
    MODULE_BODY,
    UNKNOWN,
    At,
    Attribute,
    AttributeRead,
    Await,
    BigLoop,
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
    ItemStore,
    Keyword,
    ModuleStore,
    ModuleSummary,
    Param,
    Rebound,
    SelfRef,
    Subscript,
    SuperRef,
    Typed,
    Unknown,
)

BIG_LOOP = 1_000_000
# Attribute reads that are I/O on some library types (Celery's AsyncResult properties).
WATCHED_ATTRIBUTES = frozenset({"state", "status", "result", "info", "traceback", "date_done"})

# Calls whose positional arguments the analysis reads (the rest keep only their count).
ARGUMENT_CALLS = frozenset(
    {
        "Depends",
        "Security",
        "include_router",
        "generate_and_include_versioned_routers",
        "add_api_route",
        "add_api_websocket_route",
        "add_route",
        "add_websocket_route",
        "mount",
        "api_route",
        "websocket",
        "add_event_handler",
        "on_event",
        # a set of constants, for the tests of membership that read it
        "frozenset",
        *("get", "post", "put", "patch", "delete", "head", "options", "trace"),
    }
)
# Keyword arguments whose values the analysis reads (the rest keep only their name).
KEYWORDS = frozenset(
    {"class_", "prefix", "dependencies", "methods", "path", "endpoint", "router", "app", "route"}
    | {"dependency", "timeout", "lifespan", "on_startup", "on_shutdown", "routes"}
)
_PROPERTY_OWNERS = (SelfRef, Param, Call)
# Constants are kept too (a flag such as ``wait=False`` can make a call return at once),
# and calls: ``include_routers(APIRouter())`` passes a router built in place; functions
# and loop items (``app.get("/")(handler)``, ``register(router)`` in a loop), a name that
# holds one of several values (``app or FastAPI()``) and f-strings (a path); classes
# defined in a function (``app.add_middleware(Local)``).
_PASSED_ON = (
    *(Param, SelfRef, Global, Attribute, Entered, Typed, Imported, Constant, Call),
    *(FunctionRef, ClassRef, Each, At, Either, FString, Divide),
)
_SHORT_LIST = 8
# List methods that add items: a list of routes or routers may be built that way.
_GROWING = frozenset({"append", "extend"})
# ``stack.enter_context(cm)`` / ``await stack.enter_async_context(cm)`` (contextlib's
# exit stacks): ``cm``'s ``__enter__`` / ``__aenter__`` runs there, its exit when the
# stack closes (in the same function, or at shutdown for a lifespan's stack)
_STACK_ENTERS = {"enter_context": False, "enter_async_context": True}
# Calls that attach routes: which if/match block each is in tells alternatives apart.
_REGISTERING = frozenset(
    {
        *("include_router", "mount", "host"),
        *("add_api_route", "add_api_websocket_route", "add_route", "add_websocket_route"),
    }
)
# Records made once per module (``ExpressionReader.name``, ``constant``), so that a
# keyword passing one can be shared too.
_SHARED = (Global, Constant, Unknown)


def node_handlers(cls: type, prefix: str) -> dict[type[ast.AST], Any]:
    """The ``<prefix><node>`` methods of ``cls`` by node type, built once per class."""
    table: dict[type[ast.AST], Any] = {}
    for name in dir(cls):
        if name.startswith(prefix):
            node_type = getattr(ast, name[len(prefix) :], None)  # None: a newer Python's node
            if node_type is not None:
                table[node_type] = getattr(cls, name)
    return table


class ExpressionReader:
    # e_<node> methods by node type (filled in below the class)
    expression: ClassVar[dict[type[ast.AST], Callable[[Any, Any, bool], Expr]]] = {}

    def __init__(self, summary: ModuleSummary) -> None:
        self.summary = summary
        self.function = FunctionSummary(MODULE_BODY, 1, 0, False, None, [], [], None)
        summary.functions[MODULE_BODY] = self.function
        self.env: dict[str, Expr] | None = None
        self.klass: ClassSummary | None = None
        # names the current function declares ``global``, and the lines where it stores
        # into module state (those globals, or items and attributes of module names)
        self.declared_globals: set[str] = set()
        # names of the functions around this one, not bound in it: what it stores on
        # them (``app.ready = True`` in a route an app factory defines) lasts as long as
        # the factory's closure, the process
        self.closure_names: set[str] = set()
        self.global_stores: list[int] = []
        self.instance_stores: list[int] = []  # ``self.x = ...``, ``self.x[k] = ...``
        # the names of what those stores fill: ``_client``, ``x`` of ``self.x[k]``
        self.stored_names: set[str] = set()
        # Records shared within the module: names, constants, attribute reads of a
        # shared base, and keywords with shared values (most of what a module holds).
        self._globals: dict[str, Global] = {}
        self._constants: dict[tuple[type, object], Constant] = {}
        self._attributes: dict[tuple[int, str], Attribute] = {}
        # the names a module-level ``for`` binds, read in its body as this loop's item:
        # as globals they also hold the items of every other loop that reuses the name
        self.module_loop: dict[str, Expr] = {}
        # inside a block of a module-level ``if``: a name bound there holds, for the rest
        # of the block, what it was bound to there (kept in ``module_loop`` meanwhile)
        self.module_blocks = 0
        self._keywords: dict[tuple[str | None, int], Keyword] = {}
        # the if/match blocks the walk is in: (statement line, block index), outermost first
        self.branch_path: list[tuple[int, int]] = []

    # -- bindings -------------------------------------------------------------

    def bind(self, name: str, value: Expr) -> None:
        self.closure_names.discard(name)  # bound here: a local of this function
        if self.env is not None and name not in self.declared_globals:
            self.env[name] = value
        elif self.klass is not None:
            self.klass.attributes.setdefault(name, []).append(value)
        else:
            self.summary.globals.setdefault(name, []).append(value)
            if self.module_blocks and self.env is None:
                # ``if WEB: router = APIRouter()``: this block's router, in this block
                self.module_loop[name] = value

    def grow(self, name: str, added: Expr) -> None:
        """A list named ``name`` gets more items (``+=``, ``.extend``, ``.append``): a loop
        over it, or an app given it as ``routes=``, sees them all."""
        if not isinstance(added, Items):
            return
        if self.env is None or name in self.declared_globals:
            self.bind(name, added)  # a module global holds every value bound to it
            return
        current = self.env.get(name)
        if isinstance(current, Items | Either | Declared):
            self.env[name] = Either(current, added)

    def assign(self, target: ast.expr, value: Expr) -> None:
        if self.env is not None and _stores_module_state(
            target, self.env, self.declared_globals | self.closure_names
        ):
            self.global_stores.append(target.lineno)
            self.stored_names.add(stored_name(target))
        elif self.env is not None and _stores_instance_state(target, self.env):
            self.instance_stores.append(target.lineno)
            self.stored_names.add(stored_name(target))
        if isinstance(target, ast.Name):
            self.bind(target.id, _rebound(value, self.env.get(target.id) if self.env else None))
        elif isinstance(target, ast.Attribute):
            if isinstance(target.value, ast.Attribute) and target.value.attr == "state":
                # Starlette's state objects: set in lifespan or middleware, read in routes
                self.summary.state_attributes.setdefault(target.attr, []).append(value)
            owner = self.ex(target.value)
            if isinstance(owner, Global | ImportedModule | Imported):
                # ``shared.api = Api(app)`` where the process is set up: if ``shared`` is
                # a module, its attribute holds it from then on, for the code that reads it
                self.summary.module_stores.append(ModuleStore(owner, target.attr, value))
            if isinstance(owner, SelfRef | ClassRef) and self.env is not None:
                # ``self.x = ...``, and ``cls._shared = cls()`` in a class method (a class
                # attribute: the singleton ``shared()`` returns)
                klass = self.summary.classes.get(owner.klass)
                if klass is not None:
                    klass.attributes.setdefault(target.attr, []).append(value)
            elif isinstance(owner, Global) and owner.name in self.summary.classes:
                # ``Ledger.session = scoped_session(...)`` in a function that sets the
                # class up: the class attribute holds it from then on
                klass = self.summary.classes[owner.name]
                klass.attributes.setdefault(target.attr, []).append(value)
            elif (
                isinstance(owner, Call)
                and isinstance(owner.func, ClassRef | Global)
                and (
                    made := self.summary.classes.get(
                        owner.func.klass if isinstance(owner.func, ClassRef) else owner.func.name
                    )
                )
                is not None
            ):
                # ``service = cls()`` then ``service._voices = await load_voices()`` in a
                # factory of the class: an attribute of each instance it makes
                made.attributes.setdefault(target.attr, []).append(value)
            elif self.env is not None and not isinstance(owner, Unknown):
                # ``config.api_key = key`` runs the ``__setattr__`` of the object's class
                # (one of the project's may write the setting to a file)
                setter = self.attribute(owner, "__setattr__")
                line, col = target.lineno, target.col_offset
                stored = (Constant(target.attr), value)
                self.function.calls.append(Call(setter, line, col, stored, (), False))
        elif isinstance(target, ast.Tuple | ast.List):
            items = (
                value.items
                if isinstance(value, Items) and len(value.items) == len(target.elts)
                else None
            )
            returned = value.value if isinstance(value, Await) else value
            for index, element in enumerate(target.elts):
                if isinstance(value, Each):  # ``for prefix, router in ROUTERS:``
                    self.assign(element, At(value, index))
                elif items is None and isinstance(returned, Call):
                    self.assign(element, ItemOf(value, index))  # ``a, b = make()``
                else:
                    self.assign(element, items[index] if items is not None else UNKNOWN)
        elif isinstance(target, ast.Starred):
            self.assign(target.value, UNKNOWN)
        elif isinstance(target, ast.Subscript):
            self.ex(target)
            held = target.value
            if isinstance(held, ast.Name) and (self.env is None or held.id not in self.env):
                written = target.slice.value if isinstance(target.slice, ast.Constant) else None
                self.summary.item_stores.setdefault(held.id, []).append(
                    ItemStore(written if isinstance(written, str) else None, value)
                )
            elif (
                isinstance(held, ast.Name)
                and self.env is not None
                and isinstance(target.slice, ast.Constant)
                and isinstance(target.slice.value, str)
                and isinstance(kept := self.env.get(held.id), Param | DictDisplay)
            ):
                # ``kwargs["session"] = session`` in a wrapper, then ``fn(*args, **kwargs)``:
                # the keyword the call hands on
                # (what the caller passed in ``**kwargs`` is handed on as well)
                keys, values = (
                    (kept.keys, kept.values)
                    if isinstance(kept, DictDisplay)
                    else ((UNKNOWN,), (kept,))
                )
                self.env[held.id] = DictDisplay(
                    (*keys, Constant(target.slice.value)), (*values, value)
                )
            elif isinstance(held, ast.Attribute) and isinstance(held.value, ast.Name):
                owner = self.ex(held.value)
                klass = (
                    self.summary.classes.get(owner.klass) if isinstance(owner, SelfRef) else None
                )
                if klass is not None:  # ``self.listeners[kind] = handler``
                    klass.item_stores.setdefault(held.attr, []).append(value)

    def iterates(self, iterated: Expr, node: ast.expr) -> None:
        """A sync loop over ``iterated``: a call of its ``__iter__`` (``ITERATED``), which
        a rule may know to do I/O; a display of items calls nothing."""
        if self.env is None or isinstance(iterated, _DISPLAYS):
            return
        method = self.attribute(iterated, ITERATED)
        self.function.calls.append(Call(method, node.lineno, node.col_offset, (), (), False))

    # -- expressions ------------------------------------------------------------

    def ex(self, node: ast.expr, awaited: bool = False) -> Expr:
        if type(node) is ast.Name:  # the most common node, inlined (``e_Name``)
            env = self.env
            if env is not None:
                value = env.get(node.id)
                if value is not None:
                    return value
            elif self.module_loop and self.klass is None:
                looped = self.module_loop.get(node.id)
                if looped is not None:
                    return looped
            return self.name(node.id)
        handler = self.expression.get(type(node))
        if handler is not None:
            return handler(self, node, awaited)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.ex(child)
        return UNKNOWN

    def annotation(self, node: ast.expr) -> Expr:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            try:
                parsed = ast.parse(node.value, mode="eval")
            except SyntaxError:
                return UNKNOWN
            return self.ex(parsed.body)
        return self.ex(node)

    def name(self, name: str) -> Global:
        known = self._globals.get(name)
        if known is None:
            known = self._globals[name] = Global(intern(name))
        return known

    def e_Name(self, node: ast.Name, awaited: bool) -> Expr:
        env = self.env
        if env is not None:
            value = env.get(node.id)
            if value is not None:
                return value
        elif self.klass is None and self.module_loop:
            looped = self.module_loop.get(node.id)
            if looped is not None:
                return looped
        return self.name(node.id)

    def e_Attribute(self, node: ast.Attribute, awaited: bool) -> Expr:
        base = self.ex(node.value)
        # Reads that may run code: library properties (Celery's AsyncResult.state) and
        # properties of the project's own objects (``self.client``, ``service.data``).
        if (
            node.attr in WATCHED_ATTRIBUTES
            or isinstance(base, _PROPERTY_OWNERS)
            or (isinstance(base, Global) and self.env is not None and self._object_named(base))
        ):
            read = AttributeRead(node.lineno, node.col_offset, base, node.attr)
            self.function.attribute_reads.append(read)
        if isinstance(base, SelfRef) and self.env is not None and isinstance(node.value, ast.Name):
            # ``self.handler`` inside ``if isinstance(self.handler, AsyncHandler):``
            narrowed = self.env.get(f"{node.value.id}.{node.attr}")
            if narrowed is not None:
                return narrowed
        return self.attribute(base, node.attr)

    def _object_named(self, name: Global) -> bool:
        """A module-level name that may hold an object of the project's (``hasher`` in
        ``hasher.salt``, a property): named as objects are, not as classes (``User.id``
        reads no property) or constants, and not a module imported whole (``os.sep``)."""
        if not name.name.lstrip("_")[:1].islower():
            return False
        bound = self.summary.globals.get(name.name)
        return not bound or not all(isinstance(value, ImportedModule) for value in bound)

    def attribute(self, base: Expr, name: str) -> Attribute:
        key = (id(base), name)  # the cached record keeps ``base`` alive: ids stay unique
        known = self._attributes.get(key)
        if known is None:
            known = self._attributes[key] = Attribute(base, intern(name))
        return known

    def keyword(self, name: str | None, value: Expr) -> Keyword:
        if not isinstance(value, _SHARED):
            return Keyword(name, value)
        key = (name, id(value))
        known = self._keywords.get(key)
        if known is None:
            known = self._keywords[key] = Keyword(name, value)
        return known

    def e_Call(self, node: ast.Call, awaited: bool) -> Expr:
        func = node.func
        if isinstance(func, ast.Name) and func.id == "super" and not node.args:
            owner = self.function.class_qualname
            return SuperRef(owner) if owner is not None else UNKNOWN
        callee: Expr
        if isinstance(func, ast.Attribute):  # a method, not a read of the attribute
            callee = self.attribute(self.ex(func.value), func.attr)
        else:
            callee = self.ex(func)
        # Only a few calls need their arguments later; the rest keep the count (small
        # summaries are what makes the process pool pay off). Values that may carry a
        # blocking client into a helper are kept: parameters, names and attributes
        # (already built, so they cost nothing more).
        called = _called_name(callee)
        every_argument = called in ARGUMENT_CALLS
        ex = self.ex
        args: list[Expr] = []
        read: list[Expr] = []
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                ex(arg.value)
                args.append(UNKNOWN)
                continue
            value = ex(arg)
            read.append(value)
            kept = every_argument or isinstance(value, _PASSED_ON) or _short_list(value)
            args.append(value if kept else UNKNOWN)
        keywords: list[Keyword] = []
        for keyword in node.keywords:
            value = ex(keyword.value)
            if keyword.arg not in KEYWORDS and not isinstance(value, _PASSED_ON):
                # ``**{"router": r}``: named arguments all the same
                value = value if keyword.arg is None and isinstance(value, DictDisplay) else UNKNOWN
            keywords.append(self.keyword(keyword.arg, value))
        call = Call(callee, node.lineno, node.col_offset, tuple(args), tuple(keywords), awaited)
        self.function.calls.append(call)
        if called == "add_middleware" and args and keywords:
            self.summary.middleware_arguments.append((args[0], tuple(keywords)))
        entered = _STACK_ENTERS.get(called or "")
        if entered is not None and len(read) == 1:
            self.enters(read[0], node, entered)
        grown = func.value if isinstance(func, ast.Attribute) else None
        if called in _GROWING and isinstance(grown, ast.Name) and len(args) == 1:
            # ``routes.append(Route(...))``
            self.grow(grown.id, Items((args[0],)) if called == "append" else args[0])
        if self.branch_path and called in _REGISTERING:
            self.function.branches[(node.lineno, node.col_offset)] = tuple(self.branch_path)
        return call

    def enters(self, value: Expr, node: ast.expr, is_async: bool) -> None:
        """``with Lock():`` calls the value's ``__enter__`` and ``__exit__`` there,
        ``async with`` awaits its ``__aenter__`` and ``__aexit__``: what blocks in a
        context manager of the project blocks where it is entered."""
        names = ("__aenter__", "__aexit__") if is_async else ("__enter__", "__exit__")
        for name in names:
            method = self.attribute(value, name)
            self.function.calls.append(Call(method, node.lineno, node.col_offset, (), (), is_async))

    # Nodes whose value is unknown but whose parts may call something; each reads its
    # parts in field order (the order ``ast.iter_child_nodes`` has, only faster).

    def e_Compare(self, node: ast.Compare, awaited: bool) -> Expr:
        self.ex(node.left)
        for comparator in node.comparators:
            self.ex(comparator)
        return UNKNOWN

    def e_UnaryOp(self, node: ast.UnaryOp, awaited: bool) -> Expr:
        self.ex(node.operand)
        return UNKNOWN

    def e_Dict(self, node: ast.Dict, awaited: bool) -> Expr:
        """Kept for loops over it: ``for prefix, router in ROUTERS.items():``."""
        keys = tuple(self.ex(key) if key is not None else UNKNOWN for key in node.keys)
        return DictDisplay(keys, tuple(self.ex(value) for value in node.values))

    def e_Set(self, node: ast.Set, awaited: bool) -> Expr:
        # its members, as a list's (``frozenset({Kind.SLACK, Kind.NOTION})``)
        return Items(tuple(self.ex(element) for element in node.elts))

    def e_Starred(self, node: ast.Starred, awaited: bool) -> Expr:
        self.ex(node.value)
        return UNKNOWN

    def e_Slice(self, node: ast.Slice, awaited: bool) -> Expr:
        for part in (node.lower, node.upper, node.step):
            if part is not None:
                self.ex(part)
        return UNKNOWN

    def e_Await(self, node: ast.Await, awaited: bool) -> Expr:
        return Await(self.ex(node.value, True))

    def e_JoinedStr(self, node: ast.JoinedStr, awaited: bool) -> Expr:
        """An f-string, kept as its parts: route prefixes are often ``f"{API}/users"``."""
        parts: list[Expr] = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                shown = self.ex(value.value)
                if value.format_spec is not None:
                    self.ex(value.format_spec)
                    shown = UNKNOWN
                parts.append(shown if value.conversion in (-1, ord("s")) else UNKNOWN)
            else:
                parts.append(self.ex(value))
        return FString(tuple(parts))

    def e_Constant(self, node: ast.Constant, awaited: bool) -> Expr:
        value = node.value
        if isinstance(value, str | int | bool) or value is None:
            key = (type(value), value)
            known = self._constants.get(key)
            if known is None:
                known = self._constants[key] = Constant(value)
            return known
        return UNKNOWN

    def e_Subscript(self, node: ast.Subscript, awaited: bool) -> Expr:
        return Subscript(self.ex(node.value), self.ex(node.slice))

    def e_Tuple(self, node: ast.Tuple | ast.List, awaited: bool) -> Expr:
        return Items(tuple(self.ex(element) for element in node.elts))

    e_List = e_Tuple

    def e_BinOp(self, node: ast.BinOp, awaited: bool) -> Expr:
        left, right = self.ex(node.left), self.ex(node.right)
        if isinstance(node.op, ast.BitOr):
            return Either(left, right)
        if isinstance(node.op, ast.Div):
            return Divide(left, right)
        if isinstance(node.op, ast.Add):
            if isinstance(left, Items) or isinstance(right, Items):
                # ``BASE_ROUTERS + [extra.router]``: a loop over it sees the items of both
                return Either(left, right)
            if _is_text(left) or _is_text(right):
                # ``API_PREFIX + "/users"``: read as the f-string it could have been
                return FString((left, right))
            if isinstance(left, _NAMED) and isinstance(right, _NAMED):
                # ``API + VERSION_1``: text when both names hold text (a number is not)
                return FString((left, right))
        return _folded(node.op, left, right)

    def e_IfExp(self, node: ast.IfExp, awaited: bool) -> Expr:
        self.ex(node.test)
        return Either(self.ex(node.body, awaited), self.ex(node.orelse, awaited))

    def e_BoolOp(self, node: ast.BoolOp, awaited: bool) -> Expr:
        values = [self.ex(value) for value in node.values]
        result = values[-1]
        for value in reversed(values[:-1]):
            result = Either(value, result)
        return result

    def e_NamedExpr(self, node: ast.NamedExpr, awaited: bool) -> Expr:
        value = self.ex(node.value, awaited)
        self.assign(node.target, value)
        return value

    def e_Lambda(self, node: ast.Lambda, awaited: bool) -> Expr:
        return UNKNOWN

    def e_Yield(self, node: ast.Yield | ast.YieldFrom, awaited: bool) -> Expr:
        if node.value is not None:
            self.function.yields.append(self.ex(node.value))
        return UNKNOWN

    e_YieldFrom = e_Yield

    def e_ListComp(
        self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp, awaited: bool
    ) -> Expr:
        outer = self.comprehension(node.generators)
        element = self.ex(node.elt)
        self.leave_comprehension(outer)
        # a collection of what the element is, item by item: ``for f in [make(n) for n in
        # names]`` iterates calls of ``make``
        return Items((element,)) if element is not UNKNOWN else UNKNOWN

    e_SetComp = e_ListComp
    e_GeneratorExp = e_ListComp

    def e_DictComp(self, node: ast.DictComp, awaited: bool) -> Expr:
        outer = self.comprehension(node.generators)
        self.ex(node.key)
        self.ex(node.value)
        self.leave_comprehension(outer)
        return UNKNOWN

    def comprehension(self, generators: list[ast.comprehension]) -> dict[str, Expr | None]:
        """Binds each target to the items of its iterable, as a ``for`` loop does; the
        names are the comprehension's own, so what they held outside is returned to be
        put back by ``leave_comprehension``."""
        outer: dict[str, Expr | None] = {}
        for generator in generators:
            iterated = self.ex(generator.iter, bool(generator.is_async))
            self.loop_size(generator.iter, generator.iter)
            if not generator.is_async:
                self.iterates(iterated, generator.iter)
            if self.env is not None:
                for target in ast.walk(generator.target):
                    if isinstance(target, ast.Name) and target.id not in outer:
                        outer[target.id] = self.env.get(target.id)
                self.assign(generator.target, loop_item(iterated))
            for condition in generator.ifs:
                self.ex(condition)
        return outer

    def leave_comprehension(self, outer: dict[str, Expr | None]) -> None:
        if self.env is None:
            return
        for name, value in outer.items():
            if value is None:
                self.env.pop(name, None)
            else:
                self.env[name] = value

    def loop_size(self, iterator: ast.expr, where: ast.expr | ast.stmt) -> None:
        if not (
            isinstance(iterator, ast.Call)
            and isinstance(iterator.func, ast.Name)
            and iterator.func.id == "range"
            and 1 <= len(iterator.args) <= 3
        ):
            return
        bounds = [_constant_int(arg) for arg in iterator.args]
        if any(bound is None for bound in bounds):
            return
        numbers = [bound for bound in bounds if bound is not None]
        start, stop = (0, numbers[0]) if len(numbers) == 1 else (numbers[0], numbers[1])
        step = numbers[2] if len(numbers) == 3 and numbers[2] else 1
        size = (stop - start) // step
        if size >= BIG_LOOP:
            self.function.loops.append(BigLoop(where.lineno, where.col_offset, size))


def _stores_module_state(target: ast.expr, env: dict[str, Expr], declared: set[str]) -> bool:
    """``_client = ...`` after ``global _client``, or ``_CACHE[key] = ...`` and
    ``settings.value = ...`` on a name that is not local, or ``cls._shared = cls()`` in a
    class method (a class lives as long as its module)."""
    if isinstance(target, ast.Name):
        return target.id in declared
    if not isinstance(target, ast.Subscript | ast.Attribute):
        return False
    root = target.value
    while isinstance(root, ast.Subscript | ast.Attribute):
        root = root.value
    return isinstance(root, ast.Name) and (
        root.id in declared or root.id not in env or isinstance(env.get(root.id), ClassRef)
    )


def _rebound(value: Expr, previous: Expr | None) -> Expr:
    """``app = configure(app)`` (or awaited): what the local held is given to the call
    that binds it again (``Rebound``)."""
    call = value.value if isinstance(value, Await) else value
    if previous is None or not isinstance(call, Call):
        return value
    given = [*call.args, *(keyword.value for keyword in call.keywords)]
    if any(argument is previous for argument in given):
        return Rebound(value, previous)
    return value


def stored_name(target: ast.expr) -> str:
    """The name of the state a store fills: ``_client`` (``_client = ...``, also
    ``_CACHE[k] = ...`` for ``_CACHE``), ``x`` for ``self.x = ...`` or ``self.x[k] = ...``."""
    node = target
    while isinstance(node, ast.Subscript | ast.Attribute):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in ("self", "cls")
        ):
            return node.attr
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def _stores_instance_state(target: ast.expr, env: dict[str, Expr]) -> bool:
    """``self._cache[key] = ...`` or ``self._client = ...`` in a method."""
    if not isinstance(target, ast.Subscript | ast.Attribute):
        return False
    root = target.value
    while isinstance(root, ast.Subscript | ast.Attribute):
        root = root.value
    return isinstance(root, ast.Name) and isinstance(env.get(root.id), SelfRef)


def _short_list(expr: Expr) -> bool:
    """A few items passed on (``route("/topics", create, ["POST"])``): methods, names."""
    return isinstance(expr, Items) and len(expr.items) <= _SHORT_LIST


# literal containers and texts: a loop over one calls nothing of a library's
_DISPLAYS = (Items, DictDisplay, Constant, FString, Unknown)
# what a name or an attribute chain reads (``API``, ``constants.VERSION_1``)
_NAMED = (Global, Imported, Attribute, FString)


# builtins whose items are those of their argument, in another order or container
_SAME_ITEMS = frozenset({"sorted", "reversed", "list", "tuple", "set", "frozenset", "iter"})


def loop_item(iterated: Expr) -> Expr:
    """What a loop over ``iterated`` binds: one of its items (``Each``), seen through
    ``sorted(x)`` and its kin, ``enumerate(x)`` (a count, then an item of ``x``) and
    ``zip(a, b)`` (an item of each)."""
    if iterated is UNKNOWN:
        return UNKNOWN
    if isinstance(iterated, Call) and isinstance(iterated.func, Global) and iterated.args:
        name, first = iterated.func.name, iterated.args[0]
        if name in _SAME_ITEMS and len(iterated.args) == 1:  # ``sorted(x, key=...)``
            return loop_item(first)
        if name == "enumerate":
            return Items((UNKNOWN, loop_item(first)))
        if name == "zip" and not iterated.keywords:
            return Items(tuple(loop_item(each) for each in iterated.args))
    return Each(iterated)


def _is_text(expr: Expr) -> bool:
    return isinstance(expr, FString) or (isinstance(expr, Constant) and isinstance(expr.value, str))


def _called_name(callee: Expr) -> str:
    if isinstance(callee, Attribute | Global):
        return callee.name
    if isinstance(callee, Imported | ImportedModule):
        return callee.dotted.rpartition(".")[2]
    return ""


def _constant_int(node: ast.expr) -> int | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult | ast.Pow):
        left, right = _constant_int(node.left), _constant_int(node.right)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Pow):
            return left**right if 0 <= right <= 64 else None
        return left * right
    return None


ExpressionReader.expression = node_handlers(ExpressionReader, "e_")


def _folded(op: ast.operator, left: Expr, right: Expr) -> Expr:
    """Arithmetic on two numbers written in the code (``3600 * 24``): the number, so a
    call passing it compares as the constant it is; anything else is not followed."""
    if not (isinstance(left, Constant) and isinstance(right, Constant)):
        return UNKNOWN
    a, b = left.value, right.value
    if (
        not isinstance(a, int)
        or not isinstance(b, int)
        or isinstance(a, bool)
        or isinstance(b, bool)
    ):
        return UNKNOWN
    if isinstance(op, ast.Mult):
        return Constant(a * b)
    if isinstance(op, ast.Add):
        return Constant(a + b)
    if isinstance(op, ast.Sub):
        return Constant(a - b)
    return UNKNOWN
