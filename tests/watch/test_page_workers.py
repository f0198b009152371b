"""The page in headless Chromium: every worker, and the loop time by origin with its flame graph."""

from __future__ import annotations

import re
import time
from pathlib import Path

from .conftest import APPS, TOKEN, Server, marker_line
from .test_fleet import _env, _serving_workers
from .test_page import CHROMIUM, _rendered, pytestmark  # noqa: F401 (skips without Chromium)


def test_page_shows_all_workers_and_where_the_loop_time_went(tmp_path: Path) -> None:
    server = Server("fleet_app:app", _env(tmp_path), workers=2)
    try:
        pids = _serving_workers(server, 2)
        status, _, _ = server.request("/cuts")
        assert status == 200
        # Wait until every worker has published a snapshot with the loop time of /cuts.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            data = server.json("/_unstuck")
            busy = {
                w["pid"]: sum(o["seconds"] for o in w["loop_time"]["origins"]
                              if o["origin"] == "GET /cuts")
                for w in data["workers"]
            }  # fmt: skip
            if set(busy) == pids and sum(busy.values()) >= 0.8:
                break
            time.sleep(0.2)
        dom = _rendered(f"{server.base}/_unstuck/ui#token={TOKEN}")
    finally:
        server.stop()
    workers = dom.split('<tbody id="workers">', 1)[1].split("</tbody>", 1)[0]
    assert {int(pid) for pid in re.findall(r"<tr><td>(\d+)</td>", workers)} == pids
    loop_time = dom.split('<tbody id="looptime">', 1)[1].split("</tbody>", 1)[0]
    first_row = loop_time.split("</tr>", 1)[0]
    assert "<td>GET /cuts</td>" in first_row
    assert '<svg class="flame"' in first_row
    line = marker_line(APPS / "fleet_app.py", "cut")
    assert "one_cut /" in first_row and f"fleet_app.py:{line}" in first_row
