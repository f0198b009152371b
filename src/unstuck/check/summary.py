"""One pass over a module's AST that keeps only what the global analysis needs.

The walk follows statements in order with an environment of local names, so a
local variable stands for the expression last assigned to it (``s = requests.Session()``
then ``s.get(...)`` is recorded as a call of ``requests.Session().get``). Calls inside
a lambda are not calls of the enclosing function: the lambda runs wherever it is
passed (typically a thread pool). Nested ``def`` bodies are their own functions.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
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
from unstuck.check.parsing import parse_source

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
        "mount",
        "api_route",
        "websocket",
        *("get", "post", "put", "patch", "delete", "head", "options", "trace"),
    }
)
# Keyword arguments whose values the analysis reads (the rest keep only their name).
KEYWORDS = frozenset(
    {"class_", "prefix", "dependencies", "methods", "path", "endpoint", "router", "app"}
    | {"dependency", "timeout"}
)
_PROPERTY_OWNERS = frozenset({"self", "p", "c"})
# Constants are kept too (a flag such as ``wait=False`` can make a call return at once),
# and calls: ``include_routers(APIRouter())`` passes a router built in place.
_PASSED_ON = frozenset({"p", "self", "g", "a", "enter", "ann", "imp", "k", "c"})

_SUPPRESSION = re.compile(
    r"#\s*(?:noqa(?::\s*(?P<noqa>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?"
    r"|unstuck:\s*ignore(?:\[(?P<ignore>[^\]]*)\])?)"
)


def summarize_file(path: str, module: str, is_package: bool) -> ModuleSummary | str:
    """Summary of the file, or the reason it cannot be analyzed."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
        # PEP 263: a coding cookie may name another encoding than UTF-8
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
        text = raw.decode(encoding)
    except (OSError, UnicodeDecodeError, SyntaxError, LookupError) as exc:
        return f"cannot be read: {exc}"
    parsed = parse_source(text, path)
    if parsed.tree is None:
        return parsed.note or "cannot be parsed"
    summary = ModuleSummary(module, path, is_package)
    summary.syntax_note = parsed.note
    try:
        _Walker(summary).walk_module(parsed.tree)
    except RecursionError:
        return "cannot be analyzed: expressions nested too deeply"
    except Exception as exc:  # one odd file must not stop the whole run
        return f"cannot be analyzed ({type(exc).__name__}: {exc}); please report this file"
    if "noqa" in text or "unstuck:" in text:
        summary.suppressions = _suppressions(text)
    return summary


def _suppressions(text: str) -> dict[int, frozenset[str] | None]:
    found: dict[int, frozenset[str] | None] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if "#" not in line:
            continue
        match = _SUPPRESSION.search(line)
        if match is None:
            continue
        codes = match.group("noqa") or match.group("ignore")
        found[number] = frozenset(re.findall(r"[A-Z]+[0-9]+", codes)) if codes else None
    return found


def _module_package(summary: ModuleSummary) -> str:
    if summary.is_package:
        return summary.name
    return summary.name.rpartition(".")[0]


class _Walker:
    def __init__(self, summary: ModuleSummary) -> None:
        self.summary = summary
        self.package = _module_package(summary)
        self.function = FunctionSummary(MODULE_BODY, 1, 0, False, None, [], [], None)
        summary.functions[MODULE_BODY] = self.function
        self.env: dict[str, Expr] | None = None
        self.klass: ClassSummary | None = None
        self.scope = ""  # qualname prefix
        self.statement: dict[type[ast.AST], Callable[[ast.AST], None]] = {}
        self.expression: dict[type[ast.AST], Callable[[ast.AST, bool], Expr]] = {}
        for name in dir(self):
            node_type = getattr(ast, name[2:], None)  # None: a node of a newer Python
            if node_type is None:
                continue
            if name.startswith("s_"):
                self.statement[node_type] = getattr(self, name)
            elif name.startswith("e_"):
                self.expression[node_type] = getattr(self, name)

    # -- scopes ---------------------------------------------------------------

    def walk_module(self, tree: ast.Module) -> None:
        self.body(tree.body)

    def body(self, statements: list[ast.stmt]) -> None:
        table = self.statement
        for node in statements:
            handler = table.get(type(node))
            if handler is not None:
                handler(node)

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
                self.assign(element, items[index] if items is not None else UNKNOWN)
        elif isinstance(target, ast.Starred):
            self.assign(target.value, UNKNOWN)
        elif isinstance(target, ast.Subscript):
            self.ex(target)

    # -- statements -------------------------------------------------------------

    def s_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.function_def(node, is_async=False)

    def s_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self.function_def(node, is_async=True)

    def function_def(self, node: ast.FunctionDef | ast.AsyncFunctionDef, is_async: bool) -> None:
        qualname = self.scope + node.name
        decorators = [self.ex(decorator) for decorator in node.decorator_list]
        decorator_names = {
            d.id if isinstance(d, ast.Name) else d.attr if isinstance(d, ast.Attribute) else ""
            for d in node.decorator_list
        }
        arguments = node.args
        positional = [*arguments.posonlyargs, *arguments.args]
        defaults: list[ast.expr | None] = [None] * (len(positional) - len(arguments.defaults))
        defaults.extend(arguments.defaults)
        pairs: list[tuple[ast.arg, ast.expr | None]] = list(zip(positional, defaults, strict=True))
        if arguments.vararg is not None:
            pairs.append((arguments.vararg, None))
        pairs.extend(zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True))
        if arguments.kwarg is not None:
            pairs.append((arguments.kwarg, None))
        params = [
            (
                arg.arg,
                self.annotation(arg.annotation) if arg.annotation is not None else None,
                self.ex(default) if default is not None else None,
            )
            for arg, default in pairs
        ]
        function = FunctionSummary(
            qualname,
            node.lineno,
            node.col_offset,
            is_async,
            self.klass.qualname if self.klass is not None else None,
            decorators,
            params,
            self.annotation(node.returns) if node.returns is not None else None,
        )
        self.summary.functions[qualname] = function
        if self.klass is not None:
            self.klass.methods[node.name] = qualname
        self.bind(node.name, ("fn", qualname))

        env: dict[str, Expr] = dict(self.env) if self.env is not None else {}
        for index, (name, annotation, default) in enumerate(params):
            if index == 0 and self.klass is not None and "staticmethod" not in decorator_names:
                is_class = "classmethod" in decorator_names
                env[name] = ("class" if is_class else "self", self.klass.qualname)
            else:
                env[name] = ("p", qualname, name, annotation, default)
        saved = (self.function, self.env, self.klass, self.scope)
        self.function, self.env, self.klass = function, env, None
        self.scope = qualname + ".<locals>."
        self.body(node.body)
        self.function, self.env, self.klass, self.scope = saved

    def s_ClassDef(self, node: ast.ClassDef) -> None:
        qualname = self.scope + node.name
        for decorator in node.decorator_list:
            self.ex(decorator)
        klass = ClassSummary(qualname, node.lineno, [self.ex(base) for base in node.bases])
        self.summary.classes[qualname] = klass
        self.bind(node.name, ("class", qualname))
        saved = (self.env, self.klass, self.scope)
        self.env, self.klass, self.scope = None, klass, qualname + "."
        self.body(node.body)
        self.env, self.klass, self.scope = saved

    def s_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.bind(alias.asname, ("mod", alias.name))
            else:
                top = alias.name.partition(".")[0]
                self.bind(top, ("mod", top))

    def s_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            parts = self.package.split(".") if self.package else []
            base = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
            module = ".".join([*base, node.module] if node.module else base)
        else:
            module = node.module or ""
        for alias in node.names:
            if alias.name == "*":
                if self.env is None and self.klass is None:
                    self.summary.star_imports.append(module)
                continue
            self.bind(alias.asname or alias.name, ("imp", f"{module}.{alias.name}"))

    def s_Assign(self, node: ast.Assign) -> None:
        value = self.ex(node.value)
        for target in node.targets:
            self.assign(target, value)

    def s_AnnAssign(self, node: ast.AnnAssign) -> None:
        annotation = self.annotation(node.annotation)
        value = self.ex(node.value) if node.value is not None else None
        if value is not None and self.env is not None and value != UNKNOWN:
            # ``store: object = S3Store()``: a loose annotation must not hide the value
            self.assign(node.target, ("or", ("ann", annotation), value))
            return
        self.assign(node.target, ("ann", annotation))
        if value is not None and self.env is None and isinstance(node.target, ast.Name):
            # module and class level: keep the value too, it may be a router, an alias or
            # a settings default such as ``API_PREFIX: str = "/api/v1"``
            self.bind(node.target.id, value)

    def s_AugAssign(self, node: ast.AugAssign) -> None:
        self.ex(node.value)

    def s_TypeAlias(self, node: ast.AST) -> None:  # pragma: no cover - Python 3.12+
        name = getattr(node, "name", None)
        value = getattr(node, "value", None)
        if isinstance(name, ast.Name) and isinstance(value, ast.expr):
            self.bind(name.id, self.ex(value))

    def s_Expr(self, node: ast.Expr) -> None:
        self.ex(node.value)

    def s_Return(self, node: ast.Return) -> None:
        if node.value is not None:
            self.function.returns.append(self.ex(node.value))

    def s_Raise(self, node: ast.Raise) -> None:
        if node.exc is not None:
            self.ex(node.exc)

    def s_Assert(self, node: ast.Assert) -> None:
        self.ex(node.test)

    def s_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self.ex(target)

    def branches(self, bodies: list[list[ast.stmt]], fallthrough: bool) -> None:
        """Walk alternative blocks; afterwards a local may hold what any of them bound.

        ``if s3: store = S3() else: store = Local()`` leaves ``store`` as either, and
        ``fallthrough`` keeps the value from before when no block may run.
        """
        before = self.env
        if before is None:
            for statements in bodies:
                self.body(statements)
            return
        outcomes: list[dict[str, Expr]] = []
        for statements in bodies:
            self.env = dict(before)
            self.body(statements)
            outcomes.append(self.env)
        if fallthrough:
            outcomes.append(before)
        merged: dict[str, Expr] = {}
        for outcome in outcomes:
            for name, value in outcome.items():
                known = merged.get(name)
                if known is None:
                    merged[name] = value
                elif known is not value and not _holds(known, value):
                    merged[name] = ("or", known, value)
        self.env = merged

    def s_If(self, node: ast.If) -> None:
        self.ex(node.test)
        self.branches([node.body, node.orelse], False)

    def s_While(self, node: ast.While) -> None:
        self.ex(node.test)
        self.body(node.body)
        self.body(node.orelse)

    def s_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.ex(node.iter, isinstance(node, ast.AsyncFor))
        self.loop_size(node.iter, node)
        self.assign(node.target, UNKNOWN)
        self.body(node.body)
        self.body(node.orelse)

    s_AsyncFor = s_For

    def s_With(self, node: ast.With | ast.AsyncWith) -> None:
        is_async = isinstance(node, ast.AsyncWith)
        for item in node.items:
            value = self.ex(item.context_expr, is_async)
            if item.optional_vars is not None:
                self.assign(item.optional_vars, ("enter", value))
        self.body(node.body)

    s_AsyncWith = s_With

    def s_Try(self, node: ast.Try) -> None:
        self.body(node.body)
        for handler in node.handlers:
            if handler.type is not None:
                self.ex(handler.type)
            if handler.name and self.env is not None:
                self.env[handler.name] = UNKNOWN
            self.body(handler.body)
        self.body(node.orelse)
        self.body(node.finalbody)

    s_TryStar = s_Try

    def s_Match(self, node: ast.Match) -> None:
        self.ex(node.subject)
        for case in node.cases:
            if case.guard is not None:
                self.ex(case.guard)
        self.branches([case.body for case in node.cases], True)

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

    def e_BinOp(self, node: ast.BinOp, awaited: bool) -> Expr:
        left, right = self.ex(node.left), self.ex(node.right)
        if isinstance(node.op, ast.BitOr):
            return ("or", left, right)
        if isinstance(node.op, ast.Div):
            return ("div", left, right)
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


def _holds(merged: Expr, value: Expr) -> bool:
    """Whether a merged alternative already includes ``value`` (the same object)."""
    while merged[0] == "or":
        if merged[2] is value:
            return True
        merged = merged[1]
    return merged is value
