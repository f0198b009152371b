"""Celery worker processes: the ``unstuck worker`` command and the embedded worker.

``unstuck worker`` builds the Celery app from ``UNSTUCK_*`` settings and runs
it in the foreground (prefork pool by default, which enforces the hard time
limit by killing the pool process, not the worker). ``unstuck serve`` with no
broker configured starts one such worker itself with `spawn_embedded_worker`:
a child process in its own process group, with the settings passed down as
``UNSTUCK_*`` variables, and `SupervisedWorker` starts it again when it
dies. Every worker also runs `unstuck.service.recovery.Recovery` (liveness,
re-queueing of lost jobs, retention) from the moment it is ready.
`stop_worker` asks for a warm shutdown (SIGTERM: the running task finishes),
then kills the whole group, pool processes included, when the timeout passes,
so no process outlives the service.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from unstuck.parent_death import die_with_parent
from unstuck.service.settings import Settings, settings_error

if TYPE_CHECKING:
    from celery import Celery

_POOLS = ("prefork", "solo", "threads")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def settings_environment(settings: Settings) -> dict[str, str]:
    """`settings` as the ``UNSTUCK_*`` variables that rebuild it in a child process."""
    environment: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        key = f"UNSTUCK_{name.upper()}"
        if isinstance(value, bool):
            environment[key] = "true" if value else "false"
        elif isinstance(value, Path):
            # The child may run in another working directory.
            environment[key] = str(value.resolve())
        else:
            environment[key] = str(value)
    return environment


def spawn_embedded_worker(
    settings: Settings,
    *,
    concurrency: int = 1,
    loglevel: str = "INFO",
    extra_env: dict[str, str] | None = None,
    with_parent: bool = False,
) -> subprocess.Popen[bytes]:
    """Start ``unstuck worker`` for `settings` as a child process in its own process group.

    `extra_env` adds variables (for example ``UNSTUCK_CELERY_QUEUE``) on top of the
    parent's environment and the settings. With `with_parent`, the worker gets SIGTERM
    when the calling thread's process dies, SIGKILL included (Linux; `parent_death`):
    call it from a thread that outlives the worker.
    """
    environment = {**os.environ, **settings_environment(settings), **(extra_env or {})}
    command = [
        sys.executable,
        "-m",
        "unstuck.service.worker",
        "--concurrency",
        str(concurrency),
        "--loglevel",
        loglevel,
    ]
    return subprocess.Popen(
        command,
        env=environment,
        start_new_session=True,
        preexec_fn=die_with_parent() if with_parent else None,
    )


def stop_worker(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Warm shutdown of a worker from `spawn_embedded_worker`, then SIGKILL to its group.

    The group is killed even after a clean exit: a pool process that lost its
    parent must not linger.
    """
    group = process.pid  # start_new_session made the worker its group leader
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)
    process.wait()


class SupervisedWorker:
    """The embedded worker of ``unstuck serve``, started again whenever it dies.

    A thread polls the child; after an exit it waits (1 s, doubling up to 30 s,
    back to 1 s once a worker has run for a minute) and starts a new one,
    saying so on stderr each time. `stop` ends the thread, which stops the worker
    on its way out. Each worker dies with serve, even a SIGKILLed serve (Linux):
    started by the main thread or by the watching thread, which stops it before
    it ends (the kernel ties the death signal to the thread that forked).
    """

    _FIRST_DELAY_S = 1.0
    _MAX_DELAY_S = 30.0
    _HEALTHY_AFTER_S = 60.0
    _POLL_S = 0.5

    def __init__(self, settings: Settings, **spawn_options: Any) -> None:
        self.settings = settings
        self.spawn_options = spawn_options
        self.restarts = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._process = spawn_embedded_worker(settings, with_parent=True, **spawn_options)
        self._stop_timeout = 10.0
        self._thread = threading.Thread(target=self._watch, name="embedded-worker", daemon=True)
        self._thread.start()

    @property
    def pid(self) -> int:
        with self._lock:
            return self._process.pid

    def _watch(self) -> None:
        try:
            self._supervise()
        finally:
            with self._lock:
                stop_worker(self._process, self._stop_timeout)

    def _supervise(self) -> None:
        delay = self._FIRST_DELAY_S
        started = time.monotonic()
        while not self._stopping.wait(self._POLL_S):
            with self._lock:
                code = self._process.poll()
            if code is None:
                continue
            if time.monotonic() - started > self._HEALTHY_AFTER_S:
                delay = self._FIRST_DELAY_S
            self.restarts += 1
            _say(
                f"embedded worker (pid {self._process.pid}) exited with code {code}; "
                f"restart {self.restarts} in {delay:g} s"
            )
            # Its pool processes may have outlived it: none must keep running a task.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, signal.SIGKILL)
            if self._stopping.wait(delay):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                self._process = spawn_embedded_worker(
                    self.settings, with_parent=True, **self.spawn_options
                )
            _say(f"embedded worker restarted (pid {self._process.pid})")
            started = time.monotonic()
            delay = min(delay * 2, self._MAX_DELAY_S)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop_timeout = timeout
        self._stopping.set()
        self._thread.join()


def _say(message: str) -> None:
    print(f"unstuck serve: {message}", file=sys.stderr, flush=True)


def worker(argv: list[str]) -> int:
    """The ``unstuck worker`` command."""
    parser = argparse.ArgumentParser(
        prog="unstuck worker",
        description="Run a Celery worker for the service; settings come from UNSTUCK_* variables.",
    )
    parser.add_argument("--concurrency", type=_positive_int, default=1, help="pool processes")
    parser.add_argument("--loglevel", type=str.upper, choices=_LOG_LEVELS, default="INFO")
    parser.add_argument("--pool", choices=_POOLS, default="prefork")
    arguments = parser.parse_args(argv)

    # Imported here so that `--help` and argument errors answer without Celery.
    from pydantic import ValidationError

    from unstuck.service.queue import QueueSettings, create_celery

    try:
        settings = Settings()
        queue_settings = QueueSettings()
        app = create_celery(settings, queue_settings)
    except (ValidationError, ValueError) as exc:
        reason = settings_error(exc) if isinstance(exc, ValidationError) else str(exc)
        print(f"unstuck worker: {reason}", file=sys.stderr)
        return 2
    celery_argv = [
        "worker",
        f"--concurrency={arguments.concurrency}",
        f"--loglevel={arguments.loglevel}",
        f"--pool={arguments.pool}",
        f"--queues={queue_settings.celery_queue}",
        f"--hostname=unstuck-{os.getpid()}@%h",
    ]
    if settings.broker_url is None:
        # Mingle and gossip need broadcast, which the filesystem transport lacks.
        celery_argv += ["--without-mingle", "--without-gossip", "--without-heartbeat"]
    _run_recovery_alongside(app, settings)
    try:
        app.worker_main(celery_argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


def _run_recovery_alongside(app: Celery, settings: Settings) -> None:
    """Start `Recovery` once the worker is ready; stop it when the worker shuts down."""
    from celery.signals import worker_ready, worker_shutdown

    from unstuck.service.recovery import Recovery
    from unstuck.service.transcode_job import worker_name

    recovery = Recovery(app, settings, worker_name())

    def on_ready(**_: object) -> None:
        recovery.start()

    def on_shutdown(**_: object) -> None:
        recovery.stop()

    # weak=False: the closures are only referenced by the signals.
    worker_ready.connect(on_ready, weak=False)
    worker_shutdown.connect(on_shutdown, weak=False)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


if __name__ == "__main__":
    raise SystemExit(worker(sys.argv[1:]))
