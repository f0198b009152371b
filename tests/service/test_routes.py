"""Every route but the users' ones, in process, on the real lifespan: results and bad input."""

from __future__ import annotations

import asyncio
import io
import os

import anyio.to_thread
import matplotlib.image
import pytest
from blockbuster import BlockingError, blockbuster_ctx

from tests.service.video_fixtures import queue_settings, running_worker
from unstuck.service.health import masked
from unstuck.service.settings import Settings
from unstuck.service.upstream import start_builtin_upstream

from .conftest import ServeApp

pytestmark = pytest.mark.anyio


async def test_health_names_the_backends(settings: Settings, serve: ServeApp) -> None:
    async with serve(settings) as client:
        with blockbuster_ctx("unstuck"):
            response = await client.get("/health")
    # No video worker runs: the pipeline cannot work, and /health says so.
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["pipeline"]["worker_alive"] is False
    assert body["pipeline"]["problem"] == "no video worker is running; try again later"
    assert (body["pipeline"]["database"], body["pipeline"]["broker"]) == ("ok", "ok")
    assert body["pid"] == os.getpid()
    expected = "postgresql" if settings.is_postgres else "sqlite"
    assert body["database"]["kind"] == expected
    assert body["cache"] == {"kind": "memory", "url": None}
    assert body["broker"]["kind"] == "filesystem"
    # Internal addresses are for the operator: only with the diagnostics token.
    assert body["database"]["url"] is None
    assert body["upstream"] is None


async def test_health_shows_internal_urls_only_with_the_token(
    sqlite_settings: Settings, serve: ServeApp
) -> None:
    with_token = sqlite_settings.model_copy(update={"watch_token": "s3cret"})
    async with serve(with_token) as client:
        for wrong in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "s3cret"}):
            body = (await client.get("/health", headers=wrong)).json()
            assert body["upstream"] is None
            assert body["database"]["url"] is None
        body = (await client.get("/health", headers={"Authorization": "Bearer s3cret"})).json()
    assert body["upstream"].startswith("http://127.0.0.1:")
    assert body["database"]["url"].startswith("sqlite+aiosqlite:///")


async def test_health_is_ok_while_a_worker_answers(
    sqlite_settings: Settings, serve: ServeApp
) -> None:
    settings = sqlite_settings.model_copy(update={"watch_token": "s3cret"})
    with running_worker(settings, queue_settings()):
        async with serve(settings) as client:
            with blockbuster_ctx("unstuck"):
                response = await client.get("/health")
                anonymous = await client.get("/health")
            operator = await client.get("/health", headers={"Authorization": "Bearer s3cret"})
    assert response.status_code == 200, response.text
    assert anonymous.json()["pipeline"]["storage"] is None
    pipeline = response.json()["pipeline"]
    assert response.json()["status"] == "ok"
    assert pipeline["worker_alive"] is True
    assert pipeline["worker_seen_at"] is not None
    assert pipeline["problem"] is None
    storage = operator.json()["pipeline"]["storage"]
    assert storage == f"local folder {sqlite_settings.data_dir.resolve()}"


def test_urls_are_shown_without_password() -> None:
    assert masked("redis://:s3cret@cache:6379/0") == "redis://:***@cache:6379/0"
    assert masked("amqp://guest:guest@mq:5672//") == "amqp://guest:***@mq:5672//"
    assert masked("redis://cache:6379/0") == "redis://cache:6379/0"


async def test_lifespan_applies_thread_pool_and_debug_settings(
    sqlite_settings: Settings, serve: ServeApp
) -> None:
    settings = sqlite_settings.model_copy(update={"thread_pool_tokens": 7, "asyncio_debug": True})
    async with serve(settings):
        assert anyio.to_thread.current_default_thread_limiter().total_tokens == 7
        assert asyncio.get_running_loop().get_debug()


@pytest.mark.parametrize("path", ["/async", "/sync"])
async def test_sleep_routes(sqlite_settings: Settings, serve: ServeApp, path: str) -> None:
    async with serve(sqlite_settings) as client:
        with blockbuster_ctx("unstuck"):
            response = await client.get(path, params={"delay": 0.01})
        assert response.status_code == 200
        assert response.json()["delay_s"] == 0.01
        expected = "event loop" if path == "/async" else "thread pool"
        assert response.json()["runs_on"] == expected
        for delay in ("-1", "10.5", "abc", "nan", "inf"):
            bad = await client.get(path, params={"delay": delay})
            assert bad.status_code == 422, (delay, bad.text)


async def test_compute_adds_up_in_the_thread_pool(
    sqlite_settings: Settings, serve: ServeApp
) -> None:
    settings = sqlite_settings.model_copy(update={"compute_max_n": 1_000_000})
    async with serve(settings) as client:
        with blockbuster_ctx("unstuck"):
            response = await client.post("/compute", json={"n": 100_000})
        assert response.status_code == 200
        assert response.json()["result"] == sum(range(100_000))
        assert response.json()["runs_on"] == "compute thread pool"
        integral = await client.post("/compute", json={"n": 44.0})
        assert integral.status_code == 200
        assert integral.json()["result"] == sum(range(44))

        too_big = await client.post("/compute", json={"n": 1_000_001})
        assert too_big.status_code == 422
        assert too_big.json()["detail"][0]["msg"] == "n must be at most 1000000"
        # true and "5" were read as 1 and 5 before n was strict.
        for body in ({"n": 0}, {"n": "many"}, {"n": 1.5}, [1], {"n": True}, {"n": "5"}):
            assert (await client.post("/compute", json=body)).status_code == 422, body
        malformed = await client.post(
            "/compute", content=b"{n: 1}", headers={"Content-Type": "application/json"}
        )
        assert malformed.status_code == 422


async def test_ml_inference_in_the_process_pool(sqlite_settings: Settings, serve: ServeApp) -> None:
    settings = sqlite_settings.model_copy(update={"process_pool_workers": 1})
    async with serve(settings) as client:
        rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 2.8, 4.3, 1.3]]
        response = await client.post("/ml-inference", json={"features": rows}, timeout=120)
        assert response.status_code == 200, response.text
        body = response.json()
        assert [p["label"] for p in body["predictions"]] == ["setosa", "virginica", "versicolor"]
        for prediction in body["predictions"]:
            assert sum(prediction["probabilities"].values()) == pytest.approx(1.0)
        pool_pid = body["worker_pid"]
        assert pool_pid != os.getpid()

        bad_bodies: list[object] = [
            {"features": [[5.1, 3.5, 1.4]]},
            {"features": [[5.1, 3.5, 1.4, 0.2, 9.9]]},
            {"features": []},
            {"features": [5.1, 3.5, 1.4, 0.2]},
            {"features": [["a", "b", "c", "d"]]},
            {"features": [[1.0, 2.0, 3.0, 4.0]] * 1001},
            # Finite, but past float32 inside the forest: was a 500 from scikit-learn.
            {"features": [[1e308, 3.5, 1.4, 0.2]]},
            {"features": [[-1.0, 3.5, 1.4, 0.2]]},
            # Not numbers: pydantic's lax mode read false as 0 and "5.1" as 5.1.
            {"features": [[False, 3.5, 1.4, 0.2]]},
            {"features": [["5.1", 3.5, 1.4, 0.2]]},
            {"rows": [[5.1, 3.5, 1.4, 0.2]]},
        ]
        for bad in bad_bodies:
            assert (await client.post("/ml-inference", json=bad)).status_code == 422
        not_finite = await client.post(
            "/ml-inference",
            content=b'{"features": [[NaN, 1, 2, 3]]}',
            headers={"Content-Type": "application/json"},
        )
        assert not_finite.status_code == 422
    # Lifespan shut the pool down: its process is gone.
    assert not os.path.exists(f"/proc/{pool_pid}")  # noqa: ASYNC240


async def test_huge_or_deep_bodies_are_422_with_a_short_echo(
    sqlite_settings: Settings, serve: ServeApp
) -> None:
    # A body limit raised far past its default, so that the bodies reach the validation.
    roomy = sqlite_settings.model_copy(update={"max_body_bytes": 4 * 1024 * 1024})
    async with serve(roomy) as client:
        rows = await client.post(
            "/ml-inference", json={"features": [[1.0, 2.0, 3.0, 4.0]] * 50_000}
        )
        deep = await client.post(
            "/ml-inference",
            content=b"[" * 100_000 + b"]" * 100_000,
            headers={"Content-Type": "application/json"},
        )
    assert rows.status_code == 422
    (error,) = rows.json()["detail"]
    assert error["type"] == "too_long"
    # The input is echoed cut short, not the 50 000 rows sent.
    assert error["input"][-1] == "… 49990 more"
    assert len(rows.content) < 2_000
    # Was FastAPI's 400 "There was an error parsing the body" (a RecursionError).
    assert deep.status_code == 422
    assert "nested too deeply" in deep.json()["detail"][0]["msg"]


async def test_report_is_a_png_chart(settings: Settings, serve: ServeApp) -> None:
    async with serve(settings) as client:
        empty = await client.get("/report")
        assert empty.status_code == 200
        for i, domain in enumerate(["a.org", "a.org", "b.net"]):
            await client.post("/users", json={"name": f"n{i}", "email": f"n{i}@{domain}"})
        response = await client.get("/report")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
    image = matplotlib.image.imread(io.BytesIO(response.content), format="png")
    assert image.shape[:2] == (450, 1000)
    # Users drawn: the chart differs from the empty one.
    assert response.content != empty.content


async def test_report_draws_domains_as_plain_text(
    sqlite_settings: Settings, serve: ServeApp
) -> None:
    # "$...$" is matplotlib's math mode, and these are not valid formulas: one such
    # user used to make every later /report a 500.
    domains = ["a$b^$.co", "$\\frac$.co", "x" * 60 + ".org"]
    async with serve(sqlite_settings) as client:
        for i, domain in enumerate(domains):
            created = await client.post("/users", json={"name": "n", "email": f"n{i}@{domain}"})
            assert created.status_code == 201, created.text
        response = await client.get("/report")
    assert response.status_code == 200
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")


async def test_proxy_and_safe_reach_the_builtin_upstream(
    sqlite_settings: Settings, serve: ServeApp
) -> None:
    async with serve(sqlite_settings) as client:
        with blockbuster_ctx("unstuck"):
            proxied = await client.get("/proxy", params={"delay": 0.05})
            safe = await client.get("/safe")
        for response in (proxied, safe):
            assert response.status_code == 200, response.text
            assert response.json()["body"]["source"] == "unstuck built-in upstream"
        assert proxied.json()["body"]["delay_s"] == 0.05
        for path in ("/proxy", "/safe"):
            assert (await client.get(path, params={"delay": -1})).status_code == 422
            assert (await client.get(path, params={"delay": 11})).status_code == 422


async def test_safe_gives_up_at_its_deadline(sqlite_settings: Settings, serve: ServeApp) -> None:
    settings = sqlite_settings.model_copy(update={"safe_timeout_s": 0.2})
    async with serve(settings) as client:
        response = await client.get("/safe", params={"delay": 3})
        assert response.status_code == 504
        assert response.json()["detail"] == (
            "gave up on the upstream after 0.2 s (UNSTUCK_SAFE_TIMEOUT_S)"
        )


@pytest.mark.parametrize("path", ["/proxy", "/safe", "/bad"])
async def test_upstream_failures_are_502_and_504(
    sqlite_settings: Settings, serve: ServeApp, unused_port: int, path: str
) -> None:
    down = sqlite_settings.model_copy(
        update={"upstream_url": f"http://127.0.0.1:{unused_port}/data", "antipatterns": True}
    )
    async with serve(down) as client:
        response = await client.get(path)
        assert response.status_code == 502
        detail = response.json()["detail"]
        assert detail.startswith("could not reach the upstream (UNSTUCK_UPSTREAM_URL): ")
        # The upstream's address is internal.
        assert str(unused_port) not in detail

    upstream = start_builtin_upstream()
    try:
        failing = down.model_copy(update={"upstream_url": upstream.url.replace("/data", "/gone")})
        async with serve(failing) as client:
            response = await client.get(path)
            assert response.status_code == 502
            assert response.json()["detail"].endswith("answered HTTP 404")

        slow = down.model_copy(
            update={"upstream_url": upstream.url, "upstream_timeout_s": 0.2, "safe_timeout_s": 5}
        )
        async with serve(slow) as client:
            response = await client.get(path, params={"delay": 2})
            assert response.status_code == 504
            assert "did not answer within 0.2 s" in response.json()["detail"]
    finally:
        upstream.stop()


async def test_antipatterns_are_off_by_default(sqlite_settings: Settings, serve: ServeApp) -> None:
    async with serve(sqlite_settings) as client:
        assert (await client.get("/bad")).status_code == 404
        assert (await client.get("/also-bad")).status_code == 404
        paths = (await client.get("/openapi.json")).json()["paths"]
        assert "/bad" not in paths
        assert "/proxy" in paths


async def test_antipatterns_do_block_the_loop(sqlite_settings: Settings, serve: ServeApp) -> None:
    settings = sqlite_settings.model_copy(update={"antipatterns": True})
    async with serve(settings) as client:
        await client.post("/users", json={"name": "Ada", "email": "ada@example.com"})
        bad = await client.get("/bad")
        assert bad.status_code == 200
        assert bad.json()["body"]["source"] == "unstuck built-in upstream"
        also_bad = await client.get("/also-bad", params={"delay": 0.05})
        assert also_bad.status_code == 200
        assert also_bad.json()["user"]["email"] == "ada@example.com"
        assert (await client.get("/also-bad", params={"delay": 11})).status_code == 422

        # The sync session under a detector of blocking calls on the loop. (/bad is shown
        # stalling a real server in test_serve: failing its socket here would leak it.)
        with blockbuster_ctx("unstuck"), pytest.raises(BlockingError, match="sqlite3"):
            await client.get("/also-bad")


async def test_openapi_request_schemas_carry_examples(
    sqlite_settings: Settings, serve: ServeApp
) -> None:
    async with serve(sqlite_settings) as client:
        schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    for name in ("UserCreate", "ComputeRequest", "InferenceRequest"):
        assert schemas[name]["examples"], name


async def test_head_is_get_without_a_body(sqlite_settings: Settings, serve: ServeApp) -> None:
    async with serve(sqlite_settings) as client:
        for path in ("/users", "/users?limit=5", "/report"):
            got = await client.get(path)
            head = await client.head(path)
            assert head.status_code == got.status_code == 200, path
            assert head.content == b""
            assert head.headers["content-type"] == got.headers["content-type"]
            assert "content-length" in head.headers
        assert (await client.head("/health")).status_code == (
            await client.get("/health")
        ).status_code
        assert (await client.head("/users/12345")).status_code == 404
        assert (await client.head("/users/x")).status_code == 422


async def test_405_names_every_method_of_the_path(
    sqlite_settings: Settings, serve: ServeApp
) -> None:
    async with serve(sqlite_settings) as client:
        # Two routes share /users; the 405 used to name only the first one's POST.
        for method in ("DELETE", "PUT", "OPTIONS"):
            response = await client.request(method, "/users")
            assert response.status_code == 405
            assert response.headers["allow"] == "GET, HEAD, POST"
        compute = await client.head("/compute")
        assert compute.status_code == 405
        assert compute.headers["allow"] == "POST"
        user = await client.delete("/users/1")
        assert user.status_code == 405
        assert user.headers["allow"] == "GET, HEAD"


async def test_openapi_tells_the_limits_and_errors_the_routes_answer(
    sqlite_settings: Settings, serve: ServeApp
) -> None:
    settings = sqlite_settings.model_copy(update={"max_delay_s": 2.5, "compute_max_n": 1234})
    async with serve(settings) as client:
        schema = (await client.get("/openapi.json")).json()
        too_long = await client.get("/async", params={"delay": 2.6})
    paths = schema["paths"]
    for path in ("/async", "/sync", "/proxy", "/safe"):
        (delay,) = paths[path]["get"]["parameters"]
        assert delay["schema"]["maximum"] == 2.5, path
    assert too_long.status_code == 422
    n = schema["components"]["schemas"]["ComputeRequest"]["properties"]["n"]
    assert n["maximum"] == 1234
    assert "x-unstuck-maximum-setting" not in str(schema)
    assert {"404", "503"} <= set(paths["/cached/users/{user_id}"]["get"]["responses"])
    assert "409" in paths["/users"]["post"]["responses"]
    assert {"502", "504"} <= set(paths["/safe"]["get"]["responses"])
    for path in ("/videos/{task_id}", "/videos/{task_id}/thumbnail"):
        operation = paths[path]["get"]
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert headers == {"Range", "If-Range"}, path
        assert {"206", "416"} <= set(operation["responses"]), path
