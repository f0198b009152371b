"""The built-in upstream that ``/proxy``, ``/safe`` and ``/bad`` call when none is configured.

It is a stdlib HTTP server on its own threads, bound to a free port on
127.0.0.1, started and stopped by the lifespan of each worker process. Being
off the event loop matters: ``/bad`` blocks the loop while it waits for the
upstream, and an upstream served by that same loop could never answer it.

``GET /data?delay=S`` waits ``S`` seconds (at most :data:`MAX_DELAY_S`), then
answers a small JSON document; anything else is a JSON 404.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_DELAY_S = 60.0


class _Handler(BaseHTTPRequestHandler):
    server_version = "unstuck-upstream"

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/data":
            self._reply(HTTPStatus.NOT_FOUND, {"detail": f"no such upstream path: {parts.path}"})
            return
        raw_delay = parse_qs(parts.query).get("delay", ["0"])[0]
        try:
            delay = float(raw_delay)
        except ValueError:
            delay = -1.0
        if not 0 <= delay <= MAX_DELAY_S:
            detail = f"delay must be a number of seconds from 0 to {MAX_DELAY_S}"
            self._reply(HTTPStatus.BAD_REQUEST, {"detail": detail})
            return
        time.sleep(delay)
        body = {"source": "unstuck built-in upstream", "delay_s": delay, "served_at": time.time()}
        self._reply(HTTPStatus.OK, body)

    def _reply(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        # The service's own access log already shows the calling route.
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A caller that timed out closes its end (``/safe`` does on purpose): not an error.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


@dataclass
class BuiltinUpstream:
    server: ThreadingHTTPServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/data"

    def stop(self) -> None:
        """Blocks until the serving thread has stopped: call it off the event loop."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def start_builtin_upstream() -> BuiltinUpstream:
    server = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="builtin-upstream"
    )
    thread.daemon = True
    thread.start()
    return BuiltinUpstream(server, thread)
