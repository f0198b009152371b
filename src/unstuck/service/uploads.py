"""Receive a multipart upload straight into the data dir, in chunks, off the event loop.

FastAPI's ``UploadFile`` parses the whole body into a temporary file before the
route runs, with no size limit, so the route could only check the size after
the disk was filled. Here the route reads the request stream itself: the
streaming multipart parser (python-multipart) runs on the loop, which is cheap,
and every write to disk goes to a worker thread in batches of about 1 MiB. The
size limit is checked as bytes arrive; past it, or on any error or client
disconnect, the partial file is removed before the error propagates.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import anyio
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from unstuck.service.capacity import pipeline_thread

_WRITE_BATCH = 1024 * 1024
# Room for the multipart framing and small text fields around the file itself.
_FRAMING_ALLOWANCE = 64 * 1024
_MAX_PART_HEADERS = 1024 * 8


class UploadError(Exception):
    """The request is not an acceptable upload; `status_code` says how to answer."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UploadTooLargeError(UploadError):
    status_code = 413


class MissingFileError(UploadError):
    status_code = 422


class MalformedUploadError(UploadError):
    status_code = 400


class UnsupportedMediaTypeError(UploadError):
    status_code = 415


class ClientGoneError(UploadError):
    """The client disconnected mid-upload: nobody reads the answer, but the request ends
    as a refusal rather than as an unhandled exception in the server's log."""

    status_code = 400


@dataclass(frozen=True)
class ReceivedUpload:
    path: Path
    size: int
    client_filename: str | None


class _PartCollector:
    """Parser callbacks: track the current part and queue the bytes of the file part."""

    def __init__(self, field: str) -> None:
        self.field = field
        self.header_name = bytearray()
        self.header_value = bytearray()
        self.headers: dict[bytes, bytes] = {}
        self.in_file = False
        self.seen_file = False
        self.client_filename: str | None = None
        self.pending: list[bytes] = []
        self.pending_size = 0
        self.file_size = 0
        self.duplicate = False
        self.ended = False

    def on_part_begin(self) -> None:
        self.headers = {}
        self.in_file = False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[bytes(self.header_name).lower()] = bytes(self.header_value)
        self.header_name.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition"))
        if options.get(b"name", b"").decode("latin-1") != self.field:
            return
        if b"filename" not in options:
            return
        if self.seen_file:
            self.duplicate = True
            return
        self.in_file = self.seen_file = True
        # Kept for the task record only; never used to build a path.
        self.client_filename = options[b"filename"].decode("utf-8", "replace")[:255]

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.in_file and end > start:
            self.pending.append(data[start:end])
            self.pending_size += end - start
            self.file_size += end - start

    def on_part_end(self) -> None:
        self.in_file = False

    def on_end(self) -> None:
        self.ended = True

    def take_pending(self) -> bytes:
        chunk = b"".join(self.pending)
        self.pending.clear()
        self.pending_size = 0
        return chunk


async def receive_upload(
    request: Request, destination: Path, max_bytes: int, field: str = "file"
) -> ReceivedUpload:
    """Stream the file part named `field` of `request` into `destination` (created, not
    overwritten). Raises an `UploadError` subclass for a request that cannot be accepted."""
    content_type, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data":
        raise UnsupportedMediaTypeError(
            f"send the video as multipart/form-data with a file field named {field!r}"
        )
    if not boundary:
        raise MalformedUploadError("the multipart/form-data Content-Type has no boundary")
    declared = request.headers.get("content-length")
    if (
        declared is not None
        and declared.isdigit()
        and int(declared) > max_bytes + (_FRAMING_ALLOWANCE)
    ):
        raise UploadTooLargeError(_too_large(max_bytes))

    collector = _PartCollector(field)
    parser = MultipartParser(
        boundary,
        callbacks={
            "on_part_begin": collector.on_part_begin,
            "on_header_field": collector.on_header_field,
            "on_header_value": collector.on_header_value,
            "on_header_end": collector.on_header_end,
            "on_headers_finished": collector.on_headers_finished,
            "on_part_data": collector.on_part_data,
            "on_part_end": collector.on_part_end,
            "on_end": collector.on_end,
        },
        max_header_size=_MAX_PART_HEADERS,
    )
    output: BinaryIO = await pipeline_thread(destination.open, "xb")
    completed = False
    try:
        received = 0
        async for chunk in request.stream():
            # The whole body, text fields included, not only the file: a body without
            # Content-Length (chunked) is bounded as it arrives.
            received += len(chunk)
            if received > max_bytes + _FRAMING_ALLOWANCE:
                raise UploadTooLargeError(_too_large(max_bytes))
            try:
                parser.write(chunk)
            except FormParserError as exc:
                raise MalformedUploadError(f"the multipart body is malformed: {exc}") from exc
            if collector.duplicate:
                raise MalformedUploadError(f"send exactly one file in the field {field!r}")
            if collector.file_size > max_bytes:
                raise UploadTooLargeError(_too_large(max_bytes))
            if collector.pending_size >= _WRITE_BATCH:
                await pipeline_thread(output.write, collector.take_pending())
        try:
            parser.finalize()
        except FormParserError as exc:
            raise MalformedUploadError(f"the multipart body is malformed: {exc}") from exc
        if not collector.ended:
            raise MalformedUploadError("the multipart body ends before its closing boundary")
        if not collector.seen_file:
            raise MissingFileError(f"the form has no file field named {field!r}")
        if collector.file_size == 0:
            raise MissingFileError("the uploaded file is empty")
        await pipeline_thread(output.write, collector.take_pending())
        completed = True
    except ClientDisconnect:
        raise ClientGoneError("the client disconnected before the upload ended") from None
    finally:
        # Shielded: a client that disconnects cancels the request, and the partial
        # file must still be closed and removed.
        with anyio.CancelScope(shield=True):
            await pipeline_thread(output.close)
            if not completed:
                with contextlib.suppress(OSError):
                    await pipeline_thread(destination.unlink)
    return ReceivedUpload(destination, collector.file_size, collector.client_filename)


def _too_large(max_bytes: int) -> str:
    return f"the file is larger than the limit of {max_bytes} bytes (UNSTUCK_MAX_UPLOAD_BYTES)"
