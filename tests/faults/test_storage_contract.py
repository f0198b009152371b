"""One contract, two stores: the local folder and S3 (moto's standalone server, a real
HTTP endpoint speaking the S3 protocol, stands in for an S3-compatible service)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.own_servers import S3Server, free_port
from unstuck.service.byte_ranges import RangeRequest
from unstuck.service.settings import Settings
from unstuck.service.storage import (
    CHUNK_BYTES,
    ObjectMissingError,
    RangeNotSatisfiableError,
    Storage,
    StorageUnavailableError,
    create_storage,
    upload_key,
    video_key,
)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return create_storage(Settings(data_dir=tmp_path / "store"))
    s3: S3Server = request.getfixturevalue("s3_server")
    bucket: str = request.getfixturevalue("bucket")
    return create_storage(_s3_settings(tmp_path, f"s3://{bucket}/some/prefix", s3.endpoint()))


def _s3_settings(tmp_path: Path, url: str, endpoint: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "store",
        storage_url=url,
        s3_endpoint_url=endpoint,
        s3_access_key_id="test",
        s3_secret_access_key="test",
        s3_timeout_s=2.0,
    )


def test_put_open_get_delete_round_trip(store: Storage, tmp_path: Path) -> None:
    task_id = str(uuid.uuid4())
    # Larger than a chunk and than a multipart part: streamed both ways.
    payload = bytes(range(256)) * (40 * 1024 + 3)
    source = tmp_path / "source"
    source.write_bytes(payload)

    store.put_file(upload_key(task_id), source)
    opened = store.open(upload_key(task_id))
    try:
        chunks = list(opened.chunks())
    finally:
        opened.close()
    store.get_file(upload_key(task_id), tmp_path / "copy")

    assert not source.exists()  # put_file consumes its file
    assert store.exists(upload_key(task_id))
    assert opened.size == len(payload)
    assert max(len(chunk) for chunk in chunks) <= CHUNK_BYTES
    assert b"".join(chunks) == payload
    assert (tmp_path / "copy").read_bytes() == payload
    store.delete(upload_key(task_id))
    assert not store.exists(upload_key(task_id))
    store.delete(upload_key(task_id))  # deleting nothing is no error


def test_put_replaces_and_missing_objects_are_named(store: Storage, tmp_path: Path) -> None:
    task_id = str(uuid.uuid4())
    for content in (b"first", b"second"):
        (tmp_path / "v").write_bytes(content)
        store.put_file(video_key(task_id), tmp_path / "v")
    store.get_file(video_key(task_id), tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == b"second"

    other = str(uuid.uuid4())
    with pytest.raises(ObjectMissingError):
        store.open(video_key(other))
    with pytest.raises(ObjectMissingError):
        store.get_file(video_key(other), tmp_path / "none")
    assert not (tmp_path / "none").exists()
    assert not store.exists(video_key(other))
    with pytest.raises(ObjectMissingError):
        store.stat(video_key(other))


def test_stat_tells_the_size_and_tag_that_open_gives(store: Storage, tmp_path: Path) -> None:
    task_id = str(uuid.uuid4())
    for content in (b"first version", b"the second, longer version"):
        (tmp_path / "v").write_bytes(content)
        store.put_file(video_key(task_id), tmp_path / "v")
        info = store.stat(video_key(task_id))
        opened = store.open(video_key(task_id))
        opened.close()
        assert info.size == len(content) == opened.size
        assert info.etag is not None
        assert info.etag == opened.etag


def test_open_reads_one_byte_range_or_says_it_is_past_the_end(
    store: Storage, tmp_path: Path
) -> None:
    task_id = str(uuid.uuid4())
    payload = bytes(range(256)) * (9 * 1024 + 1)  # over two chunks
    (tmp_path / "v").write_bytes(payload)
    store.put_file(video_key(task_id), tmp_path / "v")
    size = len(payload)
    for wanted, first, last in (
        (RangeRequest(CHUNK_BYTES - 3, CHUNK_BYTES * 2 + 3), CHUNK_BYTES - 3, CHUNK_BYTES * 2 + 3),
        (RangeRequest(size - 5, None), size - 5, size - 1),
        (RangeRequest(None, None, suffix=7), size - 7, size - 1),
        (RangeRequest(None, None, suffix=size * 2), 0, size - 1),
    ):
        opened = store.open(video_key(task_id), wanted)
        try:
            assert opened.span is not None
            assert (opened.span.first, opened.span.last, opened.size) == (first, last, size)
            assert b"".join(opened.chunks()) == payload[first : last + 1]
            assert opened.etag is not None
        finally:
            opened.close()
    with pytest.raises(RangeNotSatisfiableError) as refused:
        store.open(video_key(task_id), RangeRequest(size, None))
    assert refused.value.size == size


def test_unreachable_s3_is_unavailable_not_missing(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    store = create_storage(_s3_settings(tmp_path, "s3://b/p", f"http://127.0.0.1:{port}"))
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(StorageUnavailableError):
        store.put_file(upload_key(str(uuid.uuid4())), tmp_path / "f")
    with pytest.raises(StorageUnavailableError):
        store.exists(upload_key(str(uuid.uuid4())))
    assert (tmp_path / "f").exists()  # a failed put keeps the file for a retry


def test_storage_url_must_name_a_bucket(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="s3://bucket/prefix"):
        create_storage(Settings(data_dir=tmp_path, storage_url="https://example.com/x"))
