"""Web and worker on two hosts (network namespaces), sharing only PostgreSQL, Redis and S3.

Each "host" is a network namespace joined to this one by a veth pair, with a
data dir of its own; the servers (PostgreSQL, Redis, moto's S3 server) listen
in this namespace, reached through each veth's address. A video uploaded to
host A is transcoded on host B and downloaded from A. Then B's link is cut for
longer than a transcode takes, and restored: the job still ends SUCCESS.
Needs root and ``ip``; skipped otherwise (failed under UNSTUCK_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.faults.pipeline import fault_settings, record
from tests.own_servers import OwnPostgres, Redis, S3Server, free_port, require, wait_for_port
from tests.service.video_fixtures import make_slow_clip, queue_settings, worker_env
from unstuck.service.settings import Settings
from unstuck.service.worker import settings_environment

CUT_S = 8.0


@dataclass(frozen=True)
class Host:
    namespace: str
    outside: str  # this namespace's end of the veth
    address: str  # the host's address
    gateway: str  # this namespace's address, as the host sees it


def _ip(*arguments: str) -> None:
    subprocess.run(["ip", *arguments], check=True, capture_output=True, timeout=10)


@contextmanager
def _host(tag: str, subnet: int, offset: int) -> Iterator[Host]:
    suffix = uuid.uuid4().hex[:6]
    namespace, outside, inside = f"usk11{tag}{suffix}", f"u11{tag}o{suffix}", f"u11{tag}i{suffix}"
    gateway, address = f"10.211.{subnet}.{offset + 1}", f"10.211.{subnet}.{offset + 2}"
    _ip("netns", "add", namespace)
    try:
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", namespace)
        _ip("addr", "add", f"{gateway}/30", "dev", outside)
        _ip("link", "set", outside, "up")
        _ip("-n", namespace, "addr", "add", f"{address}/30", "dev", inside)
        _ip("-n", namespace, "link", "set", inside, "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        yield Host(namespace, outside, address, gateway)
    finally:
        subprocess.run(["ip", "link", "del", outside], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)


def _environment(settings: Settings, **extra: str) -> dict[str, str]:
    fields = {f"UNSTUCK_{name.upper()}" for name in Settings.model_fields}
    base = {key: value for key, value in os.environ.items() if key not in fields}
    return {**base, **settings_environment(settings), **extra}


def _host_settings(
    host: Host,
    data_dir: Path,
    postgres: OwnPostgres,
    database: str,
    redis: Redis,
    s3: S3Server,
    bucket: str,
) -> Settings:
    return fault_settings(
        data_dir,
        f"postgresql+asyncpg://postgres@{host.gateway}:{postgres.port}/{database}",
        broker_url=redis.url(host.gateway),
        storage_url=f"s3://{bucket}/videos",
        s3_endpoint_url=s3.endpoint(host.gateway),
        s3_access_key_id="test",
        s3_secret_access_key="test",
        s3_timeout_s=2.0,
    )


def _upload(http: httpx.Client, files: dict[str, tuple[str, bytes, str]]) -> str:
    response = http.post("/upload-video", files=files)
    assert response.status_code == 202, (response.status_code, response.text)
    task_id: str = response.json()["task_id"]
    return task_id


def _wait_json(http: httpx.Client, path: str, done: set[str], within_s: float) -> dict[str, object]:
    deadline = time.monotonic() + within_s
    while True:
        body: dict[str, object] = http.get(path).json()
        if body["state"] in done:
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.1)


def test_upload_on_a_transcode_on_b_download_from_a_and_a_cut_link(
    tmp_path: Path,
    postgres: OwnPostgres,
    database: str,
    redis_server: Redis,
    s3_server: S3Server,
    bucket: str,
) -> None:
    require(os.geteuid() == 0, "network namespaces need root")
    require(shutil.which("ip") is not None, "no ip command (iproute2)")
    subnet = random.randint(1, 250)
    queue = queue_settings()
    clip = make_slow_clip(tmp_path / "slow.mp4", frames=300).read_bytes()
    with (
        ExitStack() as stack,
        _host("a", subnet, 0) as web_host,
        _host("b", subnet, 4) as worker_host,
    ):
        web_settings = _host_settings(
            web_host, tmp_path / "a", postgres, database, redis_server, s3_server, bucket
        )
        worker_settings = _host_settings(
            worker_host, tmp_path / "b", postgres, database, redis_server, s3_server, bucket
        )
        port = free_port()
        web_log = stack.enter_context((tmp_path / "web.log").open("wb"))
        worker_log = stack.enter_context((tmp_path / "worker.log").open("wb"))
        web = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                web_host.namespace,
                sys.executable,
                "-m",
                "unstuck",
                "serve",
                "--no-worker",
                "--host",
                web_host.address,
                "--port",
                str(port),
            ],
            env=_environment(web_settings, **worker_env(queue)),
            stdout=subprocess.DEVNULL,
            stderr=web_log,
        )
        worker = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                worker_host.namespace,
                sys.executable,
                "-m",
                "unstuck.service.worker",
                "--loglevel",
                "WARNING",
            ],
            env=_environment(worker_settings, **worker_env(queue)),
            stdout=subprocess.DEVNULL,
            stderr=worker_log,
            start_new_session=True,
        )
        try:
            wait_for_port(port, 60, host=web_host.address)
            with httpx.Client(base_url=f"http://{web_host.address}:{port}", timeout=30) as http:
                deadline = time.monotonic() + 60
                while http.get("/health").status_code != 200:
                    assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
                    time.sleep(0.2)
                files = {"file": ("slow.mp4", clip, "video/mp4")}

                first = _upload(http, files)
                done = _wait_json(http, f"/task/{first}", {"SUCCESS", "FAILURE"}, 60)
                video = http.get(f"/videos/{first}")
                assert done["state"] == "SUCCESS", done
                assert video.status_code == 200
                result = done["result"]
                assert isinstance(result, dict)
                assert len(video.content) == result["size"]

                second = _upload(http, files)
                _wait_json(http, f"/task/{second}", {"STARTED"}, 60)
                _ip("link", "set", worker_host.outside, "down")
                cut_at = time.monotonic()
                time.sleep(CUT_S)
                _ip("link", "set", worker_host.outside, "up")
                restored_at = time.monotonic()
                after = _wait_json(http, f"/task/{second}", {"SUCCESS", "FAILURE"}, 90)
                recovered_s = time.monotonic() - restored_at
                assert after["state"] == "SUCCESS", after
                assert http.get(f"/videos/{second}").status_code == 200
                record(
                    "worker host link cut",
                    cut_s=round(restored_at - cut_at, 2),
                    outcome=after["state"],
                    attempts=after["attempts"],
                    done_after_restore_s=round(recovered_s, 2),
                )
        finally:
            web.terminate()
            worker.terminate()
            web.wait(30)
            worker.wait(30)
    # Nothing of the videos on either host's disk: they live in the object store.
    for host_dir in (tmp_path / "a", tmp_path / "b"):
        assert not list(host_dir.rglob("*.mp4")), host_dir
        assert not list(host_dir.rglob("*.upload")), host_dir
