"""Loop time by origin: where the event loop's busy time goes, sampled, always on.

A thread of its own wakes about every 20 ms (with jitter, so that it cannot
fall in step with the heartbeat or any periodic task; every 100 ms after it
found the loop idle, so that an idle worker costs little) and looks at the
loop thread's innermost frame. When that frame is the loop's own machinery
(the selector's ``select``, or the frame that called into uvloop's C loop,
both learnt at start), the loop is idle. Otherwise the time since the previous
sample (so a busy stretch counts in full, whatever the rate) is added to the
origin of the loop's current task, named as in the
stall counters (``GET /x``, ``spawned by GET /x``, ``(start-up)``,
``(shutdown)``, ``(before routing)``), or to ``(other)`` (the server's protocol
callbacks, timers, tasks of no request). Collections of the garbage collector
are timed exactly by the watchdog's ``gc.callbacks`` hook (a collection holds
the GIL: the loop cannot run meanwhile) as ``(garbage collection)``, and taken
out of the sampled time.

Each busy sample also counts the stack (code objects and lines, turned into
names only when asked) under its origin: the flame graph of that origin. Many
short blocks below the stall threshold therefore show as what they add to.
"""

from __future__ import annotations

import asyncio
import os
import random
import selectors
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from types import CodeType, FrameType
from typing import Any

from unstuck.watch import _origin
from unstuck.watch._origin import metric_label
from unstuck.watch._stack import is_library

GARBAGE_COLLECTION = metric_label(_origin.GARBAGE_COLLECTION)
#: Callbacks of the server's protocol, timers, tasks of no request.
OTHER = "(other)"

#: Origins kept apart; later ones are added to ``other`` (raw paths could be endless).
MAX_ORIGINS = 100
#: Distinct stacks kept per origin; later ones count in the origin's time only.
MAX_STACKS = 300
MAX_DEPTH = 80
#: Origins given a flame graph, the busiest first, and the smallest share of an
#: origin's samples a frame needs to be drawn: they bound the JSON of each snapshot.
MAX_FLAMES = 20
MIN_FLAME_SHARE = 0.002
#: A flame graph is rebuilt when its origin has 10 % more samples, or after this
#: long (the seconds are always current): each worker publishes its snapshot every
#: second, and a tree costs some milliseconds.
FLAME_EVERY_S = 5.0
_FLAME_GROWTH = 1.1

OriginOf = Callable[["asyncio.Task[Any] | None"], str | None]
#: A sampled stack, outermost first: ``id(code), f_lasti`` for each frame, flat.
#: Ints hash at once, where a code object hashes its contents at every lookup;
#: and ``f_lasti`` is an attribute, where ``f_lineno`` decodes the line table.
#: Lines are worked out when a flame graph is drawn.
StackKey = tuple[int, ...]

_IDLE_CODES = frozenset(
    cls.select.__code__
    for cls in vars(selectors).values()
    if isinstance(cls, type)
    and issubclass(cls, selectors.BaseSelector)
    and hasattr(getattr(cls, "select", None), "__code__")
)
_ASYNCIO_DIR = os.path.dirname(asyncio.__file__) + os.sep


@dataclass(slots=True)
class _Account:
    seconds: float = 0.0
    samples: int = 0
    stacked: int = 0
    """Samples whose stack is in the origin's flame graph."""


def _entry_codes(frame: FrameType | None) -> frozenset[CodeType]:
    """The frames that run the loop, from the first asyncio or uvloop frame outwards."""
    codes: set[CodeType] = set()
    inside = False
    while frame is not None:
        path = frame.f_code.co_filename
        inside = inside or path.startswith(_ASYNCIO_DIR) or f"{os.sep}uvloop{os.sep}" in path
        if inside:
            codes.add(frame.f_code)
        frame = frame.f_back
    return frozenset(codes)


def line_of(code: CodeType, lasti: int) -> int:
    """The line of the instruction at byte offset ``lasti`` (what ``f_lineno`` gives)."""
    for start, end, line in code.co_lines():
        if start <= lasti < end and line is not None:
            return line
    return code.co_firstlineno


class LoopTime:
    """The sampler of one loop; ``start`` is called on that loop's thread."""

    def __init__(
        self,
        *,
        origin_of: OriginOf,
        interval_s: float = 0.02,
        idle_interval_s: float = 0.1,
        gc_seconds: Callable[[], float] = lambda: 0.0,
        on_flush: Callable[[dict[str, float]], None] | None = None,
        flush_every_s: float = 1.0,
    ) -> None:
        self.interval_s = interval_s
        self.idle_interval_s = idle_interval_s
        self._origin_of = origin_of
        self._gc_total = gc_seconds
        self._on_flush = on_flush
        self._flush_every_s = flush_every_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._idle: frozenset[CodeType] = _IDLE_CODES
        # The same codes by id: ids are what the sampler looks up (these codes live on).
        self._idle_ids = frozenset(map(id, _IDLE_CODES))
        #: The code of every id in a kept stack; holding them keeps their ids unique.
        self._codes: dict[int, CodeType] = {}
        self._accounts: dict[str, _Account] = {}
        self._stacks: dict[str, Counter[StackKey]] = {}
        self._unflushed: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = 0.0
        self._flames: dict[str, dict[str, Any]] = {}
        self._flames_at = -FLAME_EVERY_S

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._idle = _IDLE_CODES | _entry_codes(sys._getframe())
        self._idle_ids = frozenset(map(id, self._idle))
        self._started = time.perf_counter()
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"unstuck-loop-time-{os.getpid()}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (joins it: call off the loop, or accept a wait of one interval)."""
        if self._thread is None:
            return
        self._stopping.set()
        self._thread.join()
        self._thread = None
        self._flush()

    # -- the sampler thread ----------------------------------------------------

    def _run(self) -> None:
        last = time.perf_counter()
        gc_seen = self._gc_total()
        next_flush = last + self._flush_every_s
        interval = self.interval_s
        while not self._stopping.wait(interval * (0.5 + random.random())):
            now = time.perf_counter()
            gc_total = self._gc_total()
            collected = gc_total - gc_seen
            if collected > 0:
                self._add(GARBAGE_COLLECTION, collected, None)
            # Collections were timed exactly; the rest of the interval is sampled.
            weight = max(0.0, now - last - collected)
            last, gc_seen = now, gc_total
            busy = self._sample(weight)
            interval = self.interval_s if busy else self.idle_interval_s
            if now >= next_flush:
                next_flush = now + self._flush_every_s
                self._flush()

    def _sample(self, weight: float) -> bool:
        """Count one sample; ``False`` when the loop was idle.

        It holds the GIL, and so keeps the loop waiting, for as long as it runs:
        per frame, three attribute reads and an ``id``, nothing that decodes or
        hashes a code object.
        """
        frame = sys._current_frames().get(self._loop_thread)
        idle = self._idle_ids
        if frame is None or id(frame.f_code) in idle:
            return False
        task = asyncio.current_task(self._loop) if self._loop is not None else None
        origin = self._origin_of(task) or OTHER
        stack: list[int] = []
        codes: list[CodeType] = []
        while frame is not None and len(codes) < MAX_DEPTH:
            code = frame.f_code
            key = id(code)
            if key in idle:
                break
            codes.append(code)
            stack.append(frame.f_lasti)
            stack.append(key)
            frame = frame.f_back
        del frame
        stack.reverse()  # outermost first, each frame as (id, lasti)
        self._add(origin, weight, tuple(stack), codes)
        return True

    def _add(
        self,
        origin: str,
        weight: float,
        stack: StackKey | None,
        codes: list[CodeType] | None = None,
    ) -> None:
        with self._lock:
            account = self._accounts.get(origin)
            if account is None:
                if len(self._accounts) >= MAX_ORIGINS:
                    origin = OTHER
                    account = self._accounts.setdefault(OTHER, _Account())
                else:
                    account = self._accounts[origin] = _Account()
            account.seconds += weight
            account.samples += 1
            self._unflushed[origin] = self._unflushed.get(origin, 0.0) + weight
            if stack:
                stacks = self._stacks.setdefault(origin, Counter())
                if stack in stacks:
                    stacks[stack] += 1
                    account.stacked += 1
                elif len(stacks) < MAX_STACKS:
                    stacks[stack] = 1
                    account.stacked += 1
                    for code in codes or ():
                        self._codes.setdefault(id(code), code)

    def _flush(self) -> None:
        with self._lock:
            pending, self._unflushed = self._unflushed, {}
        if pending and self._on_flush is not None:
            self._on_flush(pending)

    # -- reading -----------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Seconds and flame graph per origin, busiest first; safe from any thread."""
        now = time.perf_counter()
        flames = self._flames
        with self._lock:
            accounts = {origin: (a.seconds, a.samples) for origin, a in self._accounts.items()}
            busiest = sorted(self._accounts, key=lambda o: self._accounts[o].seconds)[::-1]
            busiest = busiest[:MAX_FLAMES]
            stale = now - self._flames_at >= FLAME_EVERY_S or any(
                self._accounts[origin].stacked
                > _FLAME_GROWTH * flames.get(origin, {"value": 0})["value"]
                for origin in busiest
            )
            stacks = {o: Counter(self._stacks.get(o, ())) for o in busiest} if stale else {}
            codes = dict(self._codes) if stale else {}
        ranked = sorted(accounts.items(), key=lambda item: item[1][0], reverse=True)
        if stale:
            flames = {origin: flame(counts, codes) for origin, counts in stacks.items()}
            self._flames, self._flames_at = flames, now
        elapsed = now - self._started if self._started else 0.0
        busy = sum(seconds for seconds, _ in accounts.values())
        rows = [
            {
                "origin": origin,
                "seconds": round(seconds, 4),
                "samples": samples,
                "share_of_busy": round(seconds / busy, 4) if busy else 0.0,
                "flame": flames.get(origin, flame(Counter(), {})),
            }
            for origin, (seconds, samples) in ranked
        ]
        return {
            "interval_ms": self.interval_s * 1000,
            "elapsed_s": round(elapsed, 3),
            "busy_s": round(busy, 4),
            "origins": rows,
        }


def _name(code: CodeType, line: int) -> dict[str, Any]:
    return {
        "function": code.co_qualname,
        "path": code.co_filename,
        "line": line,
        "library": is_library(code.co_filename),
    }


def flame(stacks: Counter[StackKey], codes: dict[int, CodeType]) -> dict[str, Any]:
    """Sampled stacks as a tree: ``{"name", "value", "children"}``, outermost at the root."""
    root: dict[str, Any] = {"frame": None, "value": 0, "children": {}}
    lines: dict[tuple[int, int], int] = {}
    for stack, count in stacks.items():
        root["value"] += count
        node = root
        for index in range(0, len(stack), 2):
            key, lasti = stack[index], stack[index + 1]
            code = codes[key]
            line = lines.get((key, lasti))
            if line is None:
                line = lines[(key, lasti)] = line_of(code, lasti)
            children = node["children"]
            child = children.get((key, line))
            if child is None:
                child = children[(key, line)] = {
                    "frame": _name(code, line),
                    "value": 0,
                    "children": {},
                }
            child["value"] += count
            node = child

    def plain(node: dict[str, Any]) -> dict[str, Any]:
        children = sorted(node["children"].values(), key=lambda c: c["value"], reverse=True)
        return {
            "frame": node["frame"],
            "value": node["value"],
            "children": [plain(c) for c in children],
        }

    return plain(root)
