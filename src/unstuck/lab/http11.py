"""A minimal HTTP/1.1 client on asyncio streams, for driving the service under load.

Standard library only, so the load generator needs nothing installed and its
own cost stays small and visible. One :class:`Connection` is one keep-alive
TCP connection that sends one request at a time; it reads ``Content-Length``
and chunked bodies, and reopens itself once when the server has closed an
idle connection between two requests (uvicorn closes them after 5 s).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

# Bounds on what a response may be: a misbehaving server cannot exhaust the lab's memory.
MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 32 * 1024 * 1024


class ProtocolError(Exception):
    """The server answered something that is not HTTP/1.1 this client understands."""


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    # False: a new connection per request, which spreads requests over the worker
    # processes that share a listening socket (a kept-alive one stays with one worker).
    keep_alive: bool = True

    @classmethod
    def get(cls, path: str, *headers: tuple[str, str]) -> Request:
        return cls("GET", path, headers=headers)

    @classmethod
    def post_json(cls, path: str, body: str) -> Request:
        return cls("POST", path, body.encode(), (("Content-Type", "application/json"),))


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class Connection:
    """One keep-alive connection to ``host:port``; not safe to share between tasks."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._used = False

    async def open(self) -> None:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            self._used = False

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def send(self, request: Request) -> Response:
        """Send ``request`` and read the whole response; no timeout here (callers set one)."""
        reused = self._writer is not None and self._used
        try:
            return await self._exchange(request)
        except (ConnectionError, asyncio.IncompleteReadError):
            self.close()
            # A reused connection may have been closed by the server while idle: one retry
            # on a fresh connection, for idempotent requests only.
            if not reused or request.method != "GET":
                raise
            return await self._exchange(request)

    async def _exchange(self, request: Request) -> Response:
        await self.open()
        assert self._reader is not None and self._writer is not None
        self._writer.write(self._encode(request))
        await self._writer.drain()
        self._used = True
        response, keep_alive = await self._read_response(self._reader)
        if not (keep_alive and request.keep_alive):
            self.close()
        return response

    def _encode(self, request: Request) -> bytes:
        lines = [
            f"{request.method} {request.path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Connection: keep-alive" if request.keep_alive else "Connection: close",
            "User-Agent: unstuck-lab",
        ]
        if request.body or request.method in {"POST", "PUT", "PATCH"}:
            lines.append(f"Content-Length: {len(request.body)}")
        lines.extend(f"{name}: {value}" for name, value in request.headers)
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + request.body

    async def _read_response(self, reader: asyncio.StreamReader) -> tuple[Response, bool]:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raise ProtocolError("response headers too large") from None
        if len(head) > MAX_HEADER_BYTES:
            raise ProtocolError("response headers too large")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError(f"not an HTTP/1.1 status line: {status_line[:80]!r}")
        headers: dict[str, str] = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await self._read_body(reader, headers)
        keep_alive = headers.get("connection", "").lower() != "close"
        return Response(int(parts[1]), headers, body), keep_alive

    async def _read_body(self, reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            total = 0
            while True:
                size_line = await reader.readuntil(b"\r\n")
                try:
                    size = int(size_line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise ProtocolError(f"bad chunk size {size_line[:40]!r}") from None
                total += size
                if total > MAX_BODY_BYTES:
                    raise ProtocolError("response body too large")
                if size == 0:
                    # Trailers, if any, end with an empty line.
                    while (await reader.readuntil(b"\r\n")) != b"\r\n":
                        pass
                    return b"".join(chunks)
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
        if "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise ProtocolError("bad Content-Length") from None
            if not 0 <= length <= MAX_BODY_BYTES:
                raise ProtocolError(f"Content-Length out of bounds: {length}")
            return await reader.readexactly(length)
        # No length: the body runs to the end of the connection.
        chunks, total = [], 0
        while chunk := await reader.read(64 * 1024):
            total += len(chunk)
            if total > MAX_BODY_BYTES:
                raise ProtocolError("response body too large")
            chunks.append(chunk)
        headers["connection"] = "close"
        return b"".join(chunks)
