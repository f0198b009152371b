"""How one expression of a module becomes an ``Expr``, against the local names in scope.

``ExpressionReader`` keeps the environment of local names (a local stands for the
expression last assigned to it) and turns each expression into the small tuples of
``model.Expr``, recording calls, watched attribute reads and big ``range`` loops on the
function being walked. Only the arguments the analysis reads later are kept (see
``ARGUMENT_CALLS``): small summaries are what makes the process pool pay off. A lambda
is ``UNKNOWN``: it runs wherever it is passed, not in the enclosing function.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from sys import intern

from unstuck.check.model import (
    MODULE_BODY,
    UNKNOWN,
    ClassSummary,
    Expr,
    FunctionSummary,
    ModuleSummary,
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
        "add_api_route",
        "add_api_websocket_route",
        "add_route",
        "add_websocket_route",
        "mount",
        "api_route",
        "websocket",
        *("get", "post", "put", "patch", "delete", "head", "options", "trace"),
    }
)
# Keyword arguments whose values the analysis reads (the rest keep only their name).
KEYWORDS = frozenset(
    {"class_", "prefix", "dependencies", "methods", "path", "endpoint", "router", "app", "route"}
    | {"dependency", "timeout"}
)
_PROPERTY_OWNERS = frozenset({"self", "p", "c"})
# Calls that attach routes: which if/match block each is in tells alternatives apart.
_REGISTERING = frozenset(
    {
        *("include_router", "mount", "host"),
        *("add_api_route", "add_api_websocket_route", "add_route", "add_websocket_route"),
    }
)
# Constants are kept too (a flag such as ``wait=False`` can make a call return at once),
# and calls: ``include_routers(APIRouter())`` passes a router built in place.
# Functions and loop items too: ``app.get("/")(handler)``, ``register(router)`` in a loop,
# and a name that holds one of several values (``app = app or FastAPI()``).
_PASSED_ON = frozenset(
    {"p", "self", "g", "a", "enter", "ann", "imp", "k", "c", "fn", "each", "at", "or", "fs"}
)


class ExpressionReader:
    def __init__(self, summary: ModuleSummary) -> None:
        self.summary = summary
        self.function = FunctionSummary(MODULE_BODY, 1, 0, False, None, [], [], None)
        summary.functions[MODULE_BODY] = self.function
        self.env: dict[str, Expr] | None = None
        self.klass: ClassSummary | None = None
        # the if/match blocks the walk is in: (statement line, block index), outermost first
        self.branch_path: list[tuple[int, int]] = []
        self.expression: dict[type[ast.AST], Callable[[ast.AST, bool], Expr]] = {}
        for name in dir(self):
            if not name.startswith("e_"):
                continue
            node_type = getattr(ast, name[2:], None)  # None: a node of a newer Python
            if node_type is not None:
                self.expression[node_type] = getattr(self, name)

    # -- bindings -------------------------------------------------------------

    def bind(self, name: str, value: Expr) -> None:
        if self.env is not None:
            self.env[name] = value
        elif self.klass is not None:
            self.klass.attributes.setdefault(name, []).append(value)
        else:
            self.summary.globals.setdefault(name, []).append(value)

    def assign(self, target: ast.expr, value: Expr) -> None:
        if isinstance(target, ast.Name):
            self.bind(target.id, value)
        elif isinstance(target, ast.Attribute):
            owner = self.ex(target.value)
            if owner[0] == "self" and self.env is not None:
                klass = self.summary.classes.get(owner[1])
                if klass is not None:
                    klass.attributes.setdefault(target.attr, []).append(value)
        elif isinstance(target, ast.Tuple | ast.List):
            items = value[1] if value[0] == "l" and len(value[1]) == len(target.elts) else None
            for index, element in enumerate(target.elts):
                if value[0] == "each":  # ``for prefix, router in ROUTERS:``
                    self.assign(element, ("at", value, index))
                else:
                    self.assign(element, items[index] if items is not None else UNKNOWN)
        elif isinstance(target, ast.Starred):
            self.assign(target.value, UNKNOWN)
        elif isinstance(target, ast.Subscript):
            self.ex(target)

    # -- expressions ------------------------------------------------------------

    def ex(self, node: ast.expr, awaited: bool = False) -> Expr:
        if type(node) is ast.Name:  # the most common node, inlined
            env = self.env
            if env is not None:
                value = env.get(node.id)
                if value is not None:
                    return value
            return ("g", intern(node.id))
        handler = self.expression.get(type(node))
        if handler is not None:
            return handler(node, awaited)
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

    def e_Name(self, node: ast.Name, awaited: bool) -> Expr:
        env = self.env
        if env is not None:
            value = env.get(node.id)
            if value is not None:
                return value
        return ("g", intern(node.id))

    def e_Attribute(self, node: ast.Attribute, awaited: bool) -> Expr:
        base = self.ex(node.value)
        # Reads that may run code: library properties (Celery's AsyncResult.state) and
        # properties of the project's own objects (``self.client``, ``service.data``).
        if node.attr in WATCHED_ATTRIBUTES or base[0] in _PROPERTY_OWNERS:
            self.function.attribute_reads.append((node.lineno, node.col_offset, base, node.attr))
        return ("a", base, intern(node.attr))

    def e_Call(self, node: ast.Call, awaited: bool) -> Expr:
        func = node.func
        if isinstance(func, ast.Name) and func.id == "super" and not node.args:
            owner = self.function.class_qualname
            return ("super", owner) if owner is not None else UNKNOWN
        callee: Expr
        if isinstance(func, ast.Attribute):  # a method, not a read of the attribute
            callee = ("a", self.ex(func.value), intern(func.attr))
        else:
            callee = self.ex(func)
        args = tuple(
            self.ex(arg) if not isinstance(arg, ast.Starred) else self.starred(arg)
            for arg in node.args
        )
        # Only a few calls need their arguments later; the rest keep the count (small
        # summaries are what makes the process pool pay off).
        kind = callee[0]
        name = (
            callee[2]
            if kind == "a"
            else callee[1]
            if kind == "g"
            else callee[1].rpartition(".")[2]
            if kind in ("imp", "mod")
            else ""
        )
        if name not in ARGUMENT_CALLS:
            # Values that may carry a blocking client into a helper are kept: parameters,
            # names and attributes (already built, so they cost nothing more).
            args = tuple(arg if arg[0] in _PASSED_ON else UNKNOWN for arg in args)
        kwargs = tuple(
            (keyword.arg, value if keyword.arg in KEYWORDS or value[0] in _PASSED_ON else UNKNOWN)
            for keyword in node.keywords
            for value in (self.ex(keyword.value),)
        )
        call = ("c", callee, node.lineno, node.col_offset, args, kwargs)
        self.function.calls.append((call, awaited))
        if self.branch_path and name in _REGISTERING:
            self.function.branches[(node.lineno, node.col_offset)] = tuple(self.branch_path)
        return call

    def starred(self, node: ast.Starred) -> Expr:
        self.ex(node.value)
        return UNKNOWN

    def e_Await(self, node: ast.Await, awaited: bool) -> Expr:
        return ("aw", self.ex(node.value, True))

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
        return ("fs", tuple(parts))

    def e_Constant(self, node: ast.Constant, awaited: bool) -> Expr:
        value = node.value
        if isinstance(value, str | int | bool) or value is None:
            return ("k", value)
        return UNKNOWN

    def e_Subscript(self, node: ast.Subscript, awaited: bool) -> Expr:
        return ("sub", self.ex(node.value), self.ex(node.slice))

    def e_Tuple(self, node: ast.Tuple | ast.List, awaited: bool) -> Expr:
        return ("l", tuple(self.ex(element) for element in node.elts))

    e_List = e_Tuple

    def e_Dict(self, node: ast.Dict, awaited: bool) -> Expr:
        """Kept for loops over it: ``for prefix, router in ROUTERS.items():``."""
        keys = tuple(self.ex(key) if key is not None else UNKNOWN for key in node.keys)
        return ("dict", keys, tuple(self.ex(value) for value in node.values))

    def e_BinOp(self, node: ast.BinOp, awaited: bool) -> Expr:
        left, right = self.ex(node.left), self.ex(node.right)
        if isinstance(node.op, ast.BitOr):
            return ("or", left, right)
        if isinstance(node.op, ast.Div):
            return ("div", left, right)
        if isinstance(node.op, ast.Add) and "l" in (left[0], right[0]):
            # ``BASE_ROUTERS + [extra.router]``: a loop over it sees the items of both
            return ("or", left, right)
        return UNKNOWN

    def e_IfExp(self, node: ast.IfExp, awaited: bool) -> Expr:
        self.ex(node.test)
        return ("or", self.ex(node.body, awaited), self.ex(node.orelse, awaited))

    def e_BoolOp(self, node: ast.BoolOp, awaited: bool) -> Expr:
        values = [self.ex(value) for value in node.values]
        result = values[-1]
        for value in reversed(values[:-1]):
            result = ("or", value, result)
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
        self.comprehension(node.generators)
        self.ex(node.elt)
        return UNKNOWN

    e_SetComp = e_ListComp
    e_GeneratorExp = e_ListComp

    def e_DictComp(self, node: ast.DictComp, awaited: bool) -> Expr:
        self.comprehension(node.generators)
        self.ex(node.key)
        self.ex(node.value)
        return UNKNOWN

    def comprehension(self, generators: list[ast.comprehension]) -> None:
        for generator in generators:
            self.ex(generator.iter, bool(generator.is_async))
            self.loop_size(generator.iter, generator.iter)
            if self.env is not None:
                self.assign(generator.target, UNKNOWN)
            for condition in generator.ifs:
                self.ex(condition)

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
            self.function.loops.append((where.lineno, where.col_offset, size))


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
