"""The PyAV work: probe, H.264 preview rendition, thumbnail, refusal of non-videos."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from tests.service.video_fixtures import make_audio_only, make_clip
from unstuck.service import transcode
from unstuck.service.transcode import NotAVideoError


def test_probe_describes_the_video_stream(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", width=640, height=480, seconds=1.0, fps=25)

    info = transcode.probe(clip)

    assert (info.codec, info.width, info.height) == ("mpeg4", 640, 480)
    assert info.duration_s == pytest.approx(1.0, abs=0.1)


def test_transcode_writes_a_smaller_h264_mp4_and_a_jpeg(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", width=640, height=480, seconds=1.0)
    video, thumbnail = tmp_path / "out.mp4", tmp_path / "out.jpg"

    info = transcode.transcode(clip, video, thumbnail)

    assert (info.codec, info.width, info.height) == ("h264", 320, 240)
    assert video.stat().st_size < clip.stat().st_size
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        assert container.format.name.startswith("mov,mp4")
        assert stream.codec_context.name == "h264"
        frames = sum(1 for _ in container.decode(stream))
    assert frames == 25
    assert thumbnail.read_bytes()[:3] == b"\xff\xd8\xff"
    with av.open(str(thumbnail)) as image:
        frame = next(image.decode(video=0))
        assert (frame.width, frame.height) == (320, 240)
    assert not list(tmp_path.glob("*.part"))


def test_narrow_video_keeps_its_size_and_odd_sizes_become_even(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", width=162, height=122, seconds=0.4, codec="h264")

    info = transcode.transcode(clip, tmp_path / "out.mp4", tmp_path / "out.jpg")

    assert (info.width, info.height) == (162, 122)
    assert transcode.scaled_size(641, 479) == (320, 238)
    assert transcode.scaled_size(1920, 1080, max_width=320) == (320, 180)


def test_text_file_is_not_a_video(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("these are not the frames you are looking for\n" * 50)

    with pytest.raises(NotAVideoError, match="not a video container") as caught:
        transcode.probe(text)
    assert str(tmp_path) not in str(caught.value)
    with pytest.raises(NotAVideoError):
        transcode.transcode(text, tmp_path / "out.mp4", tmp_path / "out.jpg")
    assert list(tmp_path.iterdir()) == [text]


def test_audio_only_file_has_no_video_stream(tmp_path: Path) -> None:
    sound = make_audio_only(tmp_path / "sound.wav")

    with pytest.raises(NotAVideoError, match="no video stream"):
        transcode.probe(sound)


def test_truncated_video_is_refused_without_leaving_files(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", seconds=0.5)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    video, thumbnail = tmp_path / "out.mp4", tmp_path / "out.jpg"

    with pytest.raises(NotAVideoError):
        transcode.transcode(truncated, video, thumbnail)

    assert not video.exists()
    assert not thumbnail.exists()
    assert not list(tmp_path.glob("*.part"))
