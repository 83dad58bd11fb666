"""Virtual time for the file-system kit: a clock with an event queue, and the
scheduler that lets the kit's single simulated thread sleep.

Theory of operation
-------------------
The kit runs one simulated thread, ``main``.  Disk completions are events on
the :class:`Clock`'s queue; they stand for interrupt-level ``biodone``
processing and are the only thing that runs "behind the thread's back".

Where the C would sleep (a page lock held by an in-flight write, an i/o lock,
free memory), the kernel calls ``block(what, holder, ready)`` of its
scheduler.  :class:`IoScheduler` answers by running completion events in time
order, advancing the clock to each, until ``ready()`` holds: the thread slept
until the disk woke it.  When the queue runs dry first, nothing can ever wake
the thread and the scheduler raises :class:`~pvnsim.errors.DeadlockError`
naming what it waited for.

Events at equal times run in the order they were scheduled (a counter breaks
ties), so a simulation is a pure function of its inputs and seed.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable

from pvnsim.errors import DeadlockError, InternalError, UsageError, Wait
from pvnsim.kernel import Kernel
from pvnsim.sched.interface import Scheduler

__all__ = ["Clock", "IoScheduler"]


_Event = tuple[int, int, Callable[[], None]]


class Clock:
    """Virtual time in nanoseconds and a queue of timed events.

    >>> c = Clock()
    >>> c.at(50, lambda: print("done at", c.now))
    >>> c.advance(100)
    done at 50
    >>> c.now
    100

    Events are ``(when, seq, fn)`` and run in that order.  An event no earlier
    than the last one queued in order (the disk's completions always are: the
    disk is FIFO) goes to the tail of a FIFO; any other goes to a heap.  The
    next event is the smaller of the two heads, so the order is the same as
    one heap's, without its cost for the common case.
    """

    __slots__ = ("_fifo", "_heap", "_seq", "in_event", "now")

    def __init__(self) -> None:
        self.now = 0
        self._heap: list[_Event] = []
        self._fifo: deque[_Event] = deque()
        self._seq = 0
        self.in_event = False

    def at(self, when: int, fn: Callable[[], None]) -> None:
        """Run ``fn()`` when the clock reaches ``when`` (ns)."""
        if when < self.now:
            raise UsageError(f"cannot schedule an event in the past ({when} < {self.now})")
        self._seq += 1
        fifo = self._fifo
        if not fifo or fifo[-1][0] <= when:
            fifo.append((when, self._seq, fn))
        else:
            heapq.heappush(self._heap, (when, self._seq, fn))

    @property
    def pending(self) -> int:
        """Number of events not yet run."""
        return len(self._heap) + len(self._fifo)

    def _first(self) -> _Event | None:
        # The earliest event (seq numbers are unique, so fn is never compared).
        fifo = self._fifo
        heap = self._heap
        if fifo:
            if heap and heap[0] < fifo[0]:
                return heap[0]
            return fifo[0]
        return heap[0] if heap else None

    def _pop(self) -> _Event:
        # Remove and return the earliest event; there must be one.
        fifo = self._fifo
        heap = self._heap
        if fifo and not (heap and heap[0] < fifo[0]):
            return fifo.popleft()
        return heapq.heappop(heap)

    def next_time(self) -> int | None:
        """When the next event is due, or None."""
        first = self._first()
        return None if first is None else first[0]

    def run_next(self) -> bool:
        """Run the earliest event, moving the clock to its time; False if none."""
        if not self._fifo and not self._heap:
            return False
        when, _seq, fn = self._pop()
        if when > self.now:
            self.now = when
        self.in_event = True
        try:
            fn()
        finally:
            self.in_event = False
        return True

    def advance(self, ns: int) -> None:
        """Let ``ns`` nanoseconds pass, running every event due meanwhile."""
        if ns < 0:
            raise UsageError(f"time cannot go backwards ({ns} ns)")
        target = self.now + ns
        fifo = self._fifo
        heap = self._heap
        popleft = fifo.popleft
        # run_next, inlined, for every event due by target.
        while True:
            if fifo:
                if heap and heap[0] < fifo[0]:
                    if heap[0][0] > target:
                        break
                    when, _seq, fn = heapq.heappop(heap)
                else:
                    if fifo[0][0] > target:
                        break
                    when, _seq, fn = popleft()
            elif heap and heap[0][0] <= target:
                when, _seq, fn = heapq.heappop(heap)
            else:
                break
            if when > self.now:
                self.now = when
            self.in_event = True
            try:
                fn()
            finally:
                self.in_event = False
        self.now = target

    def run_until(self, ready: Callable[[], bool]) -> bool:
        """Run events until ``ready()``; False if the queue ran dry first."""
        fifo = self._fifo
        heap = self._heap
        popleft = fifo.popleft
        # run_next, inlined: this loop runs every completion a sleep waits for.
        while not ready():
            if fifo:
                if heap and heap[0] < fifo[0]:
                    when, _seq, fn = heapq.heappop(heap)
                else:
                    when, _seq, fn = popleft()
            elif heap:
                when, _seq, fn = heapq.heappop(heap)
            else:
                return False
            if when > self.now:
                self.now = when
            self.in_event = True
            try:
                fn()
            finally:
                self.in_event = False
        return True


class IoScheduler(Scheduler):
    """A one-thread scheduler whose sleeps are spent completing disk I/O.

    Install it as ``kernel.sched`` (the kit's
    :class:`~pvnsim.fs.sim.Simulation` does).  ``switch_point`` does nothing:
    with one thread there is nobody to switch to.  So it says it never
    switches (``switches = False``) and the kernel does not hook its calls
    for switch points; it still calls :meth:`block`, where the thread sleeps
    on the disk.
    """

    switches = False

    def __init__(self, kernel: Kernel, clock: Clock) -> None:
        self.kernel = kernel
        self.clock = clock
        self.sleeps = 0

    def current(self) -> str:
        return self.kernel.curthread

    def switch_point(self, kind: str, what: object) -> None:
        return None

    def block(self, what: str, holder: str | None, ready: Callable[[], bool]) -> None:
        """Complete disk I/O until ``ready()``; a deadlock if the disk goes idle first."""
        if ready():
            return
        if self.clock.in_event:
            raise InternalError(f"an i/o completion routine would sleep on {what}")
        self.sleeps += 1
        if not self.clock.run_until(ready):
            raise DeadlockError([Wait(self.kernel.curthread, what, holder)])
