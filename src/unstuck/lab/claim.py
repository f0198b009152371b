"""What a claim is, what measuring it yields, and what a claim gets to measure with.

A :class:`Claim` names one statement of the article and the coroutine that
measures it. Measuring returns a :class:`Finding`: what was measured (in
words and as numbers), the ideal or limit it is compared with, their ratio
and a :class:`Verdict`. Every number in a finding comes from the run that
produced it. The :class:`Lab` hands a claim its services, its scale (quick or
full) and where to put its plots.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unstuck.lab.services import Fleet


class Verdict(enum.Enum):
    HOLDS = "holds"
    DOES_NOT_HOLD = "does not hold"
    CORRECTED = "holds with a correction"
    NOT_MEASURED = "not measured"


@dataclass(frozen=True)
class Judgement:
    """What a claim's pure verdict function makes of the numbers: unit-tested on made-up ones."""

    verdict: Verdict
    ratio: float | None
    why: str


@dataclass
class Finding:
    """``measured`` and ``ideal`` in words; ``value`` and ``ideal_value`` the same as numbers.

    ``ratio`` compares like with like: ``value / ideal_value`` where both exist,
    otherwise the quantity the claim's docs define.
    """

    measured: str
    ideal: str
    ratio: float | None
    verdict: Verdict
    explanation: str
    metrics: dict[str, Any] = field(default_factory=dict)
    plots: list[str] = field(default_factory=list)
    value: float | None = None
    ideal_value: float | None = None
    unit: str = ""


@dataclass
class Lab:
    """One run of the lab: scale, services, where the report goes."""

    quick: bool
    report_dir: Path
    fleet: Fleet
    database: str = "sqlite"
    cpus: int = 1

    def scale(self, quick: int, full: int) -> int:
        return quick if self.quick else full

    def seconds(self, quick: float, full: float) -> float:
        return quick if self.quick else full


@dataclass(frozen=True)
class Claim:
    """``name`` is the claim's stable id; ``ratio_of`` says what its ratio divides by what."""

    name: str
    title: str
    article: str
    measure: Callable[[Lab], Awaitable[Finding]]
    ratio_of: str = ""


@dataclass
class Result:
    """A claim and what its measurement found (or why it could not be measured)."""

    claim: Claim
    finding: Finding
    duration_s: float
    error: str | None = None
