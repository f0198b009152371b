"""CPU time of ``unstuck check`` at this checkout against another git revision.

Each round runs the checker once per revision, alternating, in a fresh interpreter,
in one process (``jobs=1``) and without the on-disk cache, over the given code bases;
the CPU time (not the wall clock, which a loaded machine distorts) of the ``check()``
call is taken. The report gives the medians and their ratio.

    uv run python benchmarks/check_revisions.py --against 2974473 PATH [PATH ...] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_TIMED = """
import sys, time
from pathlib import Path
from unstuck.check import check
started = time.process_time()
for path in sys.argv[1:]:
    check([Path(path)], jobs=1)
print(time.process_time() - started)
"""


@dataclass(frozen=True, slots=True)
class Comparison:
    this: list[float]
    other: list[float]

    @property
    def ratio(self) -> float:
        """This checkout's median CPU time over the other revision's (below 1: faster)."""
        return statistics.median(self.this) / statistics.median(self.other)


def export(revision: str, into: Path) -> Path:
    """The ``src`` tree of ``revision``, written under ``into``."""
    archive = into / "src.tar"
    subprocess.run(
        ["git", "archive", "--output", str(archive), revision, "src"], cwd=ROOT, check=True
    )
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def cpu_seconds(source: Path, paths: list[str]) -> float:
    result = subprocess.run(
        [sys.executable, "-c", _TIMED, *paths],
        env={"PYTHONPATH": str(source), "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


def measure(revision: str, paths: list[str], rounds: int) -> Comparison:
    with tempfile.TemporaryDirectory() as scratch:
        other = export(revision, Path(scratch))
        this: list[float] = []
        theirs: list[float] = []
        for _ in range(rounds):
            theirs.append(cpu_seconds(other, paths))
            this.append(cpu_seconds(ROOT / "src", paths))
        return Comparison(this, theirs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", required=True, help="git revision to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("paths", nargs="+", help="code bases to check")
    args = parser.parse_args()
    comparison = measure(args.against, args.paths, args.rounds)
    print(f"{args.against:<12} CPU s: {', '.join(f'{t:.2f}' for t in comparison.other)}")
    print(f"{'this':<12} CPU s: {', '.join(f'{t:.2f}' for t in comparison.this)}")
    print(f"median ratio this/{args.against}: {comparison.ratio:.3f}")


if __name__ == "__main__":
    main()
