"""Runtime monitor for the event loop of a FastAPI/Starlette app.

``watch(app)`` wires it in: a heartbeat and a watchdog thread detect every
stall of the loop and name the route and the blocking stack; loop lag, the
thread pool, DB pools and in-flight requests are measured; diagnostics (JSON,
a live page, Prometheus metrics) are served under a token. Only the standard
library and prometheus_client are needed to import it.

Modules: ``_watchdog`` (heartbeat + thread), ``_stack`` (frames as data),
``_requests`` (in-flight registry, routes), ``_db_pools``, ``_metrics``,
``_middleware`` (ASGI, diagnostics), ``_ui`` (the page), ``_watcher`` (one
app's probes), ``_app`` (wiring), ``pytest_plugin``.
"""

from unstuck.watch._app import register_engine, watch, watcher_of
from unstuck.watch._config import WatchConfig
from unstuck.watch._stall import Stall
from unstuck.watch._watcher import Watcher

__all__ = ["Stall", "WatchConfig", "Watcher", "register_engine", "watch", "watcher_of"]
