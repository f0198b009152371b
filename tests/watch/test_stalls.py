"""Every kind of stall, on a real uvicorn process, named with its route and line."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import APPS, Server, marker_line, stall_count, stalls_after

APP_FILE = str(APPS / "stall_app.py")


def _stall_of(server: Server, path: str, route: str) -> dict[str, Any]:
    before = stall_count(server)
    status, _, body = server.request(path)
    assert status == 200, body
    stalls = [s for s in stalls_after(server, before) if s["route"] == route]
    assert stalls, f"no stall for {route}; log:\n{server.log()[-3000:]}"
    return stalls[0]


def _assert_blames(stall: dict[str, Any], function: str, marker: str) -> None:
    line = marker_line(Path(APP_FILE), marker)
    assert stall["where"] == {"path": APP_FILE, "line": line, "function": function}
    innermost_app_frame = [f for f in stall["stack"] if f["path"] == APP_FILE][-1]
    assert innermost_app_frame["line"] == line
    # Durations come from the heartbeat: never longer than the truth, rarely much shorter.
    assert 150 <= stall["duration_ms"] <= 5000


@pytest.mark.parametrize(
    ("path", "route", "function", "marker"),
    [
        ("/sleep", "GET /sleep", "blocking_sleep", "sleep"),
        ("/items/42", "GET /items/{item_id}", "read_item", "item"),
        ("/socket", "GET /socket", "blocking_socket", "socket"),
        ("/cpu", "GET /cpu", "busy_loop", "cpu"),
    ],
)
def test_stall_names_route_and_line(
    stall_server: Server, path: str, route: str, function: str, marker: str
) -> None:
    stall = _stall_of(stall_server, path, route)
    _assert_blames(stall, function, marker)
    assert stall["samples"] >= 1
    assert stall["pid"] > 0 and stall["at"].endswith("+00:00")


def test_stall_in_c_code_holding_the_gil(stall_server: Server) -> None:
    # The watchdog cannot run while the regex engine holds the GIL: the stack is
    # taken right after, the duration from the heartbeat. When the loop thread keeps
    # the GIL past the regex until its next heartbeat (the switch interval decides),
    # the sample comes too late and the stall names no route: a known race, so a
    # few attempts are made and one of them must name the route and the line.
    before = stall_count(stall_server)
    for _ in range(3):
        status, _, body = stall_server.request("/regex?n=23")
        assert status == 200, body
        named = [s for s in stalls_after(stall_server, before) if s["route"] == "GET /regex"]
        if named:
            break
    assert named, f"no stall for GET /regex; log:\n{stall_server.log()[-3000:]}"
    _assert_blames(named[0], "catastrophic_regex", "regex")


def test_stall_in_blocking_file_io(stall_server: Server, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def writer() -> None:
        time.sleep(0.3)
        with open(fifo, "wb") as pipe:
            pipe.write(b"data")

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        stall = _stall_of(stall_server, f"/fifo?path={fifo}", "GET /fifo")
    finally:
        thread.join()
    _assert_blames(stall, "blocking_file", "file")


@pytest.mark.parametrize("path", ["/async-sleep", "/thread-sleep"])
def test_awaiting_or_thread_pool_routes_are_never_blamed(stall_server: Server, path: str) -> None:
    before = stall_count(stall_server)
    status, _, _ = stall_server.request(path)
    assert status == 200
    time.sleep(0.3)
    new = stalls_after(stall_server, before, expected=0)
    blamed = [s for s in new if s["route"] is not None or s["where"]["path"] == APP_FILE]
    assert blamed == []


def test_idle_app_reports_no_stall_of_its_code(stall_server: Server) -> None:
    before = stall_count(stall_server)
    time.sleep(1.0)
    new = stalls_after(stall_server, before, expected=0)
    # A loaded machine may starve the process; that is never put on a route.
    assert [s for s in new if s["route"] is not None] == []
    data = stall_server.json("/_unstuck")
    assert data["running"] is True
    assert data["loop"]["p50_ms"] < 50


def test_stall_is_logged_as_one_structured_record(stall_server: Server) -> None:
    _stall_of(stall_server, "/items/7", "GET /items/{item_id}")
    line = marker_line(Path(APP_FILE), "item")
    expected = f"in GET /items/{{item_id}} at {APP_FILE}:{line} in read_item"
    assert expected in stall_server.log()


def test_diagnostics_json_contract(stall_server: Server) -> None:
    _stall_of(stall_server, "/sleep", "GET /sleep")
    data = stall_server.json("/_unstuck")
    assert {"stalls", "loop", "threadpool", "db_pools", "inflight"} <= data.keys()
    stall = data["stalls"][0]
    assert {"route", "duration_ms", "at", "stack"} <= stall.keys()
    assert all(set(frame) == {"path", "line", "function"} for frame in stall["stack"])
    assert {"lag_ms", "p50_ms", "p99_ms", "max_ms", "chart"} <= data["loop"].keys()
    assert data["loop"]["max_ms"] >= 150
    assert data["threadpool"] == {"borrowed": 0, "total": 40, "waiting": 0}
    assert data["inflight"] == []
