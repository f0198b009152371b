"""The video work of the Celery task: probe, transcode to a small H.264 MP4, thumbnail.

Pure, synchronous PyAV code with no knowledge of Celery or HTTP, so the web
process can probe an upload (in a thread) and the worker can transcode it with
the same functions. One decoding pass produces both the preview rendition and
the thumbnail. Outputs are written to a temporary name and renamed into place,
so a reader never sees a half-written file. Audio is dropped: the rendition is
a preview. Anything PyAV cannot read as a video raises `NotAVideoError`, whose
message is written for the person who uploaded the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av

if TYPE_CHECKING:
    from av.video.frame import VideoFrame

MAX_WIDTH = 320
THUMBNAIL_AT_S = 1.0
_CRF = "28"


class NotAVideoError(ValueError):
    """The file is not a video PyAV can decode (not a container, or no video stream)."""


@dataclass(frozen=True)
class VideoInfo:
    container: str
    codec: str
    width: int
    height: int
    duration_s: float | None
    frames: int | None


def probe(path: Path) -> VideoInfo:
    """Open the container and describe its first video stream, without decoding it."""
    try:
        with av.open(str(path), mode="r") as container:
            return _describe(container)
    except NotAVideoError:
        raise
    except (av.FFmpegError, ValueError, UnicodeDecodeError) as exc:
        raise NotAVideoError(
            f"the file is not a video container PyAV can read ({_reason(exc)})"
        ) from exc


def _reason(exc: Exception) -> str:
    # FFmpeg errors carry the server-side path in str(exc); the user only needs the cause.
    if isinstance(exc, av.FFmpegError) and exc.strerror:
        return str(exc.strerror)
    return str(exc)


def _describe(container: Any) -> VideoInfo:
    if not container.streams.video:
        raise NotAVideoError("the file has no video stream")
    # FFmpeg reads a JPEG or a PNG as a one-frame "video" through its image demuxers.
    if container.format.name == "image2" or container.format.name.endswith("_pipe"):
        raise NotAVideoError(f"the file is a still image ({container.format.name}), not a video")
    stream = container.streams.video[0]
    codec = stream.codec_context
    if not codec.width or not codec.height:
        raise NotAVideoError("the video stream has no frame size")
    duration: float | None = None
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / av.time_base
    return VideoInfo(
        container=container.format.name,
        codec=codec.name,
        width=codec.width,
        height=codec.height,
        duration_s=duration,
        frames=stream.frames or None,
    )


def scaled_size(width: int, height: int, max_width: int = MAX_WIDTH) -> tuple[int, int]:
    """Fit `width` into `max_width`, keep the aspect ratio, round both sides to even numbers.

    H.264 in 4:2:0 needs even dimensions.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"invalid frame size {width}x{height}")
    target_w = min(width, max_width)
    target_h = max(2, round(height * target_w / width))
    return max(2, target_w - target_w % 2), target_h - target_h % 2


def transcode(
    source: Path, video_out: Path, thumbnail_out: Path, max_width: int = MAX_WIDTH
) -> VideoInfo:
    """Write an H.264 MP4 of `source` scaled to at most `max_width` and a JPEG thumbnail.

    Returns the description of the written video. Raises `NotAVideoError` when
    `source` cannot be decoded as a video.
    """
    partial_video = video_out.with_name(video_out.name + ".part")
    try:
        container = av.open(str(source), mode="r")
    except (av.FFmpegError, ValueError, UnicodeDecodeError) as exc:
        raise NotAVideoError(
            f"the file is not a video container PyAV can read ({_reason(exc)})"
        ) from exc
    try:
        with container:
            _describe(container)
            thumbnail = _encode_h264(container, partial_video, max_width)
        _write_jpeg(thumbnail, thumbnail_out)
        os.replace(partial_video, video_out)
    except NotAVideoError:
        raise
    except (av.FFmpegError, ValueError, UnicodeDecodeError) as exc:
        raise NotAVideoError(f"the video could not be decoded ({_reason(exc)})") from exc
    finally:
        partial_video.unlink(missing_ok=True)
    return probe(video_out)


def _encode_h264(container: Any, destination: Path, max_width: int) -> VideoFrame:
    source = container.streams.video[0]
    source.thread_type = "AUTO"
    width, height = scaled_size(source.codec_context.width, source.codec_context.height, max_width)
    rate = source.average_rate or source.guessed_rate or Fraction(25)
    time_base = source.time_base or Fraction(1, 90_000)
    thumbnail: VideoFrame | None = None
    with av.open(
        str(destination), mode="w", format="mp4", options={"movflags": "+faststart"}
    ) as output:
        stream = output.add_stream("libx264", rate=rate)
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        stream.options = {"crf": _CRF, "preset": "veryfast"}
        next_pts = 0
        for frame in container.decode(source):
            scaled = frame.reformat(width=width, height=height, format="yuv420p")
            # Keep the source timing (variable frame rates included); number frames
            # only when the decoder gives no timestamp.
            pts = frame.pts if frame.pts is not None else next_pts
            if pts < next_pts:
                pts = next_pts
            scaled.pts = pts
            scaled.time_base = time_base
            next_pts = pts + 1
            if thumbnail is None or frame.time is None or frame.time <= THUMBNAIL_AT_S:
                thumbnail = scaled
            output.mux(stream.encode(scaled))
        output.mux(stream.encode(None))
    if thumbnail is None:
        raise NotAVideoError("the video stream has no decodable frame")
    return thumbnail


def _write_jpeg(frame: VideoFrame, destination: Path) -> None:
    partial = destination.with_name(destination.name + ".part")
    try:
        with av.open(str(partial), mode="w", format="image2") as output:
            stream = output.add_stream("mjpeg", rate=1)
            stream.width = frame.width
            stream.height = frame.height
            stream.pix_fmt = "yuvj420p"
            picture = frame.reformat(format="yuvj420p")
            picture.pts = 0
            picture.time_base = Fraction(1)
            stream.time_base = Fraction(1)
            output.mux(stream.encode(picture))
            output.mux(stream.encode(None))
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
