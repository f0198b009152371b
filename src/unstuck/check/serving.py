"""Whether a function may run while a request is served, found from its callers.

An object kept on an instance (``if self._registry is None: self._registry =
make()``) is made once per instance. Whether that is once per process depends on
where the instances are made: an instance made per request fills itself per request.
``Serving.may_serve`` answers for the function that makes one, by walking up its
callers: it may serve a request when it is a coroutine (but the application's
start-up and shutdown handlers, commands, jobs of task queues), a dependency given to
``Depends(...)``, a route handler, a property (read where no call shows it), or is
called by one of those, directly or not. A function nothing in the project calls
(a command-line entry point, a script's ``main``, a hook a library calls) does not.
Too long a way up counts as serving: the answer stays on the side of reporting.
"""

from __future__ import annotations

from collections.abc import Iterable

from unstuck.check.discovery import is_test_module
from unstuck.check.model import MODULE_BODY, Attribute, Call, Expr, Subscript
from unstuck.check.once import life_handlers, started_once, worker_jobs
from unstuck.check.program import Program, last_name
from unstuck.check.values import Class, Function, Key

# functions looked at on the way up before giving up (and answering "may serve")
_MAX_VISITED = 200
_ROUTE_DECORATORS = frozenset(
    {"get", "post", "put", "patch", "delete", "head", "options", "api_route", "websocket"}
)


class Serving:
    def __init__(self, program: Program) -> None:
        self.program = program
        self._known: dict[Key, bool] = {}
        self._entries: frozenset[Key] | None = None
        self._dependencies: frozenset[Key] | None = None
        self._depended_classes: frozenset[Key] = frozenset()

    def may_serve(self, key: Key) -> bool:
        known = self._known.get(key)
        if known is None:
            known = self._known[key] = self._walk(key)
        return known

    def made_per_request(self, klass: Key) -> bool:
        """A class given to ``Depends(...)``: FastAPI makes an instance per request."""
        self._depended_on()
        return klass in self._depended_classes

    def _walk(self, start: Key) -> bool:
        pending, seen = [start], {start}
        while pending:
            key = pending.pop()
            if key[1] == MODULE_BODY:
                continue  # import time
            if self._serves(key):
                return True
            for caller in self._callers(key):
                if caller not in seen:
                    seen.add(caller)
                    pending.append(caller)
            if len(seen) > _MAX_VISITED:
                return True
        return False

    def _serves(self, key: Key) -> bool:
        program = self.program
        function = program.function(key)
        if function is None:
            return False
        if key in self._once_entries():
            return False
        if function.is_async or key in self._depended_on() or program.is_property(function):
            return True
        return any(
            isinstance(decorator, Call)
            and isinstance(decorator.func, Attribute)
            and decorator.func.name in _ROUTE_DECORATORS
            for decorator in function.decorators
        )

    def _callers(self, key: Key) -> Iterable[Key]:
        program = self.program
        function = program.function(key)
        if function is None:
            return []
        name = key[1].rpartition(".")[2]
        wanted: object = Function(key)
        if name == "__init__" and function.class_qualname is not None:
            name = function.class_qualname.rpartition(".")[2]
            wanted = Class((key[0], function.class_qualname))
        found: list[Key] = []
        for caller, call in program.calls_named(name):
            if program.modules[caller[0]].in_tests or is_test_module(caller[0]):
                continue
            values = program.eval(call.func, caller[0])
            if wanted in values or any(program.callee(value) == key for value in values):
                found.append(caller)
        return dict.fromkeys(found)

    def _once_entries(self) -> frozenset[Key]:
        """Coroutines that run at start-up or shutdown, as a command, or in a worker."""
        if self._entries is None:
            program = self.program
            entries = {*life_handlers(program), *started_once(program), *worker_jobs(program)}
            self._entries = frozenset(entries)
        return self._entries

    def _depended_on(self) -> frozenset[Key]:
        """The functions given to ``Depends(...)`` / ``Security(...)``: FastAPI calls
        them for each request, though no call of the project shows it."""
        if self._dependencies is None:
            program = self.program
            found: set[Key] = set()
            classes: set[Key] = set()
            for name in ("Depends", "Security"):
                for caller, call in program.calls_named(name):
                    given = call.argument("dependency", 0)
                    if given is None or last_name(call.func) != name:
                        continue
                    for value in program.eval(given, caller[0]):
                        if isinstance(value, Class):
                            classes.add(value.key)
                        callee = program.callee(value)
                        if callee is not None:
                            found.add(callee)
            # ``Depends()`` with no argument, as a default or in ``Annotated[Basket,
            # Depends()]``: the annotation is the dependency
            for key, function in program.functions():
                for param in function.params:
                    if not _may_depend_on_annotation(param.default, param.annotation):
                        continue
                    annotated = (
                        program.eval(param.annotation, key[0])
                        if param.annotation is not None
                        else frozenset()
                    )
                    for value in program.dependencies(annotated, param.default, key[0]):
                        if isinstance(value, Class):
                            classes.add(value.key)
                        callee = program.callee(value)
                        if callee is not None:
                            found.add(callee)
            self._dependencies = frozenset(found)
            self._depended_classes = frozenset(classes)
        return self._dependencies


def _may_depend_on_annotation(default: Expr | None, annotation: Expr | None) -> bool:
    """A parameter whose dependency its annotation names: a ``Depends()`` default with
    no argument, or an ``Annotated[...]`` annotation (which may hold one)."""
    if isinstance(default, Call) and last_name(default.func) in ("Depends", "Security"):
        return not default.args and default.keyword("dependency") is None
    return isinstance(annotation, Subscript) and last_name(annotation.base) == "Annotated"
