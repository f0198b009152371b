"""HTTP calls made without a timeout (USK203), found in any function of the project.

A call of ``requests``, ``httpx``, ``urllib3``, ``http.client`` or ``aiohttp`` (the names
``http_timeout`` lists) that leaves out its timeout, or passes ``None``, can wait
forever on a peer that never answers. Only calls whose last name may be one of those
(``_TIMEOUT_NAMES``) are evaluated, which keeps this pass cheap.
"""

from __future__ import annotations

from unstuck.check.blockers import dotted_name, finding, short
from unstuck.check.model import ChainLink, Finding
from unstuck.check.program import Program, last_name
from unstuck.check.rule import Rule
from unstuck.check.rules import http_timeout
from unstuck.check.values import Key, LibraryMethod, LibraryObject

_TIMEOUT_NAMES = frozenset(
    [
        "get",
        "post",
        "put",
        "patch",
        "delete",
        "head",
        "options",
        "request",
        "urlopen",
        "stream",
        "PoolManager",
        "HTTPConnection",
        "HTTPSConnection",
        "Client",
        "AsyncClient",
        "ClientSession",
    ]
)


def timeout_findings(program: Program, rule: Rule, key: Key) -> list[Finding]:
    function = program.function(key)
    if function is None:
        return []
    path = program.modules[key[0]].path
    findings: list[Finding] = []
    for call in function.calls:
        if last_name(call.func) not in _TIMEOUT_NAMES:
            continue
        for value in program.eval(call.func, key[0]):
            if isinstance(value, LibraryObject):
                name = value.name
                relevant = (
                    name in http_timeout.TIMEOUT_REQUIRED or name in http_timeout.TIMEOUT_NOT_NONE
                )
            elif isinstance(value, LibraryMethod):
                name = f"{value.cls}.{value.name}"
                relevant = (value.cls, value.name) in http_timeout.TIMEOUT_REQUIRED_METHODS
            else:
                continue
            if relevant and http_timeout.lacks_timeout(name, call):
                label = f"{short(name)}()"
                message = f"{label} {rule.summary}; fix: {rule.fix}"
                link = ChainLink(path, call.line, dotted_name(key))
                findings.append(finding(rule, path, call.line, call.col, message, (link,)))
                break
    return findings
