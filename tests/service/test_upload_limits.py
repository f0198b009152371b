"""Limits on uploads as a whole: concurrent uploads per worker, the data dir's quota, free disk."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.service.video_fixtures import queue_settings, running_worker, video_client
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


@pytest.fixture(scope="module")
def live_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database where a real video worker reports: uploads are refused without one."""
    shared = tmp_path_factory.mktemp("with-worker")
    database_url = f"sqlite+aiosqlite:///{shared / 'unstuck.db'}"
    with running_worker(Settings(data_dir=shared, database_url=database_url), queue_settings()):
        yield database_url


def _uploads(data_dir: Path) -> list[Path]:
    """Uploads on disk: received (incoming) or stored (uploads)."""
    return sorted(
        path
        for name in ("incoming", "uploads")
        if (data_dir / name).exists()
        for path in (data_dir / name).iterdir()
    )


async def test_uploads_past_the_cap_are_a_503(tmp_path: Path, live_database: str) -> None:
    settings = Settings(data_dir=tmp_path, database_url=live_database, max_concurrent_uploads=2)
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


async def test_an_upload_past_the_data_dir_quota_is_a_507(
    tmp_path: Path, live_database: str
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=live_database,
        max_upload_bytes=1024 * 1024,
        data_dir_quota_bytes=1536 * 1024,
    )
    (tmp_path / "earlier-video.bin").write_bytes(b"v" * 1024 * 1024)
    async with video_client(settings, create_celery(settings, queue_settings())) as client:
        response = await client.post("/upload-video", content=_part(b"x"), headers=MULTIPART)
    assert response.status_code == 507
    assert "UNSTUCK_DATA_DIR_QUOTA_BYTES" in response.json()["detail"]
    assert _uploads(tmp_path) == []


async def test_an_upload_that_would_nearly_fill_the_disk_is_a_507(
    tmp_path: Path, live_database: str
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=live_database, min_free_disk_bytes=2**60)
    async with video_client(settings, create_celery(settings, queue_settings())) as client:
        response = await client.post("/upload-video", content=_part(b"x"), headers=MULTIPART)
    assert response.status_code == 507
    assert "UNSTUCK_MIN_FREE_DISK_BYTES" in response.json()["detail"]


async def test_a_huge_text_field_in_a_chunked_upload_is_a_413_as_it_arrives(
    tmp_path: Path, live_database: str
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=live_database, max_upload_bytes=1024 * 1024)
    sent: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        yield f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="note"\r\n\r\n'.encode()
        for index in range(1000):  # 64 MB of text field, never a file
            sent.append(index)
            yield b"n" * 65536

    async with video_client(settings, create_celery(settings, queue_settings())) as client:
        response = await client.post("/upload-video", content=body(), headers=MULTIPART)
    assert response.status_code == 413
    assert len(sent) < 40  # stopped after about 1 MB, not at the end
