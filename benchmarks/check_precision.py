"""How many of ``unstuck check``'s findings are real: the labelled samples, scored again.

``check_precision_labels.jsonl`` holds findings read by hand, one per line: the sample
it was drawn in, the code base (a directory under ``--corpora`` for the code bases of
``check_corpus.toml``, under ``--pypi`` for packages unpacked from PyPI), the file,
line and rule, the route the report named, and the verdict (``real``, or ``fp`` with
its family: ``once``, ``thread``, ``unreachable``, ``not-blocking``, ``other``), each
traced from the route to the line in the code base's source. The samples were drawn at
random (seed 20261202) among the per-request findings of rules of severity ``error``
that name a route, at most 8 (code bases) or 12 (packages) per code base; the third
("fresh"), at most 10 from each of four code bases added to the list afterwards, was
read before any change was made from it.

This runs the checker on every code base a label names and looks each labelled line
up in the new report: a finding still reported (with a route) counts as it was
labelled; one no longer reported is left out. It prints, per sample, the real and
false findings still reported and the share of real ones among them, and what is no
longer reported: false alarms fixed, or real findings lost.

    uv run python benchmarks/check_precision.py --corpora ~/corpora --pypi ~/pypi

The packages are the wheels' contents (``pip download --no-deps agno==3.1.10``, then
unzip its ``*.py`` files into ``~/pypi/agno``); versions are in docs/check.md.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from check_corpus import LIST, load

from unstuck.check import check
from unstuck.check.config import Config
from unstuck.check.engine import Report

LABELS = Path(__file__).with_name("check_precision_labels.jsonl")


@dataclass(frozen=True, slots=True)
class Label:
    sample: str  # "corpus", "fresh" (code bases of check_corpus.toml) or "pypi"
    codebase: str
    path: str  # inside the code base's directory
    line: int
    code: str
    verdict: str  # "real" or "fp"
    family: str | None
    # where the code base is: under ``--pypi`` for the "pypi" sample and for a label
    # that says so (a package read in a later sample), else under ``--corpora``
    from_pypi: bool = False


def read_labels(path: Path) -> list[Label]:
    labels: list[Label] = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        labels.append(
            Label(
                row["sample"],
                row["codebase"],
                row["path"],
                int(row["line"]),
                row["code"],
                row["verdict"],
                row["family"],
                row["sample"] == "pypi" or row.get("folder") == "pypi",
            )
        )
    return labels


def reported(report: Report, directory: Path) -> set[tuple[str, int, str]]:
    """The per-request findings that name a route, as (path in the code base, line, code)."""
    found: set[tuple[str, int, str]] = set()
    for finding in report.findings:
        if finding.route is None or finding.severity != "error":
            continue
        path = Path(finding.path).resolve()
        if path.is_relative_to(directory):
            found.add((path.relative_to(directory).as_posix(), finding.line, finding.code))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, required=True, help="checkouts of the corpus")
    parser.add_argument("--pypi", type=Path, help="unpacked packages of the second sample")
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument(
        "--show-false", action="store_true", help="list the false findings still reported"
    )
    args = parser.parse_args()
    labels = read_labels(args.labels)
    applications = {base.directory: base for base in load(LIST)}
    found: dict[tuple[str, str], set[tuple[str, int, str]]] = {}
    places = {(label.sample, label.codebase): label.from_pypi for label in labels}
    for (sample, codebase), from_pypi in sorted(places.items()):
        folder = args.pypi if from_pypi else args.corpora
        if folder is None:
            continue
        directory = (folder / codebase).resolve()
        root = directory
        exclude: tuple[str, ...] = ()
        if not from_pypi and codebase in applications:
            base = applications[codebase]
            root, exclude = directory / base.application, base.exclude
        if not root.is_dir():
            print(f"{codebase}: not at {root}, its labels are left out")
            continue
        found[(sample, codebase)] = reported(check([root], Config(exclude=exclude)), directory)
    for sample in sorted({label.sample for label in labels}):
        counts: Counter[tuple[str, bool]] = Counter()
        gone: list[Label] = []
        for label in labels:
            if label.sample != sample or (sample, label.codebase) not in found:
                continue
            still = (label.path, label.line, label.code) in found[(sample, label.codebase)]
            counts[(label.verdict, still)] += 1
            if not still:
                gone.append(label)
        real, false = counts[("real", True)], counts[("fp", True)]
        read = sum(counts.values())
        share = real / (real + false) if real + false else 0.0
        print(f"== {sample}: {read} findings labelled")
        print(f"   still reported: {real} real, {false} not ({share:.0%} real)")
        fixed = [label for label in gone if label.verdict != "real"]
        lost = [label for label in gone if label.verdict == "real"]
        print(f"   no longer reported: {len(fixed)} false alarms, {len(lost)} real findings")
        for label in lost:
            print(f"   lost: {label.codebase}/{label.path}:{label.line} {label.code}")
        if args.show_false:
            for label in labels:
                if (
                    label.sample == sample
                    and label.verdict != "real"
                    and label not in gone
                    and (sample, label.codebase) in found
                ):
                    where = f"{label.codebase}/{label.path}:{label.line}"
                    print(f"   false: {where} {label.code} ({label.family})")


if __name__ == "__main__":
    main()
