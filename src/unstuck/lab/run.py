"""One lab run: measure the chosen claims in order, then write the report.

A claim that cannot be measured (the service would not start, the load could
not connect, a bug) is recorded as "not measured" with the reason, and the
run goes on with the next claim. Every service the run started is stopped at
the end, whatever happened.
"""

from __future__ import annotations

import asyncio
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from unstuck.lab import report
from unstuck.lab.claim import Claim, Finding, Lab, Result, Verdict
from unstuck.lab.services import Fleet

# workers starts services of 2 and 5 processes: on 2 busy cores that alone can take a minute.
QUICK_CLAIM_TIMEOUT_S = 120.0
FULL_CLAIM_TIMEOUT_S = 600.0


async def _measure(claim: Claim, lab: Lab) -> Result:
    started = time.perf_counter()
    timeout_s = QUICK_CLAIM_TIMEOUT_S if lab.quick else FULL_CLAIM_TIMEOUT_S
    try:
        async with asyncio.timeout(timeout_s):
            finding = await claim.measure(lab)
        error = None
    except TimeoutError:
        error = f"the measurement did not finish within {timeout_s:g} s"
    # A failing claim must not cost the others their measurements; the reason is reported.
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    if error is not None:
        finding = Finding("-", "-", None, Verdict.NOT_MEASURED, error)
    return Result(claim, finding, time.perf_counter() - started, error)


async def _measure_all(
    claims: Sequence[Claim], lab: Lab, on_result: Callable[[int, Result], None]
) -> list[Result]:
    results = []
    for index, claim in enumerate(claims, start=1):
        result = await _measure(claim, lab)
        on_result(index, result)
        results.append(result)
    return results


def run_lab(
    claims: Sequence[Claim],
    *,
    quick: bool,
    report_dir: Path,
    workdir: Path,
    database_url: str | None,
    on_result: Callable[[int, Result], None],
) -> tuple[list[Result], dict[str, Any]]:
    database = "postgresql" if database_url else "sqlite"
    fleet = Fleet(workdir, database_url)
    lab = Lab(quick, report_dir, fleet, database=database, cpus=os.cpu_count() or 1)
    started = datetime.now(UTC)
    # Other processes on the machine change every number: the report says how busy it was.
    load_at_start = os.getloadavg()[0]
    try:
        results = asyncio.run(_measure_all(claims, lab, on_result))
    finally:
        fleet.stop_all()
    run: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"),
        "duration_s": round((datetime.now(UTC) - started).total_seconds(), 1),
        "mode": "quick" if quick else "full",
        "database": database,
        "cpus": lab.cpus,
        "load_average_at_start": round(load_at_start, 2),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
    report.write_json(report_dir / "results.json", results, run)
    report.write_html(report_dir, results, run)
    return results, run
