"""The HTTP protocol of the service's uvicorn: limits on what a client can hold before it asks.

uvicorn bounds the time between requests (``--timeout-keep-alive``) but not
the time a client takes to send a request's head, nor the head's size or
number of header lines (httptools has no such limit). Slow clients that send
one header line every few seconds, or heads of megabytes, then hold every
file descriptor or fill the memory. :class:`GuardedHttpToolsProtocol` adds:

* a deadline for each request head (``UNSTUCK_HEAD_TIMEOUT_S``), counted
  from the connection or from the end of the previous response: ``408`` and
  close at the deadline;
* a size and a count limit on the head (``UNSTUCK_MAX_HEAD_BYTES``,
  ``UNSTUCK_MAX_HEADERS``): ``431`` and close;
* a cap on open connections (``UNSTUCK_MAX_CONNECTIONS``, kept below the
  file-descriptor limit): a new connection past the cap closes the oldest one
  that has not sent a complete head yet, so a flood of idle connections
  cannot lock out a client with a real request (``/health`` included). When
  every connection is in a request, the new one gets ``503``.

uvicorn's own ``--limit-concurrency`` is not used for this: it counts idle
connections too, so a flood of them would make every request a 503. Settings
come from ``UNSTUCK_*`` variables, read once per worker process.
"""

from __future__ import annotations

import asyncio
import functools
import resource
from typing import ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from unstuck.service.settings import Settings

# File descriptors kept free for everything but client connections: database and
# Redis connections, the process pool's pipes, files being written, the log.
_RESERVED_FDS = 256


@functools.cache
def _settings() -> Settings:
    return Settings()


def connection_cap(settings: Settings) -> int:
    """``UNSTUCK_MAX_CONNECTIONS``, lowered to what the file-descriptor limit allows."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return settings.max_connections
    return max(1, min(settings.max_connections, soft - _RESERVED_FDS))


def _response(status: bytes, detail: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"content-length: " + str(len(detail)).encode() + b"\r\nconnection: close\r\n\r\n" + detail
    )


_TIMED_OUT = _response(b"408 Request Timeout", b"the request head did not arrive in time")
_HEAD_TOO_LARGE = _response(
    b"431 Request Header Fields Too Large", b"the request head is too large or has too many lines"
)
_FULL = _response(b"503 Service Unavailable", b"too many connections; try again later")


class _HeadRefused(Exception):
    pass


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    # Connections waiting for a request head, oldest first: the ones a new connection
    # may push out. One uvicorn server per process, so one registry per process.
    _waiting: ClassVar[dict[GuardedHttpToolsProtocol, None]] = {}

    _deadline: asyncio.TimerHandle | None = None
    _refusal: bytes | None = None
    _head_bytes = 0
    _head_size = 0
    _header_count = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        settings = _settings()
        if len(self.connections) >= connection_cap(settings) and not self._push_out_idle():
            transport.write(_FULL)
            transport.close()
            return
        super().connection_made(transport)
        self._await_head()

    def _push_out_idle(self) -> bool:
        for idle in self._waiting:
            idle._close()
            return True
        return False

    def _await_head(self) -> None:
        self._head_bytes = self._head_size = self._header_count = 0
        self._waiting[self] = None
        self._deadline = self.loop.call_later(_settings().head_timeout_s, self._timed_out)

    def _head_arrived(self) -> None:
        self._waiting.pop(self, None)
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _close(self, response: bytes | None = None) -> None:
        self._head_arrived()
        if self.transport is not None and not self.transport.is_closing():
            if response is not None:
                self.transport.write(response)
            self.transport.close()

    def _timed_out(self) -> None:
        self._close(_TIMED_OUT)

    def data_received(self, data: bytes) -> None:
        waiting = self in self._waiting
        if waiting:
            self._head_bytes += len(data)
        super().data_received(data)
        # Checked after parsing: the same read may hold the end of the head and a body.
        if waiting and self in self._waiting and self._head_bytes > _settings().max_head_bytes:
            self._close(_HEAD_TOO_LARGE)

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        self._check_head()
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._head_size += len(name) + len(value)
        self._check_head()
        super().on_header(name, value)

    def _check_head(self) -> None:
        # A whole head may come in one read: counted as parsed, not only as received.
        settings = _settings()
        if self._header_count > settings.max_headers or self._head_size > settings.max_head_bytes:
            # Raised to stop the parser; uvicorn answers a parser error with
            # send_400_response, which answers 431 instead.
            self._refusal = _HEAD_TOO_LARGE
            raise _HeadRefused

    def send_400_response(self, msg: str) -> None:
        if self._refusal is not None:
            self._close(self._refusal)
            return
        super().send_400_response(msg)

    def on_headers_complete(self) -> None:
        self._head_arrived()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        # The client may have sent its next request before this response's last
        # message (a streamed body of known length is complete for it before the
        # server's final empty chunk): its head is then parsed and queued, and
        # waiting for a head again would count its body as one (a false 431).
        next_parsed = bool(self.pipeline)
        super().on_response_complete()
        if not self.transport.is_closing() and not next_parsed:
            self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_arrived()
        super().connection_lost(exc)
