"""Limits on uploads as a whole: concurrent uploads per worker, the data dir's quota, free disk."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.service.video_fixtures import queue_settings, video_client
from unstuck.service.queue import create_celery
from unstuck.service.settings import Settings

pytestmark = pytest.mark.anyio

BOUNDARY = "unstuck-test-boundary"
MULTIPART = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}


def _part(payload: bytes) -> bytes:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    )
    return head.encode() + payload + f"\r\n--{BOUNDARY}--\r\n".encode()


async def _slow_body(release: asyncio.Event) -> AsyncIterator[bytes]:
    body = _part(b"x" * 4096)
    yield body[:100]
    await release.wait()
    yield body[100:]


def _uploads(data_dir: Path) -> list[Path]:
    folder = data_dir / "uploads"
    return sorted(folder.iterdir()) if folder.exists() else []


async def test_uploads_past_the_cap_are_a_503(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, max_concurrent_uploads=2)
    release = asyncio.Event()
    async with video_client(settings, create_celery(settings, queue_settings())) as client:
        running = [
            asyncio.create_task(
                client.post("/upload-video", content=_slow_body(release), headers=MULTIPART)
            )
            for _ in range(2)
        ]
        await asyncio.sleep(0.5)
        refused = await client.post("/upload-video", content=_part(b"x"), headers=MULTIPART)
        release.set()
        finished = await asyncio.gather(*running)
        # A slot is free again once an upload is done.
        again = await client.post("/upload-video", content=_part(b"x" * 10), headers=MULTIPART)
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert "UNSTUCK_MAX_CONCURRENT_UPLOADS" in refused.json()["detail"]
    # The two that held the slots went on (and were refused only as not being videos).
    assert [response.status_code for response in finished] == [415, 415]
    assert again.status_code == 415


async def test_an_upload_past_the_data_dir_quota_is_a_507(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, max_upload_bytes=1024 * 1024, data_dir_quota_bytes=1536 * 1024
    )
    (tmp_path / "earlier-video.bin").write_bytes(b"v" * 1024 * 1024)
    async with video_client(settings, create_celery(settings, queue_settings())) as client:
        response = await client.post("/upload-video", content=_part(b"x"), headers=MULTIPART)
    assert response.status_code == 507
    assert "UNSTUCK_DATA_DIR_QUOTA_BYTES" in response.json()["detail"]
    assert _uploads(tmp_path) == []


async def test_an_upload_that_would_nearly_fill_the_disk_is_a_507(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, min_free_disk_bytes=2**60)
    async with video_client(settings, create_celery(settings, queue_settings())) as client:
        response = await client.post("/upload-video", content=_part(b"x"), headers=MULTIPART)
    assert response.status_code == 507
    assert "UNSTUCK_MIN_FREE_DISK_BYTES" in response.json()["detail"]
