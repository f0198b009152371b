"""From every coroutine to the blocking calls it reaches on the event loop.

Every ``async def`` of the project is an entry: its body runs on the loop. A call
from it to a sync project function (or class constructor, or ``__call__``) runs that
function on the loop too, so blocking work found there, transitively, is reported at
the coroutine's call with the whole chain. What a coroutine only *passes* (to
``asyncio.to_thread``, ``run_in_executor``, ``BackgroundTasks.add_task``...) is not a call
and is never followed; a call to an ``async def`` is followed as its own entry. Sync
functions decorated with an offloader (``sync_to_async``, ``asyncify``...) are not followed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from unstuck.check.model import MODULE_BODY, UNKNOWN, ChainLink, Expr, Finding
from unstuck.check.program import EMPTY, Key, Program, Value, keyword, last_name
from unstuck.check.rule import Rule
from unstuck.check.rules import http_timeout

OFFLOADERS = frozenset(
    {
        "asyncio.to_thread",
        "anyio.to_thread.run_sync",
        "starlette.concurrency.run_in_threadpool",
        "fastapi.concurrency.run_in_threadpool",
        "asgiref.sync.sync_to_async",
        "asyncer.asyncify",
        "aiofiles.os.wrap",
    }
)
_MAX_DEPTH = 40
_TIMEOUT_NAMES = frozenset(
    [
        "get",
        "post",
        "put",
        "patch",
        "delete",
        "head",
        "options",
        "request",
        "urlopen",
        "stream",
        "PoolManager",
        "HTTPConnection",
        "HTTPSConnection",
        "Client",
        "AsyncClient",
        "ClientSession",
    ]
)


@dataclass(frozen=True, slots=True)
class Hit:
    rule: Rule
    line: int
    col: int
    label: str
    origin: str | None


@dataclass(slots=True)
class _Scan:
    hits: list[Hit]
    sync_calls: list[tuple[int, int, Key, Expr]]
    async_calls: list[Key]


@dataclass(frozen=True, slots=True)
class Blocker:
    rule: Rule
    chain: tuple[ChainLink, ...]
    label: str
    origin: str | None
    through: tuple[str, ...]  # qualnames of the sync functions on the way


class BlockingAnalysis:
    def __init__(
        self,
        program: Program,
        extra_blocking: Mapping[str, Rule],
        offloaders: frozenset[str],
    ) -> None:
        self.program = program
        self.knowledge = program.knowledge
        self.extra_blocking = extra_blocking
        self.offloaders = OFFLOADERS | offloaders
        self.cpu_rule = self.knowledge.rules["USK113"]
        self.timeout_rule = self.knowledge.rules["USK203"]
        self._scans: dict[Key, _Scan] = {}
        self._blockers: dict[Key, dict[str, Blocker]] = {}
        self._offloaded: dict[Key, bool] = {}
        self._bound: dict[
            tuple[Key, frozenset[tuple[str, frozenset[Value]]]], dict[str, Blocker]
        ] = {}

    # -- per function -------------------------------------------------------------

    def scan(self, key: Key) -> _Scan:
        known = self._scans.get(key)
        if known is not None:
            return known
        result = _Scan([], [], [])
        self._scans[key] = result
        function = self.program.function(key)
        if function is None:
            return result
        module = key[0]
        program = self.program
        for call, awaited in function.calls:
            callees = program.eval(call[1], module)
            if not callees:
                continue
            line, col = call[2], call[3]
            for value in callees:
                kind = value[0]
                if kind == "E" or kind == "EM" or kind == "TM":
                    if awaited:
                        continue
                    found = self.library_blocker(value)
                    if found is not None and not self.returns_at_once(value, call, module):
                        rule, label = found
                        origin = self.origin(call[1], module)
                        result.hits.append(Hit(rule, line, col, label, origin))
                    continue
                target = self.callee(value)
                if target is None:
                    continue
                callee = program.function(target)
                if callee is None or self.is_offloaded(target):
                    continue
                dotted = _dotted(target)
                configured = self.extra_blocking.get(dotted)
                if configured is not None and not awaited:
                    result.hits.append(Hit(configured, line, col, f"{callee.qualname}()", None))
                elif callee.is_async:
                    result.async_calls.append(target)
                else:
                    result.sync_calls.append((line, col, target, call))
        for line, col, base, name in function.attribute_reads:
            for value in program.eval(base, module):
                if value[0] == "I":
                    getter = program.method(value[1], name)
                    getter_function = program.function(getter) if getter else None
                    if (
                        getter is not None
                        and getter_function is not None
                        and program.is_property(getter_function)
                        and not getter_function.is_async
                    ):
                        read = ("c", UNKNOWN, line, col, (), ())
                        result.sync_calls.append((line, col, getter, read))
                elif value[0] == "EI":
                    read_rule = self.knowledge.attributes.get((value[1], name))
                    if read_rule is not None:
                        label = f"{value[1].rpartition('.')[2]}.{name}"
                        result.hits.append(Hit(read_rule, line, col, label, None))
        for line, col, size in function.loops:
            result.hits.append(
                Hit(self.cpu_rule, line, col, f"a loop of {size:,} iterations", None)
            )
        return result

    def library_blocker(self, value: tuple[object, ...]) -> tuple[Rule, str] | None:
        knowledge = self.knowledge
        if value[0] == "E":
            name = str(value[1])
            rule = knowledge.functions.get(name) or self.extra_blocking.get(name)
            return (rule, f"{_short(name)}()") if rule is not None else None
        if value[0] == "EM":
            cls, method = str(value[1]), str(value[2])
            rule = knowledge.method_rule(cls, method) or self.extra_blocking.get(f"{cls}.{method}")
            label = f"{cls.rpartition('.')[2]}.{method}()"
            return (rule, label) if rule is not None else None
        task = self.program.function(value[1])  # type: ignore[arg-type]
        name = task.qualname if task is not None else "task"
        return knowledge.rules["USK111"], f"{name}.{value[2]}()"

    def returns_at_once(self, value: Value, call: Expr, module: str) -> bool:
        """A call whose arguments ask it not to wait: ``shutdown(wait=False)``."""
        name = f"{value[1]}.{value[2]}" if value[0] == "EM" else str(value[1])
        condition = self.knowledge.nonblocking.get(name)
        if condition is None:
            return False
        name, position, expected = condition
        argument = keyword(call, name)
        if argument is None and 0 <= position < len(call[4]):
            argument = call[4][position]
        if argument is None:
            return False
        actual = self.program.constant(argument, module)
        return actual == expected and isinstance(actual, bool) == isinstance(expected, bool)

    def callee(self, value: tuple[object, ...]) -> Key | None:
        """The project function that calling ``value`` runs."""
        kind = value[0]
        if kind == "F":
            return value[1]  # type: ignore[return-value]
        if kind == "C":
            return self.program.method(value[1], "__init__")  # type: ignore[arg-type]
        if kind == "I":
            return self.program.method(value[1], "__call__")  # type: ignore[arg-type]
        return None

    def is_offloaded(self, key: Key) -> bool:
        """Whether a decorator makes calls to this sync function run in a thread."""
        known = self._offloaded.get(key)
        if known is not None:
            return known
        function = self.program.function(key)
        offloaded = function is not None and any(
            (value[0] == "E" and value[1] in self.offloaders)
            or (value[0] == "F" and _dotted(value[1]) in self.offloaders)
            for decorator in function.decorators
            for value in self.program.eval(decorator, key[0])
        )
        self._offloaded[key] = offloaded
        return offloaded

    def origin(self, expr: Expr, module: str) -> str | None:
        """Where the receiver of a call comes from, when FastAPI injected it."""
        root = expr
        while root[0] in ("a", "c", "enter", "aw"):
            root = root[1]
        if root[0] != "p":
            return None
        program = self.program
        annotated = program.eval(root[3], module) if root[3] is not None else EMPTY
        dependencies = program.dependencies(annotated, root[4], module)
        if not dependencies:
            return None
        names = sorted({str(value[1][1]) for value in dependencies})
        return f"`{root[2]}` is injected by Depends({', '.join(names)})"

    # -- transitive ---------------------------------------------------------------

    def blockers(self, key: Key, depth: int = 0) -> dict[str, Blocker]:
        """Blocking work a sync function does when called, by rule code (shortest chain)."""
        known = self._blockers.get(key)
        if known is not None:
            return known
        self._blockers[key] = {}
        found: dict[str, Blocker] = {}
        scan = self.scan(key)
        path = self.program.modules[key[0]].path
        name = _dotted(key)
        for hit in scan.hits:
            if hit.rule.through_calls and hit.rule.code not in found:
                link = ChainLink(path, hit.line, name)
                found[hit.rule.code] = Blocker(hit.rule, (link,), hit.label, hit.origin, ())
        if depth < _MAX_DEPTH:
            for line, _col, target, _call in scan.sync_calls:
                for code, blocker in self.blockers(target, depth + 1).items():
                    current = found.get(code)
                    if current is None or len(current.chain) > len(blocker.chain) + 1:
                        found[code] = Blocker(
                            blocker.rule,
                            (ChainLink(path, line, name), *blocker.chain),
                            blocker.label,
                            blocker.origin,
                            (target[1], *blocker.through),
                        )
        self._blockers[key] = found
        return found

    def findings_in(self, key: Key) -> list[Finding]:
        """Findings of one coroutine (``route`` is filled in later)."""
        scan = self.scan(key)
        path = self.program.modules[key[0]].path
        name = _dotted(key)
        findings: list[Finding] = []
        seen: set[tuple[int, int, str]] = set()
        for hit in scan.hits:
            if (hit.line, hit.col, hit.rule.code) in seen:
                continue
            seen.add((hit.line, hit.col, hit.rule.code))
            link = ChainLink(path, hit.line, name)
            message = _message(hit.rule, hit.label, hit.origin, ())
            findings.append(_finding(hit.rule, path, hit.line, hit.col, message, (link,)))
        for line, col, target, call in scan.sync_calls:
            found = dict(self.blockers(target))
            bindings = self.bindings(call, key[0], target, None, {})
            bindings.update(self.constructed_with(call, key[0], None, {}))
            if bindings:
                for code, blocker in self.bound_blockers(target, bindings, 0).items():
                    found.setdefault(code, blocker)
            for code, blocker in found.items():
                if (line, col, code) in seen:
                    continue
                seen.add((line, col, code))
                chain = (ChainLink(path, line, name), *blocker.chain)
                through = (target[1], *blocker.through)
                message = _message(blocker.rule, blocker.label, blocker.origin, through)
                findings.append(_finding(blocker.rule, path, line, col, message, chain))
        return findings

    # -- values passed to untyped parameters ------------------------------------------------

    def bindings(
        self,
        call: Expr,
        module: str,
        target: Key,
        scope: Key | None,
        bound: Mapping[str, frozenset[Value]],
    ) -> dict[str, frozenset[Value]]:
        """What a call passes to the callee's unannotated parameters, when it is known.

        ``def get_user(db, user_id): return db.query(User)...`` has no types; called from
        a coroutine with a sync ``Session``, it blocks all the same.
        """
        callee = self.program.function(target)
        if callee is None:
            return {}
        params = callee.params
        offset = 0
        if callee.class_qualname is not None and ("g", "staticmethod") not in callee.decorators:
            offset = 1
        result: dict[str, frozenset[Value]] = {}
        passed: list[tuple[str, Expr]] = []
        for index, arg in enumerate(call[4]):
            if index + offset < len(params):
                passed.append((params[index + offset][0], arg))
        names = {param[0] for param in params}
        passed.extend((name, value) for name, value in call[5] if name in names)
        annotated = {name for name, annotation, _ in params if annotation is not None}
        for name, arg in passed:
            if arg[0] == "u" or name in annotated:
                continue
            values = frozenset(
                value
                for value in self.eval_bound(arg, module, scope, bound)
                if value[0] in ("EI", "I")
            )
            if values:
                result[name] = values
        return result

    def constructed_with(
        self,
        call: Expr,
        module: str,
        scope: Key | None,
        bound: Mapping[str, frozenset[Value]],
    ) -> dict[str, frozenset[Value]]:
        """``self.x`` values of the receiver of a method call, when the receiver is built
        right there (``UserService(db).find(...)``, or through a local variable) and its
        ``__init__`` stores an untyped parameter: ``self.db = db``."""
        if call[1][0] != "a" or call[1][1][0] != "c":
            return {}
        construction = call[1][1]
        result: dict[str, frozenset[Value]] = {}
        for value in self.program.eval(construction[1], module):
            if value[0] != "C":
                continue
            init = self.program.method(value[1], "__init__")
            klass = self.program.klass(value[1])
            if init is None or klass is None:
                continue
            passed = self.bindings(construction, module, init, scope, bound)
            for attribute, exprs in klass.attributes.items():
                for expr in exprs:
                    if expr[0] == "p" and expr[1] == init[1] and expr[2] in passed:
                        result[f"self.{attribute}"] = passed[expr[2]]
        return result

    def eval_bound(
        self, expr: Expr, module: str, scope: Key | None, bound: Mapping[str, frozenset[Value]]
    ) -> frozenset[Value]:
        """Evaluate a receiver chain where some parameters of ``scope`` have known values."""
        kind = expr[0]
        if kind == "p" and scope is not None and expr[1] == scope[1] and expr[2] in bound:
            return bound[expr[2]]
        if kind == "a" and expr[1][0] == "self" and f"self.{expr[2]}" in bound:
            return bound[f"self.{expr[2]}"]
        if not bound or kind not in ("a", "c", "enter", "aw"):
            return self.program.eval(expr, module)
        inner = self.eval_bound(expr[1], module, scope, bound)
        if kind == "a":
            return self.program.attribute(inner, expr[2])
        if kind == "c":
            return self.program.call(inner, expr, module)
        return self.program.entered(inner) if kind == "enter" else inner

    def bound_blockers(
        self, target: Key, bound: Mapping[str, frozenset[Value]], depth: int
    ) -> dict[str, Blocker]:
        """Blocking work ``target`` does on the values bound to its parameters."""
        memo_key = (target, frozenset(bound.items()))
        known = self._bound.get(memo_key)
        if known is not None:
            return known
        self._bound[memo_key] = {}
        function = self.program.function(target)
        found: dict[str, Blocker] = {}
        if function is None:
            return found
        module = target[0]
        path = self.program.modules[module].path
        name = _dotted(target)
        for call, awaited in function.calls:
            link = ChainLink(path, call[2], name)
            if _uses(call[1], target, bound):
                for value in self.eval_bound(call[1], module, target, bound):
                    if value[0] in ("E", "EM", "TM"):
                        library = None if awaited else self.library_blocker(value)
                        if library is not None and library[0].through_calls:
                            blocker = Blocker(library[0], (link,), library[1], None, ())
                            found.setdefault(library[0].code, blocker)
                        continue
                    callee = self.callee(value)
                    callee_function = self.program.function(callee) if callee else None
                    if callee is None or callee_function is None or callee_function.is_async:
                        continue
                    for code, blocker in self.blockers(callee).items():
                        found.setdefault(code, _extend(link, callee, blocker))
            if depth >= 3:
                continue
            for value in self.program.eval(call[1], module):
                callee = self.callee(value)
                callee_function = self.program.function(callee) if callee else None
                if callee is None or callee_function is None or callee_function.is_async:
                    continue
                passed = self.bindings(call, module, callee, target, bound)
                passed.update(self.constructed_with(call, module, target, bound))
                if call[1][0] == "a" and call[1][1][0] == "self":  # a method of the same object
                    passed.update((k, v) for k, v in bound.items() if k.startswith("self."))
                if passed:
                    for code, blocker in self.bound_blockers(callee, passed, depth + 1).items():
                        found.setdefault(code, _extend(link, callee, blocker))
        self._bound[memo_key] = found
        return found

    def timeout_findings(self, key: Key) -> list[Finding]:
        function = self.program.function(key)
        if function is None:
            return []
        path = self.program.modules[key[0]].path
        findings: list[Finding] = []
        for call, _awaited in function.calls:
            if last_name(call[1]) not in _TIMEOUT_NAMES:
                continue
            for value in self.program.eval(call[1], key[0]):
                if value[0] == "E":
                    name = str(value[1])
                    relevant = (
                        name in http_timeout.TIMEOUT_REQUIRED
                        or name in http_timeout.TIMEOUT_NOT_NONE
                    )
                elif value[0] == "EM":
                    name = f"{value[1]}.{value[2]}"
                    relevant = (value[1], value[2]) in http_timeout.TIMEOUT_REQUIRED_METHODS
                else:
                    continue
                if relevant and http_timeout.lacks_timeout(name, call):
                    rule = self.timeout_rule
                    label = f"{_short(name)}()"
                    message = f"{label} {rule.summary}; fix: {rule.fix}"
                    link = ChainLink(path, call[2], _dotted(key))
                    findings.append(_finding(rule, path, call[2], call[3], message, (link,)))
                    break
        return findings


def _uses(expr: Expr, scope: Key, bound: Mapping[str, frozenset[Value]]) -> bool:
    """Whether a receiver chain starts at a bound parameter or bound ``self`` attribute."""
    while True:
        kind = expr[0]
        if kind == "p":
            return bool(expr[1] == scope[1] and expr[2] in bound)
        if kind == "a" and expr[1][0] == "self" and f"self.{expr[2]}" in bound:
            return True
        if kind not in ("a", "c", "enter", "aw"):
            return False
        expr = expr[1]


def _extend(link: ChainLink, callee: Key, blocker: Blocker) -> Blocker:
    return Blocker(
        blocker.rule,
        (link, *blocker.chain),
        blocker.label,
        blocker.origin,
        (callee[1], *blocker.through),
    )


def _dotted(key: Key) -> str:
    return key[0] if key[1] == MODULE_BODY else f"{key[0]}.{key[1]}"


def _short(name: str) -> str:
    return name.removeprefix("builtins.")


def _message(rule: Rule, label: str, origin: str | None, through: tuple[str, ...]) -> str:
    text = f"{label} {rule.summary}"
    if through:
        text += ", reached through " + " -> ".join(f"{name}()" for name in through)
    if origin:
        text += f" ({origin})"
    return f"{text}; fix: {rule.fix}"


def _finding(
    rule: Rule, path: str, line: int, col: int, message: str, chain: tuple[ChainLink, ...]
) -> Finding:
    return Finding(rule.code, path, line, col + 1, message, rule.severity, None, chain)
