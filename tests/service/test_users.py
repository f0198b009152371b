"""Users through the async engine, the sync engine and the cache, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from blockbuster import blockbuster_ctx

from unstuck.service.settings import Settings

from .conftest import ServeApp, ServeAppWithState

pytestmark = pytest.mark.anyio


async def test_create_then_read_through_both_engines(settings: Settings, serve: ServeApp) -> None:
    async with serve(settings) as client:
        # asyncpg stats its passfile and certificates when it opens a connection: open one first.
        assert (await client.get("/users")).status_code == 200
        with blockbuster_ctx("unstuck"):
            created = await client.post(
                "/users", json={"name": "  Ada Lovelace ", "email": "Ada@Example.com"}
            )
            assert created.status_code == 201, created.text
            user = created.json()
            assert user["name"] == "Ada Lovelace"
            assert user["email"] == "ada@example.com"
            assert user["created_at"].endswith(("Z", "+00:00"))
            assert created.headers["location"] == f"/users/{user['id']}"

            assert (await client.get(f"/users/{user['id']}")).json() == user
        # The sync routes run in the thread pool, where blocking is allowed.
        assert (await client.get(f"/sync/users/{user['id']}")).json() == user
        assert (await client.get("/sync/users")).json() == {"items": [user], "next_after": None}


async def test_duplicate_email_is_409_also_under_a_race(
    settings: Settings, serve: ServeApp
) -> None:
    async with serve(settings) as client:
        first = await client.post("/users", json={"name": "A", "email": "same@example.com"})
        assert first.status_code == 201
        again = await client.post("/users", json={"name": "B", "email": "SAME@example.com"})
        assert again.status_code == 409
        assert again.json()["detail"] == "a user with email same@example.com already exists"

        racers = [
            client.post("/users", json={"name": f"r{i}", "email": "race@example.com"})
            for i in range(8)
        ]
        statuses = sorted(response.status_code for response in await asyncio.gather(*racers))
        assert statuses == [201] + [409] * 7
        listed = (await client.get("/users", params={"limit": 100})).json()["items"]
        assert [user["email"] for user in listed] == ["same@example.com", "race@example.com"]


async def test_list_is_keyset_paginated(settings: Settings, serve: ServeApp) -> None:
    async with serve(settings) as client:
        for i in range(5):
            response = await client.post("/users", json={"name": f"u{i}", "email": f"u{i}@ex.org"})
            assert response.status_code == 201
        pages, after = [], 0
        while True:
            page = (await client.get("/users", params={"limit": 2, "after": after})).json()
            pages.append([user["name"] for user in page["items"]])
            if page["next_after"] is None:
                break
            after = page["next_after"]
        assert pages == [["u0", "u1"], ["u2", "u3"], ["u4"]]
        sync_page = (await client.get("/sync/users", params={"limit": 2, "after": 2})).json()
        assert [user["name"] for user in sync_page["items"]] == ["u2", "u3"]
        assert sync_page["next_after"] == 4


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Ada"},
        {"name": "Ada", "email": "not-an-email"},
        {"name": "Ada", "email": "ada@localhost"},
        {"name": "", "email": "ada@example.com"},
        {"name": "x" * 101, "email": "ada@example.com"},
        {"name": "Ada", "email": "a" * 250 + "@example.com"},
        {"name": 3, "email": "ada@example.com"},
        [],
    ],
)
async def test_invalid_user_is_422(
    sqlite_settings: Settings, serve: ServeApp, body: object
) -> None:
    async with serve(sqlite_settings) as client:
        response = await client.post("/users", json=body)
        assert response.status_code == 422
        assert response.json()["detail"]


@pytest.mark.parametrize(
    ("raw_body", "message"),
    [
        # NUL is refused by PostgreSQL's text type: it was a 503 there, a 201 on SQLite.
        (b'{"name": "A\\u0000da", "email": "ada@example.com"}', "control characters"),
        (b'{"name": "Ada", "email": "ada\\u0000@example.com"}', "control characters"),
        (b'{"name": "A\\u001bda", "email": "ada@example.com"}', "control characters"),
        # An unpaired surrogate has no UTF-8 form: echoing it back was a 500.
        (b'{"name": "\\ud800", "email": "ada@example.com"}', "unicode"),
    ],
)
async def test_unprintable_text_is_422_on_every_database(
    settings: Settings, serve: ServeApp, raw_body: bytes, message: str
) -> None:
    async with serve(settings) as client:
        response = await client.post(
            "/users", content=raw_body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422, response.text
        assert message in response.json()["detail"][0]["msg"]
        assert (await client.get("/users")).json()["items"] == []


async def test_malformed_json_is_422(sqlite_settings: Settings, serve: ServeApp) -> None:
    async with serve(sqlite_settings) as client:
        response = await client.post(
            "/users", content=b'{"name": "Ada", ', headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422
        assert "JSON" in str(response.json()["detail"])


async def test_body_in_another_media_type_is_415(
    sqlite_settings: Settings, serve: ServeApp
) -> None:
    body = b'{"name": "Ada", "email": "ada@example.com"}'
    async with serve(sqlite_settings) as client:
        for content_type in ("text/plain", "application/x-www-form-urlencoded"):
            response = await client.post(
                "/users", content=body, headers={"Content-Type": content_type}
            )
            assert response.status_code == 415
            assert "application/json" in response.json()["detail"]
            assert content_type in response.json()["detail"]
        untyped = await client.post("/users", content=body)
        assert untyped.status_code == 415
        assert "no Content-Type" in untyped.json()["detail"]


async def test_body_not_utf8_is_422(sqlite_settings: Settings, serve: ServeApp) -> None:
    async with serve(sqlite_settings) as client:
        response = await client.post(
            "/users", content=b'{"name": "\xff\xfe"}', headers={"Content-Type": "application/json"}
        )
        # Was FastAPI's 400 "There was an error parsing the body".
        assert response.status_code == 422
        (error,) = response.json()["detail"]
        assert error["type"] == "json_invalid"
        assert "not UTF-8" in error["msg"]


@pytest.mark.parametrize("prefix", ["/users", "/sync/users", "/cached/users"])
async def test_unknown_and_bad_ids(settings: Settings, serve: ServeApp, prefix: str) -> None:
    async with serve(settings) as client:
        missing = await client.get(f"{prefix}/12345")
        assert missing.status_code == 404
        assert missing.json() == {"detail": "no user with id 12345"}
        for bad in ("abc", "0", "-1", str(2**31), "1.5"):
            assert (await client.get(f"{prefix}/{bad}")).status_code == 422, bad


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=x", "after=-1"])
async def test_bad_page_is_422(sqlite_settings: Settings, serve: ServeApp, query: str) -> None:
    async with serve(sqlite_settings) as client:
        for prefix in ("/users", "/sync/users"):
            assert (await client.get(f"{prefix}?{query}")).status_code == 422


async def test_exhausted_pool_is_503_with_advice(
    settings: Settings, serve_with_state: ServeAppWithState
) -> None:
    small = settings.model_copy(update={"pool_size": 1, "max_overflow": 0, "pool_timeout": 0.2})
    async with serve_with_state(small) as (client, state):
        # Hold the only connection of the async engine, as a slow request would.
        async with state["async_engine"].connect():
            response = await client.get("/users")
        assert response.status_code == 503
        assert "pool is exhausted" in response.json()["detail"]
        assert "UNSTUCK_POOL_SIZE" in response.json()["detail"]
        assert (await client.get("/users")).status_code == 200


async def test_database_down_is_503(
    sqlite_settings: Settings, serve: ServeApp, unused_port: int
) -> None:
    down = sqlite_settings.model_copy(
        update={"database_url": f"postgresql+asyncpg://nobody@127.0.0.1:{unused_port}/none"}
    )
    async with serve(down) as client:
        for path in ("/users", "/users/1", "/sync/users", "/cached/users/1"):
            response = await client.get(path)
            assert response.status_code == 503, (path, response.text)
            assert "database is unavailable" in response.json()["detail"]
        health = await client.get("/health")
    # The loop still answers; the video pipeline cannot work without its database.
    assert health.status_code == 503
    assert health.json()["pipeline"]["problem"].startswith("the database is unreachable")
