"""``unstuck lab``: measure the article's claims on the running service.

Parses and checks the options (exit 2 with a message on bad usage), raises the
open-files limit for the bursts, runs the claims and prints each one as it is
measured, then the verdict table. Exit 0 when every claim was measured, 1
when one could not be.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from types import FrameType

from unstuck.lab import report
from unstuck.lab.claim import Claim, Result, Verdict
from unstuck.lab.claims import ALL, BY_NAME
from unstuck.lab.run import run_lab

_WANTED_OPEN_FILES = 65_536


class UsageError(Exception):
    pass


class _Terminated(BaseException):
    """SIGTERM, raised where the lab is so that its ``finally`` blocks stop the services.

    A ``BaseException``, like ``KeyboardInterrupt``: a claim's error handling must
    not record it as a failed measurement and go on.
    """


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise _Terminated(signum)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="unstuck lab",
        description="Start the service, measure each claim of the article on it, and write "
        "report.html, plots and results.json.",
        epilog="claims: " + ", ".join(claim.name for claim in ALL),
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smaller loads; the whole run takes under 3 minutes on 2 idle cores",
    )
    parser.add_argument(
        "--only", metavar="NAME[,NAME]", help="measure only these claims (see the list below)"
    )
    parser.add_argument(
        "--report", metavar="DIR", default="report", help="where to write the report (./report)"
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="run the service on this PostgreSQL (postgresql://user@host/db); "
        "default: an embedded SQLite per service",
    )
    parser.add_argument("--list", action="store_true", help="list the claims and exit")
    return parser


def select_claims(only: str | None) -> list[Claim]:
    if only is None:
        return list(ALL)
    names = [name.strip() for name in only.split(",") if name.strip()]
    unknown = [name for name in names if name not in BY_NAME]
    if not names or unknown:
        shown = ", ".join(unknown) if unknown else "(none)"
        choices = ", ".join(BY_NAME)
        raise UsageError(f"--only: unknown claim {shown}; choose from: {choices}")
    return [claim for claim in ALL if claim.name in names]


def service_database_url(url: str) -> str:
    """The URL the service wants (asyncpg driver) from the URL a user would type."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("postgresql+asyncpg://"):
        return url
    raise UsageError(
        f"--database-url must be a PostgreSQL URL (postgresql://user@host:5432/db), not {url!r}"
    )


def _report_dir(value: str) -> Path:
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise UsageError(f"--report: {path} exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--report: cannot create {path}: {exc.strerror}") from None
    return path


def _raise_open_files_limit() -> None:
    # A burst of 1000 connections needs 1000 descriptors here and in the service,
    # which inherits this limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = _WANTED_OPEN_FILES if hard == resource.RLIM_INFINITY else min(hard, _WANTED_OPEN_FILES)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _print_result(index: int, result: Result) -> None:
    print(report.console_block(index, result), end="\n\n", flush=True)


def main(argv: list[str]) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.list:
        for claim in ALL:
            print(f"{claim.name:<24} {claim.title}")
        return 0
    try:
        claims = select_claims(args.only)
        database_url = service_database_url(args.database_url) if args.database_url else None
        report_dir = _report_dir(args.report)
    except UsageError as exc:
        print(f"unstuck lab: {exc}", file=sys.stderr)
        return 2
    _raise_open_files_limit()
    # The services run in sessions of their own: only the lab can stop them.
    previous = signal.signal(signal.SIGTERM, _terminate)
    workdir = Path(tempfile.mkdtemp(prefix="unstuck-lab-"))
    mode = "quick" if args.quick else "full"
    print(f"unstuck lab: {len(claims)} claims, {mode} run, report in {report_dir}/\n", flush=True)
    try:
        results, _ = run_lab(
            claims,
            quick=args.quick,
            report_dir=report_dir,
            workdir=workdir,
            database_url=database_url,
            on_result=_print_result,
        )
    except (KeyboardInterrupt, _Terminated):
        print("unstuck lab: interrupted; the services it started are stopped", file=sys.stderr)
        shutil.rmtree(workdir, ignore_errors=True)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(report.verdict_table(results))
    print(f"\nreport: {report_dir / 'report.html'}  numbers: {report_dir / 'results.json'}")
    failed = [r for r in results if r.finding.verdict is Verdict.NOT_MEASURED]
    if failed:
        print(f"service logs kept in {workdir}", file=sys.stderr)
        return 1
    shutil.rmtree(workdir, ignore_errors=True)
    return 0
