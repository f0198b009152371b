"""USK102 sync-http: synchronous HTTP clients on the event loop.

Incident: the article's ``/bad`` route: ``requests.get`` inside ``async def``. Each call
holds the loop for the whole round trip, so one slow upstream stalls every request the
worker serves, including ones that never touch that upstream.

Fix: one shared ``httpx.AsyncClient`` (created in lifespan) and ``await client.get(...)``;
or make the route ``def`` so that it runs in the thread pool.
"""

from unstuck.check.rule import ANY_METHOD, Client, Rule, functions, methods

_VERBS = "get post put patch delete head options request"
_OAUTH = "requests_oauthlib.OAuth2Session"
_URLLIB3 = "urllib3.connectionpool.HTTPConnectionPool"
_URLLIB3_POOLS = (
    Client(
        "urllib3.PoolManager",
        local="connection_from_host connection_from_url connection_from_context "
        "connection_from_pool_key",
        aliases="urllib3.poolmanager.PoolManager urllib3.poolmanager.ProxyManager "
        "urllib3.ProxyManager urllib3.request.RequestMethods "
        "urllib3._request_methods.RequestMethods",
    ),
    Client(
        _URLLIB3,
        local="is_same_host",
        aliases="urllib3.HTTPConnectionPool urllib3.HTTPSConnectionPool "
        "urllib3.connectionpool.HTTPSConnectionPool urllib3.connectionpool.ConnectionPool",
    ),
)

RULE = Rule(
    code="USK102",
    name="sync-http",
    catches="requests (functions and `Session`, OAuth sessions of requests-oauthlib and "
    "Authlib), urllib, urllib3 (functions and "
    "pools, also typed by annotation), sync httpx (`httpx.get`, "
    "`httpx.Client`), `http.client`, xmlrpc, the `load_image` helpers of transformers, "
    "diffusers and sglang",
    example="""\
import requests
from fastapi import FastAPI

app = FastAPI()

@app.get("/bad")
async def bad():
    return requests.get("https://example.com", timeout=5).json()
""",
    doc=__doc__ or "",
    summary="is a synchronous HTTP request on the event loop",
    fix="await an async client (`httpx.AsyncClient`), or make the route `def`",
    advice="await an async HTTP client (httpx.AsyncClient), or make it def (thread pool)",
    functions=functions("requests", _VERBS)
    | functions("httpx", _VERBS + " stream")
    | functions("urllib.request", "urlopen urlretrieve")
    | functions("urllib3", "request")
    # the image helpers of inference libraries fetch a URL they are given with requests
    | functions("transformers.image_utils", "load_image")
    | functions("diffusers.utils", "load_image")
    | functions("sglang.srt.utils", "load_image"),
    methods=methods("requests.Session", _VERBS + " send")
    # OAuth sessions built on requests: the token exchange is a request too
    | methods(
        _OAUTH,
        _VERBS + " send fetch_token refresh_token fetch_request_token "
        "fetch_access_token revoke_token introspect_token",
    )
    | methods("httpx.Client", _VERBS + " send stream close")
    | methods("urllib.request.OpenerDirector", "open")
    | methods("http.client.HTTPConnection", "request getresponse connect")
    | frozenset({("xmlrpc.client.ServerProxy", ANY_METHOD)}),
    returns={
        "requests.session": "requests.Session",
        "urllib.request.build_opener": "urllib.request.OpenerDirector",
        "urllib3.connection_from_url": _URLLIB3,
        "urllib3.proxy_from_url": "urllib3.PoolManager",
    },
    clients=_URLLIB3_POOLS,
    aliases={
        "requests.sessions.Session": "requests.Session",
        "requests_oauthlib.oauth2_session.OAuth2Session": _OAUTH,
        "requests_oauthlib.OAuth1Session": _OAUTH,
        "requests_oauthlib.oauth1_session.OAuth1Session": _OAUTH,
        "authlib.integrations.requests_client.OAuth2Session": _OAUTH,
        "authlib.integrations.requests_client.OAuth1Session": _OAUTH,
        "requests.api": "requests",
        "httpx._client.Client": "httpx.Client",
        "httpx._api": "httpx",
        # httpx2 continues httpx under a new name, with the same API
        "httpx2": "httpx",
        "http.client.HTTPSConnection": "http.client.HTTPConnection",
    },
)
