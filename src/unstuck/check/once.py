"""Code that runs once per process, not once per request.

Blocking work there stalls the event loop once (at startup, on the first request), not
for every request, so it is reported apart and only on demand (``--once-per-process``):

- handlers of the application's life: ``FastAPI(lifespan=...)``, ``on_startup=[...]``,
  ``@app.on_event("startup")``, ``app.add_event_handler("shutdown", ...)`` (and the
  coroutines they await: a task they start runs on beside the requests);
- coroutines started at import time (``asyncio.run(main())`` in a module body) or by a
  command-line command (``@click.command()``, ``@app.command()`` of typer), and the
  coroutines only they call;
- coroutines a sync function runs on an event loop of their own (``asyncio.run(job())``,
  ``anyio.run``, ``loop.run_until_complete``): ``asyncio.run`` refuses to start where a
  loop runs, so that loop is never the server's (``anyio.from_thread.run``, which runs
  on the server's loop, is not one of these);
- coroutines a task queue's worker runs (``@job`` of rq, ``@dramatiq.actor``,
  ``@shared_task`` and ``@app.task`` of Celery, ``@huey.task()``): a worker process
  runs each job, not the server's event loop, and the coroutines only they call;
- memoised functions (``functools.cache``, ``lru_cache``, ``cached_property``,
  ``async_lru.alru_cache``, ``cachetools.cached``);
- blocks that fill module state once: ``if _client is None: _client = make()``
  (``FunctionSummary.once_blocks``, found while walking the module), and blocks that
  fill an instance's state once (``if key not in self._cache: ...``) when every
  instance of the class is made at import time, by a memoised function, or in the
  ``__init__`` of a class whose instances all are;
- coroutines of test doubles kept beside production code (methods of ``MockAgentService``,
  ``FakeCache``): an abstract method or a factory never runs one of them in production;
- coroutines of test code (modules ``test_*``, ``*_test``, ``conftest``, the modules of
  a ``tests`` or ``test`` package, and files under such a folder of the path checked):
  a test suite runs them, not a request; and what a test calls directly counts neither
  for nor against running once per process.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from unstuck.check.discovery import is_test_module
from unstuck.check.model import MODULE_BODY, Call, Constant, FunctionSummary, Items
from unstuck.check.program import Program, is_test_double, last_name
from unstuck.check.values import Function, Key, LibraryMethod, LibraryObject

# a background task, not a request's work: it may still stall the loop as it runs
SPAWNED_ONCE = (
    "in a task started once per process (`if _poller is None: _poller = create_task(...)`)"
)
ONCE_BLOCK = (
    "in a block that fills module state, or an instance made once per process, once "
    "(`if ... is None: ... = ...`), or makes a missing file (`if not path.exists(): ...`), "
    "or runs once per interval (`if tracker.needs_refresh(): ...`)"
)
MEMOISERS = frozenset(
    {
        "functools.cache",
        "functools.lru_cache",
        "functools.cached_property",
        "async_lru.alru_cache",
        "cachetools.cached",
        "cachetools.func.lru_cache",
        "cachetools.func.ttl_cache",
    }
)
# the names a project gives its own memoising decorators: the last part of the name
_MEMOISER_NAME = re.compile(
    r"(?:^|[._])(?:\w*_)?(?:lru_cache|ttl_cache|memoi[sz]ed?|singleton|run_once)$"
)
_LIFE_KEYWORDS = {
    "lifespan": "in the lifespan handler",
    "on_startup": "in a startup handler",
    "on_shutdown": "in a shutdown handler",
}
_EVENTS = {"startup": "in a startup handler", "shutdown": "in a shutdown handler"}
_COMMAND_DECORATORS = frozenset({"command", "group"})
# ``@app.on_event("startup")`` over ``@repeat_every(seconds=60)`` (fastapi-utils,
# fastapi-utilities): the handler starts a loop that runs the function again and again
# beside the requests, a coroutine on the event loop, a sync function in the thread pool
_REPEATERS = frozenset({"repeat_every", "repeat_at"})
IN_TESTS = "in test code (run by the test suite, not by requests)"
IN_TEST_DOUBLE = "in a test double (`Mock...`, `Fake...`: it stands in for the real class in tests)"


def memoised_by(program: Program, key: Key, function: FunctionSummary) -> str | None:
    """The memoising decorator of a function, if it has one: a library's, or one of the
    project's named as one (``@closing_lru_cache(maxsize=8)``, ``@memoize``)."""
    for decorator in function.decorators:
        target = decorator.func if isinstance(decorator, Call) else decorator
        for value in program.eval(target, key[0]):
            if isinstance(value, LibraryObject) and value.name in MEMOISERS:
                return f"memoised by {value.name}"
            if isinstance(value, Function) and _MEMOISER_NAME.search(value.key[1]):
                return f"memoised by {value.key[1]}"
    return None


def life_handlers(program: Program) -> dict[Key, str]:
    """Functions the application calls at startup or shutdown, with what they are."""
    found: dict[Key, str] = {}
    for key, function in program.functions():
        module = key[0]
        if _repeats(function):
            continue
        for decorator in function.decorators:
            # ``@app.on_event("startup")``
            if isinstance(decorator, Call) and last_name(decorator.func) == "on_event":
                event = decorator.argument("event_type", 0)
                if isinstance(event, Constant) and event.value in _EVENTS:
                    found.setdefault(key, _EVENTS[str(event.value)])
        for call in function.calls:
            for keyword in call.keywords:  # ``FastAPI(lifespan=...)``
                role = _LIFE_KEYWORDS.get(keyword.name or "")
                if role is None:
                    continue
                items = keyword.value.items if isinstance(keyword.value, Items) else ()
                for expr in items or (keyword.value,):
                    for target in _functions(program.eval(expr, module)):
                        found.setdefault(target, role)
    for key, call in program.calls_named("add_event_handler"):  # (event, handler)
        caller = program.function(key)
        event, handler = call.argument("event_type", 0), call.argument("func", 1)
        if caller is None or _repeats(caller) or handler is None:
            continue
        if isinstance(event, Constant) and event.value in _EVENTS:
            for target in _functions(program.eval(handler, key[0])):
                summary = program.function(target)
                if summary is None or not _repeats(summary):
                    found.setdefault(target, _EVENTS[str(event.value)])
    return found


def started_once(program: Program) -> dict[Key, str]:
    """Coroutines started at import time or by a command-line command."""
    found: dict[Key, str] = {}
    commands: dict[Key, str] = {}
    for key, function in program.functions():
        command = bool(function.decorators) and is_command(function)
        if key[1] == MODULE_BODY:
            reason = "started at import time"
        elif command and function.is_async:
            commands[key] = f"in the command {function.qualname}()"
            continue
        elif command:
            reason = f"started by the command {function.qualname}()"
        else:
            continue
        for call in function.calls:
            for target in _functions(program.eval(call.func, key[0])):
                callee = program.function(target)
                if callee is not None and callee.is_async:
                    found.setdefault(target, reason)
    for key, reason in commands.items():
        found.setdefault(key, reason)
    return found


def test_coroutines(program: Program) -> dict[Key, str]:
    """The coroutines of the project's test code (tests, fixtures, their helpers) and
    of its test doubles."""
    found: dict[Key, str] = {}
    for name, summary in program.modules.items():
        in_tests = summary.in_tests or is_test_module(name)
        for qualname, function in summary.functions.items():
            if not function.is_async:
                continue
            if in_tests:
                found[(name, qualname)] = IN_TESTS
            elif function.class_qualname is not None and is_test_double(function.class_qualname):
                found[(name, qualname)] = IN_TEST_DOUBLE
    return found


_OWN_LOOP_FUNCTIONS = frozenset({"asyncio.run", "anyio.run", "trio.run"})
_OWN_LOOP_METHODS = frozenset(
    {("asyncio.AbstractEventLoop", "run_until_complete"), ("asyncio.Runner", "run")}
)


def started_on_own_loop(program: Program) -> dict[Key, str]:
    """Coroutines that sync code runs to completion on an event loop of their own."""
    found: dict[Key, str] = {}
    for key, call in [*program.calls_named("run"), *program.calls_named("run_until_complete")]:
        function = program.function(key)
        if function is None or function.is_async or key[1] == MODULE_BODY or not call.args:
            continue
        starter = _own_loop_starter(program.eval(call.func, key[0]))
        if starter is None:
            continue
        started = call.args[0]
        target = started.func if isinstance(started, Call) else started  # anyio.run(job)
        for coroutine in _functions(program.eval(target, key[0])):
            callee = program.function(coroutine)
            if callee is not None and callee.is_async:
                where = f"started by {starter} in {function.qualname}()"
                found.setdefault(coroutine, f"on an event loop of its own, {where}")
    return found


def _own_loop_starter(values: Iterable[object]) -> str | None:
    for value in values:
        if isinstance(value, LibraryObject) and value.name in _OWN_LOOP_FUNCTIONS:
            return f"{value.name}()"
        if isinstance(value, LibraryMethod) and (value.cls, value.name) in _OWN_LOOP_METHODS:
            return f"{value.name}()"
    return None


def once_only(
    entries: Mapping[Key, str],
    callers: Mapping[Key, Iterable[Key]],
    per_request: set[Key],
) -> dict[Key, str]:
    """``entries`` and the coroutines that only they (transitively) call, minus what
    serves a request: a coroutine also called from anywhere else may run per request."""
    once = {key: reason for key, reason in entries.items() if key not in per_request}
    changed = True
    while changed:
        changed = False
        for key, calling in callers.items():
            if key in once or key in per_request:
                continue
            calling = list(calling)
            if calling and all(caller in once for caller in calling):
                once[key] = once[calling[0]]
                changed = True
    return once


def _repeats(function: FunctionSummary) -> bool:
    return any(
        last_name(decorator.func if isinstance(decorator, Call) else decorator) in _REPEATERS
        for decorator in function.decorators
    )


def is_command(function: FunctionSummary) -> bool:
    """A command of a command-line interface (``@click.command()``, ``@app.command()``)."""
    for decorator in function.decorators:
        target = decorator.func if isinstance(decorator, Call) else decorator
        if last_name(target) in _COMMAND_DECORATORS:
            return True
    return False


def _functions(values: Iterable[object]) -> list[Key]:
    return [value.key for value in values if isinstance(value, Function)]


# Decorators that make a function a task queue's job: a worker process runs it (rq runs
# a coroutine job with ``asyncio.run``), never the application's event loop.
_JOB_DECORATORS = frozenset(
    {"rq.decorators.job", "rq.job", "dramatiq.actor", "celery.shared_task", "huey.task"}
)
_JOB_DECORATOR_METHODS = frozenset(
    {
        ("celery.Celery", "task"),
        ("huey.api.Huey", "task"),
        ("huey.api.Huey", "periodic_task"),
        ("huey.Huey", "task"),
        ("huey.Huey", "periodic_task"),
    }
)


def worker_jobs(program: Program) -> dict[Key, str]:
    """Coroutines declared as a task queue's jobs, with the decorator that made them so."""
    found: dict[Key, str] = {}
    for key, function in program.functions():
        if not function.is_async or not function.decorators:
            continue
        for decorator in function.decorators:
            target = decorator.func if isinstance(decorator, Call) else decorator
            named = _job_decorator(program.eval(target, key[0]))
            if named is not None:
                found[key] = f"in a job of a task queue's worker (@{named}), not on the app's loop"
                break
    return found


def _job_decorator(values: Iterable[object]) -> str | None:
    for value in values:
        if isinstance(value, LibraryObject) and value.name in _JOB_DECORATORS:
            return value.name
        if isinstance(value, LibraryMethod) and (value.cls, value.name) in _JOB_DECORATOR_METHODS:
            return f"{value.cls}.{value.name}"
    return None
