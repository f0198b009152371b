"""The verdict of ``benchmarks/faults.py``, on made-up phases."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "faults.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("faults_probe", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["faults_probe"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_holds_only_with_every_phase_passed_no_500_and_nothing_hung() -> None:
    faults = load()
    good = faults.Phase("pool", Counter({200: 90, 503: 3}))
    assert faults.verdict([good]) == (True, 0, 0)
    with_500 = faults.Phase("db", Counter({200: 10, 500: 1}))
    assert faults.verdict([good, with_500]) == (False, 1, 0)
    hung = faults.Phase("db", Counter({0: 2}), hung=2)
    assert faults.verdict([good, hung]) == (False, 0, 2)
    failed = faults.Phase("body", Counter({413: 1}), passed=False)
    assert faults.verdict([good, failed]) == (False, 0, 0)
