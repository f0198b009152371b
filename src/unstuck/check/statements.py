"""The walk over a module's statements, in order, that fills its ``ModuleSummary``.

``ModuleWalker`` dispatches each statement to an ``s_<node>`` handler and reads
expressions through ``ExpressionReader``. ``def`` and ``class`` open their own scope
(nested ``def`` bodies are their own functions); imports bind names to the modules or
objects they import; alternative blocks (``if``/``match``) merge what they bind, so a
local may afterwards hold what any branch assigned.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from unstuck.check.expressions import ExpressionReader, loop_item, node_handlers, stored_name
from unstuck.check.filled import filled_blocks
from unstuck.check.model import (
    FRESH_WHEN_TRUE,
    STALE_WHEN_TRUE,
    UNKNOWN,
    Attribute,
    Await,
    Call,
    ClassRef,
    ClassSummary,
    ClockGuard,
    Constant,
    Declared,
    Either,
    Entered,
    ExcludedBlock,
    Expr,
    FlagBlock,
    FunctionRef,
    FunctionSummary,
    Global,
    Imported,
    ImportedModule,
    Lines,
    ModuleSummary,
    Narrowed,
    Ordered,
    Param,
    ReadyBlock,
    SelfRef,
    Signature,
    Subscript,
    Truthy,
    Typed,
)
from unstuck.check.overrides import path_variants


def _module_package(summary: ModuleSummary) -> str:
    if summary.is_package:
        return summary.name
    return summary.name.rpartition(".")[0]


@dataclass(frozen=True, slots=True)
class _PendingFill:
    """A block that tests state unset and calls functions of the module (``_fills``)."""

    function: FunctionSummary
    first: int
    last: int
    calls: tuple[Call, ...]
    tested: frozenset[str]  # the names of the state tested: ``_client``, ``_store``


@dataclass(frozen=True, slots=True)
class _Filler:
    """What a function stores: names of module state, names of attributes of ``self``."""

    module: frozenset[str]
    instance: frozenset[str]


class ModuleWalker(ExpressionReader):
    # s_<node> methods by node type (filled in below the class)
    statement: ClassVar[dict[type[ast.AST], Callable[[Any, Any], None]]] = {}

    def __init__(self, summary: ModuleSummary) -> None:
        super().__init__(summary)
        self.package = _module_package(summary)
        self.scope = ""  # qualname prefix
        # ``if <local>:`` tests in the function being walked (``tested_local``)
        self.tested_locals: list[tuple[str, int, int, int]] = []
        # functions by qualname: what they store into module state, into ``self``
        self.fillers: dict[str, _Filler] = {}
        # blocks that would fill state once if what they call stores it (``_fills``)
        self.pending_fills: list[_PendingFill] = []
        # the statements the one being walked is part of
        self.current_block: list[ast.stmt] = []
        # locals of the function being walked that hold a test (``held_test``)
        self.held_tests: dict[str, ast.expr] = {}
        # its locals that hold the time now, by the sign it has in them (``elapsed =
        # time.time() - start``: +1), and what its returns say of the time
        # (``tests_clock``)
        self.clock_locals: dict[str, int] = {}
        self.clock_returns = _ClockReturns()

    # -- scopes ---------------------------------------------------------------

    def walk_module(self, tree: ast.Module) -> None:
        self.body(tree.body)
        self._fills()

    def _fills(self) -> None:
        """``if _engine is None: _init_engine()`` where ``_init_engine`` sets the global,
        and ``if self._store is None: self._configure()`` where ``_configure`` sets the
        attribute: a block that fills state through a helper of the module fills it
        once, as one that stores it itself does."""
        for pending in self.pending_fills:
            for call in pending.calls:
                func = call.func
                if isinstance(func, Global | FunctionRef):
                    name = func.name if isinstance(func, Global) else func.function
                elif isinstance(func, Attribute) and isinstance(func.base, SelfRef | ClassRef):
                    name = f"{func.base.klass}.{func.name}"
                elif isinstance(func, Attribute) and isinstance(func.base, Global):
                    name = f"{func.base.name}.{func.name}"  # ``Pool.put(key, engine)``
                else:
                    continue
                filler = self.fillers.get(name)
                if filler is None:
                    continue
                lines = Lines(pending.first, pending.last)
                # the helper fills what the test asked about, not some other state
                if filler.module & pending.tested:
                    pending.function.once_blocks.append(lines)
                    break
                if filler.instance & pending.tested:
                    pending.function.instance_once_blocks.append(lines)
                    break

    def body(self, statements: list[ast.stmt]) -> None:
        table = self.statement
        outer, self.current_block = self.current_block, statements
        for node in statements:
            handler = table.get(type(node))
            if handler is not None:
                handler(self, node)
        self.current_block = outer

    # -- statements -------------------------------------------------------------

    def s_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.function_def(node, is_async=False)

    def s_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self.function_def(node, is_async=True)

    def function_def(self, node: ast.FunctionDef | ast.AsyncFunctionDef, is_async: bool) -> None:
        qualname = self.scope + node.name
        if qualname in self.summary.functions:
            # defined again in the same scope (``async def _`` for each route, or one
            # definition per branch): each keeps its own summary
            qualname = f"{qualname}@{node.lineno}"
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
            Param(
                qualname,
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
        function.signature = _signature(arguments)
        if self.klass is not None:
            self.klass.methods[node.name] = qualname
            function.stub = "abstractmethod" in decorator_names or _is_stub(node.body)
            function.path_variants = path_variants(node)
        self.bind(node.name, FunctionRef(qualname))

        env: dict[str, Expr] = dict(self.env) if self.env is not None else {}
        for index, param in enumerate(params):
            if index == 0 and self.klass is not None and "staticmethod" not in decorator_names:
                is_class = "classmethod" in decorator_names
                owner = self.klass.qualname
                env[param.name] = ClassRef(owner) if is_class else SelfRef(owner)
            else:
                env[param.name] = param
        saved = (self.function, self.env, self.klass, self.scope, self.branch_path)
        saved_globals = (
            self.declared_globals,
            self.global_stores,
            self.instance_stores,
            self.stored_names,
        )
        saved_closure = self.closure_names
        # the enclosing function's names, if it is not a coroutine (one may run per
        # request: what it makes does not outlive the request)
        enclosing = saved[0]
        closure = set(saved[1]) if saved[1] is not None and saved[2] is None else set()
        if enclosing is not None and enclosing.is_async:
            closure = set()
        self.closure_names = closure - {param.name for param in params}
        self.function, self.env, self.klass = function, env, None
        self.declared_globals, self.global_stores, self.instance_stores = set(), [], []
        self.stored_names = set()
        self.scope, self.branch_path = qualname + ".<locals>.", []
        saved_tested, self.tested_locals = self.tested_locals, []
        saved_held, self.held_tests = self.held_tests, {}
        saved_clock = self.clock_locals, self.clock_returns
        self.clock_locals, self.clock_returns = {}, _ClockReturns()
        self.body(node.body)
        function.tests_clock = self.clock_returns.verdict()
        self.clock_locals, self.clock_returns = saved_clock
        self.flag_after_early_return(node.body)
        self.no_loop_after_refusal(node.body)
        self.once_after_early_return(node.body)
        self.fillers[qualname] = _Filler(
            frozenset(self.stored_names) if self.global_stores else frozenset(),
            frozenset(self.stored_names) if self.instance_stores else frozenset(),
        )
        if self.tested_locals and function.flag_blocks:  # only a flag can leave it empty
            function.filled_blocks = filled_blocks(node, self.tested_locals)
        self.tested_locals = saved_tested
        self.held_tests = saved_held
        self.function, self.env, self.klass, self.scope, self.branch_path = saved
        (
            self.declared_globals,
            self.global_stores,
            self.instance_stores,
            self.stored_names,
        ) = saved_globals
        self.closure_names = saved_closure

    def once_after_early_return(self, statements: list[ast.stmt]) -> None:
        """``if _client is not None: return _client`` then ``_client = make()``: what
        follows the early return runs once, when it stores into module state."""
        for index, statement in enumerate(statements[:-1]):
            node = statement
            if isinstance(node, ast.Try) and len(node.body) == 1 and not node.finalbody:
                # ``try: if key in CACHE: return CACHE[key]`` ``except KeyError: pass``
                node = node.body[0]
            if not (
                isinstance(node, ast.If)
                and not node.orelse
                and isinstance(node.body[-1], ast.Return)
                and _tests_kept(node.test)
            ):
                continue
            first, last = statements[index + 1].lineno, _last_line(statements[-1])
            if not self.fills_once(first, last, self.global_stores, self.instance_stores):
                self.fill_through_calls(first, last, 0, node.test)
            return

    def flag_blocks(self, node: ast.If) -> None:
        """``if process:`` on a parameter: the body runs only when it is true, the
        ``else`` only when it is false (a caller may pass a constant). The same for a
        comparison with constants: ``if to == Target.DISK or to == Target.BOTH:``,
        ``if to in (...)``, ``if fmt != "csv":``."""
        blocks = self.function.flag_blocks
        first, last = node.body[0].lineno, _last_line(node.body[-1])
        attribute_blocks = self.function.attribute_blocks
        tested = self._attribute_test(node.test)
        if tested is not None:
            name, when, values = tested
            attribute_blocks.append(FlagBlock(name, when, first, last, values, ()))
            if node.orelse:
                first, last = node.orelse[0].lineno, _last_line(node.orelse[-1])
                attribute_blocks.append(FlagBlock(name, not when, first, last, values, ()))
            return
        if isinstance(node.test, ast.BoolOp) and isinstance(node.test.op, ast.And):
            # ``if self._persistent and self._data_dir:``: off when any part is
            for value in node.test.values:
                part = self._attribute_test(value)
                if part is not None:
                    name, when, values = part
                    attribute_blocks.append(FlagBlock(name, when, first, last, values, ()))
        flag = self._flag_test(node.test)
        if flag is None:
            # ``if sync or wait:`` runs when either is true: off when both are off; its
            # ``else`` runs when both are false: off when either is on (``and`` the other
            # way round)
            test = node.test
            if not isinstance(test, ast.BoolOp):
                return
            parts = [self._flag_test(value) for value in test.values]
            flags = [part for part in parts if part is not None]
            every = len(flags) == len(parts)
            is_or = isinstance(test.op, ast.Or)
            blocks.extend(_joined_flags(flags, not is_or, every, first, last, True))
            if node.orelse:
                first, last = node.orelse[0].lineno, _last_line(node.orelse[-1])
                blocks.extend(_joined_flags(flags, is_or, every, first, last, False))
            return
        name, when, values = flag
        blocks.append(FlagBlock(name, when, first, last, values, ()))
        if node.orelse:
            first, last = node.orelse[0].lineno, _last_line(node.orelse[-1])
            blocks.append(FlagBlock(name, not when, first, last, values, ()))

    def tested_local(self, node: ast.If) -> None:
        """``if pushed:`` (or the ``else`` of ``if not pushed:``) on a local of the
        function: the block that runs once it holds something (see ``filled``)."""
        test, block = node.test, node.body
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            test, block = test.operand, node.orelse
        if not (block and isinstance(test, ast.Name) and self.env is not None):
            return
        if isinstance(self.env.get(test.id), Param):
            return  # a parameter: a flag (``flag_blocks``)
        first, last = block[0].lineno, _last_line(block[-1])
        self.tested_locals.append((test.id, node.lineno, first, last))

    def ready_blocks(self, node: ast.If | ast.While) -> None:
        """``if not queue.empty(): queue.get()``: the block where the queue holds an
        item (the ``else`` of ``if queue.empty():``)."""
        test, holds = node.test, node.body
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            test = test.operand
        elif isinstance(node, ast.If):
            holds = node.orelse
        else:
            return
        if not (
            holds
            and isinstance(test, ast.Call)
            and not test.args
            and isinstance(test.func, ast.Attribute)
            and test.func.attr == "empty"
            and _plain_reference(test.func.value)
        ):
            return
        queue = self.ex(test.func.value)
        first, last = holds[0].lineno, _last_line(holds[-1])
        self.function.ready_blocks.append(ReadyBlock(queue, first, last))

    def no_loop_after_refusal(self, statements: list[ast.stmt]) -> None:
        """``try: asyncio.get_running_loop()`` whose ``else`` raises (or returns): with a
        loop running the function stops there, so what follows the ``try`` only runs
        when no loop is running (a sync bridge that refuses to be called from one)."""
        for index, node in enumerate(statements[:-1]):
            if (
                isinstance(node, ast.Try)
                and node.orelse
                and isinstance(node.orelse[-1], ast.Raise | ast.Return)
                and _asks_for_loop(node)
            ):
                first, last = statements[index + 1].lineno, _last_line(statements[-1])
                self.function.no_loop_blocks.append(Lines(first, last))
                return

    def flag_after_early_return(self, statements: list[ast.stmt]) -> None:
        """``if allow_cache: return cached()`` then ``return load()``: what follows an
        ``if`` on a parameter that always returns (or raises) runs only when the test
        fails, as its ``else`` would."""
        for index, statement in enumerate(statements[:-1]):
            node = statement
            if isinstance(node, ast.Try) and len(node.body) == 1 and not node.finalbody:
                # ``try: if key in CACHE: return CACHE[key]`` ``except KeyError: pass``
                node = node.body[0]
            if not (
                isinstance(node, ast.If)
                and not node.orelse
                and isinstance(node.body[-1], ast.Return | ast.Raise)
            ):
                continue
            first, last = statements[index + 1].lineno, _last_line(statements[-1])
            flag = self._flag_test(node.test)
            if flag is not None:
                name, when, values = flag
                block = FlagBlock(name, not when, first, last, values, ())
                self.function.flag_blocks.append(block)
            tested = self._attribute_test(node.test)
            if tested is not None:
                name, when, values = tested
                block = FlagBlock(name, not when, first, last, values, ())
                self.function.attribute_blocks.append(block)

    def excluded_after_early_return(self, node: ast.If) -> None:
        """``if kind in LIVE: return`` then ``if kind == Kind.NOTION: ...`` (or an
        ``elif`` of such tests): the later blocks run only for a value outside ``LIVE``
        (``ExcludedBlock``)."""
        statements = self.current_block
        if not (
            not node.orelse
            and isinstance(node.body[-1], ast.Return | ast.Raise)
            and isinstance(node.test, ast.Compare)
            and len(node.test.ops) == 1
            and isinstance(node.test.ops[0], ast.In)
            and isinstance(node.test.comparators[0], ast.Name | ast.Attribute)
            and node in statements
        ):
            return
        index = statements.index(node)
        subject = ast.dump(node.test.left)
        held = node.test.comparators[0]
        container = (
            self.attribute(self.ex(held.value), held.attr)  # read again: no second read kept
            if isinstance(held, ast.Attribute)
            else self.ex(held)
        )
        for later in statements[index + 1 :]:
            branch: ast.stmt | None = later
            while isinstance(branch, ast.If):
                values = self._equal_to(branch.test, subject)
                if values:
                    first, last = branch.body[0].lineno, _last_line(branch.body[-1])
                    block = ExcludedBlock(first, last, values, container)
                    self.function.excluded_blocks.append(block)
                orelse = branch.orelse
                branch = orelse[0] if len(orelse) == 1 else None

    def _equal_to(self, test: ast.expr, subject: str) -> tuple[Expr, ...]:
        """The constants ``test`` says the subject (an ``ast.dump``) equals one of."""
        if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
            return ()
        if ast.dump(test.left) != subject:
            return ()
        op, right = test.ops[0], test.comparators[0]
        if isinstance(op, ast.Eq | ast.Is):
            options = [right]
        elif isinstance(op, ast.In) and isinstance(right, ast.Tuple | ast.List | ast.Set):
            options = list(right.elts)
        else:
            return ()
        values = [self._plain_value(option) for option in options]
        if not values or any(value is None for value in values):
            return ()
        return tuple(value for value in values if value is not None)

    def _flag_test(self, test: ast.expr) -> tuple[str, bool, tuple[Expr, ...]] | None:
        """The parameter a test looks at, whether it holds when the parameter is true (or
        equals one of the constants), and those constants."""
        when = True
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            test, when = test.operand, False
        compared = self._compared(test)
        if compared is None or self.env is None:
            return None
        name, values, equal = compared
        param = self.env.get(name)
        if not isinstance(param, Param) or param.function != self.function.qualname:
            return None
        return name, when == equal, values

    def _attribute_test(self, test: ast.expr) -> tuple[str, bool, tuple[Expr, ...]] | None:
        """The attribute of ``self`` a test looks at (``if self.style == Style.CENTRAL:``,
        ``if not self.cached:``), whether it holds when the attribute is true (or equals
        one of the constants), and those constants."""
        when = True
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            test, when = test.operand, False
        compared = self._compared(test)
        if compared is None:
            return None
        name, values, equal = compared
        receiver, dot, attribute = name.partition(".")
        if not dot or self.env is None or not isinstance(self.env.get(receiver), SelfRef):
            return None
        return attribute, when == equal, values

    def _compared(self, test: ast.expr) -> tuple[str, tuple[Expr, ...], bool] | None:
        """The name a test looks at, the constants it compares it with (none: its truth),
        and whether the test holds when the name equals one of them (``==``, ``is``,
        ``in``, ``or`` of those) or when it equals none (``!=``, ``is not``, ``not in``)."""
        tested = _compared_name(test)
        if tested is not None:
            return tested, (), True
        if (
            isinstance(test, ast.Call)
            and isinstance(test.func, ast.Name)
            and test.func.id == "isinstance"
            and len(test.args) == 2
            and not test.keywords
            and isinstance(test.args[0], ast.Name)
        ):
            # ``if isinstance(image, UploadFile):``: a caller passing a ``str`` never runs it
            classes = self.ex(test.args[1])
            return test.args[0].id, (Narrowed(UNKNOWN, classes, True),), True
        if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or):
            parts = [self._compared(value) for value in test.values]
            kept = [
                part
                for part in parts
                if part is not None
                and part[1]
                and part[2]
                and not any(isinstance(value, Narrowed | Ordered) for value in part[1])
            ]
            names = {name for name, _, _ in kept}
            if len(kept) != len(parts) or len(names) != 1:
                return None
            return names.pop(), tuple(value for _, values, _ in kept for value in values), True
        if not isinstance(test, ast.Compare) or len(test.ops) != 1:
            return None
        left, op, right = test.left, test.ops[0], test.comparators[0]
        name = _compared_name(left)
        if name is None:
            return None
        if isinstance(op, ast.Lt | ast.LtE | ast.Gt | ast.GtE):
            # ``if shard_size > 0:``, a number written out on the right
            if not (
                isinstance(right, ast.Constant)
                and isinstance(right.value, int)
                and not isinstance(right.value, bool)
            ):
                return None
            return name, (Ordered(_ORDERS[type(op)], Constant(right.value)),), True
        if isinstance(op, ast.Eq | ast.NotEq | ast.Is | ast.IsNot):
            options = [right]
        elif isinstance(op, ast.In | ast.NotIn) and isinstance(
            right, ast.Tuple | ast.List | ast.Set
        ):
            options = list(right.elts)
        else:
            return None
        values = [self._plain_value(option) for option in options]
        if not values or any(value is None for value in values):
            return None
        equal = isinstance(op, ast.Eq | ast.In | ast.Is)
        return name, tuple(v for v in values if v is not None), equal

    def _plain_value(self, node: ast.expr) -> Expr | None:
        """A constant, or a member of a class named at module level (``Target.DISK``)."""
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, str | int | bool) or value is None:
                return Constant(value)
            return None
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if self.env is not None and node.value.id in self.env:
                return None  # a local or a parameter, not a class
            return self.attribute(self.name(node.value.id), node.attr)
        return None

    def fills_once(self, first: int, last: int, module: list[int], instance: list[int]) -> bool:
        """Lines ``first`` to ``last`` run once for what they store: per process when
        they store into module state, per instance when they store on ``self``."""
        if any(first <= line <= last for line in module):
            self.function.once_blocks.append(Lines(first, last))
        elif any(first <= line <= last for line in instance):
            self.function.instance_once_blocks.append(Lines(first, last))
        else:
            return False
        return True

    def fill_through_calls(self, first: int, last: int, since: int, test: ast.expr) -> None:
        """Lines ``first`` to ``last`` store nothing themselves: they fill state once if
        a function of the module they call stores what ``test`` asks about (known once
        the module is walked)."""
        calls = tuple(call for call in self.function.calls[since:] if first <= call.line <= last)
        tested = _tested_state(test)
        if self.env is not None:
            # ``cached = _CACHE.get(key)``, then ``if cached is None:``: ``_CACHE`` too
            tested |= {
                name
                for local in tested
                if local in self.env
                for name in _state_read(self.env[local])
            }
        if calls and tested and self.env is not None:
            self.pending_fills.append(_PendingFill(self.function, first, last, calls, tested))

    def s_ClassDef(self, node: ast.ClassDef) -> None:
        qualname = self.scope + node.name
        for decorator in node.decorator_list:
            self.ex(decorator)
        klass = ClassSummary(qualname, node.lineno, [self.ex(base) for base in node.bases])
        for keyword in node.keywords:
            if keyword.arg == "metaclass":
                klass.metaclass = self.ex(keyword.value)
        self.summary.classes[qualname] = klass
        self.bind(node.name, ClassRef(qualname))
        saved = (self.env, self.klass, self.scope)
        self.env, self.klass, self.scope = None, klass, qualname + "."
        self.body(node.body)
        self.env, self.klass, self.scope = saved

    def s_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.bind(alias.asname, ImportedModule(alias.name))
            else:
                top = alias.name.partition(".")[0]
                self.bind(top, ImportedModule(top))

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
            self.bind(alias.asname or alias.name, Imported(f"{module}.{alias.name}"))

    def s_Assign(self, node: ast.Assign) -> None:
        value = self.ex(node.value)
        for target in node.targets:
            self.assign(target, value)
            if self.env is not None and isinstance(target, ast.Name):
                if isinstance(node.value, ast.BoolOp | ast.Compare | ast.UnaryOp):
                    self.held_tests[target.id] = node.value
                else:
                    self.held_tests.pop(target.id, None)
                sign = _clock_sign(node.value, self.clock_locals)
                if sign:
                    self.clock_locals[target.id] = sign  # ``now = time.time()``
                else:
                    self.clock_locals.pop(target.id, None)

    def held_test(self, test: ast.expr) -> ast.expr:
        """The test a local holds, for ``if must_reload:`` after ``must_reload = _cache is
        None or _tag != tag`` (and ``not must_reload``); else ``test`` itself."""
        if isinstance(test, ast.Name):
            return self.held_tests.get(test.id, test)
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            operand = test.operand
            if isinstance(operand, ast.Name) and operand.id in self.held_tests:
                return ast.UnaryOp(ast.Not(), self.held_tests[operand.id])
        return test

    def s_AnnAssign(self, node: ast.AnnAssign) -> None:
        annotation = self.annotation(node.annotation)
        value = self.ex(node.value) if node.value is not None else None
        if value is not None and self.env is not None and value is not UNKNOWN:
            # ``store: object = S3Store()``: a loose annotation must not hide the value
            self.assign(node.target, Declared(value, annotation))
            return
        self.assign(node.target, Typed(annotation))
        if value is not None and self.env is None and isinstance(node.target, ast.Name):
            # module and class level: keep the value too, it may be a router, an alias or
            # a settings default such as ``API_PREFIX: str = "/api/v1"``
            self.bind(node.target.id, value)

    def s_AugAssign(self, node: ast.AugAssign) -> None:
        value = self.ex(node.value)
        if isinstance(node.op, ast.Add) and isinstance(node.target, ast.Name):
            self.grow(node.target.id, value)  # ``routes += [Route(...)]``

    def s_TypeAlias(self, node: ast.AST) -> None:  # pragma: no cover - Python 3.12+
        name = getattr(node, "name", None)
        value = getattr(node, "value", None)
        if isinstance(name, ast.Name) and isinstance(value, ast.expr):
            self.bind(name.id, self.ex(value))

    def s_Expr(self, node: ast.Expr) -> None:
        if not isinstance(node.value, ast.Constant):  # a docstring does nothing
            self.ex(node.value)

    def s_Return(self, node: ast.Return) -> None:
        if node.value is not None:
            self.function.returns.append(self.ex(node.value))
        self.clock_returns.add(node.value, self.clock_locals)

    def s_Raise(self, node: ast.Raise) -> None:
        if node.exc is not None:
            self.ex(node.exc)

    def s_Assert(self, node: ast.Assert) -> None:
        self.ex(node.test)

    def s_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self.ex(target)

    def branches(
        self,
        bodies: list[list[ast.stmt]],
        fallthrough: bool,
        where: int,
        truthy: str | None = None,
        kind: tuple[str, Expr, bool] | None = None,
    ) -> None:
        """Walk alternative blocks; afterwards a local may hold what any of them bound.

        ``if s3: store = S3() else: store = Local()`` leaves ``store`` as either, and
        ``fallthrough`` keeps the value from before when no block may run. ``truthy``:
        a local the first block may take as true (``if root := root_path():``);
        ``kind``: a local, the classes the first block knows it is an instance of
        (``if isinstance(db, AsyncDb):``), and whether the test is that alone (then the
        second block knows it is not).
        """
        before = self.env
        if before is None:
            at_module = self.klass is None
            for index, statements in enumerate(bodies):
                kept = dict(self.module_loop)
                self.module_blocks += at_module
                try:
                    self.alternative(statements, where, index)
                finally:
                    self.module_blocks -= at_module
                    if at_module:
                        self.module_loop = kept
            return
        outcomes: list[dict[str, Expr]] = []
        for index, statements in enumerate(bodies):
            self.env = dict(before)
            held = before.get(truthy) if truthy is not None and index == 0 else None
            narrowed = Truthy(held) if held is not None else None
            if truthy is not None and narrowed is not None:
                self.env[truthy] = narrowed
            typed: tuple[str, Expr, Expr] | None = None
            if kind is not None and index < 2:
                name, classes, plain = kind
                value = before.get(name) or self._attribute_of_self(name)
                if value is not None and index == 0:
                    typed = (name, value, Narrowed(value, classes, True))
                elif value is not None and plain:  # the ``else`` of a test of the class alone
                    typed = (name, value, Narrowed(value, classes, False))
            if typed is not None:
                self.env[typed[0]] = typed[2]
            self.alternative(statements, where, index)
            if truthy is not None and held is not None and self.env.get(truthy) is narrowed:
                self.env[truthy] = held  # the same value afterwards, true or not
            if typed is not None and self.env.get(typed[0]) is typed[2]:
                if typed[0] in before:
                    self.env[typed[0]] = typed[1]  # whatever it was, afterwards
                else:
                    del self.env[typed[0]]  # an attribute: read anew afterwards
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
                    merged[name] = Either(known, value)
        self.env = merged

    def _attribute_of_self(self, name: str) -> Expr | None:
        """``self.handler`` for the dotted name an ``isinstance`` test keeps it under."""
        receiver, dot, attribute = name.partition(".")
        held = self.env.get(receiver) if dot and self.env is not None else None
        return self.attribute(held, attribute) if isinstance(held, SelfRef) else None

    def alternative(self, statements: list[ast.stmt], where: int, index: int) -> None:
        """One of the blocks of the statement at line ``where``: route registrations in
        it are alternatives to those in its other blocks (``mount("/api", api)`` in the
        ``else`` of ``mount(settings.base, api)``)."""
        self.branch_path.append((where, index))
        try:
            self.body(statements)
        finally:
            self.branch_path.pop()

    def s_If(self, node: ast.If) -> None:
        since = len(self.function.calls) if self.env is not None else 0
        self.ex(node.test)
        test = self.held_test(node.test) if self.env is not None else node.test
        if self.env is not None:
            self.clock_guard(node, test, since)
        self.flag_blocks(node)
        self.ready_blocks(node)
        self.tested_local(node)
        if self.env is not None:
            self.excluded_after_early_return(node)
        klass = self.klass
        if klass is not None and self.env is None and _is_type_checking(node.test):
            # methods declared for type checkers only do not exist at run time: the
            # base class's (a library's) run
            methods, attributes = dict(klass.methods), dict(klass.attributes)
            self.body(node.body)
            klass.methods, klass.attributes = methods, attributes
            self.body(node.orelse)
            return
        stores, kept = len(self.global_stores), len(self.instance_stores)
        calls = len(self.function.calls)
        self.branches(
            [node.body, node.orelse],
            False,
            node.lineno,
            _tested_name(node.test),
            self._isinstance_test(node.test),
        )
        if (
            self.env is not None
            and node.body
            and _asks_for_missing_library(node.test)
            and _installs(node.body)
        ):
            # ``if not find_spec("pptx"): pip_install("python-pptx")``: only while the
            # library is missing, as in ``except ImportError:``
            self.function.once_blocks.append(Lines(node.body[0].lineno, _last_line(node.body[-1])))
        if self.env is not None and node.body and _creates_what_is_missing(node):
            # ``if not path.exists(): path.write_text(...)``: once the file is there, the
            # block never runs again for that path (as a cache filled once per key)
            self.function.once_blocks.append(Lines(node.body[0].lineno, _last_line(node.body[-1])))
        if (
            self.env is not None
            and (after := _made_once_after(node, self.current_block))
            and not any(
                isinstance(name, ast.Name) and name.id in self.env
                for name in ast.walk(_tested_path(node.test))
            )
        ):
            # the same path for every call (a module's constant, not a request's name)
            self.function.once_blocks.append(after)
        grew = len(self.global_stores) > stores or len(self.instance_stores) > kept
        if (
            grew
            and node.body
            and self.env is not None
            and (_reads_clock(test) or _reads_mtime(test))
        ):
            # ``if time.monotonic() - _last > INTERVAL: refresh(); _last = ...``: the
            # block stores state and runs once per interval; ``if _mtime !=
            # path.stat().st_mtime: reload(); _mtime = ...``: once per change of the file
            self.function.once_blocks.append(Lines(node.body[0].lineno, _last_line(node.body[-1])))
            if any(
                isinstance(inner, ast.Return)
                and isinstance(inner.value, ast.Constant)
                and inner.value.value is True
                for statement in node.body
                for inner in ast.walk(statement)
            ):
                # ``return True`` from the reload: the function tells its caller that what
                # it keeps went stale (``if config.fetch(): merge()``)
                self.clock_returns.ways.add(STALE_WHEN_TRUE)
            return
        if not grew:
            if node.body and _tests_unset(test):
                first, last = node.body[0].lineno, _last_line(node.body[-1])
                self.fill_through_calls(first, last, calls, test)
            return
        module, instance = self.global_stores[stores:], self.instance_stores[kept:]
        if _tests_unset(test):
            # ``if _client is None: _client = make()``: the body runs once per process
            # (or once per instance, on ``self``)
            self.fills_once(node.body[0].lineno, _last_line(node.body[-1]), module, instance)
        elif _fills_what_it_tests(node):
            # ``if key in CACHE: ... else: CACHE[key] = load(key)``: the other way round
            self.fills_once(node.orelse[0].lineno, _last_line(node.orelse[-1]), module, instance)

    def clock_guard(self, node: ast.If, test: ast.expr, since: int) -> None:
        """``if tracker.needs_refresh(): ...`` or ``if kept and still_fresh(kept): return
        kept``: whether the function the test calls is a test of freshness, and which
        way, is known once calls are resolved (``ClockGuard``); its sides are kept: the
        body, and the ``else`` or what follows a body that returns."""
        guarded = _guard_call(test)
        if guarded is None or not node.body:
            return
        tested, negated = guarded
        # the call was made by the test, or by the assignment of a local it holds
        calls = self.function.calls
        func = next(
            (
                call.func
                for call in (calls[since:] if tested in ast.walk(node.test) else calls)
                if call.line == tested.lineno and call.col == tested.col_offset
            ),
            None,
        )
        if func is None:
            return
        body, statements = node.body, self.current_block
        when_false = None
        if node.orelse:
            when_false = Lines(node.orelse[0].lineno, _last_line(node.orelse[-1]))
        elif isinstance(body[-1], ast.Return):
            index = next((i for i, s in enumerate(statements) if s is node), None)
            if index is not None and index + 1 < len(statements):
                when_false = Lines(statements[index + 1].lineno, _last_line(statements[-1]))
        when_true = Lines(body[0].lineno, _last_line(body[-1]))
        self.function.clock_guards.append(ClockGuard(func, negated, when_true, when_false))

    def _isinstance_test(self, test: ast.expr) -> tuple[str, Expr, bool] | None:
        """``isinstance(local, Classes)`` (alone, or first of an ``and``): the local, the
        classes read as an expression, and whether it is alone."""
        plain = True
        if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
            test, plain = test.values[0], False
        if not (
            isinstance(test, ast.Call)
            and isinstance(test.func, ast.Name)
            and test.func.id == "isinstance"
            and len(test.args) == 2
            and not test.keywords
        ):
            return None
        tested = test.args[0]
        if isinstance(tested, ast.Name):
            return tested.id, self.ex(test.args[1]), plain
        if (
            isinstance(tested, ast.Attribute)
            and isinstance(tested.value, ast.Name)
            and self.env is not None
            and isinstance(self.env.get(tested.value.id), SelfRef)
        ):
            # ``isinstance(self.handler, AsyncHandler)``: kept under its dotted name, which
            # no local has, for the attribute reads of the block (``ExpressionReader``)
            return f"{tested.value.id}.{tested.attr}", self.ex(test.args[1]), plain
        return None

    def s_Global(self, node: ast.Global) -> None:
        if self.env is not None:
            self.declared_globals.update(node.names)

    def s_While(self, node: ast.While) -> None:
        self.ex(node.test)
        self.ready_blocks(node)
        self.body(node.body)
        self.body(node.orelse)

    def s_For(self, node: ast.For | ast.AsyncFor) -> None:
        iterated = self.ex(node.iter, isinstance(node, ast.AsyncFor))
        self.loop_size(node.iter, node)
        if isinstance(node, ast.For):
            self.iterates(iterated, node.iter)
        # each item of a known list or dict: routers registered in a loop
        self.assign(node.target, loop_item(iterated))
        outer: dict[str, Expr | None] = {}
        if self.env is None and self.klass is None:
            for target in ast.walk(node.target):
                if isinstance(target, ast.Name) and target.id not in outer:
                    outer[target.id] = self.module_loop.get(target.id)
                    self.module_loop[target.id] = self.summary.globals[target.id][-1]
        self.body(node.body)
        self.body(node.orelse)
        for name, value in outer.items():
            if value is None:
                self.module_loop.pop(name, None)
            else:
                self.module_loop[name] = value

    s_AsyncFor = s_For

    def s_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            # not awaited: ``async with f():`` calls ``f`` on the loop and awaits only the
            # ``__aenter__`` of its result, so ``async with open(path)`` opens the file there
            value = self.ex(item.context_expr)
            self.enters(value, item.context_expr, isinstance(node, ast.AsyncWith))
            if item.optional_vars is not None:
                self.assign(item.optional_vars, Entered(value))
        self.body(node.body)

    s_AsyncWith = s_With

    def s_Try(self, node: ast.Try) -> None:
        self.body(node.body)
        # the body's whole tree is read only when a handler could be the fallback
        asks_for_loop = _asks_for_loop(node)
        for handler in node.handlers:
            if handler.type is not None:
                self.ex(handler.type)
            if handler.name and self.env is not None:
                self.env[handler.name] = UNKNOWN
            self.body(handler.body)
            if handler.body and self.env is not None:
                last = _last_line(handler.body[-1])
                self.function.error_blocks.append(Lines(handler.body[0].lineno, last))
                if isinstance(handler.body[-1], ast.Raise):
                    # ``except ...: undo(); raise``: the request fails after it
                    self.function.failure_blocks.append(Lines(handler.body[0].lineno, last))
            if (
                handler.body
                and self.env is not None
                and _catches_import_error(handler)
                and _installs(handler.body)
            ):
                # ``except ImportError: install("pkg")``: runs only while a library is
                # missing, which one install ends (a fallback that reads the file some
                # other way runs for every request, while the library is not there)
                last = _last_line(handler.body[-1])
                self.function.once_blocks.append(Lines(handler.body[0].lineno, last))
            if asks_for_loop and _catches_runtime_error(handler) and handler.body:
                # ``asyncio.run(...)`` there only runs when no loop is running
                last = _last_line(handler.body[-1])
                self.function.no_loop_blocks.append(Lines(handler.body[0].lineno, last))
        self.body(node.orelse)
        self.body(node.finalbody)

    s_TryStar = s_Try

    def s_Match(self, node: ast.Match) -> None:
        self.ex(node.subject)
        for case in node.cases:
            if case.guard is not None:
                self.ex(case.guard)
        self.branches([case.body for case in node.cases], True, node.lineno)


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    caught = handler.type
    names = caught.elts if isinstance(caught, ast.Tuple) else [caught] if caught else []
    return any(
        (name.id if isinstance(name, ast.Name) else getattr(name, "attr", ""))
        in ("ImportError", "ModuleNotFoundError")
        for name in names
    )


def _installs(body: list[ast.stmt]) -> bool:
    """The block installs a package: it calls something named for installing
    (``pip_install``, ``prompt_install``, ``pm.install``) or runs ``pip``."""
    for statement in body:
        for inner in ast.walk(statement):
            if not isinstance(inner, ast.Call):
                continue
            if "install" in _called(inner).lower():
                return True
            if any(
                isinstance(part, ast.Constant) and part.value in ("pip", "install")
                for argument in inner.args
                for part in ast.walk(argument)
            ):
                return True
    return False


def _asks_for_missing_library(test: ast.expr) -> bool:
    """``if not importlib.util.find_spec(name):`` or ``if find_spec(name) is None:``."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        test = test.operand
    elif (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.Is)
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value is None
    ):
        test = test.left
    else:
        return False
    return isinstance(test, ast.Call) and _called(test) == "find_spec"


def _is_stub(body: list[ast.stmt]) -> bool:
    """A body that does nothing but say it is left to subclasses: a docstring, ``...``,
    ``pass``, ``raise NotImplementedError``."""
    for statement in body:
        if isinstance(statement, ast.Pass):
            continue
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue  # a docstring or ``...``
        if isinstance(statement, ast.Raise) and statement.exc is not None:
            raised = statement.exc.func if isinstance(statement.exc, ast.Call) else statement.exc
            if isinstance(raised, ast.Name) and raised.id == "NotImplementedError":
                continue
        return False
    return True


def _is_type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``typing.TYPE_CHECKING``."""
    if isinstance(test, ast.Attribute):
        return test.attr == "TYPE_CHECKING"
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


# what asks whether a path is there: ``path.exists()``, ``os.path.isfile(path)``
_PATH_TESTS = frozenset({"exists", "is_file", "is_dir", "isfile", "isdir"})
# what makes a path be there, and where the call names it: on the object
# (``path.write_text(...)``), first (``open(path, "w")``, ``os.makedirs(path)``), or
# second (``shutil.copytree(src, path)``, ``os.replace(tmp, path)``; ``tmp.rename(path)``
# names it first)
_MADE_ON = frozenset({"touch", "write_text", "write_bytes", "mkdir", "open"})
_MADE_FIRST = frozenset({"open", "makedirs", "mkdir", "rename", "replace", "symlink_to"})
_MADE_SECOND = frozenset({"copy", "copy2", "copyfile", "copytree", "move", "rename", "replace"})


def _creates_what_is_missing(node: ast.If) -> bool:
    """``if not path.exists():`` (or ``if not os.path.isfile(path):``) whose block makes
    that very path: writes, touches or creates it, opens it, or moves or copies a file
    or folder to it; or ``if not client.bucket_exists(name):`` whose block asks the same
    client to make it (``client.make_bucket(name)``, ``create_collection``, ...)."""
    test = node.test
    if not (isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)):
        return False
    asked = test.operand
    if not (isinstance(asked, ast.Call) and isinstance(asked.func, ast.Attribute)):
        return False
    if _ASKS_THERE.search(asked.func.attr) and _creates_on_the_same(asked, node.body):
        return True
    return _makes_tested_path(asked, node.body)


def _made_once_after(node: ast.If, statements: list[ast.stmt]) -> Lines | None:
    """``if os.path.exists(MARKER): return False`` followed by what makes ``MARKER``:
    the statements after the early return run only while the path is missing, once."""
    test = node.test
    if node.orelse or not node.body or not isinstance(node.body[-1], ast.Return | ast.Raise):
        return None
    index = next((i for i, statement in enumerate(statements) if statement is node), None)
    if index is None or index + 1 >= len(statements):
        return None
    rest = statements[index + 1 :]
    if not _makes_tested_path(test, rest):
        return None
    return Lines(rest[0].lineno, _last_line(rest[-1]))


def _tested_path(test: ast.expr) -> ast.expr:
    """The path of ``os.path.exists(path)`` or ``path.exists()``."""
    if isinstance(test, ast.Call) and isinstance(test.func, ast.Attribute):
        return test.args[0] if test.args else test.func.value
    return test


def _makes_tested_path(asked: ast.expr, body: list[ast.stmt]) -> bool:
    """``asked`` is ``os.path.exists(path)`` or ``path.exists()`` (or ``isfile``, ...)
    and ``body`` makes that very path."""
    if not (
        isinstance(asked, ast.Call)
        and isinstance(asked.func, ast.Attribute)
        and asked.func.attr in _PATH_TESTS
        and not asked.keywords
    ):
        return False
    wanted = ast.dump(_unwrapped(_tested_path(asked)))
    for statement in body:
        for inner in ast.walk(statement):
            if isinstance(inner, ast.Call) and any(
                ast.dump(_unwrapped(made)) == wanted for made in _made_paths(inner)
            ):
                return True
    return False


# a store asked whether something is there: ``bucket_exists``, ``has_collection``,
# ``indices.exists``; and asked to make it
_ASKS_THERE = re.compile(r"(?:^|_)(?:exists?|has)(?:_|$)")
_MAKES = re.compile(r"^(?:create|make)(?:_|$)")


def _creates_on_the_same(asked: ast.Call, body: list[ast.stmt]) -> bool:
    """The block asks the same receiver to make something named by one of the values
    the test asked about: ``client.make_bucket(bucket_name=name)``."""
    assert isinstance(asked.func, ast.Attribute)
    receiver = ast.dump(asked.func.value)
    named = {ast.dump(value) for value in _argument_values(asked)}
    for statement in body:
        for inner in ast.walk(statement):
            if (
                isinstance(inner, ast.Call)
                and isinstance(inner.func, ast.Attribute)
                and _MAKES.search(inner.func.attr)
                and ast.dump(inner.func.value) == receiver
                and named & {ast.dump(value) for value in _argument_values(inner)}
            ):
                return True
    return False


def _argument_values(call: ast.Call) -> list[ast.expr]:
    return [*call.args, *(keyword.value for keyword in call.keywords)]


def _made_paths(call: ast.Call) -> list[ast.expr]:
    """The paths a call may make (see ``_MADE_ON`` and its kin)."""
    func = call.func
    on_object = isinstance(func, ast.Attribute) and not _is_module_name(func.value)
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    made: list[ast.expr] = []
    if on_object and name in _MADE_ON and isinstance(func, ast.Attribute):
        made.append(func.value)
    if name in _MADE_FIRST and call.args and (on_object or name not in ("rename", "replace")):
        made.append(call.args[0])
    if name in _MADE_SECOND and not on_object and len(call.args) > 1:
        made.append(call.args[1])
    return made


def _is_module_name(node: ast.expr) -> bool:
    """``os``, ``shutil``, ``os.path``: a module the call is a function of."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name) and node.id in ("os", "shutil")


def _unwrapped(node: ast.expr) -> ast.expr:
    """``Path(x)``, ``str(x)``, ``os.fspath(x)``: ``x``."""
    while (
        isinstance(node, ast.Call)
        and len(node.args) == 1
        and not node.keywords
        and (getattr(node.func, "id", None) or getattr(node.func, "attr", None))
        in ("Path", "str", "fspath")
    ):
        node = node.args[0]
    return node


def _tested_state(test: ast.expr) -> frozenset[str]:
    """The state a test of a kept value asks about: ``_client`` in ``_client is None``,
    ``_store`` in ``not self._store``, ``_CACHE`` in ``key not in _CACHE``."""
    names: set[str] = set()
    for node in ast.walk(test):
        if isinstance(node, ast.Compare) and isinstance(node.ops[0], ast.In | ast.NotIn):
            names.add(stored_name(node.comparators[0]))
        elif (attribute := _hasattr_name(node)) is not None:
            names.add(attribute)  # ``hasattr(self, "_ready")``: ``_ready``
        elif isinstance(node, ast.Attribute | ast.Name):
            names.add(stored_name(node))
    return frozenset(names - {""})


def _state_read(expr: Expr, depth: int = 0) -> set[str]:
    """The module names and attributes of ``self`` an expression reads from:
    ``_CACHE`` in ``_CACHE.get(key)``, ``_tokens`` in ``self._tokens[user]``."""
    match expr:
        case Global(name):
            return {name}
        case Attribute(SelfRef(), name):
            return {name}
        case _ if depth > 4:
            return set()
        case Attribute(base, _) | Subscript(base, _) | Await(base):
            return _state_read(base, depth + 1)
        case Call(func, _, _, _, _, _):
            return _state_read(func, depth + 1)
        case Either(left, right):  # rebound in the block: what it held before, too
            return _state_read(left, depth + 1) | _state_read(right, depth + 1)
        case _:
            return set()


def _hasattr_name(node: ast.AST) -> str | None:
    """The attribute ``hasattr(self, "_ready")`` asks about, on ``self`` or ``cls``."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "hasattr"
        and len(node.args) == 2
        and isinstance(node.args[0], ast.Name)
        and node.args[0].id in ("self", "cls")
        and isinstance(node.args[1], ast.Constant)
        and isinstance(node.args[1].value, str)
    ):
        return node.args[1].value
    return None


def _tests_unset(test: ast.expr) -> bool:
    """``x is None``, ``not x``, ``key not in CACHE`` (or any of them in an ``or``)."""
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or):
        return any(_tests_unset(value) for value in test.values)
    if isinstance(test, ast.UnaryOp):
        return isinstance(test.op, ast.Not)
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        op, right = test.ops[0], test.comparators[0]
        if isinstance(op, ast.NotIn):
            return True
        return isinstance(op, ast.Is) and isinstance(right, ast.Constant) and right.value is None
    return False


def _fills_what_it_tests(node: ast.If) -> bool:
    """``if key in CACHE: ... else: CACHE[key] = ...``: a plain ``else`` (not an ``elif``
    chain, whose other tests decide more than the cache) that stores into the very
    container the test looks in."""
    test = node.test
    if not (
        node.orelse
        and not (len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If))
        and isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.In)
    ):
        return False
    container = ast.dump(test.comparators[0])
    return any(
        isinstance(target, ast.Subscript) and ast.dump(target.value) == container
        for statement in node.orelse
        for child in ast.walk(statement)
        if isinstance(child, ast.Assign | ast.AnnAssign)
        for target in (child.targets if isinstance(child, ast.Assign) else [child.target])
    )


def _tests_set(test: ast.expr) -> bool:
    """``x is not None``, ``x``, ``key in CACHE`` (or all of them in an ``and``)."""
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return all(_tests_set(value) for value in test.values)
    if isinstance(test, ast.Name | ast.Attribute | ast.Subscript):
        return True
    if _hasattr_name(test) is not None:
        return True  # ``if hasattr(self, "_ready"): return``
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        op, right = test.ops[0], test.comparators[0]
        if isinstance(op, ast.In):
            return True
        return isinstance(op, ast.IsNot) and isinstance(right, ast.Constant) and right.value is None
    return False


def _tests_kept(test: ast.expr) -> bool:
    """``_tests_set``, or it ``and`` a flag that bypasses what is kept (``key in CACHE
    and not refresh``): the flag asks for a rebuild now and then, not per request; or
    ``and`` a test that it is still fresh (``time.time() - _stamp < TTL``): it is
    rebuilt once per expiry, as ``cachetools.func.ttl_cache`` does."""
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return any(_tests_set(value) for value in test.values) and all(
            _tests_set(value) or _is_flag(value) or _reads_clock(value) for value in test.values
        )
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or):
        # ``if _engine is not None or name in _fallbacks: return``: either kind of thing
        # kept (what follows fills one of them)
        return all(_tests_kept(value) for value in test.values)
    return _tests_set(test)


# what reads the time: ``time.time()``, ``time.monotonic()``, ``datetime.now(UTC)``
_CLOCKS = frozenset({"time", "monotonic", "perf_counter", "now", "utcnow"})


def _reads_clock(test: ast.expr) -> bool:
    """A comparison with the time now in it: ``time.monotonic() - _stamp < TTL``,
    ``_expires > datetime.now(UTC)``."""
    return isinstance(test, ast.Compare) and any(
        isinstance(node, ast.Call) and _called(node) in _CLOCKS for node in ast.walk(test)
    )


def _reads_mtime(test: ast.expr) -> bool:
    """A comparison (alone or in an ``and``) with a file's modification time in it:
    ``_stamp != path.stat().st_mtime``, ``os.path.getmtime(path) > _loaded_at``."""
    parts = test.values if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And) else [test]
    return any(isinstance(part, ast.Compare) and _reads_mtime_in(part) for part in parts)


_MTIMES = frozenset({"st_mtime", "st_mtime_ns", "getmtime"})


def _mtime_way(value: ast.Compare) -> int:
    """STALE_WHEN_TRUE for a file changed since a stamp (``os.path.getmtime(path) !=
    self._loaded[path]``, ``path.stat().st_mtime > stamp``), FRESH_WHEN_TRUE for one not
    changed (``==``); 0 when no modification time is read on one side only."""
    left, right = _reads_mtime_in(value.left), _reads_mtime_in(value.comparators[0])
    if left == right:
        return 0
    op = value.ops[0]
    if isinstance(op, ast.NotEq):
        return STALE_WHEN_TRUE
    if isinstance(op, ast.Eq):
        return FRESH_WHEN_TRUE
    # the file's time now is newer than the stamp: changed since
    if isinstance(op, ast.Gt | ast.GtE):
        return STALE_WHEN_TRUE if left else FRESH_WHEN_TRUE
    if isinstance(op, ast.Lt | ast.LtE):
        return FRESH_WHEN_TRUE if left else STALE_WHEN_TRUE
    return 0


def _reads_mtime_in(node: ast.expr) -> bool:
    return any(
        (isinstance(inner, ast.Attribute) and inner.attr in _MTIMES)
        or (isinstance(inner, ast.Call) and _called(inner) in _MTIMES)
        for inner in ast.walk(node)
    )


def _guard_call(test: ast.expr) -> tuple[ast.Call, bool] | None:
    """The call a test rests on, and whether it is negated: ``f()``, ``not f()``, or the
    one call of an ``and`` whose other parts test that something is kept (``cache and
    fresh(cache)``, ``cache and not expired(cache)``)."""
    negated = False
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        test, negated = test.operand, True
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And) and not negated:
        calls = [value for value in test.values if _bare_call(value) is not None]
        rest = [value for value in test.values if _bare_call(value) is None]
        if len(calls) != 1 or not all(_tests_set(value) for value in rest):
            return None
        test = calls[0]
        if isinstance(test, ast.UnaryOp):
            test, negated = test.operand, True
    return (test, negated) if isinstance(test, ast.Call) else None


def _bare_call(node: ast.expr) -> ast.Call | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        node = node.operand
    return node if isinstance(node, ast.Call) else None


class _ClockReturns:
    """What the returns of a function say of the time now (``tests_clock``): each
    compares it with a stamp, the same way (``now - stamp > TTL``: stale when true), or
    is a constant (``return True`` when there is no stamp)."""

    __slots__ = ("other", "ways")

    def __init__(self) -> None:
        self.ways: set[int] = set()
        self.other = False

    def add(self, value: ast.expr | None, clocks: dict[str, int]) -> None:
        if value is None or isinstance(value, ast.Constant):
            return
        way = _compare_way(value, clocks)
        if way:
            self.ways.add(way)
        else:
            self.other = True

    def verdict(self) -> int:
        return next(iter(self.ways)) if len(self.ways) == 1 and not self.other else 0


def _compare_way(value: ast.expr, clocks: dict[str, int]) -> int:
    """STALE_WHEN_TRUE for ``time.monotonic() - last >= interval`` or ``now > expires``,
    FRESH_WHEN_TRUE for ``now - stamp < TTL`` or ``expires - now > margin``; 0 for a
    comparison that has no time now in it, or not one (``not`` turns it round)."""
    if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.Not):
        return -_compare_way(value.operand, clocks)
    if isinstance(value, ast.BoolOp):
        # ``expires is None or time.time() > expires``: what its clock parts say, if
        # they agree
        ways = {_compare_way(part, clocks) for part in value.values} - {0}
        return ways.pop() if len(ways) == 1 else 0
    if not (isinstance(value, ast.Compare) and len(value.ops) == 1):
        return 0
    # the sign of the time now in ``left - right``
    sign = _clock_sign(value.left, clocks) - _clock_sign(value.comparators[0], clocks)
    if not sign:
        return _mtime_way(value)
    later = 1 if sign > 0 else -1  # the difference grows with time (+1) or shrinks
    op = value.ops[0]
    if isinstance(op, ast.Gt | ast.GtE):
        return STALE_WHEN_TRUE if later > 0 else FRESH_WHEN_TRUE
    if isinstance(op, ast.Lt | ast.LtE):
        return FRESH_WHEN_TRUE if later > 0 else STALE_WHEN_TRUE
    return 0


def _clock_sign(node: ast.expr, clocks: dict[str, int]) -> int:
    """+1 when ``node`` grows with the time now (``time.time()``, ``now - start``), -1
    when it shrinks (``deadline - now``), 0 when the time now is not in it."""
    if isinstance(node, ast.Call):
        if _called(node) in _CLOCKS:
            return 1
        func = node.func
        # ``(expires - now).total_seconds()``, ``datetime.now().timestamp()``
        return _clock_sign(func.value, clocks) if isinstance(func, ast.Attribute) else 0
    if isinstance(node, ast.Name):
        return clocks.get(node.id, 0)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
        left, right = _clock_sign(node.left, clocks), _clock_sign(node.right, clocks)
        return left or (-right if isinstance(node.op, ast.Sub) else right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_clock_sign(node.operand, clocks)
    return 0


def _plain_reference(node: ast.expr) -> bool:
    """A name or a chain of attributes (``self.buffer``): read again, it calls nothing."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name)


def _tested_name(test: ast.expr) -> str | None:
    """The local ``if name:`` or ``if name := value:`` tests for truth."""
    if isinstance(test, ast.NamedExpr):
        test = test.target
    return test.id if isinstance(test, ast.Name) else None


def _is_flag(test: ast.expr) -> bool:
    """``not refresh`` / ``not self.force``: a plain name or attribute, negated."""
    return (
        isinstance(test, ast.UnaryOp)
        and isinstance(test.op, ast.Not)
        and isinstance(test.operand, ast.Name | ast.Attribute)
    )


def _called(call: ast.Call) -> str:
    func = call.func
    return (
        func.attr
        if isinstance(func, ast.Attribute)
        else func.id
        if isinstance(func, ast.Name)
        else ""
    )


def _asks_for_loop(node: ast.Try) -> bool:
    """``try: asyncio.get_running_loop() except RuntimeError:``: a test for a running loop."""
    return any(_catches_runtime_error(handler) for handler in node.handlers) and any(
        isinstance(inner, ast.Call) and _called(inner) == "get_running_loop"
        for statement in node.body
        for inner in ast.walk(statement)
    )


def _catches_runtime_error(handler: ast.ExceptHandler) -> bool:
    caught = handler.type
    names = caught.elts if isinstance(caught, ast.Tuple) else [caught] if caught else []
    return any(isinstance(name, ast.Name) and name.id == "RuntimeError" for name in names)


def _last_line(node: ast.stmt) -> int:
    return node.end_lineno if node.end_lineno is not None else node.lineno


def _holds(merged: Expr, value: Expr) -> bool:
    """Whether a merged alternative already includes ``value`` (the same object)."""
    while isinstance(merged, Either):
        if merged.right is value:
            return True
        merged = merged.left
    return merged is value


ModuleWalker.statement = node_handlers(ModuleWalker, "s_")


def _joined_flags(
    flags: list[tuple[str, bool, tuple[Expr, ...]]],
    each: bool,
    every: bool,
    first: int,
    last: int,
    holds: bool,
) -> list[FlagBlock]:
    """The flag blocks of lines that run when a test of ``flags`` joined by ``and`` or
    ``or`` holds (or fails: ``holds``): with ``each``, every flag alone turning the
    lines off (the body of an ``and``); otherwise one block that all of them must turn
    off (the body of an ``or``), known only when ``every`` part of the test is a flag."""
    blocks = [
        FlagBlock(name, when == holds, first, last, values, ()) for name, when, values in flags
    ]
    if each or not blocks:
        return blocks
    if not every:
        return []
    head, *rest = blocks
    return [FlagBlock(head.name, head.when, first, last, head.values, tuple(rest))]


def _signature(arguments: ast.arguments) -> Signature:
    positional = [*arguments.posonlyargs, *arguments.args]
    defaulted = len(positional) - len(arguments.defaults)
    required = {arg.arg for arg in positional[:defaulted]}
    required.update(
        arg.arg
        for arg, default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
        if default is None
    )
    return Signature(
        tuple(arg.arg for arg in positional),
        len(arguments.posonlyargs),
        tuple(arg.arg for arg in arguments.kwonlyargs),
        frozenset(required),
        arguments.vararg is not None,
        arguments.kwarg is not None,
    )


_ORDERS: dict[type[ast.cmpop], str] = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}


def _compared_name(node: ast.expr) -> str | None:
    """A name a test looks at: a local or parameter (``flag``), or an attribute of one
    (``self.flag``, told apart from a local by its dot)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return f"{node.value.id}.{node.attr}"
    return None
