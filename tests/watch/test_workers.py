"""Several worker processes: each watches its own loop, the metrics add up."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from .conftest import TOKEN, Server


def _samples(text: str, name: str) -> dict[str, float]:
    """``{labels: value}`` of one metric in the text exposition format."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}(\{{[^}}]*\}})? (\S+)", line)
        if match:
            found[match.group(1) or ""] = float(match.group(2))
    return found


def test_two_workers_metrics_aggregate_both(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = {
        "UNSTUCK_WATCH_TOKEN": TOKEN,
        "STALL_S": "0.15",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    server = Server("stall_app:app", env, workers=2)
    try:
        stalls_by_pid: dict[int, int] = {}
        # The kernel spreads new connections over both workers; stop once both stalled.
        for _ in range(40):
            status, _, body = server.request("/sleep")
            assert status == 200
            pid = json.loads(body)["pid"]
            stalls_by_pid[pid] = stalls_by_pid.get(pid, 0) + 1
            if len(stalls_by_pid) == 2 and sum(stalls_by_pid.values()) >= 4:
                break
        assert len(stalls_by_pid) == 2, f"one worker served everything: {stalls_by_pid}"
        total = sum(stalls_by_pid.values())
        text = ""
        # The watchdog reports a stall just after it ends; gauges are sampled once a
        # second, the first time a second after start.
        for _ in range(50):
            status, _, raw = server.request("/_unstuck/metrics", TOKEN)
            assert status == 200
            text = raw.decode()
            counted = _samples(text, "unstuck_stalls_total").get('{route="GET /sleep"}', 0)
            sampled = _samples(text, "unstuck_thread_pool_total").values()
            if counted >= total and sorted(sampled) == [40.0, 40.0]:
                break
            server.request("/pid")
            time.sleep(0.05)
        assert counted == total
        seconds = _samples(text, "unstuck_stall_seconds_total")['{route="GET /sleep"}']
        assert 0.1 * total <= seconds <= 2 * total
        # Gauges are per live worker: one series per pid.
        tokens = _samples(text, "unstuck_thread_pool_total")
        assert sorted(tokens.values()) == [40.0, 40.0]
        assert {re.search(r'pid="(\d+)"', k).group(1) for k in tokens} == {  # type: ignore[union-attr]
            str(pid) for pid in stalls_by_pid
        }
        assert sum(_samples(text, "unstuck_loop_lag_seconds_count").values()) > 0
    finally:
        server.stop()
