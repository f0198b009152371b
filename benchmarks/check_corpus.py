"""``unstuck check`` on real FastAPI code bases: files, speed, routes, findings.

The code bases are listed in ``check_corpus.toml`` (repository, commit, the folder that
holds the application, the routes a reader counts there and how they were counted, and
a few full paths that must appear). Their code is never kept here: check them out once
under one folder, each in a directory named after the repository,

    git clone https://github.com/Netflix/dispatch ~/corpora/dispatch
    git -C ~/corpora/dispatch checkout <commit from the list>

then run

    uv run python benchmarks/check_corpus.py --corpora ~/corpora [--runs 3] [--dump DIR]

For each code base it prints the files analyzed, the median time of a checker run
against the median ``ast.parse`` floor of the same files (read and parse every file
once, in one process; rounds alternate), the routes in the route map against the
routes counted by reading the code, the expected full paths that are missing, and
the findings by code (folders in a code base's ``exclude`` are left out, as
``[tool.unstuck] exclude`` does). ``--dump DIR`` writes each report as JSON, for reading the
findings. A code base that is not checked out is skipped with a note.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import statistics
import time
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from unstuck.check import check
from unstuck.check.config import Config
from unstuck.check.discovery import discover
from unstuck.check.engine import Report

LIST = Path(__file__).with_name("check_corpus.toml")


@dataclass(frozen=True, slots=True)
class CodeBase:
    repository: str
    commit: str
    directory: str  # the checkout's directory name under --corpora
    application: str  # the folder analyzed, inside the checkout
    routes: int
    counted: str
    paths: tuple[str, ...]  # "METHOD /full/path" that the route map must list
    exclude: tuple[str, ...] = ()  # folders left out, as [tool.unstuck] exclude (tests)

    @property
    def name(self) -> str:
        return self.repository.rpartition("/")[2]


def load(path: Path) -> list[CodeBase]:
    with path.open("rb") as handle:
        listed = tomllib.load(handle)["codebase"]
    return [
        CodeBase(
            entry["repository"],
            entry["commit"],
            entry.get("directory", entry["repository"].rpartition("/")[2]),
            entry["application"],
            int(entry["routes"]),
            entry["counted"],
            tuple(entry.get("paths", ())),
            tuple(entry.get("exclude", ())),
        )
        for entry in listed
    ]


def parse_floor(files: list[Path]) -> float:
    started = time.perf_counter()
    for file in files:
        # newer syntax than this Python: the attempt still counts
        with contextlib.suppress(SyntaxError):
            ast.parse(file.read_bytes(), str(file))
    return time.perf_counter() - started


def timed_check(root: Path, exclude: tuple[str, ...]) -> tuple[float, Report]:
    started = time.perf_counter()
    report = check([root], Config(exclude=exclude))
    return time.perf_counter() - started, report


def measure(base: CodeBase, root: Path, runs: int, dump: Path | None) -> None:
    files = [source.path for source in discover([root], base.exclude, None)]
    floors: list[float] = []
    times: list[float] = []
    report: Report | None = None
    for _ in range(runs):  # alternate, so a burst of load hits both alike
        floors.append(parse_floor(files))
        elapsed, report = timed_check(root, base.exclude)
        times.append(elapsed)
    assert report is not None
    floor, took = statistics.median(floors), statistics.median(times)
    labels = {route.label for route in report.routes}
    unknown = sum(1 for route in report.routes if "{...}" in route.path)
    missing = [path for path in base.paths if path not in labels]
    share = len(report.routes) / base.routes if base.routes else 1.0
    codes = Counter(finding.code for finding in report.findings)
    print(f"== {base.repository} @ {base.commit[:12]}  ({base.application})")
    print(f"   files      {report.analyzed} analyzed, {len(report.not_parsed)} not parsed")
    print(f"   time       {took:.2f} s, parse floor {floor:.2f} s: {took / floor:.1f}x")
    print(
        f"   routes     {len(report.routes)} found / {base.routes} counted ({share:.0%});"
        f" {unknown} with an unknown part"
    )
    for path in missing:
        print(f"   missing    {path}")
    shown = ", ".join(f"{code} {count}" for code, count in sorted(codes.items())) or "none"
    print(f"   findings   {len(report.findings)}: {shown}")
    if dump is not None:
        dump.mkdir(parents=True, exist_ok=True)
        (dump / f"{base.name}.json").write_text(json.dumps(report.as_json(), indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, required=True, help="folder of checkouts")
    parser.add_argument("--list", type=Path, default=LIST, help="TOML list of code bases")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dump", type=Path, default=None, help="write each report as JSON")
    parser.add_argument("names", nargs="*", help="only these code bases (repository names)")
    args = parser.parse_args()
    print("shared machine: figures vary with its load; rerun before comparing")
    for base in load(args.list):
        if args.names and base.name not in args.names:
            continue
        root = args.corpora / base.directory / base.application
        if not root.is_dir():
            print(f"== {base.repository}: not checked out at {root}, skipped")
            continue
        measure(base, root, args.runs, args.dump)


if __name__ == "__main__":
    main()
