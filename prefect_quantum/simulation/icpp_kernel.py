"""A small deterministic event kernel with SimPy's semantics, for the ICPP reproduction.

Event order is SimPy's: a heap keyed `(time, priority, eid)` with `URGENT` (a process
start) before `NORMAL`, and `eid` the scheduling order. A process is a generator that
yields events and resumes when the event is processed. A `Container` serves get requests
first-come first-served: a request is tried when created and whenever a put is processed,
and serving stops at the first request that does not fit (SimPy's `_trigger_get`).

The one addition is `poll`: the paper's jobs re-check eligibility every second
(`yield timeout(1)` in a loop). Simulating every tick costs ~10^8 events, so a polling job
is parked instead. Its ticks are `x, fl(x + 1), ...` exactly as floating point yields them
(`next_tick`); a tick can only change anything after a container level changed, and it
passes only if the second-highest level is >= Q/5. After each level change the kernel
finds the earliest tick of a job that would pass and runs only that one. Ties at one
instant are broken as SimPy would: a tick at `x` was scheduled at `x - 1`, so it comes
after events scheduled before that and before anything scheduled later; two ticks at the
exact same float time keep the order their jobs had when the later one arrived (`rank`).
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

URGENT = 0
NORMAL = 1
POLL_STEP = 1.0  # the paper's re-check period

Callback = Callable[["Event"], None]


class Event:
    """Something that happens at one instant; callbacks run when it is processed."""

    __slots__ = ("amount", "callbacks", "value")

    def __init__(self, amount: int = 0) -> None:
        self.callbacks: list[Callback] | None = []
        self.value: Any = None
        self.amount = amount


ProcessGen = Generator[Event, Any, None]


def next_tick(x: float, at_least: float) -> float:
    """The first of `x, fl(x+1), fl(fl(x+1)+1), ...` that is >= `at_least`.

    Within a binade `[2^e, 2^(e+1))` with e >= 0, adding 1.0 is exact, so the sequence is
    `x + n` there; only the step that crosses a power of two rounds.
    """
    while x < at_least:
        top = 2.0 ** (math.floor(math.log2(x)) + 1)
        n = max(1, math.ceil(at_least - x))
        while n > 1 and x + (n - 1) >= at_least:
            n -= 1
        while x + n < at_least:
            n += 1
        if x + n < top:
            return x + n
        m = max(1, math.ceil(top - x))
        while m > 1 and x + (m - 1) >= top:
            m -= 1
        x = (x + (m - 1)) + 1.0
    return x


@dataclass(slots=True)
class _Poll:
    tick: float  # the first tick not yet (virtually) run
    threshold: int  # Q: passes when the second-highest level * 5 >= Q
    rank: int
    event: Event


@dataclass
class Kernel:
    """The clock, the event heap and the parked polling jobs."""

    now: float = 0.0
    steps: int = 0
    _heap: list[tuple[float, int, int, float, Event]] = field(default_factory=list)
    _eid: int = 0
    _polls: list[_Poll] = field(default_factory=list)  # sorted by threshold
    _containers: list[Container] = field(default_factory=list)
    _dirty: bool = False
    _best: _Poll | None = None
    # The event being processed: (priority, scheduled_at) of a heap event, or a poll's rank.
    _current: tuple[int, float] | int = (URGENT, 0.0)

    def schedule(self, event: Event, delay: float = 0.0, priority: int = NORMAL) -> None:
        """Put `event` on the heap at `now + delay` (SimPy's `Environment.schedule`)."""
        heapq.heappush(self._heap, (self.now + delay, priority, self._eid, self.now, event))
        self._eid += 1

    def timeout(self, delay: float) -> Event:
        """An event processed `delay` seconds from now."""
        event = Event()
        self.schedule(event, delay)
        return event

    def process(self, generator: ProcessGen) -> Event:
        """Start a process (at once, URGENT); the returned event fires when it ends."""
        done = Event()
        start = Event()

        def resume(event: Event) -> None:
            value = event.value
            while True:
                try:
                    nxt = generator.send(value)
                except StopIteration:
                    self.schedule(done)
                    return
                if nxt.callbacks is not None:
                    nxt.callbacks.append(resume)
                    return
                value = nxt.value

        assert start.callbacks is not None
        start.callbacks.append(resume)
        self.schedule(start, priority=URGENT)
        return done

    def container(self, capacity: int) -> Container:
        """A new full container whose level changes wake parked jobs."""
        box = Container(self, capacity)
        self._containers.append(box)
        return box

    def poll(self, threshold: int, rank: int) -> Event:
        """Park a job whose check just failed; fires at its first tick that passes."""
        event = Event()
        entry = _Poll(self.now + POLL_STEP, threshold, rank, event)  # timeout(1) from now
        bisect.insort(self._polls, entry, key=lambda p: p.threshold)
        self._dirty = True
        return event

    def level_changed(self) -> None:
        """A container level moved: the earliest passing tick must be recomputed."""
        self._dirty = True

    def _best_poll(self) -> _Poll | None:
        if not self._dirty:
            return self._best
        self._dirty = False
        levels = sorted(box.level for box in self._containers)
        limit = 5 * levels[-2] if len(levels) >= 2 else -1
        best: _Poll | None = None
        now = self.now
        for entry in self._polls:
            if entry.threshold > limit:
                break
            if entry.tick < now:
                entry.tick = next_tick(entry.tick, now)
            if entry.tick == now and self._tick_already_ran(entry):
                entry.tick = next_tick(entry.tick, math.nextafter(now, math.inf))
            if best is None or (entry.tick, entry.rank) < (best.tick, best.rank):
                best = entry
        self._best = best
        return best

    def _tick_already_ran(self, entry: _Poll) -> bool:
        """Did `entry`'s tick at `now` come before the event being processed? Then it
        ran (and failed: the previous pass would have picked it) with the old levels."""
        current = self._current
        if isinstance(current, int):
            return entry.rank < current
        priority, scheduled_at = current
        return not (priority == URGENT or scheduled_at < entry.tick - POLL_STEP)

    def run(self) -> None:
        """Process events until none is left (parked jobs that can never pass stay)."""
        heap = self._heap
        while True:
            best = self._best_poll() if self._polls else None
            if heap and (best is None or _heap_first(heap[0], best.tick)):
                when, priority, _, scheduled_at, event = heapq.heappop(heap)
                self._current = (priority, scheduled_at)
            elif best is not None:
                when, event = best.tick, best.event
                self._current = best.rank
                self._polls.remove(best)
                self._dirty = True
            else:
                return
            self.now = when
            self.steps += 1
            callbacks, event.callbacks = event.callbacks, None
            for callback in callbacks or ():
                callback(event)


def _heap_first(entry: tuple[float, int, int, float, Event], tick: float) -> bool:
    """Does heap event `entry` come before a poll tick at `tick` (scheduled at tick - 1)?"""
    when, priority, _, scheduled_at, _ = entry
    if when != tick:
        return when < tick
    return priority == URGENT or scheduled_at < tick - POLL_STEP


class Container:
    """SimPy's `Container`: an amount with FIFO get requests (puts never wait here)."""

    __slots__ = ("_gets", "_kernel", "capacity", "level")

    def __init__(self, kernel: Kernel, capacity: int) -> None:
        self._kernel = kernel
        self.capacity = capacity
        self.level = capacity
        self._gets: deque[Event] = deque()

    def get(self, amount: int) -> Event:
        """Request `amount`; served now if it is first in line and fits."""
        event = Event(amount)
        self._gets.append(event)
        self._trigger_get(None)
        return event

    def put(self, amount: int) -> Event:
        """Return `amount` now; waiting gets are tried when the put is processed."""
        if self.level + amount > self.capacity:
            raise ValueError("put over capacity")
        event = Event(amount)
        assert event.callbacks is not None
        event.callbacks.append(self._trigger_get)
        self.level += amount
        self._kernel.level_changed()
        self._kernel.schedule(event)
        return event

    def _trigger_get(self, _: Event | None) -> None:
        gets = self._gets
        while gets and self.level >= gets[0].amount:
            event = gets.popleft()
            self.level -= event.amount
            self._kernel.level_changed()
            self._kernel.schedule(event)
