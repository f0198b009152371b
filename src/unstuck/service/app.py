"""The FastAPI application of the service: ``create_app(settings)``.

uvicorn calls it as a factory in each worker process
(``uvicorn unstuck.service.app:create_app --factory``); with no argument the
settings come from ``UNSTUCK_*`` environment variables. Resources live in the
lifespan (:mod:`unstuck.service.lifespan`), never at import. The service uses
``unstuck.watch`` as any user would: loop stalls, pool use and lock waits are
at ``/_unstuck`` when ``UNSTUCK_WATCH_TOKEN`` is set. HEAD and ``Allow`` follow
RFC 9110 (:mod:`unstuck.service.methods`).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

from unstuck.service import (
    antipatterns,
    body_limit,
    concurrency,
    docs_pages,
    health,
    inference,
    limits,
    proxy,
    report,
    users,
    videos,
)
from unstuck.service.body_limit import BodyLimitMiddleware
from unstuck.service.errors import install_error_handlers
from unstuck.service.lifespan import make_lifespan
from unstuck.service.methods import MethodsMiddleware, MethodTable
from unstuck.service.settings import Settings
from unstuck.watch import watch

_NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}

DESCRIPTION = """\
Every pattern of FastAPI's concurrency model as a working route: what runs on
the event loop, in the thread pool, in a process pool and in a Celery worker.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings if settings is not None else Settings()
    app = FastAPI(
        title="unstuck",
        description=DESCRIPTION,
        lifespan=make_lifespan(settings),
        docs_url=None,
        redoc_url=None,
        # FastAPI asks the OpenTelemetry providers on every request even when none is set
        # up: ~10% of the CPU of a database read. Off unless asked for.
        telemetry=None if settings.telemetry else _NO_TELEMETRY,
    )
    # /docs and /redoc with their assets served here, not from a CDN: they work offline.
    docs_pages.install(app)
    install_error_handlers(app)
    for module in (health, concurrency, users, proxy, report, inference):
        app.include_router(module.router)
    app.include_router(videos.router)
    if settings.antipatterns:
        app.include_router(antipatterns.router)

    def openapi() -> dict[str, Any]:
        schema = FastAPI.openapi(app)
        limits.document(schema, settings)
        body_limit.document(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    # Built here, once all routes are in: building the schema takes the loop ~0.1 s.
    app.add_middleware(MethodsMiddleware, table=MethodTable(app.openapi()["paths"]))
    # Outermost of the service's own: a body past the limit is refused before any work.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    # Stalls of the loop are logged and counted; diagnostics are served only with a token.
    return watch(app, token=settings.watch_token)
