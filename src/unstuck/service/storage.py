"""Where uploads, transcoded videos and thumbnails live: one interface, two implementations.

- `LocalStorage`: folders under ``data_dir`` (the embedded default, one machine);
- `S3Storage`: an S3-compatible bucket (``UNSTUCK_STORAGE_URL=s3://bucket/prefix``),
  through boto3, so that web and worker processes on different hosts share it.

Keys are built here from task ids the service generated (`upload_key`,
`video_key`, `thumbnail_key`), never from a client's file name. Both directions
stream: `put_file` moves a local file in (multipart upload for S3), `get_file`
writes an object to a local file, `open` yields it (or one byte range of it)
in chunks; memory stays
bounded whatever the size. An object appears whole or not at all (local: a
temporary name renamed into place; S3: a PUT is atomic). Every method blocks:
call them from a thread in async code.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

from unstuck.service.byte_ranges import ByteSpan, RangeRequest
from unstuck.service.settings import Settings

CHUNK_BYTES = 1024 * 1024
_MULTIPART_THRESHOLD = 8 * 1024 * 1024


def parse_task_id(text: str) -> str | None:
    """The canonical form of a task id, or None when `text` is not a UUID."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def new_task_id() -> str:
    return str(uuid.uuid4())


def _checked(task_id: str) -> str:
    canonical = parse_task_id(task_id)
    if canonical is None or canonical != task_id:
        raise ValueError(f"not a canonical task id: {task_id!r}")
    return canonical


def incoming_folder(settings: Settings) -> Path:
    """Where uploads arrive on this host, before they go to storage (created)."""
    folder = settings.data_dir.resolve() / "incoming"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def upload_key(task_id: str) -> str:
    return f"uploads/{_checked(task_id)}.upload"


def video_key(task_id: str) -> str:
    return f"videos/{_checked(task_id)}.mp4"


def thumbnail_key(task_id: str) -> str:
    return f"videos/{_checked(task_id)}.jpg"


class ObjectMissingError(LookupError):
    """No object under this key."""


class StorageUnavailableError(RuntimeError):
    """The store could not be reached or refused the request (not a missing object)."""


class RangeNotSatisfiableError(LookupError):
    """The requested range starts past the end of the object (of `size` bytes)."""

    def __init__(self, key: str, size: int) -> None:
        super().__init__(f"{key}: no such range in {size} bytes")
        self.size = size


@dataclass
class StoredObject:
    """An object opened for reading: its size, its bytes chunk by chunk, its entity tag.

    `size` is the whole object's; `span` the bytes requested, when a range was asked
    for, and `read` then stops at its end. `etag` (a strong, quoted tag) changes
    whenever the object is replaced. `read` blocks; `close` must be called (the S3
    body holds a connection).
    """

    size: int
    _stream: Any
    etag: str | None = None
    span: ByteSpan | None = None
    _remaining: int = field(init=False)

    def __post_init__(self) -> None:
        self._remaining = self.size if self.span is None else self.span.length

    @property
    def length(self) -> int:
        """How many bytes `read` gives in all."""
        return self.size if self.span is None else self.span.length

    def read(self) -> bytes:
        if self._remaining <= 0:
            return b""
        try:
            chunk = cast(bytes, self._stream.read(min(CHUNK_BYTES, self._remaining)))
        except OSError as exc:
            raise StorageUnavailableError(f"reading the object failed: {exc}") from exc
        except Exception as exc:
            # botocore's streaming errors (timeouts, truncated bodies) are not OSErrors.
            raise StorageUnavailableError(f"reading the object failed: {exc}") from exc
        self._remaining -= len(chunk)
        return chunk

    def chunks(self) -> Iterator[bytes]:
        while chunk := self.read():
            yield chunk

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stream.close()


@dataclass(frozen=True)
class ObjectInfo:
    """What a HEAD needs of an object, without opening it: its size and entity tag."""

    size: int
    etag: str | None


class Storage(Protocol):
    """What the pipeline needs from a store of objects."""

    def put_file(self, key: str, source: Path) -> None:
        """Store the local file `source` under `key` (replacing it), then remove `source`."""

    def get_file(self, key: str, destination: Path) -> None:
        """Write the object to `destination` (replaced); `ObjectMissingError` if none."""

    def open(self, key: str, wanted: RangeRequest | None = None) -> StoredObject:
        """Open the object for streaming, or the range `wanted` of it; `ObjectMissingError`
        if none, `RangeNotSatisfiableError` if the range starts past its end."""

    def stat(self, key: str) -> ObjectInfo:
        """The object's size and tag, as `open` would give them; `ObjectMissingError` if none."""

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the object; nothing happens when there is none."""

    def describe(self) -> str:
        """Where the objects are, for logs and /health (no credentials)."""


@dataclass(frozen=True)
class LocalStorage:
    """Objects as files under `root`; the key is the relative path."""

    root: Path

    def _path(self, key: str) -> Path:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def put_file(self, key: str, source: Path) -> None:
        target = self._path(key)
        try:
            # Same file system (the usual case: the data dir): a rename, no copy.
            os.replace(source, target)
            return
        except OSError:
            pass
        partial = target.with_name(f"{target.name}.{uuid.uuid4().hex}.part")
        try:
            shutil.copyfile(source, partial)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        source.unlink(missing_ok=True)

    def get_file(self, key: str, destination: Path) -> None:
        partial = destination.with_name(f"{destination.name}.{uuid.uuid4().hex}.part")
        try:
            shutil.copyfile(self.root / key, partial)
            os.replace(partial, destination)
        except FileNotFoundError as exc:
            raise ObjectMissingError(key) from exc
        finally:
            partial.unlink(missing_ok=True)

    def open(self, key: str, wanted: RangeRequest | None = None) -> StoredObject:
        try:
            stream = (self.root / key).open("rb")
        except FileNotFoundError as exc:
            raise ObjectMissingError(key) from exc
        stat = os.fstat(stream.fileno())
        etag = _file_etag(stat)
        span = None
        if wanted is not None:
            span = wanted.resolve(stat.st_size)
            if span is None:
                stream.close()
                raise RangeNotSatisfiableError(key, stat.st_size)
            stream.seek(span.first)
        return StoredObject(stat.st_size, stream, etag, span)

    def stat(self, key: str) -> ObjectInfo:
        try:
            stat = (self.root / key).stat()
        except FileNotFoundError as exc:
            raise ObjectMissingError(key) from exc
        return ObjectInfo(stat.st_size, _file_etag(stat))

    def exists(self, key: str) -> bool:
        return (self.root / key).is_file()

    def delete(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)

    def describe(self) -> str:
        return f"local folder {self.root}"


class S3Storage:
    """Objects in an S3-compatible bucket, under ``prefix/``."""

    def __init__(self, settings: Settings, bucket: str, prefix: str) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint = settings.s3_endpoint_url
        self._client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=settings.s3_secret_access_key,
            config=Config(
                connect_timeout=settings.s3_timeout_s,
                read_timeout=settings.s3_timeout_s,
                retries={"max_attempts": 3, "mode": "standard"},
                # Path-style URLs work with every S3-compatible server, virtual hosts need DNS.
                s3={"addressing_style": "path"},
            ),
        )
        # Bounded memory: parts of 8 MiB, a few in flight.
        self._transfer = TransferConfig(
            multipart_threshold=_MULTIPART_THRESHOLD,
            multipart_chunksize=_MULTIPART_THRESHOLD,
            max_concurrency=4,
            io_chunksize=CHUNK_BYTES,
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put_file(self, key: str, source: Path) -> None:
        with self._errors(key):
            self._client.upload_file(
                str(source), self.bucket, self._key(key), Config=self._transfer
            )
        source.unlink(missing_ok=True)

    def get_file(self, key: str, destination: Path) -> None:
        partial = destination.with_name(f"{destination.name}.{uuid.uuid4().hex}.part")
        try:
            with self._errors(key):
                self._client.download_file(
                    self.bucket, self._key(key), str(partial), Config=self._transfer
                )
            os.replace(partial, destination)
        finally:
            partial.unlink(missing_ok=True)

    def open(self, key: str, wanted: RangeRequest | None = None) -> StoredObject:
        arguments = {"Bucket": self.bucket, "Key": self._key(key)}
        if wanted is not None:
            # The store cuts the range itself: only those bytes cross the network.
            arguments["Range"] = wanted.header()
        try:
            with self._errors(key):
                answer = self._client.get_object(**arguments)
        except StorageUnavailableError as exc:
            if wanted is None or _error_code(exc.__cause__) != "InvalidRange":
                raise
            with self._errors(key):
                head = self._client.head_object(Bucket=self.bucket, Key=self._key(key))
            raise RangeNotSatisfiableError(key, int(head["ContentLength"])) from exc
        etag = answer.get("ETag")
        content_range = answer.get("ContentRange")
        if content_range is None:
            # No range asked for, or the store sent the whole object anyway.
            return StoredObject(int(answer["ContentLength"]), answer["Body"], etag)
        # "bytes first-last/size"
        span_text, _, size_text = content_range.removeprefix("bytes ").partition("/")
        first, _, last = span_text.partition("-")
        span = ByteSpan(int(first), int(last), int(size_text))
        return StoredObject(span.size, answer["Body"], etag, span)

    def stat(self, key: str) -> ObjectInfo:
        with self._errors(key):
            head = self._client.head_object(Bucket=self.bucket, Key=self._key(key))
        return ObjectInfo(int(head["ContentLength"]), head.get("ETag"))

    def exists(self, key: str) -> bool:
        try:
            with self._errors(key):
                self._client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ObjectMissingError:
            return False
        return True

    def delete(self, key: str) -> None:
        with self._errors(key):
            self._client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def describe(self) -> str:
        where = f"s3://{self.bucket}/{self.prefix}"
        return f"{where} at {self.endpoint}" if self.endpoint else where

    @contextlib.contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as exc:
            code = _error_code(exc)
            if code in {"404", "NoSuchKey", "NotFound"}:
                raise ObjectMissingError(key) from exc
            raise StorageUnavailableError(f"{self.describe()}: {exc}") from exc
        except (BotoCoreError, Boto3Error) as exc:
            raise StorageUnavailableError(f"{self.describe()}: {exc}") from exc


def _file_etag(stat: os.stat_result) -> str:
    # An object is replaced by a rename: a new inode and mtime, so a new tag.
    return f'"{stat.st_ino:x}-{stat.st_size:x}-{stat.st_mtime_ns:x}"'


def _error_code(exc: BaseException | None) -> str:
    """The S3 error code of a botocore ``ClientError`` ("NoSuchKey", "InvalidRange"...)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


def create_storage(settings: Settings) -> Storage:
    """The store `settings` name: ``UNSTUCK_STORAGE_URL`` or folders in the data dir."""
    if settings.storage_url is None:
        return LocalStorage(settings.data_dir.resolve())
    parts = urlsplit(settings.storage_url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(
            f"UNSTUCK_STORAGE_URL must look like s3://bucket/prefix, not {settings.storage_url!r}"
        )
    return S3Storage(settings, parts.netloc, parts.path)
