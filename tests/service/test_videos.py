"""The video routes over HTTP, with a real Celery worker on the filesystem transport.

One worker serves the module. Every request goes through the router in an app
whose lifespan provides ``settings`` and ``celery``; the happy path also runs
under BlockBuster, which raises if any of our code blocks the event loop.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from blockbuster import blockbuster_ctx
from starlette.requests import Request
from starlette.types import Message

from tests.service.video_fixtures import (
    issue_job,
    make_audio_only,
    make_clip,
    queue_settings,
    running_worker,
    video_client,
    wait_for_task,
)
from unstuck.service.queue import TRANSCODE_TASK, QueueSettings, create_celery
from unstuck.service.settings import Settings
from unstuck.service.uploads import ClientGoneError, receive_upload

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.mp4", seconds=1.0)


@pytest.fixture(scope="module")
def clip_bytes(clip: Path) -> bytes:
    return clip.read_bytes()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("video-data")


@pytest.fixture(scope="module")
def queue() -> QueueSettings:
    return queue_settings()


@pytest.fixture(scope="module")
def worker_pid(data_dir: Path, queue: QueueSettings) -> Iterator[int]:
    with running_worker(Settings(data_dir=data_dir), queue) as pid:
        yield pid


@pytest.fixture
async def client(
    data_dir: Path, queue: QueueSettings, worker_pid: int
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(data_dir=data_dir, max_upload_bytes=20 * 1024 * 1024)
    async with video_client(settings, create_celery(settings, queue)) as http:
        yield http


def _files(path: Path, name: str = "holiday.mp4") -> dict[str, Any]:
    return {"file": (name, path.read_bytes(), "video/mp4")}


def _leftovers(data_dir: Path) -> list[Path]:
    """Uploads still on disk, received (incoming) or stored (uploads)."""
    return sorted(
        path
        for folder in ("incoming", "uploads")
        if (data_dir / folder).is_dir()
        for path in (data_dir / folder).iterdir()
    )


async def test_upload_is_transcoded_to_a_smaller_h264_preview(
    client: httpx.AsyncClient, clip: Path, clip_bytes: bytes, data_dir: Path, tmp_path: Path
) -> None:
    with blockbuster_ctx("unstuck"):
        response = await client.post("/upload-video", files=_files(clip, "../../etc/passwd"))
        assert response.status_code == 202, response.text
        task_id = response.json()["task_id"]
        body = await wait_for_task(client, task_id)
        video = await client.get(f"/videos/{task_id}")
        thumbnail = await client.get(f"/videos/{task_id}/thumbnail")

    assert body["state"] == "SUCCESS", body
    result = body["result"]
    assert (result["codec"], result["width"], result["height"]) == ("h264", 320, 240)
    assert result["video_url"] == f"/videos/{task_id}"
    assert video.status_code == 200
    assert video.headers["content-type"] == "video/mp4"
    assert len(video.content) == result["size"] < len(clip_bytes)
    downloaded = tmp_path / "downloaded.mp4"
    downloaded.write_bytes(video.content)
    with av.open(str(downloaded)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.width == 320
    assert thumbnail.status_code == 200
    assert thumbnail.headers["content-type"] == "image/jpeg"
    assert thumbnail.content[:3] == b"\xff\xd8\xff"
    # The client's file name was never used; the upload is gone once transcoded.
    assert not (data_dir / "etc").exists()
    assert _leftovers(data_dir) == []


async def test_text_file_is_refused_with_415(
    client: httpx.AsyncClient, data_dir: Path, tmp_path: Path
) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 100)

    response = await client.post("/upload-video", files=_files(text))

    assert response.status_code == 415
    assert "not a video" in response.json()["detail"]
    assert _leftovers(data_dir) == []


async def test_audio_only_file_is_refused_with_415(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    response = await client.post(
        "/upload-video", files=_files(make_audio_only(tmp_path / "a.wav"), "a.wav")
    )

    assert response.status_code == 415
    assert "no video stream" in response.json()["detail"]


async def test_failed_task_reports_its_message_and_the_worker_goes_on(
    client: httpx.AsyncClient, clip: Path, data_dir: Path, queue: QueueSettings, worker_pid: int
) -> None:
    # The upload route refuses non-videos up front; here a bad file reaches the worker
    # anyway, the way it would if it changed between the probe and the transcode.
    settings = Settings(data_dir=data_dir)
    task_id = issue_job(settings, b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 500)
    create_celery(settings, queue).tasks[TRANSCODE_TASK].apply_async(task_id=task_id)

    body = await wait_for_task(client, task_id)
    assert body["state"] == "FAILURE"
    assert body["result"]["error"] == "NotAVideoError"
    assert "not a video container" in body["result"]["message"]
    video = await client.get(f"/videos/{task_id}")
    assert video.status_code == 409
    assert "the transcode failed: the file is not a video" in video.json()["detail"]

    upload = await client.post("/upload-video", files=_files(clip))
    assert (await wait_for_task(client, upload.json()["task_id"]))["state"] == "SUCCESS"
    os.kill(worker_pid, 0)  # raises if the worker process is gone


async def test_upload_without_a_file_field_is_422_and_without_a_form_415(
    client: httpx.AsyncClient,
) -> None:
    form = await client.post("/upload-video", data={"title": "holiday"}, files={"x": b""})
    no_form = await client.post("/upload-video", json={"file": "holiday.mp4"})
    empty = await client.post("/upload-video", files={"file": ("empty.mp4", b"", "video/mp4")})

    assert form.status_code == 422
    assert "no file field named 'file'" in form.json()["detail"]
    assert no_form.status_code == 415
    assert "multipart/form-data" in no_form.json()["detail"]
    assert empty.status_code == 422


async def test_malformed_multipart_is_400(client: httpx.AsyncClient, data_dir: Path) -> None:
    response = await client.post(
        "/upload-video",
        content=b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc',
        headers={"content-type": "multipart/form-data; boundary=xyz"},
    )

    assert response.status_code == 400
    assert "closing boundary" in response.json()["detail"]
    assert _leftovers(data_dir) == []


async def test_multipart_without_boundary_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/upload-video", content=b"abc", headers={"content-type": "multipart/form-data"}
    )

    assert response.status_code == 400
    assert "no boundary" in response.json()["detail"]


async def test_client_gone_mid_upload_is_a_refusal_and_leaves_nothing(tmp_path: Path) -> None:
    head = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n'
    messages: list[Message] = [
        {"type": "http.request", "body": head + b"a" * 1000, "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> Message:
        return messages.pop(0)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/upload-video",
        "headers": [(b"content-type", b"multipart/form-data; boundary=xyz")],
    }
    destination = tmp_path / "partial.upload"
    # Was starlette's ClientDisconnect, an unhandled exception in the server's log.
    with pytest.raises(ClientGoneError, match="disconnected"):
        await receive_upload(Request(scope, receive), destination, max_bytes=10_000)
    assert not destination.exists()


def _multipart(data: bytes, boundary: str = "unstuck-test-boundary") -> tuple[bytes, bytes]:
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), boundary.encode()


async def test_too_large_upload_is_413_and_leaves_nothing(
    queue: QueueSettings, clip: Path, clip_bytes: bytes, data_dir: Path, worker_pid: int
) -> None:
    settings = Settings(data_dir=data_dir, max_upload_bytes=100_000)
    body, boundary = _multipart(clip_bytes)

    async def chunked() -> AsyncIterator[bytes]:
        # No Content-Length: the limit has to be enforced while the bytes arrive.
        for start in range(0, len(body), 16_384):
            yield body[start : start + 16_384]

    headers = {"content-type": f"multipart/form-data; boundary={boundary.decode()}"}
    async with video_client(settings, create_celery(settings, queue)) as http:
        declared = await http.post("/upload-video", files=_files(clip))
        streamed = await http.post("/upload-video", content=chunked(), headers=headers)

    for response in (declared, streamed):
        assert response.status_code == 413
        assert "100000 bytes" in response.json()["detail"]
    assert _leftovers(data_dir) == []


@pytest.mark.parametrize(
    "task_id",
    [
        str(uuid.uuid4()),
        "not-a-task",
        str(uuid.uuid4()).upper(),
        "..%2F..%2Fsettings",
        "%2e%2e",
        "x" * 5000,
    ],
)
async def test_unknown_task_ids_are_404(client: httpx.AsyncClient, task_id: str) -> None:
    for path in (f"/task/{task_id}", f"/videos/{task_id}", f"/videos/{task_id}/thumbnail"):
        response = await client.get(path)
        assert response.status_code == 404, path
        if "%2F" not in task_id:  # an encoded slash misses the route: a plain 404
            assert "no task" in response.json()["detail"]
            assert len(response.json()["detail"]) < 200


async def test_results_before_the_task_runs_are_404_with_the_state(
    clip: Path, data_dir: Path, worker_pid: int
) -> None:
    # A worker is alive, but none consumes this queue: the task stays queued.
    settings = Settings(data_dir=data_dir)
    async with video_client(settings, create_celery(settings, queue_settings())) as http:
        task_id = (await http.post("/upload-video", files=_files(clip))).json()["task_id"]
        state = await http.get(f"/task/{task_id}")
        video = await http.get(f"/videos/{task_id}")
        thumbnail = await http.get(f"/videos/{task_id}/thumbnail")

    assert state.status_code == 200
    assert state.json()["state"] == "PENDING"
    assert (state.json()["result"], state.json()["started_at"]) == (None, None)
    for response in (video, thumbnail):
        assert response.status_code == 404
        assert "not ready: the task is PENDING" in response.json()["detail"]


async def test_an_upload_retried_with_its_key_is_one_task(
    client: httpx.AsyncClient, clip: Path, data_dir: Path
) -> None:
    headers = {"Idempotency-Key": f"upload-{uuid.uuid4()}"}
    first = await client.post("/upload-video", files=_files(clip), headers=headers)
    retry = await client.post("/upload-video", files=_files(clip), headers=headers)

    assert first.status_code == retry.status_code == 202
    assert retry.json() == first.json()
    task_id = first.json()["task_id"]
    assert (await wait_for_task(client, task_id))["state"] == "SUCCESS"
    # The retry's body was never read into a second upload; the first one is deleted.
    assert not list((data_dir / "incoming").iterdir())
    assert not (data_dir / "uploads" / f"{task_id}.upload").exists()
