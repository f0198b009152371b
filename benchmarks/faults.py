"""The service under faults and abuse, on real ``unstuck serve`` processes: figures.

Each phase starts what it needs, does the harm, and counts every answer:

* ``start``: a fresh ``serve`` start; does the watcher report a stall?
* ``pool``: ``/ml-inference`` under load while a process of the pool is SIGKILLed;
  statuses, and how long until the first success after the kill;
* ``body``: a 64 MB JSON body to ``POST /users`` while ``/health`` is probed;
* ``idle``: 20,000 idle connections (two client processes), then ``/health``;
* ``db`` (root only): PostgreSQL of its own behind a veth pair in a network
  namespace, the link taken down for a few seconds under mixed load; the worst
  answer time against the configured bound, and the first success once back.

A request is "hung" when it has no answer after ``HUNG_S``. The verdict: no
500, nothing hung, first success after the pool crash within 5 s, every
answer of the database outage within its bound, the 64 MB body a 413 with
``/health`` under 250 ms, ``/health`` answering through the idle connections,
and no stall at start. Figures come from whatever machine runs this: on a
shared, loaded one they are upper bounds.

    uv run python benchmarks/faults.py [--phases start,pool,body,idle,db]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
HUNG_S = 60.0
BODY_LIMIT = 64 * 1024  # UNSTUCK_MAX_BODY_BYTES's default
IRIS = {"features": [[5.1, 3.5, 1.4, 0.2]]}
# Short database bounds for the outage phase, so that it takes seconds.
DB_BOUNDS = {
    "UNSTUCK_DB_CONNECT_TIMEOUT_S": "1",
    "UNSTUCK_DB_STATEMENT_TIMEOUT_S": "2",
    "UNSTUCK_DB_TCP_USER_TIMEOUT_S": "1.5",
    "UNSTUCK_DB_KEEPALIVE_IDLE_S": "1",
    "UNSTUCK_DB_KEEPALIVE_INTERVAL_S": "1",
    "UNSTUCK_DB_KEEPALIVE_COUNT": "2",
    "UNSTUCK_POOL_TIMEOUT": "2",
}
# Dead connection found (TCP user timeout) + a new one tried (connect) + pool wait.
DB_BOUND_S = 1.5 + 1.0 + 2.0


@dataclass
class Phase:
    name: str
    statuses: Counter[int] = field(default_factory=Counter)
    hung: int = 0
    figures: dict[str, float | str] = field(default_factory=dict)
    passed: bool = True


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(data_dir: Path, **variables: str) -> Iterator[Served]:
    port = _free_port()
    log = data_dir / "serve.log"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("UNSTUCK_")}
    command = [sys.executable, "-m", "unstuck", "serve", "--port", str(port), "--no-worker"]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*command, "--data-dir", str(data_dir)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**clean, **variables},
            start_new_session=True,
        )
    served = Served(process, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"serve exited:\n{served.output()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"serve did not start:\n{served.output()}")
            try:
                # Without a video worker (--no-worker) /health is a 503: an answer all the same.
                if httpx.get(f"{served.url}/health", timeout=2).status_code in (200, 503):
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield served
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@dataclass(frozen=True)
class Answer:
    started: float
    ended: float
    status: int  # 0: no answer within HUNG_S (or the connection failed)

    @property
    def elapsed(self) -> float:
        return self.ended - self.started


def _call(client: httpx.Client, method: str, path: str, body: object = None) -> Answer:
    started = time.monotonic()
    try:
        response = client.request(method, path, json=body, timeout=HUNG_S)
        status = response.status_code
    except httpx.HTTPError:
        status = 0
    return Answer(started, time.monotonic(), status)


def _load(
    url: str, requests: Callable[[int], tuple[str, str, object]], stop: threading.Event, rate: float
) -> list[Answer]:
    """Sends requests at about `rate` per second from a pool of threads until `stop`."""
    answers: list[Answer] = []
    with httpx.Client(base_url=url) as client, ThreadPoolExecutor(32) as pool:
        futures = []
        index = 0
        while not stop.is_set():
            method, path, body = requests(index)
            futures.append(pool.submit(_call, client, method, path, body))
            index += 1
            time.sleep(1 / rate)
        answers = [future.result() for future in futures]
    return answers


def _count(phase: Phase, answers: list[Answer]) -> None:
    for answer in answers:
        if answer.status == 0 and answer.elapsed >= HUNG_S - 1:
            phase.hung += 1
        phase.statuses[answer.status] += 1


def phase_start(work: Path) -> Phase:
    phase = Phase("start")
    with serving(work / "start") as served:
        stalls = served.output().count("event loop blocked")
    phase.figures["stalls reported at start"] = stalls
    phase.passed = stalls == 0
    return phase


def phase_pool(work: Path) -> Phase:
    phase = Phase("pool")
    with serving(work / "pool") as served:
        first = httpx.post(f"{served.url}/ml-inference", json=IRIS, timeout=HUNG_S)
        pid = first.json()["worker_pid"]
        stop = threading.Event()
        answers: list[Answer] = []
        loader = threading.Thread(
            target=lambda: answers.extend(
                _load(served.url, lambda i: ("POST", "/ml-inference", IRIS), stop, 40)
            )
        )
        loader.start()
        time.sleep(2)
        os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        time.sleep(5)
        stop.set()
        loader.join()
        health = httpx.get(f"{served.url}/health").json()["pools"]["process_pool"]
    _count(phase, answers)
    after = [a for a in answers if a.started >= killed_at and a.status == 200]
    first_success = min(a.ended for a in after) - killed_at if after else float("inf")
    phase.figures["first success after the kill (s)"] = round(first_success, 3)
    phase.figures["503 with Retry-After"] = phase.statuses[503]
    phase.figures["rebuilds in /health"] = health["rebuilds"]
    phase.passed = first_success < 5 and health["rebuilds"] >= 1
    return phase


def _probe_health(url: str, stop: threading.Event, latencies: list[float]) -> None:
    with httpx.Client(base_url=url) as client:
        while not stop.is_set():
            answer = _call(client, "GET", "/health")
            if answer.status in (200, 503):
                latencies.append(answer.elapsed)
            time.sleep(0.02)


def phase_body(work: Path) -> Phase:
    phase = Phase("body")
    body = json.dumps({"name": "Ada", "email": "a" * (64 * 1024 * 1024) + "@example.com"})
    with serving(work / "body") as served:
        stop, latencies = threading.Event(), []
        prober = threading.Thread(target=_probe_health, args=(served.url, stop, latencies))
        prober.start()
        time.sleep(0.5)
        started = time.monotonic()
        try:
            response = httpx.post(
                f"{served.url}/users",
                content=body.encode(),
                headers={"content-type": "application/json"},
                timeout=HUNG_S,
            )
            status = response.status_code
        except httpx.HTTPError:
            status = 0
        answered = time.monotonic() - started
        # Bodies just under the limit are parsed on the loop: how long does that hold it?
        # Rows of the shortest numbers: the most values to validate per byte.
        rows = [[1, 1, 1, 1]] * (BODY_LIMIT // 10 - 2)
        under = json.dumps({"features": rows}, separators=(",", ":")).encode()
        with httpx.Client(base_url=served.url, timeout=HUNG_S) as client:
            for _ in range(10):
                sent = client.post(
                    "/ml-inference", content=under, headers={"content-type": "application/json"}
                )
                phase.statuses[sent.status_code] += 1
        time.sleep(0.5)
        stop.set()
        prober.join()
        stalls = served.output().count("event loop blocked")
    phase.statuses[status] += 1
    phase.figures["bodies just under the limit (bytes)"] = len(under)
    phase.figures["stalls reported"] = stalls
    phase.figures["64 MB body status"] = status
    phase.figures["answered after (s)"] = round(answered, 3)
    phase.figures["/health median (ms)"] = round(statistics.median(latencies) * 1000, 1)
    phase.figures["/health max (ms)"] = round(max(latencies) * 1000, 1)
    phase.passed = status == 413 and max(latencies) < 0.25 and stalls == 0
    return phase


def _hold_connections(url: str, count: int, ready: Connection, done: Connection) -> None:
    host, port = url.removeprefix("http://").split(":")
    held = []
    for _ in range(count):
        try:
            held.append(socket.create_connection((host, int(port)), timeout=10))
        except OSError:
            break
    ready.send(len(held))
    done.recv()
    closed = 0
    for sock in held:
        sock.setblocking(False)
        try:
            if sock.recv(1) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
        sock.close()
    ready.send(closed)


def phase_idle(work: Path, connections: int = 20_000) -> Phase:
    phase = Phase("idle")
    # A long head deadline: the point is the connection cap, not the deadline.
    with serving(work / "idle", UNSTUCK_HEAD_TIMEOUT_S="120") as served:
        context = multiprocessing.get_context("spawn")
        holders = []
        for _ in range(2):
            ours, theirs = context.Pipe()
            done_ours, done_theirs = context.Pipe()
            process = context.Process(
                target=_hold_connections, args=(served.url, connections // 2, theirs, done_theirs)
            )
            process.start()
            holders.append((process, ours, done_ours))
        opened = sum(ours.recv() for _, ours, _ in holders)
        latencies = []
        with httpx.Client(base_url=served.url) as client:
            for _ in range(20):
                answer = _call(client, "GET", "/health")
                phase.statuses[answer.status] += 1
                latencies.append(answer.elapsed)
                time.sleep(0.1)
        for _, _, done in holders:
            done.send(True)
        closed = sum(ours.recv() for _, ours, _ in holders)
        for process, _, _ in holders:
            process.join()
    phase.figures["idle connections opened"] = opened
    phase.figures["closed by the server (cap)"] = closed
    answered = phase.statuses[200] + phase.statuses[503]
    phase.figures["/health answered"] = f"{answered}/20"
    phase.figures["/health max (ms)"] = round(max(latencies) * 1000, 1)
    phase.passed = answered == 20
    return phase


def phase_db(work: Path) -> Phase:
    phase = Phase("db")
    if os.geteuid() != 0:
        phase.figures["skipped"] = "needs root for a network namespace"
        return phase
    sys.path.insert(0, str(ROOT))
    from tests.own_servers import isolated_link, own_postgres

    def mixed(index: int) -> tuple[str, str, object]:
        choices: list[tuple[str, str, object]] = [
            ("GET", "/users/1", None),
            ("GET", "/sync/users/1", None),
            ("GET", "/users", None),
            ("POST", "/users", {"name": "Ada", "email": f"ada{index}@example.com"}),
            ("GET", "/health", None),
        ]
        return choices[index % len(choices)]

    with isolated_link() as link:
        wrap = ["ip", "netns", "exec", link.namespace]
        with (
            own_postgres(link.server_address, wrap=wrap) as server,
            serving(work / "db", UNSTUCK_DATABASE_URL=server.url(), **DB_BOUNDS) as served,
        ):
            stop = threading.Event()
            answers: list[Answer] = []
            loader = threading.Thread(
                target=lambda: answers.extend(_load(served.url, mixed, stop, 20))
            )
            loader.start()
            time.sleep(2)
            link.cut()
            cut_at = time.monotonic()
            time.sleep(6)
            link.restore()
            restored_at = time.monotonic()
            time.sleep(6)
            stop.set()
            loader.join()
    _count(phase, answers)
    during = [a for a in answers if cut_at <= a.started < restored_at]
    back = [a for a in answers if a.started >= restored_at and a.status in (200, 201, 404)]
    worst = max((a.elapsed for a in during), default=0.0)
    phase.figures["requests during the outage"] = len(during)
    phase.figures["worst answer during the outage (s)"] = round(worst, 3)
    phase.figures["configured bound (s)"] = DB_BOUND_S
    phase.figures["first success after the link is back (s)"] = (
        round(min(a.ended for a in back) - restored_at, 3) if back else "none"
    )
    phase.passed = worst <= DB_BOUND_S + 1 and bool(back)
    return phase


PHASES: dict[str, Callable[[Path], Phase]] = {
    "start": phase_start,
    "pool": phase_pool,
    "body": phase_body,
    "idle": phase_idle,
    "db": phase_db,
}


def verdict(phases: list[Phase]) -> tuple[bool, int, int]:
    """All phases passed, with no 500 and nothing hung; and those two counts."""
    errors = sum(phase.statuses[500] for phase in phases)
    hung = sum(phase.hung for phase in phases)
    return all(phase.passed for phase in phases) and errors == 0 and hung == 0, errors, hung


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phases", default=",".join(PHASES))
    args = parser.parse_args()
    phases = []
    with tempfile.TemporaryDirectory(prefix="unstuck-faults-") as work:
        for name in args.phases.split(","):
            directory = Path(work) / name
            directory.mkdir()
            started = time.monotonic()
            phase = PHASES[name](Path(work))
            outcome = "ok" if phase.passed else "FAILED"
            print(f"\n[{name}] {outcome} ({time.monotonic() - started:.0f} s)")
            print(f"  statuses: {dict(sorted(phase.statuses.items()))}, hung: {phase.hung}")
            for key, value in phase.figures.items():
                print(f"  {key}: {value}")
            phases.append(phase)
    passed, errors, hung = verdict(phases)
    print(f"\n500s: {errors}, hung: {hung}, verdict: {'holds' if passed else 'does not hold'}")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
