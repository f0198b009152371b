"""pytest plugin: fail an async test whose code blocked its event loop too long.

Inert unless asked: ``--unstuck-max-block-ms=N``, the ini option
``unstuck_max_block_ms`` or the marker ``@pytest.mark.unstuck(max_block_ms=N)``
(which wins) turns it on. Then the coroutine of each async test (run by the
anyio plugin, pytest-asyncio or any runner that calls ``item.obj``) is wrapped:
the watchdog of the watcher runs on the test's loop while the test body runs,
and a block longer than the limit fails the test with the blocking stack.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Generator
from typing import Any

import pytest

from unstuck.watch._stall import Stall
from unstuck.watch._watchdog import LoopWatchdog

_OPTION = "--unstuck-max-block-ms"
_INI = "unstuck_max_block_ms"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("unstuck", "event-loop blocking (unstuck.watch)")
    group.addoption(
        _OPTION,
        dest="unstuck_max_block_ms",
        type=float,
        default=None,
        metavar="N",
        help="fail an async test whose code blocks the event loop longer than N ms",
    )
    parser.addini(_INI, "default of --unstuck-max-block-ms", default=None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "unstuck(max_block_ms=N): fail this async test if it blocks its event loop over N ms",
    )


def _limit_ms(item: pytest.Function) -> float | None:
    marker = item.get_closest_marker("unstuck")
    if marker is not None and "max_block_ms" in marker.kwargs:
        value = marker.kwargs["max_block_ms"]
        source = "@pytest.mark.unstuck(max_block_ms=...)"
    else:
        value = item.config.getoption("unstuck_max_block_ms")
        source = _OPTION
        if value is None:
            value = item.config.getini(_INI)
            source = _INI
    if value is None or value == "":
        return None
    try:
        limit = float(value)
    except (TypeError, ValueError):
        raise pytest.UsageError(f"{source}={value!r} is not a number of milliseconds") from None
    if not limit > 0:
        raise pytest.UsageError(f"{source}={value!r} must be a positive number of milliseconds")
    return limit


def _monitored(
    test: Callable[..., Any], limit_ms: float, stalls: list[Stall]
) -> Callable[..., Any]:
    @functools.wraps(test)
    async def run_watched(*args: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return await test(*args, **kwargs)  # not asyncio (trio): nothing to watch
        threshold = limit_ms / 1000
        watchdog = LoopWatchdog(
            threshold_s=threshold,
            heartbeat_s=min(0.01, threshold / 4),
            sample_s=min(0.01, max(0.001, threshold / 10)),
            on_stall=stalls.append,
        )
        watchdog.start()
        try:
            return await test(*args, **kwargs)
        finally:
            watchdog.cancel_heartbeat()
            await asyncio.to_thread(watchdog.stop)

    return run_watched


def _report(stalls: list[Stall], limit_ms: float) -> str:
    worst = max(stalls, key=lambda stall: stall.duration_ms)
    lines = [
        f"the event loop was blocked {len(stalls)} time(s) longer than {limit_ms:g} ms; "
        f"the longest, {worst.duration_ms:.0f} ms, at:"
    ]
    stack = [frame for frame in worst.stack if frame["path"] != __file__]
    lines += [f"  {f['path']}:{f['line']} in {f['function']}" for f in stack]
    if not worst.stack:
        lines.append("  (no stack was sampled)")
    lines.append("Offload it: await asyncio.to_thread(...) or use an async library.")
    return "\n".join(lines)


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, object, object]:
    limit = _limit_ms(pyfuncitem)
    original = pyfuncitem.obj
    if limit is None or not inspect.iscoroutinefunction(original):
        return (yield)
    stalls: list[Stall] = []
    pyfuncitem.obj = _monitored(original, limit, stalls)
    try:
        result = yield
    finally:
        pyfuncitem.obj = original
    if stalls:
        pytest.fail(_report(stalls, limit), pytrace=False)
    return result
