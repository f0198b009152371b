"""A rule: one family of code that must not run on the event loop.

A rule is data: the library callables and methods it knows to block, and what those
libraries return (``create_engine()`` gives an ``Engine``, ``Engine.connect()`` a
``Connection``), so that the type inference can follow values from a constructor to
the blocking method. ``Knowledge`` merges every rule into the tables the analysis reads.
The rule also carries its own documentation: ``catches`` (one line, for the rule
tables), ``example`` (code it reports) and ``doc`` (its module's docstring: the
incident and the fix), which ``unstuck check --explain CODE`` prints.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

ANY_METHOD = "*"
# Methods of plain values (strings, dicts) that an SDK client's attributes can hold:
# ``client.api_key.startswith(...)`` is not a request.
_PLAIN_VALUE_METHODS = " ".join(
    ["startswith endswith lower upper strip split format", "encode decode get items keys values"]
)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """The calls that wait forever unless given a timeout (USK203 reads them).

    ``required``: functions and constructors that have no timeout by default;
    ``required_methods``: the same as ``(class, method)``; ``not_none``: calls with a
    default timeout that an explicit ``timeout=None`` switches off; ``positional``: where
    a call also takes its timeout by position (``urlopen(url, data, timeout)``).
    """

    required: frozenset[str] = frozenset()
    required_methods: frozenset[tuple[str, str]] = frozenset()
    not_none: frozenset[str] = frozenset()
    positional: tuple[tuple[str, int], ...] = ()

    def last_names(self) -> frozenset[str]:
        """The names such calls end with in source: a cheap filter before evaluating."""
        names = {name.rpartition(".")[2] for name in self.required | self.not_none}
        return frozenset(names | {method for _, method in self.required_methods})


@dataclass(frozen=True, slots=True)
class CheapBelow:
    """A work factor: the argument by ``keyword`` or at ``position`` (-1: keyword only)
    that, given as a constant below ``limit``, makes the call too cheap to report."""

    keyword: str
    position: int
    limit: int


@dataclass(frozen=True, slots=True)
class ReturnsFor:
    """What a function returns when its first argument is an instance of one of
    ``classes``; anything else it is given makes the result unknown."""

    classes: frozenset[str]
    returned: str


@dataclass(frozen=True, slots=True)
class Sized:
    """A constructor whose size argument (by ``keyword`` or at ``position``), given and
    not a constant of 0 or less, makes an instance of ``returned``: ``queue.Queue(10)`` is
    bounded, and its ``put`` waits when it is full; ``queue.Queue()`` never waits to put."""

    keyword: str
    position: int
    returned: str


@dataclass(frozen=True, slots=True)
class MemoryPath:
    """The path argument (by ``keyword`` or at ``position``) of a call that opens a file,
    and the ``roots`` under which the kernel serves files from memory."""

    keyword: str
    position: int
    roots: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FlagSet:
    """An argument of ``nonblocking`` that is a set of a library's bit flags: the call
    returns at once when ``flag`` is among them (``os.waitpid(pid, os.WNOHANG)``,
    ``os.WNOHANG | os.WUNTRACED``)."""

    flag: str


@dataclass(frozen=True, slots=True)
class InMemory:
    """An argument of ``nonblocking`` that, when it is a buffer in memory
    (``io.BytesIO``, ``io.StringIO``), leaves no file to read or write:
    ``torch.save(state, buffer)``."""


@dataclass(frozen=True, slots=True)
class GivenToWait:
    """An argument of ``nonblocking`` that the call waits for only when it is given and
    is neither ``None`` nor zero: ``psutil.cpu_percent(interval=0.5)`` sleeps half a
    second, ``psutil.cpu_percent()`` compares with the last call and returns at once."""


@dataclass(frozen=True, slots=True)
class Wording:
    """A summary and fix of one function's findings, in place of its rule's."""

    summary: str
    fix: str


@dataclass(frozen=True, slots=True)
class Client:
    """A synchronous client class every public method of which does I/O.

    ``local``: methods that stay in the process (handles on sub-resources, option
    copies), and ``aliases``: the other names the class is imported under, both
    separated by spaces. ``returns``: method -> the class of what it returns (a client of its own,
    listed apart, or a class some rule knows). ``resources``: the client's attributes
    are resource groups that share its methods (``client.chat.completions.create``).
    """

    name: str
    local: str = ""
    aliases: str = ""
    returns: Mapping[str, str] = field(default_factory=dict)
    resources: bool = False


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    summary: str  # what is wrong, completes "<call> ..."
    fix: str  # the suggested fix, part of every finding
    advice: str  # the branch of the article's decision tree, for the route map
    severity: str = "error"
    # False: reported only when ``select`` names the code in full (a prefix is not enough)
    on_by_default: bool = True
    catches: str = ""  # what it reports, one line of the rule tables
    example: str = ""  # code that it reports
    doc: str = ""  # the rule module's docstring: what, the incident, the fix
    # False: only direct use in a coroutine matters (not through sync helpers).
    through_calls: bool = True
    # methods that, in an ``except`` handler, only clean up after a failure of the work
    # in the ``try`` (``session.rollback()``): that work is what is reported
    quiet_in_except: frozenset[str] = frozenset()
    functions: frozenset[str] = frozenset()
    methods: frozenset[tuple[str, str]] = frozenset()  # (class, method or ANY_METHOD)
    method_exceptions: frozenset[tuple[str, str]] = frozenset()
    attributes: frozenset[tuple[str, str]] = frozenset()  # blocking attribute reads
    returns: Mapping[str, str] = field(default_factory=dict)  # "f" / "Class.m" -> class
    # "Class.m" that hands back the object it is called on (``model.to(device).eval()``),
    # also when that object is of a class of the project derived from ``Class``
    returns_receiver: frozenset[str] = frozenset()
    # "f" / "Class.m" -> the class of each item of what it returns, for a loop over it
    # (``for entry in folder.iterdir():`` gives paths)
    yields: Mapping[str, str] = field(default_factory=dict)
    # "f" -> a result that depends on what it is given: ``sqlalchemy.inspect(engine)`` is an
    # ``Inspector`` that queries, ``inspect(Model)`` a mapper that does not
    returns_for_argument: Mapping[str, ReturnsFor] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)
    attribute_types: Mapping[tuple[str, str], str] = field(default_factory=dict)
    # objects a library module holds that are instances of a class: ``db.session`` of
    # fastapi-sqlalchemy is a ``Session`` (dotted name -> class)
    instances: Mapping[str, str] = field(default_factory=dict)
    classes: frozenset[str] = frozenset()  # lower-case class names
    # "f" / "Class" -> the path it opens: known to start under a root, it is a file the
    # kernel serves from memory (``/proc``), so the call is not disk I/O and what it returns
    # is no file object to report either
    memory_paths: Mapping[str, MemoryPath] = field(default_factory=dict)
    # "f" of ``functions`` (or "Class.m" of ``methods``) -> words of its own, when the
    # rule's general ones would not tell what is wrong with it (a template environment
    # built per request)
    messages: Mapping[str, Wording] = field(default_factory=dict)
    # "f" / "Class.m" -> (keyword, position, value): that argument makes the call return
    # at once, e.g. ``executor.shutdown(wait=False)``; position -1: keyword only; a
    # ``FlagSet`` value: the argument's flags hold it; a ``GivenToWait`` value: leaving it
    # out (or ``None``, ``0``) does
    nonblocking: Mapping[str, tuple[str, int, object]] = field(default_factory=dict)
    clients: tuple[Client, ...] = ()
    # "f" -> class: calling ``f(...)`` gives a factory whose calls make instances of the
    # class (or of its ``class_=`` argument): ``sessionmaker(bind=engine)()`` is a Session
    factories: Mapping[str, str] = field(default_factory=dict)
    # decorator -> class: the decorated function runs in another thread or process, and
    # calling it gives an object of that class (pebble's ``@concurrent.process``: a future)
    runs_elsewhere: Mapping[str, str] = field(default_factory=dict)
    # "Class.m" giving one object of the model a query is for, and "f" / "Class.m" whose
    # first argument names that model: ``session.query(User).filter(...).first()`` and
    # ``session.get(User, 1)`` give a ``User``, whose methods are then followed
    model_rows: frozenset[str] = frozenset()
    model_queries: frozenset[str] = frozenset()
    # "f" -> keyword: calling ``f`` makes a class derived from the class given by that
    # keyword (``declarative_base(cls=CrudMixin)``), whose methods its subclasses inherit
    based_on: Mapping[str, str] = field(default_factory=dict)
    timeouts: Timeouts | None = None
    cheap_below: Mapping[str, CheapBelow] = field(default_factory=dict)  # "f" / "Class.m"
    sized: Mapping[str, Sized] = field(default_factory=dict)  # "Class" -> its sized kind
    # Codes whose finding on the same line makes this rule's redundant: one fix covers
    # both (``if path.exists(): open(path)`` in a helper is one USK110, not also USK117).
    subsumed_by: frozenset[str] = frozenset()


def methods(cls: str, names: str) -> frozenset[tuple[str, str]]:
    return frozenset((cls, name) for name in names.split())


def functions(prefix: str, names: str) -> frozenset[str]:
    return frozenset(f"{prefix}.{name}" for name in names.split())


class Knowledge:
    """The merged tables of a set of rules."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = {rule.code: rule for rule in rules}
        self.functions: dict[str, Rule] = {}
        self.methods: dict[tuple[str, str], Rule] = {}
        self.method_exceptions: set[tuple[str, str]] = set()
        self.attributes: dict[tuple[str, str], Rule] = {}
        self.returns: dict[str, str] = {}
        self.returns_receiver: set[str] = set()
        self.yields: dict[str, str] = {}
        self.returns_for_argument: dict[str, ReturnsFor] = {}
        self.aliases: dict[str, str] = {}
        self.attribute_types: dict[tuple[str, str], str] = {}
        self.instances: dict[str, str] = {}
        self.classes: set[str] = set()
        self.memory_paths: dict[str, MemoryPath] = {}
        self.nonblocking: dict[str, tuple[str, int, object]] = {}
        self.factories: dict[str, str] = {}
        self.runs_elsewhere: dict[str, str] = {}
        self.model_rows: set[str] = set()
        self.model_queries: set[str] = set()
        self.based_on: dict[str, str] = {}
        self.cheap_below: dict[str, CheapBelow] = {}
        self.sized: dict[str, Sized] = {}
        for rule in self.rules.values():
            for name in rule.functions:
                wording = rule.messages.get(name)
                worded = (
                    rule
                    if wording is None
                    else replace(rule, summary=wording.summary, fix=wording.fix)
                )
                self.functions.setdefault(name, worded)
            for key in rule.methods:
                wording = rule.messages.get(f"{key[0]}.{key[1]}")
                worded = (
                    rule
                    if wording is None
                    else replace(rule, summary=wording.summary, fix=wording.fix)
                )
                self.methods.setdefault(key, worded)
            for key in rule.attributes:
                self.attributes.setdefault(key, rule)
            self.method_exceptions.update(rule.method_exceptions)
            self.returns.update(rule.returns)
            self.returns_receiver.update(rule.returns_receiver)
            self.yields.update(rule.yields)
            self.returns_for_argument.update(rule.returns_for_argument)
            self.aliases.update(rule.aliases)
            self.attribute_types.update(rule.attribute_types)
            self.instances.update(rule.instances)
            self.classes.update(rule.classes)
            self.memory_paths.update(rule.memory_paths)
            self.nonblocking.update(rule.nonblocking)
            self.factories.update(rule.factories)
            self.runs_elsewhere.update(rule.runs_elsewhere)
            self.model_rows.update(rule.model_rows)
            self.model_queries.update(rule.model_queries)
            self.based_on.update(rule.based_on)
            self.cheap_below.update(rule.cheap_below)
            self.sized.update(rule.sized)
            for client in rule.clients:
                self._add_client(rule, client)
        self._canonical: dict[str, str] = {}
        self._known_classes: frozenset[str] | None = None

    def _add_client(self, rule: Rule, client: Client) -> None:
        name = client.name
        self.methods.setdefault((name, ANY_METHOD), rule)
        local = set(client.local.split())
        if client.resources:
            self.attribute_types[(name, ANY_METHOD)] = name
            local.update(_PLAIN_VALUE_METHODS.split())
        self.method_exceptions.update((name, method) for method in local)
        for alias in client.aliases.split():
            self.aliases[alias] = name
        for method, returned in client.returns.items():
            self.returns[f"{name}.{method}"] = returned

    def canonical(self, dotted: str) -> str:
        """One spelling per library name: ``requests.sessions.Session`` -> ``requests.Session``."""
        known = self._canonical.get(dotted)
        if known is not None:
            return known
        result = dotted
        for _ in range(4):
            target = self.aliases.get(result)
            if target is None:
                head, _, tail = result.rpartition(".")
                while head:
                    module_alias = self.aliases.get(head)
                    if module_alias is not None:
                        target = f"{module_alias}.{tail}"
                        break
                    head, _, rest = head.rpartition(".")
                    tail = f"{rest}.{tail}"
            if target is None or target == result:
                break
            result = target
        self._canonical[dotted] = result
        return result

    def knows_class(self, cls: str) -> bool:
        """Whether some rule says what instances of ``cls`` do or what they hold."""
        known = self._known_classes
        if known is None:
            classes = {cls for cls, _ in self.methods}
            classes.update(cls for cls, _ in self.attributes)
            classes.update(cls for cls, _ in self.attribute_types)
            classes.update(self.attribute_types.values())
            classes.update(self.returns.values())
            classes.update(self.yields.values())
            classes.update(self.factories.values())
            classes.update(returns.returned for returns in self.returns_for_argument.values())
            known = self._known_classes = frozenset(classes)
        return self.canonical(cls) in known

    def attribute_type(self, cls: str, name: str) -> str | None:
        """The class of ``instance.name``; ``(cls, ANY_METHOD)`` types every attribute
        (SDK clients whose resources hang off the client: ``client.chat.completions``)."""
        typed = self.attribute_types.get((cls, name))
        if typed is None and (cls, name) not in self.method_exceptions:
            typed = self.attribute_types.get((cls, ANY_METHOD))
        return typed

    def method_rule(self, cls: str, method: str) -> Rule | None:
        rule = self.methods.get((cls, method))
        if rule is not None:
            return rule
        if (cls, method) in self.method_exceptions or method.startswith("_"):
            return None
        return self.methods.get((cls, ANY_METHOD))
