"""A rule: one family of code that must not run on the event loop.

A rule is data: the library callables and methods it knows to block, and what those
libraries return (``create_engine()`` gives an ``Engine``, ``Engine.connect()`` a
``Connection``), so that the type inference can follow values from a constructor to
the blocking method. ``Knowledge`` merges every rule into the tables the analysis reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

ANY_METHOD = "*"


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    summary: str  # what is wrong, completes "<call> ..."
    fix: str  # the suggested fix, part of every finding
    advice: str  # the branch of the article's decision tree, for the route map
    severity: str = "error"
    # False: only direct use in a coroutine matters (not through sync helpers).
    through_calls: bool = True
    functions: frozenset[str] = frozenset()
    methods: frozenset[tuple[str, str]] = frozenset()  # (class, method or ANY_METHOD)
    method_exceptions: frozenset[tuple[str, str]] = frozenset()
    attributes: frozenset[tuple[str, str]] = frozenset()  # blocking attribute reads
    returns: Mapping[str, str] = field(default_factory=dict)  # "f" / "Class.m" -> class
    aliases: Mapping[str, str] = field(default_factory=dict)
    attribute_types: Mapping[tuple[str, str], str] = field(default_factory=dict)
    classes: frozenset[str] = frozenset()  # lower-case class names
    # "f" / "Class.m" -> (keyword, position, value): that argument makes the call return
    # at once, e.g. ``executor.shutdown(wait=False)``; position -1: keyword only
    nonblocking: Mapping[str, tuple[str, int, object]] = field(default_factory=dict)


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
        self.aliases: dict[str, str] = {}
        self.attribute_types: dict[tuple[str, str], str] = {}
        self.classes: set[str] = set()
        self.nonblocking: dict[str, tuple[str, int, object]] = {}
        for rule in self.rules.values():
            for name in rule.functions:
                self.functions.setdefault(name, rule)
            for key in rule.methods:
                self.methods.setdefault(key, rule)
            for key in rule.attributes:
                self.attributes.setdefault(key, rule)
            self.method_exceptions.update(rule.method_exceptions)
            self.returns.update(rule.returns)
            self.aliases.update(rule.aliases)
            self.attribute_types.update(rule.attribute_types)
            self.classes.update(rule.classes)
            self.nonblocking.update(rule.nonblocking)
        self._canonical: dict[str, str] = {}

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
