"""``watch(app)``: wire a watcher into a Starlette or FastAPI app.

Three touches, all through public Starlette API: the watcher is kept on
``app.state``, the middleware is added with ``add_middleware``, and the
router's ``lifespan_context`` is wrapped so that the watcher starts before the
app's own lifespan (stalls during start-up count too) and stops after it. The
wrapped lifespan's state is passed through unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from unstuck.watch._config import resolve_config
from unstuck.watch._watcher import Watcher

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.ext.asyncio import AsyncEngine

AppT = TypeVar("AppT")

_STATE_KEY = "unstuck_watcher"


def _state(app: Any) -> Any:
    state = getattr(app, "state", None)
    if state is None or not hasattr(app, "router") or not hasattr(app, "add_middleware"):
        raise TypeError(
            f"unstuck.watch needs a Starlette or FastAPI application, got {type(app).__name__}"
        )
    return state


def watcher_of(app: Any) -> Watcher | None:
    """The watcher wired into ``app``, if any."""
    return getattr(getattr(app, "state", None), _STATE_KEY, None)


def watch(
    app: AppT,
    *,
    threshold_ms: float | None = None,
    token: str | None = None,
    engines: Iterable[Engine | AsyncEngine] = (),
    path: str | None = None,
    metrics_public: bool | None = None,
    history: int | None = None,
    enabled: bool | None = None,
    heartbeat_ms: float | None = None,
    sample_ms: float | None = None,
    loop_time: bool | None = None,
) -> AppT:
    """Watch ``app``'s event loop; returns ``app``.

    Every option left out is read from ``UNSTUCK_WATCH_<NAME>`` (for example
    ``UNSTUCK_WATCH_TOKEN``, ``UNSTUCK_WATCH_THRESHOLD_MS``). Without a token
    the diagnostics are not served; stalls are still logged and counted.
    """
    state = _state(app)
    if watcher_of(app) is not None:
        raise RuntimeError("unstuck.watch() was already called on this app")
    config = resolve_config(
        enabled=enabled,
        threshold_ms=threshold_ms,
        token=token,
        path=path,
        metrics_public=metrics_public,
        history=history,
        heartbeat_ms=heartbeat_ms,
        sample_ms=sample_ms,
        loop_time=loop_time,
    )
    watcher = Watcher(config)
    setattr(state, _STATE_KEY, watcher)
    for engine in engines:
        watcher.add_engine(engine)
    if not config.enabled:
        return app

    from unstuck.watch._middleware import watch_requests

    app.add_middleware(watch_requests, watcher=watcher)  # type: ignore[attr-defined]
    router: Any = app.router  # type: ignore[attr-defined]
    router.lifespan_context = _with_watcher(router.lifespan_context, watcher)
    return app


def _with_watcher(
    lifespan: Callable[[Any], AbstractAsyncContextManager[Any]], watcher: Watcher
) -> Callable[[Any], AbstractAsyncContextManager[Any]]:
    @asynccontextmanager
    async def lifespan_with_watcher(app: Any) -> AsyncIterator[Any]:
        await watcher.start()
        try:
            async with lifespan(app) as state:
                watcher.serving()
                try:
                    yield state
                finally:
                    watcher.shutting_down()
        finally:
            await watcher.stop()

    return lifespan_with_watcher


def register_engine(app: Any, engine: Engine | AsyncEngine, *, name: str | None = None) -> None:
    """Watch the pool of ``engine`` (sync ``Engine`` or ``AsyncEngine``) for ``app``.

    Call it where the engine is created, typically in the app's lifespan. A
    PostgreSQL engine also enables the lock-wait query of the diagnostics.
    """
    watcher = watcher_of(app)
    if watcher is None:
        raise RuntimeError(
            "register_engine(app, engine) needs unstuck.watch(app) to be called first "
            "(where the app is created)"
        )
    watcher.add_engine(engine, name)
