"""``unstuck serve`` and ``unstuck worker``.

``serve`` does, in order: read settings (flags override ``UNSTUCK_*``), check
the PostgreSQL connection budget, apply the migrations, start the embedded
Celery worker when no broker is configured, then run uvicorn (its own process
manager with ``--workers N``). The embedded worker is supervised: started
again, with a back-off, whenever it dies. Settings reach uvicorn's worker processes as
``UNSTUCK_*`` environment variables. On SIGINT/SIGTERM uvicorn shuts down
gracefully (each worker's lifespan closes its pools), then the embedded
worker and its children are stopped.
"""

from __future__ import annotations

import argparse
import errno
import os
import secrets
import signal
import socket
import sys
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any

from alembic.script.revision import ResolutionError
from alembic.util import CommandError
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from unstuck.service import worker as celery_worker
from unstuck.service.budget import connection_budget, database_label
from unstuck.service.migrations import upgrade
from unstuck.service.settings import Settings, settings_error

if TYPE_CHECKING:
    import uvicorn


class _Stop(BaseException):
    """Raised by the signal handler so that ``finally`` blocks stop the children (not an
    ``Exception``, as ``KeyboardInterrupt`` is not: code that catches ``Exception``
    must not swallow it)."""


class _Stopper:
    """The handler of SIGTERM and SIGINT outside uvicorn's own.

    Before the server exists, a signal raises `_Stop`. Once it exists, a signal that
    comes before uvicorn takes the signals over (while its event loop starts) would
    be raised inside one of the loop's callbacks, which logs it and goes on: the
    service would serve on after it was told to stop. So it asks the server to exit
    instead, which uvicorn checks once its start-up is done."""

    def __init__(self) -> None:
        self.server: uvicorn.Server | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.server is None:
            raise _Stop(signum)
        self.server.should_exit = True


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="unstuck serve",
        description="Run the service: migrations, the embedded Celery worker, then uvicorn.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to bind (8000)")
    parser.add_argument(
        "--workers", type=int, help="uvicorn worker processes (UNSTUCK_WORKERS, default 1)"
    )
    parser.add_argument("--data-dir", help="where the embedded default keeps its state (./var)")
    parser.add_argument(
        "--antipatterns", action="store_true", help="mount /bad and /also-bad (for the lab)"
    )
    embedded = parser.add_mutually_exclusive_group()
    embedded.add_argument(
        "--no-worker", action="store_true", help="do not start the embedded Celery worker"
    )
    embedded.add_argument(
        "--with-worker",
        action="store_true",
        help="start the embedded Celery worker even though a broker is configured",
    )
    parser.add_argument(
        "--asyncio-debug",
        action="store_true",
        help="asyncio debug mode, switched on in each worker's lifespan (slow: for diagnosis)",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn's log level",
    )
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if args.workers is not None:
        overrides["workers"] = args.workers
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    if args.antipatterns:
        overrides["antipatterns"] = True
    if args.asyncio_debug:
        overrides["asyncio_debug"] = True
    return Settings(**overrides)


def _port_taken(host: str, port: int) -> str | None:
    """Why the server could not listen on host:port, found before anything starts."""
    if port == 0:
        return None
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return f"cannot listen on {host}:{port} (--host): {exc.strerror or exc}"
    for family, kind, proto, _name, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            # As uvicorn binds: SO_REUSEADDR, so that connections closing do not count.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return f"port {port} on {host} is already in use (--port)"
                return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    return None


@dataclass(frozen=True)
class _Refusal:
    """Why serve will not start, and its exit code (1: the database, 2: the configuration)."""

    message: str
    exit_code: int = 1


def _first_line(exc: Exception) -> str:
    # SQLAlchemy's messages add the statement and a link on further lines.
    original = getattr(exc, "orig", None) or exc
    return (str(original).strip().splitlines() or [type(original).__name__])[0]


def _prepare(settings: Settings) -> _Refusal | None:
    """Budget check and migrations; why the service cannot start, or ``None``."""
    label = database_label(settings)
    if settings.sqlite_path is not None:
        try:
            settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return _Refusal(
                f"cannot create the folder of the SQLite database {label}: {exc.strerror}"
            )
    try:
        budget = connection_budget(settings)
    except SQLAlchemyError as exc:
        return _Refusal(
            f"cannot reach the database {label} to check its connection limit: {_first_line(exc)}"
        )
    if budget is not None and not budget.fits:
        return _Refusal(f"refusing to start: {budget.explain()}")
    try:
        upgrade(settings)
    except CommandError as exc:
        if not isinstance(exc.__cause__, ResolutionError):
            return _Refusal(f"cannot apply the migrations to {label}: {_first_line(exc)}")
        return _Refusal(
            f"the database {label} is at migration revision {exc.__cause__.argument!r}, "
            "which this version "
            "of unstuck does not know (a newer version migrated it): give the service a "
            "database of its own (UNSTUCK_DATABASE_URL) or run the newer version",
            exit_code=2,
        )
    except (SQLAlchemyError, OSError) as exc:
        return _Refusal(f"cannot apply the migrations to {label}: {_first_line(exc)}")
    return None


def serve(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if not 0 <= args.port <= 65535:
        print(f"unstuck serve: --port must be from 0 to 65535, not {args.port}", file=sys.stderr)
        return 2
    try:
        settings = _settings(args)
    except ValidationError as exc:
        print(f"unstuck serve: {settings_error(exc)}", file=sys.stderr)
        return 2
    taken = _port_taken(args.host, args.port)
    if taken is not None:
        print(f"unstuck serve: {taken}", file=sys.stderr)
        return 2
    refusal = _prepare(settings)
    if refusal is not None:
        print(f"unstuck serve: {refusal.message}", file=sys.stderr)
        return refusal.exit_code
    if settings.watch_token is None:
        # The diagnostics are served only behind a token: make one for this run so
        # that the operator at this console, and no one else, can open them.
        settings = settings.model_copy(update={"watch_token": secrets.token_urlsafe(24)})
    os.environ.update(celery_worker.settings_environment(settings))
    os.environ["UNSTUCK_WATCH_TOKEN"] = settings.watch_token or ""
    print(
        f"unstuck serve: diagnostics at http://{args.host}:{args.port}/_unstuck/ui"
        f"#token={settings.watch_token}",
        file=sys.stderr,
        flush=True,
    )

    import uvicorn

    # uvicorn handles the signals while it runs and re-raises them when it is done;
    # these handlers turn that (and a signal before it starts) into a clean stop.
    stopper = _Stopper()
    signal.signal(signal.SIGTERM, stopper)
    signal.signal(signal.SIGINT, stopper)
    embedded = None
    try:
        if args.with_worker or (settings.broker_url is None and not args.no_worker):
            embedded = celery_worker.SupervisedWorker(settings)
        options: dict[str, Any] = {
            "factory": True,
            "host": args.host,
            "port": args.port,
            "workers": settings.workers,
            "log_level": args.log_level,
            **server_options(settings),
        }
        if settings.workers > 1:  # uvicorn's supervisor of worker processes
            uvicorn.run(_APP, **options)
        else:
            server = uvicorn.Server(uvicorn.Config(_APP, **options))
            stopper.server = server
            server.run()
    except _Stop:
        pass
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


_APP = "unstuck.service.app:create_app"


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for what a client may hold (:mod:`unstuck.service.http_protocol`)."""
    from unstuck.service.http_protocol import GuardedHttpToolsProtocol

    return {
        "http": GuardedHttpToolsProtocol,
        "backlog": settings.backlog,
        "timeout_keep_alive": settings.keep_alive_s,
        "h11_max_incomplete_event_size": settings.max_head_bytes,
        # uvicorn's process manager kills a worker that does not answer its ping in time
        # (5 s by default): on a busy machine a worker still importing and opening its
        # pools can miss that, and is killed before it ever served.
        "timeout_worker_healthcheck": settings.worker_healthcheck_s,
    }


def worker(argv: list[str]) -> int:
    return celery_worker.worker(argv)
