"""A stall: the event loop ran one piece of code for longer than the threshold.

It carries what an operator needs to fix it: how long, on whose behalf the
code ran (its ``Origin``: a route, a task a route spawned, the start-up, a
garbage collection...), the blocking stack (the most frequent sample taken
while it lasted, innermost frame last), and what the loop thread did
meanwhile: computing (``cpu``), blocked in a call (``waiting``), or ready but
given no CPU by a busy machine (``starved``). It is logged as one record on
logger ``unstuck`` whose ``extra`` fields hold the same data as the JSON.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from unstuck.watch._origin import OUTSIDE, Origin, metric_label
from unstuck.watch._stack import StackFrame, blamed_frame

Cause = Literal["cpu", "waiting", "starved"]

#: The label of stalls outside any request in the metrics.

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
    origin: Origin = OUTSIDE
    cpu_ms: float | None = None
    """CPU time of the loop thread over the stall (and up to one heartbeat before)."""
    runnable_ms: float | None = None
    """Time the loop thread was ready to run but had no CPU (Linux schedstat)."""
    gc_ms: float = 0.0
    """Time spent in garbage collection during the stall (any thread: it holds the GIL)."""
    import_ms: float = 0.0
    """The stall's time inside an ``import`` (the share of its samples taken in one): a
    module's first import runs once per process, whatever line asked for it."""

    @property
    def cause(self) -> Cause | None:
        """What the loop thread did: its CPU time and run-queue wait against the duration."""
        if self.runnable_ms is not None and self.runnable_ms >= self.duration_ms / 2:
            return "starved"
        if self.cpu_ms is None:
            return None
        return "cpu" if self.cpu_ms >= self.duration_ms / 2 else "waiting"

    @property
    def metric_label(self) -> str:
        """The ``route`` label of the counters: bounded, never a raw path."""
        return metric_label(self.origin)

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
            "kind": self.origin.kind,
            "origin": self.origin.label,
            "cause": self.cause,
            "cpu_ms": _ms(self.cpu_ms),
            "runnable_ms": _ms(self.runnable_ms),
            "gc_ms": round(self.gc_ms, 1),
            "import_ms": round(self.import_ms, 1),
        }

    def describe(self) -> str:
        where = ""
        if self.blamed is not None:
            frame = self.blamed
            where = f" at {frame['path']}:{frame['line']} in {frame['function']}"
        return (
            f"event loop blocked for {self.duration_ms:.0f} ms "
            f"in {self.origin.label}{where}{self._cause_text()}"
        )

    def _cause_text(self) -> str:
        match self.cause:
            case "starved":
                return (
                    f" (the machine was busy: the loop thread waited {self.runnable_ms:.0f} ms "
                    "for a CPU)"
                )
            case "cpu":
                return f" (computing: {self.cpu_ms:.0f} ms of CPU)"
            case "waiting":
                return f" (waiting in a blocking call: {self.cpu_ms:.0f} ms of CPU)"
        return ""


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def make_stall(
    *,
    duration_s: float,
    started_at: float,
    route: str | None,
    stack: list[StackFrame],
    samples: int,
    task: str | None,
    pid: int,
    origin: Origin = OUTSIDE,
    cpu_s: float | None = None,
    runnable_s: float | None = None,
    gc_s: float = 0.0,
    import_s: float = 0.0,
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
        origin=origin,
        cpu_ms=None if cpu_s is None else cpu_s * 1000,
        runnable_ms=None if runnable_s is None else runnable_s * 1000,
        gc_ms=gc_s * 1000,
        import_ms=import_s * 1000,
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
            "kind": stall.origin.kind,
            "origin": stall.origin.label,
            "cause": stall.cause,
            "cpu_ms": _ms(stall.cpu_ms),
            "runnable_ms": _ms(stall.runnable_ms),
        },
    )
