"""Bounded waits on PostgreSQL: a database that goes silent is a 503 in bounded time.

The database runs behind a veth pair in a network namespace of its own; the
test takes the link down (no RST, packets vanish, as in a real outage) while
the service holds open connections on both engines, then brings it back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.own_servers import Link, OwnPostgres, isolated_link, own_postgres
from tests.service.conftest import ServeApp
from unstuck.service.migrations import upgrade
from unstuck.service.settings import Settings

pytestmark = pytest.mark.anyio

# Short bounds, so that the test is fast; the defaults are in the settings.
BOUNDS = {
    "db_connect_timeout_s": 1.0,
    "db_statement_timeout_s": 2.0,
    "db_tcp_user_timeout_s": 1.5,
    "db_keepalive_idle_s": 1,
    "db_keepalive_interval_s": 1,
    "db_keepalive_count": 2,
    "pool_timeout": 2.0,
}
# What one request may take at worst: a dead connection found (TCP user timeout),
# a new one tried (connect timeout), the pool waited for, with room for a busy machine.
BOUND_S = 1.5 + 1.0 + 2.0 + 3.0


@pytest.fixture(scope="module")
def isolated_postgres() -> Iterator[tuple[Link, OwnPostgres]]:
    with isolated_link() as link:
        wrap = ["ip", "netns", "exec", link.namespace]
        with own_postgres(link.server_address, wrap=wrap) as server:
            yield link, server


async def _timed(client: httpx.AsyncClient, method: str, path: str) -> tuple[float, httpx.Response]:
    started = time.monotonic()
    body = {"name": "Ada", "email": f"ada{time.monotonic_ns()}@example.com"}
    response = await client.request(method, path, json=body if method == "POST" else None)
    return time.monotonic() - started, response


REQUESTS = [
    ("GET", "/users/1"),
    ("GET", "/sync/users/1"),
    ("GET", "/users"),
    ("GET", "/sync/users"),
    ("POST", "/users"),
]


async def test_a_silent_database_is_a_503_within_the_bounds(
    isolated_postgres: tuple[Link, OwnPostgres], tmp_path: Path, serve: ServeApp
) -> None:
    link, server = isolated_postgres
    settings = Settings(data_dir=tmp_path, database_url=server.url(), **BOUNDS)  # type: ignore[arg-type]
    await asyncio.to_thread(upgrade, settings)
    async with serve(settings) as client:
        # Connections open on both engines, then the link goes silent under them.
        for method, path in REQUESTS:
            assert (await _timed(client, method, path))[1].status_code in (200, 201, 404)
        link.cut()
        try:
            during = await asyncio.gather(
                *(_timed(client, method, path) for method, path in REQUESTS * 2)
            )
            # A new connection during the outage is bounded too.
            during.append(await _timed(client, "GET", "/users/2"))
        finally:
            link.restore()
        for elapsed, response in during:
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"]
            assert elapsed < BOUND_S, (elapsed, response.request.url)
        # Back: the pool replaces its dead connections, requests succeed again.
        deadline = time.monotonic() + 15
        while (await _timed(client, "GET", "/users/1"))[1].status_code == 503:
            assert time.monotonic() < deadline, "the service did not recover"
            await asyncio.sleep(0.2)
        assert (await _timed(client, "GET", "/sync/users/1"))[1].status_code in (200, 404)
