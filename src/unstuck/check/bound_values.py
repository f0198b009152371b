"""Values a call passes to untyped parameters, and the blocking work done on them.

``def get_user(db, user_id): return db.query(User)...`` has no types; called from a
coroutine with a sync ``Session``, it blocks all the same. ``BoundValues`` binds what
each call passes (and what a receiver built in place stores on ``self``), then looks
for blocking calls on those values in the callee, a few calls deep, memoized per set
of bindings. The library rules and the blockers of the functions it reaches come from
the ``blocking`` analysis, handed in as two functions (so neither module imports the other).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeAlias

from unstuck.check.blockers import Blocker, Site, better, dotted_name, extend
from unstuck.check.model import (
    Attribute,
    Await,
    Call,
    ChainLink,
    Entered,
    Expr,
    Global,
    Param,
    SelfRef,
    Unknown,
)
from unstuck.check.once import ONCE_BLOCK
from unstuck.check.program import Program
from unstuck.check.rule import Rule
from unstuck.check.values import (
    Class,
    Function,
    Instance,
    Key,
    LibraryInstance,
    LibraryMethod,
    LibraryObject,
    TaskMethod,
    Value,
)

# A value whose call the library rules judge.
LibraryCallee: TypeAlias = LibraryObject | LibraryMethod | TaskMethod
Bindings: TypeAlias = Mapping[str, frozenset[Value]]
_STATICMETHOD = Global("staticmethod")
# what is followed into the callee: objects whose methods it calls, and callables it
# calls (``with_retries(send)``: a helper that calls what it is given runs it right there)
CALLABLES = (Function, LibraryObject, LibraryMethod)
# (a class too: ``run(finder_class, query)`` that calls ``finder_class(query).search()``)
_BOUND = (LibraryInstance, Instance, Class, *CALLABLES)


class BoundValues:
    def __init__(
        self,
        program: Program,
        library_blocker: Callable[[LibraryCallee], tuple[Rule, str] | None],
        blockers: Callable[[Key], dict[Site, Blocker]],
        once_reason: Callable[[Key], str | None],
    ) -> None:
        self.program = program
        self.library_blocker = library_blocker
        self.blockers = blockers
        self.once_reason = once_reason
        self._bound: dict[tuple[Key, frozenset[tuple[str, frozenset[Value]]]], dict[Site, Blocker]]
        self._bound = {}

    def bindings(
        self,
        call: Call,
        module: str,
        target: Key,
        scope: Key | None,
        bound: Bindings,
        kinds: tuple[type, ...] | None = None,
    ) -> dict[str, frozenset[Value]]:
        """What a call passes to the callee's unannotated parameters, when it is known
        (only values of ``kinds``: by default, objects and callables).

        ``def get_user(db, user_id): return db.query(User)...`` has no types; called from
        a coroutine with a sync ``Session``, it blocks all the same.
        """
        callee = self.program.function(target)
        if callee is None:
            return {}
        params = callee.params
        offset = 0
        if callee.class_qualname is not None and _STATICMETHOD not in callee.decorators:
            offset = 1
        result: dict[str, frozenset[Value]] = {}
        passed: list[tuple[str, Expr]] = []
        for index, arg in enumerate(call.args):
            if index + offset < len(params):
                passed.append((params[index + offset].name, arg))
        names = {param.name for param in params}
        passed.extend(
            (keyword.name, keyword.value) for keyword in call.keywords if keyword.name in names
        )
        annotated = {param.name for param in params if param.annotation is not None}
        for name, arg in passed:
            if isinstance(arg, Unknown) or name in annotated:
                continue
            values = frozenset(
                value
                for value in self.eval_bound(arg, module, scope, bound)
                if isinstance(value, kinds or _BOUND)
            )
            if values:
                result[name] = values
        return result

    def constructed_with(
        self,
        call: Call,
        module: str,
        scope: Key | None,
        bound: Bindings,
    ) -> dict[str, frozenset[Value]]:
        """``self.x`` values of the receiver of a method call, when the receiver is built
        right there (``UserService(db).find(...)``, or through a local variable) and its
        ``__init__`` stores an untyped parameter: ``self.db = db``."""
        match call.func:
            case Attribute(Call() as construction):
                pass
            case _:
                return {}
        result: dict[str, frozenset[Value]] = {}
        for value in self.program.eval(construction.func, module):
            if not isinstance(value, Class):
                continue
            init = self.program.method(value.key, "__init__")
            klass = self.program.klass(value.key)
            if init is None or klass is None:
                continue
            passed = self.bindings(construction, module, init, scope, bound)
            for attribute, exprs in klass.attributes.items():
                for expr in exprs:
                    if isinstance(expr, Param) and expr.function == init[1] and expr.name in passed:
                        result[f"self.{attribute}"] = passed[expr.name]
        return result

    def eval_bound(
        self, expr: Expr, module: str, scope: Key | None, bound: Bindings
    ) -> frozenset[Value]:
        """Evaluate a receiver chain where some parameters of ``scope`` have known values."""
        match expr:
            case Param(function, name) if (
                scope is not None and function == scope[1] and (name in bound)
            ):
                return bound[name]
            case Attribute(SelfRef(), name) if f"self.{name}" in bound:
                return bound[f"self.{name}"]
        if not bound:
            return self.program.eval(expr, module)
        match expr:
            case Attribute(base, name):
                return self.program.attribute(self.eval_bound(base, module, scope, bound), name)
            case Call(func):
                inner = self.eval_bound(func, module, scope, bound)
                return self.program.call(inner, expr, module)
            case Entered(value):
                return self.program.entered(self.eval_bound(value, module, scope, bound))
            case Await(value):
                return self.eval_bound(value, module, scope, bound)
            case _:
                return self.program.eval(expr, module)

    def bound_blockers(self, target: Key, bound: Bindings, depth: int) -> dict[Site, Blocker]:
        """Blocking work ``target`` does on the values bound to its parameters."""
        memo_key = (target, frozenset(bound.items()))
        known = self._bound.get(memo_key)
        if known is not None:
            return known
        self._bound[memo_key] = {}
        function = self.program.function(target)
        found: dict[Site, Blocker] = {}
        if function is None:
            return found
        module = target[0]
        path = self.program.modules[module].path
        name = dotted_name(target)
        memoised = self.once_reason(target)
        for call in function.calls:
            link = ChainLink(path, call.line, name)
            once = memoised or (ONCE_BLOCK if function.runs_once_at(call.line) else None)
            if _uses(call.func, target, bound):
                for value in self.eval_bound(call.func, module, target, bound):
                    if isinstance(value, LibraryObject | LibraryMethod | TaskMethod):
                        library = None if call.awaited else self.library_blocker(value)
                        if library is not None and library[0].through_calls:
                            rule, label = library
                            site = Site(path, call.line, call.col + 1, rule.code)
                            blocker = Blocker(rule, (link,), label, None, (), site, once)
                            found[site] = better(found.get(site), blocker)
                        continue
                    callee = self.program.callee(value)
                    callee_function = self.program.function(callee) if callee else None
                    if callee is None or callee_function is None or callee_function.is_async:
                        continue
                    for site, blocker in self.blockers(callee).items():
                        found[site] = better(found.get(site), extend(link, callee, blocker, once))
            if depth >= 3:
                continue
            for value in self.program.eval(call.func, module):
                callee = self.program.callee(value)
                callee_function = self.program.function(callee) if callee else None
                if callee is None or callee_function is None or callee_function.is_async:
                    continue
                passed = self.bindings(call, module, callee, target, bound)
                passed.update(self.constructed_with(call, module, target, bound))
                if isinstance(call.func, Attribute) and isinstance(call.func.base, SelfRef):
                    # a method of the same object sees the same ``self`` attributes
                    passed.update((k, v) for k, v in bound.items() if k.startswith("self."))
                if passed:
                    for site, blocker in self.bound_blockers(callee, passed, depth + 1).items():
                        found[site] = better(found.get(site), extend(link, callee, blocker, once))
        self._bound[memo_key] = found
        return found


def _uses(expr: Expr, scope: Key, bound: Bindings) -> bool:
    """Whether a receiver chain starts at a bound parameter or bound ``self`` attribute."""
    while True:
        match expr:
            case Param():
                return expr.function == scope[1] and expr.name in bound
            case Attribute() if isinstance(expr.base, SelfRef) and f"self.{expr.name}" in bound:
                return True
            case Attribute():
                expr = expr.base
            case Call():
                expr = expr.func
            case Entered() | Await():
                expr = expr.value
            case _:
                return False
