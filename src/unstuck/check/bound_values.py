"""Values a call passes to untyped parameters, and the blocking work done on them.

``def get_user(db, user_id): return db.query(User)...`` has no types; called from a
coroutine with a sync ``Session``, it blocks all the same. ``BoundValues`` binds what
each call passes (and what a receiver built in place stores on ``self``), then looks
for blocking calls on those values in the callee, a few calls deep, memoized per set
of bindings. It asks its ``BlockingAnalysis`` for library rules and for the blockers of
the functions it reaches.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from unstuck.check.blockers import Blocker, dotted_name, extend
from unstuck.check.model import ChainLink, Expr
from unstuck.check.program import Key, Value

if TYPE_CHECKING:
    from unstuck.check.blocking import BlockingAnalysis


class BoundValues:
    def __init__(self, analysis: BlockingAnalysis) -> None:
        self.analysis = analysis
        self.program = analysis.program
        self._bound: dict[
            tuple[Key, frozenset[tuple[str, frozenset[Value]]]], dict[str, Blocker]
        ] = {}

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
        name = dotted_name(target)
        for call, awaited in function.calls:
            link = ChainLink(path, call[2], name)
            if _uses(call[1], target, bound):
                for value in self.eval_bound(call[1], module, target, bound):
                    if value[0] in ("E", "EM", "TM"):
                        library = None if awaited else self.analysis.library_blocker(value)
                        if library is not None and library[0].through_calls:
                            blocker = Blocker(library[0], (link,), library[1], None, ())
                            found.setdefault(library[0].code, blocker)
                        continue
                    callee = self.analysis.callee(value)
                    callee_function = self.program.function(callee) if callee else None
                    if callee is None or callee_function is None or callee_function.is_async:
                        continue
                    for code, blocker in self.analysis.blockers(callee).items():
                        found.setdefault(code, extend(link, callee, blocker))
            if depth >= 3:
                continue
            for value in self.program.eval(call[1], module):
                callee = self.analysis.callee(value)
                callee_function = self.program.function(callee) if callee else None
                if callee is None or callee_function is None or callee_function.is_async:
                    continue
                passed = self.bindings(call, module, callee, target, bound)
                passed.update(self.constructed_with(call, module, target, bound))
                if call[1][0] == "a" and call[1][1][0] == "self":  # a method of the same object
                    passed.update((k, v) for k, v in bound.items() if k.startswith("self."))
                if passed:
                    for code, blocker in self.bound_blockers(callee, passed, depth + 1).items():
                        found.setdefault(code, extend(link, callee, blocker))
        self._bound[memo_key] = found
        return found


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
