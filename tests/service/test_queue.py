"""The Celery app: broker choice, delivery, the task body, real workers on each broker."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from pydantic import ValidationError
from sqlalchemy import create_engine, pool

from tests.service.video_fixtures import (
    issue_job,
    make_clip,
    make_slow_clip,
    queue_settings,
    running_worker,
    video_client,
    wait_for_task,
)
from unstuck.service.jobs import Job, read
from unstuck.service.migrations import upgrade
from unstuck.service.queue import (
    TRANSCODE_TASK,
    QueueSettings,
    create_celery,
    visibility_timeout_s,
)
from unstuck.service.settings import Settings
from unstuck.service.storage import create_storage, thumbnail_key, upload_key, video_key
from unstuck.service.transcode_job import run_job


def test_embedded_default_is_the_filesystem_broker_and_no_result_backend(tmp_path: Path) -> None:
    app = create_celery(Settings(data_dir=tmp_path), queue_settings())

    conf = app.conf
    assert conf.broker_url.startswith("filesystem://")
    options = conf.broker_transport_options
    assert options["data_folder_in"] == options["data_folder_out"]
    assert Path(options["data_folder_in"]).is_dir()
    assert Path(options["processed_folder"]).is_dir()
    # Users read video_jobs rows; Celery keeps no results anywhere.
    assert conf.result_backend is None
    assert conf.task_ignore_result is True
    assert conf.task_serializer == "json"
    assert conf.broker_connection_retry_on_startup is True
    assert TRANSCODE_TASK in app.tasks


def test_delivery_is_at_least_once(tmp_path: Path) -> None:
    queue = queue_settings(task_soft_time_limit_s=100, task_time_limit_s=120)
    app = create_celery(Settings(data_dir=tmp_path, broker_url="redis://127.0.0.1:6379/2"), queue)

    conf = app.conf
    assert (conf.task_acks_late, conf.task_reject_on_worker_lost) == (True, True)
    assert conf.worker_prefetch_multiplier == 1
    # Never handed to a second worker while the first may still be running it.
    assert conf.broker_transport_options["visibility_timeout"] == visibility_timeout_s(queue)
    assert visibility_timeout_s(queue) > queue.task_time_limit_s


def test_embedded_broker_keeps_its_state_in_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    data_dir = tmp_path / "data"
    app = create_celery(Settings(data_dir=data_dir), queue_settings())

    app.send_task(TRANSCODE_TASK)

    assert list(elsewhere.iterdir()) == []
    assert list((data_dir / "broker" / "control").iterdir())
    assert list((data_dir / "broker" / "messages").iterdir())


def test_unsupported_broker_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"sqs:// is not supported; use redis://"):
        create_celery(Settings(data_dir=tmp_path, broker_url="sqs://key:secret@x"))


def test_hard_time_limit_must_exceed_the_soft_one() -> None:
    with pytest.raises(ValidationError, match="must be greater"):
        QueueSettings(task_soft_time_limit_s=60, task_time_limit_s=60)


def test_a_task_id_never_issued_is_not_run(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    upgrade(settings)
    task_id = str(uuid.uuid4())

    run_job(settings, queue_settings(), task_id)

    assert read_job(settings, task_id) is None
    assert not (tmp_path / "videos").exists()


def test_task_body_transcodes_stores_and_is_not_redone(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    clip = make_clip(tmp_path / "clip.mp4", width=320, height=240, seconds=0.4)
    task_id = issue_job(settings, clip.read_bytes())
    queue = queue_settings(video_max_width=160)
    store = create_storage(settings)

    run_job(settings, queue, task_id)
    job = read_job(settings, task_id)
    assert job is not None
    first = (tmp_path / video_key(task_id)).stat()
    # A second delivery of the same task finds the job finished and leaves it alone.
    run_job(settings, queue, task_id)

    assert job.state == "SUCCESS"
    assert job.result is not None
    assert (job.result["codec"], job.result["width"], job.result["height"]) == ("h264", 160, 120)
    assert job.result["size"] == first.st_size
    assert (tmp_path / video_key(task_id)).stat().st_mtime_ns == first.st_mtime_ns
    assert store.exists(thumbnail_key(task_id))
    assert not store.exists(upload_key(task_id))
    assert read_job(settings, task_id) == job


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


def read_job(settings: Settings, task_id: str) -> Job | None:
    engine = create_engine(settings.sync_database_url, poolclass=pool.NullPool)
    try:
        return read(engine, task_id)
    finally:
        engine.dispose()


def test_running_task_is_started_and_the_soft_time_limit_fails_it_cleanly(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    queue = queue_settings(task_soft_time_limit_s=1, task_time_limit_s=20)
    app = create_celery(settings, queue)
    task_id = issue_job(settings, make_slow_clip(tmp_path / "long.mp4").read_bytes())

    with running_worker(settings, queue):
        app.tasks[TRANSCODE_TASK].apply_async(task_id=task_id)
        deadline = time.monotonic() + 30
        while (job := read_job(settings, task_id)) is None or job.state == "PENDING":
            assert time.monotonic() < deadline, "the task never started"
            time.sleep(0.05)
        assert job.state == "STARTED"
        while job.state == "STARTED":
            assert time.monotonic() < deadline + 30, "the task never ended"
            time.sleep(0.1)
            job = read_job(settings, task_id)
            assert job is not None

    assert job.state == "FAILURE"
    assert job.error_type == "TranscodeTimeoutError"
    assert job.error_message == "transcoding took longer than the limit of 1 s"
    store = create_storage(settings)
    assert not store.exists(video_key(task_id))
    assert not store.exists(upload_key(task_id))
    assert not list((tmp_path / "work").iterdir())


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
    queue = queue_settings()
    files = {"file": ("clip.mp4", clip, "video/mp4")}
    redis = await anyio.to_thread.run_sync(_start_redis, port, tmp_path)
    try:
        with running_worker(settings, queue):
            async with video_client(settings, create_celery(settings, queue)) as http:
                before = await http.post("/upload-video", files=files)
                assert before.status_code == 202
                task_id = before.json()["task_id"]
                assert (await wait_for_task(http, task_id))["state"] == "SUCCESS"

                redis.terminate()
                await anyio.to_thread.run_sync(redis.wait)
                await anyio.sleep(2.1)  # past the cache of the pipeline's status
                with anyio.fail_after(20):  # Celery's defaults would retry for much longer
                    during = await http.post("/upload-video", files=files)
                    state = await http.get(f"/task/{task_id}")
                assert during.status_code == 503
                assert "the task queue is unreachable" in during.json()["detail"]
                # The job's row answers, broker or not.
                assert state.status_code == 200
                assert state.json()["state"] == "SUCCESS"

                redis = await anyio.to_thread.run_sync(_start_redis, port, tmp_path)
                await anyio.sleep(2.1)
                after = await http.post("/upload-video", files=files)
                assert after.status_code == 202, after.text
                body = await wait_for_task(http, after.json()["task_id"])
                assert body["state"] == "SUCCESS"
    finally:
        redis.terminate()
        await anyio.to_thread.run_sync(redis.wait)
    # The refused upload left nothing; the accepted ones were deleted once processed.
    assert list((tmp_path / "var" / "incoming").iterdir()) == []
    assert list((tmp_path / "var" / "uploads").iterdir()) == []


def test_embedded_broker_never_hands_out_a_half_written_message(tmp_path: Path) -> None:
    # kombu's own filesystem transport creates the file, then fills it: a consumer
    # polling meanwhile read it empty and the worker died on a JSONDecodeError. And
    # the consumer's thread declaring the queue while the producer's published made
    # kombu drop early messages unrouted (one to six of the 60, most runs).
    app = create_celery(Settings(data_dir=tmp_path), queue_settings())
    payload = {"blob": "x" * 512 * 1024}
    sent = 60
    received: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def consume() -> None:
        with app.connection_for_read() as connection:
            queue = connection.SimpleQueue("race")
            try:
                while len(received) < sent and not done.is_set():
                    try:
                        message = queue.get(block=False)
                    except queue.Empty:
                        # still polling a thousand times a second, but letting the
                        # producer thread run: a spinning poll starved it of the GIL
                        time.sleep(0.001)
                        continue
                    except Exception as exc:
                        errors.append(exc)
                        return
                    received.append(len(message.payload["blob"]))
                    message.ack()
            finally:
                queue.close()

    consumer = threading.Thread(target=consume)
    consumer.start()
    try:
        with app.connection_for_write() as connection:
            queue = connection.SimpleQueue("race")
            for _ in range(sent):
                queue.put(payload)
            queue.close()
        consumer.join(20)
    finally:
        done.set()
        consumer.join()

    assert errors == []
    assert received == [len(payload["blob"])] * sent


def test_a_new_exchange_table_is_never_read_half_made(tmp_path: Path) -> None:
    # kombu makes an exchange's table file empty, then locks and fills it: a publisher
    # reading it in between (a web process and a worker starting together) failed on
    # the empty file.
    app = create_celery(Settings(data_dir=tmp_path), queue_settings())
    names = [f"race{index}" for index in range(400)]
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        with app.connection_for_read() as connection:
            channel: Any = connection.default_channel
            while not done.is_set():
                for name in names:
                    try:
                        channel.get_table(name)
                    except Exception as exc:
                        errors.append(exc)
                        return

    reader = threading.Thread(target=read)
    reader.start()
    try:
        with app.connection_for_write() as connection:
            channel: Any = connection.default_channel
            for name in names:
                channel._queue_bind(name, name, None, name)
                assert [entry.queue for entry in channel.get_table(name)] == [name]
    finally:
        done.set()
        reader.join(30)
    assert errors == []
