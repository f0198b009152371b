"""HTTP methods as RFC 9110 has them: HEAD wherever GET is, and an ``Allow`` that tells all.

FastAPI routes answer only the methods they declare, so ``HEAD /users`` would be
a 405; and a 405 names only the methods of the first route whose path matched,
so ``DELETE /users`` said ``Allow: POST`` although ``GET /users`` exists too.
`MethodsMiddleware` reads the methods of every path from the service's OpenAPI
schema (the contract clients see), serves HEAD as GET without the body, and
rewrites ``Allow`` on a 405 to the full list. Paths outside the schema (the
docs pages) are left to Starlette, which already answers HEAD on them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


# Marks a HEAD served as GET, so that a route can skip reading a body nobody receives.
_HEAD_KEY = "unstuck.head"


def is_head(scope: Scope) -> bool:
    """Whether this GET is a HEAD request (`MethodsMiddleware` passes HEADs on as GETs)."""
    return bool(scope.get(_HEAD_KEY, False))


# Distinct request paths remembered (ids make them many): a bound on the memory it takes.
_CACHED_PATHS = 4_096


class MethodTable:
    """The methods of each OpenAPI path template, matched against request paths."""

    def __init__(self, paths: Mapping[str, Mapping[str, Any]]) -> None:
        self._cache: dict[str, frozenset[str]] = {}
        self._entries: list[tuple[re.Pattern[str], frozenset[str]]] = []
        for template, operations in paths.items():
            methods = {name.upper() for name in operations if name in _HTTP_METHODS}
            if "GET" in methods:
                methods.add("HEAD")
            regex, _, _ = compile_path(template)
            self._entries.append((regex, frozenset(methods)))

    def allowed(self, path: str) -> frozenset[str]:
        """Every method some route answers on `path`; empty for a path outside the schema."""
        cached = self._cache.get(path)
        if cached is not None:
            return cached
        found: set[str] = set()
        for regex, methods in self._entries:
            if regex.match(path):
                found |= methods
        if len(self._cache) >= _CACHED_PATHS:
            self._cache.clear()
        allowed = self._cache[path] = frozenset(found)
        return allowed


class MethodsMiddleware:
    def __init__(self, app: ASGIApp, table: MethodTable) -> None:
        self.app = app
        self.table = table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        allowed = self.table.allowed(scope["path"])
        if scope["method"] == "HEAD" and "GET" in allowed:
            head = {**scope, "method": "GET", _HEAD_KEY: True}
            await self.app(head, receive, _without_body(send))
            return
        # A method the path answers cannot end in a 405: no need to watch the answer.
        if allowed and scope["method"] not in allowed:
            send = _with_allow(send, allowed)
        await self.app(scope, receive, send)


def _without_body(send: Send) -> Send:
    """The GET response's status and headers (Content-Length included), with no body."""

    async def send_head(message: Message) -> None:
        if message["type"] == "http.response.body":
            if message.get("more_body", False):
                return
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(message)

    return send_head


def _with_allow(send: Send, allowed: frozenset[str]) -> Send:
    value = ", ".join(sorted(allowed)).encode("latin-1")

    async def send_allow(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] == 405:
            headers = [
                (name, data) for name, data in message.get("headers", []) if name != b"allow"
            ]
            message = {**message, "headers": [*headers, (b"allow", value)]}
        await send(message)

    return send_allow
