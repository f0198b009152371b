"""Outbound HTTP done right: ``GET /proxy`` and ``GET /safe``.

Both use the one ``httpx.AsyncClient`` made in lifespan (connection reuse,
timeouts on connect/read/write/pool) against a fixed upstream: the client
picks only ``delay``, never the host, so this is no open proxy. ``/safe``
also puts the whole call under ``asyncio.timeout`` and answers 504 at the
deadline; the cancelled request frees its connection. Upstream failures are
502 (unreachable, error status, not JSON) or 504 (no answer in time).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from unstuck.service.errors import Responses, invalid, problem
from unstuck.service.limits import maximum_from
from unstuck.service.state import State, StateDep

router = APIRouter(tags=["upstream"])

UpstreamDelay = Annotated[
    float,
    Query(
        ge=0,
        allow_inf_nan=False,
        description="asks the upstream to wait this long; at most UNSTUCK_MAX_DELAY_S",
        json_schema_extra=maximum_from("max_delay_s"),
    ),
]


UPSTREAM_FAILURES: Responses = {
    502: problem("the upstream is unreachable, answered an error or did not answer JSON"),
    504: problem("the upstream did not answer in time"),
    503: problem("the HTTP client broke and was replaced; try again (Retry-After)"),
}


class Proxied(BaseModel):
    upstream: str = Field(description="which upstream answered (its URL is internal)")
    status: int
    body: Any


def upstream_delay(state: State, delay: float) -> dict[str, str]:
    """The query string for the upstream; a 422 past the configured bound."""
    limit = state["settings"].max_delay_s
    if delay > limit:
        raise invalid(("query", "delay"), f"delay must be at most {limit} s", delay)
    return {"delay": repr(delay)} if delay else {}


def upstream_label(state: State) -> str:
    """How answers name the upstream: its URL is internal, shown only in the diagnostics."""
    if state["settings"].upstream_url:
        return "the upstream (UNSTUCK_UPSTREAM_URL)"
    return "the built-in upstream"


def upstream_error(label: str, status: int) -> HTTPException:
    return HTTPException(status_code=502, detail=f"{label} answered HTTP {status}")


def upstream_unreachable(label: str, reason: str) -> HTTPException:
    return HTTPException(status_code=502, detail=f"could not reach {label}: {reason}")


def upstream_timeout(label: str, timeout_s: float) -> HTTPException:
    return HTTPException(status_code=504, detail=f"{label} did not answer within {timeout_s} s")


async def _fetch(state: State, delay: float) -> Proxied:
    url, label = state["upstream_url"], upstream_label(state)
    params = upstream_delay(state, delay)
    try:
        response = await state["http"].get(url, params=params)
    except httpx.TimeoutException:
        raise upstream_timeout(label, state["settings"].upstream_timeout_s) from None
    except httpx.HTTPError as exc:
        raise upstream_unreachable(label, _reason(exc)) from None
    if response.is_error:
        raise upstream_error(label, response.status_code)
    try:
        body = response.json()
    except ValueError:
        raise HTTPException(status_code=502, detail=f"{label} did not answer JSON") from None
    return Proxied(upstream=label, status=response.status_code, body=body)


def _reason(exc: httpx.HTTPError) -> str:
    # httpx's messages may carry the URL; the kind of failure is what the client needs.
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return type(exc).__name__


@router.get("/proxy", responses=UPSTREAM_FAILURES)
async def proxy(state: StateDep, delay: UpstreamDelay = 0.0) -> Proxied:
    return await _fetch(state, delay)


@router.get("/safe", responses=UPSTREAM_FAILURES)
async def safe(state: StateDep, delay: UpstreamDelay = 0.0) -> Proxied:
    deadline_s = state["settings"].safe_timeout_s
    try:
        async with asyncio.timeout(deadline_s):
            return await _fetch(state, delay)
    except TimeoutError:
        raise HTTPException(
            status_code=504,
            detail=f"gave up on the upstream after {deadline_s} s (UNSTUCK_SAFE_TIMEOUT_S)",
        ) from None
