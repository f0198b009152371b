"""Speed of ``unstuck check``: its start, a cold run and a warm run, against their floors.

- Start: ``unstuck check EMPTY_DIR`` against a bare ``python -c pass`` of the same
  Python (the interpreter's own start), in wall time and in CPU time of the child
  process (on a loaded machine the wall time mostly measures the wait for a core).
  The ``unstuck`` console script, which users run, is the main figure; ``python -m
  unstuck`` is judged too, and the script on an empty folder whose pyproject.toml has
  a ``[tool.unstuck]`` section: "unstuck + config", with the table kept in the cache by
  an earlier run (every run but the first after an edit of the file), and "unstuck +
  config, --no-cache", reading the TOML each time (which imports ``tomllib``).
  Target: at most 4x.
- Cold run: the command a user runs, ``unstuck check --no-cache PATH``, in a process of
  its own (its start and its end included), against the parse floor: a process that
  reads and ``ast.parse``-es every file once (no checker can do less than that by
  much). "default jobs" uses the cores that are idle when it starts (on a busy
  machine, one); "one process" (``--jobs 1``) is also compared in CPU time, the
  measure that the other work of a shared machine disturbs least. Target: at most 1.5x
  on a 1,000-file application.
- Warm run: the same command with the cache filled by a previous run on the unchanged
  tree. Target: at most 0.3x the parse floor (on a small application the start of the
  command is most of it).

Rounds alternate between the variants, so that drift of a shared machine hits them
alike; medians and ratios are printed. Code bases: the paths given (applications), or
by default the installed sqlalchemy, fastapi, starlette, pydantic, celery and kombu.

    uv run python benchmarks/check_speed.py [PATH ...] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from unstuck.check.discovery import discover

LIBRARIES = ("sqlalchemy", "fastapi", "starlette", "pydantic", "celery", "kombu")
START_TARGET = 4.0
COLD_TARGET = 1.5
WARM_TARGET = 0.3


@dataclass(frozen=True, slots=True)
class StartTimes:
    """One command's starts: wall and CPU time of each round, in seconds."""

    wall: list[float]
    cpu: list[float]


@dataclass(frozen=True, slots=True)
class RunTimes:
    files: int
    floor: list[float]
    cold: list[float]  # default jobs
    warm: list[float]
    floor_cpu: list[float]
    cold_one_cpu: list[float]  # one process
    warm_cpu: list[float]


@dataclass(frozen=True, slots=True)
class Verdict:
    name: str
    ratio: float
    target: float

    @property
    def met(self) -> bool:
        return self.ratio <= self.target

    def line(self) -> str:
        mark = "met" if self.met else "NOT met"
        return f"{self.name:<46} {self.ratio:5.2f}x  (target <= {self.target}x: {mark})"


# -- measure ---------------------------------------------------------------------------


# As installed: with bytecode (``PYTHONDONTWRITEBYTECODE`` would compile every module
# from source at every start, which no installed checker does).
_ENVIRONMENT = {
    name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"
}


def _run(command: Sequence[str], cwd: str) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        command, check=False, capture_output=True, timeout=120, cwd=cwd, env=_ENVIRONMENT
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


BARE = "python -c pass"
SCRIPT = "unstuck"
MODULE = "python -m unstuck"
CONFIGURED = "unstuck + config"
CONFIGURED_ANEW = "unstuck + config, --no-cache"
AGAIN = "python -c pass, again"  # the A/A control: how far apart two identical commands are
CONFIGURATION = '[tool.unstuck]\nignore = ["USK203"]\n'


def start_commands(empty: Path, configured: Path) -> dict[str, list[str]]:
    """The bare interpreter, the console script (when installed beside this Python, as
    in the project's environment) and ``python -m unstuck``, checking ``empty``; the
    script again on ``configured``, an empty folder with its pyproject.toml; the bare
    interpreter again."""
    python = sys.executable
    arguments = ["check", "--no-config", str(empty)]
    commands = {BARE: [python, "-c", "pass"]}
    script = Path(python).with_name(SCRIPT)
    if script.is_file():
        commands[SCRIPT] = [str(script), *arguments]
    commands[MODULE] = [python, "-m", "unstuck", *arguments]
    if script.is_file():
        commands[CONFIGURED] = [str(script), "check", str(configured)]
        commands[CONFIGURED_ANEW] = [str(script), "check", "--no-cache", str(configured)]
    commands[AGAIN] = commands[BARE]
    return commands


def measure_start(rounds: int) -> dict[str, StartTimes]:
    with tempfile.TemporaryDirectory() as scratch:
        empty = Path(scratch, "empty")
        empty.mkdir()
        configured = Path(scratch, "configured")
        configured.mkdir()
        (configured / "pyproject.toml").write_text(CONFIGURATION)
        commands = start_commands(empty, configured)
        for command in commands.values():
            _run(command, scratch)  # the first start writes the bytecode, fills the file cache
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(rounds):
            for name, command in commands.items():
                runs[name].append(_run(command, scratch))
    return {
        name: StartTimes([wall for wall, _ in times], [cpu for _, cpu in times])
        for name, times in runs.items()
    }


# The floor, in a process of its own like the checker: the files named in a list.
_FLOOR = """
import ast, sys
for name in open(sys.argv[1]).read().splitlines():
    try:
        with open(name, "rb") as handle:
            ast.parse(handle.read(), name)
    except (SyntaxError, ValueError):
        pass  # a file that does not parse costs the same; the checker lists it
"""


def run_commands(paths: list[Path], listed: Path, cache: Path) -> dict[str, list[str]]:
    """The floor, and the checker as users run it: the console script when it is
    installed beside this Python, else ``python -m unstuck``."""
    script = Path(sys.executable).with_name(SCRIPT)
    checker = [str(script)] if script.is_file() else [sys.executable, "-m", "unstuck"]
    command = [*checker, "check", "--no-config", *map(str, paths)]
    return {
        "floor": [sys.executable, "-c", _FLOOR, str(listed)],
        "cold": [*command, "--no-cache"],
        "one": [*command, "--no-cache", "--jobs", "1"],
        "warm": [*command, "--cache-dir", str(cache)],
    }


def measure_runs(paths: list[Path], rounds: int) -> RunTimes:
    files = [source.path for source in discover(paths, (), None)]
    runs: dict[str, list[tuple[float, float]]] = {"floor": [], "cold": [], "one": [], "warm": []}
    with tempfile.TemporaryDirectory() as directory:
        listed = Path(directory, "files")
        listed.write_text("".join(f"{file}\n" for file in files))
        commands = run_commands(paths, listed, Path(directory, "cache"))
        _run(commands["warm"], directory)  # fills the cache, and the file cache
        for _ in range(rounds):
            for name, command in commands.items():
                runs[name].append(_run(command, directory))
    return RunTimes(
        len(files),
        floor=[wall for wall, _ in runs["floor"]],
        cold=[wall for wall, _ in runs["cold"]],
        warm=[wall for wall, _ in runs["warm"]],
        floor_cpu=[cpu for _, cpu in runs["floor"]],
        cold_one_cpu=[cpu for _, cpu in runs["one"]],
        warm_cpu=[cpu for _, cpu in runs["warm"]],
    )


# -- judge -----------------------------------------------------------------------------


def judge_start(bare: StartTimes, checker: StartTimes, name: str) -> list[Verdict]:
    wall = statistics.median(checker.wall) / statistics.median(bare.wall)
    cpu = statistics.median(checker.cpu) / statistics.median(bare.cpu)
    return [
        Verdict(f"start: {name}, wall time", wall, START_TARGET),
        Verdict(f"start: {name}, CPU time", cpu, START_TARGET),
    ]


def judge_runs(times: RunTimes) -> list[Verdict]:
    floor = statistics.median(times.floor)
    floor_cpu = statistics.median(times.floor_cpu)
    median = statistics.median
    return [
        Verdict("cold run, default jobs, wall time", median(times.cold) / floor, COLD_TARGET),
        Verdict(
            "cold run, one process, CPU time", median(times.cold_one_cpu) / floor_cpu, COLD_TARGET
        ),
        Verdict("warm run, wall time", median(times.warm) / floor, WARM_TARGET),
        Verdict("warm run, CPU time", median(times.warm_cpu) / floor_cpu, WARM_TARGET),
    ]


# -- report ----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="code bases (default: libraries)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    starts = measure_start(args.rounds)
    median = statistics.median
    print(
        "start on an empty folder (medians, wall / CPU): "
        + ", ".join(
            f"{name} {median(times.wall) * 1000:.0f} / {median(times.cpu) * 1000:.0f} ms"
            for name, times in starts.items()
        )
    )
    for name, times in starts.items():
        if name not in (BARE, AGAIN):
            for verdict in judge_start(starts[BARE], times, name):
                print(verdict.line())
    wall, cpu = judge_start(starts[BARE], starts[AGAIN], AGAIN)
    print(f"control: {AGAIN} against the first: {wall.ratio:.2f}x wall, {cpu.ratio:.2f}x CPU")
    if args.paths:
        bases = [(path.name, [path]) for path in args.paths]
    else:
        site = Path(sysconfig.get_paths()["purelib"])
        found = [site / name for name in LIBRARIES if (site / name).is_dir()]
        bases = [("libraries: " + ", ".join(path.name for path in found), found)]
    for name, paths in bases:
        runs = measure_runs(paths, args.rounds)
        print(
            f"\n{name}: {runs.files} files; medians, wall (CPU): parse floor "
            f"{median(runs.floor):.3f} s ({median(runs.floor_cpu):.3f}), cold "
            f"{median(runs.cold):.3f} s (one process: CPU {median(runs.cold_one_cpu):.3f}), "
            f"warm {median(runs.warm):.3f} s ({median(runs.warm_cpu):.3f})"
        )
        for verdict in judge_runs(runs):
            print(verdict.line())


if __name__ == "__main__":
    main()
