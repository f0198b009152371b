"""Correct refusals: what the schema allows but the service cannot store or serve."""

from __future__ import annotations

import logging
import sqlite3
import uuid
from pathlib import Path

import av
import numpy as np
import pytest

from tests.service.conftest import ServeApp
from unstuck.service import transcode
from unstuck.service.settings import Settings

pytestmark = pytest.mark.anyio


async def test_an_email_that_grows_when_lower_cased_is_a_422(
    settings: Settings, serve: ServeApp
) -> None:
    # 247 characters as sent, 487 once lower-cased: "İ".lower() is two characters.
    email = "İ" * 240 + "@ex.com"
    async with serve(settings) as client:
        response = await client.post("/users", json={"name": "Ada", "email": email})
        assert response.status_code == 422, response.text
        assert "once lower-cased" in response.json()["detail"][0]["msg"]
        padded = " " * 300 + "ada@example.com" + "\t"
        stored = await client.post("/users", json={"name": " Ada ", "email": padded})
    assert stored.status_code == 201
    assert stored.json()["email"] == "ada@example.com"


async def test_an_integer_of_thousands_of_digits_is_a_422(
    sqlite_settings: Settings, serve: ServeApp
) -> None:
    async with serve(sqlite_settings) as client:
        response = await client.post(
            "/compute",
            content=b'{"n": ' + b"9" * 5000 + b"}",
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 422
    assert "too many digits" in response.json()["detail"][0]["msg"]


async def test_an_uppercase_task_id_is_a_task_id(
    sqlite_settings: Settings, serve: ServeApp
) -> None:
    task_id = str(uuid.uuid4())
    async with serve(sqlite_settings) as client:
        upper = await client.get(f"/task/{task_id.upper()}")
        braces = await client.get(f"/task/{{{task_id}}}")
    # Looked up (and not issued here), rather than refused as malformed.
    assert upper.status_code == 404
    assert "task ids are UUIDs" not in upper.json()["detail"]
    assert "task ids are UUIDs" in braces.json()["detail"]


@pytest.mark.parametrize("kind", ["JPEG", "PNG"])
def test_a_still_image_is_not_a_video(tmp_path: Path, kind: str) -> None:
    from PIL import Image

    path = tmp_path / f"photo.{kind.lower()}"
    pixels = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, kind)
    with av.open(str(path)) as container:
        assert container.streams.video  # what FFmpeg sees: a one-frame "video"
    with pytest.raises(transcode.NotAVideoError, match="still image"):
        transcode.probe(path)


async def test_database_errors_are_logged_without_personal_data(
    sqlite_settings: Settings, serve: ServeApp, caplog: pytest.LogCaptureFixture
) -> None:
    database = sqlite_settings.sqlite_path
    assert database is not None
    async with serve(sqlite_settings) as client:
        with sqlite3.connect(database) as connection:
            connection.execute("DROP TABLE users")
        with caplog.at_level(logging.ERROR, logger="unstuck.service"):
            response = await client.post(
                "/users", json={"name": "Grace Hopper", "email": "grace@navy.example"}
            )
    assert response.status_code == 503
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "OperationalError" in logged
    assert "grace" not in logged.lower()
    assert "Hopper" not in logged
