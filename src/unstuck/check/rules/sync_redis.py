"""USK106 sync-redis: the synchronous redis client on the event loop.

Incident: a cache read with ``redis.Redis().get(...)`` in an ``async def`` route: fast on
a laptop, but a Redis failover made every call wait for the socket timeout and the
whole API stopped answering.

Fix: ``redis.asyncio`` (``await r.get(...)``, close with ``aclose()``); ``aioredis`` is dead.
"""

from unstuck.check.rule import Client, Rule, methods

_REDIS = "redis.Redis"
_NO_IO = "pipeline pubsub lock register_script get_encoder get_connection_kwargs"
_CLUSTER = "redis.cluster.RedisCluster"
# RedisCluster's routing table, kept in the process: no command is sent. Not methods
# of Redis either, so on a value that may be either (``Redis | RedisCluster``, picked by
# configuration) these calls are the cluster's.
_CLUSTER_NO_IO = (
    "get_default_node set_default_node get_node_from_key get_node get_nodes get_primaries "
    "get_replicas get_random_node keyslot get_redis_connection"
)

_CHAT_HISTORIES = (
    "langchain_community.chat_message_histories.RedisChatMessageHistory",
    "langchain_redis.RedisChatMessageHistory",
    "langchain.memory.RedisChatMessageHistory",
)

# what both clients' methods hand out: a pipeline, and a lock whose acquire waits
_HANDED_OUT = {"pipeline": "redis.client.Pipeline", "lock": "redis.lock.Lock"}

RULE = Rule(
    code="USK106",
    name="sync-redis",
    catches="commands of `redis.Redis` and `RedisCluster` (not `redis.asyncio`), and "
    "LangChain's `RedisChatMessageHistory` written or cleared",
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
    methods=methods("redis.client.Pipeline", "execute")
    | methods("redis.lock.Lock", "acquire")
    # LangChain's chat history kept in Redis, on the sync client (its ``aadd_messages``,
    # ``aclear`` run these in a thread)
    | frozenset(
        (history, method)
        for history in _CHAT_HISTORIES
        for method in ("add_message", "add_messages", "add_user_message", "add_ai_message", "clear")
    ),
    clients=(
        Client(
            _REDIS,
            local=f"{_NO_IO} {_CLUSTER_NO_IO}",
            aliases="redis.StrictRedis redis.client.Redis redis.client.StrictRedis",
            returns={"from_url": _REDIS, **_HANDED_OUT},
        ),
        Client(
            _CLUSTER,
            local=f"{_NO_IO} {_CLUSTER_NO_IO}",
            aliases="redis.RedisCluster",
            returns={"from_url": _CLUSTER, **_HANDED_OUT},
        ),
    ),
    returns={"redis.from_url": _REDIS},
    aliases={
        "redis.utils.from_url": "redis.from_url",
        "redis.asyncio.client.Redis": "redis.asyncio.Redis",
        "langchain_community.chat_message_histories.redis.RedisChatMessageHistory": (
            "langchain_community.chat_message_histories.RedisChatMessageHistory"
        ),
    },
)
