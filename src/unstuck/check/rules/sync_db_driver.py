"""USK104 sync-db-driver: synchronous database drivers (sqlite3, psycopg2, pymysql, ...).

Incident: ``sqlite3.connect(...).execute(...)`` in an ``async def`` dependency: under load
every request queued behind the disk, and p99 went from milliseconds to seconds.

Fix: an async driver (aiosqlite, asyncpg, psycopg ``AsyncConnection``, aiomysql) with
``await``; or make the route and dependency ``def``.
"""

from unstuck.check.rule import Client, Rule, functions, methods

_CURSOR = "dbapi.Cursor"
_CONNECTION_IO = "execute executemany executescript commit rollback"
_CURSOR_IO = "execute executemany executescript fetchone fetchmany fetchall callproc scroll"
# psycopg's and PyMySQL's cursors receive every row of the result in ``execute``: their
# ``fetch*`` and ``scroll`` read memory (sqlite3's steps the query on the file as it goes)
_BUFFERED = "dbapi.BufferedCursor"
_BUFFERED_IO = "execute executemany callproc"
# Other DB-API drivers: a connection hands out cursors without I/O; everything else,
# and every method of the cursors, talks to the server.
_CURSORS = {"cursor": _CURSOR, "execute": _CURSOR}
_DRIVERS = {
    "pyodbc.connect": "pyodbc.Connection",
    "oracledb.connect": "oracledb.Connection",
    "cx_Oracle.connect": "oracledb.Connection",
    "pymssql.connect": "pymssql.Connection",
    "mysql.connector.connect": "mysql.connector.MySQLConnection",
    "duckdb.connect": "duckdb.DuckDBPyConnection",
}
_CONNECTIONS = (
    # psycopg's sync pool: a connection is waited for (and made) where it is asked for
    Client(
        "psycopg_pool.ConnectionPool",
        local="get_stats pop_stats",
        aliases="psycopg_pool.pool.ConnectionPool",
        returns={"connection": "psycopg.Connection", "getconn": "psycopg.Connection"},
    ),
    Client("pyodbc.Connection", local="cursor", returns=_CURSORS),
    Client("oracledb.Connection", local="cursor", aliases="cx_Oracle.Connection", returns=_CURSORS),
    Client(
        "pymssql.Connection",
        local="cursor",
        aliases="pymssql._pymssql.Connection",
        returns=_CURSORS,
    ),
    Client(
        "mysql.connector.MySQLConnection",
        local="cursor",
        aliases="mysql.connector.connection.MySQLConnection "
        "mysql.connector.connection_cext.CMySQLConnection",
        returns=_CURSORS,
    ),
    # in-process, but every query reads the database file and runs on this thread
    Client(
        "duckdb.DuckDBPyConnection", local="cursor", returns={"cursor": "duckdb.DuckDBPyConnection"}
    ),
    Client("clickhouse_driver.Client", aliases="clickhouse_driver.client.Client"),
)

RULE = Rule(
    code="USK104",
    name="sync-db-driver",
    catches="sqlite3, psycopg2, psycopg 3 sync (and its `ConnectionPool`), pymysql, MySQLdb, "
    "pyodbc, oracledb, pymssql, mysql-connector, DuckDB, clickhouse-driver: connect, execute, "
    "fetch (not from psycopg's and PyMySQL's cursors, which hold every row once executed), "
    "commit",
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
    # a rollback in an ``except`` follows a failed query or commit, which is reported
    # (and a failed commit has already rolled back)
    quiet_in_except=frozenset({"rollback"}),
    summary="is a synchronous database call on the event loop",
    fix="use an async driver (aiosqlite, asyncpg, psycopg AsyncConnection) with await, "
    "or make the route `def`",
    advice="await an async driver (asyncpg, aiosqlite, psycopg async), or make it def",
    functions=functions("sqlite3", "connect")
    | functions("psycopg2", "connect")
    | functions("psycopg", "connect")
    | functions("pymysql", "connect")
    | functions("MySQLdb", "connect")
    | frozenset(_DRIVERS),
    methods=methods("sqlite3.Connection", _CONNECTION_IO)
    | methods("psycopg2.extensions.connection", _CONNECTION_IO)
    | methods("psycopg.Connection", _CONNECTION_IO)
    | methods("pymysql.connections.Connection", _CONNECTION_IO)
    | methods(_CURSOR, _CURSOR_IO)
    | methods(_BUFFERED, _BUFFERED_IO),
    returns={
        "sqlite3.connect": "sqlite3.Connection",
        "psycopg2.connect": "psycopg2.extensions.connection",
        "psycopg.connect": "psycopg.Connection",
        "psycopg.Connection.connect": "psycopg.Connection",
        "pymysql.connect": "pymysql.connections.Connection",
        "MySQLdb.connect": "pymysql.connections.Connection",
        "sqlite3.Connection.cursor": _CURSOR,
        "sqlite3.Connection.execute": _CURSOR,
        "psycopg2.extensions.connection.cursor": _BUFFERED,
        "psycopg.Connection.cursor": _BUFFERED,
        "psycopg.Connection.execute": _BUFFERED,
        "pymysql.connections.Connection.cursor": _BUFFERED,
        # ``cursor.execute(...)`` returns the cursor (psycopg 3), done with its I/O
        f"{_BUFFERED}.execute": _BUFFERED,
        **_DRIVERS,
    },
    clients=_CONNECTIONS,
    aliases={
        "sqlite3.dbapi2": "sqlite3",
        "pymysql.connections.connect": "pymysql.connect",
        "pymysql.Connect": "pymysql.connect",
        "pymysql.Connection": "pymysql.connections.Connection",
        "psycopg.connection.Connection": "psycopg.Connection",
        "psycopg2.extensions.cursor": _BUFFERED,
        "sqlite3.Cursor": _CURSOR,
        "psycopg.Cursor": _BUFFERED,
        "pymysql.cursors.Cursor": _BUFFERED,
        "pymysql.cursors.DictCursor": _BUFFERED,
    },
    classes=frozenset({"psycopg2.extensions.connection"}),
)
