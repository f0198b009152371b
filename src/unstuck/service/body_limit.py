"""A limit on request bodies, enforced before the body is read: ``413 Content Too Large``.

Every route but the uploads takes small JSON: ``UNSTUCK_MAX_BODY_BYTES`` (64 KiB
by default) is more than any of them needs (``/ml-inference``'s 1,000 rows take
about 25 kB), and small enough that parsing and validating a body under it, on
the loop, stays far below the watcher's threshold (about 10 ms). Raising it
raises that cost. A body
whose ``Content-Length`` says it is larger is refused before the app runs; a
body without one (chunked) is counted as it arrives, and the 413 goes out the
moment the count passes the limit: the app then sees the client as gone, and
whatever it answers is dropped. The 413 closes the connection, so the rest of
the body is never read. Upload routes stream to disk under their own limit
(``UNSTUCK_MAX_UPLOAD_BYTES``) and are exempt.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Routes that stream their body to disk under a limit of their own.
UPLOAD_PATHS = frozenset({"/upload-video"})


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UPLOAD_PATHS:
            await self.app(scope, receive, send)
            return
        declared, chunked = _framing(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send)
            return
        if not chunked:
            # The server reads no more than Content-Length (and, without one or a
            # chunked body, no body at all): nothing to count.
            await self.app(scope, receive, send)
            return
        await _Counted(self, receive, send).run(scope)

    async def _refuse(self, send: Send) -> None:
        detail = (
            f"the request body is larger than {self.max_bytes} bytes (UNSTUCK_MAX_BODY_BYTES); "
            "videos go to POST /upload-video"
        )
        body = json.dumps({"detail": detail}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class _Counted:
    """One request whose body is counted as the app reads it."""

    def __init__(self, limit: BodyLimitMiddleware, receive: Receive, send: Send) -> None:
        self.limit, self._receive, self._send = limit, receive, send
        self.received = 0
        self.refused = False

    async def run(self, scope: Scope) -> None:
        await self.limit.app(scope, self.receive, self.send)

    async def receive(self) -> Message:
        if self.refused:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit.max_bytes:
                self.refused = True
                await self.limit._refuse(self._send)
                return {"type": "http.disconnect"}
        return message

    async def send(self, message: Message) -> None:
        if not self.refused:
            await self._send(message)


def _framing(scope: Scope) -> tuple[int | None, bool]:
    """The declared ``Content-Length`` (None when absent or not a number), and whether
    the body comes in chunks (``Transfer-Encoding``), whose length nothing declares."""
    declared: int | None = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                chunked = True  # count what arrives, whatever the header says
        elif name == b"transfer-encoding":
            chunked = True
    return declared, chunked


def document(schema: dict[str, Any]) -> None:
    """Add the 413 to every operation of the OpenAPI `schema` that takes a limited body."""
    problem = {"$ref": "#/components/schemas/Problem"}
    for path, operations in schema.get("paths", {}).items():
        if path in UPLOAD_PATHS:
            continue
        for operation in operations.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                operation.setdefault("responses", {}).setdefault(
                    "413",
                    {
                        "description": "the body is larger than UNSTUCK_MAX_BODY_BYTES",
                        "content": {"application/json": {"schema": problem}},
                    },
                )
