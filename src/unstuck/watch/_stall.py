"""A stall: the event loop ran one piece of code for longer than the threshold.

It carries what an operator needs to fix it: how long, which route's code was
running, and the blocking stack (the most frequent sample taken while it
lasted, innermost frame last). It is logged as one record on logger
``unstuck`` whose ``extra`` fields hold the same data as the JSON.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from unstuck.watch._stack import StackFrame, blamed_frame

logger = logging.getLogger("unstuck")


@dataclass(frozen=True, slots=True)
class Stall:
    duration_ms: float
    started_at: float
    """Wall-clock time (``time.time()``) when the loop stopped answering."""
    route: str | None
    stack: list[StackFrame]
    samples: int
    task: str | None = None
    pid: int = 0
    blamed: StackFrame | None = field(default=None)

    @property
    def at(self) -> str:
        return datetime.fromtimestamp(self.started_at, UTC).isoformat(timespec="milliseconds")

    def to_json(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "duration_ms": round(self.duration_ms, 1),
            "at": self.at,
            "stack": self.stack,
            "where": self.blamed,
            "samples": self.samples,
            "task": self.task,
            "pid": self.pid,
        }

    def describe(self) -> str:
        where = ""
        if self.blamed is not None:
            frame = self.blamed
            where = f" at {frame['path']}:{frame['line']} in {frame['function']}"
        return (
            f"event loop blocked for {self.duration_ms:.0f} ms "
            f"in {self.route or 'code outside any request'}{where}"
        )


def make_stall(
    *,
    duration_s: float,
    started_at: float,
    route: str | None,
    stack: list[StackFrame],
    samples: int,
    task: str | None,
    pid: int,
) -> Stall:
    return Stall(
        duration_ms=duration_s * 1000,
        started_at=started_at,
        route=route,
        stack=stack,
        samples=samples,
        task=task,
        pid=pid,
        blamed=blamed_frame(stack),
    )


def log_stall(stall: Stall, *, ongoing: bool = False) -> None:
    """One record per stall; ``ongoing`` for a stall that has not ended yet."""
    message = stall.describe()
    if ongoing:
        message = message.replace("event loop blocked for", "event loop still blocked after", 1)
    logger.warning(
        "%s",
        message,
        extra={
            "event": "loop_hang" if ongoing else "loop_stall",
            "route": stall.route,
            "duration_ms": round(stall.duration_ms, 1),
            "at": stall.at,
            "stack": stall.stack,
            "where": stall.blamed,
            "pid": stall.pid,
        },
    )
