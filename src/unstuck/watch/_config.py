"""Options of the watcher: keyword arguments first, then ``UNSTUCK_WATCH_*`` variables.

Only the standard library is used here, so that ``import unstuck`` stays cheap.
A malformed variable is an error that names the variable, raised when the
watcher is configured (at import of the app), not at the first stall.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

_ENV_PREFIX = "UNSTUCK_WATCH_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True, slots=True)
class WatchConfig:
    """Resolved options of one watcher."""

    enabled: bool = True
    threshold_ms: float = 100.0
    token: str | None = None
    path: str = "/_unstuck"
    metrics_public: bool = False
    history: int = 200
    heartbeat_ms: float | None = None
    sample_ms: float | None = None
    loop_time: bool = True
    """Sample where the loop's busy time goes (loop time by origin)."""

    @property
    def heartbeat_s(self) -> float:
        """Lag is measured every heartbeat; a stall is under-measured by at most one."""
        if self.heartbeat_ms is not None:
            return self.heartbeat_ms / 1000
        return min(10.0, self.threshold_ms / 4) / 1000

    @property
    def sample_s(self) -> float:
        """How often the stack is sampled while a stall lasts."""
        if self.sample_ms is not None:
            return self.sample_ms / 1000
        return min(10.0, max(1.0, self.threshold_ms / 10)) / 1000


def _parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}={raw!r} is not a boolean: use 1/0, true/false, yes/no or on/off")


def _parse_positive(name: str, raw: str | float) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None
    if not value > 0 or value != value or value == float("inf"):
        raise ValueError(f"{name}={raw!r} must be a positive, finite number")
    return value


def resolve_config(
    environ: Mapping[str, str] | None = None,
    *,
    enabled: bool | None = None,
    threshold_ms: float | None = None,
    token: str | None = None,
    path: str | None = None,
    metrics_public: bool | None = None,
    history: int | None = None,
    heartbeat_ms: float | None = None,
    sample_ms: float | None = None,
    loop_time: bool | None = None,
) -> WatchConfig:
    """Merge explicit options (which win) with ``UNSTUCK_WATCH_*`` variables."""
    env = os.environ if environ is None else environ

    def raw(key: str) -> str | None:
        return env.get(_ENV_PREFIX + key)

    if enabled is None:
        value = raw("ENABLED")
        enabled = True if value is None else _parse_bool(_ENV_PREFIX + "ENABLED", value)
    if threshold_ms is None:
        value = raw("THRESHOLD_MS")
        threshold_ms = (
            100.0 if value is None else _parse_positive("UNSTUCK_WATCH_THRESHOLD_MS", value)
        )
    else:
        threshold_ms = _parse_positive("threshold_ms", threshold_ms)
    if token is None:
        token = raw("TOKEN")
    if not token:
        token = None
    if path is None:
        path = raw("PATH") or "/_unstuck"
    if not path.startswith("/") or path == "/" or path.endswith("/") or "?" in path:
        raise ValueError(
            f"watch path {path!r} must look like '/_unstuck': one leading slash, none trailing"
        )
    if metrics_public is None:
        value = raw("METRICS_PUBLIC")
        metrics_public = (
            False if value is None else _parse_bool("UNSTUCK_WATCH_METRICS_PUBLIC", value)
        )
    if history is None:
        value = raw("HISTORY")
        history = 200 if value is None else int(_parse_positive("UNSTUCK_WATCH_HISTORY", value))
    if history < 1:
        raise ValueError(f"history={history} must be at least 1")
    if heartbeat_ms is None and (value := raw("HEARTBEAT_MS")) is not None:
        heartbeat_ms = _parse_positive("UNSTUCK_WATCH_HEARTBEAT_MS", value)
    if sample_ms is None and (value := raw("SAMPLE_MS")) is not None:
        sample_ms = _parse_positive("UNSTUCK_WATCH_SAMPLE_MS", value)
    if loop_time is None:
        value = raw("LOOP_TIME")
        loop_time = True if value is None else _parse_bool("UNSTUCK_WATCH_LOOP_TIME", value)
    return WatchConfig(
        enabled=enabled,
        threshold_ms=threshold_ms,
        token=token,
        path=path,
        metrics_public=metrics_public,
        history=int(history),
        heartbeat_ms=heartbeat_ms,
        sample_ms=sample_ms,
        loop_time=loop_time,
    )
