"""What the checker knows about a module, and what it reports.

A module is parsed once (possibly in a worker process) into a ``ModuleSummary``:
plain picklable data, no AST. Expressions are kept as small frozen records, one class
per kind (the union ``Expr``); the global phase evaluates them to abstract values
(``values``) with a ``match`` over these classes (``program``):

    Global(name)                     a module-level or builtin name
    Imported("pkg.mod.name")         a name bound by ``from ... import``
    ImportedModule("pkg.mod")        a name bound by ``import``
    Attribute(base, name)            attribute access
    Call(func, line, col, args, keywords, awaited)   a call
    Await(value) / Entered(value)    ``await value`` / ``with value as ...``
    Param(function, name, annotation, default)        a parameter
    Typed(annotation)                a variable of an annotated type
    SelfRef(class) / ClassRef(class) / SuperRef(class) / FunctionRef(function)
    Subscript(base, index) / Either(left, right) / Divide(left, right)
    Items(items) / DictDisplay(keys, values) / Constant(value) / FString(parts)
    Each(iterable) / At(each, index) a loop's item / one part of it unpacked
    UNKNOWN                          unknown (including lambdas: their body runs elsewhere)

Summaries cross process boundaries, so every record pickles as its class and fields
(``_Record.__reduce__``): much smaller and faster than the default for slotted classes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any, TypeAlias, TypeVar

# The report's records live in ``findings`` (light to import); named here too.
from unstuck.check.findings import ChainLink as ChainLink
from unstuck.check.findings import FileProblem as FileProblem
from unstuck.check.findings import Finding as Finding
from unstuck.check.overrides import PathVariant

_R = TypeVar("_R")


def _record(cls: type[_R]) -> type[_R]:
    """Give a frozen, slotted dataclass an ``__init__`` that writes its slots directly.

    The ``__init__`` that ``dataclass`` writes for a frozen class sets each field through
    ``object.__setattr__``, which costs two to four times more; a summary holds a few
    hundred of these records per file, and building them is a large part of the walk.
    """
    names = [item.name for item in fields(cls)]  # type: ignore[arg-type]
    namespace = {f"_set_{name}": getattr(cls, name).__set__ for name in names}
    lines = [f"    _set_{name}(self, {name})" for name in names] or ["    pass"]
    source = f"def __init__(self, {', '.join(names)}):\n" + "\n".join(lines)
    exec(source, namespace)  # what ``dataclasses`` itself does to write ``__init__``
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = init  # type: ignore[method-assign]
    cls._fields = _fields_getter(names)  # type: ignore[attr-defined]
    return cls


def _fields_getter(names: list[str]) -> Callable[[object], tuple[Any, ...]]:
    """The values of ``names`` as a tuple, read in C (``attrgetter``) rather than by a
    loop: pickling calls it once per record, hundreds of thousands of times."""
    if len(names) == 1:
        single = attrgetter(names[0])
        return lambda record: (single(record),)
    if not names:
        return lambda record: ()
    return attrgetter(*names)


class _Record:
    """Pickled as ``Class(*fields)``: the default for frozen slotted dataclasses sets
    each field through ``object.__setattr__`` and costs several times more."""

    __slots__ = ()
    _fields: Callable[[object], tuple[Any, ...]]

    def __reduce__(self) -> str | tuple[Any, ...]:
        cls = type(self)
        return (cls, cls._fields(self))


class _Summary:
    """Pickled as ``Class(*fields)`` too: the default state of a slotted class is a
    dict of every field by name, for each of thousands of functions and classes."""

    __slots__ = ()
    _fields: Callable[[object], tuple[Any, ...]]

    def __init_subclass__(cls) -> None:
        # the dataclass decorator runs after this hook: read the annotations instead
        cls._fields = _fields_getter(list(cls.__annotations__))

    def __reduce__(self) -> str | tuple[Any, ...]:
        cls = type(self)
        return (cls, cls._fields(self))


# what a ``for`` loop calls on what it goes over: some objects do I/O for each item
# (a ``Query`` runs its statement, a file reads its lines)
ITERATED = "__iter__"
# what ``with`` / ``async with`` calls on the value it enters
CONTEXT_METHODS = frozenset({"__enter__", "__exit__", "__aenter__", "__aexit__"})


@_record
@dataclass(frozen=True, slots=True)
class Global(_Record):
    name: str


@_record
@dataclass(frozen=True, slots=True)
class Imported(_Record):
    dotted: str


@_record
@dataclass(frozen=True, slots=True)
class ImportedModule(_Record):
    dotted: str


@_record
@dataclass(frozen=True, slots=True)
class Attribute(_Record):
    base: Expr
    name: str


@_record
@dataclass(frozen=True, slots=True)
class Keyword(_Record):
    name: str | None  # None: ``**options``
    value: Expr


@_record
@dataclass(frozen=True, slots=True)
class Call(_Record):
    func: Expr
    line: int
    col: int
    args: tuple[Expr, ...]
    keywords: tuple[Keyword, ...]
    # an awaited call (or ``async with``/``async for``) returns an awaitable, so it is
    # never the blocking call itself
    awaited: bool

    def keyword(self, name: str) -> Expr | None:
        for keyword in self.keywords:
            if keyword.name == name:
                return keyword.value
        for keyword in self.keywords:  # ``**{"router": r}``, ``**options`` built in place
            if keyword.name is None and isinstance(keyword.value, DictDisplay):
                for key, value in zip(keyword.value.keys, keyword.value.values, strict=True):
                    if isinstance(key, Constant) and key.value == name:
                        return value
        return None

    def argument(self, name: str, position: int) -> Expr | None:
        """The argument passed by keyword ``name`` or else at ``position`` (-1: keyword only)."""
        value = self.keyword(name)
        if value is None and 0 <= position < len(self.args):
            value = self.args[position]
        return value


@_record
@dataclass(frozen=True, slots=True)
class Await(_Record):
    value: Expr


@_record
@dataclass(frozen=True, slots=True)
class Entered(_Record):
    value: Expr


@_record
@dataclass(frozen=True, slots=True)
class Param(_Record):
    function: str  # qualname
    name: str
    annotation: Expr | None
    default: Expr | None


@_record
@dataclass(frozen=True, slots=True)
class Typed(_Record):
    annotation: Expr


@_record
@dataclass(frozen=True, slots=True)
class SelfRef(_Record):
    klass: str  # qualname


@_record
@dataclass(frozen=True, slots=True)
class ClassRef(_Record):
    klass: str


@_record
@dataclass(frozen=True, slots=True)
class SuperRef(_Record):
    klass: str


@_record
@dataclass(frozen=True, slots=True)
class FunctionRef(_Record):
    function: str  # qualname


@_record
@dataclass(frozen=True, slots=True)
class Subscript(_Record):
    base: Expr
    index: Expr


@_record
@dataclass(frozen=True, slots=True)
class Rebound(_Record):
    """``app = await policy.configure(app)``: a local bound again to what a call makes of
    it; when what the call returns is not known, the local still holds what it held."""

    value: Expr
    previous: Expr


@_record
@dataclass(frozen=True, slots=True)
class Either(_Record):
    """``a | b``, ``a or b``, ``a if c else b``, or a local bound in several branches."""

    left: Expr
    right: Expr


@_record
@dataclass(frozen=True, slots=True)
class Divide(_Record):
    left: Expr
    right: Expr


@_record
@dataclass(frozen=True, slots=True)
class Items(_Record):
    """A tuple or list display."""

    items: tuple[Expr, ...]


@_record
@dataclass(frozen=True, slots=True)
class DictDisplay(_Record):
    """A dict display, kept for loops over it: ``for prefix, router in ROUTERS.items()``."""

    keys: tuple[Expr, ...]
    values: tuple[Expr, ...]


@_record
@dataclass(frozen=True, slots=True)
class Each(_Record):
    """The item of a ``for`` loop over ``iterable``."""

    iterable: Expr


@_record
@dataclass(frozen=True, slots=True)
class At(_Record):
    """One part of a loop's item unpacked: ``for prefix, router in ...``."""

    each: Each
    index: int


@_record
@dataclass(frozen=True, slots=True)
class ItemOf(_Record):
    """One part of what a call returns, unpacked: ``folder, scratch = prepare(base)``."""

    value: Expr
    index: int


@_record
@dataclass(frozen=True, slots=True)
class Constant(_Record):
    value: str | int | bool | None


@_record
@dataclass(frozen=True, slots=True)
class FString(_Record):
    parts: tuple[Expr, ...]


@_record
@dataclass(frozen=True, slots=True)
class Truthy(_Record):
    """A local inside ``if name:`` (or ``if name := f():``): not the empty string there,
    whatever else it may hold (``f"/meta{root}"`` under ``if root := root_path():``)."""

    value: Expr


@_record
@dataclass(frozen=True, slots=True)
class Narrowed(_Record):
    """A local inside ``if isinstance(name, Classes):``: only what is an instance of one
    of ``classes`` (a class, or the items of a tuple of them); in its ``else``
    (``instances`` false), only what is not."""

    value: Expr
    classes: Expr
    instances: bool


@_record
@dataclass(frozen=True, slots=True)
class Ordered(_Record):
    """What a flag is compared with by order: ``if shard_size > 0:`` holds for a whole
    number ``op`` (``<``, ``<=``, ``>``, ``>=``) ``limit``."""

    op: str
    limit: Constant

    def holds(self, given: Expr) -> bool | None:
        """Whether the test holds for ``given``: ``None`` when it is not a number."""
        if not isinstance(given, Constant) or not _is_number(given.value):
            return None
        value, limit = given.value, self.limit.value
        assert isinstance(value, int) and isinstance(limit, int)
        match self.op:
            case "<":
                return value < limit
            case "<=":
                return value <= limit
            case ">":
                return value > limit
            case _:
                return value >= limit


def _is_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@_record
@dataclass(frozen=True, slots=True)
class Declared(_Record):
    """A value stored with an annotation (``self.kv_cls: type[KVStore] = load(name)``):
    what the value may be, as far as the annotation allows."""

    value: Expr
    annotation: Expr


@_record
@dataclass(frozen=True, slots=True)
class Unknown(_Record):
    def __reduce__(self) -> str:
        return "UNKNOWN"  # the one instance, also after unpickling


Expr: TypeAlias = (
    Global
    | Imported
    | ImportedModule
    | Attribute
    | Call
    | Await
    | Entered
    | Param
    | Typed
    | SelfRef
    | ClassRef
    | SuperRef
    | FunctionRef
    | Subscript
    | Either
    | Rebound
    | Divide
    | Items
    | DictDisplay
    | Each
    | At
    | ItemOf
    | Constant
    | FString
    | Truthy
    | Narrowed
    | Ordered
    | Declared
    | Unknown
)
UNKNOWN = Unknown()


@_record
@dataclass(frozen=True, slots=True)
class AttributeRead(_Record):
    """A read of an attribute that may run code (a property, a library attribute)."""

    line: int
    col: int
    base: Expr
    name: str


@_record
@dataclass(frozen=True, slots=True)
class BigLoop(_Record):
    line: int
    col: int
    size: int


@_record
@dataclass(frozen=True, slots=True)
class ModuleStore(_Record):
    """A value stored as an attribute of what may be another module: ``shared.api =
    Api(app)`` (``owner``: the name of the module, as written)."""

    owner: Expr
    name: str
    value: Expr


@_record
@dataclass(frozen=True, slots=True)
class ItemStore(_Record):
    """A value stored into a module-level container: ``CLIENTS["s3"] = make()``, with
    its key when it is a constant text."""

    key: str | None
    value: Expr


@_record
@dataclass(frozen=True, slots=True)
class Lines(_Record):
    """A range of lines of a function."""

    first: int
    last: int


@_record
@dataclass(frozen=True, slots=True)
class ClockGuard(_Record):
    """The two sides of an ``if`` whose test calls a function of the project: when that
    function compares the time now with a stamp (``FunctionSummary.tests_clock``), the
    stale side runs once per interval (``if tracker.needs_refresh(): refresh()``, or
    what follows ``if kept and still_fresh(kept): return kept``), which is known once
    calls are resolved."""

    test: Expr  # what the test calls: ``tracker.needs_refresh``
    negated: bool  # ``if not fresh(kept):``
    when_true: Lines  # the body
    when_false: Lines | None  # the ``else``, or what follows a body that returns


# what a test of freshness (``FunctionSummary.tests_clock``) says when it is true
STALE_WHEN_TRUE = 1
FRESH_WHEN_TRUE = -1


@_record
@dataclass(frozen=True, slots=True)
class FlagBlock(_Record):
    """Lines that run only when the parameter ``name`` is true (``when``) or false:
    ``if process: parse(path)``. A call that passes a constant turns them off or on.
    With ``values``, they run only when it equals one of them (``when``) or none of
    them: ``if to == Target.DISK or to == Target.BOTH:``, ``if fmt != "csv":``. With
    ``also``, tests of other parameters joined by ``or`` (``if sync or wait:``): a call
    turns the lines off only when it turns off every one of them."""

    name: str
    when: bool
    first: int
    last: int
    values: tuple[Expr, ...]
    also: tuple[FlagBlock, ...]


@_record
@dataclass(frozen=True, slots=True)
class ExcludedBlock(_Record):
    """Lines under a test that a value equals one of ``values`` (``if kind ==
    Kind.NOTION:``), after ``if kind in LIVE: return`` on the same value: when every one
    of ``values`` is a member of ``container``, the function has returned before."""

    first: int
    last: int
    values: tuple[Expr, ...]
    container: Expr


@_record
@dataclass(frozen=True, slots=True)
class FilledBlock(_Record):
    """Lines that run only once a local collection made empty in the function has been
    filled (``if pushed:``); ``fills``: the lines that may fill it (``filled``)."""

    first: int
    last: int
    fills: tuple[int, ...]


@_record
@dataclass(frozen=True, slots=True)
class ReadyBlock(_Record):
    """Lines where ``queue`` holds an item: the body of ``if not queue.empty():`` /
    ``while not queue.empty():``, or the ``else`` of ``if queue.empty():``. A ``get``
    there returns at once."""

    queue: Expr
    first: int
    last: int


@dataclass(frozen=True, slots=True)
class Signature:
    """How a function's parameters take arguments: whether a call can bind them."""

    positional: tuple[str, ...]  # positional-only and ordinary parameters, in order
    positional_only: int  # how many of them are positional-only
    keyword_only: tuple[str, ...]
    required: frozenset[str]  # parameters without a default (but ``*args``, ``**kwargs``)
    varargs: bool
    varkw: bool


@dataclass(slots=True)
class FunctionSummary(_Summary):
    qualname: str
    line: int
    col: int
    is_async: bool
    class_qualname: str | None
    decorators: list[Expr]
    params: list[Param]
    return_annotation: Expr | None
    calls: list[Call] = field(default_factory=list)
    attribute_reads: list[AttributeRead] = field(default_factory=list)
    returns: list[Expr] = field(default_factory=list)
    yields: list[Expr] = field(default_factory=list)
    loops: list[BigLoop] = field(default_factory=list)
    # (line, col) of a call that attaches routes -> the if/match blocks it is in,
    # (statement line, block index) from the outermost: alternatives tell apart by it
    branches: dict[tuple[int, int], tuple[tuple[int, int], ...]] = field(default_factory=dict)
    # lines that run once per process: the body of ``if _client is None: _client = ...``
    # on a module global (or what follows ``if _client is not None: return _client``)
    once_blocks: list[Lines] = field(default_factory=list)
    # the same on the instance (``if key not in self._cache: self._cache[key] = ...``):
    # once per process when the instance lives as long as the process
    instance_once_blocks: list[Lines] = field(default_factory=list)
    # blocks under ``if <parameter>:`` / ``if not <parameter>:`` (and their ``else``)
    flag_blocks: list[FlagBlock] = field(default_factory=list)
    # the same under a test of an attribute of ``self`` (``if self.style == Style.CENTRAL:``),
    # the block's ``name`` being the attribute's: off when every instance holds a value
    # that fails the test (the constants its constructions give ``__init__``)
    attribute_blocks: list[FlagBlock] = field(default_factory=list)
    # lines that only run when no event loop runs in the thread: the ``except
    # RuntimeError`` of ``asyncio.get_running_loop()``
    no_loop_blocks: list[Lines] = field(default_factory=list)
    # the bodies of ``except`` handlers: they run after something in the ``try`` failed
    error_blocks: list[Lines] = field(default_factory=list)
    # those of them that end by raising: they run only for a request that fails
    failure_blocks: list[Lines] = field(default_factory=list)
    # blocks where a queue was just found not empty (``if not q.empty(): q.get()``)
    ready_blocks: list[ReadyBlock] = field(default_factory=list)
    # blocks under ``if <local>:`` that run only once the local has been filled
    filled_blocks: list[FilledBlock] = field(default_factory=list)
    # blocks under ``if x == C:`` after ``if x in S: return`` (``ExcludedBlock``)
    excluded_blocks: list[ExcludedBlock] = field(default_factory=list)
    # blocks on one side of a test a function of the project makes (``ClockGuard``)
    clock_guards: list[ClockGuard] = field(default_factory=list)
    # a test of freshness: every return compares the time now with something, or is a
    # constant; STALE_WHEN_TRUE (``now - stamp > TTL``), FRESH_WHEN_TRUE (``now - stamp
    # < TTL``), or 0: not one (or its returns disagree)
    tests_clock: int = 0
    # a method with no body of its own (``@abstractmethod``, ``...``, ``pass``, ``raise
    # NotImplementedError``): a call of it runs a subclass's override
    stub: bool = False
    # an override of a route registration method (``add_api_route``): what it passes on
    path_variants: tuple[PathVariant, ...] = ()
    signature: Signature | None = None

    def runs_once_at(self, line: int) -> bool:
        return any(block.first <= line <= block.last for block in self.once_blocks)

    def fills_instance_once_at(self, line: int) -> bool:
        return any(block.first <= line <= block.last for block in self.instance_once_blocks)

    def fails_at(self, line: int) -> bool:
        return any(block.first <= line <= block.last for block in self.failure_blocks)

    def handles_error_at(self, line: int) -> bool:
        return any(block.first <= line <= block.last for block in self.error_blocks)

    def runs_without_loop_at(self, line: int) -> bool:
        return any(block.first <= line <= block.last for block in self.no_loop_blocks)

    def holds_item_at(self, queue: Expr, line: int) -> bool:
        """``queue`` was just found not empty where ``line`` runs."""
        return any(
            block.first <= line <= block.last and block.queue == queue
            for block in self.ready_blocks
        )


@dataclass(slots=True)
class ClassSummary(_Summary):
    qualname: str
    line: int
    bases: list[Expr]
    methods: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, list[Expr]] = field(default_factory=dict)
    metaclass: Expr | None = None  # ``class Config(metaclass=Singleton)``
    # ``self.listeners[kind] = handler`` in a method: attribute -> values stored in it
    item_stores: dict[str, list[Expr]] = field(default_factory=dict)


@dataclass(slots=True)
class ModuleSummary(_Summary):
    name: str
    path: str
    is_package: bool
    globals: dict[str, list[Expr]] = field(default_factory=dict)
    star_imports: list[str] = field(default_factory=list)
    functions: dict[str, FunctionSummary] = field(default_factory=dict)
    classes: dict[str, ClassSummary] = field(default_factory=dict)
    # ``request.state.db = ...`` / ``app.state.redis = ...``: name -> values, anywhere
    state_attributes: dict[str, list[Expr]] = field(default_factory=dict)
    # ``app.add_middleware(Cls, name=value)``: Starlette makes ``Cls(app, name=value)``,
    # so these are the arguments of the class's ``__init__`` (the class, its keywords)
    middleware_arguments: list[tuple[Expr, tuple[Keyword, ...]]] = field(default_factory=list)
    # ``CLIENTS[name] = make()`` on a module-level name: name -> what is stored in it
    item_stores: dict[str, list[ItemStore]] = field(default_factory=dict)
    # ``shared.api = Api(app)``: attributes this module sets on other modules
    module_stores: list[ModuleStore] = field(default_factory=list)
    # line -> codes suppressed there (None: every code)
    suppressions: dict[int, frozenset[str] | None] = field(default_factory=dict)
    syntax_note: str | None = None
    # test code (set from where the file was found, not cached with the summary)
    in_tests: bool = False


def listed(expr: Expr | None) -> list[Expr]:
    """The items of a list or tuple display; of both when it is one or the other
    (``[Depends(auth)] if secured else []``)."""
    if isinstance(expr, Items):
        return list(expr.items)
    if isinstance(expr, Either):
        return [*listed(expr.left), *listed(expr.right)]
    return []


MODULE_BODY = "<module>"
