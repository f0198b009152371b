"""The service under test, as separate processes the lab starts, waits for and stops.

Each configuration (a set of ``UNSTUCK_*`` settings) is one ``unstuck serve
--antipatterns --no-worker`` process tree with its own data directory, port
and watcher token, in its own session so that stopping it reaches every
process it started and nothing else. On Linux the kernel sends the service
SIGTERM when the lab dies, even by SIGKILL (`unstuck.parent_death`), so that
a killed lab leaves no service behind. The lab only talks to it over HTTP.
Services are reused across claims that need the same settings; at most
``keep`` stay up at once, the oldest is stopped first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unstuck.lab.client import Connection, ProtocolError, Request
from unstuck.lab.load import Target
from unstuck.parent_death import die_with_parent

STARTUP_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0
# What /health answers from a running service: 503 means only that no video worker is up.
ANSWERING = frozenset({200, 503})
_LOG_TAIL_CHARS = 3_000

Settings = tuple[tuple[str, str], ...]


class ServiceError(Exception):
    """The service did not start or did not answer; the message includes its log."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _environment(settings: Settings) -> dict[str, str]:
    # The caller's own UNSTUCK_* variables must not change what the lab measures.
    base = {key: value for key, value in os.environ.items() if not key.startswith("UNSTUCK_")}
    return {**base, **dict(settings)}


@dataclass
class RunningService:
    settings: Settings
    process: subprocess.Popen[bytes]
    target: Target
    data_dir: Path
    log: Path
    token: str
    started_s: float = field(default=0.0)

    def describe(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.settings if k != "UNSTUCK_WATCH_TOKEN")
        return shown or "defaults"

    def log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-_LOG_TAIL_CHARS:]
        except OSError:
            return "(no log)"

    async def get(self, path: str, timeout_s: float = 10.0) -> tuple[int, bytes]:
        connection = Connection(self.target.host, self.target.port)
        try:
            async with asyncio.timeout(timeout_s):
                response = await connection.send(Request.get(path, *self._auth(path)))
        finally:
            connection.close()
        return response.status, response.body

    def _auth(self, path: str) -> tuple[tuple[str, str], ...]:
        return (("Authorization", f"Bearer {self.token}"),) if path.startswith("/_unstuck") else ()

    async def diagnostics(self) -> dict[str, Any] | None:
        """The watcher's JSON at ``/_unstuck``, or ``None`` when it is not there or not JSON."""
        try:
            status, body = await self.get("/_unstuck", timeout_s=5.0)
            document = json.loads(body) if status == 200 else None
        except (OSError, TimeoutError, ProtocolError, asyncio.IncompleteReadError, ValueError):
            return None
        return document if isinstance(document, dict) else None

    async def wait_healthy(self, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                tail = await asyncio.to_thread(self.log_tail)
                raise ServiceError(
                    f"the service ({self.describe()}) exited with code "
                    f"{self.process.returncode} before answering /health:\n{tail}"
                )
            try:
                status, _ = await self.get("/health", timeout_s=2.0)
                # 503 is an answer too: the lab runs no video worker, so /health reports
                # the video pipeline as unavailable while the rest of the service is up.
                if status in ANSWERING:
                    return
            except (OSError, TimeoutError, ProtocolError, asyncio.IncompleteReadError):
                pass
            if time.monotonic() > deadline:
                tail = await asyncio.to_thread(self.log_tail)
                raise ServiceError(
                    f"the service ({self.describe()}) did not answer /health within "
                    f"{timeout_s:g} s:\n{tail}"
                )
            await asyncio.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM for a graceful stop, then SIGKILL to the whole session if anything is left."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(STOP_TIMEOUT_S)
        # The session is ours alone (start_new_session): this reaches only its processes.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


class Fleet:
    """Starts services on demand, reuses them by settings, and stops them all at the end."""

    def __init__(self, workdir: Path, database_url: str | None = None, keep: int = 3) -> None:
        self.workdir, self.database_url, self.keep = workdir, database_url, keep
        self._running: dict[Settings, RunningService] = {}
        self._started = 0
        self._spawner: ThreadPoolExecutor | None = None

    async def service(self, **settings: str | int | float) -> RunningService:
        """The service with these settings (``pool_size=2`` means ``UNSTUCK_POOL_SIZE=2``)."""
        key = tuple(
            sorted((f"UNSTUCK_{name.upper()}", str(value)) for name, value in settings.items())
        )
        if key in self._running:
            return self._running[key]
        while len(self._running) >= self.keep:
            oldest = next(iter(self._running))
            await asyncio.to_thread(self._running.pop(oldest).stop)
        # In a thread of the fleet's own: the kernel ties the death signal to the thread
        # that forks, and this one lives until `stop_all` has stopped every service.
        if self._spawner is None:
            self._spawner = ThreadPoolExecutor(1, thread_name_prefix="lab-services")
        loop = asyncio.get_running_loop()
        service = await loop.run_in_executor(self._spawner, self._start, key)
        try:
            await service.wait_healthy()
        except BaseException:
            await asyncio.to_thread(self._running.pop(key).stop)
            raise
        service.started_s = time.perf_counter()
        return service

    def _start(self, settings: Settings) -> RunningService:
        self._started += 1
        data_dir = self.workdir / f"service-{self._started}"
        data_dir.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(16)
        extra: Settings = (("UNSTUCK_WATCH_TOKEN", token),)
        if self.database_url:
            extra += (("UNSTUCK_DATABASE_URL", self.database_url),)
        port = _free_port()
        log = data_dir / "serve.log"
        command = [
            sys.executable,
            "-m",
            "unstuck",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--antipatterns",
            "--no-worker",
            # No access log: writing one line per request would be part of what is measured.
            "--log-level",
            "warning",
        ]
        with log.open("wb") as sink:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=_environment(extra + settings),
                start_new_session=True,
                preexec_fn=die_with_parent(),
            )
        service = RunningService(settings, process, Target("127.0.0.1", port), data_dir, log, token)
        # Known to the fleet as soon as it exists, so that an interruption cannot orphan it.
        self._running[settings] = service
        return service

    def stop_all(self) -> None:
        while self._running:
            self._running.pop(next(iter(self._running))).stop()
        if self._spawner is not None:
            self._spawner.shutdown()
            self._spawner = None
