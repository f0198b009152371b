"""Limits before work: body size, request heads, slow clients, connection count.

The body limit is checked in-process; what the server's HTTP protocol
enforces (head deadline, size and line count, the connection cap) is checked
on a real ``unstuck serve`` over raw sockets, since no HTTP client would send
such requests.
"""

from __future__ import annotations

import json
import socket
import statistics
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import suppress
from pathlib import Path

import httpx
import pytest

from tests.service.conftest import ServeApp
from tests.service.test_serve import Served, serving
from unstuck.service.settings import Settings

SMALL_LIMIT = 4096


@pytest.mark.anyio
async def test_a_body_past_the_limit_is_a_413_before_it_is_read(
    sqlite_settings: Settings, serve: ServeApp
) -> None:
    limited = sqlite_settings.model_copy(update={"max_body_bytes": SMALL_LIMIT})
    read: list[int] = []

    async def body(chunks: int) -> AsyncIterator[bytes]:
        # Chunked, no Content-Length: the limit counts what arrives.
        yield b'{"name": "Ada", "email": "'
        for index in range(chunks):
            read.append(index)
            yield b"a" * 1024

    async with serve(limited) as client:
        declared = await client.post(
            "/users", content=b"x" * (SMALL_LIMIT + 1), headers={"content-type": "application/json"}
        )
        assert declared.status_code == 413
        assert "UNSTUCK_MAX_BODY_BYTES" in declared.json()["detail"]
        assert declared.headers["connection"] == "close"

        streamed = await client.post(
            "/users", content=body(1000), headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413
        # Refused as the limit was passed, not after the whole body.
        assert len(read) < 10

        small = await client.post("/users", json={"name": "Ada", "email": "ada@example.com"})
        assert small.status_code == 201


def _raw(url: str, payload: bytes, timeout_s: float = 10) -> tuple[float, bytes]:
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=timeout_s) as sock:
        # The server may close before it has read everything: that is the point.
        with suppress(OSError):
            sock.sendall(payload)
        answer = sock.recv(4096)
    return time.monotonic() - started, answer


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir: Path = tmp_path_factory.mktemp("guarded")
    with serving(
        data_dir,
        "--no-worker",
        UNSTUCK_HEAD_TIMEOUT_S="1",
        UNSTUCK_MAX_CONNECTIONS="64",
        UNSTUCK_MAX_HEADERS="50",
        UNSTUCK_MAX_HEAD_BYTES="8192",
    ) as served:
        yield served


def test_a_slow_request_head_is_closed_at_its_deadline(guarded: Served) -> None:
    elapsed, answer = _raw(guarded.url, b"GET /health HTTP/1.1\r\nHost: x\r\n")
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert 0.9 < elapsed < 5


@pytest.mark.parametrize(
    "head",
    [
        b"X-Big: " + b"a" * 100_000 + b"\r\n",
        b"".join(b"X-%d: y\r\n" % index for index in range(51)),
    ],
    ids=["size", "count"],
)
def test_a_large_request_head_is_a_431(guarded: Served, head: bytes) -> None:
    _, answer = _raw(guarded.url, b"GET /health HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431 ")


def test_idle_connections_past_the_cap_do_not_lock_out_health(guarded: Served) -> None:
    host, port = guarded.url.removeprefix("http://").split(":")
    idle = [socket.create_connection((host, int(port))) for _ in range(200)]
    try:
        for _ in range(5):
            elapsed, answer = _raw(guarded.url, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            # No video worker runs here: /health answers, and says so with a 503.
            assert answer.startswith(b"HTTP/1.1 503 "), answer
            assert elapsed < 2
    finally:
        for sock in idle:
            sock.close()


def test_a_64_mb_json_body_is_a_413_while_health_stays_fast(guarded: Served) -> None:
    latencies: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        with httpx.Client(base_url=guarded.url, timeout=10) as client:
            while not stop.is_set():
                started = time.monotonic()
                # No video worker runs here: /health answers with a 503.
                assert client.get("/health").status_code == 503
                latencies.append(time.monotonic() - started)
                time.sleep(0.02)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        time.sleep(0.2)
        body = json.dumps({"name": "Ada", "email": "a" * (64 * 1024 * 1024) + "@example.com"})
        started = time.monotonic()
        answer = httpx.post(
            f"{guarded.url}/users",
            content=body.encode(),
            headers={"content-type": "application/json"},
            timeout=30,
        )
        refused_after = time.monotonic() - started
        time.sleep(0.2)
    finally:
        stop.set()
        prober.join()
    assert answer.status_code == 413
    assert refused_after < 10
    # Loose bounds: the machine may be busy; a body parsed on the loop took seconds.
    assert statistics.median(latencies) < 0.25
    assert max(latencies) < 1.0


@pytest.mark.anyio
async def test_the_openapi_lists_the_413_and_the_503_of_a_replaced_pool(
    sqlite_settings: Settings, serve: ServeApp
) -> None:
    async with serve(sqlite_settings) as client:
        paths = (await client.get("/openapi.json")).json()["paths"]
    assert "413" in paths["/users"]["post"]["responses"]
    assert "413" in paths["/ml-inference"]["post"]["responses"]
    assert "503" in paths["/ml-inference"]["post"]["responses"]
    assert "503" in paths["/proxy"]["get"]["responses"]
