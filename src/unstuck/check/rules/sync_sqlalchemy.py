"""USK105 sync-sqlalchemy: a sync SQLAlchemy ``Session``/``Engine``/``Connection``/``Query``.

Incident: the article's ``/also-bad``: ``db: Session = Depends(get_db)`` injected into an
``async def`` route. The dependency runs in the thread pool, but the queries run in the
route, on the loop: every query stalls all requests of the worker, and when the pool is
exhausted the loop waits up to ``pool_timeout`` seconds for a connection.

Fix: ``AsyncSession`` from ``async_sessionmaker`` and ``await session.execute(...)``; or
make the route ``def`` so that it and its sync session run in the thread pool.
"""

from unstuck.check.model import ITERATED
from unstuck.check.rule import ReturnsFor, Rule, methods

_SESSION = "sqlalchemy.orm.Session"
_ENGINE = "sqlalchemy.Engine"
_CONNECTION = "sqlalchemy.Connection"
_QUERY = "sqlalchemy.orm.Query"
_INSPECTOR = "sqlalchemy.Inspector"
_ASYNC_SESSION = "sqlalchemy.ext.asyncio.AsyncSession"
_SQLA_WRAPPER = "sqla_wrapper.SQLAlchemy"
_SQLA_WRAPPER_FACTORY = "sqla_wrapper.SQLAlchemy.Session"
# Every reflection method of an ``Inspector`` runs a query on a connection of its engine.
_INSPECTOR_IO = (
    "get_schema_names get_table_names get_view_names get_materialized_view_names "
    "get_sequence_names get_temp_table_names get_temp_view_names get_table_options "
    "get_columns get_pk_constraint get_foreign_keys get_indexes get_unique_constraints "
    "get_check_constraints get_table_comment get_view_definition get_sorted_table_and_fkc_names "
    "get_multi_columns get_multi_pk_constraint get_multi_foreign_keys get_multi_indexes "
    "get_multi_unique_constraints get_multi_check_constraints get_multi_table_comment "
    "get_multi_table_options has_table has_schema has_index has_sequence reflect_table"
)
_SESSION_IO = (
    "execute scalar scalars get get_one query_all commit flush refresh rollback merge "
    "connection bulk_save_objects bulk_insert_mappings bulk_update_mappings"
)
_QUERY_IO = "all first one one_or_none scalar count get delete update"
_QUERY_BUILDERS = (
    "filter filter_by where join outerjoin order_by group_by having limit offset options "
    "distinct select_from with_entities execution_options populate_existing params"
)

RULE = Rule(
    code="USK105",
    name="sync-sqlalchemy",
    catches="sync `Session`/`scoped_session`/SQLModel `Session` (also sqla-wrapper's), `Engine`, "
    "`Connection`, `Query`, `Inspector` (`inspect(engine)`) I/O",
    example="""\
from fastapi import Depends, FastAPI
from sqlalchemy.orm import Session

from app.db import get_db
from app.models import User

app = FastAPI()

@app.get("/users/{user_id}")
async def user(user_id: int, db: Session = Depends(get_db)):
    return db.get(User, user_id)
""",
    doc=__doc__ or "",
    # a rollback in an ``except`` follows a failed query or commit, which is reported
    # (and a failed commit has already rolled back)
    quiet_in_except=frozenset({"rollback"}),
    # fastapi-sqlalchemy's middleware keeps a sync session per request in ``db.session``
    instances={"fastapi_sqlalchemy.db.session": _SESSION},
    summary="is synchronous SQLAlchemy I/O on the event loop",
    fix="use `AsyncSession` (async_sessionmaker) and `await session.execute(...)`, "
    "or make the route `def`",
    advice="await AsyncSession (async_sessionmaker), or make it def so the sync Session "
    "runs in the thread pool",
    methods=methods(_SESSION, _SESSION_IO)
    | methods("sqlmodel.Session", _SESSION_IO + " exec")
    | methods("sqlalchemy.orm.scoped_session", _SESSION_IO)
    | methods(_ENGINE, "connect begin raw_connection execute")
    | methods(_CONNECTION, "execute exec_driver_sql scalar scalars commit rollback")
    | methods(_QUERY, _QUERY_IO)
    # ``for row in session.query(User):`` runs the statement
    | methods(_QUERY, ITERATED)
    | methods(_INSPECTOR, _INSPECTOR_IO),
    returns={
        "sqlalchemy.create_engine": _ENGINE,
        "sqlalchemy.engine_from_config": _ENGINE,
        f"{_ENGINE}.connect": _CONNECTION,
        f"{_ENGINE}.begin": _CONNECTION,
        f"{_SESSION}.query": _QUERY,
        "sqlmodel.Session.query": _QUERY,
        "sqlalchemy.orm.scoped_session.query": _QUERY,
        "sqlalchemy.orm.scoped_session.__call__": _SESSION,
        # sqla-wrapper's ``db.Session()`` (a sessionmaker it keeps)
        f"{_SQLA_WRAPPER_FACTORY}.__call__": _SESSION,
        **{f"{_QUERY}.{name}": _QUERY for name in _QUERY_BUILDERS.split()},
    },
    model_rows=frozenset(
        {f"{_QUERY}.{name}" for name in ("first", "one", "one_or_none", "get")}
        | {
            f"{session}.{name}"
            for session in (_SESSION, "sqlmodel.Session", _ASYNC_SESSION)
            for name in ("get", "get_one")
        }
    ),
    model_queries=frozenset(
        {
            f"{session}.{name}"
            for session in (_SESSION, "sqlmodel.Session", _ASYNC_SESSION)
            for name in ("query", "get", "get_one")
        }
        | {"sqlalchemy.orm.scoped_session.query"}
    ),
    # ``inspect(Model)``/``inspect(instance)`` give a mapper or instance state (no I/O), and
    # an async engine cannot be inspected this way; only a sync engine or connection queries.
    returns_for_argument={
        "sqlalchemy.inspect": ReturnsFor(frozenset({_ENGINE, _CONNECTION}), _INSPECTOR)
    },
    classes=frozenset({"sqlalchemy.orm.scoped_session"}),
    factories={
        "sqlalchemy.orm.sessionmaker": _SESSION,
        # followed too, so that an async session is known not to block
        "sqlalchemy.ext.asyncio.async_sessionmaker": "sqlalchemy.ext.asyncio.AsyncSession",
    },
    # ``Base = declarative_base(cls=CrudMixin)``: the models' class methods are the mixin's
    based_on={"sqlalchemy.orm.declarative_base": "cls"},
    # sqla-wrapper: its ``Session`` is SQLAlchemy's, ``db.s`` a scoped one
    attribute_types={
        (_SQLA_WRAPPER, "Session"): _SQLA_WRAPPER_FACTORY,
        (_SQLA_WRAPPER, "s"): _SESSION,
    },
    aliases={
        "sqla_wrapper.Session": _SESSION,
        "sqla_wrapper.session.Session": _SESSION,
        "sqla_wrapper.sqlalchemy_wrapper.SQLAlchemy": _SQLA_WRAPPER,
        "sqlalchemy.ext.declarative.declarative_base": "sqlalchemy.orm.declarative_base",
        "sqlalchemy.orm.decl_api.declarative_base": "sqlalchemy.orm.declarative_base",
        "sqlalchemy.engine.create_engine": "sqlalchemy.create_engine",
        "sqlalchemy.engine.create.create_engine": "sqlalchemy.create_engine",
        "sqlalchemy.engine.Engine": _ENGINE,
        "sqlalchemy.engine.base.Engine": _ENGINE,
        "sqlalchemy.engine.Connection": _CONNECTION,
        "sqlalchemy.engine.base.Connection": _CONNECTION,
        "sqlalchemy.orm.session.Session": _SESSION,
        "sqlalchemy.orm.session.sessionmaker": "sqlalchemy.orm.sessionmaker",
        "sqlalchemy.orm.query.Query": _QUERY,
        "sqlalchemy.engine.reflection.Inspector": _INSPECTOR,
        "sqlalchemy.engine.Inspector": _INSPECTOR,
        "sqlalchemy.inspection.inspect": "sqlalchemy.inspect",
        "sqlalchemy.orm.scoping.scoped_session": "sqlalchemy.orm.scoped_session",
        "sqlmodel.orm.session.Session": "sqlmodel.Session",
        "sqlmodel.create_engine": "sqlalchemy.create_engine",
        "sqlalchemy.ext.asyncio.session.AsyncSession": "sqlalchemy.ext.asyncio.AsyncSession",
        "sqlalchemy.ext.asyncio.session.async_sessionmaker": (
            "sqlalchemy.ext.asyncio.async_sessionmaker"
        ),
    },
)
