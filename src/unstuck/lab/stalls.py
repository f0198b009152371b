"""Loop stalls seen from outside: ``/health`` latency while a load runs.

``/health`` answers from the event loop without touching any backend, so a
probe's latency is how long the loop took to get to it. :func:`under_load`
runs a :class:`~unstuck.lab.load.Probe` a little before, during and a little
after a burst; :func:`stall_claim` compares a route that blocks the loop with
a control that awaits for the same time, and cross-checks with the stalls the
watcher itself recorded when its diagnostics are available.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from unstuck.lab import figures
from unstuck.lab.claim import Finding, Judgement, Lab, Verdict
from unstuck.lab.client import Request
from unstuck.lab.load import Outcome, Probe, burst, latency_ms, wall_time
from unstuck.lab.services import RunningService

SETTLE_S = 0.3


@dataclass
class LoadedRun:
    label: str
    load: list[Outcome]
    probes: list[Outcome]
    origin: float

    def points(self) -> list[tuple[float, float]]:
        """(seconds since the load started, probe latency in ms) per probe."""
        return [(p.started - self.origin, p.elapsed * 1000) for p in self.probes]

    def during(self) -> list[Outcome]:
        """Probes sent while the load was running."""
        end = max(o.finished for o in self.load)
        return [p for p in self.probes if self.origin <= p.started <= end]

    def worst_ms(self) -> float:
        during = self.during()
        return max((p.elapsed for p in during), default=0.0) * 1000


async def under_load(
    service: RunningService,
    label: str,
    requests: list[Request],
    *,
    timeout_s: float = 60.0,
    interval_s: float = 0.02,
) -> LoadedRun:
    async with Probe(service.target, interval_s=interval_s) as probe:
        await asyncio.sleep(SETTLE_S)
        origin = time.perf_counter()
        load = await burst(service.target, requests, timeout_s=timeout_s)
        await asyncio.sleep(SETTLE_S)
    return LoadedRun(label, load, probe.samples, origin)


def watcher_stalls(diagnostics: dict[str, Any] | None, route_part: str) -> list[dict[str, Any]]:
    """The watcher's recorded stalls whose route mentions ``route_part`` (if it reports any)."""
    stalls = diagnostics.get("stalls") if diagnostics else None
    if not isinstance(stalls, list):
        return []
    found = []
    for stall in stalls:
        if isinstance(stall, dict) and route_part in str(stall.get("route", "")):
            found.append({"route": stall.get("route"), "duration_ms": stall.get("duration_ms")})
    return found


@dataclass(frozen=True)
class Stall:
    """``count`` concurrent ``route`` blocking for ``delay_s``, seen by the /health probe."""

    route: str
    count: int
    delay_s: float
    worst_probe_ms: float
    control_worst_ms: float
    wall_s: float


def judge(stall: Stall) -> Judgement:
    """Holds when a probe waited most of one delay and the burst ran one at a time."""
    blocked_ms, control_ms = stall.worst_probe_ms, stall.control_worst_ms
    route, count, delay_s, wall = stall.route, stall.count, stall.delay_s, stall.wall_s
    ratio = blocked_ms / max(control_ms, 1.0)
    serialized = wall >= 0.8 * count * delay_s
    if blocked_ms >= 0.8 * delay_s * 1000 and serialized:
        return Judgement(
            Verdict.HOLDS,
            ratio,
            f"while {route} ran, /health waited up to {blocked_ms:.0f} ms instead of "
            f"{control_ms:.0f} ms, and the {count} requests ran one after the other "
            f"({wall:.2f} s for {count} x {delay_s:g} s): the loop did nothing else.",
        )
    return Judgement(
        Verdict.DOES_NOT_HOLD,
        ratio,
        f"/health waited at most {blocked_ms:.0f} ms during {route} "
        f"({control_ms:.0f} ms in the control) and the burst took {wall:.2f} s.",
    )


async def stall_claim(
    lab: Lab, *, name: str, title: str, route: str, control: str, delay_s: float, count: int
) -> Finding:
    """``count`` concurrent ``route`` (blocking for ``delay_s``) vs the same of ``control``."""
    service = await lab.fleet.service()
    control_run = await under_load(service, f"{count} x {control}", [Request.get(control)] * count)
    blocked_run = await under_load(service, f"{count} x {route}", [Request.get(route)] * count)
    diagnostics = await service.diagnostics()
    blocked_ms, control_ms = blocked_run.worst_ms(), control_run.worst_ms()
    blocked_wall, control_wall = wall_time(blocked_run.load), wall_time(control_run.load)
    ok = sum(o.ok for o in blocked_run.load)
    judgement = judge(Stall(route, count, delay_s, blocked_ms, control_ms, blocked_wall))
    ratio, verdict, why = judgement.ratio, judgement.verdict, judgement.why
    stalls = watcher_stalls(diagnostics, route.split("?", 1)[0])
    if stalls:
        longest = max(float(s.get("duration_ms") or 0) for s in stalls)
        why += (
            f" The watcher recorded {len(stalls)} stalls on that route (longest {longest:.0f} ms)."
        )
    plot = figures.timeline(
        lab.report_dir,
        name,
        title,
        {blocked_run.label: blocked_run.points(), control_run.label: control_run.points()},
        references={f"one blocking call ({delay_s:g} s)": delay_s * 1000},
    )
    return Finding(
        measured=f"/health up to {blocked_ms:.0f} ms during {count} x {route} "
        f"(control {control}: {control_ms:.0f} ms); the burst took {blocked_wall:.2f} s "
        f"vs {control_wall:.2f} s ({ok}/{count} OK)",
        ideal=f"/health as in the control ({control_ms:.0f} ms); the burst in {delay_s:g} s",
        ratio=ratio,
        verdict=verdict,
        explanation=why,
        metrics={
            "route": route,
            "control": control,
            "concurrent": count,
            "delay_s": delay_s,
            "health_during_blocking": latency_ms(blocked_run.during()),
            "health_during_control": latency_ms(control_run.during()),
            "blocking_wall_s": blocked_wall,
            "control_wall_s": control_wall,
            "blocking_ok": ok,
            "watcher_stalls": stalls,
        },
        plots=[plot],
    )
