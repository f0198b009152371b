"""The claims' pure verdict functions, on made-up numbers."""

from __future__ import annotations

import math

import pytest

from unstuck.lab import stalls
from unstuck.lab.claim import Verdict
from unstuck.lab.claims import (
    async_sleep,
    cpu_work,
    pool_exhaustion,
    sqlalchemy_throughput,
    thread_pool,
    timeouts,
    workers,
)
from unstuck.lab.claims.async_sleep import Burst
from unstuck.lab.claims.workers import Rates


@pytest.mark.parametrize(
    ("p99_s", "ok", "verdict"),
    [
        (1.04, 1000, Verdict.HOLDS),
        (1.10, 1000, Verdict.HOLDS),
        (1.3, 1000, Verdict.CORRECTED),
        (2.5, 1000, Verdict.DOES_NOT_HOLD),
        (1.02, 999, Verdict.DOES_NOT_HOLD),
    ],
)
def test_async_sleep_holds_within_a_tenth_of_the_delay(
    p99_s: float, ok: int, verdict: Verdict
) -> None:
    judgement = async_sleep.judge(Burst(requests=1000, ok=ok, p99_s=p99_s, delay_s=1.0))
    assert judgement.verdict is verdict
    assert judgement.ratio == pytest.approx(p99_s)


def test_async_sleep_ratio_is_p99_over_the_delay() -> None:
    judgement = async_sleep.judge(Burst(requests=10, ok=10, p99_s=0.6, delay_s=0.5))
    assert judgement.ratio == pytest.approx(1.2)
    assert "1.20x the delay" in judgement.why


def test_workers_one_per_core_scales_and_the_formula_adds_nothing() -> None:
    judgement = workers.judge(Rates(cpus=2, by_workers={1: 10.0, 2: 19.0, 5: 19.5}))
    assert judgement.verdict is Verdict.CORRECTED
    assert judgement.ratio == pytest.approx(19.5 / 19.0)
    assert "cores x 2 + 1 is advice for sync workers" in judgement.why


def test_workers_the_formula_helping_would_hold() -> None:
    judgement = workers.judge(Rates(cpus=2, by_workers={1: 10.0, 2: 18.0, 5: 25.0}))
    assert judgement.verdict is Verdict.HOLDS


def test_workers_that_do_not_scale_do_not_hold() -> None:
    judgement = workers.judge(Rates(cpus=4, by_workers={1: 10.0, 4: 12.0, 9: 12.0}))
    assert judgement.verdict is Verdict.DOES_NOT_HOLD


def test_workers_nothing_measured_is_no_verdict() -> None:
    judgement = workers.judge(Rates(cpus=2, by_workers={1: 0.0, 2: 0.0, 5: 0.0}))
    assert judgement.verdict is Verdict.DOES_NOT_HOLD
    assert judgement.ratio is not None and math.isnan(judgement.ratio)
    assert workers.judge(Rates(cpus=1, by_workers={1: 5.0, 3: 5.0})).verdict is (
        Verdict.NOT_MEASURED
    )


@pytest.mark.parametrize(
    ("async_rate", "sync_rate", "verdict"),
    [
        (150.0, 100.0, Verdict.HOLDS),
        (105.0, 100.0, Verdict.CORRECTED),
        (95.0, 100.0, Verdict.CORRECTED),
        (50.0, 100.0, Verdict.DOES_NOT_HOLD),
        (0.0, 100.0, Verdict.DOES_NOT_HOLD),
    ],
)
def test_sqlalchemy_throughput_async_against_sync(
    async_rate: float, sync_rate: float, verdict: Verdict
) -> None:
    judgement = sqlalchemy_throughput.judge(async_rate, sync_rate, "on sqlite")
    assert judgement.verdict is verdict
    assert judgement.ratio == pytest.approx(async_rate / sync_rate)


def test_a_blocking_route_holds_when_the_probe_waited_and_the_burst_ran_in_a_row() -> None:
    blocked = stalls.Stall("/bad?delay=0.5", 4, 0.5, 480.0, 3.0, 2.1)
    judgement = stalls.judge(blocked)
    assert judgement.verdict is Verdict.HOLDS
    assert judgement.ratio == pytest.approx(160.0)


def test_a_blocking_route_that_did_not_block_does_not_hold() -> None:
    overlapped = stalls.Stall("/bad?delay=0.5", 4, 0.5, 12.0, 3.0, 0.6)
    assert stalls.judge(overlapped).verdict is Verdict.DOES_NOT_HOLD
    probe_only = stalls.Stall("/bad?delay=0.5", 4, 0.5, 480.0, 3.0, 0.6)
    assert stalls.judge(probe_only).verdict is Verdict.DOES_NOT_HOLD


def test_pool_exhaustion_holds_when_the_starved_got_a_503_after_the_timeout() -> None:
    judgement = pool_exhaustion.judge(pool_exhaustion.Exhaustion(4, 36, 1.28, 0))
    assert judgement.verdict is Verdict.HOLDS
    assert judgement.ratio == pytest.approx(1.28 / pool_exhaustion.POOL_TIMEOUT_S)


@pytest.mark.parametrize(
    "run",
    [
        pool_exhaustion.Exhaustion(40, 0, math.nan, 0),  # nobody refused
        pool_exhaustion.Exhaustion(4, 36, 0.1, 0),  # refused at once, not after the wait
        pool_exhaustion.Exhaustion(4, 36, 1.2, 3),  # the default pool failed too
    ],
)
def test_pool_exhaustion_does_not_hold_otherwise(run: pool_exhaustion.Exhaustion) -> None:
    assert pool_exhaustion.judge(run).verdict is Verdict.DOES_NOT_HOLD


def test_timeouts_on_time_with_threads_that_ran_on_is_a_correction() -> None:
    judgement = timeouts.judge(timeouts.Deadlines(4, 4, 2.01, 4, 40, 1.6))
    assert judgement.verdict is Verdict.CORRECTED
    assert judgement.ratio == pytest.approx(2.01 / timeouts.SAFE_DEADLINE_S)


def test_timeouts_that_stopped_the_threads_would_hold() -> None:
    assert timeouts.judge(timeouts.Deadlines(4, 4, 2.01, 4, 40, 0.01)).verdict is Verdict.HOLDS


def test_timeouts_late_or_missing_do_not_hold() -> None:
    late = timeouts.Deadlines(4, 4, 3.9, 4, 40, 1.6)
    missing = timeouts.Deadlines(4, 2, 2.0, 4, 40, 1.6)
    assert timeouts.judge(late).verdict is Verdict.DOES_NOT_HOLD
    assert timeouts.judge(missing).verdict is Verdict.DOES_NOT_HOLD


def test_cpu_work_threads_slowing_the_loop_is_the_correction() -> None:
    judgement = cpu_work.judge(cpu_work.Loop(4.0, 100.0, 20.0, 150.0))
    assert judgement.verdict is Verdict.CORRECTED
    assert judgement.ratio == pytest.approx(25.0)


def test_cpu_work_processes_must_spare_the_loop_more_than_threads() -> None:
    assert cpu_work.judge(cpu_work.Loop(4.0, 6.0, 5.0, 150.0)).verdict is Verdict.HOLDS
    assert cpu_work.judge(cpu_work.Loop(4.0, 20.0, 30.0, 150.0)).verdict is (Verdict.DOES_NOT_HOLD)


def test_thread_pool_capped_at_40_not_the_article_number() -> None:
    # 80 in 2 waves and 41 in 2 waves: the cap is 40; with 80 tokens one wave.
    judgement = thread_pool.judge(thread_pool.Waves(2, 6, 2, 41, 2, 1))
    assert judgement.verdict is Verdict.CORRECTED
    assert judgement.ratio == pytest.approx(40 / 6)


def test_thread_pool_at_the_article_number_holds_and_other_caps_do_not() -> None:
    # 80 requests in 14 waves: a pool of 6.
    assert thread_pool.judge(thread_pool.Waves(2, 6, 14, 41, 7, 1)).verdict is Verdict.HOLDS
    # One wave for 80: no cap seen at all.
    assert thread_pool.judge(thread_pool.Waves(2, 6, 1, 41, 1, 1)).verdict is (
        Verdict.DOES_NOT_HOLD
    )
