"""Byte ranges of transcoded results, asked of a running ``unstuck serve``.

Each store (the local folder, and S3 through moto's standalone server) gets a
``serve`` process of its own, and a finished job whose video is a known
payload of random bytes, larger than the chunk the service reads at a time,
so that every range can be checked byte for byte, across chunk boundaries.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.own_servers import S3Server, free_port, stop_group
from unstuck.service import jobs
from unstuck.service.migrations import upgrade
from unstuck.service.settings import Settings
from unstuck.service.storage import CHUNK_BYTES, create_storage, thumbnail_key, video_key

SIZE = 2 * CHUNK_BYTES + 12_345


@dataclass(frozen=True)
class Served:
    base_url: str
    task_id: str
    video: bytes
    thumbnail: bytes


def _start(settings: Settings, tmp: Path) -> Iterator[Served]:
    """`serve` on `settings` (no worker: results are stored here), with one finished job."""
    upgrade(settings)
    rng = random.Random(7)
    video, thumbnail = rng.randbytes(SIZE), rng.randbytes(10_000)
    task_id = str(uuid.uuid4())
    store = create_storage(settings)
    for key, payload in ((video_key(task_id), video), (thumbnail_key(task_id), thumbnail)):
        source = tmp / f"{uuid.uuid4().hex}.bin"
        source.write_bytes(payload)
        store.put_file(key, source)
    engine = jobs.worker_engine(settings)
    with engine.begin() as connection:
        connection.execute(jobs.insert_statement(task_id, "clip.mp4", SIZE))
    jobs.succeed(engine, task_id, {"size": SIZE})
    engine.dispose()

    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("UNSTUCK_")}
    for name in ("data_dir", "storage_url", "s3_endpoint_url"):
        value = getattr(settings, name)
        if value is not None:
            environment[f"UNSTUCK_{name.upper()}"] = str(value)
    if settings.s3_access_key_id is not None:
        environment["UNSTUCK_S3_ACCESS_KEY_ID"] = settings.s3_access_key_id
        environment["UNSTUCK_S3_SECRET_ACCESS_KEY"] = str(settings.s3_secret_access_key)
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "unstuck", "serve", "--port", str(port)),
            *("--no-worker", "--log-level", "warning"),
        ],
        env=environment,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "unstuck serve exited during start-up"
            try:
                # 503: up, with no video worker (none is needed to serve results).
                if httpx.get(f"{base_url}/health", timeout=2).status_code in {200, 503}:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "unstuck serve did not answer /health"
            time.sleep(0.2)
        yield Served(base_url, task_id, video, thumbnail)
    finally:
        stop_group(process)


@pytest.fixture(scope="module", params=["local", "s3"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp(f"ranges-{request.param}")
    settings = Settings(data_dir=tmp / "var")
    if request.param == "s3":
        s3: S3Server = request.getfixturevalue("s3_server")
        bucket = f"ranges-{uuid.uuid4().hex[:10]}"
        s3.create_bucket(bucket)
        settings = Settings(
            data_dir=tmp / "var",
            storage_url=f"s3://{bucket}/results",
            s3_endpoint_url=s3.endpoint(),
            s3_access_key_id="test",
            s3_secret_access_key="test",
        )
    yield from _start(settings, tmp)


def _get(served: Served, path: str = "", **headers: str) -> httpx.Response:
    return httpx.get(
        f"{served.base_url}/videos/{served.task_id}{path}", headers=headers, timeout=30
    )


def test_no_range_is_the_whole_file_with_accept_ranges(served: Served) -> None:
    response = _get(served)
    assert response.status_code == 200
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-length"] == str(SIZE)
    assert response.headers["etag"].startswith('"')
    assert "content-range" not in response.headers
    assert response.content == served.video


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=0-0", 0, 0),
        # Across the boundaries of the chunks the service reads from storage.
        (f"bytes={CHUNK_BYTES - 5}-{2 * CHUNK_BYTES + 5}", CHUNK_BYTES - 5, 2 * CHUNK_BYTES + 5),
        (f"bytes={SIZE - 10}-", SIZE - 10, SIZE - 1),  # open-ended
        ("bytes=-500", SIZE - 500, SIZE - 1),  # the last 500 bytes
        (f"bytes=-{SIZE + 10}", 0, SIZE - 1),  # a suffix longer than the file: all of it
        (f"bytes=100-{SIZE + 1000}", 100, SIZE - 1),  # past the end: cut at the end
        ("Bytes=5-9", 5, 9),  # the unit is case-insensitive
    ],
)
def test_one_range_is_a_206_with_exactly_those_bytes(
    served: Served, header: str, first: int, last: int
) -> None:
    response = _get(served, range=header)
    assert response.status_code == 206, response.text
    assert response.headers["content-range"] == f"bytes {first}-{last}/{SIZE}"
    assert response.headers["content-length"] == str(last - first + 1)
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-type"] == "video/mp4"
    assert response.content == served.video[first : last + 1]


@pytest.mark.parametrize("header", [f"bytes={SIZE}-", f"bytes={SIZE + 5}-{SIZE + 10}", "bytes=-0"])
def test_a_range_past_the_end_is_416_with_the_size(served: Served, header: str) -> None:
    response = _get(served, range=header)
    assert response.status_code == 416, response.text
    assert response.headers["content-range"] == f"bytes */{SIZE}"
    assert "past the end" in response.json()["detail"]


@pytest.mark.parametrize(
    "header",
    ["bytes=0-1,5-6", "bytes=5-1", "bytes=abc", "items=0-1", "bytes=0-1-2", "bytes=-", "bytes"],
)
def test_several_or_malformed_ranges_get_the_whole_file(served: Served, header: str) -> None:
    response = _get(served, range=header)
    assert response.status_code == 200
    assert response.content == served.video


def test_head_describes_the_whole_file_without_a_body(served: Served) -> None:
    url = f"{served.base_url}/videos/{served.task_id}"
    etag = _get(served).headers["etag"]
    for headers in ({}, {"range": "bytes=0-9"}):
        response = httpx.head(url, headers=headers, timeout=30)
        assert response.status_code == 200
        assert response.headers["content-length"] == str(SIZE)
        assert response.headers["accept-ranges"] == "bytes"
        assert response.headers["content-type"] == "video/mp4"
        assert response.headers["etag"] == etag
        assert response.content == b""
    missing = httpx.head(f"{served.base_url}/videos/{uuid.uuid4()}", timeout=30)
    assert missing.status_code == 404


def test_if_range_serves_the_range_only_for_the_current_tag(served: Served) -> None:
    etag = _get(served).headers["etag"]
    same = _get(served, range="bytes=10-19", **{"if-range": etag})
    assert same.status_code == 206
    assert same.content == served.video[10:20]
    for stale in ('"some-other-tag"', f"W/{etag}", "Tue, 01 Dec 2026 00:00:00 GMT"):
        changed = _get(served, range="bytes=10-19", **{"if-range": stale})
        assert changed.status_code == 200, stale
        assert changed.content == served.video
    # The whole file answers a range past the end, too, when the tag does not match.
    assert _get(served, range=f"bytes={SIZE}-", **{"if-range": '"x"'}).status_code == 200
    assert _get(served, range=f"bytes={SIZE}-", **{"if-range": etag}).status_code == 416


def test_the_thumbnail_takes_ranges_too(served: Served) -> None:
    response = _get(served, "/thumbnail", range="bytes=-100")
    assert response.status_code == 206
    assert response.headers["content-range"] == "bytes 9900-9999/10000"
    assert response.content == served.thumbnail[-100:]
