"""Every worker of a deployment, seen from any of them, through a shared directory.

With several worker processes (``uvicorn --workers N``, gunicorn) a request for
the diagnostics reaches one worker. So each worker publishes its snapshot once
a second to ``<dir>/unstuck-worker-<pid>.json``, written by a thread of its own
(the encoding and the write never run on the loop) to a temporary file renamed
over the old one, so a reader never sees half a file. No server, no socket:
the directory is the one of ``PROMETHEUS_MULTIPROC_DIR`` unless
``UNSTUCK_WATCH_FLEET_DIR`` names another; with neither, a worker of
``uvicorn --workers`` or gunicorn uses ``$TMPDIR/unstuck-fleet-<manager pid>``,
so the workers of one manager find each other. One host only.

A reader keeps the files of live workers. A worker is dead when its pid is gone
or now belongs to another process (the file records the process's start time,
read from ``/proc``); its file is removed and, for the metrics, its gauges too
(``mark_process_dead``), which is what gunicorn's ``child_exit`` hook does at
once and what ``uvicorn --workers``, which has no hook, gets on the next read.
A live worker whose file stopped changing (a loop blocked for seconds cannot
publish) is kept and marked ``stale``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

logger = logging.getLogger("unstuck")

PUBLISH_EVERY_S = 1.0
#: A file older than this, of a live worker, is marked stale.
STALE_AFTER_S = 3.0
_PREFIX = "unstuck-worker-"
_FILE = re.compile(rf"{_PREFIX}(\d+)\.json")
_GAUGE_FILE = re.compile(r"gauge_live\w*_(\d+)\.db")


def process_start(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks since boot (Linux), else ``None``."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ")".
    return int(raw.rsplit(")", 1)[1].split()[19])


def is_alive(pid: int, started: int | None = None) -> bool:
    """``pid`` runs, and is the same process as the one that started at ``started``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    if started is not None:
        now = process_start(pid)
        if now is not None and now != started:
            return False  # the pid was reused
    return True


def snapshot_path(directory: str | Path, pid: int) -> Path:
    return Path(directory) / f"{_PREFIX}{pid}.json"


def write_atomically(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-" + path.name)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def mark_worker_dead(pid: int, directory: str | None = None) -> None:
    """Forget a worker that exited: its snapshot file and its Prometheus gauges.

    For gunicorn's ``child_exit(server, worker)`` hook: ``mark_worker_dead(worker.pid)``.
    ``directory`` defaults to the configured one.
    """
    from unstuck.watch._metrics import multiprocess_dir

    # The hook runs in the manager: its pid names the directory of its workers.
    fleet = directory or fleet_dir() or manager_dir(os.getpid())
    if fleet:
        with contextlib.suppress(OSError):
            snapshot_path(fleet, pid).unlink()
    metrics = multiprocess_dir()
    if metrics:
        from prometheus_client.multiprocess import mark_process_dead

        mark_process_dead(pid, metrics)  # type: ignore[no-untyped-call]


def fleet_dir() -> str | None:
    """The configured directory: ``UNSTUCK_WATCH_FLEET_DIR``, else ``PROMETHEUS_MULTIPROC_DIR``."""
    return (
        os.environ.get("UNSTUCK_WATCH_FLEET_DIR")
        or os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        or None
    )


def manager_dir(manager_pid: int) -> str:
    """The directory of the workers of one process manager when none is configured."""
    return os.path.join(tempfile.gettempdir(), f"unstuck-fleet-{manager_pid}")


def is_managed_worker() -> bool:
    """This process is a worker of ``uvicorn --workers`` (spawned) or of gunicorn."""
    import multiprocessing

    return multiprocessing.parent_process() is not None or "gunicorn.workers.base" in sys.modules


def worker_fleet_dir() -> str | None:
    """Where this worker publishes: the configured directory, else one per manager."""
    configured = fleet_dir()
    if configured:
        return configured
    return manager_dir(os.getppid()) if is_managed_worker() else None


def read_workers(directory: str | Path, *, skip_pid: int | None = None) -> list[dict[str, Any]]:
    """The published snapshots of the live workers; removes those of dead ones."""
    workers: list[dict[str, Any]] = []
    now = time.time()
    try:
        names = os.listdir(directory)
    except OSError:
        return workers
    for name in names:
        match = _FILE.fullmatch(name)
        if match is None:
            continue
        pid = int(match.group(1))
        if pid == skip_pid:
            continue
        path = Path(directory) / name
        try:
            raw = path.read_bytes()
            modified = path.stat().st_mtime
            data = json.loads(raw)
        except (OSError, ValueError):
            continue  # removed meanwhile, or not ours
        if not isinstance(data, dict):
            continue
        started = data.get("process_start")
        if not is_alive(pid, started if isinstance(started, int) else None):
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        data["published_s_ago"] = round(max(0.0, now - modified), 1)
        data["stale"] = now - modified > STALE_AFTER_S
        workers.append(data)
    return workers


def drop_dead_gauges(metrics_directory: str) -> None:
    """``mark_process_dead`` for every worker whose live gauges remain after it died."""
    from prometheus_client.multiprocess import mark_process_dead

    pids: set[int] = set()
    with contextlib.suppress(OSError):
        for name in os.listdir(metrics_directory):
            match = _GAUGE_FILE.fullmatch(name)
            if match is not None:
                pids.add(int(match.group(1)))
    fleet = fleet_dir()
    for pid in pids:
        started = None
        if fleet:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                started = json.loads(snapshot_path(fleet, pid).read_bytes()).get("process_start")
        if not is_alive(pid, started if isinstance(started, int) else None):
            mark_process_dead(pid, metrics_directory)  # type: ignore[no-untyped-call]


class Publisher:
    """Writes this worker's snapshot off the loop; ``publish`` hands over the newest."""

    def __init__(self, directory: str, encode: Callable[[dict[str, Any]], bytes]) -> None:
        self.directory = directory
        self.path = snapshot_path(directory, os.getpid())
        self._encode = encode
        self._pending: dict[str, Any] | None = None
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._start_ticks = process_start(os.getpid())
        self._warned = False

    def start(self) -> None:
        # Private: the snapshots hold paths, routes and stacks of the application.
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        self._stopping = False
        self._thread = threading.Thread(
            target=self._run, name=f"unstuck-fleet-{os.getpid()}", daemon=True
        )
        self._thread.start()

    def publish(self, snapshot: dict[str, Any]) -> None:
        """Called on the loop: no I/O, no encoding here."""
        with self._wake:
            self._pending = snapshot
            self._wake.notify()

    def stop(self) -> None:
        """End the thread and remove the file: a stopped worker is not part of the fleet."""
        thread = self._thread
        if thread is None:
            return
        with self._wake:
            self._stopping = True
            self._wake.notify()
        thread.join()
        self._thread = None
        with contextlib.suppress(OSError):
            self.path.unlink()

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._pending is None and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    return
                snapshot, self._pending = self._pending, None
            assert snapshot is not None
            snapshot["process_start"] = self._start_ticks
            try:
                write_atomically(self.path, self._encode(snapshot))
            except Exception:
                if not self._warned:  # once: a read-only directory would flood the log
                    self._warned = True
                    logger.exception("unstuck cannot publish to %s", self.directory)
