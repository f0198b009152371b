"""USK115 sync-sdk: synchronous SDK clients of network services on the event loop.

Incident: an ``async def`` chat route called ``OpenAI().chat.completions.create(...)``, the
sync client: each completion held the loop for seconds, so the worker served one user
at a time while its health checks timed out. Same with ``pymongo``, ``Elasticsearch``
and ``Anthropic`` sync clients.

Fix: the async client of the same SDK (``AsyncOpenAI``, ``AsyncAnthropic``, motor /
``AsyncMongoClient``, ``AsyncElasticsearch``) with ``await``; or make the route ``def``.
"""

from unstuck.check.rule import ANY_METHOD, Rule

_CLIENTS = (
    "openai.OpenAI",
    "openai.AzureOpenAI",
    "anthropic.Anthropic",
    "pymongo.MongoClient",
    "elasticsearch.Elasticsearch",
)
# Calls that stay in the process: option copies, handles on sub-resources, and the
# methods of plain values (``client.api_key.startswith(...)``).
_LOCAL = (
    "with_options copy get_database get_collection get_default_database start_session "
    "startswith endswith lower upper strip split format encode decode get items keys values"
)

RULE = Rule(
    code="USK115",
    name="sync-sdk",
    summary="is a synchronous SDK request on the event loop",
    fix="use the SDK's async client (AsyncOpenAI, AsyncAnthropic, AsyncMongoClient, "
    "AsyncElasticsearch) with await, or make the route `def`",
    advice="await the SDK's async client, or make it def",
    methods=frozenset((client, ANY_METHOD) for client in _CLIENTS),
    method_exceptions=frozenset((client, name) for client in _CLIENTS for name in _LOCAL.split()),
    attribute_types={(client, ANY_METHOD): client for client in _CLIENTS},
    aliases={
        "openai.Client": "openai.OpenAI",
        "openai._client.OpenAI": "openai.OpenAI",
        "anthropic.Client": "anthropic.Anthropic",
        "anthropic._client.Anthropic": "anthropic.Anthropic",
        "pymongo.mongo_client.MongoClient": "pymongo.MongoClient",
    },
)
