"""``Idempotency-Key`` on POSTs: a retried request gets the first answer, the work is done once.

A client that timed out does not know whether its POST was done; it sends it
again with the same key. The first request with a key inserts a row of
``idempotent_responses`` (the primary key, route + key, decides under a
race), does the work, and stores its answer there. A retry with the same key
gets that answer back; one that arrives while the first is still running gets
a 409 saying so; one whose request differs (another body) gets a 422, since
a key names one request. Only successes are kept: after a refusal or an
error the key is released, so that a corrected retry can succeed. A row left
without an answer (its process died) is taken over after `_ABANDONED_AFTER`;
rows expire after `KEPT_FOR` (deleted by the video workers' recovery rounds).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Header, HTTPException
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from unstuck.service.jobs import aware, now
from unstuck.service.models import IdempotentResponse

logger = logging.getLogger("unstuck.service.idempotency")

HEADER = "Idempotency-Key"
KEPT_FOR = timedelta(hours=24)
_ABANDONED_AFTER = timedelta(minutes=5)
_MAX_KEY_CHARS = 255

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=HEADER,
        description="a retry with the same key gets the first answer instead of doing the work "
        "again (kept 24 hours)",
        max_length=_MAX_KEY_CHARS,
        min_length=1,
    ),
]


@dataclass(frozen=True)
class Claim:
    """The key this request holds, to `remember` its answer or `release` it."""

    route: str
    key: str


def fingerprint(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()


async def claim(engine: AsyncEngine, route: str, key: str, print_: str) -> Claim | JSONResponse:
    """Take `key` for this request, or the stored answer of the first one."""
    moment = now()
    row = {"route": route, "key": key, "fingerprint": print_, "created_at": moment}
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(IdempotentResponse).values(**row))
        return Claim(route, key)
    except IntegrityError:
        pass
    async with engine.begin() as connection:
        found = (
            await connection.execute(
                select(IdempotentResponse.__table__).where(
                    IdempotentResponse.route == route, IdempotentResponse.key == key
                )
            )
        ).first()
        if found is None:
            # Released between our insert and this read: the caller may simply retry.
            raise HTTPException(409, f"the request with this {HEADER} just failed; send it again")
        if found.fingerprint != print_:
            # Shaped like FastAPI's own 422 (the documented HTTPValidationError): a client
            # reads every 422 of the API the same way.
            raise HTTPException(
                422,
                [
                    {
                        "type": "idempotency_key_reused",
                        "loc": ["header", HEADER],
                        "msg": f"this {HEADER} was used for another request; "
                        "use a new key for a new one",
                        "input": key,
                    }
                ],
            )
        if found.status_code is not None:
            stored: dict[str, Any] = found.body
            return JSONResponse(
                stored["content"], status_code=found.status_code, headers=stored["headers"]
            )
        if moment - aware(found.created_at) < _ABANDONED_AFTER:
            raise HTTPException(
                409, f"a request with this {HEADER} is still being handled; retry in a moment"
            )
        taken = await connection.execute(
            update(IdempotentResponse)
            .where(
                IdempotentResponse.route == route,
                IdempotentResponse.key == key,
                IdempotentResponse.created_at == found.created_at,
            )
            .values(created_at=moment)
        )
        if taken.rowcount != 1:
            raise HTTPException(
                409, f"a request with this {HEADER} is still being handled; retry in a moment"
            )
    return Claim(route, key)


async def remember(
    engine: AsyncEngine,
    held: Claim,
    status_code: int,
    content: Any,
    headers: dict[str, str] | None = None,
) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            update(IdempotentResponse)
            .where(IdempotentResponse.route == held.route, IdempotentResponse.key == held.key)
            .values(status_code=status_code, body={"content": content, "headers": headers or {}})
        )


async def release(engine: AsyncEngine, held: Claim) -> None:
    """Free the key after a refusal or an error; never raises (the first error matters)."""
    try:
        async with engine.begin() as connection:
            await connection.execute(
                delete(IdempotentResponse).where(
                    IdempotentResponse.route == held.route,
                    IdempotentResponse.key == held.key,
                    IdempotentResponse.status_code.is_(None),
                )
            )
    except Exception:
        # The row stays unanswered: it is taken over once abandoned.
        logger.warning("could not release %s %r", HEADER, held.key, exc_info=True)


def expire(engine: Engine) -> None:
    """Delete the answers older than `KEPT_FOR` (sync: run by the workers' recovery)."""
    with engine.begin() as connection:
        connection.execute(
            delete(IdempotentResponse).where(IdempotentResponse.created_at < now() - KEPT_FOR)
        )
