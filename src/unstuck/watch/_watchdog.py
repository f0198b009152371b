"""Stall detection: a heartbeat on the loop and a watchdog thread beside it.

The heartbeat (a ``call_later`` callback every few ms) records when it ran and
when it is next due. The watchdog thread sleeps until ``due + threshold``; if
the heartbeat is still missing then, the loop is stalled and the watchdog
samples the loop thread's frames (``sys._current_frames()``) until it returns.
No per-await hook and no profiler: the cost is one callback per heartbeat and
about one thread wake-up per threshold.

C code that holds the GIL (a catastrophic regex) keeps the watchdog from
running at all; it gets the GIL back at the first bytecode after the C call,
while that frame is still on the stack, so the stack is taken then. Durations
always come from the heartbeat's own timestamps, never from the watchdog's.

What the loop thread did meanwhile: the heartbeat reads its own thread's CPU
time (one ``clock_gettime``), so the CPU time of a stall is exact; the loop
thread's run-queue wait (``/proc/self/task/<tid>/schedstat``, opened once at
start, then one ``pread``) is read by the watchdog when it wakes, as the
baseline, and by a heartbeat that comes late, at the stall's end; so a stall of
a thread that was ready but had no CPU is told apart. Garbage collections longer than a tenth of the
threshold are timed by a ``gc.callbacks`` hook: a collection holds the GIL,
whatever thread runs it, so it stalls the loop without being the loop's code.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Protocol

from unstuck.watch._loop_lag import LoopLag
from unstuck.watch._origin import GARBAGE_COLLECTION, OUTSIDE, Origin
from unstuck.watch._stack import StackFrame, thread_stack
from unstuck.watch._stall import Stall, make_stall

OriginResolver = Callable[["asyncio.Task[Any] | None", FrameType | None], Origin]


class Clock(Protocol):
    """Whatever wants the loop's time without reading the system clock: set by the heartbeat."""

    now: float


_MAX_DISTINCT_STACKS = 64


@dataclass(slots=True)
class _Ongoing:
    seq: int
    due: float
    samples: Counter[tuple[tuple[str, int, str], ...]] = field(default_factory=Counter)
    origin: Origin | None = None
    task: str | None = None
    hang_reported: bool = False


@dataclass(frozen=True, slots=True)
class _Late:
    """A heartbeat that ran late by at least the threshold: a stall that ended."""

    seq: int
    due: float
    ended: float
    cpu_s: float | None
    runnable_s: float | None = None
    """The loop thread's run-queue wait since the baseline, read by that late heartbeat."""


class _Schedstat:
    """The loop thread's ``/proc/self/task/<tid>/schedstat``, opened once at start.

    ``pread`` of the open file costs about a microsecond; opening it each time
    cost some 50 (a path walk through /proc) at every wake-up of the watchdog.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._fd: int | None = None

    def open(self) -> None:
        """Where the file does not exist (not Linux), every read is None."""
        with contextlib.suppress(OSError):
            self._fd = os.open(self._path, os.O_RDONLY)

    def runnable_s(self) -> float | None:
        """Run-queue wait of the thread so far (the second field, in ns)."""
        if self._fd is None:
            return None
        try:
            return int(os.pread(self._fd, 128, 0).split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            return None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _task_name(task: asyncio.Task[Any] | None) -> str | None:
    if task is None:
        return None
    coroutine = task.get_coro()
    qualname = getattr(coroutine, "__qualname__", type(coroutine).__qualname__)
    return f"{task.get_name()} ({qualname})"


class LoopWatchdog:
    """Watches one event loop; ``start`` and ``stop`` are called on that loop."""

    def __init__(
        self,
        *,
        threshold_s: float,
        heartbeat_s: float,
        sample_s: float,
        on_stall: Callable[[Stall], None],
        resolve_origin: OriginResolver | None = None,
        on_lag: Callable[[float], None] | None = None,
        on_hang: Callable[[Stall], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.threshold_s = threshold_s
        self.heartbeat_s = heartbeat_s
        self.sample_s = sample_s
        self.lag = LoopLag(heartbeat_s)
        self._on_stall = on_stall
        self._resolve_origin = resolve_origin
        self._on_lag = on_lag
        self._on_hang = on_hang
        self._clock = clock
        # A stall this long may never end (a deadlock): say so while it lasts.
        self.hang_after_s = max(1.0, 10 * threshold_s)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._handle: asyncio.TimerHandle | None = None
        # (sequence number, monotonic time the next heartbeat is due): one
        # attribute, so that the watchdog thread always reads a consistent pair.
        self._beat: tuple[int, float] = (0, 0.0)
        self._beat_cpu = 0.0
        self._late: deque[_Late] = deque()
        self._schedstat: _Schedstat | None = None
        # The loop thread's run-queue wait so far, read while the loop answered.
        self._runnable_before: float | None = None
        self._gc_min_s = threshold_s / 10
        self._gc_started = 0.0
        self._gc_spans: deque[tuple[float, float]] = deque(maxlen=256)
        #: Seconds of every collection since start (the loop-time account reads it).
        self.gc_seconds = 0.0
        self._ongoing: _Ongoing | None = None
        self._stopping = threading.Event()
        self._armed = threading.Event()
        self._cancelled_at = 0.0
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._schedstat = _Schedstat(f"/proc/self/task/{threading.get_native_id()}/schedstat")
        self._stopping.clear()
        self._armed.clear()
        self._thread = threading.Thread(
            target=self._watch, name=f"unstuck-watchdog-{os.getpid()}", daemon=True
        )
        # Thread.start waits until the new thread runs: on a busy machine, a stall
        # of the watcher's own making. The watch begins after it, so it is not
        # blamed on the code about to be watched (a test, the app's start-up).
        self._thread.start()
        # The baseline of the run-queue wait, so that a watch shorter than the
        # watchdog's first wake-up (a test) has one too. A file of /proc: no disk.
        self._schedstat.open()
        self._runnable_before = self._runnable_s()
        now = time.monotonic()
        self._beat = (0, now + self.heartbeat_s)
        if self._clock is not None:
            self._clock.now = now
        self._beat_cpu = time.thread_time()
        gc.callbacks.append(self._on_gc)
        self._handle = self._loop.call_later(self.heartbeat_s, self._heartbeat)
        self._armed.set()

    def cancel_heartbeat(self) -> None:
        """Take the heartbeat off the loop; call on the loop thread before `stop`.

        Split from `stop` so that a coroutine can cancel the heartbeat on the loop
        and then wait for the thread to end off the loop.
        """
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
            # The watch ends here, on the loop: the wait for a thread to run `stop`
            # (on a busy machine, long) is no stall of the watched code.
            self._cancelled_at = time.monotonic()
            self._stopping.set()
            if self._clock is not None:
                self._clock.now = 0.0  # no heartbeat to keep it current

    def stop(self) -> None:
        """Stop the thread; a stall still in progress (the caller's own) is reported.

        Joins the watchdog thread: from a coroutine, call `cancel_heartbeat` first
        and run this one with ``asyncio.to_thread``.
        """
        if self._thread is None:
            return
        self.cancel_heartbeat()
        now = self._cancelled_at
        self._stopping.set()
        self._armed.set()
        self._thread.join()
        self._thread = None
        self._finish_late()
        seq, due = self._beat
        if now - due >= self.threshold_s:
            self._late.append(_Late(seq, due, now, None))
            self._finish_late()
        self._ongoing = None
        if self._schedstat is not None:
            self._schedstat.close()
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        # Runs in whatever thread collects, inside the collection: keep it short.
        if phase == "start":
            self._gc_started = time.monotonic()
            return
        took = time.monotonic() - self._gc_started
        self.gc_seconds += took
        if took >= self._gc_min_s:
            self._gc_spans.append((self._gc_started, took))

    def _gc_seconds(self, start: float, end: float) -> float:
        total = 0.0
        for began, took in list(self._gc_spans):
            total += max(0.0, min(end, began + took) - max(start, began))
        return total

    def _heartbeat(self) -> None:
        now = time.monotonic()
        cpu = time.thread_time()
        seq, due = self._beat
        lag = now - due if now > due else 0.0
        self.lag.record(lag)
        if lag >= self.threshold_s:
            # Read here, at the stall's end: read later, by a watchdog that a busy
            # machine kept waiting, it would count waits of after the stall too.
            runnable, before = self._runnable_s(), self._runnable_before
            waited = None if runnable is None or before is None else runnable - before
            self._late.append(_Late(seq, due, now, cpu - self._beat_cpu, waited))
        self._beat = (seq + 1, now + self.heartbeat_s)
        self._beat_cpu = cpu
        if self._clock is not None:
            self._clock.now = now
        assert self._loop is not None
        self._handle = self._loop.call_later(self.heartbeat_s, self._heartbeat)
        if self._on_lag is not None:
            self._on_lag(lag)

    def _watch(self) -> None:
        self._armed.wait()
        while not self._stopping.is_set():
            self._finish_late()
            seq, due = self._beat
            now = time.monotonic()
            overdue = now - due
            if overdue >= self.threshold_s:
                self._sample(seq, due)
                wait = self.sample_s
            else:
                # The baseline of the loop thread's run-queue wait, taken while it answers.
                runnable = self._runnable_s()
                if runnable is not None and overdue < self.heartbeat_s:
                    self._runnable_before = runnable
                wait = min(1.0, self.threshold_s - overdue)
            self._stopping.wait(wait)

    def _sample(self, seq: int, due: float) -> None:
        frame = sys._current_frames().get(self._loop_thread)
        task = asyncio.current_task(self._loop) if self._loop is not None else None
        if self._beat[0] != seq or frame is None:
            return  # the loop answered in the meantime: this is not the stall's stack
        coroutine = task.get_coro() if task is not None else None
        task_frame = getattr(coroutine, "cr_frame", None)
        frames = thread_stack(frame, task_frame)
        stack = tuple((f["path"], f["line"], f["function"]) for f in frames)
        hang: Stall | None = None
        with self._lock:
            ongoing = self._ongoing
            if ongoing is None or ongoing.seq != seq:
                ongoing = self._ongoing = _Ongoing(seq, due)
            if stack in ongoing.samples or len(ongoing.samples) < _MAX_DISTINCT_STACKS:
                ongoing.samples[stack] += 1
            if ongoing.origin is None and self._resolve_origin is not None:
                ongoing.origin = self._resolve_origin(task, frame)
            if ongoing.task is None:
                ongoing.task = _task_name(task)
            now = time.monotonic()
            if not ongoing.hang_reported and now - due >= self.hang_after_s:
                ongoing.hang_reported = True
                hang = self._stall(due, now, ongoing, None)
        del frame, task_frame
        if hang is not None and self._on_hang is not None:
            self._on_hang(hang)

    def _finish_late(self) -> None:
        while self._late:
            try:
                late = self._late.popleft()
            except IndexError:
                return
            with self._lock:
                ongoing = self._ongoing
                if ongoing is not None and ongoing.seq == late.seq:
                    self._ongoing = None
                else:
                    ongoing = None
            self._on_stall(self._stall(late.due, late.ended, ongoing, late.cpu_s, late.runnable_s))

    def _runnable_s(self) -> float | None:
        return None if self._schedstat is None else self._schedstat.runnable_s()

    def _runnable_since_baseline(self, duration_s: float) -> float | None:
        before = self._runnable_before
        now = self._runnable_s()
        if before is None or now is None:
            return None
        return min(duration_s, max(0.0, now - before))

    def _stall(
        self,
        due: float,
        ended: float,
        ongoing: _Ongoing | None,
        cpu_s: float | None,
        waited_s: float | None = None,
    ) -> Stall:
        """``waited_s``: the run-queue wait read at the stall's end; else it is read now."""
        stack: list[StackFrame] = []
        samples = importing = 0
        if ongoing is not None and ongoing.samples:
            samples = sum(ongoing.samples.values())
            imports = {sampled: n for sampled, n in ongoing.samples.items() if _in_import(sampled)}
            importing = sum(imports.values())
            # The line to fix: an import runs once, so other blocking comes first.
            candidates = [item for item in ongoing.samples.items() if item[0] not in imports]
            top = max(candidates or ongoing.samples.items(), key=lambda item: item[1])[0]
            stack = [{"path": p, "line": line, "function": fn} for p, line, fn in top]
        duration = ended - due
        gc_s = self._gc_seconds(due - self.heartbeat_s, ended)
        origin = (ongoing.origin if ongoing else None) or OUTSIDE
        if gc_s >= duration / 2:
            # The collector ran, not the code it interrupted: blame neither.
            origin = GARBAGE_COLLECTION
        return make_stall(
            duration_s=duration,
            started_at=time.time() - (time.monotonic() - due),
            route=origin.route if origin.kind == "request" else None,
            stack=stack,
            samples=samples,
            task=ongoing.task if ongoing else None,
            pid=os.getpid(),
            origin=origin,
            cpu_s=cpu_s,
            runnable_s=(
                self._runnable_since_baseline(duration)
                if waited_s is None
                else min(duration, max(0.0, waited_s))
            ),
            gc_s=gc_s,
            import_s=duration * importing / samples if samples else 0.0,
        )


def _in_import(stack: tuple[tuple[str, int, str], ...]) -> bool:
    """A sampled stack that runs inside an ``import`` (importlib's own frames)."""
    return any(
        function == "_find_and_load" and path.startswith("<frozen importlib")
        for path, _, function in stack
    )
