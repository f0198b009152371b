"""unstuck: keep a FastAPI service's event loop unstuck.

``unstuck.watch(app)`` wires the runtime monitor into an app; the rest of the
watcher's API is in ``unstuck.watch`` (``from unstuck.watch import register_engine``).
"""

from unstuck.watch import watch

__all__ = ["watch"]
