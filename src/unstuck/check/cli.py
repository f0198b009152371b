"""``unstuck check``: command line of the checker.

Exit status: 0 when nothing is found, 1 when something is found (or a file cannot be
parsed), 2 on a usage error (bad option, missing path, bad configuration).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from unstuck.check.cache import DIRECTORY_NAME, Cache
from unstuck.check.config import Config, ConfigError, find_pyproject, load_config
from unstuck.check.engine import check
from unstuck.check.formats import FORMATS, render


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(message)


class _Formatter(argparse.HelpFormatter):
    """argparse's own, told the terminal's width: left to find it, it imports ``shutil``
    (and with it ``bz2`` and ``lzma``), which costs the start more than argparse itself."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_columns() - 2)  # the margin argparse leaves


def _columns() -> int:
    """The terminal's width as ``shutil.get_terminal_size`` finds it: ``COLUMNS``, else
    the terminal on stdout, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="unstuck check",
        description="Find code that blocks the event loop of a FastAPI application.",
        formatter_class=_Formatter,
    )
    parser.add_argument("paths", nargs="*", default=["."], help="files or directories (default: .)")
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format")
    parser.add_argument("--routes", action="store_true", help="print the route map (text format)")
    parser.add_argument(
        "--select", default=None, help="comma-separated codes or prefixes to report"
    )
    parser.add_argument("--ignore", default=None, help="comma-separated codes or prefixes to skip")
    parser.add_argument("--config", type=Path, default=None, help="pyproject.toml to read")
    parser.add_argument("--no-config", action="store_true", help="ignore [tool.unstuck]")
    parser.add_argument(
        "--jobs", type=int, default=None, help="processes for parsing (default: cores)"
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help=f"where to keep the cache (default: {DIRECTORY_NAME} next to pyproject.toml, or here)",
    )
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    parser.add_argument(
        "--once-per-process",
        action="store_true",
        help="also report blocking that runs once per process (startup, import time, "
        "CLI commands, memoised functions), apart from the per-request findings",
    )
    parser.add_argument("--list-rules", action="store_true", help="print the rules and exit")
    parser.add_argument(
        "--explain", metavar="CODE", default=None, help="explain a rule (e.g. USK105) and exit"
    )
    return parser


def _codes(raw: str | None, option: str) -> tuple[str, ...] | None:
    if raw is None:
        return None
    codes = tuple(code.strip().upper() for code in raw.split(",") if code.strip())
    _validate(codes, option)
    return codes


# The rules' codes, known without loading the rules: that costs more than the rest of
# the start together, and a run whose report comes from the cache never needs them.
# A test keeps this in step with ``ALL_RULES``.
RULE_CODES = (
    *(f"USK{number}" for number in range(100, 118)),  # blocking work: USK100 to USK117
    *(f"USK{number}" for number in range(201, 204)),  # asyncio misuse: USK201 to USK203
)


def _validate(codes: tuple[str, ...], where: str) -> None:
    for code in codes:
        if not any(known_code.startswith(code) for known_code in RULE_CODES):
            raise _UsageError(f"{where}: unknown rule code {code!r} (see --list-rules)")


def _explain(code: str) -> int:
    from unstuck.check.rules import ALL_RULES

    rules = {rule.code: rule for rule in ALL_RULES}
    rule = rules.get(code.strip().upper())
    if rule is None:
        raise _UsageError(f"--explain: unknown rule code {code!r} (see --list-rules)")
    from unstuck.check.explain import explain

    print(explain(rule), end="")
    return 0


def main(argv: list[str], process_ends: bool = False) -> int:
    """``process_ends``: this is the whole process's command line, which ends as soon as
    the report is out, without freeing what the analysis built (see ``engine.check``)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        if args.explain is not None:
            return _explain(args.explain)
        if args.list_rules:
            from unstuck.check.rules import ALL_RULES

            for rule in ALL_RULES:
                default = "" if rule.on_by_default else " (off by default)"
                print(f"{rule.code}  {rule.name:<20} {rule.severity:<8} fix: {rule.fix}{default}")
            return 0
        paths = [Path(path) for path in args.paths]
        missing = [str(path) for path in paths if not path.exists()]
        if missing:
            raise _UsageError(f"no such file or directory: {', '.join(missing)}")
        if args.jobs is not None and args.jobs < 1:
            raise _UsageError("--jobs must be at least 1")
        config = Config()
        if not args.no_config:
            pyproject = args.config if args.config is not None else find_pyproject(paths)
            if args.config is not None and not args.config.is_file():
                raise _UsageError(f"--config: no such file: {args.config}")
            # kept where the cache goes by default, unless told to keep nothing or elsewhere
            kept_in = None
            if pyproject is not None and not args.no_cache and args.cache_dir is None:
                kept_in = pyproject.parent / DIRECTORY_NAME
            config = load_config(pyproject, kept_in)
            _validate(config.select, "[tool.unstuck] select")
            _validate(config.ignore, "[tool.unstuck] ignore")
        select = _codes(args.select, "--select")
        ignore = _codes(args.ignore, "--ignore")
        config = Config(
            select=select if select is not None else config.select,
            ignore=(*config.ignore, *(ignore or ())),
            exclude=config.exclude,
            extra_blocking=config.extra_blocking,
            extra_offloaders=config.extra_offloaders,
            cache_dir=config.cache_dir,
            once_per_process=args.once_per_process or config.once_per_process,
            source=config.source,
        )
    except (_UsageError, ConfigError) as exc:
        print(f"unstuck check: error: {exc}", file=sys.stderr)
        print(parser.format_usage(), file=sys.stderr, end="")
        return 2
    cache = None
    if not args.no_cache:
        directory = args.cache_dir or config.cache_dir
        if directory is None:
            directory = (config.root or Path.cwd()) / DIRECTORY_NAME
        cache = Cache(directory)
    report = check(paths, config, jobs=args.jobs, cache=cache, process_ends=process_ends)
    output = render(report, args.format, args.routes)
    if output:
        try:
            print(output, flush=True)
        except BrokenPipeError:
            # the reader (``| head``) stopped early: not an error of the check; point
            # stdout at devnull so the interpreter's final flush does not fail again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    status = 1 if report.findings or report.not_parsed else 0
    if process_ends:
        sys.stderr.flush()
        os._exit(status)
    return status
