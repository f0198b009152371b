"""gunicorn configuration for the service: ``gunicorn -c deploy/gunicorn.conf.py``.

gunicorn manages the processes, ``uvicorn_worker.UvicornWorker`` (with the service's limits:
``unstuck.service.gunicorn_worker``) runs an event
loop in each (the class in ``uvicorn.workers`` is deprecated). Settings come
from ``UNSTUCK_*`` variables, as for ``unstuck serve``; the master checks the
PostgreSQL connection budget and applies the migrations once, before it forks.
With no broker configured (the embedded default) the master also starts one
Celery worker and supervises it, as ``unstuck serve`` does; with a broker, run
``unstuck worker`` yourself, on this host or others (docs/videos.md).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from unstuck.service.budget import connection_budget
from unstuck.service.migrations import upgrade
from unstuck.service.settings import Settings
from unstuck.service.worker import SupervisedWorker
from unstuck.watch import mark_worker_dead

# Async workers: about one per core. Each one's loop keeps its core busy on its own,
# so the "2 x cores + 1" rule, made for sync workers that sit blocked in I/O, only
# adds processes that fight for the same cores (and each one's pools of connections).
workers = int(os.environ.get("UNSTUCK_WORKERS") or os.cpu_count() or 1)
worker_class = "unstuck.service.gunicorn_worker.ServiceWorker"
wsgi_app = "unstuck.service.app:create_app()"
bind = os.environ.get("UNSTUCK_BIND", "127.0.0.1:8000")

# Never preload: engines, the process pool and the HTTP client are made per worker in
# the lifespan, after the fork; a process pool inherited through fork is broken.
preload_app = False
# Time for a worker to finish its requests and run its lifespan shutdown on SIGTERM.
graceful_timeout = 30
# A worker whose loop is blocked longer than this stops answering gunicorn's heartbeat
# and is killed and replaced: a last resort, the watcher shows the stall long before.
timeout = 60
# Bounded restarts spread any slow leak; the jitter keeps workers from restarting at once.
max_requests = 10_000
max_requests_jitter = 1_000
accesslog = "-"


def on_starting(server: Any) -> None:
    settings = Settings(workers=workers)
    budget = connection_budget(settings)
    if budget is not None and not budget.fits:
        print(f"gunicorn: refusing to start: {budget.explain()}", file=sys.stderr)
        sys.exit(1)
    upgrade(settings)
    if settings.broker_url is None:
        _embedded.append(SupervisedWorker(settings))


# The embedded worker of this master, if any: started in on_starting, stopped in on_exit.
_embedded: list[SupervisedWorker] = []


def on_exit(server: Any) -> None:
    while _embedded:
        _embedded.pop().stop()


def child_exit(server: Any, worker: Any) -> None:
    # A recycled or killed worker: its gauges and its diagnostics snapshot go with it
    # (with PROMETHEUS_MULTIPROC_DIR set), so no number of a dead process is shown.
    mark_worker_dead(worker.pid)
