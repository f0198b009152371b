"""FastAPI's native OpenTelemetry: off by default, a span per request with ``UNSTUCK_TELEMETRY``."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import NoOpTracer, Span, TracerProvider

from unstuck.service.settings import Settings

from .conftest import ServeApp

pytestmark = pytest.mark.anyio


class RecordingTracer(NoOpTracer):
    def __init__(self, started: list[str]) -> None:
        self.started = started

    def start_span(self, name: str, *args: Any, **kwargs: Any) -> Span:
        self.started.append(name)
        return super().start_span(name, *args, **kwargs)


class RecordingTracerProvider(TracerProvider):
    """A configured provider as FastAPI sees one (neither the API's proxy nor its no-op)."""

    def __init__(self) -> None:
        self.started: list[str] = []

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return RecordingTracer(self.started)


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> RecordingTracerProvider:
    recording = RecordingTracerProvider()
    # The global provider can be set once per process; the lookup is replaced instead.
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: recording)
    return recording


async def test_no_span_unless_asked_for(
    sqlite_settings: Settings, serve: ServeApp, provider: RecordingTracerProvider
) -> None:
    async with serve(sqlite_settings) as client:
        assert (await client.get("/async?delay=0")).status_code == 200
    assert provider.started == []


async def test_a_span_per_request_with_telemetry_on(
    sqlite_settings: Settings, serve: ServeApp, provider: RecordingTracerProvider
) -> None:
    settings = sqlite_settings.model_copy(update={"telemetry": True})
    async with serve(settings) as client:
        assert (await client.get("/async?delay=0")).status_code == 200
    # The server span (named by method, then by route once routed) and the endpoint's.
    assert provider.started[0] == "GET"
    assert "fastapi.endpoint" in provider.started


def test_the_setting_reads_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().telemetry is False
    monkeypatch.setenv("UNSTUCK_TELEMETRY", "1")
    assert Settings().telemetry is True
