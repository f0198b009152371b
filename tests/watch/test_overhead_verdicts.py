"""The pure parts of benchmarks/watch_overhead.py, on made-up reports and windows."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARK = Path(__file__).parents[2] / "benchmarks" / "watch_overhead.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("watch_overhead", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["watch_overhead"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_judge_reads_route_and_line(bench: ModuleType) -> None:
    marker = bench.REPORT_MARKERS["watch"]
    report = (
        "event loop blocked for 201 ms in GET /case/sleep at "
        "/srv/benchmarks/watch_bench_app.py:104 in case_sleep"
    )
    assert bench.judge(report, marker, "sleep", 104) == bench.Verdict(True, True, True)
    assert bench.judge(report, marker, "sleep", 10) == bench.Verdict(True, True, False)
    assert bench.judge(report, marker, "cpu", 104) == bench.Verdict(True, False, True)
    # Named route and line without the monitor's own marker: nothing was reported.
    assert bench.judge("GET /case/sleep watch_bench_app.py:104", marker, "sleep", 104) == (
        bench.Verdict(False, False, False)
    )


def test_judge_reads_a_traceback_line(bench: ModuleType) -> None:
    report = (
        "blockbuster.BlockingError: Blocking call to time.sleep\n"
        '  File "/srv/benchmarks/watch_bench_app.py", line 151, in _blocking_part\n'
    )
    verdict = bench.judge(report, bench.REPORT_MARKERS["blockbuster"], "fanout", 151)
    assert verdict.cell() == "caught, line"
    assert bench.judge("", bench.REPORT_MARKERS["blockbuster"], "fanout", 151).cell() == "-"


def test_capacity_is_the_median_of_per_round_ratios(bench: ModuleType) -> None:
    window = bench.Window
    off = [window(1000, 0.100, 2.0), window(1000, 0.200, 2.0), window(1000, 0.100, 2.0)]
    # Twice the CPU per request of off in the same round, whatever the round's level.
    slow = [window(1000, 0.200, 2.0), window(1000, 0.400, 2.0), window(1000, 0.200, 2.0)]
    rows = {row.variant: row for row in bench.cost_table({"off": off, "slow": slow})}
    assert rows["off"].capacity == 1.0
    assert rows["slow"].capacity == pytest.approx(0.5)
    assert rows["slow"].cpu_us == pytest.approx(200.0)
    assert rows["slow"].rate == pytest.approx(500.0)


def test_per_second_work_is_charged_to_the_second(bench: ModuleType) -> None:
    # 100 us per request plus 10 ms of CPU every second, measured at 1000 requests/s:
    # 0.11 s of CPU per second, yet a core of its own serves (1 - 0.01) / 100 us.
    window = bench.Window(requests=2000, cpu_s=0.22, seconds=2.0, idle_cpu_per_s=0.01)
    assert window.cpu_us_per_request == pytest.approx(110.0)
    assert window.saturated_rate == pytest.approx(9900.0)


def test_heartbeats_are_taken_out_of_instructions_per_request(bench: ModuleType) -> None:
    iw = bench.InstructionWindow
    # Without a monitor: 1000 instructions a second idle.
    base_idle = iw(loop=5_000, others=0, seconds=5.0)
    # Watched: idle, 500 beats over 5 s cost 500_000 beyond the server's own 5_000.
    idle = iw(loop=505_000, others=50_000, seconds=5.0, beats=500)
    # Loaded: 100 requests of 10_000 instructions and 200 beats of 1_000.
    load = iw(loop=1_200_000, others=40_000, seconds=20.0, requests=100, beats=200)
    row = bench.instruction_row("watch", idle, load, base_idle)
    assert row.per_beat == pytest.approx(1_000)
    assert row.per_request == pytest.approx(10_000)
    assert row.as_counted == pytest.approx(12_000)
    assert row.per_second_idle == pytest.approx(111_000)
    assert row.others_per_second == pytest.approx(2_000)


def test_callgrind_calls_follow_compressed_names(bench: ModuleType, tmp_path: Path) -> None:
    dump = tmp_path / "callgrind.1.2-01"
    dump.write_text(
        "events: Ir\nsummary: 1234\n"
        "fn=(1) _heartbeat_caller\n"
        "cfn=(2) time_thread_time\ncalls=3 10\n12 40\n"
        "cfn=(3) time_monotonic\ncalls=7 10\n12 40\n"
        "fn=(4) other\n"
        "cfn=(2)\ncalls=2 10\n14 20\n"
    )
    assert bench.callgrind_total(dump) == 1234
    assert bench.callgrind_calls(dump, "time_thread_time") == 5
    assert bench.callgrind_calls(dump, "time_monotonic") == 7
    assert bench.callgrind_calls(dump, "absent") == 0
