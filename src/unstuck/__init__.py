"""unstuck: keep a FastAPI service's event loop unstuck.

``unstuck.watch`` is the runtime monitor's package (``from unstuck import
watch``, ``import unstuck.watch as w``, ``unstuck.watch.register_engine``); it
is imported on first use, so that ``import unstuck`` alone (the checker's
start) loads neither the watcher nor prometheus_client.
"""

from __future__ import annotations

# Not typing.TYPE_CHECKING: importing typing alone costs the checker's start ~7 ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType

    from unstuck import watch as watch

__all__ = ["watch"]


def __getattr__(name: str) -> ModuleType:
    if name == "watch":
        import importlib

        return importlib.import_module("unstuck.watch")
    raise AttributeError(f"module 'unstuck' has no attribute {name!r}")
