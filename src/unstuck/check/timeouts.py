"""HTTP calls made without a timeout (USK203), found in any function of the project.

A call that the rule's ``Timeouts`` lists (``requests``, ``httpx``, ``urllib3``,
``http.client``, ``aiohttp``) and that leaves out its timeout, or passes ``None``, can
wait forever on a peer that never answers. Only calls whose last name may be one of
those are evaluated, which keeps this pass cheap.
"""

from __future__ import annotations

from unstuck.check.blockers import dotted_name, finding, short
from unstuck.check.model import Attribute, Call, ChainLink, Constant, Finding, Global
from unstuck.check.program import Program, last_name
from unstuck.check.rule import Rule, Timeouts
from unstuck.check.values import Key, LibraryMethod, LibraryObject


def timeout_findings(program: Program, rule: Rule, key: Key) -> list[Finding]:
    function = program.function(key)
    policy = rule.timeouts
    if function is None or policy is None:
        return []
    names = _last_names(policy)
    findings: list[Finding] = []
    for call in function.calls:
        func = call.func
        # the two common shapes read directly: this runs for every call of the project
        called = func.name if type(func) is Attribute or type(func) is Global else last_name(func)
        if called not in names:
            continue
        path = program.modules[key[0]].path
        for value in program.eval(call.func, key[0]):
            if isinstance(value, LibraryObject):
                name = value.name
                relevant = name in policy.required or name in policy.not_none
            elif isinstance(value, LibraryMethod):
                name = f"{value.cls}.{value.name}"
                relevant = (value.cls, value.name) in policy.required_methods
            else:
                continue
            if relevant and lacks_timeout(policy, name, call):
                label = f"{short(name)}()"
                message = f"{label} {rule.summary}; fix: {rule.fix}"
                link = ChainLink(path, call.line, dotted_name(key))
                findings.append(finding(rule, path, call.line, call.col, message, (link,)))
                break
    return findings


# by identity (the policy is kept alive with them, so its id is never reused): hashing
# the policy, a dataclass of sets, for every function costs more than the lookup
_NAMES: dict[int, tuple[Timeouts, frozenset[str]]] = {}


def _last_names(policy: Timeouts) -> frozenset[str]:
    known = _NAMES.get(id(policy))
    if known is None:
        known = _NAMES[id(policy)] = (policy, policy.last_names())
    return known[1]


def lacks_timeout(policy: Timeouts, callable_name: str, call: Call) -> bool:
    """Whether ``call`` of ``callable_name`` has no timeout."""
    names = {keyword.name for keyword in call.keywords}
    if None in names:  # **options may carry it
        return False
    if callable_name in policy.not_none:
        return call.keyword("timeout") == Constant(None)
    position = dict(policy.positional).get(callable_name)
    if position is not None and len(call.args) > position:
        return False
    return "timeout" not in names
