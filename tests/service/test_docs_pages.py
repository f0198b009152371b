"""``/docs`` and ``/redoc`` work offline: every asset they load is served by the service."""

from __future__ import annotations

import re

import pytest

from tests.service.conftest import ServeApp
from unstuck.service.settings import Settings

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_doc_pages_load_nothing_from_elsewhere(
    sqlite_settings: Settings, serve: ServeApp, page: str
) -> None:
    async with serve(sqlite_settings) as client:
        html = (await client.get(page)).text
        sources = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert sources, html
        for source in sources:
            assert source.startswith("/"), f"{page} loads {source} from elsewhere"
            asset = await client.get(source)
            assert asset.status_code == 200, source
            assert len(asset.content) > 1000, source
        assert "fonts.googleapis" not in html
        assert (await client.get("/openapi.json")).status_code == 200
