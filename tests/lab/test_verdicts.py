"""The claims' pure verdict functions, on made-up numbers."""

from __future__ import annotations

import math

import pytest

from unstuck.lab import stalls
from unstuck.lab.claim import Verdict
from unstuck.lab.claims import async_sleep, sqlalchemy_throughput, workers
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
