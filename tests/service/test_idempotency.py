"""Idempotency-Key on POST /users (and /upload-video, in test_videos.py): a retry gets the
first answer, the work is done once, on SQLite and PostgreSQL, also under a race."""

from __future__ import annotations

import anyio
import pytest

from unstuck.service.settings import Settings

from .conftest import ServeApp

pytestmark = pytest.mark.anyio


async def test_a_retry_gets_the_first_answer(settings: Settings, serve: ServeApp) -> None:
    ada = {"name": "Ada", "email": "ada@example.com"}
    async with serve(settings) as client:
        first = await client.post("/users", json=ada, headers={"Idempotency-Key": "k-1"})
        retry = await client.post("/users", json=ada, headers={"Idempotency-Key": "k-1"})
        other = await client.post(
            "/users", json={**ada, "name": "Eve"}, headers={"Idempotency-Key": "k-1"}
        )
        without = await client.post("/users", json=ada)
        listed = (await client.get("/users")).json()["items"]

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["location"] == first.headers["location"]
    # A key names one request: another body under it is refused, not done.
    assert other.status_code == 422
    (error,) = other.json()["detail"]  # the documented shape of every 422
    assert error["loc"] == ["header", "Idempotency-Key"]
    assert "used for another request" in error["msg"]
    # Without a key the POST is done again, and the unique email says so.
    assert without.status_code == 409
    assert [user["email"] for user in listed] == ["ada@example.com"]


async def test_concurrent_retries_create_one_user(settings: Settings, serve: ServeApp) -> None:
    grace = {"name": "Grace", "email": "grace@example.com"}
    answers: list[tuple[int, dict[str, object]]] = []
    async with serve(settings) as client:

        async def post() -> None:
            response = await client.post("/users", json=grace, headers={"Idempotency-Key": "g"})
            answers.append((response.status_code, response.json()))

        async with anyio.create_task_group() as group:
            for _ in range(10):
                group.start_soon(post)
        late = await client.post("/users", json=grace, headers={"Idempotency-Key": "g"})
        listed = (await client.get("/users")).json()["items"]

    created = [body for status, body in answers if status == 201]
    busy = [body for status, body in answers if status == 409]
    assert len(created) + len(busy) == 10, answers
    assert created and all(body == created[0] for body in created)
    assert all("still being handled" in str(body["detail"]) for body in busy)
    assert late.status_code == 201 and late.json() == created[0]
    assert len(listed) == 1


async def test_a_refusal_frees_the_key(settings: Settings, serve: ServeApp) -> None:
    taken = {"name": "Ada", "email": "ada@example.com"}
    async with serve(settings) as client:
        assert (await client.post("/users", json=taken)).status_code == 201
        refused = await client.post("/users", json=taken, headers={"Idempotency-Key": "r"})
        # Only successes are kept: the corrected request may use the same key.
        corrected = await client.post(
            "/users", json={**taken, "email": "ada2@example.com"}, headers={"Idempotency-Key": "r"}
        )
        empty_key = await client.post("/users", json=taken, headers={"Idempotency-Key": ""})

    assert refused.status_code == 409
    assert corrected.status_code == 201
    assert empty_key.status_code == 422
