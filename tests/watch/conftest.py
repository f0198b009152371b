"""A real uvicorn process serving one of the apps in ``tests/watch/apps``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

APPS = Path(__file__).parent / "apps"
TOKEN = "s3cret-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def marker_line(path: Path, name: str) -> int:
    """The line of ``# BLOCKS: name`` in an app module."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.rstrip().endswith(f"# BLOCKS: {name}"):
            return number
    raise LookupError(f"no '# BLOCKS: {name}' marker in {path}")


class Server:
    def __init__(
        self, target: str, env: dict[str, str], workers: int = 1, wrapper: list[str] | None = None
    ) -> None:
        """``target`` is ``module:app``, or a script of ``APPS`` that runs uvicorn itself
        on the port of ``$PORT``; ``wrapper`` prefixes the command (``taskset``, ``nice``)."""
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.NamedTemporaryFile(prefix="unstuck-uvicorn-", suffix=".log")  # noqa: SIM115
        if target.endswith(".py"):
            command = [*(wrapper or []), sys.executable, str(APPS / target)]
            env = {**env, "PORT": str(self.port)}
        else:
            command = [
                *(wrapper or []), sys.executable, "-m", "uvicorn", target, "--app-dir", str(APPS),
                "--host", "127.0.0.1", "--port", str(self.port), "--no-access-log",
            ]  # fmt: skip
        if workers > 1:
            command += ["--workers", str(workers)]
        self.process = subprocess.Popen(
            command,
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited early:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"uvicorn did not start:\n{self.log()}")

    def log(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def request(
        self, path: str, token: str | None = None, timeout: float = 30
    ) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(self.base + path)
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def json(self, path: str, token: str | None = TOKEN) -> Any:
        status, _, body = self.request(path, token)
        assert status == 200, (status, body)
        return json.loads(body)

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        log = self.log()
        self._log.close()
        return log


def stall_count(server: Server) -> int:
    """How many stalls the server has reported so far."""
    count: int = server.json("/_unstuck")["stall_count"]
    return count


def stalls_after(server: Server, before: int, expected: int = 1) -> list[dict[str, Any]]:
    """The stalls reported after ``before`` (oldest first), waiting up to 5 s for them:
    the watchdog reports a stall just after it ends."""
    deadline = time.monotonic() + 5
    while True:
        data = server.json("/_unstuck")
        new = data["stall_count"] - before
        if new >= expected or time.monotonic() > deadline:
            return list(reversed(data["stalls"][: max(new, 0)]))
        time.sleep(0.05)


@pytest.fixture(scope="module")
def stall_server() -> Iterator[Server]:
    server = Server("stall_app:app", {"UNSTUCK_WATCH_TOKEN": TOKEN, "STALL_S": "0.3"})
    yield server
    server.stop()
