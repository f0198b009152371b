"""The Celery app: broker and backend choice, the task body, real workers on each broker."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import anyio
import anyio.to_thread
import av
import numpy as np
import pytest
from celery.result import AsyncResult
from pydantic import ValidationError

from tests.service.video_fixtures import (
    make_clip,
    queue_settings,
    running_worker,
    video_client,
    wait_for_task,
)
from unstuck.service.queue import (
    TRANSCODE_TASK,
    QueueSettings,
    TranscodeTimeoutError,
    create_celery,
    run_transcode,
)
from unstuck.service.settings import Settings
from unstuck.service.video_store import VideoStore


def test_embedded_default_is_the_filesystem_broker_and_sqlite(tmp_path: Path) -> None:
    app = create_celery(Settings(data_dir=tmp_path), queue_settings())

    conf = app.conf
    assert conf.broker_url.startswith("filesystem://")
    options = conf.broker_transport_options
    assert options["data_folder_in"] == options["data_folder_out"]
    assert Path(options["data_folder_in"]).is_dir()
    assert Path(options["processed_folder"]).is_dir()
    assert conf.result_backend == f"db+sqlite:///{tmp_path.resolve()}/celery-results.db"
    assert conf.task_track_started is True
    assert conf.result_extended is True
    assert (conf.task_serializer, conf.result_serializer) == ("json", "json")
    assert conf.broker_connection_retry_on_startup is True
    assert TRANSCODE_TASK in app.tasks
    for folder in ("uploads", "videos", "tasks"):
        assert (tmp_path / folder).is_dir()


def test_embedded_broker_keeps_its_state_in_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    data_dir = tmp_path / "data"
    app = create_celery(Settings(data_dir=data_dir), queue_settings())

    app.send_task(TRANSCODE_TASK, args=["not-an-upload"])

    assert list(elsewhere.iterdir()) == []
    assert list((data_dir / "broker" / "control").iterdir())
    assert list((data_dir / "broker" / "messages").iterdir())


def test_redis_broker_keeps_results_in_the_same_redis(tmp_path: Path) -> None:
    redis = "redis://127.0.0.1:6379/2"
    app = create_celery(Settings(data_dir=tmp_path, broker_url=redis), queue_settings())
    explicit = create_celery(
        Settings(data_dir=tmp_path, broker_url=redis, result_backend="redis://127.0.0.1/5"),
        queue_settings(),
    )

    assert (app.conf.broker_url, app.conf.result_backend) == (redis, redis)
    assert explicit.conf.result_backend == "redis://127.0.0.1/5"


def test_rabbitmq_broker_keeps_results_in_sqlite_unless_told(tmp_path: Path) -> None:
    amqp = "amqp://guest:guest@127.0.0.1:5672//"
    app = create_celery(Settings(data_dir=tmp_path, broker_url=amqp), queue_settings())

    assert app.conf.broker_url == amqp
    assert app.conf.result_backend.startswith("db+sqlite:///")


def test_unsupported_broker_is_a_clear_error(tmp_path: Path) -> None:
    # Found with the other settings, before anything starts.
    with pytest.raises(ValidationError, match=r"sqs:// is not supported; use redis://"):
        create_celery(Settings(data_dir=tmp_path, broker_url="sqs://key:secret@x"))


def test_hard_time_limit_must_exceed_the_soft_one() -> None:
    with pytest.raises(ValidationError, match="must be greater"):
        QueueSettings(task_soft_time_limit_s=60, task_time_limit_s=60)


def test_task_only_reads_the_upload_its_id_owns(tmp_path: Path) -> None:
    store = VideoStore(tmp_path)
    store.create_folders()
    task_id = str(uuid.uuid4())

    with pytest.raises(ValueError, match="does not belong"):
        run_transcode(store, task_id, "../../secret.upload", 320, 60)
    with pytest.raises(FileNotFoundError, match="no longer on disk"):
        run_transcode(store, task_id, f"{task_id}.upload", 320, 60)


def test_task_body_transcodes_and_removes_the_upload(tmp_path: Path) -> None:
    store = VideoStore(tmp_path)
    store.create_folders()
    task_id = str(uuid.uuid4())
    make_clip(store.upload_path(task_id), width=320, height=240, seconds=0.4)

    result = run_transcode(store, task_id, f"{task_id}.upload", 160, 60)

    assert (result["codec"], result["width"], result["height"]) == ("h264", 160, 120)
    assert result["size"] == store.video_path(task_id).stat().st_size
    assert store.thumbnail_path(task_id).is_file()
    assert not store.upload_path(task_id).exists()


async def _upload_and_download(settings: Settings, queue: QueueSettings, clip: bytes) -> None:
    async with video_client(settings, create_celery(settings, queue)) as http:
        response = await http.post("/upload-video", files={"file": ("clip.mp4", clip, "video/mp4")})
        assert response.status_code == 202, response.text
        task_id = response.json()["task_id"]
        body = await wait_for_task(http, task_id)
        assert body["state"] == "SUCCESS", body
        video = await http.get(f"/videos/{task_id}")
    assert video.status_code == 200
    assert 0 < len(video.content) < len(clip)
    assert video.content[4:8] == b"ftyp"


@pytest.mark.anyio
async def test_redis_broker_with_a_real_worker(
    redis_url: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    clip = make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", seconds=0.6).read_bytes()
    settings = Settings(data_dir=tmp_path, broker_url=redis_url)
    queue = queue_settings()
    with running_worker(settings, queue):
        await _upload_and_download(settings, queue, clip)


@pytest.mark.anyio
async def test_rabbitmq_broker_with_a_real_worker(
    amqp_url: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    clip = make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", seconds=0.6).read_bytes()
    settings = Settings(data_dir=tmp_path, broker_url=amqp_url)
    queue = queue_settings()
    with running_worker(settings, queue):
        await _upload_and_download(settings, queue, clip)


def _long_clip(path: Path) -> Path:
    """Many frames that encode fast (the same image) but take seconds to transcode."""
    width, height = 1280, 720
    image = np.random.default_rng(1).integers(0, 255, (height, width, 3), dtype=np.uint8)
    with av.open(str(path), mode="w", format="mp4") as output:
        stream = output.add_stream("mpeg4", rate=50)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
        for index in range(1500):
            frame.pts = index
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    return path


def test_running_task_is_started_and_the_soft_time_limit_fails_it_cleanly(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    queue = queue_settings(task_soft_time_limit_s=1, task_time_limit_s=20)
    app = create_celery(settings, queue)
    store = VideoStore(tmp_path)
    task_id = str(uuid.uuid4())
    _long_clip(tmp_path / "long.mp4")
    shutil.move(tmp_path / "long.mp4", store.upload_path(task_id))

    with running_worker(settings, queue):
        app.tasks[TRANSCODE_TASK].apply_async(args=(f"{task_id}.upload",), task_id=task_id)
        result: AsyncResult[object] = AsyncResult(task_id, app=app)
        # task_track_started: while it runs the task reads STARTED, not PENDING.
        deadline = time.monotonic() + 30
        while result.state == "PENDING":
            assert time.monotonic() < deadline, "the task never started"
            time.sleep(0.05)
        assert result.state == "STARTED"
        with pytest.raises(TranscodeTimeoutError, match="longer than the limit of 1 s"):
            result.get(timeout=60, propagate=True)

    assert result.state == "FAILURE"
    assert not store.video_path(task_id).exists()
    assert not list(store.videos.glob("*.part"))
    assert not store.upload_path(task_id).exists()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _start_redis(port: int, folder: Path) -> subprocess.Popen[bytes]:
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
    command += ["--save", "", "--appendonly", "no", "--dir", str(folder)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return process
        except OSError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)


@pytest.mark.anyio
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary")
async def test_broker_outage_is_a_quick_503_and_the_service_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clip = make_clip(tmp_path / "clip.mp4", seconds=0.2).read_bytes()
    port = _free_port()
    settings = Settings(data_dir=tmp_path / "var", broker_url=f"redis://127.0.0.1:{port}/0")
    files = {"file": ("clip.mp4", clip, "video/mp4")}
    redis = await anyio.to_thread.run_sync(_start_redis, port, tmp_path)
    try:
        async with video_client(settings, create_celery(settings, queue_settings())) as http:
            before = await http.post("/upload-video", files=files)
            assert before.status_code == 202
            task_id = before.json()["task_id"]

            redis.terminate()
            await anyio.to_thread.run_sync(redis.wait)
            with anyio.fail_after(20):  # Celery's defaults would retry for much longer
                during = await http.post("/upload-video", files=files)
                state = await http.get(f"/task/{task_id}")
            assert during.status_code == 503
            assert "task queue is unavailable" in during.json()["detail"]
            assert state.status_code == 503
            assert "could not send task" in caplog.text

            redis = await anyio.to_thread.run_sync(_start_redis, port, tmp_path)
            after = await http.post("/upload-video", files=files)
            assert after.status_code == 202
            assert (await http.get(f"/task/{after.json()['task_id']}")).json()["state"] == (
                "PENDING"
            )
    finally:
        redis.terminate()
        await anyio.to_thread.run_sync(redis.wait)
    # Only the two accepted uploads are kept; the refused one left nothing.
    assert len(list((tmp_path / "var" / "uploads").iterdir())) == 2
    assert len(list((tmp_path / "var" / "tasks").iterdir())) == 2
