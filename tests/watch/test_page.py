"""The live page in headless Chromium shows a stall that really happened."""

from __future__ import annotations

import shutil
import subprocess
import tempfile

import pytest

from .conftest import TOKEN, Server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")


def _rendered(url: str) -> str:
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory(prefix="unstuck-chromium-") as profile:
        command = [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--no-first-run",
            f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom", url,
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    return result.stdout


def test_page_shows_the_stall(stall_server: Server) -> None:
    status, _, _ = stall_server.request("/items/99")
    assert status == 200
    dom = _rendered(f"{stall_server.base}/_unstuck/ui#token={TOKEN}")
    stalls = dom.split('<tbody id="stalls">', 1)[1].split("</tbody>", 1)[0]
    assert "GET /items/{item_id}" in stalls
    assert "stall_app.py" in stalls and "read_item" in stalls
    assert '<div id="main">' in dom  # shown, not hidden behind the token form
    assert "<polyline" in dom  # the lag chart was drawn


def test_page_with_a_wrong_token_asks_again(stall_server: Server) -> None:
    dom = _rendered(f"{stall_server.base}/_unstuck/ui#token=wrong")
    assert "The token was refused." in dom
    assert "GET /items" not in dom
