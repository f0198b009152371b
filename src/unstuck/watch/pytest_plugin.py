"""pytest plugin: fail an async test or fixture that blocked its event loop too long.

Inert unless asked: ``--unstuck-max-block-ms=N``, the ini option
``unstuck_max_block_ms`` or the marker ``@pytest.mark.unstuck(max_block_ms=N)``
(which wins) turns it on. A bad value is a usage error of the whole run.

Whatever runs the coroutine (pytest-asyncio in strict or auto mode, the anyio
plugin, another runner), it calls the test function it finds on the item when
the test runs, and the fixture function it finds on the fixture definition
when the fixture is set up. The plugin puts a coroutine function of its own
there just before (its hooks run first): when the runner runs it on its loop,
the watcher's watchdog watches that loop while the test's or the fixture's
body runs. A test that blocked fails with the blocking stack, its own failure
(an assertion) shown too; a fixture that blocked is an error of its set-up or
teardown. ``unstuck_fixtures = false`` (or ``--unstuck-no-fixtures``) leaves
fixtures alone.

Starlette's ``TestClient`` runs the app on a loop in a thread of its own, an
anyio blocking portal, from sync tests. While a limit is set, each portal
started by ``anyio.from_thread.start_blocking_portal`` gets a watchdog on its
loop, and its stalls count against the test phase that runs at the time
(set-up, call or teardown).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import inspect
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from typing import Any

import pytest

from unstuck.watch._stack import is_library
from unstuck.watch._stall import Stall
from unstuck.watch._watchdog import LoopWatchdog

_OPTION = "--unstuck-max-block-ms"
_INI = "unstuck_max_block_ms"
_FIXTURES_INI = "unstuck_fixtures"
_MARKER = "@pytest.mark.unstuck(max_block_ms=...)"
_LIMIT = pytest.StashKey[float | None]()
_FIXTURES = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("unstuck", "event-loop blocking (unstuck.watch)")
    group.addoption(
        _OPTION,
        dest="unstuck_max_block_ms",
        default=None,
        metavar="N",
        help="fail an async test or fixture that blocks the event loop longer than N ms",
    )
    group.addoption(
        "--unstuck-no-fixtures",
        dest="unstuck_no_fixtures",
        action="store_true",
        default=False,
        help="watch async tests only, not their async fixtures",
    )
    parser.addini(_INI, "default of --unstuck-max-block-ms", default=None)
    parser.addini(
        _FIXTURES_INI, "watch async fixtures too (default true)", type="bool", default=True
    )


def _parse_limit(source: str, value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        limit = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise pytest.UsageError(f"{source}={value!r} is not a number of milliseconds") from None
    if not 0 < limit < float("inf"):
        raise pytest.UsageError(f"{source}={value!r} must be a positive number of milliseconds")
    return limit


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "unstuck(max_block_ms=N): fail this async test if it blocks its event loop over N ms",
    )
    option = config.getoption("unstuck_max_block_ms")
    if option is not None:
        config.stash[_LIMIT] = _parse_limit(_OPTION, option)
    else:
        config.stash[_LIMIT] = _parse_limit(_INI, config.getini(_INI))
    config.stash[_FIXTURES] = not config.getoption("unstuck_no_fixtures") and bool(
        config.getini(_FIXTURES_INI)
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A bad marker value stops the run once, before any test runs.
    marked = False
    for item in items:
        for marker in item.iter_markers("unstuck"):
            if "max_block_ms" in marker.kwargs:
                _parse_limit(_MARKER, marker.kwargs["max_block_ms"])
                marked = True
    if marked or config.stash.get(_LIMIT, None) is not None:
        _PORTALS.install(config)


def _limit_ms(node: pytest.Item | pytest.Collector) -> float | None:
    marker = node.get_closest_marker("unstuck")
    if marker is not None and "max_block_ms" in marker.kwargs:
        return _parse_limit(_MARKER, marker.kwargs["max_block_ms"])
    return node.config.stash.get(_LIMIT, None)


def over_limit(stall: Stall, limit_ms: float) -> bool:
    """Whether the code under test held the loop for the limit.

    Three parts of a stall are not the code under test's, and are taken out:
    - time the loop thread was ready to run but given no CPU (a busy CI machine:
      the run-queue wait from schedstat, Linux): without it, a test that only
      awaits failed at random on a loaded runner;
    - garbage collection: a suite's heap grows test after test, and a full
      collection of it (a third of a second in a suite of 500 tests) falls on
      whichever test allocates at that moment;
    - the first import of a module (a library importing lazily on first use):
      it runs once per process, in whichever test comes first.
    """
    foreign = (stall.runnable_ms or 0.0) + stall.gc_ms + stall.import_ms
    return stall.duration_ms - foreign >= limit_ms


class _Watch:
    """The watchdog on the running loop while one body runs; collects its stalls."""

    def __init__(self, limit_ms: float, on_stall: Callable[[Stall], None] | None = None) -> None:
        self.limit_ms = limit_ms
        self.stalls: list[Stall] = []
        self._collect = on_stall or self.stalls.append
        self._watchdog: LoopWatchdog | None = None

    def _on_stall(self, stall: Stall) -> None:
        if over_limit(stall, self.limit_ms):
            self._collect(stall)

    def start(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # not asyncio (trio): nothing to watch
        threshold = self.limit_ms / 1000
        self._watchdog = LoopWatchdog(
            threshold_s=threshold,
            heartbeat_s=min(0.01, threshold / 4),
            sample_s=min(0.01, max(0.001, threshold / 10)),
            on_stall=self._on_stall,
        )
        self._watchdog.start()

    async def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel_heartbeat()
            await asyncio.to_thread(self._watchdog.stop)
            self._watchdog = None


class _PortalWatch:
    """Watchdogs on the loops of anyio blocking portals (``TestClient``'s app loop).

    The stalls go to the list of the test phase running now; a portal opened
    outside any watched phase is not watched.
    """

    def __init__(self) -> None:
        self.stalls: list[Stall] | None = None
        self.limit_ms: float | None = None
        self._installed = False

    def install(self, config: pytest.Config) -> None:
        if self._installed:
            return
        try:
            from_thread: Any = importlib.import_module("anyio.from_thread")
        except ImportError:
            return  # no anyio, no TestClient
        original = from_thread.start_blocking_portal
        watched = functools.wraps(original)(contextlib.contextmanager(self._portal(original)))
        from_thread.start_blocking_portal = watched
        self._installed = True

        def uninstall() -> None:
            from_thread.start_blocking_portal = original
            self._installed = False

        config.add_cleanup(uninstall)

    def _portal(self, original: Callable[..., Any]) -> Callable[..., Iterator[Any]]:
        def start_blocking_portal(*args: Any, **kwargs: Any) -> Iterator[Any]:
            with original(*args, **kwargs) as portal:
                limit = self.limit_ms
                watch = _Watch(limit, self._record) if limit is not None else None
                if watch is not None:
                    portal.call(watch.start)
                try:
                    yield portal
                finally:
                    if watch is not None:
                        portal.call(watch.stop)

        return start_blocking_portal

    def _record(self, stall: Stall) -> None:
        # On the watchdog's thread: a list append is atomic.
        if self.stalls is not None:
            self.stalls.append(stall)

    @contextlib.contextmanager
    def phase(self, limit_ms: float | None) -> Iterator[list[Stall]]:
        stalls: list[Stall] = []
        self.stalls, self.limit_ms = (stalls, limit_ms) if limit_ms is not None else (None, None)
        try:
            yield stalls
        finally:
            self.stalls = self.limit_ms = None


_PORTALS = _PortalWatch()


def _watched_test(test: Callable[..., Any], watch: _Watch) -> Callable[..., Any]:
    @functools.wraps(test)
    async def run_watched(*args: Any, **kwargs: Any) -> Any:
        watch.start()
        try:
            return await test(*args, **kwargs)
        finally:
            await watch.stop()

    return run_watched


def _watched_fixture(fixture: Callable[..., Any], limit_ms: float, name: str) -> Callable[..., Any]:
    def fail_if_blocked(*parts: tuple[str, _Watch]) -> None:
        messages = [
            f"fixture {name!r}, {when}: {report(watch.stalls, limit_ms)}"
            for when, watch in parts
            if watch.stalls
        ]
        if messages:
            pytest.fail("\n".join(messages), pytrace=False)

    if inspect.isasyncgenfunction(fixture):

        @functools.wraps(fixture)
        async def watched_generator(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            generator = fixture(*args, **kwargs)
            set_up = _Watch(limit_ms)
            set_up.start()
            try:
                value = await generator.__anext__()
            finally:
                await set_up.stop()
            if not set_up.stalls:
                yield value
            teardown = _Watch(limit_ms)
            teardown.start()
            try:
                # Its teardown runs even when its set-up failed: it releases what it took.
                async for _ in generator:
                    raise RuntimeError(f"fixture {name!r} yields more than once")
            finally:
                await teardown.stop()
            fail_if_blocked(("set-up", set_up), ("teardown", teardown))

        return watched_generator

    @functools.wraps(fixture)
    async def watched_coroutine(*args: Any, **kwargs: Any) -> Any:
        watch = _Watch(limit_ms)
        watch.start()
        try:
            value = await fixture(*args, **kwargs)
        finally:
            await watch.stop()
        fail_if_blocked(("set-up", watch))
        return value

    return watched_coroutine


def _own_frames_cut(stall: Stall) -> list[dict[str, Any]]:
    """The stack from the test or fixture inwards: the runner and this plugin left out."""
    frames = [dict(frame) for frame in stall.stack]
    own = [i for i, frame in enumerate(frames) if frame["path"] == __file__]
    return frames[own[-1] + 1 :] if own else frames


def report(stalls: list[Stall], limit_ms: float) -> str:
    worst = max(stalls, key=lambda stall: stall.duration_ms)
    stack = _own_frames_cut(worst)
    # The application's innermost frame first: the line to fix.
    where = next((f for f in reversed(stack) if not is_library(f["path"])), None)
    where = where or (stack[-1] if stack else None)
    at = f" at {where['path']}:{where['line']} in {where['function']}" if where else ""
    lines = [
        f"the event loop was blocked {len(stalls)} time(s) longer than {limit_ms:g} ms; "
        f"the longest, {worst.duration_ms:.0f} ms,{at}",
    ]
    if stack:
        lines.append("blocking stack, innermost last:")
        lines += [f"  {f['path']}:{f['line']} in {f['function']}" for f in stack]
    else:
        lines.append("  (no stack was sampled)")
    lines.append("Offload it: await asyncio.to_thread(...) or use an async library.")
    return "\n".join(lines)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    limit = _limit_ms(item)
    if limit is None or not isinstance(item, pytest.Function):
        return (yield)
    original = item.obj
    watch = _Watch(limit)
    if inspect.iscoroutinefunction(original):
        item.obj = _watched_test(original, watch)
    with _PORTALS.phase(limit) as portal_stalls:
        try:
            result = yield
        except BaseException:
            if stalls := watch.stalls + portal_stalls:
                # The test failed on its own too: show both, its failure and the stall.
                item.add_report_section("call", "unstuck", report(stalls, limit))
            raise
        finally:
            item.obj = original
    if stalls := watch.stalls + portal_stalls:
        pytest.fail(report(stalls, limit), pytrace=False)
    return result


def _fixture_phase(item: pytest.Item, when: str) -> Generator[None, object, object]:
    """Set-up or teardown: stalls of a portal (a ``TestClient`` fixture) fail it."""
    limit = _limit_ms(item) if item.config.stash.get(_FIXTURES, False) else None
    with _PORTALS.phase(limit) as stalls:
        result = yield
    if stalls and limit is not None:
        pytest.fail(f"{when}: {report(stalls, limit)}", pytrace=False)
    return result


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _fixture_phase(item, "set-up"))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _fixture_phase(item, "teardown"))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, object, object]:
    func = fixturedef.func
    is_async = inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)
    if not is_async or inspect.ismethod(func) or not request.config.stash.get(_FIXTURES, False):
        return (yield)
    limit = _limit_ms(request.node)
    if limit is None:
        return (yield)
    fixturedef.func = _watched_fixture(func, limit, fixturedef.argname)  # type: ignore[misc]
    try:
        return (yield)
    finally:
        fixturedef.func = func  # type: ignore[misc]
