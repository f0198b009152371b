"""The read-through cache: in-process and on real Redis, hit/miss/bypass, expiry."""

from __future__ import annotations

import uuid

import anyio
import pytest
import redis.asyncio as redis

from unstuck.service.cache import MemoryCache
from unstuck.service.settings import Settings

from .conftest import ServeApp

pytestmark = pytest.mark.anyio


async def _read_through(settings: Settings, serve: ServeApp) -> None:
    async with serve(settings) as client:
        user = (await client.post("/users", json={"name": "Ada", "email": "ada@ex.org"})).json()
        first = await client.get(f"/cached/users/{user['id']}")
        second = await client.get(f"/cached/users/{user['id']}")
        assert (first.status_code, first.headers["x-cache"]) == (200, "miss")
        assert (second.status_code, second.headers["x-cache"]) == (200, "hit")
        assert first.json() == second.json() == user

        await anyio.sleep(settings.cache_ttl_s * 3)
        expired = await client.get(f"/cached/users/{user['id']}")
        assert expired.headers["x-cache"] == "miss"

        missing = await client.get("/cached/users/999")
        assert missing.status_code == 404
        # Unknown ids are not cached: a user created later is found.
        assert (await client.get("/cached/users/999")).status_code == 404


async def test_in_process_cache(sqlite_settings: Settings, serve: ServeApp) -> None:
    await _read_through(sqlite_settings.model_copy(update={"cache_ttl_s": 0.2}), serve)


async def test_redis_cache(settings: Settings, serve: ServeApp, redis_url: str) -> None:
    prefix = f"unstuck-test:{uuid.uuid4().hex}:"
    with_redis = settings.model_copy(
        update={
            "redis_url": redis_url,
            "cache_prefix": prefix,
            "cache_ttl_s": 0.3,
            "watch_token": "t0ken",
        }
    )
    await _read_through(with_redis, serve)
    client = redis.Redis.from_url(redis_url)
    try:
        # The entry really is in Redis, under our prefix, with the TTL of the settings (a
        # longer one here: the 0.3 s above can run out on a busy machine before it is read).
        kept = with_redis.model_copy(update={"cache_ttl_s": 30.0})
        await client.delete(f"{prefix}user:1")  # made anew by this read, with that TTL
        async with serve(kept) as app_client:
            response = await app_client.get("/cached/users/1")
            assert response.headers["x-cache"] == "miss"
            ttl_ms = await client.pttl(f"{prefix}user:1")
            assert 0 < ttl_ms <= 30_000
            token = {"Authorization": "Bearer t0ken"}
            health = (await app_client.get("/health", headers=token)).json()
            assert health["cache"] == {"kind": "redis", "url": redis_url}
    finally:
        keys = [key async for key in client.scan_iter(f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_redis_down_reads_through(
    sqlite_settings: Settings, serve: ServeApp, unused_port: int
) -> None:
    down = sqlite_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{unused_port}/0"})
    async with serve(down) as client:
        user = (await client.post("/users", json={"name": "Ada", "email": "ada@ex.org"})).json()
        response = await client.get(f"/cached/users/{user['id']}")
        assert response.status_code == 200
        assert response.headers["x-cache"] == "bypass"
        assert response.json() == user


async def test_memory_cache_is_bounded() -> None:
    cache = MemoryCache(max_entries=3)
    for key in "abcd":
        await cache.set(key, key.encode(), ttl_s=10 + ord(key))
    # Full: the entry closest to expiry ("a") made room for "d".
    assert [await cache.get(key) for key in "abcd"] == [None, b"b", b"c", b"d"]
    await cache.set("short", b"x", ttl_s=0.01)
    await anyio.sleep(0.05)
    assert await cache.get("short") is None
    await cache.aclose()
    assert await cache.get("b") is None
