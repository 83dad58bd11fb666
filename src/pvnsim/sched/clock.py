"""Virtual time: a clock in nanoseconds with a queue of timed events.

Theory of operation
-------------------
A :class:`Clock` is the time half of a :class:`~pvnsim.sched.Simulation`
(every simulation owns one, ``sim.clock``).  An *event* is a function to run
when the clock reaches a time: a disk completion, a callout that wakes a
sleeping thread.  Events are ``(when, seq, fn)`` and run in that order, so
events at equal times run in the order they were scheduled and a run is a
pure function of its inputs.

Events are interrupts: they run "behind the back" of whichever thread is on
the CPU and may not sleep.  The clock runs each through :meth:`fire`, which
hands it to its simulation (``context``) to run in interrupt context; a
clock used on its own just runs it, with :attr:`in_event` set.

Time moves only forward, and only when somebody moves it: :meth:`advance`
(CPU time passes), :meth:`run_until` (a sleeper waits for the disk) and
:meth:`run_next` (the simulation is idle until the next event).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from typing import Protocol

from pvnsim.errors import UsageError

__all__ = ["Clock"]


_Event = tuple[int, int, Callable[[], None]]


class InterruptContext(Protocol):
    """What runs a clock's events: a simulation's interrupt context."""

    def run_interrupt(self, fn: Callable[[], None]) -> None:
        """Run ``fn()`` as an interrupt routine."""


class Clock:
    """Virtual time in nanoseconds and a queue of timed events.

    >>> c = Clock()
    >>> c.at(50, lambda: print("done at", c.now))
    >>> c.advance(100)
    done at 50
    >>> c.now
    100

    An event no earlier than the last one queued in order (the disk's
    completions always are: the disk is FIFO) goes to the tail of a FIFO;
    any other goes to a heap.  The next event is the smaller of the two
    heads, so the order is the same as one heap's, without its cost for the
    common case.

    Attributes:
        now: the time in nanoseconds.
        in_event: an event is running.
        context: runs the events in interrupt context (the owning
            simulation); ``None``: events are plain calls.
        background: events queued with ``background=True`` not yet run
            (timers of daemon threads, which do not by themselves keep a
            waiting thread's hopes up; see the simulation's idle rule).
    """

    __slots__ = ("_fifo", "_heap", "_seq", "background", "context", "in_event", "now")

    def __init__(self) -> None:
        self.now = 0
        self._heap: list[_Event] = []
        self._fifo: deque[_Event] = deque()
        self._seq = 0
        self.in_event = False
        self.context: InterruptContext | None = None
        self.background = 0

    def at(self, when: int, fn: Callable[[], None], *, background: bool = False) -> None:
        """Run ``fn()`` when the clock reaches ``when`` (ns).

        Raises:
            UsageError: ``when`` is in the past.
        """
        if when < self.now:
            raise UsageError(f"cannot schedule an event in the past ({when} < {self.now})")
        if background:
            self.background += 1
            fn = _Background(self, fn)
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

    def next_event(self) -> Callable[[], None] | None:
        """The function of the next event, or None (for reports)."""
        first = self._first()
        if first is None:
            return None
        fn = first[2]
        return fn.fn if isinstance(fn, _Background) else fn

    def fire(self, when: int, fn: Callable[[], None]) -> None:
        """Move the clock to ``when`` (if later) and run ``fn`` as an event."""
        if when > self.now:
            self.now = when
        ctx = self.context
        if ctx is not None:
            ctx.run_interrupt(fn)
            return
        self.in_event = True
        try:
            fn()
        finally:
            self.in_event = False

    def run_next(self) -> bool:
        """Run the earliest event, moving the clock to its time; False if none."""
        if not self._fifo and not self._heap:
            return False
        when, _seq, fn = self._pop()
        self.fire(when, fn)
        return True

    def run_due(self) -> None:
        """Run every event due by now (none of them moves the clock)."""
        while True:
            first = self._first()
            if first is None or first[0] > self.now:
                return
            self.run_next()

    def advance(self, ns: int) -> None:
        """Let ``ns`` nanoseconds pass, running every event due meanwhile."""
        if ns < 0:
            raise UsageError(f"time cannot go backwards ({ns} ns)")
        target = self.now + ns
        fifo = self._fifo
        heap = self._heap
        popleft = fifo.popleft
        # _first and _pop, inlined, for every event due by target.
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
            # fire(when, fn), written out: this loop runs every due event.
            if when > self.now:
                self.now = when
            ctx = self.context
            if ctx is not None:
                ctx.run_interrupt(fn)
            else:
                self.fire(when, fn)
        self.now = target

    def run_until(self, ready: Callable[[], bool]) -> bool:
        """Run events until ``ready()``; False if the queue ran dry first."""
        fifo = self._fifo
        heap = self._heap
        popleft = fifo.popleft
        # _pop, inlined: this loop runs every completion a sleep waits for.
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
            # fire(when, fn), written out: this loop runs every completion a
            # sleep waits for.
            if when > self.now:
                self.now = when
            ctx = self.context
            if ctx is not None:
                ctx.run_interrupt(fn)
            else:
                self.fire(when, fn)
        return True


class _Background:
    """A background event: counted in ``clock.background`` until it runs."""

    __slots__ = ("clock", "fn")

    def __init__(self, clock: Clock, fn: Callable[[], None]) -> None:
        self.clock = clock
        self.fn = fn

    def __call__(self) -> None:
        self.clock.background -= 1
        self.fn()

    def __repr__(self) -> str:
        return f"<background {self.fn!r}>"
