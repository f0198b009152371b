"""Bounded waits on PostgreSQL: every wait of both drivers ends, whatever the network does.

Without them a database that went silent (a link down, a firewall dropping
packets, no RST) holds each request for as long as TCP retransmits, minutes.
The bounds, all from settings:

* connecting: ``UNSTUCK_DB_CONNECT_TIMEOUT_S`` (asyncpg ``timeout``, libpq
  ``connect_timeout``);
* a statement: ``UNSTUCK_DB_STATEMENT_TIMEOUT_S``, enforced by the server
  (``statement_timeout``) and, a little later, by asyncpg itself
  (``command_timeout``) in case the server's answer never arrives;
* a silent peer: TCP keepalives find an idle connection dead after
  ``idle + interval * count`` seconds, and ``TCP_USER_TIMEOUT`` drops a
  connection whose sent data stays unacknowledged for
  ``UNSTUCK_DB_TCP_USER_TIMEOUT_S``. libpq takes both as parameters; asyncpg
  has none, so they are set on its socket when it connects.

An exhausted bound surfaces as a driver error, which the error handlers turn
into a 503 (:mod:`unstuck.service.errors`).
"""

from __future__ import annotations

import socket
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from unstuck.service.settings import Settings

# asyncpg gives the server this long past its own statement_timeout to say so.
_CLIENT_MARGIN_S = 5.0


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def asyncpg_connect_args(settings: Settings) -> dict[str, Any]:
    return {
        "timeout": settings.db_connect_timeout_s,
        "command_timeout": settings.db_statement_timeout_s + _CLIENT_MARGIN_S,
        "server_settings": {"statement_timeout": str(_ms(settings.db_statement_timeout_s))},
    }


def psycopg_connect_args(settings: Settings) -> dict[str, Any]:
    return {
        # libpq takes whole seconds, and at least 2.
        "connect_timeout": max(2, round(settings.db_connect_timeout_s)),
        "keepalives": 1,
        "keepalives_idle": settings.db_keepalive_idle_s,
        "keepalives_interval": settings.db_keepalive_interval_s,
        "keepalives_count": settings.db_keepalive_count,
        "tcp_user_timeout": _ms(settings.db_tcp_user_timeout_s),
        "options": f"-c statement_timeout={_ms(settings.db_statement_timeout_s)}",
    }


def socket_options(settings: Settings) -> list[tuple[int, int, int]]:
    """Keepalives and ``TCP_USER_TIMEOUT`` as ``setsockopt`` arguments (Linux names)."""
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    for name, value in (
        ("TCP_KEEPIDLE", settings.db_keepalive_idle_s),
        ("TCP_KEEPINTVL", settings.db_keepalive_interval_s),
        ("TCP_KEEPCNT", settings.db_keepalive_count),
        ("TCP_USER_TIMEOUT", _ms(settings.db_tcp_user_timeout_s)),
    ):
        if hasattr(socket, name):
            options.append((socket.IPPROTO_TCP, getattr(socket, name), value))
    return options


def bound_asyncpg_sockets(engine: AsyncEngine, settings: Settings) -> None:
    """Set the keepalive options on the socket of each new asyncpg connection."""
    options = socket_options(settings)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        transport = getattr(dbapi_connection.driver_connection, "_transport", None)
        sock = transport.get_extra_info("socket") if transport is not None else None
        # A Unix socket has no TCP options, and needs none: it cannot go silent.
        if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
            return
        for level, option, value in options:
            sock.setsockopt(level, option, value)

    event.listen(engine.sync_engine, "connect", on_connect)
