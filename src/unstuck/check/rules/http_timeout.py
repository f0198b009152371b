"""USK203 http-timeout: outbound HTTP with no timeout.

Incident: ``requests`` and ``urllib`` wait forever by default. One upstream that accepted
connections but never answered pinned every thread of the 40-token pool (``def`` routes)
or every coroutine (async clients with ``timeout=None``), and the service stopped
answering while its CPU was idle.

Fix: pass ``timeout=`` on every call (or configure it once on the client); the service's
``/safe`` route shows the 504 pattern with ``asyncio.wait_for``.
"""

from unstuck.check.model import Call, Constant
from unstuck.check.rule import Rule, functions, methods

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
)

# Calls that wait forever unless they are given a timeout.
TIMEOUT_REQUIRED = functions("requests", _VERBS) | frozenset(
    {
        "urllib.request.urlopen",
        "urllib3.request",
        "urllib3.PoolManager",
        "http.client.HTTPConnection",
    }
)
TIMEOUT_REQUIRED_METHODS = methods("requests.Session", _VERBS)
# Clients with a default timeout that an explicit ``timeout=None`` switches off.
TIMEOUT_NOT_NONE = functions("httpx", _VERBS + " stream Client AsyncClient") | frozenset(
    {"aiohttp.ClientSession"}
)
_POSITIONAL_TIMEOUT = {"urllib.request.urlopen": 2, "http.client.HTTPConnection": 2}


def lacks_timeout(callable_name: str, call: Call) -> bool:
    """Whether ``call`` of ``callable_name`` has no timeout."""
    names = {keyword.name for keyword in call.keywords}
    if None in names:  # **options may carry it
        return False
    if callable_name in TIMEOUT_NOT_NONE:
        return call.keyword("timeout") == Constant(None)
    position = _POSITIONAL_TIMEOUT.get(callable_name)
    if position is not None and len(call.args) > position:
        return False
    return "timeout" not in names
