"""The diagnostics in-process: token, wiring, lifespan, in-flight and thread pool."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

import unstuck
from unstuck.watch import register_engine, watcher_of
from unstuck.watch._config import resolve_config
from unstuck.watch._requests import RequestRegistry

pytestmark = pytest.mark.anyio
TOKEN = "t0ken"


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def _watchdogs() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("unstuck-watchdog")]


async def test_without_token_the_diagnostics_do_not_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNSTUCK_WATCH_TOKEN", raising=False)
    app = unstuck.watch.watch(FastAPI())
    async with _client(app) as client:
        for path in ("/_unstuck", "/_unstuck/ui", "/_unstuck/metrics"):
            response = await client.get(path, headers={"Authorization": "Bearer anything"})
            assert response.status_code == 404, path


async def test_public_metrics_without_token() -> None:
    app = unstuck.watch.watch(FastAPI(), metrics_public=True)
    async with _client(app) as client:
        response = await client.get("/_unstuck/metrics")
        assert response.status_code == 200
        assert "unstuck_loop_lag_seconds" in response.text
        assert (await client.get("/_unstuck")).status_code == 404


async def test_token_is_required() -> None:
    app = unstuck.watch.watch(FastAPI(), token=TOKEN)
    async with _client(app) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
            for path in ("/_unstuck", "/_unstuck/metrics"):
                response = await client.get(path, headers=headers)
                assert response.status_code == 401, (path, headers)
                assert "Bearer" in response.headers["www-authenticate"]
                assert "UNSTUCK_WATCH_TOKEN" in response.json()["detail"]
        ok = await client.get("/_unstuck", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200
        assert ok.json()["threadpool"]["total"] == 40
        metrics = await client.get(
            "/_unstuck/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert metrics.status_code == 200 and "unstuck_stalls" in metrics.text
        post = await client.post("/_unstuck", headers={"Authorization": f"Bearer {TOKEN}"})
        assert post.status_code == 405


async def test_page_holds_no_data_and_forbids_foreign_scripts() -> None:
    app = unstuck.watch.watch(FastAPI(), token=TOKEN, path="/ops/loop")
    async with _client(app) as client:
        response = await client.get("/ops/loop/ui")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src 'nonce-" in policy
        assert '"/ops/loop"' in response.text
        assert TOKEN not in response.text
        assert (await client.get("/_unstuck/ui")).status_code == 404


async def test_options_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNSTUCK_WATCH_TOKEN", "from-env")
    monkeypatch.setenv("UNSTUCK_WATCH_THRESHOLD_MS", "250")
    monkeypatch.setenv("UNSTUCK_WATCH_PATH", "/diag")
    app = unstuck.watch.watch(FastAPI(), threshold_ms=50)
    watcher = watcher_of(app)
    assert watcher is not None
    assert watcher.config.token == "from-env"
    assert watcher.config.threshold_ms == 50  # explicit arguments win
    assert watcher.config.path == "/diag"
    async with _client(app) as client:
        response = await client.get("/diag", headers={"Authorization": "Bearer from-env"})
        assert response.status_code == 200


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("UNSTUCK_WATCH_THRESHOLD_MS", "fast", "UNSTUCK_WATCH_THRESHOLD_MS='fast' is not a number"),
        ("UNSTUCK_WATCH_THRESHOLD_MS", "-5", "must be a positive"),
        ("UNSTUCK_WATCH_METRICS_PUBLIC", "maybe", "is not a boolean"),
        ("UNSTUCK_WATCH_PATH", "diag/", "must look like"),
    ],
)
def test_bad_configuration_is_a_clear_error(variable: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_config({variable: value})


def test_wiring_errors_are_clear() -> None:
    with pytest.raises(TypeError, match="Starlette or FastAPI"):
        unstuck.watch.watch(object())
    app = unstuck.watch.watch(FastAPI())
    with pytest.raises(RuntimeError, match="already called"):
        unstuck.watch.watch(app)
    with pytest.raises(RuntimeError, match=r"unstuck.watch\(app\) to be called first"):
        register_engine(FastAPI(), object())  # type: ignore[arg-type]


async def test_lifespan_starts_and_stops_the_watchdog_and_keeps_the_state() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, str]]:
        events.append("startup")
        yield {"greeting": "hello"}
        events.append("shutdown")

    app = unstuck.watch.watch(FastAPI(lifespan=lifespan), token=TOKEN)
    before = _watchdogs()
    async with app.router.lifespan_context(app) as state:
        assert len(_watchdogs()) == len(before) + 1
        watcher = watcher_of(app)
        assert watcher is not None and watcher.running
        assert state == {"greeting": "hello"}
    assert events == ["startup", "shutdown"]
    assert _watchdogs() == before
    assert watcher is not None and not watcher.running


async def test_inflight_requests_show_route_age_and_await_stack() -> None:
    release = asyncio.Event()
    app = FastAPI()

    @app.get("/orders/{order_id}")
    async def wait_for_order(order_id: int) -> dict[str, int]:
        await release.wait()
        return {"order_id": order_id}

    unstuck.watch.watch(app, token=TOKEN)
    async with _client(app) as client:
        pending = asyncio.create_task(client.get("/orders/5"))
        await asyncio.sleep(0.2)
        data = (await client.get("/_unstuck", headers={"Authorization": f"Bearer {TOKEN}"})).json()
        release.set()
        assert (await pending).json() == {"order_id": 5}
    [request] = data["inflight"]
    assert request["route"] == "GET /orders/{order_id}"
    assert request["age_ms"] >= 150
    functions = [frame["function"] for frame in request["stack"]]
    assert any(name.endswith("wait_for_order") for name in functions)
    assert functions[-2:] == ["Event.wait", "Future"]  # innermost: what it awaits


async def test_thread_pool_tokens_in_use() -> None:
    gate = threading.Event()
    app = FastAPI()

    @app.get("/blocking")
    def blocking() -> dict[str, bool]:
        return {"released": gate.wait(10)}

    unstuck.watch.watch(app, token=TOKEN)
    async with _client(app) as client:
        calls = [asyncio.create_task(client.get("/blocking")) for _ in range(3)]
        deadline = time.monotonic() + 5
        while True:
            response = await client.get("/_unstuck", headers={"Authorization": f"Bearer {TOKEN}"})
            pool = response.json()["threadpool"]
            if pool["borrowed"] == 3 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        gate.set()
        await asyncio.gather(*calls)
    assert pool == {"borrowed": 3, "total": 40, "waiting": 0}


async def test_stall_inside_base_http_middleware_child_task_names_the_route() -> None:
    app = FastAPI()

    @app.middleware("http")
    async def passthrough(request: Request, call_next: Any) -> Any:
        return await call_next(request)

    @app.get("/slow/{name}")
    async def slow(name: str) -> dict[str, str]:
        time.sleep(0.25)  # noqa: ASYNC251 (the stall under test)
        return {"name": name}

    unstuck.watch.watch(app, token=TOKEN, threshold_ms=100)
    watcher = watcher_of(app)
    assert watcher is not None
    async with app.router.lifespan_context(app), _client(app) as client:
        await asyncio.sleep(0.05)
        assert (await client.get("/slow/x")).status_code == 200
        await asyncio.sleep(0.3)
    [stall] = watcher.stalls
    assert stall.route == "GET /slow/{name}"
    assert stall.blamed is not None and stall.blamed["function"].endswith("slow")


async def test_plain_starlette_app() -> None:
    async def homepage(request: Any) -> JSONResponse:
        time.sleep(0.2)  # noqa: ASYNC251 (the stall under test)
        return JSONResponse({"ok": True})

    routes = [Route("/home/{who}", homepage), Mount("/api", routes=[Route("/v/{n}", homepage)])]
    app = unstuck.watch.watch(Starlette(routes=routes), token=TOKEN)
    watcher = watcher_of(app)
    assert watcher is not None
    async with app.router.lifespan_context(app), _client(app) as client:
        await asyncio.sleep(0.05)
        assert (await client.get("/home/me")).status_code == 200
        await asyncio.sleep(0.3)
        assert (await client.get("/api/v/1")).status_code == 200
        await asyncio.sleep(0.3)
    assert [stall.route for stall in watcher.stalls] == ["GET /home/{who}", "GET /api/v/{n}"]


def test_disabled_watcher_changes_nothing() -> None:
    app = FastAPI()
    middleware_before = list(app.user_middleware)
    unstuck.watch.watch(app, enabled=False)
    assert app.user_middleware == middleware_before
    watcher = watcher_of(app)
    assert watcher is not None and not watcher.config.enabled


async def test_a_long_stall_is_logged_while_it_lasts(caplog: pytest.LogCaptureFixture) -> None:
    app = FastAPI()

    @app.get("/hang")
    async def hang() -> dict[str, bool]:
        time.sleep(1.3)  # noqa: ASYNC251 (the stall under test)
        return {"ok": True}

    unstuck.watch.watch(app, threshold_ms=50)
    caplog.set_level("WARNING", logger="unstuck")
    async with app.router.lifespan_context(app), _client(app) as client:
        await asyncio.sleep(0.05)
        assert (await client.get("/hang")).status_code == 200
        await asyncio.sleep(0.2)
    records = [r for r in caplog.records if r.name == "unstuck"]
    events = [getattr(r, "event", None) for r in records]
    assert events == ["loop_hang", "loop_stall"]
    hang_record, stall_record = records
    assert hang_record.getMessage().startswith("event loop still blocked after")
    assert getattr(hang_record, "route", None) == "GET /hang"
    assert 1000 <= getattr(hang_record, "duration_ms", 0) < getattr(stall_record, "duration_ms", 0)


async def test_a_stall_during_startup_is_seen_outside_any_request() -> None:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.sleep(0.05)
        time.sleep(0.25)  # noqa: ASYNC251 (a blocking start-up step, the stall under test)
        yield

    app = unstuck.watch.watch(FastAPI(lifespan=lifespan), threshold_ms=100)
    watcher = watcher_of(app)
    assert watcher is not None
    async with app.router.lifespan_context(app):
        await asyncio.sleep(0.2)
    [stall] = watcher.stalls
    assert stall.route is None
    assert stall.blamed is not None and stall.blamed["function"].endswith("lifespan")
    assert stall.duration_ms >= 150


def test_a_request_is_known_by_its_scope_object_not_an_equal_one() -> None:
    registry = RequestRegistry()
    scope: dict[str, Any] = {"type": "http", "path": "/x", "method": "GET"}
    registry.active[id(scope)] = (scope, 1.0)
    assert registry.serving(scope)
    assert not registry.serving(dict(scope))  # the same fields: another request
    del registry.active[id(scope)]
    assert not registry.serving(scope)
