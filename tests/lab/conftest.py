"""A tiny real HTTP/1.1 server for the load generator's tests.

A stdlib ``ThreadingHTTPServer`` on 127.0.0.1, port 0, one thread per
connection, keep-alive on. It records which client ports it saw, so a test
can tell how many connections the generator opened.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from unstuck.lab.load import Target


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: TinyServer

    def do_GET(self) -> None:
        self.server.record(self.client_address[1])
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path == "/sleep":
            time.sleep(float(query.get("s", ["0"])[0]))
            self._reply(200, b"slept")
        elif parts.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (b"hello ", b"chunked ", b"world"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        elif parts.path == "/until-close":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"read me to the end")
            self.close_connection = True
        elif parts.path == "/drop-after":
            # Answers, then closes without saying so: like a server's idle timeout.
            self._reply(200, b"dropped")
            self.close_connection = True
        elif parts.path == "/status":
            self._reply(int(query["code"][0]), b"as asked")
        else:
            self._reply(404, b"no such path")

    def do_HEAD(self) -> None:
        # The headers of a GET, Content-Length included, and no body: as RFC 9110 has it.
        self.server.record(self.client_address[1])
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()

    def do_POST(self) -> None:
        self.server.record(self.client_address[1])
        length = int(self.headers.get("Content-Length", "0"))
        self._reply(200, self.rfile.read(length))

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        if status in {204, 304}:
            # No body and no length: the answer ends with its headers.
            self.end_headers()
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


class TinyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.client_ports: set[int] = set()
        self._lock = threading.Lock()

    def record(self, port: int) -> None:
        with self._lock:
            self.client_ports.add(port)

    @property
    def target(self) -> Target:
        return Target("127.0.0.1", self.server_address[1])


@pytest.fixture
def tiny_server() -> Iterator[TinyServer]:
    server = TinyServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
