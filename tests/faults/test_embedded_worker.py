"""``unstuck serve`` on the embedded default: its worker SIGKILLed mid-transcode is
started again (logged) and the job completes; with no worker, /health and uploads are 503."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.faults.pipeline import HEARTBEAT_S, REQUEUE_AFTER_S, record
from tests.own_servers import free_port
from tests.service.video_fixtures import make_slow_clip
from unstuck.service.settings import Settings


def _embedded_worker(serve_pid: int) -> int | None:
    """The pid of serve's child running ``unstuck.service.worker``, if any."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == serve_pid and b"unstuck.service.worker" in command:
            return int(entry.name)
    return None


def _wait(condition: object, what: str, within_s: float = 60.0) -> None:
    deadline = time.monotonic() + within_s
    while not callable(condition) or not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_serve_restarts_its_killed_worker_and_the_job_completes(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    fields = {f"UNSTUCK_{name.upper()}" for name in Settings.model_fields}
    environment = {key: value for key, value in os.environ.items() if key not in fields}
    environment |= {
        "UNSTUCK_JOB_HEARTBEAT_S": str(HEARTBEAT_S),
        "UNSTUCK_JOB_REQUEUE_AFTER_S": str(REQUEUE_AFTER_S),
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        serve = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "unstuck",
                "serve",
                "--port",
                str(port),
                "--data-dir",
                str(tmp_path / "var"),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=environment,
            start_new_session=True,
        )
    clip = make_slow_clip(tmp_path / "slow.mp4", frames=300).read_bytes()
    try:
        with httpx.Client(base_url=base, timeout=10) as http:

            def healthy() -> bool:
                try:
                    return http.get("/health").status_code == 200
                except httpx.HTTPError:
                    return False

            _wait(healthy, f"serve never became healthy:\n{log.read_text()}")
            worker = _embedded_worker(serve.pid)
            assert worker is not None
            accepted = http.post("/upload-video", files={"file": ("s.mp4", clip, "video/mp4")})
            assert accepted.status_code == 202, accepted.text
            task_id = accepted.json()["task_id"]
            _wait(lambda: http.get(f"/task/{task_id}").json()["state"] == "STARTED", "start")

            os.killpg(worker, signal.SIGKILL)
            killed_at = time.monotonic()
            _wait(lambda: "embedded worker restarted" in log.read_text(), "no restart")
            back_s = time.monotonic() - killed_at

            def done() -> bool:
                return http.get(f"/task/{task_id}").json()["state"] in {"SUCCESS", "FAILURE"}

            _wait(done, "the job never finished")
            recovered_s = time.monotonic() - killed_at
            body = http.get(f"/task/{task_id}").json()
            video = http.get(f"/videos/{task_id}")
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(60)
    output = log.read_text()
    record(
        "embedded worker SIGKILL",
        outcome=body["state"],
        restart_logged_s=round(back_s, 2),
        recovered_s=round(recovered_s, 2),
    )
    assert body["state"] == "SUCCESS", body
    assert video.status_code == 200 and len(video.content) == body["result"]["size"]
    assert "exited with code -9; restart 1 in 1 s" in output
    assert "embedded worker restarted" in output
    assert serve.returncode == 0


def test_without_a_worker_health_and_uploads_are_503(tmp_path: Path) -> None:
    port = free_port()
    fields = {f"UNSTUCK_{name.upper()}" for name in Settings.model_fields}
    environment = {key: value for key, value in os.environ.items() if key not in fields}
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        serve = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "unstuck",
                "serve",
                "--port",
                str(port),
                "--no-worker",
                "--data-dir",
                str(tmp_path / "var"),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=environment,
            start_new_session=True,
        )
    clip = make_slow_clip(tmp_path / "slow.mp4", frames=10).read_bytes()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:

            def answers() -> bool:
                try:
                    http.get("/health")
                except httpx.HTTPError:
                    return False
                return True

            _wait(answers, f"serve never answered:\n{log.read_text()}")
            health = http.get("/health")
            upload = http.post("/upload-video", files={"file": ("s.mp4", clip, "video/mp4")})
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(60)
    assert health.status_code == 503
    assert health.json()["pipeline"]["problem"] == "no video worker is running; try again later"
    assert upload.status_code == 503
    assert upload.json()["detail"] == (
        "videos cannot be processed now: no video worker is running; try again later"
    )
    assert not list((tmp_path / "var" / "incoming").glob("*"))
