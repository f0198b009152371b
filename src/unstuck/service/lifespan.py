"""Every resource of a worker process is made here at start-up and closed here at exit.

Nothing connects or spawns at import time, so each uvicorn/gunicorn worker
gets its own engines, pools and clients. Building them touches files (driver
imports, CA certificates, the built-in upstream's socket), so it happens in
one hop to a worker thread, and so do the blocking closes; the loop only
awaits. Closing runs in reverse order of opening, also after a failed start.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, AsyncExitStack, ExitStack, asynccontextmanager
from functools import partial

import anyio.to_thread
import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import sessionmaker

from unstuck.service.cache import Cache, MemoryCache, RedisCache
from unstuck.service.capacity import set_pipeline_tokens
from unstuck.service.database import create_engines, read_only
from unstuck.service.inference import create_process_pool
from unstuck.service.pipeline_status import PipelineMonitor
from unstuck.service.pools import ExecutorPool, HttpClient
from unstuck.service.queue import create_celery
from unstuck.service.settings import Settings
from unstuck.service.state import State
from unstuck.service.storage import create_storage
from unstuck.service.upstream import start_builtin_upstream
from unstuck.watch import register_engine, watcher_of


def _http_client(settings: Settings) -> httpx.AsyncClient:
    # No redirects: the upstream is fixed, and a redirect must not take the call elsewhere.
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.upstream_timeout_s),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        follow_redirects=False,
    )


def _open_resources(settings: Settings) -> tuple[State, ExitStack]:
    """Sync part of the start-up; returns the state and what closes its sync resources."""
    stack = ExitStack()
    # anyio imports its asyncio backend on its first call (about 0.2 s): here, off the
    # loop, rather than when the lifespan first touches a limiter.
    importlib.import_module("anyio._backends._asyncio")
    try:
        async_engine, sync_engine = create_engines(settings)
        stack.callback(sync_engine.dispose)

        if settings.upstream_url:
            upstream_url = settings.upstream_url
        else:
            builtin = start_builtin_upstream()
            stack.callback(builtin.stop)
            upstream_url = builtin.url

        compute_pool = ExecutorPool(
            "compute thread pool",
            partial(ThreadPoolExecutor, settings.compute_threads, thread_name_prefix="compute"),
        )
        stack.callback(compute_pool.close)
        process_pool = ExecutorPool(
            "process pool",
            partial(create_process_pool, settings),
            processes=settings.process_pool_workers,
        )
        stack.callback(process_pool.close)

        celery = create_celery(settings)
        stack.callback(celery.close)

        cache: Cache = (
            RedisCache(settings.redis_url, settings.redis_timeout_s)
            if settings.redis_url
            else MemoryCache(settings.cache_max_entries)
        )
        http = HttpClient(partial(_http_client, settings))
        state = State(
            settings=settings,
            async_engine=async_engine,
            sync_engine=sync_engine,
            sessionmaker=async_sessionmaker(async_engine, expire_on_commit=False),
            sync_sessionmaker=sessionmaker(sync_engine, expire_on_commit=False),
            read_sessionmaker=async_sessionmaker(read_only(async_engine), expire_on_commit=False),
            sync_read_sessionmaker=sessionmaker(read_only(sync_engine), expire_on_commit=False),
            cache=cache,
            http=http,
            upstream_url=upstream_url,
            compute_pool=compute_pool,
            process_pool=process_pool,
            celery=celery,
            storage=create_storage(settings),
            pipeline=PipelineMonitor(settings, sync_engine, celery),
        )
        return state, stack
    except BaseException:
        stack.close()
        raise


def make_lifespan(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[State]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        if settings.asyncio_debug:
            # Here, not at import: only now is the server's own loop the running one.
            asyncio.get_running_loop().set_debug(True)
        async with AsyncExitStack() as stack:
            state, sync_resources = await asyncio.to_thread(_open_resources, settings)
            # After the hop, which loaded anyio's backend: anyio imports it on first use.
            # The limiter that every def route, sync dependency and run_in_threadpool shares.
            limiter = anyio.to_thread.current_default_thread_limiter()
            limiter.total_tokens = settings.thread_pool_tokens
            # The pipeline's routes have their own, so that the demo routes cannot starve them.
            set_pipeline_tokens(settings.pipeline_thread_tokens)
            stack.push_async_callback(asyncio.to_thread, sync_resources.close)
            stack.push_async_callback(state["async_engine"].dispose)
            if watcher_of(app) is not None:
                register_engine(app, state["async_engine"], name="async")
                register_engine(app, state["sync_engine"], name="sync")
            stack.push_async_callback(state["http"].aclose)
            stack.push_async_callback(state["cache"].aclose)
            # Everything made so far (modules, the app, the pools) lives as long as the
            # process: out of the collector's sight, a full collection no longer walks it.
            gc.freeze()
            yield state

    return lifespan
