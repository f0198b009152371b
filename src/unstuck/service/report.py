"""``GET /report``: a PNG chart of the users, drawn by matplotlib.

matplotlib is a sync-only library that holds the GIL while it draws, so the
route is a ``def``: FastAPI runs it on a worker thread with a sync session.
The object API (``Figure`` + Agg canvas) is used, never ``pyplot``, whose
global state is not safe across threads.
"""

from __future__ import annotations

import io
from collections import Counter
from datetime import date

from fastapi import APIRouter, Response
from sqlalchemy import select

from unstuck.service.database import SyncSessionDep
from unstuck.service.errors import DATABASE_UNAVAILABLE
from unstuck.service.models import User

router = APIRouter(tags=["report"])

TOP_DOMAINS = 10


def draw_report(domains: Counter[str], days: Counter[date]) -> bytes:
    # Imported on first use, on the route's worker thread: matplotlib is half of the
    # service's import time, and every worker process would pay it at start-up.
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4.5), layout="constrained")
    by_domain, by_day = figure.subplots(1, 2)
    total = sum(domains.values())
    figure.suptitle(f"{total} users")

    top = domains.most_common(TOP_DOMAINS)[::-1]
    positions = range(len(top))
    by_domain.barh(positions, [count for _, count in top], color="tab:blue")
    # Domains are user input: a "$" would start matplotlib's math mode, and a bad
    # formula fails the whole report. The labels are plain text.
    labels = [_shortened(name) for name, _ in top]
    by_domain.set_yticks(positions, labels, parse_math=False)
    by_domain.set_title(f"by email domain (top {TOP_DOMAINS})")
    by_domain.set_xlabel("users")

    ordered = sorted(days.items())
    running, cumulative = 0, []
    for _, count in ordered:
        running += count
        cumulative.append(running)
    by_day.plot([day for day, _ in ordered], cumulative, marker="o", color="tab:green")
    by_day.set_title("sign-ups over time (cumulative)")
    by_day.set_ylabel("users")
    by_day.tick_params(axis="x", labelrotation=30)
    if not total:
        for axes in (by_domain, by_day):
            axes.text(0.5, 0.5, "no users yet", ha="center", va="center", transform=axes.transAxes)

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def _shortened(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@router.get(
    "/report",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "a PNG chart"},
        **DATABASE_UNAVAILABLE,
    },
)
def report(session: SyncSessionDep) -> Response:
    domains: Counter[str] = Counter()
    days: Counter[date] = Counter()
    for email, created_at in session.execute(select(User.email, User.created_at)).yield_per(1000):
        domains[email.rpartition("@")[2]] += 1
        days[created_at.date()] += 1
    return Response(draw_report(domains, days), media_type="image/png")
