"""USK103 blocking-socket: plain sockets and DNS lookups on the event loop.

Incident: a "quick" ``socket.gethostbyname`` in a middleware took 5 s whenever the
resolver timed out, and every in-flight request of the worker waited with it.

Fix: asyncio streams (``await asyncio.open_connection(...)``) and
``await loop.getaddrinfo(...)``; or run the code in a thread.
"""

from unstuck.check.rule import Rule, functions, methods

RULE = Rule(
    code="USK103",
    name="blocking-socket",
    catches="`socket` connect/recv/send/accept, DNS lookups, ICMP pings (ping3)",
    example="""\
import socket

from fastapi import FastAPI

app = FastAPI()

@app.get("/ping/{host}")
async def ping(host: str):
    socket.create_connection((host, 80), timeout=2).close()
""",
    doc=__doc__ or "",
    summary="is blocking socket I/O on the event loop",
    fix="use asyncio streams (`await asyncio.open_connection(...)`) or `loop.getaddrinfo`",
    advice="await asyncio streams / loop.getaddrinfo, or run it in a thread",
    functions=functions(
        "socket",
        "create_connection getaddrinfo gethostbyname gethostbyname_ex gethostbyaddr getfqdn",
    )
    # an ICMP echo waited for (up to its timeout, 4 s by default)
    | functions("ping3", "ping verbose_ping"),
    methods=methods(
        "socket.socket", "connect connect_ex accept recv recv_into recvfrom send sendall sendto"
    ),
    classes=frozenset({"socket.socket"}),
    returns={"socket.socket.accept": "socket.socket", "socket.create_connection": "socket.socket"},
)
