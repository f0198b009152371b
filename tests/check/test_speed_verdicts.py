"""The verdicts of ``benchmarks/check_speed.py``, on made-up numbers."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "check_speed.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_speed", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_speed"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_start_is_judged_on_medians_against_4x() -> None:
    speed = load()
    wall, cpu = speed.judge_start(
        speed.StartTimes([0.02, 0.02, 0.5], [0.01] * 3),
        speed.StartTimes([0.07, 0.079, 0.01], [0.05] * 3),
        "unstuck",
    )
    assert wall.met and abs(wall.ratio - 3.5) < 1e-9
    assert not cpu.met and "NOT met" in cpu.line()
    assert wall.name == "start: unstuck, wall time"


def test_start_times_the_console_script_and_the_module_against_the_same_python(
    tmp_path: Path,
) -> None:
    speed = load()
    commands = speed.start_commands(tmp_path / "empty", tmp_path / "configured")
    assert commands[speed.BARE] == [sys.executable, "-c", "pass"]
    assert commands[speed.MODULE][:3] == [sys.executable, "-m", "unstuck"]
    # the project's environment installs the console script beside its Python
    assert Path(commands[speed.SCRIPT][0]).parent == Path(sys.executable).parent
    for name in (speed.SCRIPT, speed.MODULE):
        assert commands[name][-3:] == ["check", "--no-config", str(tmp_path / "empty")]
    assert commands[speed.AGAIN] == commands[speed.BARE]
    assert commands[speed.CONFIGURED] == [
        commands[speed.SCRIPT][0],
        "check",
        str(tmp_path / "configured"),
    ]


def test_cold_and_warm_runs_are_judged_against_the_parse_floor() -> None:
    speed = load()
    cold, cold_cpu, warm, warm_cpu = speed.judge_runs(
        speed.RunTimes(
            1000, [1.0, 1.0, 9.0], [1.4, 1.5, 1.6], [0.2] * 3, [2.0] * 3, [2.9] * 3, [1.0]
        )
    )
    assert cold.met and abs(cold.ratio - 1.5) < 1e-9
    assert cold_cpu.met and abs(cold_cpu.ratio - 1.45) < 1e-9
    assert warm.met and abs(warm.ratio - 0.2) < 1e-9
    assert not warm_cpu.met and abs(warm_cpu.ratio - 0.5) < 1e-9
    verdicts = speed.judge_runs(speed.RunTimes(1000, [1.0], [1.6], [0.31], [1.0], [1.6], [0.31]))
    assert not any(verdict.met for verdict in verdicts)
