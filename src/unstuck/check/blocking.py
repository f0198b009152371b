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

import weakref
from collections.abc import Callable, Mapping
from typing import Final

from unstuck.check.blockers import (
    Blocker,
    Hit,
    Scan,
    Site,
    SyncCall,
    better,
    blocker_message,
    dotted_name,
    extend,
    short,
)
from unstuck.check.bound_values import CALLABLES, BoundValues, LibraryCallee
from unstuck.check.discovery import is_test_module
from unstuck.check.model import (
    CONTEXT_METHODS,
    ITERATED,
    MODULE_BODY,
    STALE_WHEN_TRUE,
    UNKNOWN,
    Attribute,
    Await,
    Call,
    ChainLink,
    ClassRef,
    ClassSummary,
    Constant,
    Declared,
    DictDisplay,
    Divide,
    Either,
    Entered,
    Expr,
    Finding,
    FlagBlock,
    FString,
    FunctionRef,
    FunctionSummary,
    Global,
    Imported,
    Items,
    Keyword,
    Lines,
    Narrowed,
    Ordered,
    Param,
    SelfRef,
    Subscript,
    Truthy,
    Typed,
    Unknown,
)
from unstuck.check.once import ONCE_BLOCK, is_command, memoised_by
from unstuck.check.program import Program, last_name
from unstuck.check.rule import FlagSet, GivenToWait, InMemory, Rule
from unstuck.check.serving import Serving
from unstuck.check.timeouts import timeout_findings
from unstuck.check.values import (
    EMPTY,
    Class,
    Function,
    Instance,
    Key,
    LibraryInstance,
    LibraryMethod,
    LibraryObject,
    Super,
    TaskMethod,
    Value,
    value_order,
)

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
_BUFFERS = frozenset({"io.BytesIO", "io.StringIO"})
# where a class kept in a table of classes is made: no function the analysis knows
UNKNOWN_MAKER: Key = ("", "<made from a table>")
# parameters handed on from function to function, followed to their constant at most so far
_MAX_PASSED_THROUGH = 4
# Responses that iterate a sync iterator in the thread pool (Starlette's
# ``iterate_in_threadpool``): the body of a sync generator handed to one runs there.
ITERATED_IN_THREADS = frozenset(
    {
        "starlette.responses.StreamingResponse",
        "fastapi.responses.StreamingResponse",
        "sse_starlette.sse.EventSourceResponse",
        "sse_starlette.EventSourceResponse",
        # the function those responses use, called by hand: ``async for chunk in
        # iterate_in_threadpool(stream(...))``
        "starlette.concurrency.iterate_in_threadpool",
        "fastapi.concurrency.iterate_in_threadpool",
    }
)


# keywords whose function a library (or a builtin) calls during the call itself: the
# decoders' hooks of JSON libraries, and sort keys; ``default=`` of a serialiser too
_CALLED_BACK = frozenset({"object_hook", "object_pairs_hook", "key"})


def _serialises(value: LibraryCallee) -> bool:
    """``json.dumps``, ``orjson.dumps``, ``json.dump``: ``default=`` encodes with it."""
    name = value.name if isinstance(value, LibraryObject | LibraryMethod) else ""
    return name in ("dumps", "dump") or name.endswith((".dumps", ".dump"))


# Start a coroutine as a task that runs on by itself (a task group's ``create_task``
# is not one: the group waits for its tasks before its block ends).
_SPAWNERS = frozenset({"asyncio.create_task", "asyncio.ensure_future"})
_SPAWNING_METHODS = frozenset({("asyncio.AbstractEventLoop", "create_task")})


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
        self._called_params: dict[Key, frozenset[str]] = {}
        self._by_commands: dict[Key, bool] = {}
        self._blockers: dict[Key, dict[Site, Blocker]] = {}
        self._memoised: dict[Key, str | None] = {}
        self._offloaded: dict[Key, bool] = {}
        self._wrapped: dict[Key, list[Key]] = {}
        self._reached: dict[Key, list[Blocker]] = {}
        self._calls_of: dict[Key, list[tuple[Key, Call]]] = {}
        # id of an awaited call -> (the call, kept alive so that its id stays its own;
        # the lines of its coroutine it turns off)
        self._awaited_off: dict[int, tuple[Call, list[tuple[int, int]]]] = {}
        self._long_lived: dict[Key, bool] = {}
        self._held: dict[tuple[Key, str], list[tuple[Expr, str]] | None] = {}
        self._runs: dict[Key, LibraryMethod | None] = {}
        self._serving = Serving(program)
        # Handed over through a weak proxy: this object's bound methods, held by an
        # object it owns, would make a cycle that keeps every memo of the run alive
        # until the garbage collector (off during a run) scans them all.
        this = weakref.proxy(self)
        self._bound_values = BoundValues(
            program,
            lambda value: this.library_blocker(value),
            lambda key: this.blockers(key),
            lambda key: this.once_reason(key),
        )

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
        once_at = self._once_at(key, function)
        handed = self._iterated_in_threads(function.calls, module)
        spawned = self._spawned(function.calls, module)
        # in a method of a network, its layers run as part of it: reported once, where
        # code outside the network runs it
        network = self._network_of(key, function)
        dead = self._attribute_off(key, function) if function.attribute_blocks else []
        if function.excluded_blocks:
            dead = dead + self._excluded_off(module, function)
        for call in function.calls:
            if dead and any(first <= call.line <= last for first, last in dead):
                continue  # under a test of ``self`` that no instance passes
            if function.no_loop_blocks and function.runs_without_loop_at(call.line):
                continue  # only runs when no event loop is running
            if function.failure_blocks and function.fails_at(call.line):
                continue  # undoing work for a request that fails: not per-request work
            if self._generator_entered(call, module):
                continue
            callees = program.eval(call.func, module)
            if isinstance(call.func, Param) and call.func.name in self._calls_params(key):
                # a coroutine handed in is followed from each call that hands it (above),
                # not from every caller at once
                callees = frozenset(v for v in callees if not self._is_coroutine(v))
            if not callees:
                continue
            func = call.func
            if isinstance(func, Attribute) and isinstance(func.base, SelfRef) and len(callees) == 1:
                callees = self._overridden(key, function, func.name, callees)
            # an attribute stored (``config.key = value``): only an instance's class runs
            # its ``__setattr__`` (a class's attribute is the metaclass's business)
            if (
                isinstance(func, Attribute)
                and func.name == "__setattr__"
                and call.args
                and not any(isinstance(v, Instance) for v in program.eval(func.base, module))
            ):
                continue
            if call.awaited and len(callees) > 1:
                callees = self._awaitable(callees)
            if len(callees) > 1:
                callees = self._served(callees)
            line, col = call.line, call.col
            for value in callees if len(callees) < 2 else sorted(callees, key=value_order):
                if (
                    isinstance(value, LibraryInstance)
                    and (value.cls, "__call__") in self.knowledge.methods
                ):
                    # a library object called: ``pipe(text)`` runs a model
                    value = LibraryMethod(value.cls, "__call__")
                elif isinstance(value, Instance) and program.method(value.key, "__call__") is None:
                    # an instance of a class of the project called, whose ``__call__`` is
                    # its library base's: ``model(batch)`` on a ``torch.nn.Module``
                    # subclass runs the network's forward pass
                    value = self._library_call(value.key) or value
                if (
                    network is not None
                    and isinstance(value, LibraryMethod)
                    and value.cls == network.cls
                    and (value.cls, value.name) in self.knowledge.methods
                ):
                    result.runs = network  # a layer, or the base's own computation
                    continue
                if isinstance(value, LibraryObject | LibraryMethod | TaskMethod):
                    func = call.func
                    if isinstance(func, Attribute) and func.name == "__setattr__":
                        continue  # an attribute stored on a library's object: no call
                    # ``json.loads(raw, object_hook=decode)``, ``sorted(rows, key=rank)``:
                    # the library calls the function it is given, there and then
                    for keyword in call.keywords if not call.awaited else ():
                        if keyword.name not in _CALLED_BACK and not (
                            keyword.name == "default" and _serialises(value)
                        ):
                            continue
                        for given in program.eval(keyword.value, module):
                            hook = program.callee(given)
                            summary = program.function(hook) if hook is not None else None
                            if hook is not None and summary is not None and not summary.is_async:
                                hooked = Call(UNKNOWN, line, col, (), (), False)
                                once = once_at(line)
                                result.sync_calls.append(SyncCall(line, col, hook, hooked, once))
                    if (
                        isinstance(value, LibraryMethod)
                        and isinstance(func, Attribute)
                        and not func.name.startswith("__")  # setting up or down: no hooks
                    ):
                        # a library method of a project subclass calls back its hooks
                        hooks = self._library_hooks(func.base, func.name, module)
                        for hook in hooks:
                            hooked = Call(UNKNOWN, line, col, (), (), False)
                            once = once_at(line)
                            result.sync_calls.append(SyncCall(line, col, hook, hooked, once))
                    if call.awaited or (
                        isinstance(value, LibraryMethod)
                        and value.name in CONTEXT_METHODS
                        and (value.cls, value.name) not in self.knowledge.methods
                    ):
                        # a library's ``with``: its call is what is checked, unless entering
                        # is what waits (a lock file)
                        continue
                    found = self.library_blocker(value)
                    if found is not None and _takes_ready_item(function, value, call):
                        continue
                    if (
                        found is not None
                        and _names_open(value)
                        and self._opened_for_threads(function, call, module)
                    ):
                        continue  # one syscall; its reads and writes run in a thread
                    if (
                        found is not None
                        and isinstance(value, LibraryMethod)
                        and value.name in found[0].quiet_in_except
                        and function.handles_error_at(line)
                    ):
                        continue  # cleaning up after a failure of the work in the ``try``
                    if found is not None and not self.returns_at_once(value, call, module):
                        rule, label = found
                        origin = self.origin(call.func, module)
                        once = once_at(line)
                        result.hits.append(Hit(rule, line, col, label, origin, once))
                    continue
                target = program.callee(value)
                if target is None:
                    continue
                callee = program.function(target)
                if callee is None or self.is_offloaded(target):
                    continue
                dotted = dotted_name(target)
                configured = self.extra_blocking.get(dotted)
                if configured is not None and not call.awaited:
                    label = f"{callee.qualname}()"
                    once = once_at(line)
                    result.hits.append(Hit(configured, line, col, label, None, once))
                elif callee.is_async:
                    if id(call) in spawned:
                        # a task started under a guard of module state (``if _poller is
                        # None: _poller = create_task(poll())``) is started once per
                        # process: it polls beside the requests, not for the one that
                        # started it. One kept per key of an instance's dict (``if key not
                        # in self._pending:``) is started per session, by its request.
                        once_started = function.runs_once_at(line)
                        (result.spawned_once if once_started else result.spawned).append(target)
                        continue
                    if once_at(line):
                        # awaited under a once-guard (``if client is None: client = await
                        # connect()``): runs on the loop like a call, the first time only
                        result.sync_calls.append(SyncCall(line, col, target, call, True))
                        result.awaited_once.append(target)
                        continue
                    result.async_calls.append(target)
                    result.awaited.append(SyncCall(line, col, target, call, once_at(line)))
                    if call.args or call.keywords:
                        # ``await cache.get(key, load)`` where ``get`` awaits ``load()``:
                        # this call's coroutine runs on its behalf
                        for coroutine in self._handed_coroutines(call, module, target):
                            result.async_calls.append(coroutine)
                            bare = Call(UNKNOWN, line, col, (), (), True)
                            awaited = SyncCall(line, col, coroutine, bare, once_at(line))
                            result.awaited.append(awaited)
                elif callee.yields and id(call) in handed:
                    continue  # a generator: its body runs where it is iterated
                else:
                    # a class whose metaclass keeps its one instance runs ``__init__`` the
                    # first time it is called only
                    made_once = isinstance(value, Class) and self._made_by_metaclass(value.key)
                    once = made_once or once_at(line)
                    runs = (
                        self._network_run(target)
                        if network is None and self._network_of(target, callee) is not None
                        else None
                    )
                    if runs is not None:
                        # ``tts.vits.infer(codes)``: a method of a network that runs it
                        found = self.library_blocker(runs)
                        if found is not None:
                            label = f"{callee.qualname}() (a run of a {found[1].split()[-1]})"
                            result.hits.append(Hit(found[0], line, col, label, None, once))
                    result.sync_calls.append(SyncCall(line, col, target, call, once))
                    for wrapper in self._wrappers(target):
                        result.sync_calls.append(SyncCall(line, col, wrapper, call, once))
        for read in function.attribute_reads:
            line, col, name = read.line, read.col, read.name
            if dead and any(first <= line <= last for first, last in dead):
                continue
            for value in sorted(program.eval(read.base, module), key=value_order):
                if isinstance(value, Instance):
                    getter = program.method(value.key, name)
                    getter_function = program.function(getter) if getter else None
                    if (
                        getter is not None
                        and getter_function is not None
                        and program.is_property(getter_function)
                        and not getter_function.is_async
                    ):
                        # a property read is a call without arguments
                        call = Call(UNKNOWN, line, col, (), (), False)
                        once = once_at(line)
                        result.sync_calls.append(SyncCall(line, col, getter, call, once))
                elif isinstance(value, LibraryInstance):
                    read_rule = self.knowledge.attributes.get((value.cls, name))
                    if read_rule is not None:
                        label = f"{value.cls.rpartition('.')[2]}.{name}"
                        once = once_at(line)
                        result.hits.append(Hit(read_rule, line, col, label, None, once))
        for loop in function.loops:
            if dead and any(first <= loop.line <= last for first, last in dead):
                continue
            label = f"a loop of {loop.size:,} iterations"
            once = once_at(loop.line)
            result.hits.append(Hit(self.cpu_rule, loop.line, loop.col, label, None, once))
        return result

    def _calls_params(self, key: Key) -> frozenset[str]:
        """The parameters of a function that it calls (``await factory()``)."""
        known = self._called_params.get(key)
        if known is None:
            function = self.program.function(key)
            known = frozenset(
                call.func.name
                for call in (function.calls if function is not None else ())
                if isinstance(call.func, Param) and call.func.function == key[1]
            )
            self._called_params[key] = known
        return known

    def _is_coroutine(self, value: Value) -> bool:
        if not isinstance(value, Function):
            return False
        function = self.program.function(value.key)
        return function is not None and function.is_async

    def _handed_coroutines(self, call: Call, module: str, target: Key) -> list[Key]:
        """The coroutine functions a call hands to parameters that its callee calls:
        ``await cache.get(key, factory)``, whose ``get`` does ``await factory()``, runs
        ``factory`` for this caller (whatever the parameter's annotation says)."""
        called = self._calls_params(target)
        callee = self.program.function(target)
        if not called or callee is None:
            return []
        params = callee.params
        offset = (
            1
            if callee.class_qualname is not None and params and (params[0].name in ("self", "cls"))
            else 0
        )
        passed: list[Expr] = []
        for index, arg in enumerate(call.args):
            if index + offset < len(params) and params[index + offset].name in called:
                passed.append(arg)
        passed.extend(keyword.value for keyword in call.keywords if keyword.name in called)
        found: list[Key] = []
        for arg in passed:
            for value in self.program.eval(arg, module):
                if self._is_coroutine(value):
                    assert isinstance(value, Function)
                    found.append(value.key)
        return found

    def _overridden(
        self, key: Key, function: FunctionSummary, name: str, found: frozenset[Value]
    ) -> frozenset[Value]:
        """``self.name()`` in method ``key``: besides the method ``self`` resolves to in
        the method's class, the overrides of the subclasses the project makes that run
        this very method (``FaraNextAgent`` inherits ``run``, which calls
        ``self.prepare()``, and overrides ``prepare``). A call on an instance known to be
        of one class keeps its own (``_dispatched_off``)."""
        (value,) = found
        if not isinstance(value, Function) or function.class_qualname is None:
            return found
        program = self.program
        klass = (key[0], function.class_qualname)
        method = key[1].rpartition(".")[2]
        overrides: set[Value] = set()
        for derived in program.subclasses(klass):
            override = program.method(derived, name)
            if (
                override is not None
                and override != value.key
                and program.method(derived, method) == key
                and program.constructions(derived)
            ):
                overrides.add(Function(override))
        return found | overrides if overrides else found

    def _awaitable(self, callees: frozenset[Value]) -> frozenset[Value]:
        """What an awaited call may run: where some of the candidates are coroutine
        functions (``await db.load()`` on a value that is one of several classes), the
        plain functions among them are not what runs there, since awaiting what they
        return would fail (``if isinstance(db, AsyncDb): await db.load() else: await
        run_in_threadpool(db.load)``)."""
        program = self.program
        kinds: dict[Value, bool] = {}
        for value in callees:
            target = program.callee(value)
            function = program.function(target) if target is not None else None
            if function is not None:
                kinds[value] = function.is_async
        if not any(kinds.values()):
            return callees
        return frozenset(value for value in callees if kinds.get(value, True))

    def _library_hooks(self, receiver: Expr, method: str, module: str) -> list[Key]:
        """The hooks that library method ``method`` may call back on ``receiver``."""
        program = self.program
        return [
            hook
            for value in program.eval(receiver, module)
            if isinstance(value, Super)
            or (isinstance(value, Instance) and not program.defined_beside(value.key, method))
            for hook in program.library_hooks(value.key)
        ]

    def _spawned(self, calls: list[Call], module: str) -> set[int]:
        """The coroutine calls (by id) handed to ``asyncio.create_task`` or
        ``loop.create_task`` whose task is not awaited on the spot."""
        found: set[int] = set()
        for call in calls:
            coroutine = call.argument("coro", 0)
            if call.awaited or not isinstance(coroutine, Call):
                continue
            for value in self.program.eval(call.func, module):
                if (isinstance(value, LibraryObject) and value.name in _SPAWNERS) or (
                    isinstance(value, LibraryMethod)
                    and (value.cls, value.name) in _SPAWNING_METHODS
                ):
                    found.add(id(coroutine))
        return found

    def _generator_entered(self, call: Call, module: str) -> bool:
        """``with opened() as resource`` where ``opened`` is a generator function
        (``@contextmanager``): what is entered is the generator's context manager, whose
        ``__enter__`` runs ``opened`` (already a call there), not the yielded value's."""
        func = call.func
        if not (
            isinstance(func, Attribute)
            and func.name in CONTEXT_METHODS
            and isinstance(func.base, Call)
        ):
            return False
        for value in self.program.eval(func.base.func, module):
            target = self.program.callee(value)
            maker = self.program.function(target) if target is not None else None
            if maker is not None and maker.yields:
                return True
        return False

    def _once_at(self, key: Key, function: FunctionSummary) -> Callable[[int], bool]:
        """Whether a line of ``function`` runs once per process: in a block that fills
        module state once, or one that fills its instance's state once (``if key not in
        self._cache: ...``) when that instance lasts as long as the process."""
        owner = function.class_qualname
        timed = self._clock_blocks(key, function)
        if (
            function.instance_once_blocks
            and owner is not None
            and self._lives_long((key[0], owner))
        ):
            if not timed:
                return lambda line: (
                    function.runs_once_at(line) or function.fills_instance_once_at(line)
                )
            return lambda line: (
                function.runs_once_at(line)
                or function.fills_instance_once_at(line)
                or any(block.first <= line <= block.last for block in timed)
            )
        if not timed:
            return function.runs_once_at
        return lambda line: (
            function.runs_once_at(line) or any(block.first <= line <= block.last for block in timed)
        )

    def _clock_blocks(self, key: Key, function: FunctionSummary) -> list[Lines]:
        """The stale sides of tests of freshness (``ClockGuard``): the test calls only
        functions of the project that compare the time now with a stamp, the same way,
        on an object that lives as long as the process (a tracker made per request is
        always stale), so that side runs once per interval."""
        program, module = self.program, key[0]
        found: list[Lines] = []
        for guard in function.clock_guards:
            tested = [program.callee(value) for value in program.eval(guard.test, module)]
            ways = {
                summary.tests_clock if (summary := program.function(target)) else 0
                for target in tested
                if target is not None
            }
            if len(ways) != 1 or 0 in ways or None in tested:
                continue
            test = guard.test
            if isinstance(test, Attribute) and not isinstance(test.base, Global | ClassRef):
                owners = [
                    value
                    for value in program.eval(test.base, module)
                    if not isinstance(value, Class)
                ]
                if not owners or not all(
                    isinstance(value, Instance) and self._lives_long(value.key) for value in owners
                ):
                    continue
            stale_when_true = (ways.pop() == STALE_WHEN_TRUE) != guard.negated
            stale = guard.when_true if stale_when_true else guard.when_false
            if stale is not None:
                found.append(stale)
        return found

    def _lives_long(self, klass: Key) -> bool:
        """No instance of the class is made per request: each is made at import time (a
        module-level instance), by a memoised function (``@lru_cache def
        get_translator(): return Translator()``), by the ``__init__`` of a class whose
        instances all live long (``self.git = GitClient()`` in a service made at
        import), or by code that serves no request (a command, a script, a start-up
        handler: ``serving``). A class given to ``Depends`` is made per request."""
        known = self._long_lived.get(klass)
        if known is None and (self._made_by_metaclass(klass) or self._kept_by_new(klass)):
            known = self._long_lived[klass] = True
        if known is None:
            self._long_lived[klass] = False  # a class made in its own kind's __init__
            # the instances of a base are those of its subclasses too: a method of the
            # base runs on a ``Task(spec)`` made per request
            kinds = [klass, *self.program.subclasses(klass)]
            # A class the project never makes by name (its users do, or a framework)
            # counts as made once: no request of the project makes one; unless it is
            # kept in a table of classes, from which any code may make it.
            known = all(
                not self._serving.made_per_request(kind)
                and all(self._makes_once(place, kind) for place in self._made_at_places(kind))
                for kind in kinds
            )
            self._long_lived[klass] = known
        return known

    def _made_at_places(self, klass: Key) -> list[Key]:
        """Where the class is made by name; a class never made by name but kept in a table
        of classes is made wherever the table is read: by a request, for all we know."""
        program = self.program
        places = program.constructions(klass)
        if not places and program.names_tabled(klass[1].rpartition(".")[2]):
            return [UNKNOWN_MAKER]
        return places

    def _library_call(self, klass: Key) -> LibraryMethod | None:
        """The ``__call__`` a rule lists of a library class that class ``klass`` derives
        from, when calling an instance of the class runs it."""
        methods = self.knowledge.methods
        for entry in self.program.mro(klass):
            if isinstance(entry, LibraryObject) and (entry.name, "__call__") in methods:
                return LibraryMethod(entry.name, "__call__")
        return None

    def _network_of(self, key: Key, function: FunctionSummary) -> LibraryMethod | None:
        """The library ``__call__`` of the network whose method function ``key`` is (or
        a function nested in such a method)."""
        owner = function.class_qualname
        if owner is None and ".<locals>." in key[1]:
            outer = key[1].partition(".<locals>.")[0]
            owner = outer.rpartition(".")[0] or None
            if owner is not None and self.program.klass((key[0], owner)) is None:
                owner = None
        if owner is None:
            return None
        return self._library_call((key[0], owner))

    def _network_run(self, target: Key) -> LibraryMethod | None:
        """The library call of the network that calling method ``target`` of it runs
        (it calls a layer, or another method of the network that does)."""
        known = self._runs.get(target)
        if known is not None or target in self._runs:
            return known
        if target[1].endswith(".__init__"):
            return None  # building a network runs none of it
        self._runs[target] = None  # a method that calls itself: cut
        scan = self.scan(target)
        runs = scan.runs
        function = self.program.function(target)
        network = self._network_of(target, function) if function is not None else None
        name = target[1].rpartition(".")[2]
        if runs is None and network is not None and (network.cls, name) in self.knowledge.methods:
            runs = network  # the library's own name for the computation (``forward``)
        if runs is None:
            for sync_call in scan.sync_calls:
                inner = self.program.function(sync_call.target)
                if (
                    inner is not None
                    and not sync_call.target[1].endswith(".__init__")
                    and self._network_of(sync_call.target, inner) is not None
                ):
                    runs = self._network_run(sync_call.target)
                    if runs is not None:
                        break
        self._runs[target] = runs
        return runs

    def _made_by_metaclass(self, klass: Key) -> bool:
        """A class whose metaclass (of the project) has its own ``__call__``: calling the
        class runs it, which keeps and hands back the instance it made (a singleton),
        so calls of the class per request do not make an instance each."""
        program = self.program
        for entry in program.mro(klass):
            if not isinstance(entry, Class):
                continue
            summary = program.klass(entry.key)
            if summary is None or summary.metaclass is None:
                continue
            for value in program.eval(summary.metaclass, entry.key[0]):
                if isinstance(value, Class) and program.method(value.key, "__call__"):
                    return True
        return False

    def _opened_for_threads(self, function: FunctionSummary, opening: Call, module: str) -> bool:
        """A file opened in a ``with`` (or into a local) whose reads and writes the
        function hands to a thread: ``with path.open("rb") as f: data = await
        to_thread(f.read)``. Opening it is one syscall, like a ``stat`` (USK117's); every
        other use of the file object (a method called on the loop, the object handed to
        another call or returned) keeps the ``open`` reported."""
        handed = False
        for call in function.calls:
            if _same_call(call, opening):
                continue
            func = call.func
            if isinstance(func, Attribute) and _holds(func.base, opening):
                if func.name in _FILE_OBJECT_LOCAL:
                    continue
                return False  # read, written or iterated on the loop
            given = [*call.args, *(keyword.value for keyword in call.keywords)]
            if not any(_hands_over(argument, opening) for argument in given):
                if _holds(func, opening):
                    return False
                continue  # ``os.stat(f.fileno())``: a number, not the file
            offloads = any(
                (isinstance(value, LibraryObject) and value.name in self.offloaders)
                or (isinstance(value, LibraryMethod) and value.name == "run_in_executor")
                for value in self.program.eval(func, module)
            )
            if not offloads:
                return False  # ``json.load(f)``: read where that call runs
            handed = True
        return handed and not any(_holds(returned, opening) for returned in function.returns)

    def _served(self, callees: frozenset[Value]) -> frozenset[Value]:
        """Of the overrides a call may run (an abstract method's), those of classes the
        server's own code may make: a stand-in only a command-line command makes
        (``BusSimulator(...)`` in the ``db`` command, for a message bus that a broker
        serves in production) is never the instance a request holds. All of them if none
        is."""
        kept = frozenset(
            value
            for value in callees
            if not (
                isinstance(value, Function)
                and (function := self.program.function(value.key)) is not None
                and function.class_qualname is not None
                and self._made_by_commands_only((value.key[0], function.class_qualname))
            )
        )
        return kept or callees

    def _made_by_commands_only(self, klass: Key) -> bool:
        """Every instance of the class (and of its subclasses) is made by a command of a
        command-line interface (``@app.command()``), a process of its own."""
        known = self._by_commands.get(klass)
        if known is None:
            program = self.program
            places = [
                place
                for kind in (klass, *program.subclasses(klass))
                for place in self._made_at_places(kind)
            ]
            known = bool(places) and all(
                (function := program.function(place)) is not None and is_command(function)
                for place in places
            )
            self._by_commands[klass] = known
        return known

    def _kept_by_new(self, klass: Key) -> bool:
        """A class whose ``__new__`` (of the project) hands back an instance it keeps on
        the class (``if cls._instance is None: cls._instance = super().__new__(cls)``,
        then ``return cls._instance``): every call of the class gives that one instance,
        which lives as long as the process (its ``__init__`` still runs at each call)."""
        program = self.program
        for entry in program.mro(klass):
            if not isinstance(entry, Class):
                continue
            new = program.function((entry.key[0], f"{entry.key[1]}.__new__"))
            if new is None or not new.params:
                continue
            first = new.params[0].name
            return any(
                isinstance(returned, Attribute)
                and (
                    isinstance(returned.base, ClassRef | SelfRef)
                    or (isinstance(returned.base, Param) and returned.base.name == first)
                )
                for returned in new.returns
            )
        return False

    def _makes_once(self, place: Key, klass: Key) -> bool:
        if place[1] == MODULE_BODY:
            return True
        maker = self.program.function(place)
        if maker is None:
            return False
        if memoised_by(self.program, place, maker) is not None:
            return True
        made_at = self._made_at(place, maker, klass)
        if made_at and all(maker.runs_once_at(line) for line in made_at):
            # a singleton's getter: ``if _store is None: _store = Store()`` on a global
            return True
        if self._called_once_only(place):
            # a factory only a singleton's getter calls: ``if _settings is None:
            # _settings = Settings.from_env()``
            return True
        owner = maker.class_qualname
        if owner is not None and (
            place[1].rpartition(".")[2] == "__init__" or self._fills_once(place, maker, klass)
        ):
            # once per instance of the owner: as long-lived as the owner's instances
            return self._lives_long((place[0], owner))
        return not self._serving.may_serve(place)

    def _called_once_only(self, key: Key) -> bool:
        """Every call of the function, outside tests, is in a block that runs once per
        process (``FunctionSummary.once_blocks``) or in a memoised function."""
        program = self.program
        wanted = Function(key)
        found = False
        for caller, call in program.calls_named(key[1].rpartition(".")[2]):
            if program.modules[caller[0]].in_tests or is_test_module(caller[0]):
                continue
            if wanted not in program.eval(call.func, caller[0]):
                continue
            function = program.function(caller)
            if function is None:
                return False
            if not function.runs_once_at(call.line) and self.once_reason(caller) is None:
                return False
            found = True
        return found

    def _fills_once(self, place: Key, maker: FunctionSummary, klass: Key) -> bool:
        """Every instance the function makes is kept on ``self`` by a block that fills
        it once (``if self._store is None: self._store = Store()``)."""
        if not maker.instance_once_blocks:
            return False
        lines = self._made_at(place, maker, klass)
        return bool(lines) and all(maker.fills_instance_once_at(line) for line in lines)

    def _made_at(self, place: Key, maker: FunctionSummary, klass: Key) -> list[int]:
        """The lines where function ``place`` calls class ``klass`` by name."""
        return [
            call.line
            for call in maker.calls
            if last_name(call.func) == klass[1].rpartition(".")[2]
            and Class(klass) in self.program.eval(call.func, place[0])
        ]

    def _iterated_in_threads(self, calls: list[Call], module: str) -> set[int]:
        """The calls (by id) whose result a streaming response iterates in the thread pool:
        ``StreamingResponse(read_chunks(path))``; or that a thread advances: ``chunks =
        read_chunks(path)``, then ``await asyncio.to_thread(next, chunks, None)``. A
        generator also advanced on the loop (``next(chunks)`` in another branch) is not
        one of them."""
        handed: set[int] = set()
        handing: set[int] = set()
        for call in calls:
            content = call.argument("content", 0)
            if not isinstance(content, Call) and not any(isinstance(a, Call) for a in call.args):
                continue  # nothing made by a call is handed on: most calls
            called = self.program.eval(call.func, module)
            if isinstance(content, Call) and any(
                isinstance(value, LibraryObject) and value.name in ITERATED_IN_THREADS
                for value in called
            ):
                handed.update(_generators_within(content))
                handing.add(id(call))
            if any(
                (isinstance(value, LibraryObject) and value.name in self.offloaders)
                or (isinstance(value, LibraryMethod) and value.name == "run_in_executor")
                for value in called
            ):
                handed.update(id(given) for given in call.args if isinstance(given, Call))
                handing.add(id(call))
        if handed:
            for call in calls:
                if id(call) in handing or id(call) in handed:
                    continue
                used = [*call.args, *(keyword.value for keyword in call.keywords)]
                if isinstance(call.func, Attribute) and call.func.name in _ADVANCING:
                    used.append(call.func.base)  # ``for chunk in chunks``
                for value in used:
                    if isinstance(value, Call):
                        handed.discard(id(value))
        return handed

    def library_blocker(self, value: LibraryCallee) -> tuple[Rule, str] | None:
        knowledge = self.knowledge
        match value:
            case LibraryObject(name):
                rule = knowledge.functions.get(name) or self.extra_blocking.get(name)
                return (rule, f"{short(name)}()") if rule is not None else None
            case LibraryMethod(cls, method):
                rule = knowledge.method_rule(cls, method) or self.extra_blocking.get(
                    f"{cls}.{method}"
                )
                short_name = cls.rpartition(".")[2]
                if method == ITERATED:
                    label = f"a loop over {short_name}"
                elif method in CONTEXT_METHODS:
                    label = f"`with {short_name}`"
                elif method == "__call__":
                    label = f"calling a {short_name}"
                else:
                    label = f"{short_name}.{method}()"
                return (rule, label) if rule is not None else None
            case TaskMethod(key, method):
                task = self.program.function(key)
                name = task.qualname if task is not None else "task"
                return knowledge.rules["USK111"], f"{name}.{method}()"

    def returns_at_once(self, value: LibraryCallee, call: Call, module: str) -> bool:
        """A call whose arguments ask it not to wait (``shutdown(wait=False)``), ask for
        too little work to matter (``pbkdf2_hmac(..., 2048)``), or open a file the kernel
        serves from memory (``open("/proc/self/status")``)."""
        match value:
            case LibraryMethod(cls, method):
                name = f"{cls}.{method}"
            case LibraryObject(name):
                if self.program.opens_memory_file(name, call, module):
                    return True
            case TaskMethod():
                return False
        cheap = self.knowledge.cheap_below.get(name)
        if cheap is not None:
            work = self.program.constant(call.argument(cheap.keyword, cheap.position), module)
            if isinstance(work, int) and not isinstance(work, bool) and work < cheap.limit:
                return True
        condition = self.knowledge.nonblocking.get(name)
        if condition is None:
            return False
        keyword, position, expected = condition
        argument = call.argument(keyword, position)
        if isinstance(expected, GivenToWait):
            if argument is None or argument == Constant(None):
                return True
            given = self.program.constant(argument, module)
            return isinstance(given, int | float) and not isinstance(given, bool) and given == 0
        if argument is None:
            return False
        if isinstance(expected, InMemory):
            values = self.program.eval(argument, module)
            return bool(values) and all(
                isinstance(value, LibraryInstance) and value.cls in _BUFFERS for value in values
            )
        if isinstance(expected, FlagSet):
            return any(
                isinstance(value, LibraryObject) and value.name == expected.flag
                for value in self.program.eval(argument, module)
            )
        actual = self.program.constant(argument, module)
        return actual == expected and isinstance(actual, bool) == isinstance(expected, bool)

    def is_offloaded(self, key: Key) -> bool:
        """Whether a decorator makes calls to this sync function run in a thread."""
        known = self._offloaded.get(key)
        if known is not None:
            return known
        function = self.program.function(key)
        # pebble's ``@concurrent.process`` runs it in a process of its own
        elsewhere = function is not None and self.program.runs_elsewhere(key) is not None
        offloaded = function is not None and any(
            (isinstance(value, LibraryObject) and value.name in self.offloaders)
            or (
                isinstance(value, Function)
                and (
                    dotted_name(value.key) in self.offloaders
                    or self._wraps_without_calling(value.key)
                )
            )
            for decorator in function.decorators
            for value in self.program.eval(decorator, key[0])
        )
        offloaded = offloaded or elsewhere
        self._offloaded[key] = offloaded
        return offloaded

    def _wrappers(self, key: Key) -> list[Key]:
        """The sync wrappers that decorators of the project put around function ``key``
        (``@retry(times=3)`` whose wrapper sleeps between tries, ``@auto_init()`` that
        queries before ``__init__`` runs): calling the function runs them, there."""
        known = self._wrapped.get(key)
        if known is not None:
            return known
        found: list[Key] = []
        program = self.program
        function = program.function(key)
        for decorator in function.decorators if function is not None else ():
            for value in program.eval(decorator, key[0]):
                if not isinstance(value, Function):
                    continue
                inner = value.key[1] + "."
                for returned in program.returns_of(value.key):
                    if not isinstance(returned, Function) or returned.key in found:
                        continue
                    wrapper = program.function(returned.key)
                    # a function the decorator makes (not the one it was given, returned)
                    if returned.key[1].startswith(inner) and wrapper and not wrapper.is_async:
                        found.append(returned.key)
        # a single-dispatch function runs the implementation registered for its argument
        for implementation in program.dispatched_to(key):
            registered = program.function(implementation)
            if registered is not None and not registered.is_async:
                found.append(implementation)
        self._wrapped[key] = found
        return found

    def _wraps_without_calling(self, decorator: Key) -> bool:
        """A decorator of the project that returns a coroutine function which never calls
        the function it wraps, only hands it on: ``async def wrapper(*args): return await
        loop.run_in_executor(None, partial(fn, *args))``. Calls of what it decorates then
        run the body wherever it was handed (a thread), not on the loop."""
        program = self.program
        function = program.function(decorator)
        if function is None or not function.params or not function.returns:
            return False
        wrapped = function.params[0].name
        for returned in function.returns:
            if not isinstance(returned, FunctionRef):
                return False
            wrapper = program.function((decorator[0], returned.function))
            if wrapper is None or not wrapper.is_async:
                return False
            for call in wrapper.calls:
                called = call.func
                if isinstance(called, Param) and called.name == wrapped:
                    return False  # ``return fn(*args)``: the body runs here, on the loop
        return True

    def origin(self, expr: Expr, module: str) -> str | None:
        """Where the receiver of a call comes from, when FastAPI injected it."""
        root = expr
        while True:
            match root:
                case Attribute(base) | Entered(base) | Await(base) | Call(base):
                    root = base
                case _:
                    break
        if not isinstance(root, Param):
            return None
        program = self.program
        annotated = program.eval(root.annotation, module) if root.annotation is not None else EMPTY
        dependencies = program.dependencies(annotated, root.default, module)
        if not dependencies:
            return None
        project = (Function, Class, Instance)
        names = sorted({value.key[1] for value in dependencies if isinstance(value, project)})
        return f"`{root.name}` is injected by Depends({', '.join(names)})"

    # -- transitive ---------------------------------------------------------------

    def once_reason(self, key: Key) -> str | None:
        """Why every call of this function after the first does no work (memoised)."""
        if key not in self._memoised:
            function = self.program.function(key)
            self._memoised[key] = (
                memoised_by(self.program, key, function) if function is not None else None
            )
        return self._memoised[key]

    def blockers(self, key: Key, depth: int = 0) -> dict[Site, Blocker]:
        """Blocking work a sync function does when called, by site (the best chain)."""
        known = self._blockers.get(key)
        if known is not None:
            return known
        self._blockers[key] = {}
        found: dict[Site, Blocker] = {}
        scan = self.scan(key)
        path = self.program.modules[key[0]].path
        name = dotted_name(key)
        memoised = self.once_reason(key)
        for hit in scan.hits:
            if hit.rule.through_calls:
                blocker = self._hit_blocker(hit, path, name, memoised)
                found[blocker.site] = better(found.get(blocker.site), blocker)
        if depth < _MAX_DEPTH:
            bound = self._bound_values
            for sync_call in scan.sync_calls:
                target = sync_call.target
                link = ChainLink(path, sync_call.line, name)
                once = memoised or (ONCE_BLOCK if sync_call.once else None)
                reached = self._flagged_off(
                    sync_call.call, key[0], target, self.blockers(target, depth + 1)
                )
                # a function this one hands to the callee, which calls it (a retry loop)
                handed = bound.bindings(sync_call.call, key[0], target, None, {}, CALLABLES)
                if handed:
                    reached = {**bound.bound_blockers(target, handed, 0), **reached}
                for site, blocker in reached.items():
                    extended = extend(link, target, blocker, once)
                    found[site] = better(found.get(site), extended)
        self._blockers[key] = found
        return found

    def _flagged_off(
        self, call: Call, module: str, target: Key, reached: dict[Site, Blocker]
    ) -> dict[Site, Blocker]:
        """``reached`` without what the call (made in ``module``) turns off:
        ``load(path, process=False)`` never runs ``if process: parse(path)``, nor
        ``save(data, to=Target.MEMORY)`` ``if to == Target.DISK: ...``."""
        if not reached:
            return reached
        if not self._binds(call, module, target):
            return {}
        reached = self._dispatched_off(call, module, target, reached)
        reached = self._forwarded_off(call, module, target, reached)
        spans = self._off_spans(call, module, target)
        if not spans:
            return reached
        return _outside(reached, spans)

    def _binds(self, call: Call, module: str, target: Key) -> bool:
        """Whether the call can bind the arguments it writes to the parameters of the
        function it names: a call with an argument the function does not take, or
        without one it needs (``invoke(query, session_id)`` called as ``invoke(query,
        sid, history=h)``), raises ``TypeError`` before any of the function runs. Only
        a plain call of the function or class by its name is judged (not a partial, a
        decorated function, or a callback), and only when every argument is written out."""
        callee = self.program.function(target)
        if callee is None or callee.signature is None or callee.decorators:
            return True
        name = target[1].rpartition(".")[2]
        if name.startswith("__") and name != "__init__":
            return True
        if (
            not isinstance(call.func, Global | Imported | FunctionRef | Attribute)
            or any(isinstance(arg, Unknown) for arg in call.args)
            or any(keyword.name is None for keyword in call.keywords)
        ):
            return True  # ``partial(f, x)()``, ``*args``, ``**options``: not judged
        program = self.program
        named = program.eval(call.func, module)
        klass = target[1].rpartition(".")[0]
        made = name == "__init__" and Class((target[0], klass)) in named
        if Function(target) not in named and not made:
            return True
        # by its own name only: a name that holds something else (``self.run =
        # partial(f, x)``, ``go = f``) may hand more arguments on
        if last_name(call.func) != (klass.rpartition(".")[2] if made else name):
            return True
        signature = callee.signature
        positional, required = signature.positional, signature.required
        if callee.class_qualname is not None:
            # a method called on an instance (or a class made): its first parameter is
            # bound; called on the class itself it is not, and that is not judged
            if not made and not (
                isinstance(call.func, Attribute)
                and not any(isinstance(v, Class) for v in program.eval(call.func.base, module))
            ):
                return True
            required = required - set(positional[:1])
            positional = positional[1:]
        if len(call.args) > len(positional) and not signature.varargs:
            return False
        given = set(positional[: len(call.args)])
        by_keyword = set(positional[signature.positional_only :]) | set(signature.keyword_only)
        for keyword in call.keywords:
            assert keyword.name is not None
            if keyword.name in given or (keyword.name not in by_keyword and not signature.varkw):
                return False
            given.add(keyword.name)
        return not (required - given)

    def _forwarded_off(
        self, call: Call, module: str, target: Key, reached: dict[Site, Blocker]
    ) -> dict[Site, Blocker]:
        """``reached`` without what the callee's own calls turn off once the constants
        this call gives its parameters are handed on: ``submit(name)`` calls
        ``self._submit(name, wait=wait)``, whose ``if wait:`` is off for this call
        though another caller of ``submit`` passes ``wait=True``."""
        callee = self.program.function(target)
        if callee is None or not callee.params:
            return reached
        names = [param.name for param in callee.params]
        skipped = _bound_first(callee, names)
        constants: dict[str, Constant] = {}
        for index, param in enumerate(callee.params):
            given = _given(call, param.name, index - skipped)
            if given is None:
                given = param.default
            if isinstance(given, Constant):
                constants[param.name] = given
        if not constants:
            return reached
        program = self.program
        off: dict[tuple[int, str], list[tuple[int, int]]] = {}
        for sync_call in self.scan(target).sync_calls:
            inner = sync_call.call
            handed = _handed_constants(inner, callee.qualname, constants)
            if handed is None or not program.function(sync_call.target):
                continue
            spans = self._off_spans(handed, target[0], sync_call.target)
            if spans:
                off[(sync_call.line, dotted_name(sync_call.target))] = spans
        if not off:
            return reached
        kept: dict[Site, Blocker] = {}
        for site, blocker in reached.items():
            chain = blocker.chain
            turned = off.get((chain[0].line, chain[1].function)) if len(chain) > 1 else None
            if turned and any(first <= chain[1].line <= last for first, last in turned):
                continue
            kept[site] = blocker
        return kept

    def _dispatched_off(
        self, call: Call, module: str, target: Key, reached: dict[Site, Blocker]
    ) -> dict[Site, Blocker]:
        """``reached`` without the overrides that the method's calls on ``self`` cannot
        run for the receivers of this call: ``catalog.listing()`` on a
        ``MemoryCatalog`` runs its own ``_entries``, not another subclass's, where
        ``listing`` (of the base) calls ``self._entries()``. A receiver known only as a
        class whose method is abstract keeps every override."""
        func = call.func
        program = self.program
        callee = program.function(target)
        if not isinstance(func, Attribute) or callee is None or callee.class_qualname is None:
            return reached
        receivers = program.eval(func.base, module)
        if not receivers or not all(isinstance(value, Instance) for value in receivers):
            return reached
        off: set[tuple[int, str]] = set()
        for sync_call in self.scan(target).sync_calls:
            inner = sync_call.call.func
            if not (isinstance(inner, Attribute) and isinstance(inner.base, SelfRef)):
                continue
            runs = {
                program.method(value.key, inner.name)
                for value in receivers
                if isinstance(value, Instance)
            }
            if any(
                method is None or (found := program.function(method)) is None or found.stub
                for method in runs
            ):
                continue
            if sync_call.target not in runs:
                off.add((sync_call.line, dotted_name(sync_call.target)))
        if not off:
            return reached
        return {
            site: blocker
            for site, blocker in reached.items()
            if len(blocker.chain) < 2
            or (blocker.chain[0].line, blocker.chain[1].function) not in off
        }

    def _off_spans(self, call: Call, module: str, target: Key) -> list[tuple[int, int]]:
        """The lines of ``target`` that the call (made in ``module``) turns off. Only a
        constant passed (by keyword, or by position when every argument before it is
        known: no ``*args`` shifts it), or the parameter's constant default when the
        call passes nothing for it, counts."""
        callee = self.program.function(target)
        if callee is None or not callee.flag_blocks:
            return []
        names = [param.name for param in callee.params]
        skipped = _bound_first(callee, names)

        def turned_off(block: FlagBlock) -> bool:
            if block.name not in names:
                return False
            index = names.index(block.name)
            given, given_in = _given(call, block.name, index - skipped), module
            if given is None:
                given, given_in = callee.params[index].default, target[0]
            elif isinstance(given, Param):
                passed = self._passed_through(given, module, 0)
                if passed is not None:
                    given, given_in = passed
            if given is None:
                return False
            return self._given_turns_off(block, given, given_in, target[0])

        off = [
            block
            for block in callee.flag_blocks
            if turned_off(block) and all(turned_off(other) for other in block.also)
        ]
        if not off:
            return []
        spans = [(block.first, block.last) for block in off]
        for filled in callee.filled_blocks:  # ``if pushed:``, filled only where it is off
            if all(any(first <= line <= last for first, last in spans) for line in filled.fills):
                spans.append((filled.first, filled.last))
        return spans

    def _attribute_off(self, key: Key, function: FunctionSummary) -> list[tuple[int, int]]:
        """The lines of method ``key`` under a test of an attribute of ``self`` that
        every instance fails: ``if self.style == Style.CENTRAL:`` where every
        construction passes ``style=Style.STRIPED`` to the ``__init__`` that stores it."""
        if function.class_qualname is None:
            return []
        klass = (key[0], function.class_qualname)
        spans: list[tuple[int, int]] = []
        for block in function.attribute_blocks:
            held = self._held_by_every_instance(klass, block.name)
            if not held:
                continue
            if all(self._fails(block, value, where, key[0]) for value, where in held):
                spans.append((block.first, block.last))
        return spans

    def _excluded_off(self, module: str, function: FunctionSummary) -> list[tuple[int, int]]:
        """The blocks of ``if kind == Kind.NOTION:`` after ``if kind in LIVE: return``,
        where ``LIVE`` holds every constant the test names: never reached."""
        spans: list[tuple[int, int]] = []
        for block in function.excluded_blocks:
            members = self._members(block.container, module)
            if members and all(
                any(
                    self._same_value(value, module, member, where) is True
                    for member, where in members
                )
                for value in block.values
            ):
                spans.append((block.first, block.last))
        return spans

    def _members(self, container: Expr, module: str) -> list[tuple[Expr, str]]:
        """The items of a set, list or tuple of constants a name is bound to (also as
        ``frozenset({...})``), with the module each is written in."""
        program = self.program
        found: list[tuple[Expr, str]] = []
        pending, depth = [(container, module)], 0
        while pending and depth < 4:
            later: list[tuple[Expr, str]] = []
            for shown, where in pending:
                if isinstance(shown, Global | Imported | Attribute):
                    bound = program.module_bindings(shown, where)
                    if not bound:
                        return []
                    later.extend(bound)  # a name bound to it, imported from elsewhere
                    continue
                if isinstance(shown, Typed):
                    continue  # ``LIVE: frozenset[Kind]``: its annotation, bound beside
                if isinstance(shown, Declared):  # ``LIVE: frozenset[Kind] = frozenset({})``
                    shown = shown.value
                if isinstance(shown, Call) and len(shown.args) == 1 and not shown.keywords:
                    shown = shown.args[0]  # ``frozenset({...})``
                if not isinstance(shown, Items):
                    return []
                found.extend((item, where) for item in shown.items)
            pending, depth = later, depth + 1
        return [] if pending else found

    def _fails(self, block: FlagBlock, value: Expr, where: str, module: str) -> bool:
        if block.values and isinstance(block.values[0], Ordered):
            holds = block.values[0].holds(value)
            return holds is not None and holds != block.when
        if block.values:
            same = [self._same_value(value, where, tested, module) for tested in block.values]
            return (block.when and all(s is False for s in same)) or (
                not block.when and any(s is True for s in same)
            )
        truth = _known_truth(value)
        return truth is not None and truth != block.when

    def _held_by_every_instance(self, klass: Key, name: str) -> list[tuple[Expr, str]] | None:
        """The constants attribute ``name`` may hold on an instance of class ``klass``
        (or of a class derived from it), with the module each is written in: those
        stored in it by the classes' own code, and for ``self.name = param`` in an
        ``__init__``, what every construction of the class passes for ``param``.
        ``None`` when anything else may be in it: a value not constant, a construction
        not seen (the class handed on or kept in a table), an attribute stored from
        outside (``obj.name = ...``, ``setattr``), or a base class of a library."""
        if (klass, name) in self._held:
            return self._held[(klass, name)]
        self._held[(klass, name)] = None
        program = self.program
        kinds: list[Key] = []
        for entry in program.mro(klass):
            if isinstance(entry, LibraryObject):
                if entry.name not in _PLAIN_BASES:
                    return None
            else:
                kinds.append(entry.key)
        kinds.extend(program.subclasses(klass))
        for kind in kinds:
            summary = program.klass(kind)
            if summary is None:
                return None
            for base in summary.bases:
                # ``AsyncContextManager["Browser"]``: the generic class itself
                generic = base.base if isinstance(base, Subscript) else base
                found = program.eval(generic, kind[0])
                if not found or any(
                    isinstance(value, LibraryObject) and value.name not in _PLAIN_BASES
                    for value in found
                ):
                    return None
        if any(
            call.args[:1] == (Constant(name),) for _, call in program.calls_named("__setattr__")
        ) or any(call.args[1:2] == (Constant(name),) for _, call in program.calls_named("setattr")):
            return None
        held: list[tuple[Expr, str]] = []
        for kind in kinds:
            summary = program.klass(kind)
            assert summary is not None
            for value in summary.attributes.get(name, ()):
                if isinstance(value, Param):
                    given = self._given_to_init(kind, value)
                    if given is None:
                        return None
                    held.extend(given)
                elif isinstance(value, Constant) or (
                    isinstance(value, Attribute) and self._one_class(value.base, kind[0])
                ):
                    held.append((value, kind[0]))
                else:
                    return None
        self._held[(klass, name)] = held
        return held

    def _given_to_init(self, kind: Key, param: Param) -> list[tuple[Expr, str]] | None:
        """What every construction of class ``kind`` passes for ``param`` of its own
        ``__init__`` (its default when it passes nothing), when each is a constant."""
        program = self.program
        init = (kind[0], f"{kind[1]}.__init__")
        function = program.function(init)
        if param.function != init[1] or function is None or function.decorators:
            return None
        name = kind[1].rpartition(".")[2]
        if program.names_handed(name) or program.names_tabled(name):
            return None
        names = [each.name for each in function.params]
        index = names.index(param.name) - _bound_first(function, names)
        made = [Class(each) for each in (kind, *program.subclasses(kind))]
        given: list[tuple[Expr, str]] = []
        for where, call in program.calls_named(name):
            if program.modules[where[0]].in_tests or is_test_module(where[0]):
                continue
            values = program.eval(call.func, where[0])
            if not values:
                return None  # a call of that name on what is not known: maybe this class
            if not any(each in values for each in made):
                continue
            if any(keyword.name is None for keyword in call.keywords):
                return None  # ``**options``
            passed = _given(call, param.name, index)
            if passed is None:
                passed, where = param.default, kind
            if not (
                isinstance(passed, Constant)
                or (isinstance(passed, Attribute) and self._one_class(passed.base, where[0]))
            ):
                return None
            given.append((passed, where[0]))
        return given or None

    def _given_turns_off(self, block: FlagBlock, given: Expr, given_in: str, module: str) -> bool:
        """Whether ``given`` (written in ``given_in``) for the parameter a flag block of a
        function of ``module`` tests leaves the block's lines off."""
        if block.values == (Constant(None),) and (
            given is _OBJECT or self._never_none(given, given_in)
        ):
            # ``if output_dir is None:`` where the call passes an object it made
            return block.when
        if block.values and isinstance(block.values[0], Narrowed):
            # ``if isinstance(image, UploadFile):`` given a ``str``
            if given is _OBJECT:
                return False
            held = self._instance_of(given, given_in, block.values[0].classes, module)
            return held is not None and held != block.when
        if given is _OBJECT:
            return False
        if block.values and isinstance(block.values[0], Ordered):
            # ``if shard_size > 0:`` given ``0``
            holds = block.values[0].holds(given)
            return holds is not None and holds != block.when
        if block.values:
            same = [self._same_value(given, given_in, v, module) for v in block.values]
            return (block.when and all(s is False for s in same)) or (not block.when and any(same))
        truth = _known_truth(given)
        return truth is not None and truth != block.when

    def _off_for_every_caller(self, key: Key) -> list[tuple[int, int]]:
        """The lines of coroutine ``key`` that every call of it turns off (a coroutine is
        an entry of its own, analyzed once for all its callers): ``if file_path is not
        None:`` when no caller passes one."""
        function = self.program.function(key)
        if function is None or not function.flag_blocks:
            return []
        calls = self._every_call(key)
        if not calls:
            return []
        spans: list[tuple[int, int]] | None = None
        for where, call in calls:
            off = self._off_spans(call, where[0], key)
            spans = off if spans is None else [span for span in spans if span in off]
            if not spans:
                return []
        return spans or []

    def callers_leaving_on(self, key: Key, blocker: Blocker) -> list[Key] | None:
        """The coroutines whose calls of coroutine ``key`` run the first line of
        ``blocker``'s chain (``_callers_leaving_line``), or, when that line calls a sync
        function that tests a parameter ``key`` hands on from its own (``self.upload(
        request, file)`` where ``upload`` does ``if file:``), those whose calls give
        ``key`` a value that leaves that test on. ``None`` when every caller counts."""
        found = self._callers_leaving_line(key, blocker.chain[0].line)
        if found is not None or len(blocker.chain) < 2:
            return found
        first, second = blocker.chain[0], blocker.chain[1]
        for sync_call in self.scan(key).sync_calls:
            if sync_call.line != first.line or dotted_name(sync_call.target) != second.function:
                continue
            callee = self.program.function(sync_call.target)
            if callee is None:
                continue
            for block in callee.flag_blocks:
                if block.also or not block.first <= second.line <= block.last:
                    continue
                through = self._handed_on(sync_call.target, block, sync_call.call, key, 0)
                if through is not None:
                    return through
        return None

    def _callers_leaving_line(self, key: Key, line: int) -> list[Key] | None:
        """The coroutines whose calls of coroutine ``key`` leave its ``line`` on, when
        some call turns it off (``temporary_agent()`` never runs ``if socket_dir is not
        None:``, though another caller passes one): the routes that reach the line are
        those of these callers. ``None`` when every caller counts: no call turns the
        line off, or some use of ``key`` is not a call the analysis knows, or is made by
        a sync function (which hands the coroutine on)."""
        function = self.program.function(key)
        if function is None or not any(
            block.first <= line <= block.last for block in function.flag_blocks
        ):
            return None
        calls = self._every_call(key)
        if not calls:
            return None
        leaving: list[Key] = []
        turned_off = False
        blocks = [
            block
            for block in function.flag_blocks
            if block.first <= line <= block.last and not block.also
        ]
        for where, call in calls:
            caller = self.program.function(where)
            if caller is None or not caller.is_async:
                return None
            spans = self._off_spans(call, where[0], key)
            if any(first <= line <= last for first, last in spans):
                turned_off = True
                continue
            # the caller hands the flag on from a parameter of its own: its callers decide
            through = next(
                (
                    found
                    for block in blocks
                    if (found := self._handed_on(key, block, call, where, 0)) is not None
                ),
                None,
            )
            if through is None:
                through = [where]
            else:
                turned_off = True
            leaving.extend(caller for caller in through if caller not in leaving)
        return leaving if turned_off else None

    def _handed_on(
        self, key: Key, block: FlagBlock, call: Call, where: Key, depth: int
    ) -> list[Key] | None:
        """When ``call`` (made by coroutine ``where``) gives the parameter that ``block``
        of ``key`` tests a parameter of ``where`` itself, unchanged (``await
        upload_file(file)`` in ``add_connection(name, file=None)``): the coroutines whose
        calls of ``where`` leave the block on, through up to three such hand-overs
        (``POST /connections`` calls ``add_connection(name)``: never uploads). ``None``
        when that is not known, or no caller turns the block off."""
        callee = self.program.function(key)
        holder = self.program.function(where)
        if callee is None or holder is None or depth > 2:
            return None
        names = [param.name for param in callee.params]
        if block.name not in names:
            return None
        given = _given(call, block.name, names.index(block.name) - _bound_first(callee, names))
        if not isinstance(given, Param) or given.function != where[1]:
            return None
        held = [param.name for param in holder.params]
        if given.name not in held:
            return None
        index = held.index(given.name)
        calls = self._every_call(where)
        if not calls:
            return None
        leaving: list[Key] = []
        turned_off = False
        for caller, outer in calls:
            summary = self.program.function(caller)
            if summary is None or not summary.is_async:
                return None
            passed = _given(outer, given.name, index - _bound_first(holder, held))
            passed_in = caller[0]
            if passed is None:
                passed, passed_in = holder.params[index].default, where[0]
            if isinstance(passed, Param) and passed.function == caller[1]:
                deeper = Call(
                    UNKNOWN, outer.line, outer.col, (), (Keyword(block.name, passed),), False
                )
                through = self._handed_on(key, block, deeper, caller, depth + 1)
                if through is not None:
                    turned_off = True
                    leaving.extend(each for each in through if each not in leaving)
                    continue
            elif passed is not None and self._given_turns_off(block, passed, passed_in, key[0]):
                turned_off = True
                continue
            if caller not in leaving:
                leaving.append(caller)
        return leaving if turned_off else None

    def awaited_off(self, call: Call, module: str, target: Key) -> list[tuple[int, int]]:
        """The lines of coroutine ``target`` that ``call`` (awaited in ``module``) turns
        off: its flag blocks, for the coroutines it awaits there."""
        known = self._awaited_off.get(id(call))
        if known is None:
            known = self._awaited_off[id(call)] = (call, self._off_spans(call, module, target))
        return known[1]

    def _every_call(self, key: Key) -> list[tuple[Key, Call]]:
        """Every call of function ``key``, with the function it is made in; empty when
        some use of it is not known: handed on (``Depends(...)``, a task, a callback),
        decorated (a route, a handler: called by a framework), a dunder method (called
        by what no call names, ``Cls(...)`` for ``__init__``), or a call of that name
        on something the analysis does not resolve (which may be this function)."""
        known = self._calls_of.get(key)
        if known is not None:
            return known
        self._calls_of[key] = []
        program = self.program
        function = program.function(key)
        name = key[1].rpartition(".")[2]
        # a dunder runs where no call names it (``Cls(...)`` runs ``__init__``)
        if name.startswith("__") or function is None:
            return []
        if not all(self._passes_calls_on(each, key[0]) for each in function.decorators):
            return []
        if program.names_handed(name):
            return []
        found: list[tuple[Key, Call]] = []
        wanted = Function(key)
        for where, call in program.calls_named(name):
            values = program.eval(call.func, where[0])
            if not values:
                return []
            if wanted in values:
                found.append((where, call))
        self._calls_of[key] = found
        return found

    def _passes_calls_on(self, decorator: Expr, module: str) -> bool:
        """A decorator under which a call by name still runs the function with the
        call's arguments, and nothing else calls it: ``staticmethod``, ``classmethod``,
        or one of the project's that returns a wrapper of its own making which calls the
        function (``@traced(name=...)``). A decorator that registers the function (a
        route, a handler, a task) lets a framework call it too."""
        if last_name(decorator) in _NOT_REGISTERING:
            return True
        program = self.program
        values = program.eval(decorator, module)
        if values and all(
            isinstance(value, LibraryObject) and value.name in _CALLING_DECORATORS
            for value in values
        ):
            return True
        if not any(isinstance(value, Function) for value in values):
            return False
        for value in values:
            if isinstance(value, LibraryInstance) and value.cls in _CALLABLE_TYPES:
                continue  # what an annotation (``-> Callable``) adds to the function made
            if not isinstance(value, Function):
                return False
            decorator_function = program.function(value.key)
            if decorator_function is None or not decorator_function.params:
                return False
            wrapped = decorator_function.params[0].name
            inner = value.key[1] + "."
            returned = program.returns_of(value.key)
            if not returned:
                return False
            for each in returned:
                if isinstance(each, LibraryInstance) and each.cls in _CALLABLE_TYPES:
                    continue
                if not isinstance(each, Function) or not each.key[1].startswith(inner):
                    return False
                wrapper = program.function(each.key)
                if wrapper is None or not any(
                    isinstance(call.func, Param) and call.func.name == wrapped
                    for call in wrapper.calls
                ):
                    return False
        return True

    def _passed_through(self, param: Param, module: str, depth: int) -> tuple[Expr, str] | None:
        """The one constant that every call of the function ``param`` belongs to gives
        it (a parameter handed on: ``shoot(file_path=file_path)`` in a function that
        every caller calls without ``file_path``), with the module it is written in."""
        key = (module, param.function)
        function = self.program.function(key)
        if function is None or depth > _MAX_PASSED_THROUGH:
            return None
        names = [each.name for each in function.params]
        if param.name not in names:
            return None
        index = names.index(param.name)
        skipped = _bound_first(function, names)
        found: tuple[Expr, str] | None = None
        calls = self._every_call(key)
        if not calls:
            return None
        for where, call in calls:
            given = _given(call, param.name, index - skipped)
            given_in = where[0]
            if given is None:
                given, given_in = function.params[index].default, key[0]
            if isinstance(given, Param):
                passed = self._passed_through(given, given_in, depth + 1)
                if passed is None:
                    return None
                given, given_in = passed
            if given is None:
                return None
            if (
                given is not _OBJECT
                and not isinstance(given, Constant)  # a constant is known as it is
                and self._never_none(given, given_in)
            ):
                given = _OBJECT
            if not isinstance(given, Constant | Attribute) and given is not _OBJECT:
                return None
            same = found is None or self._same_value(*found, given, given_in)
            if same is not True:
                return None
            found = (given, given_in)
        return found

    def _same_value(self, left: Expr, left_in: str, right: Expr, right_in: str) -> bool | None:
        """Whether two constants are equal: ``None`` when that is not known. Members of
        one class of the project compare by the constants they are set to (``auto()``
        members by name): ``Target.DISK`` is not ``Target.MEMORY``."""
        if left is _OBJECT or right is _OBJECT:
            # two objects are alike as far as ``is None`` goes, and nothing more is known
            return True if left is right else None
        match left, right:
            case Constant(a), Constant(b):
                return type(a) is type(b) and a == b
            case Attribute(left_base, a), Attribute(right_base, b):
                owner = self._one_class(left_base, left_in)
                if owner is None or owner != self._one_class(right_base, right_in):
                    return None
                if a == b:
                    return True
                summary = self.program.klass(owner.key)
                if summary is None:
                    return None
                left_value, right_value = _member(summary, a), _member(summary, b)
                if left_value is None or right_value is None:
                    return None
                return left_value == right_value
        return None

    def _never_none(self, expr: Expr, module: str) -> bool:
        """The expression makes an object: a class of the project called, or a library
        class whose call makes an instance of it (``Path(temp_dir)``), a path joined
        (``work_dir / "out"``); or a parameter after ``if output_dir is None:
        output_dir = Path(...)``. Never ``None``."""
        match expr:
            case Divide() | FString() | Items() | DictDisplay() | Truthy():
                # a path joined, a text formatted, a display, a local under ``if name:``
                return True
            case Constant(value):
                return value is not None
            case Param(annotation=annotation, default=default) if annotation is not None:
                # ``text: str`` with no ``None`` default: a value of that type is passed
                return _plain_type(annotation) and default != Constant(None)
            case Either(Param() as param, other) | Either(other, Param() as param):
                return self._never_none(other, module) and self._defaulted(param, module)
            case Either(left, right):
                return self._never_none(left, module) and self._never_none(right, module)
            case Declared(value):
                return self._never_none(value, module)
            case Call():
                pass
            case _:
                return False
        program = self.program
        made = program.eval(expr.func, module)
        if not made:
            return False
        if all(isinstance(value, Class) for value in made):
            return True
        if all(isinstance(value, Function) for value in made) and all(
            (called := program.function(value.key)) is not None
            and not called.is_async
            and called.return_annotation is not None
            and _plain_type(called.return_annotation)
            for value in made
            if isinstance(value, Function)
        ):
            # ``download_user_id(request) -> str``: a function of the project that says it
            # returns a builtin type, not ``Optional``
            return True
        results = program.eval(expr, module)
        canonical = program.knowledge.canonical
        return all(
            isinstance(value, LibraryObject) and results == {LibraryInstance(canonical(value.name))}
            for value in made
        )

    def _instance_of(
        self, given: Expr, given_in: str, classes: Expr, classes_in: str
    ) -> bool | None:
        """Whether what a call passes is an instance of one of ``classes`` (an
        ``isinstance`` test's second argument), when that is known: a constant, a
        formatted text or a parameter typed with a builtin type against the classes
        named, or objects of the project's classes against their bases."""
        program = self.program
        named: set[Value] = set()
        for part in classes.items if isinstance(classes, Items) else (classes,):
            values = program.eval(part, classes_in)
            if not values or not all(isinstance(v, Class | LibraryObject) for v in values):
                return None
            named |= values
        builtin = _builtin_type(given) or self._field_type(given, given_in)
        if builtin is not None:
            kinds = {f"builtins.{builtin}", "builtins.object"}
            if builtin == "bool":
                kinds.add("builtins.int")
            return any(isinstance(v, LibraryObject) and v.name in kinds for v in named)
        made = program.eval(given, given_in)
        if not made or not all(isinstance(value, Instance) for value in made):
            return None
        held = {
            any(
                (isinstance(entry, Class) and entry in named)
                or (isinstance(entry, LibraryObject) and entry in named)
                for entry in program.mro(value.key)
            )
            for value in made
            if isinstance(value, Instance)
        }
        return held.pop() if len(held) == 1 else None

    def _field_type(self, given: Expr, given_in: str) -> str | None:
        """The builtin type an attribute is declared with in the class of the object it is
        read from (``request.image`` of a model with ``image: str = Field(...)``)."""
        if not isinstance(given, Attribute):
            return None
        program = self.program
        found: set[str | None] = set()
        for value in program.eval(given.base, given_in):
            if not isinstance(value, Instance):
                return None
            declared = None
            for entry in program.mro(value.key):
                klass = program.klass(entry.key) if isinstance(entry, Class) else None
                bound = klass.attributes.get(given.name, ()) if klass is not None else ()
                if bound:
                    first = bound[0]
                    if isinstance(first, Typed | Declared):
                        declared = _builtin_type(Param("", "", first.annotation, None))
                    break
            found.add(declared)
        return found.pop() if len(found) == 1 else None

    def _defaulted(self, param: Param, module: str) -> bool:
        """The parameter's function (in ``module``) tests ``if param is None:`` (to set
        it, as the other branch of the local shows)."""
        function = self.program.function((module, param.function))
        return function is not None and any(
            block.name == param.name and block.when and block.values == (Constant(None),)
            for block in function.flag_blocks
        )

    def _one_class(self, expr: Expr, module: str) -> Class | None:
        values = self.program.eval(expr, module)
        classes = [value for value in values if isinstance(value, Class)]
        return classes[0] if len(classes) == 1 == len(values) else None

    def _hit_blocker(self, hit: Hit, path: str, name: str, memoised: str | None) -> Blocker:
        return Blocker(
            hit.rule,
            (ChainLink(path, hit.line, name),),
            hit.label,
            hit.origin,
            (),
            Site(path, hit.line, hit.col + 1, hit.rule.code),
            memoised or (ONCE_BLOCK if hit.once else None),
        )

    def reaches(self, key: Key) -> list[Blocker]:
        """The blocking sites a coroutine runs on the event loop, each with its best chain
        (from the coroutine's own line), sorted by site. The list is shared: read only."""
        known = self._reached.get(key)
        if known is None:
            known = self._reached[key] = self._reaches(key)
        return known

    def _reaches(self, key: Key) -> list[Blocker]:
        scan = self.scan(key)
        path = self.program.modules[key[0]].path
        name = dotted_name(key)
        memoised = self.once_reason(key)
        found: dict[Site, Blocker] = {}
        for hit in scan.hits:
            blocker = self._hit_blocker(hit, path, name, memoised)
            found[blocker.site] = better(found.get(blocker.site), blocker)
        for sync_call in scan.sync_calls:
            target, call = sync_call.target, sync_call.call
            reached = dict(self._flagged_off(call, key[0], target, self.blockers(target)))
            bound = self._bound_values
            bindings = bound.bindings(call, key[0], target, None, {})
            bindings.update(bound.constructed_with(call, key[0], None, {}))
            if bindings:
                for site, blocker in bound.bound_blockers(target, bindings, 0).items():
                    reached[site] = better(reached.get(site), blocker)
            link = ChainLink(path, sync_call.line, name)
            once = memoised or (ONCE_BLOCK if sync_call.once else None)
            for site, blocker in reached.items():
                found[site] = better(found.get(site), extend(link, target, blocker, once))
        for awaited in scan.awaited:
            # the coroutine is an entry of its own; what only this call gives it is not
            target, call = awaited.target, awaited.call
            if not (call.args or call.keywords):
                continue
            bound = self._bound_values
            bindings = bound.bindings(call, key[0], target, None, {})
            bindings.update(bound.constructed_with(call, key[0], None, {}))
            if not bindings:
                continue
            link = ChainLink(path, awaited.line, name)
            once = memoised or (ONCE_BLOCK if awaited.once else None)
            for site, blocker in bound.bound_blockers(target, bindings, 0).items():
                found[site] = better(found.get(site), extend(link, target, blocker, once))
        dead = self._off_for_every_caller(key)
        if dead:
            found = _outside(found, dead)
        return [found[site] for site in sorted(found)]

    def findings_in(self, key: Key) -> list[Finding]:
        """What a coroutine blocks per request, one finding per site (no routes yet)."""
        return [as_finding(blocker) for blocker in self.reaches(key) if blocker.once is None]

    def timeout_findings(self, key: Key) -> list[Finding]:
        return timeout_findings(self.program, self.timeout_rule, key)


# methods of a file object that move no data
_FILE_OBJECT_LOCAL = frozenset(
    {"fileno", "isatty", "readable", "writable", "seekable", "tell", "seek", "close", "flush"}
    | {"__enter__", "__exit__"}
)
_OPENERS = frozenset({"builtins.open", "io.open"})


def _names_open(value: Value) -> bool:
    """``open(...)``, ``io.open(...)`` or ``Path.open(...)``."""
    if isinstance(value, LibraryObject):
        return value.name in _OPENERS
    return isinstance(value, LibraryMethod) and value.name == "open"


def _is_file(expr: Expr, opening: Call) -> bool:
    """The file object itself: the call that opens it, or what its ``with`` enters."""
    while isinstance(expr, Entered | Await):
        expr = expr.value
    return _same_call(expr, opening)


def _same_call(expr: Expr, opening: Call) -> bool:
    """The same call of the source (its record may be a copy of the one in ``calls``)."""
    return expr is opening or (
        isinstance(expr, Call)
        and expr.line == opening.line
        and expr.col == opening.col
        and expr == opening
    )


def _holds(expr: Expr, opening: Call) -> bool:
    """Whether an expression is (or reads an attribute of, or calls a method of) the file
    object ``opening`` makes: ``f``, ``f.read``, ``f.fileno()``."""
    return _uses_file(expr, opening, False)


def _hands_over(expr: Expr, opening: Call) -> bool:
    """Whether an argument gives the callee the file object (or one of its methods),
    not just something it answered (``f.fileno()``, ``os.stat(f.fileno()).st_mtime``)."""
    return _uses_file(expr, opening, True)


def _uses_file(expr: Expr, opening: Call, handed: bool, depth: int = 0) -> bool:
    """``_holds`` (any use of the file object), or with ``handed`` ``_hands_over``."""
    if _same_call(expr, opening):
        return True
    if depth > 6:
        return False
    match expr:
        case Entered(value) | Await(value):
            return _uses_file(value, opening, handed, depth + 1)
        case Attribute(base, _):
            if handed:  # ``f.read`` handed to a thread
                return _is_file(base, opening)
            return _uses_file(base, opening, handed, depth + 1)
        case Call(func, _, _, args, keywords, _):
            given = (*args, *(keyword.value for keyword in keywords))
            local = (
                handed
                and isinstance(func, Attribute)
                and func.name in _FILE_OBJECT_LOCAL
                and _holds(func.base, opening)
            )
            # what a method that moves no data answers (``f.fileno()``) is not the file
            return (not local and _uses_file(func, opening, handed, depth + 1)) or any(
                _uses_file(each, opening, handed, depth + 1) for each in given
            )
    return False


def as_finding(blocker: Blocker) -> Finding:
    """The finding at a blocking site, reached as ``blocker`` says (through the sync
    functions after the first link of its chain)."""
    through = blocker.through
    message = blocker_message(blocker.rule, blocker.label, blocker.origin, through)
    site = blocker.site
    return Finding(
        site.code,
        site.path,
        site.line,
        site.column,
        message,
        blocker.rule.severity,
        None,
        blocker.chain,
        once=blocker.once,
    )


# what ``_passed_through`` finds when every caller passes an object it made: not
# ``None``, and nothing else known about it
_OBJECT: Final = Unknown()

# decorators that only change how the function is bound
_NOT_REGISTERING = frozenset({"staticmethod", "classmethod"})
# library decorators whose result, called, calls the function with the same arguments
_CALLING_DECORATORS = frozenset({"contextlib.contextmanager", "contextlib.asynccontextmanager"})
_CALLABLE_TYPES = frozenset({"typing.Callable", "collections.abc.Callable"})


def _member(summary: ClassSummary, name: str) -> tuple[object, ...] | None:
    """What a class attribute is set to, when it is set once to a constant or to
    ``auto()`` (a value of its own)."""
    values = summary.attributes.get(name, [])
    if len(values) != 1:
        return None
    match values[0]:
        case Constant(value):
            return (type(value), value)
        case Call(func) if last_name(func) == "auto":
            return ("auto", name)
    return None


def _takes_ready_item(function: FunctionSummary, value: LibraryCallee, call: Call) -> bool:
    """``queue.get()`` where the function just found ``queue`` not empty: it returns
    the item at once."""
    func = call.func
    return (
        isinstance(value, LibraryMethod)
        and value.name == "get"
        and isinstance(func, Attribute)
        and function.holds_item_at(func.base, call.line)
    )


# methods of a generator that run its body (``close`` only runs its ``finally``)
_ADVANCING = frozenset({ITERATED, "send", "__next__"})


def _generators_within(content: Call) -> set[int]:
    """``content`` and the calls given to it as arguments, nested (by id): a generator
    made on the loop and handed to the generator a response iterates (``out =
    model.infer(text)``, then ``StreamingResponse(encode(out))``) is iterated inside that
    one's body, in the same thread, so its body runs there too."""
    found: set[int] = set()
    pending = [content]
    while pending:
        call = pending.pop()
        if id(call) in found:
            continue
        found.add(id(call))
        given = [*call.args, *(keyword.value for keyword in call.keywords)]
        pending.extend(value for value in given if isinstance(value, Call))
    return found


def _handed_constants(call: Call, function: str, constants: dict[str, Constant]) -> Call | None:
    """``call`` with each parameter of ``function`` it passes on replaced by the constant
    the outer call gives it; ``None`` when it passes none of them."""

    def handed(value: Expr) -> Expr:
        if isinstance(value, Param) and value.function == function and value.name in constants:
            return constants[value.name]
        return value

    args = tuple(handed(arg) for arg in call.args)
    keywords = tuple(
        Keyword(keyword.name, handed(keyword.value)) if keyword.name is not None else keyword
        for keyword in call.keywords
    )
    if args == call.args and keywords == call.keywords:
        return None
    return Call(call.func, call.line, call.col, args, keywords, call.awaited)


def _bound_first(function: FunctionSummary, names: list[str]) -> int:
    """1 when a call of the method binds its first parameter (``self``, ``cls``)."""
    return 1 if function.class_qualname is not None and names[:1] in (["self"], ["cls"]) else 0


# annotations of values that are never ``None``
_PLAIN_TYPES = frozenset({"str", "bytes", "int", "float", "bool", "dict", "list", "tuple", "set"})


def _builtin_type(given: Expr) -> str | None:
    """The builtin type of a constant, a formatted text, or a parameter typed with one
    (and no ``None`` default)."""
    match given:
        case Constant(value) if value is not None:
            return type(value).__name__
        case FString():
            return "str"
        case Param(annotation=annotation, default=default) if (
            annotation is not None and _plain_type(annotation) and default != Constant(None)
        ):
            base = annotation.base if isinstance(annotation, Subscript) else annotation
            return base.name if isinstance(base, Global) else None
    return None


def _plain_type(annotation: Expr) -> bool:
    """``str``, ``list[str]``, ``dict[str, int]``: a builtin type, not ``Optional``."""
    if isinstance(annotation, Subscript):
        annotation = annotation.base
    return isinstance(annotation, Global) and annotation.name in _PLAIN_TYPES


def _given(call: Call, name: str, position: int) -> Expr | None:
    """What the call passes for parameter ``name`` at ``position`` (after ``self``):
    by keyword, or by position when no ``*args`` before it could shift it; ``None``
    when it passes nothing for it (or what it passes is not known)."""
    given = call.keyword(name)
    if given is None and 0 <= position < len(call.args):
        if not _positions_known(call, position):
            return UNKNOWN
        given = call.args[position]
    return given


def _positions_known(call: Call, position: int) -> bool:
    """The arguments up to ``position`` are all read: none is an unpacked ``*args``
    (read as unknown), which could move the one at ``position`` elsewhere."""
    return not any(isinstance(arg, Unknown) for arg in call.args[: position + 1])


def _outside(reached: dict[Site, Blocker], spans: list[tuple[int, int]]) -> dict[Site, Blocker]:
    """What is reached from lines outside ``spans`` (the first line of each chain)."""
    return {
        site: blocker
        for site, blocker in reached.items()
        if not any(first <= blocker.chain[0].line <= last for first, last in spans)
    }


# library bases that store nothing on an instance
_PLAIN_BASES = frozenset(
    {"object", "abc.ABC", "typing.Generic", "typing.Protocol", "typing_extensions.Protocol"}
    | {"typing.ContextManager", "typing.AsyncContextManager"}
    | {"contextlib.AbstractContextManager", "contextlib.AbstractAsyncContextManager"}
)


def _known_truth(value: Expr) -> bool | None:
    """Whether a value given for a flag is true, when that is known: a constant's, and
    an empty display's (``renames: dict[str, str] = {}`` leaves ``if renames:`` off)."""
    match value:
        case Constant(held):
            return bool(held)
        case DictDisplay(keys, _) if not keys:
            return False
        case Items(items) if not items:
            return False
        case _:
            return None
