"""USK104 sync-db-driver: DB-API drivers (sqlite3, psycopg2, psycopg 3 sync, pymysql).

Incident: ``sqlite3.connect(...).execute(...)`` in an ``async def`` dependency: under load
every request queued behind the disk, and p99 went from milliseconds to seconds.

Fix: an async driver (aiosqlite, asyncpg, psycopg ``AsyncConnection``, aiomysql) with
``await``; or make the route and dependency ``def``.
"""

from unstuck.check.rule import Rule, functions, methods

_CURSOR = "dbapi.Cursor"
_CONNECTION_IO = "execute executemany executescript commit rollback"
_CURSOR_IO = "execute executemany executescript fetchone fetchmany fetchall callproc scroll"

RULE = Rule(
    code="USK104",
    name="sync-db-driver",
    catches="sqlite3, psycopg2, psycopg 3 sync, pymysql, MySQLdb: connect, execute, fetch, commit",
    example="""\
import sqlite3

from fastapi import FastAPI

app = FastAPI()

@app.get("/items")
async def items():
    connection = sqlite3.connect("app.db")
    return connection.execute("select * from items").fetchall()
""",
    doc=__doc__ or "",
    summary="is a synchronous database call on the event loop",
    fix="use an async driver (aiosqlite, asyncpg, psycopg AsyncConnection) with await, "
    "or make the route `def`",
    advice="await an async driver (asyncpg, aiosqlite, psycopg async), or make it def",
    functions=functions("sqlite3", "connect")
    | functions("psycopg2", "connect")
    | functions("psycopg", "connect")
    | functions("pymysql", "connect")
    | functions("MySQLdb", "connect"),
    methods=methods("sqlite3.Connection", _CONNECTION_IO)
    | methods("psycopg2.extensions.connection", _CONNECTION_IO)
    | methods("psycopg.Connection", _CONNECTION_IO)
    | methods("pymysql.connections.Connection", _CONNECTION_IO)
    | methods(_CURSOR, _CURSOR_IO),
    returns={
        "sqlite3.connect": "sqlite3.Connection",
        "psycopg2.connect": "psycopg2.extensions.connection",
        "psycopg.connect": "psycopg.Connection",
        "psycopg.Connection.connect": "psycopg.Connection",
        "pymysql.connect": "pymysql.connections.Connection",
        "MySQLdb.connect": "pymysql.connections.Connection",
        "sqlite3.Connection.cursor": _CURSOR,
        "sqlite3.Connection.execute": _CURSOR,
        "psycopg2.extensions.connection.cursor": _CURSOR,
        "psycopg.Connection.cursor": _CURSOR,
        "psycopg.Connection.execute": _CURSOR,
        "pymysql.connections.Connection.cursor": _CURSOR,
    },
    aliases={
        "sqlite3.dbapi2": "sqlite3",
        "pymysql.connections.connect": "pymysql.connect",
        "pymysql.Connect": "pymysql.connect",
        "pymysql.Connection": "pymysql.connections.Connection",
        "psycopg.connection.Connection": "psycopg.Connection",
        "psycopg2.extensions.cursor": _CURSOR,
        "sqlite3.Cursor": _CURSOR,
        "psycopg.Cursor": _CURSOR,
    },
    classes=frozenset({"psycopg2.extensions.connection"}),
)
