"""Speed of ``unstuck check`` on a large real code base, against the parse-only floor.

The code base is the installed sqlalchemy, fastapi, starlette, pydantic, celery and
kombu packages (about 700 files). The floor is reading and ``ast.parse``-ing every file
once, in one process: no checker can be faster than that by much. Target: at most 2x.
"Default jobs" uses the cores the load average leaves idle, so on a busy machine it
may run in one process.

    uv run python benchmarks/check_speed.py [--runs 5]
"""

from __future__ import annotations

import argparse
import ast
import gc
import statistics
import sysconfig
import time
from pathlib import Path

from unstuck.check import check
from unstuck.check.discovery import discover

PACKAGES = ("sqlalchemy", "fastapi", "starlette", "pydantic", "celery", "kombu")


def parse_floor(files: list[Path], collect: bool = True) -> float:
    """Read and parse every file; ``collect=False``: cyclic GC off, as in the checker."""
    if not collect:
        gc.disable()
    try:
        started = time.perf_counter()
        for file in files:
            ast.parse(file.read_bytes(), str(file))
        return time.perf_counter() - started
    finally:
        gc.enable()


def run_checker(paths: list[Path], jobs: int | None) -> tuple[float, int, int]:
    started = time.perf_counter()
    report = check(paths, jobs=jobs)
    return time.perf_counter() - started, report.analyzed, len(report.findings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    site = Path(sysconfig.get_paths()["purelib"])
    paths = [site / name for name in PACKAGES if (site / name).is_dir()]
    files = [source.path for source in discover(paths, (), None)]
    print(f"code base: {len(files)} files from {', '.join(p.name for p in paths)}")
    floors = [parse_floor(files) for _ in range(args.runs)]
    floors_no_gc = [parse_floor(files, collect=False) for _ in range(args.runs)]
    one = [run_checker(paths, 1) for _ in range(args.runs)]
    default = [run_checker(paths, None) for _ in range(args.runs)]
    floor = statistics.median(floors)
    floor_no_gc = statistics.median(floors_no_gc)
    print(f"{'parse floor (ast.parse)':<26} median {floor:6.3f} s")
    print(f"{'parse floor, GC off':<26} median {floor_no_gc:6.3f} s")
    for label, runs in (("checker, 1 process", one), ("checker, default jobs", default)):
        median = statistics.median(run[0] for run in runs)
        print(
            f"{label:<26} median {median:6.3f} s  = {median / floor:4.2f}x the parse floor, "
            f"{median / floor_no_gc:4.2f}x the GC-off floor "
            f"({runs[0][1]} files, {runs[0][2]} findings)"
        )


if __name__ == "__main__":
    main()
