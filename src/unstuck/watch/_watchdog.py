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
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from unstuck.watch._loop_lag import LoopLag
from unstuck.watch._stack import StackFrame, thread_stack
from unstuck.watch._stall import Stall, make_stall

RouteResolver = Callable[["asyncio.Task[Any] | None", FrameType | None], str | None]

_MAX_DISTINCT_STACKS = 64


@dataclass(slots=True)
class _Ongoing:
    seq: int
    due: float
    samples: Counter[tuple[tuple[str, int, str], ...]] = field(default_factory=Counter)
    route: str | None = None
    task: str | None = None
    hang_reported: bool = False


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
        resolve_route: RouteResolver | None = None,
        on_lag: Callable[[float], None] | None = None,
        on_hang: Callable[[Stall], None] | None = None,
    ) -> None:
        self.threshold_s = threshold_s
        self.heartbeat_s = heartbeat_s
        self.sample_s = sample_s
        self.lag = LoopLag(heartbeat_s)
        self._on_stall = on_stall
        self._resolve_route = resolve_route
        self._on_lag = on_lag
        self._on_hang = on_hang
        # A stall this long may never end (a deadlock): say so while it lasts.
        self.hang_after_s = max(1.0, 10 * threshold_s)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._handle: asyncio.TimerHandle | None = None
        # (sequence number, monotonic time the next heartbeat is due): one
        # attribute, so that the watchdog thread always reads a consistent pair.
        self._beat: tuple[int, float] = (0, 0.0)
        self._late: deque[tuple[int, float, float]] = deque()
        self._ongoing: _Ongoing | None = None
        self._stopping = threading.Event()
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
        self._stopping.clear()
        self._beat = (0, time.monotonic() + self.heartbeat_s)
        self._handle = self._loop.call_later(self.heartbeat_s, self._heartbeat)
        self._thread = threading.Thread(
            target=self._watch, name=f"unstuck-watchdog-{os.getpid()}", daemon=True
        )
        self._thread.start()

    def cancel_heartbeat(self) -> None:
        """Take the heartbeat off the loop; call on the loop thread before `stop`.

        Split from `stop` so that a coroutine can cancel the heartbeat on the loop
        and then wait for the thread to end off the loop.
        """
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def stop(self) -> None:
        """Stop the thread; a stall still in progress (the caller's own) is reported.

        Joins the watchdog thread: from a coroutine, call `cancel_heartbeat` first
        and run this one with ``asyncio.to_thread``.
        """
        if self._thread is None:
            return
        now = time.monotonic()
        self.cancel_heartbeat()
        self._stopping.set()
        self._thread.join()
        self._thread = None
        self._finish_late()
        seq, due = self._beat
        if now - due >= self.threshold_s:
            self._late.append((seq, due, now))
            self._finish_late()
        self._ongoing = None

    def _heartbeat(self) -> None:
        now = time.monotonic()
        seq, due = self._beat
        lag = now - due if now > due else 0.0
        self.lag.record(lag)
        if lag >= self.threshold_s:
            self._late.append((seq, due, now))
        self._beat = (seq + 1, now + self.heartbeat_s)
        assert self._loop is not None
        self._handle = self._loop.call_later(self.heartbeat_s, self._heartbeat)
        if self._on_lag is not None:
            self._on_lag(lag)

    def _watch(self) -> None:
        while not self._stopping.is_set():
            self._finish_late()
            seq, due = self._beat
            overdue = time.monotonic() - due
            if overdue >= self.threshold_s:
                self._sample(seq, due)
                wait = self.sample_s
            else:
                wait = min(1.0, self.threshold_s - overdue)
            self._stopping.wait(wait)

    def _sample(self, seq: int, due: float) -> None:
        frame = sys._current_frames().get(self._loop_thread)
        task = asyncio.current_task(self._loop) if self._loop is not None else None
        if self._beat[0] != seq or frame is None:
            return  # the loop answered in the meantime: this is not the stall's stack
        stack = tuple((f["path"], f["line"], f["function"]) for f in thread_stack(frame))
        hang: Stall | None = None
        with self._lock:
            ongoing = self._ongoing
            if ongoing is None or ongoing.seq != seq:
                ongoing = self._ongoing = _Ongoing(seq, due)
            if stack in ongoing.samples or len(ongoing.samples) < _MAX_DISTINCT_STACKS:
                ongoing.samples[stack] += 1
            if ongoing.route is None and self._resolve_route is not None:
                ongoing.route = self._resolve_route(task, frame)
            if ongoing.task is None:
                ongoing.task = _task_name(task)
            now = time.monotonic()
            if not ongoing.hang_reported and now - due >= self.hang_after_s:
                ongoing.hang_reported = True
                hang = self._stall(due, now, ongoing)
        del frame
        if hang is not None and self._on_hang is not None:
            self._on_hang(hang)

    def _finish_late(self) -> None:
        while self._late:
            try:
                seq, due, ended = self._late.popleft()
            except IndexError:
                return
            with self._lock:
                ongoing = self._ongoing
                if ongoing is not None and ongoing.seq == seq:
                    self._ongoing = None
                else:
                    ongoing = None
            self._report(seq, due, ended, ongoing)

    def _report(self, seq: int, due: float, ended: float, ongoing: _Ongoing | None) -> None:
        self._on_stall(self._stall(due, ended, ongoing))

    @staticmethod
    def _stall(due: float, ended: float, ongoing: _Ongoing | None) -> Stall:
        stack: list[StackFrame] = []
        samples = 0
        if ongoing is not None and ongoing.samples:
            samples = sum(ongoing.samples.values())
            top = max(ongoing.samples.items(), key=lambda item: item[1])[0]
            stack = [{"path": p, "line": line, "function": fn} for p, line, fn in top]
        return make_stall(
            duration_s=ended - due,
            started_at=time.time() - (time.monotonic() - due),
            route=ongoing.route if ongoing else None,
            stack=stack,
            samples=samples,
            task=ongoing.task if ongoing else None,
            pid=os.getpid(),
        )
