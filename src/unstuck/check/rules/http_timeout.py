"""USK203 http-timeout: outbound HTTP with no timeout.

Incident: ``requests`` and ``urllib`` wait forever by default. One upstream that accepted
connections but never answered pinned every thread of the 40-token pool (``def`` routes)
or every coroutine (async clients with ``timeout=None``), and the service stopped
answering while its CPU was idle.

Fix: pass ``timeout=`` on every call (or configure it once on the client); the service's
``/safe`` route shows the 504 pattern with ``asyncio.wait_for``.
"""

from unstuck.check.rule import Rule, Timeouts, functions, methods

_VERBS = "get post put patch delete head options request"

RULE = Rule(
    code="USK203",
    name="http-timeout",
    catches="outbound HTTP with no timeout (requests, urlopen, urllib3, "
    "`http.client`; `timeout=None` on httpx/aiohttp), anywhere, `def` "
    "routes included: a hung upstream eats the 40 thread-pool tokens "
    "(warning)",
    example="""\
import requests
from fastapi import FastAPI

app = FastAPI()

@app.get("/rates")
def rates():
    return requests.get("https://rates.example.com/latest").json()
""",
    doc=__doc__ or "",
    summary="has no timeout: a silent upstream hangs it forever",
    fix="pass `timeout=` (seconds)",
    advice="always set a timeout on outbound calls",
    severity="warning",
    timeouts=Timeouts(
        required=functions("requests", _VERBS)
        | frozenset(
            {
                "urllib.request.urlopen",
                "urllib3.request",
                "urllib3.PoolManager",
                "http.client.HTTPConnection",
                "http.client.HTTPSConnection",
            }
        ),
        required_methods=methods("requests.Session", _VERBS),
        not_none=functions("httpx", _VERBS + " stream Client AsyncClient")
        | frozenset({"aiohttp.ClientSession"}),
        positional=(("urllib.request.urlopen", 2), ("http.client.HTTPConnection", 2)),
    ),
)
