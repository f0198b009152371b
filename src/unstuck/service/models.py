"""Tables of the service, as SQLAlchemy ORM classes.

The schema itself is owned by the Alembic migrations in ``migrations/``; these
classes describe it for queries. One table: ``users``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, func
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
