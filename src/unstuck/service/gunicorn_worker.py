"""The gunicorn worker class of ``deploy/gunicorn.conf.py``: uvicorn with the service's limits.

The same server options as ``unstuck serve`` (:func:`unstuck.service.cli.server_options`):
the guarded HTTP protocol, the backlog and the keep-alive timeout, from ``UNSTUCK_*``.
"""

from __future__ import annotations

from typing import Any

from uvicorn_worker import UvicornWorker

from unstuck.service.cli import server_options
from unstuck.service.settings import Settings


class ServiceWorker(UvicornWorker):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Read here, in the worker, not at import: the settings are the environment's.
        self.CONFIG_KWARGS = {**UvicornWorker.CONFIG_KWARGS, **server_options(Settings())}
        super().__init__(*args, **kwargs)
