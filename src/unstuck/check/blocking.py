"""From every coroutine to the blocking calls it reaches on the event loop.

Every ``async def`` of the project is an entry: its body runs on the loop. A call
from it to a sync project function (or class constructor, or ``__call__``) runs that
function on the loop too, so blocking work found there, transitively, is reported at
the coroutine's call with the whole chain. What a coroutine only *passes* (to
``asyncio.to_thread``, ``run_in_executor``, ``BackgroundTasks.add_task``...) is not a call
and is never followed; a call to an ``async def`` is followed as its own entry. Sync
functions decorated with an offloader (``sync_to_async``, ``asyncify``...) are not followed.
What a call passes to untyped parameters is followed by ``bound_values``; the records
are in ``blockers``, and calls without an HTTP timeout (USK203) in ``timeouts``.
"""

from __future__ import annotations

from collections.abc import Mapping

from unstuck.check.blockers import Blocker, Hit, Scan, blocker_message, dotted_name, finding, short
from unstuck.check.bound_values import BoundValues
from unstuck.check.model import UNKNOWN, ChainLink, Expr, Finding
from unstuck.check.program import EMPTY, Key, Program, Value, keyword
from unstuck.check.rule import Rule
from unstuck.check.timeouts import timeout_findings

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
        self._scans: dict[Key, Scan] = {}
        self._blockers: dict[Key, dict[str, Blocker]] = {}
        self._offloaded: dict[Key, bool] = {}
        self._bound_values = BoundValues(self)

    # -- per function -------------------------------------------------------------

    def scan(self, key: Key) -> Scan:
        known = self._scans.get(key)
        if known is not None:
            return known
        result = Scan([], [], [])
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
                dotted = dotted_name(target)
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
            return (rule, f"{short(name)}()") if rule is not None else None
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
            or (value[0] == "F" and dotted_name(value[1]) in self.offloaders)
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
        name = dotted_name(key)
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
        name = dotted_name(key)
        findings: list[Finding] = []
        seen: set[tuple[int, int, str]] = set()
        for hit in scan.hits:
            if (hit.line, hit.col, hit.rule.code) in seen:
                continue
            seen.add((hit.line, hit.col, hit.rule.code))
            link = ChainLink(path, hit.line, name)
            message = blocker_message(hit.rule, hit.label, hit.origin, ())
            findings.append(finding(hit.rule, path, hit.line, hit.col, message, (link,)))
        for line, col, target, call in scan.sync_calls:
            found = dict(self.blockers(target))
            bindings = self._bound_values.bindings(call, key[0], target, None, {})
            bindings.update(self._bound_values.constructed_with(call, key[0], None, {}))
            if bindings:
                for code, blocker in self._bound_values.bound_blockers(target, bindings, 0).items():
                    found.setdefault(code, blocker)
            for code, blocker in found.items():
                if (line, col, code) in seen:
                    continue
                seen.add((line, col, code))
                chain = (ChainLink(path, line, name), *blocker.chain)
                through = (target[1], *blocker.through)
                message = blocker_message(blocker.rule, blocker.label, blocker.origin, through)
                findings.append(finding(blocker.rule, path, line, col, message, chain))
        return findings

    def timeout_findings(self, key: Key) -> list[Finding]:
        return timeout_findings(self.program, self.timeout_rule, key)
