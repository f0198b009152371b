"""The article's two dangerous examples, kept so that their damage can be measured.

Mounted only with ``UNSTUCK_ANTIPATTERNS=1`` (``unstuck serve --antipatterns``).
Both run blocking I/O inside ``async def``, so the whole event loop of the
worker waits with them: no other request, not even ``/health``, is served.

* ``GET /bad`` — a sync HTTP call (``urllib.request``, as ``requests`` would be).
* ``GET /also-bad`` — a sync SQLAlchemy ``Session`` from ``Depends`` used on the
  loop; ``delay`` makes the database take that long, like a slow query would.

The fixes are ``/proxy`` (an async client) and ``/sync/users`` (a ``def`` route).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from unstuck.service.database import SyncSessionDep, slow_query
from unstuck.service.errors import DATABASE_UNAVAILABLE
from unstuck.service.models import User
from unstuck.service.proxy import (
    UPSTREAM_FAILURES,
    Proxied,
    UpstreamDelay,
    upstream_delay,
    upstream_error,
    upstream_label,
    upstream_timeout,
    upstream_unreachable,
)
from unstuck.service.state import StateDep
from unstuck.service.users import UserPublic

router = APIRouter(tags=["anti-patterns"])


class FirstUser(BaseModel):
    user: UserPublic | None
    waited_s: float


@router.get("/bad", responses=UPSTREAM_FAILURES)
async def bad(state: StateDep, delay: UpstreamDelay = 0.0) -> Proxied:
    url, label = state["upstream_url"], upstream_label(state)
    params = upstream_delay(state, delay)
    target = f"{url}?{urlencode(params)}" if params else url
    timeout_s = state["settings"].upstream_timeout_s
    try:
        # The anti-pattern itself: a blocking HTTP call on the event loop.
        with urllib.request.urlopen(target, timeout=timeout_s) as response:  # noqa: ASYNC210
            body: Any = json.loads(response.read())
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        raise upstream_error(label, exc.code) from None
    except TimeoutError:
        raise upstream_timeout(label, timeout_s) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise upstream_unreachable(
            label, getattr(reason, "strerror", None) or str(reason)
        ) from None
    return Proxied(upstream=label, status=status, body=body)


@router.get("/also-bad", responses=DATABASE_UNAVAILABLE)
async def also_bad(
    session: SyncSessionDep, state: StateDep, delay: UpstreamDelay = 0.0
) -> FirstUser:
    upstream_delay(state, delay)
    if delay:
        session.execute(slow_query(session.get_bind().dialect.name, delay))
    user = session.scalars(select(User).order_by(User.id).limit(1)).first()
    return FirstUser(user=UserPublic.model_validate(user) if user else None, waited_s=delay)
