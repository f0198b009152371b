"""The pure ASGI middleware: registers requests and serves the diagnostics.

Every HTTP and WebSocket request is registered for the length of the call
(its ``scope`` and start, two dict operations, no wrapping of ``receive`` or
``send``), and its ``scope`` is put in the context, so that the tasks it
creates carry it; nothing else is built per request. Under
``{path}`` it answers itself: the JSON diagnostics, ``/ui`` (a static page that
fetches the JSON with the token) and ``/metrics``. The JSON and the metrics need
``Authorization: Bearer <token>``, compared in constant time; with no token
configured they do not exist (the app answers, normally 404), except
``/metrics`` when ``metrics_public`` is set.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from time import monotonic
from typing import Any

from unstuck.watch._metrics import CONTENT_TYPE, exposition
from unstuck.watch._origin import ACTIVITY
from unstuck.watch._ui import page
from unstuck.watch._watcher import Watcher

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: str,
    headers: list[tuple[bytes, bytes]] | None = None,
    head: bool = False,
) -> None:
    raw = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *(headers or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": b"" if head else body})


def _json(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), default=str).encode()


def _bearer(scope: Scope) -> bytes | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"authorization":
            scheme, _, credentials = bytes(value).partition(b" ")
            if scheme.lower() == b"bearer" and credentials.strip():
                return credentials.strip()
            return None
    return None


def watch_requests(app: ASGIApp, watcher: Watcher) -> ASGIApp:
    """The middleware (``add_middleware`` takes a factory): one function per app.

    Every request pays for what runs here, so it is a plain function closing
    over what it needs: no instance, no attribute lookups, no clock read (the
    registry's clock is set by the heartbeat), no task lookup.
    """
    active = watcher.requests.active
    clock = watcher.requests
    set_activity = ACTIVITY.set
    reset_activity = ACTIVITY.reset
    base = watcher.config.path
    diagnostics = _Diagnostics(watcher)

    async def watch_request(scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            # The substring test keeps the per-request cost to one C call.
            if base in scope["path"] and await diagnostics.serve(scope, send):
                return
        elif kind != "websocket":
            await app(scope, receive, send)
            return
        key = id(scope)
        active[key] = (scope, clock.now or monotonic())
        token = set_activity(scope)
        try:
            await app(scope, receive, send)
        finally:
            # Tasks it spawned keep the scope: out of the registry, they run "spawned by" it.
            reset_activity(token)
            del active[key]

    watcher.requests.entry_code = watch_request.__code__
    return watch_request


class _Diagnostics:
    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher
        config = watcher.config
        self._token = config.token.encode() if config.token else None
        self._paths = {
            config.path: "json",
            config.path + "/ui": "ui",
            config.path + "/metrics": "metrics",
        }

    async def serve(self, scope: Scope, send: Send) -> bool:
        """Answer a diagnostics URL; ``False`` hands it to the app (as if absent)."""
        root = scope.get("root_path", "")
        path: str = scope["path"]
        if root and path.startswith(root):
            path = path[len(root) :]
        served = self._paths.get(path)
        return served is not None and await self._diagnostics(served, scope, send)

    async def _diagnostics(self, kind: str, scope: Scope, send: Send) -> bool:
        """Answer a diagnostics URL; ``False`` hands it to the app (as if absent)."""
        public_metrics = kind == "metrics" and self.watcher.config.metrics_public
        if self._token is None and not public_metrics:
            return False
        method = scope.get("method", "GET")
        head = method == "HEAD"
        if method not in {"GET", "HEAD"}:
            await _respond(
                send,
                405,
                _json({"detail": "use GET"}),
                "application/json",
                [(b"allow", b"GET, HEAD")],
            )
            return True
        if kind == "ui":
            nonce = secrets.token_urlsafe(16)
            root = scope.get("root_path", "")
            body = page(json_url=root + self.watcher.config.path, nonce=nonce).encode()
            policy = (
                f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
                "connect-src 'self'; img-src data:; form-action 'none'; frame-ancestors 'none'"
            )
            headers = [
                (b"content-security-policy", policy.encode()),
                (b"referrer-policy", b"no-referrer"),
            ]
            await _respond(send, 200, body, "text/html; charset=utf-8", headers, head)
            return True
        if not public_metrics and not self._authorized(scope):
            detail = (
                "missing or wrong bearer token: send 'Authorization: Bearer <token>' "
                "with the token of UNSTUCK_WATCH_TOKEN"
            )
            challenge = [(b"www-authenticate", b'Bearer realm="unstuck"')]
            await _respond(
                send, 401, _json({"detail": detail}), "application/json", challenge, head
            )
            return True
        if kind == "metrics":
            # Multiprocess exposition reads one file per worker: not on the loop.
            body = await asyncio.get_running_loop().run_in_executor(None, exposition)
            await _respond(send, 200, body, CONTENT_TYPE, head=head)
            return True
        snapshot = await self.watcher.snapshot()
        await _respond(send, 200, _json(snapshot), "application/json", head=head)
        return True

    def _authorized(self, scope: Scope) -> bool:
        given = _bearer(scope)
        assert self._token is not None
        # compare_digest takes the same time whatever the position of a mismatch.
        return given is not None and hmac.compare_digest(given, self._token)
