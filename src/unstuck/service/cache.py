"""Read-through cache backends: Redis (``redis.asyncio``) or an in-process TTL map.

Both store bytes under a key with a time to live. The in-process one is per
worker process, bounded in size, and evicts the entry closest to expiry when
full; it exists so that the embedded default needs no Redis.
"""

from __future__ import annotations

import time
from typing import Protocol

import redis.asyncio as redis


class CacheUnavailable(Exception):
    """The cache backend failed; callers read through to the source instead."""


class Cache(Protocol):
    kind: str

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_s: float) -> None: ...

    async def aclose(self) -> None: ...


class MemoryCache:
    kind = "memory"

    def __init__(self, max_entries: int) -> None:
        self._max_entries = max_entries
        self._entries: dict[str, tuple[float, bytes]] = {}

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if expires_at <= time.monotonic():
            del self._entries[key]
            return None
        return value

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        now = time.monotonic()
        if key not in self._entries and len(self._entries) >= self._max_entries:
            self._evict(now)
        self._entries[key] = (now + ttl_s, value)

    def _evict(self, now: float) -> None:
        expired = [key for key, (expires_at, _) in self._entries.items() if expires_at <= now]
        for key in expired:
            del self._entries[key]
        if len(self._entries) >= self._max_entries:
            soonest = min(self._entries, key=lambda key: self._entries[key][0])
            del self._entries[soonest]

    async def aclose(self) -> None:
        self._entries.clear()


class RedisCache:
    kind = "redis"

    def __init__(self, url: str, timeout_s: float = 2.0) -> None:
        # Timeouts bound how long a dead Redis can hold a request before it reads through.
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            socket_keepalive=True,
            health_check_interval=30,
        )

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._client.get(key)
        except redis.RedisError as exc:
            raise CacheUnavailable(str(exc)) from exc
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        try:
            await self._client.set(key, value, px=max(1, round(ttl_s * 1000)))
        except redis.RedisError as exc:
            raise CacheUnavailable(str(exc)) from exc

    async def aclose(self) -> None:
        await self._client.aclose()
