"""End to end through ``unstuck serve``: uvicorn, the full app, the embedded worker.

Nothing configured but a temporary data dir, so this is the embedded default a
newcomer gets: filesystem broker, SQLite results, one worker started by serve.
The upload is streamed over real HTTP in chunks, and ``/health`` is asked in
the middle of it to show the loop keeps serving while an upload is in flight.
Stopping serve must leave no process behind, the Celery worker included, and
so must a serve SIGKILLed. A serve that kills itself mid-upload (its fault
points) leaves files that the next serve's recovery deletes past the bound.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest

from tests.own_servers import stop_group
from tests.service.video_fixtures import make_clip
from unstuck.service import jobs
from unstuck.service.settings import Settings


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _processes_using(data_dir: Path) -> list[int]:
    """Live processes whose environment points at `data_dir`: serve and its children."""
    marker = f"UNSTUCK_DATA_DIR={data_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker in environ:
            found.append(int(entry.name))
    return found


def _start_serve(data_dir: Path, **extra: str) -> tuple[subprocess.Popen[bytes], str]:
    """``unstuck serve`` on `data_dir` (and `extra` variables), once /health is 200: its
    embedded worker has reported in."""
    port = _free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("UNSTUCK_")}
    environment["UNSTUCK_DATA_DIR"] = str(data_dir)
    environment.update(extra)
    process = subprocess.Popen(
        [sys.executable, "-m", "unstuck", "serve", "--port", str(port), "--log-level", "warning"],
        env=environment,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise AssertionError("unstuck serve exited during start-up")
        try:
            if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                return process, base_url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            _stop_serve(process)
            raise AssertionError("unstuck serve did not answer /health")
        time.sleep(0.2)


def _stop_serve(process: subprocess.Popen[bytes]) -> None:
    assert stop_group(process), "unstuck serve did not stop on SIGTERM"


def _wait_for_no_process_using(data_dir: Path, within_s: float, after: str) -> None:
    deadline = time.monotonic() + within_s
    while left := _processes_using(data_dir):
        assert time.monotonic() < deadline, f"processes left after {after}: {left}"
        time.sleep(0.1)


def _kill_all_using(data_dir: Path) -> None:
    for pid in _processes_using(data_dir):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    data_dir = (tmp_path / "var").resolve()
    process, base_url = _start_serve(data_dir)
    try:
        yield base_url, data_dir
    finally:
        _stop_serve(process)
    _wait_for_no_process_using(data_dir, 10, "serve stopped")


def test_upload_transcode_download_through_unstuck_serve(
    served: tuple[str, Path], tmp_path: Path
) -> None:
    base_url, data_dir = served
    clip = make_clip(tmp_path / "clip.mp4", seconds=1.0).read_bytes()
    body, headers = _multipart(clip)
    halfway = threading.Event()
    health_answered = threading.Event()

    def chunks() -> Iterator[bytes]:
        middle = len(body) // 2
        for start in range(0, middle, 65_536):
            yield body[start : min(start + 65_536, middle)]
        halfway.set()
        # The rest of the upload waits until the service has answered another request.
        assert health_answered.wait(30)
        yield body[middle:]

    def ask_health() -> None:
        assert halfway.wait(30)
        if httpx.get(f"{base_url}/health", timeout=10).status_code == 200:
            health_answered.set()

    checker = threading.Thread(target=ask_health)
    checker.start()
    with httpx.Client(base_url=base_url, timeout=30) as http:
        response = http.post(
            "/upload-video",
            content=chunks(),
            headers=headers,
        )
        checker.join()
        assert health_answered.is_set()
        assert response.status_code == 202, response.text
        task_id = response.json()["task_id"]

        deadline = time.monotonic() + 60
        while (state := http.get(f"/task/{task_id}").json())["state"] not in {
            "SUCCESS",
            "FAILURE",
        }:
            assert time.monotonic() < deadline, state
            time.sleep(0.2)
        assert state["state"] == "SUCCESS", state
        video = http.get(state["result"]["video_url"])
        thumbnail = http.get(state["result"]["thumbnail_url"])

    assert video.status_code == 200
    assert len(video.content) < len(clip)
    downloaded = tmp_path / "downloaded.mp4"
    downloaded.write_bytes(video.content)
    with av.open(str(downloaded)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.video[0].codec_context.width == 320
    assert thumbnail.headers["content-type"] == "image/jpeg"
    assert (data_dir / "videos" / f"{task_id}.mp4").is_file()


def _multipart(clip: bytes, boundary: str = "unstuck-serve-test") -> tuple[bytes, dict[str, str]]:
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="clip.mp4"\r\n'
            "Content-Type: video/mp4\r\n\r\n"
        ).encode()
        + clip
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, {"content-type": f"multipart/form-data; boundary={boundary}"}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_sigkilled_serve_leaves_no_worker_behind(tmp_path: Path) -> None:
    data_dir = (tmp_path / "var").resolve()
    process, _ = _start_serve(data_dir)
    try:
        started = _processes_using(data_dir)
        assert len(started) >= 2, started  # serve and its worker at least
        process.kill()
        process.wait()
        _wait_for_no_process_using(data_dir, 30, "serve was SIGKILLed")
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        _kill_all_using(data_dir)


@pytest.mark.parametrize("point", ["upload-received", "upload-stored"])
def test_what_a_web_process_killed_mid_upload_left_is_deleted_after_the_bound(
    tmp_path: Path, point: str
) -> None:
    """serve dies (SIGKILL, by its fault point) in the middle of an upload; once served
    again, the recovery deletes what it left, past UNSTUCK_UPLOAD_ABANDONED_AFTER_S."""
    data_dir = (tmp_path / "var").resolve()
    body, headers = _multipart(make_clip(tmp_path / "clip.mp4", seconds=0.5).read_bytes())
    # A long bound at first: the worker dying with serve must not sweep what we look at.
    process, base_url = _start_serve(
        data_dir, UNSTUCK_FAULT_KILL_AT=point, UNSTUCK_UPLOAD_ABANDONED_AFTER_S="600"
    )
    try:
        with pytest.raises(httpx.TransportError):
            httpx.post(f"{base_url}/upload-video", content=body, headers=headers, timeout=30)
        assert process.wait(10) == -signal.SIGKILL
        _wait_for_no_process_using(data_dir, 30, "serve was SIGKILLed")
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        _kill_all_using(data_dir)

    # What the dead process left: the received file, or the stored object and its row.
    folder = data_dir / ("incoming" if point == "upload-received" else "uploads")
    leftovers = list(folder.iterdir()) if folder.is_dir() else []
    assert len(leftovers) == 1, sorted(data_dir.rglob("*"))
    left = leftovers[0]
    task_id = left.name.removesuffix(".upload")
    engine = jobs.worker_engine(Settings(data_dir=data_dir))
    try:
        row = jobs.read(engine, task_id)
        if point == "upload-stored":
            assert row is not None
            assert row.state == jobs.UPLOADING
        else:
            assert row is None

        bounds = {"UNSTUCK_UPLOAD_ABANDONED_AFTER_S": "2", "UNSTUCK_JOB_HEARTBEAT_S": "0.5"}
        process, base_url = _start_serve(data_dir, **bounds)
        try:
            # Never issued: no 202 was sent for it.
            assert httpx.get(f"{base_url}/task/{task_id}", timeout=10).status_code == 404
            deadline = time.monotonic() + 30
            while left.exists() or jobs.read(engine, task_id) is not None:
                assert time.monotonic() < deadline, f"{left} still there"
                time.sleep(0.2)
        finally:
            _stop_serve(process)
    finally:
        engine.dispose()
        _kill_all_using(data_dir)
