"""The HTTP/1.1 client that the lab and the benchmarks measure with: asyncio streams, h11.

One :class:`Connection` is one keep-alive TCP connection that sends one request
at a time. h11 does the protocol (framing by ``Content-Length``, chunked or
end of connection, no body after HEAD, 204 and 304), so this module only moves
bytes and bounds them. A reused connection that the server closed while it was
idle (uvicorn closes them after 5 s) is reopened once, for GET and HEAD only.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import h11

# Bounds on what a response may be: a misbehaving server cannot exhaust the lab's memory.
MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 32 * 1024 * 1024
_READ_SIZE = 64 * 1024
_RETRYABLE = frozenset({"GET", "HEAD"})


class ProtocolError(Exception):
    """The server answered something that is not HTTP/1.1, or more than the bounds allow."""


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
    def head(cls, path: str, *headers: tuple[str, str]) -> Request:
        return cls("HEAD", path, headers=headers)

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
        self._protocol = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEADER_BYTES)
        self._used = False

    @property
    def is_open(self) -> bool:
        return self._writer is not None

    async def open(self) -> None:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            self._protocol = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEADER_BYTES)
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
        except (ConnectionError, asyncio.IncompleteReadError, _ClosedEarly):
            self.close()
            # A kept-alive connection may have been closed by the server while idle.
            if not reused or request.method not in _RETRYABLE:
                raise
        try:
            return await self._exchange(request)
        except _ClosedEarly as exc:
            self.close()
            raise ProtocolError(str(exc)) from None

    def _head(self, request: Request) -> h11.Request:
        headers = [
            ("Host", f"{self.host}:{self.port}"),
            ("Connection", "keep-alive" if request.keep_alive else "close"),
            ("User-Agent", "unstuck-lab"),
            *request.headers,
        ]
        if request.body or request.method in {"POST", "PUT", "PATCH"}:
            headers.append(("Content-Length", str(len(request.body))))
        return h11.Request(method=request.method, target=request.path, headers=headers)

    async def _exchange(self, request: Request) -> Response:
        await self.open()
        assert self._reader is not None and self._writer is not None
        protocol = self._protocol
        try:
            data = protocol.send(self._head(request)) or b""
            if request.body:
                data += protocol.send(h11.Data(data=request.body)) or b""
            data += protocol.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError as exc:
            raise ProtocolError(f"cannot send this request: {exc}") from None
        self._writer.write(data)
        await self._writer.drain()
        self._used = True
        response = await self._read_response(self._reader, protocol)
        if protocol.our_state is h11.DONE and protocol.their_state is h11.DONE:
            protocol.start_next_cycle()
        else:
            self.close()
        return response

    @staticmethod
    async def _read_response(reader: asyncio.StreamReader, protocol: h11.Connection) -> Response:
        head: h11.Response | None = None
        chunks: list[bytes] = []
        total = 0
        while True:
            try:
                event = protocol.next_event()
            except h11.RemoteProtocolError as exc:
                raise ProtocolError(f"not HTTP/1.1 this client understands: {exc}") from None
            if event is h11.NEED_DATA:
                data = await reader.read(_READ_SIZE)
                if not data and head is None and protocol.their_state is h11.SEND_RESPONSE:
                    # Nothing at all came back: the server closed a kept-alive connection.
                    raise _ClosedEarly("the server closed the connection before answering")
                protocol.receive_data(data)
            elif isinstance(event, h11.Response):
                head = event
            elif isinstance(event, h11.Data):
                total += len(event.data)
                if total > MAX_BODY_BYTES:
                    raise ProtocolError("response body too large")
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                headers = {
                    name.decode("latin-1"): value.decode("latin-1") for name, value in head.headers
                }
                return Response(head.status_code, headers, b"".join(chunks))
            elif isinstance(event, h11.ConnectionClosed):
                raise ProtocolError("the server closed the connection in the middle of an answer")
            # InformationalResponse (1xx): the final answer follows.


class _ClosedEarly(Exception):
    """The server closed the connection before the first byte of an answer."""
