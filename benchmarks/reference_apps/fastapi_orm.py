"""The way most people write it: FastAPI, SQLAlchemy 2 async ORM, a session per request.

``GET /users/{id}`` loads the ORM object with ``session.get`` through a session
from ``async_sessionmaker(expire_on_commit=False)`` that a dependency opens,
commits and closes, and returns it through a pydantic response model.
``GET /sync/users/{id}`` is the same as a plain ``def`` route with a sync
``Session`` (psycopg 3), which FastAPI runs in its thread pool.
``GET /async?delay=`` awaits ``asyncio.sleep``. The database URL comes from
``REFERENCE_DATABASE_URL`` (``postgresql+asyncpg://...``), the pool size of each
engine from ``REFERENCE_POOL_SIZE`` (20 by default, no overflow).

Run: ``uvicorn benchmarks.reference_apps.fastapi_orm:create_app --factory``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy import DateTime, String, create_engine
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    email: str
    created_at: datetime


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as db:
        yield db
        await db.commit()


SessionDep = Annotated[AsyncSession, Depends(_session)]


async def get_user(user_id: int, db: SessionDep) -> User:
    user = await db.get(User, user_id)
    if user is None:
        raise HTTPException(404, f"no user with id {user_id}")
    return user


def _sync_session(request: Request) -> Iterator[Session]:
    with request.app.state.sync_sessions() as db:
        yield db
        db.commit()


SyncSessionDep = Annotated[Session, Depends(_sync_session)]


def get_user_sync(user_id: int, db: SyncSessionDep) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise HTTPException(404, f"no user with id {user_id}")
    return user


async def sleep(delay: float = 1.0) -> dict[str, object]:
    await asyncio.sleep(delay)
    return {"message": "async", "delay_s": delay, "runs_on": "event loop"}


def create_app() -> FastAPI:
    url = os.environ["REFERENCE_DATABASE_URL"]
    pool = {"pool_size": int(os.environ.get("REFERENCE_POOL_SIZE", "20")), "max_overflow": 0}
    engine = create_async_engine(url, **pool)
    sync_engine = create_engine(url.replace("+asyncpg", "+psycopg", 1), **pool)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()
        sync_engine.dispose()

    app = FastAPI(lifespan=lifespan)
    app.state.sessions = async_sessionmaker(engine, expire_on_commit=False)
    app.get("/users/{user_id}", response_model=UserOut)(get_user)
    app.state.sync_sessions = sessionmaker(sync_engine, expire_on_commit=False)
    app.get("/sync/users/{user_id}", response_model=UserOut)(get_user_sync)
    app.get("/async")(sleep)
    return app
