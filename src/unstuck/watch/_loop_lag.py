"""Loop lag: how late the heartbeat ran, kept for percentiles and for the chart.

The heartbeat is a loop callback scheduled every ``interval``; the time by which
it runs late is the loop's lag (how long any ready callback waited). Recent
lags go to a bounded deque for current/p50/p99/max; per-second maxima go to a
ring of the last five minutes for the chart on the diagnostics page.
"""

from __future__ import annotations

import time
from collections import deque
from itertools import islice
from typing import Any

_CHART_SECONDS = 300


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))
    return sorted_values[index]


class LoopLag:
    def __init__(self, interval_s: float, window_s: float = 60.0) -> None:
        self.interval_s = interval_s
        self._recent: deque[float] = deque(maxlen=max(100, int(window_s / interval_s)))
        self._chart: deque[tuple[float, float]] = deque(maxlen=_CHART_SECONDS)
        self._second = -1
        self._second_max = 0.0
        self.current = 0.0
        self.max = 0.0

    def record(self, lag: float) -> None:
        """Called by the heartbeat on the loop: keep this cheap."""
        self.current = lag
        self._recent.append(lag)
        if lag > self.max:
            self.max = lag
        second = int(time.time())
        if second != self._second:
            if self._second >= 0:
                self._chart.append((float(self._second), self._second_max))
            self._second = second
            self._second_max = lag
        elif lag > self._second_max:
            self._second_max = lag

    def recent_max(self, seconds: float = 1.0) -> float:
        count = max(1, int(seconds / self.interval_s))
        # From the newest end: the deque holds a minute of beats, and this runs every second.
        return max(islice(reversed(self._recent), count), default=0.0)

    def snapshot(self) -> dict[str, Any]:
        ordered = sorted(self._recent)
        chart = [*self._chart]
        if self._second >= 0:
            chart.append((float(self._second), self._second_max))
        return {
            "lag_ms": round(self.current * 1000, 3),
            "p50_ms": round(_percentile(ordered, 0.50) * 1000, 3),
            "p99_ms": round(_percentile(ordered, 0.99) * 1000, 3),
            "max_ms": round(self.max * 1000, 3),
            "window_max_ms": round((ordered[-1] if ordered else 0.0) * 1000, 3),
            "heartbeat_ms": round(self.interval_s * 1000, 3),
            "chart": [{"t": t, "max_ms": round(v * 1000, 3)} for t, v in chart],
        }
