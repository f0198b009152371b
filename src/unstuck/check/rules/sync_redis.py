"""USK106 sync-redis: the synchronous redis client on the event loop.

Incident: a cache read with ``redis.Redis().get(...)`` in an ``async def`` route: fast on
a laptop, but a Redis failover made every call wait for the socket timeout and the
whole API stopped answering.

Fix: ``redis.asyncio`` (``await r.get(...)``, close with ``aclose()``); ``aioredis`` is dead.
"""

from unstuck.check.rule import ANY_METHOD, Rule

_REDIS = "redis.Redis"
_NO_IO = "pipeline pubsub lock register_script get_encoder get_connection_kwargs"

RULE = Rule(
    code="USK106",
    name="sync-redis",
    catches="commands of `redis.Redis` (not `redis.asyncio`)",
    example="""\
import redis
from fastapi import FastAPI

app = FastAPI()
cache = redis.Redis()

@app.get("/counter")
async def counter():
    return cache.incr("hits")
""",
    doc=__doc__ or "",
    summary="is a synchronous Redis command on the event loop",
    fix="use `redis.asyncio` and `await` the command",
    advice="await redis.asyncio, or make it def",
    methods=frozenset(
        {(_REDIS, ANY_METHOD), ("redis.client.Pipeline", "execute"), ("redis.lock.Lock", "acquire")}
    ),
    method_exceptions=frozenset((_REDIS, name) for name in _NO_IO.split()),
    returns={
        "redis.from_url": _REDIS,
        "redis.Redis.from_url": _REDIS,
        f"{_REDIS}.pipeline": "redis.client.Pipeline",
        f"{_REDIS}.lock": "redis.lock.Lock",
    },
    aliases={
        "redis.StrictRedis": _REDIS,
        "redis.client.Redis": _REDIS,
        "redis.client.StrictRedis": _REDIS,
        "redis.utils.from_url": "redis.from_url",
        "redis.asyncio.client.Redis": "redis.asyncio.Redis",
    },
)
