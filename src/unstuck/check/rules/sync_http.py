"""USK102 sync-http: synchronous HTTP clients on the event loop.

Incident: the article's ``/bad`` route: ``requests.get`` inside ``async def``. Each call
holds the loop for the whole round trip, so one slow upstream stalls every request the
worker serves, including ones that never touch that upstream.

Fix: one shared ``httpx.AsyncClient`` (created in lifespan) and ``await client.get(...)``;
or make the route ``def`` so that it runs in the thread pool.
"""

from unstuck.check.rule import ANY_METHOD, Rule, functions, methods

_VERBS = "get post put patch delete head options request"

RULE = Rule(
    code="USK102",
    name="sync-http",
    summary="is a synchronous HTTP request on the event loop",
    fix="await an async client (`httpx.AsyncClient`), or make the route `def`",
    advice="await an async HTTP client (httpx.AsyncClient), or make it def (thread pool)",
    functions=functions("requests", _VERBS)
    | functions("httpx", _VERBS + " stream")
    | functions("urllib.request", "urlopen urlretrieve")
    | functions("urllib3", "request"),
    methods=methods("requests.Session", _VERBS + " send")
    | methods("httpx.Client", _VERBS + " send stream")
    | methods("urllib3.PoolManager", "request request_encode_url request_encode_body urlopen")
    | methods("urllib.request.OpenerDirector", "open")
    | methods("http.client.HTTPConnection", "request getresponse connect")
    | frozenset({("xmlrpc.client.ServerProxy", ANY_METHOD)}),
    returns={
        "requests.session": "requests.Session",
        "urllib.request.build_opener": "urllib.request.OpenerDirector",
    },
    aliases={
        "requests.sessions.Session": "requests.Session",
        "requests.api": "requests",
        "httpx._client.Client": "httpx.Client",
        "httpx._api": "httpx",
        "urllib3.poolmanager.PoolManager": "urllib3.PoolManager",
        "http.client.HTTPSConnection": "http.client.HTTPConnection",
    },
)
