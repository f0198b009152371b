"""Runtime monitor for the event loop of a FastAPI/Starlette app.

``unstuck.watch.watch(app)`` wires it in (``from unstuck.watch import watch``);
the package itself is callable too, so ``unstuck.watch(app)`` does the same at
run time (type checkers see a module: typed code imports the function). A
heartbeat and a watchdog thread detect every stall of the loop and name the
route and the blocking stack; loop lag, the thread pool, DB pools and
in-flight requests are measured; diagnostics (JSON, a live page, Prometheus
metrics) are served under a token. Only the standard library and
prometheus_client are needed to import it.

Modules: ``_watchdog`` (heartbeat + thread), ``_stack`` (frames as data),
``_requests`` (in-flight registry, routes), ``_db_pools``, ``_metrics``,
``_middleware`` (ASGI, diagnostics), ``_origin`` (on whose behalf code runs),
``_ui`` (the page), ``_watcher`` (one app's probes), ``_app`` (wiring),
``_loop_time`` (where the loop's busy time goes), ``_fleet`` (every worker
through a shared directory), ``pytest_plugin``.
"""

import sys
import types

from unstuck.watch._app import register_engine, watch, watcher_of
from unstuck.watch._config import WatchConfig
from unstuck.watch._fleet import mark_worker_dead
from unstuck.watch._stall import Stall
from unstuck.watch._watcher import Watcher

__all__ = [
    "Stall",
    "WatchConfig",
    "Watcher",
    "mark_worker_dead",
    "register_engine",
    "watch",
    "watcher_of",
]


class _CallableModule(types.ModuleType):
    """``unstuck.watch(app)``, written before the package and the function were two names."""

    __call__ = staticmethod(watch)


sys.modules[__name__].__class__ = _CallableModule
