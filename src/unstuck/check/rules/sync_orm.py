"""USK116 sync-orm: queries of a synchronous ORM (peewee, Django) on the event loop.

Incident: a FastAPI service kept its peewee models from an older Flask app and called
``User.get(User.email == email)`` in an ``async def`` login route. Every query held the
loop for its round trip to PostgreSQL; under load the worker served one login at a time
and its p99 went from 40 ms to 3 s. Django's ORM does the same (and refuses outright
when it notices a running loop: ``SynchronousOnlyOperation``).

Fix: make the route ``def`` so that the ORM runs in the thread pool; or
``await asyncio.to_thread(...)`` around the query; or an async ORM (Django's ``aget``,
``acreate``, ``async for``; SQLAlchemy's ``AsyncSession``).

A model is a class of the project derived from the ORM's ``Model``: its class methods
(``User.get``, ``User.objects.filter``) and the methods of its instances (``save``) are
the ORM's, which this rule knows. Query builders (``select``, ``where``, ``filter``)
only build a query; what runs it (``execute``, ``get``, ``first``, ``count``) is reported.
"""

from unstuck.check.rule import Rule, functions, methods

_PEEWEE = "peewee.Model"
_PEEWEE_SELECT = "peewee.ModelSelect"
_PEEWEE_WRITE = "peewee.ModelWrite"  # insert, update, delete queries
_PEEWEE_DATABASE = "peewee.Database"
_PEEWEE_BUILDERS = (
    "where join switch order_by group_by having limit offset paginate distinct "
    "dicts tuples namedtuples objects"
)
_PEEWEE_RUN = "execute get get_or_none first scalar count exists iterator"

_MODEL = "django.db.models.Model"
_MANAGER = "django.db.models.Manager"
_QUERYSET = "django.db.models.QuerySet"
_DJANGO_BUILDERS = (
    "all filter exclude order_by select_related prefetch_related annotate values values_list "
    "distinct only defer using select_for_update none reverse alias"
)
_DJANGO_RUN = (
    "get create get_or_create update_or_create count exists first last latest earliest "
    "aggregate in_bulk bulk_create bulk_update update delete iterator contains explain"
)

RULE = Rule(
    code="USK116",
    name="sync-orm",
    summary="is a synchronous ORM query on the event loop",
    fix="make the route `def`, or `await asyncio.to_thread(...)`, or use the ORM's async API",
    advice="make it def (thread pool), or offload with asyncio.to_thread, or an async ORM",
    catches="peewee models (`Model.get/create/select(...).execute()`, `save`) and databases, "
    "the Django ORM (`objects.get/create/filter(...).first()`, `save`, `delete`)",
    example="""\
import peewee
from fastapi import FastAPI

app = FastAPI()

class User(peewee.Model):
    email = peewee.CharField()

@app.get("/users/{email}")
async def user(email: str):
    return User.get(User.email == email).email
""",
    doc=__doc__ or "",
    functions=functions(
        _PEEWEE,
        "get get_or_none get_by_id get_or_create create insert_many bulk_create bulk_update "
        "create_table drop_table table_exists",
    )
    | functions(f"{_MODEL}.objects", _DJANGO_RUN),
    methods=methods(_PEEWEE, "save delete_instance")
    | methods(_PEEWEE_SELECT, _PEEWEE_RUN)
    | methods(_PEEWEE_WRITE, "execute")
    | methods(
        _PEEWEE_DATABASE,
        "connect execute_sql execute create_tables drop_tables get_tables get_columns",
    )
    | methods(_MODEL, "save delete refresh_from_db full_clean")
    | methods(_MANAGER, _DJANGO_RUN)
    | methods(_QUERYSET, _DJANGO_RUN),
    returns={
        f"{_PEEWEE}.select": _PEEWEE_SELECT,
        **{f"{_PEEWEE}.{name}": _PEEWEE_WRITE for name in ["insert", "update", "delete"]},
        **{f"{_PEEWEE_SELECT}.{name}": _PEEWEE_SELECT for name in _PEEWEE_BUILDERS.split()},
        **{f"{_PEEWEE_WRITE}.{name}": _PEEWEE_WRITE for name in ["where", "on_conflict"]},
        f"{_PEEWEE}.get": _PEEWEE,
        f"{_PEEWEE}.get_or_none": _PEEWEE,
        f"{_PEEWEE}.get_by_id": _PEEWEE,
        f"{_PEEWEE}.create": _PEEWEE,
        **{f"{_MODEL}.objects.{name}": _QUERYSET for name in _DJANGO_BUILDERS.split()},
        **{f"{_MANAGER}.{name}": _QUERYSET for name in _DJANGO_BUILDERS.split()},
        **{f"{_QUERYSET}.{name}": _QUERYSET for name in _DJANGO_BUILDERS.split()},
        f"{_MODEL}.objects.get": _MODEL,
        f"{_MODEL}.objects.create": _MODEL,
    },
    aliases={
        "peewee.PostgresqlDatabase": _PEEWEE_DATABASE,
        "peewee.SqliteDatabase": _PEEWEE_DATABASE,
        "peewee.MySQLDatabase": _PEEWEE_DATABASE,
        "playhouse.pool.PooledPostgresqlDatabase": _PEEWEE_DATABASE,
        "playhouse.pool.PooledMySQLDatabase": _PEEWEE_DATABASE,
        "playhouse.postgres_ext.PostgresqlExtDatabase": _PEEWEE_DATABASE,
        "django.db.models.base.Model": _MODEL,
        "django.db.models.manager.Manager": _MANAGER,
        "django.db.models.query.QuerySet": _QUERYSET,
    },
)
