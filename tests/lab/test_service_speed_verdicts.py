"""The targets of ``benchmarks/service_speed.py``, judged on made-up medians."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "service_speed.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("service_speed", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["service_speed"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def _measured(speed: ModuleType, users: dict[str, float], p99: dict[str, float]) -> object:
    measured = speed.Measured()
    measured.users_per_s = {app: speed.Spread.of([value]) for app, value in users.items()}
    measured.burst_p99_s = {app: speed.Spread.of([value]) for app, value in p99.items()}
    return measured


def test_targets_met_on_medians() -> None:
    speed = load()
    goals = speed.judge(
        _measured(
            speed,
            {"service": 1000.0, "fastapi-orm": 700.0, "bare": 2400.0},
            {"service": 1.12, "bare": 1.05},
        )
    )
    assert [goal.met for goal in goals] == [True, True, True]
    assert goals[0].measured == pytest.approx(1000 / 700)
    assert goals[2].measured == pytest.approx(1.12 / 1.05)


def test_each_target_can_fail_on_its_own() -> None:
    speed = load()
    goals = speed.judge(
        _measured(
            speed,
            {"service": 800.0, "fastapi-orm": 700.0, "bare": 2400.0},
            {"service": 1.3, "bare": 1.05},
        )
    )
    assert [goal.met for goal in goals] == [False, False, False]


def test_a_spread_is_the_median_and_the_range_of_its_rounds() -> None:
    spread = load().Spread.of([3.0, 1.0, 2.0, 10.0])
    assert (spread.median, spread.low, spread.high) == (2.5, 1.0, 10.0)


def test_a_target_whose_apps_were_not_run_is_left_out() -> None:
    speed = load()
    goals = speed.judge(
        _measured(speed, {"service": 1000.0, "bare": 2400.0}, {"service": 1.12, "bare": 1.05})
    )
    assert [goal.name for goal in goals] == [
        "GET /users/{id} req/s, service / bare",
        "1000 x /async?delay=1 p99, service / bare",
    ]
