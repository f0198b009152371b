"""Shared pieces of the video pipeline tests: synthetic clips, a worker, an app.

Clips are made with PyAV from random frames (no download, no ffmpeg CLI):
noise compresses badly, so the input is large and the transcoded preview must
come out smaller for a real reason. Workers are real ``unstuck worker``
processes on a temporary data dir and a queue of their own, so parallel runs
on a shared Redis or RabbitMQ never take each other's tasks.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import av
import httpx
import numpy as np
from celery import Celery
from fastapi import FastAPI
from sqlalchemy import create_engine, pool, select
from sqlalchemy.ext.asyncio import create_async_engine

from unstuck.service.jobs import insert_statement
from unstuck.service.migrations import upgrade
from unstuck.service.models import VideoWorker
from unstuck.service.pipeline_status import PipelineMonitor
from unstuck.service.queue import QueueSettings
from unstuck.service.settings import Settings
from unstuck.service.storage import create_storage, new_task_id, upload_key
from unstuck.service.videos import router
from unstuck.service.worker import spawn_embedded_worker, stop_worker


def make_clip(
    path: Path,
    *,
    width: int = 640,
    height: int = 480,
    seconds: float = 1.0,
    fps: int = 25,
    codec: str = "mpeg4",
) -> Path:
    """An MP4 of random frames with a moving white bar."""
    rng = np.random.default_rng(0)
    with av.open(str(path), mode="w", format="mp4") as output:
        stream = output.add_stream(codec, rate=fps)
        assert isinstance(stream, av.VideoStream)
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = 4_000_000
        for index in range(round(seconds * fps)):
            image = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
            left = (index * 8) % width
            image[:, left : left + 16] = 255
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    return path


def make_slow_clip(path: Path, frames: int = 1500) -> Path:
    """Many frames that encode fast (the same image) but take seconds to transcode."""
    width, height = 1280, 720
    image = np.random.default_rng(1).integers(0, 255, (height, width, 3), dtype=np.uint8)
    with av.open(str(path), mode="w", format="mp4") as output:
        stream = output.add_stream("mpeg4", rate=50)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
        for index in range(frames):
            frame.pts = index
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    return path


def make_audio_only(path: Path) -> Path:
    """A WAV file: a real media container, but with no video stream."""
    with av.open(str(path), mode="w", format="wav") as output:
        stream = output.add_stream("pcm_s16le", rate=8000, layout="mono")
        samples = (np.sin(np.arange(8000) / 5) * 8000).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = 8000
        frame.pts = 0
        output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    return path


def queue_settings(**overrides: Any) -> QueueSettings:
    """Queue settings with a queue name no other test run uses."""
    values: dict[str, Any] = {"celery_queue": f"unstuck-test-{uuid.uuid4().hex}"}
    values.update(overrides)
    return QueueSettings(**values)


def worker_env(queue: QueueSettings) -> dict[str, str]:
    return {
        "UNSTUCK_CELERY_QUEUE": queue.celery_queue,
        "UNSTUCK_TASK_SOFT_TIME_LIMIT_S": str(queue.task_soft_time_limit_s),
        "UNSTUCK_TASK_TIME_LIMIT_S": str(queue.task_time_limit_s),
        "UNSTUCK_VIDEO_MAX_WIDTH": str(queue.video_max_width),
    }


@contextmanager
def running_worker(settings: Settings, queue: QueueSettings) -> Iterator[int]:
    """A real worker process for `settings` and `queue`; yields its pid.

    The database of `settings` gets the migrations first (the worker writes job rows).
    """
    upgrade(settings)
    process = spawn_embedded_worker(settings, loglevel="WARNING", extra_env=worker_env(queue))
    try:
        wait_for_worker_row(settings, process.pid)
        yield process.pid
    finally:
        stop_worker(process, timeout=15.0)


def wait_for_worker_row(settings: Settings, pid: int, timeout: float = 30.0) -> None:
    """Until the worker `pid` (on this host) has written its liveness row."""
    engine = create_engine(settings.sync_database_url, poolclass=pool.NullPool)
    try:
        deadline = time.monotonic() + timeout
        while True:
            with engine.connect() as connection:
                names = connection.execute(select(VideoWorker.name)).scalars().all()
            if any(name.endswith(f":{pid}") for name in names):
                return
            assert time.monotonic() < deadline, f"worker {pid} never reported, rows: {names}"
            time.sleep(0.1)
    finally:
        engine.dispose()


def issue_job(settings: Settings, upload: bytes) -> str:
    """Store `upload` and record its job, as the upload route does; the new task id."""
    upgrade(settings)
    task_id = new_task_id()
    source = settings.data_dir / f"{task_id}.source"
    source.write_bytes(upload)
    create_storage(settings).put_file(upload_key(task_id), source)
    engine = create_engine(settings.sync_database_url, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(insert_statement(task_id, "bad.mp4", len(upload)))
    finally:
        engine.dispose()
    return task_id


def video_app(settings: Settings, celery: Celery) -> FastAPI:
    """The video router in an app whose lifespan provides what the handlers read.

    The database of `settings` gets the migrations first.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        await anyio.to_thread.run_sync(upgrade, settings)
        engine = create_async_engine(settings.async_database_url)
        sync_engine = create_engine(settings.sync_database_url)
        try:
            yield {
                "settings": settings,
                "celery": celery,
                "async_engine": engine,
                "storage": create_storage(settings),
                "pipeline": PipelineMonitor(settings, sync_engine, celery),
            }
        finally:
            await engine.dispose()
            await anyio.to_thread.run_sync(sync_engine.dispose)

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    return app


@asynccontextmanager
async def video_client(settings: Settings, celery: Celery) -> AsyncIterator[httpx.AsyncClient]:
    app = video_app(settings, celery)
    async with (
        app.router.lifespan_context(app) as state,
        httpx.AsyncClient(
            transport=_StatefulTransport(app, state), base_url="http://test"
        ) as client,
    ):
        yield client


class _StatefulTransport(httpx.ASGITransport):
    """ASGITransport does not run the lifespan; give each request the lifespan's state."""

    def __init__(self, app: FastAPI, state: Any) -> None:
        super().__init__(app=app)
        self._state = state
        self._inner = app

        async def with_state(scope: Any, receive: Any, send: Any) -> None:
            scope["state"] = dict(self._state)
            await self._inner(scope, receive, send)

        self.app = with_state


async def wait_for_task(client: httpx.AsyncClient, task_id: str) -> dict[str, Any]:
    """Poll ``/task/{id}`` until the task is SUCCESS or FAILURE (at most a minute)."""
    with anyio.fail_after(60):
        while True:
            response = await client.get(f"/task/{task_id}")
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            if body["state"] in {"SUCCESS", "FAILURE"}:
                return body
            await anyio.sleep(0.2)
