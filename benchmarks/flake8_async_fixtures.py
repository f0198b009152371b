"""``unstuck check`` against ruff's ASYNC rules on flake8-async's blocking-call fixtures.

flake8-async's ``tests/eval_files/async2*.py`` mark every line its ASYNC2xx checks must
report (``# ASYNC210: ...``). Both checkers run over copies of those files; a marked line
counts as found when the checker reports anything on it, and lines reported without a
mark are counted apart. The fixtures call names they never import (``os.system()``
with no ``import os``): the copies get the imports they lack, so that a checker that
resolves names (unstuck does) sees what a real module would say. The fixtures are
fetched with git into a temporary directory (or read from ``--fixtures DIR``) and
never stored here.

    uv run python benchmarks/flake8_async_fixtures.py [--fixtures DIR] [--show-missed]

Figures are in docs/check.md ("Compared with flake8-async's fixtures").
"""

from __future__ import annotations

import argparse
import ast
import builtins
import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from unstuck.check import ALL_RULES, Config, check

REPOSITORY = "https://github.com/python-trio/flake8-async"
_MARK = re.compile(r"#\s*ASYNC\d{3}(_asyncio)?:")
# Names the fixtures use without importing them, and the import a real module would have.
_MODULES = frozenset(
    {"os", "subprocess", "io", "time", "httpx", "httpx2", "urllib3", "urllib", "requests"}
    | {"trio", "anyio", "asyncio", "socket"}
)
_FROM_IMPORTS = {
    "Optional": "from typing import Optional",
    "request": "from urllib import request",
    "urlopen": "from urllib.request import urlopen",
    "P_WAIT": "from os import P_WAIT",
    "P_NOWAIT": "from os import P_NOWAIT",
}


@dataclass(frozen=True, slots=True)
class Tally:
    marked: int
    found: int
    unmarked_reported: int


def fetch_fixtures(into: Path) -> Path:
    try:
        subprocess.run(
            ["git", "clone", "--quiet", "--depth", "1", REPOSITORY, str(into)],
            check=True,
            timeout=300,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise SystemExit(
            f"cannot clone {REPOSITORY} ({exc}); clone it elsewhere and pass --fixtures DIR"
        ) from exc
    return into / "tests" / "eval_files"


def fixtures_directory(given: Path) -> Path:
    """``--fixtures`` may name the repository or its ``tests/eval_files``."""
    nested = given / "tests" / "eval_files"
    return nested if nested.is_dir() else given


def missing_imports(source: str) -> list[str]:
    """The import lines for the names ``source`` reads but never binds."""
    tree = ast.parse(source)
    bound: set[str] = set(dir(builtins))
    read: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    lines = []
    for name in sorted(read - bound):
        if name in _MODULES:
            lines.append(f"import {name}")
        elif name in _FROM_IMPORTS:
            lines.append(_FROM_IMPORTS[name])
    return lines


def prepare(fixtures: Path, into: Path) -> list[Path]:
    """Copies of the fixtures with their imports added after the leading comments, so
    that the marked lines move by a known offset (recorded by re-reading the marks)."""
    copies = []
    for path in sorted(fixtures.glob("async2*.py")):
        source = path.read_text("utf-8")
        imports = missing_imports(source)
        lines = source.splitlines(keepends=True)
        head = 0
        while head < len(lines) and lines[head].startswith("#"):
            head += 1
        text = "".join(lines[:head]) + "".join(f"{line}\n" for line in imports)
        copy = into / path.name
        copy.write_text(text + "".join(lines[head:]), "utf-8")
        copies.append(copy)
    return copies


def marked_lines(path: Path) -> set[int]:
    lines = path.read_text("utf-8").splitlines()
    return {number for number, line in enumerate(lines, start=1) if _MARK.search(line)}


def unstuck_lines(directory: Path, every_rule: bool) -> dict[str, set[int]]:
    """What unstuck reports, with its default rules or with every rule (as ``--select
    ASYNC`` does for ruff): USK117, file metadata, is off by default."""
    select = tuple(rule.code for rule in ALL_RULES) if every_rule else ()
    report = check([directory], Config(select=select), jobs=1)
    found: dict[str, set[int]] = {}
    for finding in report.findings:
        found.setdefault(Path(finding.path).name, set()).add(finding.line)
    return found


def ruff_lines(directory: Path) -> dict[str, set[int]]:
    command = [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "ASYNC"]
    completed = subprocess.run(
        [*command, "--exit-zero", "--output-format", "json", str(directory)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    found: dict[str, set[int]] = {}
    for item in json.loads(completed.stdout):
        found.setdefault(Path(item["filename"]).name, set()).add(item["location"]["row"])
    return found


def tally(marks: dict[str, set[int]], reported: dict[str, set[int]]) -> Tally:
    found = sum(len(lines & reported.get(name, set())) for name, lines in marks.items())
    unmarked = sum(len(reported.get(name, set()) - lines) for name, lines in marks.items())
    return Tally(sum(len(lines) for lines in marks.values()), found, unmarked)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--fixtures", type=Path, help="a clone of flake8-async, or its tests/eval_files"
    )
    parser.add_argument(
        "--show-missed",
        action="store_true",
        help="list the marked lines unstuck misses and the unmarked lines it reports",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        if args.fixtures is not None:
            fixtures = fixtures_directory(args.fixtures)
        else:
            fixtures = fetch_fixtures(Path(scratch, "flake8-async"))
        if not any(fixtures.glob("async2*.py")):
            raise SystemExit(f"no async2*.py fixtures in {fixtures}")
        work = Path(scratch, "fixtures")
        work.mkdir()
        copies = prepare(fixtures, work)
        marks = {copy.name: marked_lines(copy) for copy in copies}
        ours = unstuck_lines(work, every_rule=True)
        default = unstuck_lines(work, every_rule=False)
        ruff = ruff_lines(work)
        print(f"{'file':<28} {'marked':>6} {'unstuck':>7} {'ruff':>5}  (unstuck: every rule)")
        for copy in copies:
            lines = marks[copy.name]
            print(
                f"{copy.name:<28} {len(lines):>6} "
                f"{len(lines & ours.get(copy.name, set())):>7} "
                f"{len(lines & ruff.get(copy.name, set())):>5}"
            )
        results = (
            ("unstuck, every rule", ours),
            ("unstuck, default", default),
            ("ruff ASYNC", ruff),
        )
        for label, reported in results:
            result = tally(marks, reported)
            print(
                f"{label:<20} {result.found}/{result.marked} marked lines "
                f"({result.found / result.marked:.0%}), "
                f"{result.unmarked_reported} unmarked lines reported"
            )
        if args.show_missed:
            for copy in copies:
                text = copy.read_text("utf-8").splitlines()
                for line in sorted(marks[copy.name] - ours.get(copy.name, set())):
                    print(f"missed {copy.name}:{line}: {text[line - 1].strip()}")
                for line in sorted(ours.get(copy.name, set()) - marks[copy.name]):
                    print(f"unmarked {copy.name}:{line}: {text[line - 1].strip()}")


if __name__ == "__main__":
    main()
