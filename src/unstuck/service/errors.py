"""Errors a client can meet, written for them: JSON with a ``detail``, never a 500.

Limits that come from settings are checked in the route and reported in the
same shape as FastAPI's own 422s. Database trouble (no connection free within
``pool_timeout``, database unreachable) becomes a 503 that says what to change.
A body that is not JSON is a 422 however it fails (not UTF-8 included), and a
body sent with another media type than JSON is a 415 that says so.
"""

from __future__ import annotations

import errno
import logging
import math
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException

from unstuck.service.pools import RETRY_AFTER_S, PoolUnavailable

logger = logging.getLogger("unstuck.service")


class Problem(BaseModel):
    """The body of every error but a 422: what went wrong, written for a person."""

    detail: str


def problem(description: str) -> dict[str, Any]:
    """An entry of a route's ``responses=``, so that the OpenAPI lists what it can answer."""
    return {"model": Problem, "description": description}


Responses = dict[int | str, dict[str, Any]]

DATABASE_UNAVAILABLE: Responses = {
    503: problem("no database connection free in time, or the database is unavailable")
}


POOL_REPLACED: Responses = {
    503: problem("the pool behind this route broke and was replaced; try again (Retry-After)")
}


def invalid(location: tuple[str, ...], message: str, value: object) -> RequestValidationError:
    """A 422 for a value that passed the schema but not a limit from the settings."""
    return RequestValidationError(
        [{"type": "value_error", "loc": location, "msg": message, "input": value}]
    )


_ECHO_ITEMS = 10
_ECHO_CHARS = 200


def _shortened(value: Any) -> Any:
    """The start of an echoed input: a 2 MB body past a limit must not come back whole."""
    if isinstance(value, str) and len(value) > _ECHO_CHARS:
        return value[:_ECHO_CHARS] + "…"
    if isinstance(value, list):
        head = [_shortened(item) for item in value[:_ECHO_ITEMS]]
        rest = len(value) - _ECHO_ITEMS
        return [*head, f"… {rest} more"] if rest > 0 else head
    if isinstance(value, dict):
        items = list(value.items())
        shown = {key: _shortened(item) for key, item in items[:_ECHO_ITEMS]}
        if len(items) > _ECHO_ITEMS:
            shown["…"] = f"{len(items) - _ECHO_ITEMS} more"
        return shown
    return value


def _json_safe(value: Any) -> Any:
    """Echoed input made encodable: the offending value is often what JSON cannot carry.

    Non-finite floats become text (JSON has no NaN); an unpaired surrogate (``"\\ud800"``
    in the request's JSON) has no UTF-8 encoding and is escaped.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):
        return JSONResponse({"detail": []}, status_code=422)
    if isinstance(exc.body, bytes):
        # FastAPI parses JSON only when the Content-Type says so and passes anything else
        # on as raw bytes, which then "should be a valid dictionary": the real cause is
        # the media type.
        sent = request.headers.get("content-type")
        detail = "send the body as JSON with Content-Type: application/json, " + (
            f"not {sent}" if sent else "the request has no Content-Type"
        )
        return JSONResponse({"detail": _json_safe(detail)}, status_code=415)
    errors = [
        {**error, "input": _shortened(error["input"])} if "input" in error else error
        for error in exc.errors()
    ]
    return JSONResponse({"detail": _json_safe(jsonable_encoder(errors))}, status_code=422)


async def _http_error(request: Request, exc: Exception) -> Response:
    # FastAPI answers 400 "There was an error parsing the body" when reading the JSON
    # fails other than by a syntax error: the same 422 as any body that is not JSON,
    # saying why.
    cause = exc.__cause__
    if isinstance(cause, UnicodeDecodeError):
        return _not_json(f"the body is not UTF-8 encoded JSON: {cause}")
    if isinstance(cause, RecursionError):
        return _not_json("the body's JSON is nested too deeply")
    if isinstance(cause, ValueError) and "digits" in str(cause):
        # Python refuses to convert integers of more than 4300 digits (CVE-2020-10735).
        return _not_json("a number in the body has too many digits")
    return await http_exception_handler(request, cast(HTTPException, exc))


def _not_json(message: str) -> JSONResponse:
    error = {"type": "json_invalid", "loc": ["body"], "msg": message, "input": {}}
    return JSONResponse({"detail": [error]}, status_code=422)


async def _pool_timeout(request: Request, exc: Exception) -> JSONResponse:
    logger.warning("database pool exhausted on %s %s", request.method, request.url.path)
    detail = (
        "no database connection became free in time: the pool is exhausted. "
        "Raise UNSTUCK_POOL_SIZE / UNSTUCK_MAX_OVERFLOW or UNSTUCK_POOL_TIMEOUT, "
        "or find the requests holding connections"
    )
    return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": "1"})


def _without_parameters(exc: Exception) -> str:
    """What went wrong, without the statement's parameters: they hold users' names and emails."""
    original = getattr(exc, "orig", None) or exc
    code = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return type(original).__name__ + (f" (SQLSTATE {code})" if code else "")


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    reason = _without_parameters(exc)
    logger.error("database error on %s %s: %s", request.method, request.url.path, reason)
    detail = "the database is unavailable or refused the query; try again later"
    return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": "1"})


async def _pool_unavailable(request: Request, exc: Exception) -> JSONResponse:
    logger.error("%s on %s %s", exc, request.method, request.url.path)
    headers = {"Retry-After": str(RETRY_AFTER_S)}
    return JSONResponse({"detail": str(exc)}, status_code=503, headers=headers)


async def _backend_timeout(request: Request, exc: Exception) -> JSONResponse:
    # asyncpg's connect and command timeouts raise the builtin TimeoutError, unwrapped.
    logger.error("a backend did not answer in time on %s %s", request.method, request.url.path)
    detail = (
        "the database did not answer within the configured bounds "
        "(UNSTUCK_DB_CONNECT_TIMEOUT_S, UNSTUCK_DB_STATEMENT_TIMEOUT_S); try again later"
    )
    return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": "1"})


async def _os_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OSError)
    reason = exc.strerror or type(exc).__name__
    logger.error("%s on %s %s", reason, request.method, request.url.path)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        detail = "the service's disk is full; try again later"
        return JSONResponse({"detail": detail}, status_code=507)
    # A driver that lost its server mid-call raises plain OSErrors (no route to host).
    detail = f"a backend of the service is unreachable ({reason}); try again later"
    return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": "1"})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(PoolTimeoutError, _pool_timeout)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(DBAPIError, _database_unavailable)
    app.add_exception_handler(ConnectionError, _database_unavailable)
    app.add_exception_handler(TimeoutError, _backend_timeout)
    app.add_exception_handler(OSError, _os_error)
    app.add_exception_handler(PoolUnavailable, _pool_unavailable)
