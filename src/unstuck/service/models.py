"""Tables of the service, as SQLAlchemy ORM classes.

The schema itself is owned by the Alembic migrations in ``migrations/``; these
classes describe it for queries: ``users``; ``video_jobs`` and ``video_workers``
(the video pipeline, docs/videos.md); ``idempotent_responses`` (Idempotency-Key).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    # Read created_at back in the INSERT (RETURNING), so a new user needs no second query.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # Stored lower-cased by the API, so that the unique index is case-insensitive in practice.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class VideoJob(Base):
    """One transcode: the source of truth for ``/task/{id}``, written by web and worker.

    ``state`` takes Celery's names (PENDING, STARTED, SUCCESS, FAILURE). ``sent_at``
    and ``sends`` say when the task last went to the broker; ``heartbeat_at`` is
    touched by the worker running it, so that a lost worker is noticed.
    """

    __tablename__ = "video_jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    client_filename: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sends: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str | None] = mapped_column(String(255))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error_type: Mapped[str | None] = mapped_column(String(100))
    error_message: Mapped[str | None] = mapped_column(Text)


class VideoWorker(Base):
    """A Celery worker that answered recently: its periodic heartbeat."""

    __tablename__ = "video_workers"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class IdempotentResponse(Base):
    """The first answer to a POST sent with an ``Idempotency-Key``, replayed to retries.

    ``status_code`` is NULL while the first request is still being handled.
    """

    __tablename__ = "idempotent_responses"

    route: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
