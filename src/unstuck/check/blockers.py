"""What blocking work was found: a direct ``Hit``, a transitive ``Blocker``, a ``Finding``.

A ``Scan`` holds what one function does itself: blocking calls (hits), calls to sync
project functions (``SyncCall``, followed later, with the call kept to bind its
arguments) and calls to coroutines (their own entries). A ``Blocker`` is blocking work
reached through a chain of sync calls, with the qualnames on the way; ``finding`` and
``blocker_message`` turn either into the ``Finding`` a user reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from unstuck.check.model import MODULE_BODY, Call, ChainLink, Finding
from unstuck.check.rule import Rule
from unstuck.check.values import Key, LibraryMethod


@dataclass(frozen=True, slots=True)
class Hit:
    rule: Rule
    line: int
    col: int
    label: str
    origin: str | None
    once: bool  # in a block that runs once per process (``FunctionSummary.once_blocks``)


@dataclass(frozen=True, slots=True)
class SyncCall:
    """A call that runs the sync project function ``target`` (or a property read)."""

    line: int
    col: int
    target: Key
    call: Call
    once: bool


@dataclass(slots=True)
class Scan:
    hits: list[Hit]
    sync_calls: list[SyncCall]
    async_calls: list[Key]
    # coroutines started as tasks (``asyncio.create_task(poll())``, not awaited there):
    # they run on the loop beside the caller, and on after it returns
    spawned: list[Key] = field(default_factory=list)
    # the awaited coroutine calls of ``async_calls``, each with its call: what they pass
    # to untyped parameters is followed into the coroutine (``await fetch(requests.
    # Session(), url)``), and the constants they pass turn its flag blocks off
    awaited: list[SyncCall] = field(default_factory=list)
    # coroutines awaited under a once-guard (``if _token is None: _token = await
    # log_in()``): followed like calls, the first time only
    awaited_once: list[Key] = field(default_factory=list)
    # tasks started under a once-guard: they run beside the requests (a background
    # poller, as one the lifespan starts), for no request of their own
    spawned_once: list[Key] = field(default_factory=list)
    # a method of a network (a ``torch.nn.Module`` subclass) that runs layers of it: the
    # library call each layer is (reported where code outside the network runs it)
    runs: LibraryMethod | None = None


@dataclass(frozen=True, slots=True, order=True)
class Site:
    """Where blocking work is done: one site is one finding, however it is reached."""

    path: str
    line: int
    column: int  # 1-based, as reported
    code: str


@dataclass(frozen=True, slots=True)
class Blocker:
    rule: Rule
    chain: tuple[ChainLink, ...]
    label: str
    origin: str | None
    through: tuple[str, ...]  # qualnames of the sync functions on the way
    site: Site
    once: str | None  # why it runs once per process (None: every time it is reached)


def extend(link: ChainLink, callee: Key, blocker: Blocker, once: str | None = None) -> Blocker:
    """``blocker`` reached one call further out, at ``link``."""
    return Blocker(
        blocker.rule,
        (link, *blocker.chain),
        blocker.label,
        blocker.origin,
        (callee[1], *blocker.through),
        blocker.site,
        once or blocker.once,
    )


def better(current: Blocker | None, candidate: Blocker) -> Blocker:
    """Of two ways to reach a site: per request over once, then the shorter chain, then
    the first chain in the order of its places. A total order: whatever order the ways
    are found in (sets of values are iterated in an order that changes from one process
    to the next), the same one is kept, so two runs give the same report."""
    if current is None:
        return candidate
    if (candidate.once is None) != (current.once is None):
        return candidate if candidate.once is None else current
    if len(candidate.chain) != len(current.chain):
        return candidate if len(candidate.chain) < len(current.chain) else current
    return candidate if _tie_order(candidate) < _tie_order(current) else current


def _tie_order(blocker: Blocker) -> tuple[list[tuple[str, int, str]], str]:
    links = [(link.path, link.line, link.function) for link in blocker.chain]
    return links, blocker.once or ""


def dotted_name(key: Key) -> str:
    return key[0] if key[1] == MODULE_BODY else f"{key[0]}.{key[1]}"


def short(name: str) -> str:
    return name.removeprefix("builtins.")


def blocker_message(rule: Rule, label: str, origin: str | None, through: tuple[str, ...]) -> str:
    text = f"{label} {rule.summary}"
    if through:
        text += ", reached through " + " -> ".join(f"{name}()" for name in through)
    if origin:
        text += f" ({origin})"
    return f"{text}; fix: {rule.fix}"


def finding(
    rule: Rule, path: str, line: int, col: int, message: str, chain: tuple[ChainLink, ...]
) -> Finding:
    return Finding(rule.code, path, line, col + 1, message, rule.severity, None, chain)
