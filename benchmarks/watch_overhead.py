"""What the watcher costs, and how well it measures stalls.

Throughput: requests/s of a trivial ``async def`` route on real uvicorn
processes (one per variant, uvicorn's default loop), driven by a load generator
in a separate process that opens keep-alive HTTP/1.1 connections with raw
asyncio streams. Rounds alternate between the variants so that drift of the
shared machine hits all of them alike; medians and ratios to "off" are printed.
The server's CPU time per request (from /proc) is printed too: on a machine
shared with other work it is a steadier measure of cost than requests/s, and
"capacity" (CPU per request of "off" divided by the variant's) is the share of
requests/s a saturated core keeps.

Variants: off, the watcher, the watcher's middleware alone (its per-request
part, without the heartbeat and the watchdog thread), asyncio debug mode (set in the lifespan),
pyinstrument profiling each request (its documented FastAPI recipe), and
blockbuster activated in the lifespan.

Stalls: the watched server sleeps on its loop for known times; the duration
error (reported minus the measured truth) and the report latency (from the end
of the stall until the diagnostics show it) are printed.

    uv run python benchmarks/watch_overhead.py [--rounds 5] [--seconds 3] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

TOKEN = "bench"
VARIANTS = ("off", "watch", "watch-middleware", "asyncio-debug", "pyinstrument", "blockbuster")

APP = textwrap.dedent(
    """
    import asyncio
    import os
    import time
    from contextlib import asynccontextmanager

    from fastapi import FastAPI, Request

    MODE = os.environ["BENCH_MODE"]


    @asynccontextmanager
    async def lifespan(app):
        buster = None
        if MODE == "asyncio-debug":
            asyncio.get_running_loop().set_debug(True)
        if MODE == "blockbuster":
            from blockbuster import BlockBuster

            buster = BlockBuster()
            buster.activate()
        yield
        if buster is not None:
            buster.deactivate()


    app = FastAPI(lifespan=lifespan)

    if MODE == "pyinstrument":
        from pyinstrument import Profiler

        @app.middleware("http")
        async def profile(request: Request, call_next):
            profiler = Profiler(async_mode="enabled")
            profiler.start()
            response = await call_next(request)
            profiler.stop()
            return response


    @app.get("/ping")
    async def ping():
        return {"ok": True}


    @app.get("/stall")
    async def stall(ms: float):
        started = time.perf_counter()
        time.sleep(ms / 1000)
        ended = time.perf_counter()
        return {"ms": (ended - started) * 1000, "ended": time.time()}


    if MODE.startswith("watch"):
        import unstuck

        lifespan_context = app.router.lifespan_context
        unstuck.watch(app, token="bench")
        if MODE == "watch-middleware":
            # Only the per-request part: the watchdog and heartbeat never start.
            app.router.lifespan_context = lifespan_context
    """
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(mode: str, app_dir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    command = [
        sys.executable, "-m", "uvicorn", "bench_app:app", "--app-dir", str(app_dir),
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    # The stall records go to stderr; the figures below say the same, so mute them.
    process = subprocess.Popen(
        command,
        env={**os.environ, "BENCH_MODE": mode},
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the {mode} server did not start")


async def _client(port: int, stop_at: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET /ping HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    done = 0
    try:
        while time.monotonic() < stop_at:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            done += 1
    finally:
        counts.append(done)
        writer.close()


def _load(
    port: int, seconds: float, connections: int, queue: multiprocessing.Queue[tuple[float, int]]
) -> None:
    async def run() -> tuple[float, int]:
        counts: list[int] = []
        start = time.monotonic()
        await asyncio.gather(*(_client(port, start + seconds, counts) for _ in range(connections)))
        return sum(counts) / (time.monotonic() - start), sum(counts)

    queue.put(asyncio.run(run()))


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure(pid: int, port: int, seconds: float, connections: int) -> tuple[float, float]:
    """(requests/s, server CPU microseconds per request) of one round."""
    queue: multiprocessing.Queue[tuple[float, int]] = multiprocessing.Queue()
    process = multiprocessing.Process(target=_load, args=(port, seconds, connections, queue))
    cpu_before = _cpu_seconds(pid)
    process.start()
    rate, requests = queue.get(timeout=seconds + 60)
    cpu = _cpu_seconds(pid) - cpu_before
    process.join()
    return rate, cpu / max(requests, 1) * 1e6


def _get(port: int, path: str, token: str | None = None) -> dict[str, object]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        data: dict[str, object] = json.loads(response.read())
        return data


def _stall_accuracy(port: int, repeats: int) -> None:
    print("\nstall measurement (threshold 100 ms, heartbeat 10 ms)")
    header = f"{'stall':>8} {'truth ms':>9} {'error ms (median, min..max)':>30}"
    print(f"{header} {'report latency ms':>20}")
    for target in (150, 300, 600, 1200):
        errors: list[float] = []
        latencies: list[float] = []
        truths: list[float] = []
        for _ in range(repeats):
            before = int(str(_get(port, "/_unstuck", TOKEN)["stall_count"]))
            answer = _get(port, f"/stall?ms={target}")
            truth, ended = float(str(answer["ms"])), float(str(answer["ended"]))
            while True:
                data = _get(port, "/_unstuck", TOKEN)
                if int(str(data["stall_count"])) > before:
                    seen = time.time()
                    break
                time.sleep(0.002)
            stalls = data["stalls"]
            assert isinstance(stalls, list)
            newest = stalls[0]
            truths.append(truth)
            errors.append(float(newest["duration_ms"]) - truth)
            latencies.append((seen - ended) * 1000)
            time.sleep(0.2)
        print(
            f"{target:>6}ms {statistics.median(truths):>9.1f} "
            f"{statistics.median(errors):>+12.1f} ({min(errors):+.1f}..{max(errors):+.1f})"
            f"{statistics.median(latencies):>20.1f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--stall-repeats", type=int, default=5)
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help=f"comma-separated subset of {','.join(VARIANTS)} (off and watch are always run)",
    )
    args = parser.parse_args()
    chosen = {"off", "watch", *args.variants.split(",")}
    if not chosen <= set(VARIANTS):
        parser.error(f"unknown variant in {args.variants!r}; choose from {', '.join(VARIANTS)}")
    variants = tuple(mode for mode in VARIANTS if mode in chosen)
    if args.rounds < 1 or args.seconds <= 0 or args.connections < 1:
        parser.error("--rounds, --seconds and --connections must be positive")

    with tempfile.TemporaryDirectory(prefix="unstuck-bench-") as directory:
        app_dir = Path(directory)
        (app_dir / "bench_app.py").write_text(APP)
        servers = {mode: _start(mode, app_dir) for mode in variants}
        try:
            rates: dict[str, list[float]] = {mode: [] for mode in variants}
            cpu: dict[str, list[float]] = {mode: [] for mode in variants}
            for process, port in servers.values():
                _measure(process.pid, port, 1.0, args.connections)  # warm-up
            for round_number in range(args.rounds):
                # Rotate the order each round so no variant always runs first.
                shift = round_number % len(variants)
                for mode in variants[shift:] + variants[:shift]:
                    process, port = servers[mode]
                    rate, cpu_per_request = _measure(
                        process.pid, port, args.seconds, args.connections
                    )
                    rates[mode].append(rate)
                    cpu[mode].append(cpu_per_request)
                print(
                    f"round {round_number + 1}: "
                    + ", ".join(f"{mode} {rates[mode][-1]:.0f}/s" for mode in variants),
                    flush=True,
                )
            base_rate = statistics.median(rates["off"])
            base_cpu = statistics.median(cpu["off"])
            print(
                f"\nGET /ping, median of {args.rounds} rounds of {args.seconds:g} s "
                f"with {args.connections} keep-alive connections"
            )
            print(f"{'variant':>14} {'req/s':>9} {'of off':>8} {'CPU us/req':>11} {'capacity':>9}")
            for mode in variants:
                rate = statistics.median(rates[mode])
                per_request = statistics.median(cpu[mode])
                # Capacity: requests one fully used core could serve, relative to off.
                print(
                    f"{mode:>14} {rate:>9.0f} {rate / base_rate:>8.1%} "
                    f"{per_request:>11.1f} {base_cpu / per_request:>9.1%}"
                )
            _stall_accuracy(servers["watch"][1], args.stall_repeats)
        finally:
            for process, _ in servers.values():
                process.send_signal(signal.SIGTERM)
            for process, _ in servers.values():
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
