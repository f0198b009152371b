"""Every stall names its origin, on real uvicorn processes: the request a task
works for, the request that spawned it, the middleware before routing, the
start-up and shutdown, garbage collection; and what the loop thread did."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import APPS, TOKEN, Server, marker_line, stall_count, stalls_after

ORIGIN_APP = APPS / "origin_app.py"
STALL_APP = APPS / "stall_app.py"
WATCH_DIR = str(Path(__file__).parents[2] / "src" / "unstuck" / "watch")


def _stalls_of(server: Server, path: str) -> list[dict[str, Any]]:
    before = stall_count(server)
    status, _, body = server.request(path)
    assert status == 200, body
    # Leave out the stalls of a starved machine: they belong to no code.
    return [s for s in stalls_after(server, before) if s["cause"] != "starved"]


def _in_the_app(stalls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stalls the app's code caused (a loaded machine may add others)."""
    in_app = [s for s in stalls if s["where"] and s["where"]["path"] == str(ORIGIN_APP)]
    assert in_app, f"no stall blamed on {ORIGIN_APP.name}: {stalls}"
    return in_app


def _where(marker: str, path: Path = ORIGIN_APP) -> dict[str, Any]:
    return {"path": str(path), "line": marker_line(path, marker)}


@pytest.fixture(scope="module")
def origin_server() -> Iterator[Server]:
    server = Server("origin_app:app", {"UNSTUCK_WATCH_TOKEN": TOKEN, "STALL_S": "0.3"})
    yield server
    server.stop()


@pytest.mark.parametrize("path", ["/gather", "/wait-for", "/task-group"])
def test_fan_out_inside_a_request_names_its_route(origin_server: Server, path: str) -> None:
    stalls = _in_the_app(_stalls_of(origin_server, path))
    assert [s["origin"] for s in stalls] == [f"GET {path}"], stalls
    stall = stalls[0]
    assert stall["kind"] == "request" and stall["route"] == f"GET {path}"
    assert {"path": stall["where"]["path"], "line": stall["where"]["line"]} == _where("blocker")


def test_a_task_that_outlives_its_request_is_spawned_by_it(origin_server: Server) -> None:
    before = stall_count(origin_server)
    assert origin_server.request("/spawn")[0] == 200
    stalls = _in_the_app(stalls_after(origin_server, before))
    assert [s["origin"] for s in stalls] == ["spawned by GET /spawn"], stalls
    assert stalls[0]["kind"] == "spawned" and stalls[0]["route"] is None
    assert stalls[0]["where"]["line"] == marker_line(ORIGIN_APP, "spawned")


def test_a_middleware_before_routing_names_method_and_path(origin_server: Server) -> None:
    stalls = _in_the_app(_stalls_of(origin_server, "/audited/7"))
    assert [s["origin"] for s in stalls] == ["GET /audited/7 (before routing)"], stalls
    assert stalls[0]["kind"] == "before routing" and stalls[0]["route"] is None
    assert stalls[0]["where"]["line"] == marker_line(ORIGIN_APP, "middleware")


def test_garbage_collection_is_its_own_kind_and_the_awaiting_route_is_not_blamed(
    origin_server: Server,
) -> None:
    before = stall_count(origin_server)
    assert origin_server.request("/gc")[0] == 200
    stalls = stalls_after(origin_server, before)
    assert stalls, "the collection did not stall the loop"
    assert all(s["route"] is None and "GET /gc" not in s["origin"] for s in stalls), stalls
    collections = [s for s in stalls if s["kind"] == "garbage collection"]
    assert collections, stalls
    assert collections[0]["gc_ms"] >= collections[0]["duration_ms"] / 2
    metrics = origin_server.request("/_unstuck/metrics", TOKEN)[2].decode()
    assert 'unstuck_stalls_total{route="(garbage collection)"}' in metrics


def test_start_up_and_shutdown_are_kinds_of_their_own() -> None:
    env = {"UNSTUCK_WATCH_TOKEN": TOKEN, "STALL_S": "0.3", "BLOCK_IN": "start-up,shutdown"}
    server = Server("origin_app:app", env)
    try:
        stalls = _in_the_app(stalls_after(server, 0))
        start_up = [s for s in stalls if s["kind"] == "start-up"]
        assert [s["origin"] for s in start_up] == ["start-up"], stalls
        assert start_up[0]["where"]["line"] == marker_line(ORIGIN_APP, "start-up")
    finally:
        log = server.stop()
    line = marker_line(ORIGIN_APP, "shutdown")
    assert f"in shutdown at {ORIGIN_APP}:{line} in lifespan" in log


def test_a_stall_outside_any_task_does_not_point_at_the_run_line() -> None:
    run_app = APPS / "run_app.py"
    server = Server("run_app.py", {"UNSTUCK_WATCH_TOKEN": TOKEN, "STALL_S": "0.3"})
    try:
        stalls = [s for s in _stalls_of(server, "/callback") if s["duration_ms"] >= 150]
    finally:
        server.stop()
    assert stalls, "the callback did not stall the loop"
    stall = stalls[0]
    assert stall["kind"] == "outside" and stall["route"] is None
    # Nothing of the app ran: neither its uvicorn.run(...) line nor any other is blamed.
    assert all(frame["path"] != str(run_app) for frame in stall["stack"]), stall["stack"]
    assert stall["where"]["path"] != str(run_app)


def test_a_fresh_app_reports_no_stall_of_its_own() -> None:
    # At 20 ms, importing anyio's backend on the loop (the first gauge sample) would show.
    env = {"UNSTUCK_WATCH_TOKEN": TOKEN, "UNSTUCK_WATCH_THRESHOLD_MS": "20"}
    server = Server("origin_app:app", env)
    try:
        time.sleep(2.5)  # the first gauge samples happen meanwhile
        stalls = server.json("/_unstuck")["stalls"]
    finally:
        server.stop()
    # A starved loop thread may be caught in any code, the watcher's included: not its fault.
    own = [
        s
        for s in stalls
        if s["cause"] != "starved"
        and any(f["path"].startswith(WATCH_DIR) or "importlib" in f["path"] for f in s["stack"])
    ]
    assert own == [], own


def test_cpu_work_is_told_from_waiting(stall_server: Server) -> None:
    def stall_of(path: str) -> dict[str, Any]:
        before = stall_count(stall_server)
        assert stall_server.request(path)[0] == 200
        stalls = [s for s in stalls_after(stall_server, before) if s["route"] == f"GET {path}"]
        assert stalls, f"no stall for {path}"
        return stalls[0]

    cpu, sleep = stall_of("/cpu"), stall_of("/sleep")
    # On a loaded machine the busy loop may also wait for a CPU ("starved"); it never sleeps.
    assert cpu["cause"] in {"cpu", "starved"}, cpu
    assert cpu["cpu_ms"] + cpu["runnable_ms"] >= cpu["duration_ms"] / 2, cpu
    assert sleep["cause"] == "waiting" and sleep["cpu_ms"] < sleep["duration_ms"] / 2, sleep
    assert "(waiting in a blocking call:" in stall_server.log()


@pytest.mark.skipif(
    not Path(f"/proc/self/task/{os.getpid()}/schedstat").exists(), reason="needs Linux schedstat"
)
def test_a_loop_thread_given_no_cpu_is_marked_starved() -> None:
    # The server shares one CPU with a busy process of higher priority: its loop
    # thread, kept ready to run by a task that works in 1 ms steps, gets almost no
    # CPU. (An idle loop would not do: a scheduler may run a thread that wakes from
    # sleep at once, whatever its priority.) The stalls name no route.
    cpu = sorted(os.sched_getaffinity(0))[-1]
    wrapper = ["taskset", "-c", str(cpu), "nice", "-n", "19"]
    env = {"UNSTUCK_WATCH_TOKEN": TOKEN, "UNSTUCK_WATCH_THRESHOLD_MS": "20"}
    server = Server("stall_app:app", env, wrapper=wrapper)
    autogroup = Path(f"/proc/{server.process.pid}/autogroup")
    if autogroup.exists():
        # With autogroup scheduling, nice weighs only within a session: lower the whole group.
        autogroup.write_text("19")
    assert server.request("/spin?seconds=4")[0] == 200
    hog = subprocess.Popen(
        ["taskset", "-c", str(cpu), sys.executable, "-c", "import time\nt=time.time()+1.5\n"
         "while time.time() < t: pass"]
    )  # fmt: skip
    try:
        hog.wait(10)
        # The watchdog thread was starved too: it records the stall once it runs again,
        # which may be after the loop has answered a first request.
        deadline = time.monotonic() + 5
        while True:
            stalls = server.json("/_unstuck")["stalls"]
            starved = [s for s in stalls if s["cause"] == "starved"]
            if starved or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert starved, stalls
        assert all(s["route"] is None for s in starved)
        assert starved[0]["runnable_ms"] >= starved[0]["duration_ms"] / 2
        assert "the machine was busy" in server.log()
    finally:
        hog.kill()
        hog.wait()
        server.stop()
