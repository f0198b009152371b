"""Shared fixtures: URLs of the real services the tests talk to.

A test that needs PostgreSQL, Redis or RabbitMQ asks for the fixture; it is
skipped with the reason when the service is unreachable, unless
``UNSTUCK_REQUIRE_SERVICES=1`` (set by CI), where an unreachable service fails.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.own_servers import S3Server, free_port

POSTGRES_URL = os.environ.get(
    "UNSTUCK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("UNSTUCK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("UNSTUCK_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        address = (parts.hostname or "127.0.0.1", parts.port or default_port)
        with socket.create_connection(address, 2):
            return True
    except OSError:
        return False


def _require(name: str, url: str, default_port: int) -> str:
    if _reachable(url, default_port):
        return url
    message = f"{name} is not reachable at {url}"
    if os.environ.get("UNSTUCK_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message} and UNSTUCK_REQUIRE_SERVICES=1")
    pytest.skip(f"{message}; start it or set the URL in the environment")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A libpq-style URL (``postgresql://...``) of a reachable PostgreSQL."""
    return _require("PostgreSQL", POSTGRES_URL, 5432)


@pytest.fixture(scope="session")
def redis_url() -> str:
    return _require("Redis", REDIS_URL, 6379)


@pytest.fixture(scope="session")
def amqp_url() -> str:
    return _require("RabbitMQ", AMQP_URL, 5672)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """An S3-compatible endpoint of the tests' own, shared by the session."""
    server = S3Server(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()
