"""Users, read and written three ways: async engine, sync engine, read-through cache.

* ``/users`` — ``async def`` routes on the async engine (asyncpg / aiosqlite).
* ``/sync/users`` — ``def`` routes on the sync engine (psycopg / sqlite3); FastAPI
  runs them in the thread pool, so the blocking driver never touches the loop.
* ``/cached/users/{id}`` — the user lookup behind a cache (Redis or in-process),
  ``X-Cache: hit | miss | bypass`` says which path answered.

Reads take a read session (no transaction round trips), select Core rows
rather than ORM objects, and serialise the response model once, themselves:
a returned model would be validated again by FastAPI.

A duplicate email is a 409 even under a race: the unique index decides, and
its ``IntegrityError`` is caught. Lists are keyset-paginated (``after`` an id).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import Row, Select, bindparam, select
from sqlalchemy.exc import IntegrityError

from unstuck.service import idempotency
from unstuck.service.cache import CacheUnavailable
from unstuck.service.database import ReadSessionDep, SessionDep, SyncReadSessionDep
from unstuck.service.errors import DATABASE_UNAVAILABLE, Responses, problem
from unstuck.service.idempotency import IdempotencyKey
from unstuck.service.models import User
from unstuck.service.state import StateDep

logger = logging.getLogger("unstuck.service")

router = APIRouter(tags=["users"])

# No whitespace, "@" or control character in either part; dots separate the domain's labels.
_LOCAL_CHAR = r"[^@\s\x00-\x1f\x7f-\x9f]"
_LABEL_CHAR = r"[^@\s.\x00-\x1f\x7f-\x9f]"
_EMAIL = re.compile(rf"{_LOCAL_CHAR}+@{_LABEL_CHAR}+(\.{_LABEL_CHAR}+)+")
# The same rules as JSON Schema patterns, so that the OpenAPI says what the validators do
# (surrounding whitespace is stripped first; a name needs one visible character).
_EMAIL_PATTERN = rf"^\s*{_EMAIL.pattern}\s*$"
_NAME_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"

_MAX_EMAIL = 254
UserId = Annotated[int, Path(ge=1, le=2**31 - 1, description="id of the user")]
Limit = Annotated[int, Query(ge=1, le=100, description="page size")]
After = Annotated[int, Query(ge=0, le=2**31 - 1, description="return users with a larger id")]


class UserCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "Ada Lovelace", "email": "ada@example.com"}]}
    )

    name: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
        Field(json_schema_extra={"pattern": _NAME_PATTERN}),
    ]
    email: Annotated[
        str,
        StringConstraints(strip_whitespace=True, max_length=_MAX_EMAIL),
        Field(json_schema_extra={"pattern": _EMAIL_PATTERN}),
    ]

    @field_validator("name", "email")
    @classmethod
    def _printable(cls, value: str) -> str:
        # PostgreSQL text cannot hold NUL, and control characters in a name or an
        # address are never intended: refuse them with the same 422 on every database.
        if any(unicodedata.category(char) == "Cc" for char in value):
            raise ValueError("must not contain control characters")
        return value

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str) -> str:
        if not _EMAIL.fullmatch(value):
            raise ValueError("not a valid email address (expected name@domain.tld)")
        # Lower-casing can lengthen a string ("İ" becomes two characters): the limit
        # holds for what is stored.
        lowered = value.lower()
        if len(lowered) > _MAX_EMAIL:
            raise ValueError(f"must have at most {_MAX_EMAIL} characters once lower-cased")
        return lowered


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    email: str
    created_at: datetime

    @field_validator("created_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        # SQLite hands back CURRENT_TIMESTAMP as a naive UTC time.
        return value if value.tzinfo else value.replace(tzinfo=UTC)


class UserPage(BaseModel):
    items: list[UserPublic]
    next_after: int | None = Field(description="pass as ?after= for the next page; null at the end")


_COLUMNS = (User.id, User.name, User.email, User.created_at)
_UserRow = Row[int, str, str, datetime]


# Built once: building a statement costs more than running it from the compiled cache.
_ONE = select(*_COLUMNS).where(User.id == bindparam("user_id"))


def _page_query(limit: int, after: int) -> Select[int, str, str, datetime]:
    # One row more than asked tells whether another page exists.
    return select(*_COLUMNS).where(User.id > after).order_by(User.id).limit(limit + 1)


def _page(rows: Sequence[_UserRow], limit: int) -> Response:
    items = [UserPublic.model_validate(row) for row in rows[:limit]]
    return _json(UserPage(items=items, next_after=items[-1].id if len(rows) > limit else None))


def _json(model: BaseModel) -> Response:
    return Response(model.model_dump_json(), media_type="application/json")


def _user(row: _UserRow | None, user_id: int) -> Response:
    if row is None:
        raise _not_found(user_id)
    return _json(UserPublic.model_validate(row))


def _not_found(user_id: int) -> HTTPException:
    return HTTPException(status_code=404, detail=f"no user with id {user_id}")


_READ_ONE: Responses = {404: problem("no user with this id"), **DATABASE_UNAVAILABLE}


@router.post(
    "/users",
    status_code=201,
    response_model=UserPublic,
    responses={
        409: problem(
            "a user with this email already exists, or a request with this Idempotency-Key "
            "is still being handled"
        ),
        **DATABASE_UNAVAILABLE,
    },
)
async def create_user(
    body: UserCreate,
    session: SessionDep,
    response: Response,
    state: StateDep,
    idempotency_key: IdempotencyKey = None,
) -> UserPublic | JSONResponse:
    engine = state["async_engine"]
    held: idempotency.Claim | None = None
    if idempotency_key is not None:
        print_ = idempotency.fingerprint(body.model_dump_json())
        found = await idempotency.claim(engine, "POST /users", idempotency_key, print_)
        if isinstance(found, JSONResponse):
            return found
        held = found
    user = User(name=body.name, email=body.email)
    session.add(user)
    try:
        await session.commit()
    except BaseException as exc:
        if held is not None:
            await idempotency.release(engine, held)
        if not isinstance(exc, IntegrityError):
            raise
        await session.rollback()
        raise HTTPException(
            status_code=409, detail=f"a user with email {body.email} already exists"
        ) from None
    location = f"/users/{user.id}"
    response.headers["Location"] = location
    public = UserPublic.model_validate(user)
    if held is not None:
        content = public.model_dump(mode="json")
        await idempotency.remember(engine, held, 201, content, {"Location": location})
    return public


@router.get("/users", response_model=UserPage, responses=DATABASE_UNAVAILABLE)
async def list_users(session: ReadSessionDep, limit: Limit = 20, after: After = 0) -> Response:
    return _page((await session.execute(_page_query(limit, after))).all(), limit)


@router.get("/users/{user_id}", response_model=UserPublic, responses=_READ_ONE)
async def get_user(user_id: UserId, session: ReadSessionDep) -> Response:
    # Core on the session's connection: the ORM's execution layer has nothing to add to rows.
    connection = await session.connection()
    return _user((await connection.execute(_ONE, {"user_id": user_id})).first(), user_id)


@router.get("/sync/users", response_model=UserPage, responses=DATABASE_UNAVAILABLE)
def list_users_sync(session: SyncReadSessionDep, limit: Limit = 20, after: After = 0) -> Response:
    return _page(session.execute(_page_query(limit, after)).all(), limit)


@router.get("/sync/users/{user_id}", response_model=UserPublic, responses=_READ_ONE)
def get_user_sync(user_id: UserId, session: SyncReadSessionDep) -> Response:
    return _user(session.execute(_ONE, {"user_id": user_id}).first(), user_id)


@router.get("/cached/users/{user_id}", response_model=UserPublic, responses=_READ_ONE)
async def get_user_cached(user_id: UserId, session: ReadSessionDep, state: StateDep) -> Response:
    cache, settings = state["cache"], state["settings"]
    key = f"{settings.cache_prefix}user:{user_id}"
    status = "miss"
    try:
        cached = await cache.get(key)
    except CacheUnavailable as exc:
        logger.warning("cache unavailable, reading through: %s", exc)
        cached, status = None, "bypass"
    if cached is not None:
        return Response(cached, media_type="application/json", headers={"X-Cache": "hit"})
    row = (await session.execute(_ONE, {"user_id": user_id})).first()
    if row is None:
        raise _not_found(user_id)
    payload = UserPublic.model_validate(row).model_dump_json().encode()
    if status == "miss":
        try:
            await cache.set(key, payload, settings.cache_ttl_s)
        except CacheUnavailable as exc:
            logger.warning("cache unavailable, not storing: %s", exc)
            status = "bypass"
    return Response(payload, media_type="application/json", headers={"X-Cache": status})
