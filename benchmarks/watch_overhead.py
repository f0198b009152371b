"""What the watcher costs beside its peers, and what each of them catches.

Cost: every variant (``watch_bench_app.py`` under a monitor, or none) runs as
one long-lived uvicorn process, all pinned to one core with ``taskset``, with
a fixed ``PYTHONHASHSEED``; ``wrk`` on the other core drives ``GET /ping`` at
one server at a time, in short windows that alternate between the variants
(the order rotates every round). The figure is the server's CPU time per
request, read from ``/proc`` around each window: requests/s of freshly started
servers swing by 15 % on a shared 2-core machine, CPU time per request of
long-lived ones does not. Capacity is the CPU per request of "off" divided by
the variant's, in the same round; the medians over the rounds are printed, and
"off-again" (a second server without a monitor) shows the resolution (an A/A
pair should agree within 0.5 %).

Detection: then each server receives one request per case (a sleep, a sync
HTTP call, a sync SQLite query, a CPU loop, a regex in C holding the GIL, a
garbage collection, a block inside ``gather``, a block in a middleware, 50
blocks of 20 ms in one second) and what the monitor reports (its log, and for
the watcher its diagnostics) is searched for the route and for the file:line
of the blocking line.

Variants of the watcher: ``watch`` (all of it), ``watch-no-loop-time`` (without
the loop-time sampler), ``watch-middleware`` (only its per-request middleware),
``watch-fleet`` (publishing its snapshot every second, as with several workers),
``watch-heartbeat-25ms`` (a heartbeat every 25 ms instead of 10).

Peers are used where they are installed, so run it with them:

    uv run --with aiocop --with fastapi-loopguard --with pyleak \\
        python benchmarks/watch_overhead.py [--rounds 12] [--seconds 2]

(loopsentry needs Python 3.12 or later; it is reported as not run on older ones.)
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

APP = Path(__file__).with_name("watch_bench_app.py")
TOKEN = "bench"
SERVER_CORE, LOAD_CORE = "0", "1"

#: Variant name -> the module it needs (None: always available).
VARIANTS: dict[str, str | None] = {
    "off": None,
    "off-again": None,
    "watch": None,
    "watch-no-loop-time": None,
    "watch-middleware": None,
    "watch-fleet": None,
    "watch-heartbeat-25ms": None,
    "asyncio-debug": None,
    "blockbuster": "blockbuster",
    "pyinstrument": "pyinstrument",
    "aiocop": "aiocop",
    "fastapi-loopguard": "fastapi_loopguard",
    "pyleak": "pyleak",
    "loopsentry": "loopsentry",
}
#: What each monitor writes when it reports a block (its log, or our print of its callback).
REPORT_MARKERS: dict[str, str] = {
    "watch": r"event loop (blocked|still blocked)",
    "asyncio-debug": r"Executing .* took \d",
    "blockbuster": r"BlockingError",
    "aiocop": r"aiocop slow task",
    "fastapi-loopguard": r"(?i)blocked",
    "pyleak": r"(?i)event loop block",
    "pyinstrument": r"(?!)",  # a profiler: it reports nothing unless asked
}
CASES = ("sleep", "http", "db", "cpu", "regex", "gc", "fanout", "middleware", "cuts")
CASE_TITLES = {
    "sleep": "time.sleep 200 ms",
    "http": "sync HTTP call 200 ms",
    "db": "sync SQLite query",
    "cpu": "CPU loop 200 ms",
    "regex": "regex in C, GIL held",
    "gc": "garbage collection",
    "fanout": "block inside gather",
    "middleware": "block in a middleware",
    "cuts": "50 blocks of 20 ms in 1 s",
}


# -- servers -------------------------------------------------------------------------


#: Ports the servers may take, ``--ports LOW-HIGH``; empty: any free port.
PORT_RANGE: list[int] = []


def _free_port() -> int:
    """A port nothing listens on, from ``PORT_RANGE`` when one is given."""
    for port in PORT_RANGE or [0]:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            found: int = sock.getsockname()[1]
            return found
    raise RuntimeError(f"no free port in {PORT_RANGE[0]}-{PORT_RANGE[-1]}")


@dataclass
class BenchServer:
    mode: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    threads: list[tuple[int, dict[int, ThreadUsage]]] = field(default_factory=list)
    """Per load window (one at a time): requests served and what each thread used."""

    def log_size(self) -> int:
        return self.log.stat().st_size

    def log_since(self, offset: int) -> str:
        with self.log.open("rb") as file:
            file.seek(offset)
            return file.read().decode(errors="replace")


def _start(
    mode: str, directory: Path, slow_url: str, under: tuple[str, ...] = (), wait_s: float = 60
) -> BenchServer:
    """One server of ``mode``; ``under``: a command that runs the interpreter (valgrind)."""
    port = _free_port()
    log = directory / f"{mode}.log"
    command = [
        "taskset", "-c", SERVER_CORE, *under,
        sys.executable, "-m", "uvicorn", "watch_bench_app:app", "--app-dir", str(APP.parent),
        "--host", "127.0.0.1", "--port", str(port),
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    env = {**os.environ, "BENCH_MODE": mode, "BENCH_SLOW_URL": slow_url, "PYTHONHASHSEED": "0"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.pop("UNSTUCK_WATCH_FLEET_DIR", None)
    if mode == "watch-heartbeat-25ms":
        env["UNSTUCK_WATCH_HEARTBEAT_MS"] = "25"
    if mode == "watch-fleet":
        # The watcher publishing its snapshot every second, as with several workers.
        fleet = directory / "fleet"
        fleet.mkdir(exist_ok=True)
        env["UNSTUCK_WATCH_FLEET_DIR"] = str(fleet)
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the {mode} server exited:\n{log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return BenchServer(mode, process, port, log)
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the {mode} server did not start")


def _stop(server: BenchServer) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(20)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


# -- cost ----------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """CPU time of a process's threads, in nanoseconds from /proc/<pid>/task/*/schedstat.

    /proc/<pid>/stat counts in clock ticks (10 ms): over a window of a second of CPU
    that alone is a 1 % step. schedstat's run time is in nanoseconds.
    """
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            continue  # a thread that ended meanwhile
    return total / 1e9


def _wrk_command(port: int, seconds: float, connections: int) -> list[str]:
    return [
        "taskset", "-c", LOAD_CORE, "wrk", "-t1", f"-c{connections}", f"-d{seconds:.0f}s",
        f"http://127.0.0.1:{port}/ping",
    ]  # fmt: skip


def _wrk(port: int, seconds: float, connections: int) -> int:
    """Requests completed by one wrk window on the load core."""
    command = _wrk_command(port, seconds, connections)
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return _wrk_requests(output)


def _wrk_requests(output: str) -> int:
    match = re.search(r"(\d+) requests in", output)
    if match is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    return int(match.group(1))


@dataclass(frozen=True)
class Window:
    requests: int
    cpu_s: float
    seconds: float
    idle_cpu_per_s: float = 0.0
    """CPU seconds per second of the same server without load, just before."""

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu_s / max(1, self.requests) * 1e6

    @property
    def saturated_rate(self) -> float:
        """Requests/s of a core given to this server alone: its per-second work apart.

        On a shared machine a server gets a fraction of its core, so work that costs
        the same every second (timers, sampling threads) weighs on each request more
        than it would on a core of its own; here it is taken out of the window's CPU
        and charged once, to the second.
        """
        per_request = (self.cpu_s - self.idle_cpu_per_s * self.seconds) / max(1, self.requests)
        return (1.0 - self.idle_cpu_per_s) / per_request if per_request > 0 else 0.0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def measure_window(server: BenchServer, seconds: float, connections: int) -> Window:
    before = cpu_seconds(server.process.pid)
    threads_before = thread_usage(server.process.pid)
    started = time.monotonic()
    requests = _wrk(server.port, seconds, connections)
    elapsed = time.monotonic() - started
    cpu = cpu_seconds(server.process.pid) - before
    server.threads.append((requests, usage_since(threads_before, thread_usage(server.process.pid))))
    return Window(requests, cpu, elapsed)


@dataclass(frozen=True)
class ThreadUsage:
    cpu_s: float
    switches: int
    """Context switches, voluntary and not (``/proc/<pid>/task/<tid>/status``)."""


def thread_usage(pid: int) -> dict[int, ThreadUsage]:
    """CPU time and context switches of each thread of a process, by native id."""
    usage: dict[int, ThreadUsage] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            cpu = int((task / "schedstat").read_text().split()[0]) / 1e9
            status = (task / "status").read_text()
        except (OSError, IndexError, ValueError):
            continue  # a thread that ended meanwhile
        switches = sum(int(n) for n in re.findall(r"ctxt_switches:\s+(\d+)", status))
        usage[int(task.name)] = ThreadUsage(cpu, switches)
    return usage


def usage_since(
    before: dict[int, ThreadUsage], after: dict[int, ThreadUsage]
) -> dict[int, ThreadUsage]:
    zero = ThreadUsage(0.0, 0)
    return {
        tid: ThreadUsage(now.cpu_s - before.get(tid, zero).cpu_s,
                         now.switches - before.get(tid, zero).switches)
        for tid, now in after.items()
    }  # fmt: skip


def thread_names(server: BenchServer) -> dict[int, str]:
    """The app's threads by native id (the watcher names its own), from ``/_threads``."""
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/_threads", timeout=30) as answer:
        names: dict[str, str] = json.loads(answer.read())
    return {int(tid): name for tid, name in names.items()}


def thread_table(servers: dict[str, BenchServer]) -> list[str]:
    """Per variant: CPU per request of the loop thread and of the others, switches per request."""
    lines = [
        "| variant | loop thread µs/request | other threads µs/request (by thread) "
        "| context switches per 1000 requests |",
        "|---|---|---|---|",
    ]
    for name, server in servers.items():
        names = thread_names(server)
        pid = server.process.pid
        loop: list[float] = []
        others: dict[str, list[float]] = {}
        switches: list[float] = []
        for requests, usage in server.threads:
            per = 1e6 / max(1, requests)
            loop.append(usage.get(pid, ThreadUsage(0.0, 0)).cpu_s * per)
            grouped: dict[str, float] = {}
            for tid, used in usage.items():
                if tid != pid:
                    label = re.sub(r"-\d+$", "", names.get(tid, "other"))
                    grouped[label] = grouped.get(label, 0.0) + used.cpu_s * per
            for label, value in grouped.items():
                others.setdefault(label, []).append(value)
            switches.append(sum(u.switches for u in usage.values()) * 1000 / max(1, requests))
        parts = ", ".join(
            f"{label} {statistics.median(values):.2f}"
            for label, values in sorted(others.items())
            if statistics.median(values) >= 0.005
        )
        lines.append(
            f"| {name} | {statistics.median(loop):.1f} | {parts or '-'} "
            f"| {statistics.median(switches):.1f} |"
        )
    return lines


def measure_together(
    servers: dict[str, BenchServer], seconds: float, connections: int
) -> dict[str, Window]:
    """One window in which every server is loaded at once, by a wrk of its own.

    The servers share the core and live through the same moments of the machine's
    other load, so their CPU per request is compared under the same conditions.
    """
    quiet = {name: cpu_seconds(server.process.pid) for name, server in servers.items()}
    time.sleep(seconds)
    before = {name: cpu_seconds(server.process.pid) for name, server in servers.items()}
    idle = {name: (before[name] - quiet[name]) / seconds for name in servers}
    started = time.monotonic()
    loads = {
        name: subprocess.Popen(
            _wrk_command(server.port, seconds, connections), stdout=subprocess.PIPE, text=True
        )
        for name, server in servers.items()
    }
    outputs = {name: load.communicate()[0] for name, load in loads.items()}
    elapsed = time.monotonic() - started
    return {
        name: Window(
            _wrk_requests(outputs[name]),
            cpu_seconds(server.process.pid) - before[name],
            elapsed,
            idle[name],
        )
        for name, server in servers.items()
    }


@dataclass(frozen=True)
class CostRow:
    variant: str
    rate: float
    cpu_us: float
    capacity: float
    capacity_low: float
    capacity_high: float
    saturated: float
    idle_cpu_ms_per_s: float


def cost_table(windows: dict[str, list[Window]]) -> list[CostRow]:
    """Capacity per round (off's CPU per request / the variant's), median and range."""
    rows: list[CostRow] = []
    base = windows["off"]
    for variant, own in windows.items():
        ratios = sorted(
            b.cpu_us_per_request / w.cpu_us_per_request for b, w in zip(base, own, strict=True)
        )
        saturated = [w.saturated_rate / b.saturated_rate for b, w in zip(base, own, strict=True)]
        rows.append(
            CostRow(
                variant=variant,
                rate=statistics.median(w.rate for w in own),
                cpu_us=statistics.median(w.cpu_us_per_request for w in own),
                capacity=statistics.median(ratios),
                capacity_low=ratios[len(ratios) // 4],
                capacity_high=ratios[(3 * len(ratios)) // 4],
                saturated=statistics.median(saturated),
                idle_cpu_ms_per_s=statistics.median(w.idle_cpu_per_s for w in own) * 1000,
            )
        )
    return rows


def run_cost(
    servers: dict[str, BenchServer],
    rounds: int,
    seconds: float,
    connections: int,
    together: bool = False,
) -> dict[str, list[Window]]:
    names = list(servers)
    for server in servers.values():
        measure_window(server, 1.0, connections)  # warm-up
    windows: dict[str, list[Window]] = {name: [] for name in names}
    for number in range(rounds):
        if together:
            for name, window in measure_together(servers, seconds, connections).items():
                windows[name].append(window)
        shift = number % len(names)
        for name in [] if together else names[shift:] + names[:shift]:
            windows[name].append(measure_window(servers[name], seconds, connections))
        off = windows["off"][-1].cpu_us_per_request
        print(
            f"round {number + 1}: "
            + ", ".join(f"{n} {off / windows[n][-1].cpu_us_per_request:.3f}" for n in names),
            flush=True,
        )
    return windows


# -- instructions --------------------------------------------------------------------


@dataclass(frozen=True)
class InstructionWindow:
    """Instructions executed by a server under callgrind: the loop thread and the others."""

    loop: int
    others: int
    seconds: float
    requests: int = 0
    beats: int = 0
    """Heartbeats of the watcher in the window (its calls of ``time.thread_time``)."""


@dataclass(frozen=True)
class InstructionRow:
    variant: str
    per_request: float
    """Loop-thread instructions per request, the watcher's heartbeats taken out."""
    as_counted: float
    """Loop-thread instructions per request, everything in the window."""
    per_beat: float
    per_second_idle: float
    others_per_second: float
    """The watcher's threads under load, per second."""


def callgrind_total(path: Path) -> int:
    """The instruction count of one callgrind dump (its ``summary:`` line)."""
    with path.open() as file:
        for line in file:
            if line.startswith("summary:"):
                return int(line.split()[1])
    raise RuntimeError(f"no summary in {path}")


def callgrind_calls(path: Path, function: str) -> int:
    """How often ``function`` was called in one dump (names are compressed to ``(id)``)."""
    names: dict[str, str] = {}
    calls = 0
    target = False
    with path.open() as file:
        for line in file:
            if line.startswith(("fn=", "cfn=")):
                ident, _, name = line.split("=", 1)[1].strip().partition(" ")
                if name:
                    names[ident] = name
                target = line.startswith("cfn=") and names.get(ident) == function
            elif target and line.startswith("calls="):
                calls += int(line[6:].split()[0])
                target = False
    return calls


def callgrind_part(directory: Path, pid: int, part: int, seconds: float) -> InstructionWindow:
    """One dump of a server run with ``--separate-threads=yes``; thread 1 runs the loop."""
    loop = others = beats = 0
    for path in directory.glob(f"callgrind.{pid}.{part}-*"):
        count = callgrind_total(path)
        if path.name.endswith("-01"):
            loop += count
            beats += callgrind_calls(path, "time_thread_time")
        else:
            others += count
    return InstructionWindow(loop, others, seconds, beats=beats)


def instruction_row(
    variant: str, idle: InstructionWindow, load: InstructionWindow, base_idle: InstructionWindow
) -> InstructionRow:
    """Pure: per-request instructions of the loop thread, the heartbeats set apart.

    Under callgrind a server runs some 50 times slower while its heartbeat keeps
    its pace in seconds, so the heartbeats weigh 50 times more per request than
    without it. A heartbeat's instructions are measured in the idle window (what
    the loop thread ran beyond the idle rate of ``base_idle``, the server without
    a monitor, divided by the beats) and taken out of the loaded window, beat by
    beat; the watcher's threads are given per second.
    """
    server_idle = base_idle.loop / base_idle.seconds * idle.seconds
    per_beat = max(0.0, idle.loop - server_idle) / idle.beats if idle.beats else 0.0
    requests = max(1, load.requests)
    return InstructionRow(
        variant=variant,
        per_request=(load.loop - per_beat * load.beats) / requests,
        as_counted=load.loop / requests,
        per_beat=per_beat,
        per_second_idle=(idle.loop + idle.others) / idle.seconds,
        others_per_second=load.others / load.seconds,
    )


def _callgrind_control(option: str, pid: int) -> None:
    subprocess.run(["callgrind_control", option, str(pid)], check=True, capture_output=True)


def _ab(port: int, requests: int, connections: int) -> int:
    """A fixed number of keep-alive requests from ab on the load core; the count served."""
    command = [
        "taskset", "-c", LOAD_CORE, "ab", "-k", "-q", "-n", str(requests), "-c", str(connections),
        f"http://127.0.0.1:{port}/ping",
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    complete = re.search(r"Complete requests:\s+(\d+)", output)
    failed = re.search(r"Failed requests:\s+(\d+)", output)
    if complete is None or failed is None or int(failed.group(1)):
        raise RuntimeError(f"unexpected ab output:\n{output}")
    return int(complete.group(1))


def measure_instructions(
    variant: str,
    directory: Path,
    slow_url: str,
    requests: int,
    connections: int,
    idle_seconds: float,
) -> tuple[InstructionWindow, InstructionWindow]:
    """The idle and the loaded window of one server run under callgrind."""
    out = directory / "callgrind.%p"
    valgrind = (
        "valgrind", "--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes",
        f"--callgrind-out-file={out}",
    )  # fmt: skip
    server = _start(variant, directory, slow_url, under=valgrind, wait_s=300)
    pid = server.process.pid
    try:
        _callgrind_control("--instr=on", pid)
        _ab(server.port, max(200, requests // 5), connections)  # warm-up, counted nowhere
        _callgrind_control("--zero", pid)
        time.sleep(idle_seconds)
        _callgrind_control("--dump", pid)
        idle = callgrind_part(directory, pid, 1, idle_seconds)
        started = time.monotonic()
        served = _ab(server.port, requests, connections)
        _callgrind_control("--dump", pid)
        elapsed = time.monotonic() - started
        load = callgrind_part(directory, pid, 2, elapsed)
    finally:
        _stop(server)
    return idle, InstructionWindow(load.loop, load.others, load.seconds, served, load.beats)


def run_instructions(
    variants: list[str],
    directory: Path,
    slow_url: str,
    requests: int,
    connections: int,
    idle_seconds: float,
) -> list[InstructionRow]:
    """``variants[0]`` (off) gives the idle rate of a server without a monitor."""
    rows: list[InstructionRow] = []
    base_idle: InstructionWindow | None = None
    for variant in variants:
        idle, load = measure_instructions(
            variant, directory, slow_url, requests, connections, idle_seconds
        )
        base_idle = base_idle or idle
        rows.append(instruction_row(variant, idle, load, base_idle))
        print(
            f"instructions: {variant}: loop {load.loop:,} ({load.beats} beats) others "
            f"{load.others:,} for {load.requests} requests in {load.seconds:.1f} s; idle "
            f"{idle.loop:,} ({idle.beats} beats) + {idle.others:,} in {idle.seconds:g} s",
            flush=True,
        )
    return rows


# -- detection -----------------------------------------------------------------------


def case_lines() -> dict[str, int]:
    lines: dict[str, int] = {}
    for number, line in enumerate(APP.read_text().splitlines(), start=1):
        match = re.search(r"# CASE: (\w+)$", line)
        if match:
            lines[match.group(1)] = number
    return lines


@dataclass(frozen=True)
class Verdict:
    caught: bool
    route: bool
    line: bool

    def cell(self) -> str:
        if not self.caught:
            return "-"
        return "caught" + (", route" if self.route else "") + (", line" if self.line else "")


def judge(report: str, marker: str, case: str, line: int) -> Verdict:
    """Pure: what a monitor's report for one case says (unit-tested on made-up reports)."""
    caught = re.search(marker, report) is not None
    route = f"/case/{case}" in report
    named = re.search(rf'{APP.name}(:|", line ){line}\b', report) is not None
    return Verdict(caught, caught and route, caught and named)


def _get_json(port: int, path: str) -> dict[str, object]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    request.add_header("Authorization", f"Bearer {TOKEN}")
    with urllib.request.urlopen(request, timeout=30) as response:
        data: dict[str, object] = json.loads(response.read())
        return data


def _loop_time(port: int) -> dict[str, dict[str, object]]:
    loop_time = _get_json(port, "/_unstuck")["loop_time"]
    assert isinstance(loop_time, dict)
    return {str(row["origin"]): row for row in loop_time["origins"]}


def _watch_loop_time_report(port: int, before: dict[str, dict[str, object]]) -> str:
    """Short blocks show as loop time: the origin that grew most during the case, its frames."""
    after = _loop_time(port)

    def grown(origin: str) -> float:
        earlier = before.get(origin, {"seconds": 0.0})["seconds"]
        return float(str(after[origin]["seconds"])) - float(str(earlier))

    origin = max(after, key=grown)
    top = after[origin]
    frames: list[str] = []

    def walk(node: dict[str, object]) -> None:
        frame = node["frame"]
        if isinstance(frame, dict) and not frame["library"]:
            frames.append(f"{Path(str(frame['path'])).name}:{frame['line']} {frame['function']}")
        children = node["children"]
        assert isinstance(children, list)
        if children:
            walk(children[0])

    flame = top["flame"]
    assert isinstance(flame, dict)
    walk(flame)
    return f"event loop blocked (loop time) {grown(origin):.2f} s in {origin}: " + "; ".join(frames)


def _request(url: str) -> None:
    # blockbuster answers 500: its report is in the log.
    with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=60) as answer:
        answer.read()


def run_detection(
    servers: dict[str, BenchServer], show_reports: bool
) -> dict[str, dict[str, Verdict]]:
    lines = case_lines()
    matrix: dict[str, dict[str, Verdict]] = {}
    for name, server in servers.items():
        marker = REPORT_MARKERS.get(name)
        if marker is None:
            continue
        matrix[name] = {}
        for case in CASES:
            if case == "gc":
                _request(f"http://127.0.0.1:{server.port}/case/gc-setup")
                time.sleep(1.5)
            offset = server.log_size()
            before = _loop_time(server.port) if name == "watch" and case == "cuts" else {}
            _request(f"http://127.0.0.1:{server.port}/case/{case}")
            time.sleep(1.0)  # reports come just after the block ends
            report = server.log_since(offset)
            if name == "watch" and case == "cuts":
                report += _watch_loop_time_report(server.port, before)
            matrix[name][case] = judge(report, marker, case, lines[case])
            if show_reports:
                print(f"--- {name} / {case}: {matrix[name][case].cell()}\n{report[-1500:]}")
        print(f"detection: {name} done", flush=True)
    return matrix


def stall_accuracy(server: BenchServer, repeats: int) -> None:
    """Reported duration minus the measured truth, and how soon the report is there."""
    print("\nstall measurement by the watcher (threshold 100 ms, heartbeat 10 ms)")
    print("| stall | truth ms | error ms, median (min to max) | report latency ms, median |")
    print("|---|---|---|---|")
    for target in (150, 300, 600, 1200):
        errors: list[float] = []
        latencies: list[float] = []
        truths: list[float] = []
        for _ in range(repeats):
            before = int(str(_get_json(server.port, "/_unstuck")["stall_count"]))
            url = f"http://127.0.0.1:{server.port}/stall?ms={target}"
            with urllib.request.urlopen(url, timeout=30) as answer:
                measured = json.loads(answer.read())
            while True:
                data = _get_json(server.port, "/_unstuck")
                if int(str(data["stall_count"])) > before:
                    seen = time.time()
                    break
                time.sleep(0.002)
            stalls = data["stalls"]
            assert isinstance(stalls, list)
            truths.append(float(measured["ms"]))
            errors.append(float(stalls[0]["duration_ms"]) - float(measured["ms"]))
            latencies.append((seen - float(measured["ended"])) * 1000)
            time.sleep(0.2)
        print(
            f"| {target} ms | {statistics.median(truths):.1f} | {statistics.median(errors):+.1f} "
            f"({min(errors):+.1f} to {max(errors):+.1f}) | {statistics.median(latencies):.1f} |"
        )


# -- the run -------------------------------------------------------------------------


class _SlowHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(0.2)
        body = b"slow"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _available(variants: list[str]) -> tuple[list[str], dict[str, str]]:
    chosen: list[str] = []
    skipped: dict[str, str] = {}
    for variant in variants:
        module = VARIANTS[variant]
        if module is None or importlib.util.find_spec(module) is not None:
            chosen.append(variant)
        elif variant == "loopsentry" and sys.version_info < (3, 12):
            skipped[variant] = "needs Python 3.12 or later"
        else:
            skipped[variant] = f"not installed (uv run --with {variant})"
    return chosen, skipped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument(
        "--seconds", type=int, default=2, help="length of a load window (wrk: whole seconds)"
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--no-detection", action="store_true")
    parser.add_argument("--stall-repeats", type=int, default=5)
    parser.add_argument(
        "--together",
        action="store_true",
        help="load every server at once in each window instead of one after the other",
    )
    parser.add_argument("--show-reports", action="store_true", help="print what each one reported")
    parser.add_argument(
        "--ports", default="", help="LOW-HIGH: the ports the servers may use (default: any free)"
    )
    parser.add_argument(
        "--instructions",
        type=int,
        default=0,
        metavar="N",
        help="instead of CPU time: count instructions under callgrind, N requests per variant",
    )
    parser.add_argument(
        "--idle-seconds", type=float, default=5.0, help="idle window of --instructions"
    )
    parser.add_argument(
        "--keep", type=Path, default=None, help="keep callgrind's files in this folder"
    )
    args = parser.parse_args()
    if args.ports:
        low, _, high = args.ports.partition("-")
        PORT_RANGE[:] = range(int(low), int(high or low) + 1)
    wanted = [v for v in args.variants.split(",") if v]
    unknown = [v for v in wanted if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {unknown}; choose from {', '.join(VARIANTS)}")
    if args.rounds < 1 or args.seconds <= 0 or args.connections < 1:
        parser.error("--rounds, --seconds and --connections must be positive")
    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        parser.error("needs wrk and taskset on PATH")
    variants, skipped = _available(
        ["off", "off-again", *[v for v in wanted if v not in {"off", "off-again"}]]
    )

    slow = http.server.ThreadingHTTPServer(("127.0.0.1", _free_port()), _SlowHandler)
    threading.Thread(target=slow.serve_forever, daemon=True).start()
    slow_url = f"http://127.0.0.1:{slow.server_address[1]}/"
    if args.instructions:
        if not all(shutil.which(tool) for tool in ("valgrind", "callgrind_control", "ab")):
            parser.error("--instructions needs valgrind, callgrind_control and ab on PATH")
        try:
            return _instructions_main(variants, args, slow_url)
        finally:
            slow.shutdown()
    with tempfile.TemporaryDirectory(prefix="unstuck-bench-") as directory:
        servers: dict[str, BenchServer] = {}
        try:
            for variant in variants:
                servers[variant] = _start(variant, Path(directory), slow_url)
            print(
                f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, servers on core "
                f"{SERVER_CORE}, wrk on core {LOAD_CORE}; the machine is shared with other work"
            )
            for variant, reason in skipped.items():
                print(f"{variant}: not run, {reason}")
            windows = run_cost(servers, args.rounds, args.seconds, args.connections, args.together)
            how = "all servers loaded at once" if args.together else "one server at a time"
            print(
                f"\nGET /ping, {args.rounds} rounds of {args.seconds:g} s windows ({how}), "
                f"{args.connections} connections; capacity = CPU per request of off / variant's "
                "(median of rounds, quartiles)"
            )
            print(
                "| variant | requests/s | CPU µs/request | capacity | quartiles "
                "| idle CPU ms/s | capacity of an own core |"
            )
            print("|---|---|---|---|---|---|---|")
            for row in cost_table(windows):
                saturated = f"{row.saturated:.1%}" if args.together else "(with --together)"
                print(
                    f"| {row.variant} | {row.rate:.0f} | {row.cpu_us:.1f} | {row.capacity:.1%} "
                    f"| {row.capacity_low:.1%} to {row.capacity_high:.1%} "
                    f"| {row.idle_cpu_ms_per_s:.2f} | {saturated} |"
                )
            if not args.together:
                print("\nby thread (medians of the rounds)")
                print("\n".join(thread_table(servers)))
            if "watch" in servers and args.stall_repeats > 0:
                stall_accuracy(servers["watch"], args.stall_repeats)
            if not args.no_detection:
                matrix = run_detection(servers, args.show_reports)
                print("\ndetection: caught / route named / line named, from what each one reports")
                names = list(matrix)
                print("| case | " + " | ".join(names) + " |")
                print("|---|" + "---|" * len(names))
                for case in CASES:
                    cells = " | ".join(matrix[name][case].cell() for name in names)
                    print(f"| {CASE_TITLES[case]} | {cells} |")
        finally:
            for server in servers.values():
                _stop(server)
            slow.shutdown()
    return 0


def _instructions_main(variants: list[str], args: argparse.Namespace, slow_url: str) -> int:
    with tempfile.TemporaryDirectory(prefix="unstuck-bench-") as temporary:
        directory: Path = args.keep or Path(temporary)
        directory.mkdir(parents=True, exist_ok=True)
        print(
            f"Python {sys.version.split()[0]} under callgrind, server on core {SERVER_CORE}, "
            f"ab on core {LOAD_CORE}, {args.instructions} requests of GET /ping "
            f"({args.connections} keep-alive connections), {args.idle_seconds:g} s idle, "
            "per variant"
        )
        rows = run_instructions(
            variants, directory, slow_url, args.instructions, args.connections, args.idle_seconds
        )
    base = rows[0]
    print(
        "\n| variant | instructions/request | vs off | as counted (heartbeats in) "
        "| per heartbeat | all threads idle, per s | watcher's threads under load, per s |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        extra = row.per_request - base.per_request
        print(
            f"| {row.variant} | {row.per_request:,.0f} | {extra:+,.0f} "
            f"({row.per_request / base.per_request - 1:+.2%}) | {row.as_counted:,.0f} "
            f"| {row.per_beat:,.0f} | {row.per_second_idle:,.0f} | {row.others_per_second:,.0f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
