"""Deterministic simulated threads on greenlets.

Theory of operation
-------------------
A :class:`Simulation` runs plain Python functions as simulated threads.  Each
thread runs on a greenlet, so the code it calls (the ports, unchanged) needs
no generators: when the model reaches a switch point it calls
:meth:`Simulation.switch_point`, which may switch to another thread's
greenlet and return only when this thread is scheduled again.  Exactly one
thread runs at a time and threads change only at switch points, so a run is
a pure function of the choices made there, which a :class:`Strategy`
makes and the simulation records as a :class:`~pvnsim.sched.schedule.Schedule`.

States: a thread is *new*, *ready*, *blocked* (with a ``ready()`` predicate
that says when it may go on) or *done*.  A thread is *enabled* when it is
new, ready, or blocked with ``ready()`` true.  The hub (the greenlet that
called :meth:`run`) starts the first thread and takes over whenever a thread
finishes; threads hand the CPU to each other directly.

* At a switch point the options are the running thread and every other
  enabled thread; taking any but the first is a preemption.
* Some switch points are *CPU-only* (``cpu_only_kinds``, e.g. inside the
  HAT): only threads spawned with ``cpu=True`` (another CPU touching memory)
  may run there; ordinary threads are not preempted.
* Where a thread blocks, finishes or yields, the options are the enabled
  threads; none of those choices is a preemption.
* When no thread is enabled but some live thread that is not a daemon
  waits, that is a deadlock: :class:`~pvnsim.errors.DeadlockError` is raised
  in the blocking thread, listing every waiting thread.  Daemon threads
  (the other CPU) never keep a run alive: once every other thread is done
  they are stopped.

Time and interrupts
~~~~~~~~~~~~~~~~~~~
Every simulation owns a :class:`~pvnsim.sched.clock.Clock` (``sim.clock``):
virtual time in nanoseconds and a queue of timed events.  Events are
interrupts (disk completions, the callouts that wake :meth:`Simulation.delay`
sleepers): each runs in *interrupt context*, on the CPU of whichever thread
was running, with ``current()`` ``"interrupt"``, and may not sleep: a
routine that would sleep raises :class:`~pvnsim.errors.InterruptSleep`
naming itself and what it waited for.  It may block on a kernel mutex, as
illumos's interrupt threads may (``block(..., mutex=True)``, which
``mutex_enter`` passes): while threads run, each routine runs on a greenlet
of its own, so one that finds its mutex held becomes an *interrupt thread*
(a live thread named after the routine, ``Disk.biodone#1``), the code it
interrupted goes on, and the strategy schedules the interrupt thread like
any other once the mutex is free; it finishes in interrupt context.
Interrupts never run in the middle of a primitive; they run

* when time passes (:meth:`Simulation.cpu`, :meth:`Simulation.delay`) and
  an event falls due;
* when no thread can run: the clock jumps to the next event;
* with ``interrupts="any"``, at any switch point while an event is
  pending: the strategy may choose the option :attr:`Simulation.interrupt`
  (a pseudo-thread listed last), which runs the earliest event at once, as
  if the device had been faster; then the same switch point chooses again.
  ``interrupts="due"`` (the default) runs them only when due.

Only when no thread can run *and* no event is pending is a wait a deadlock.
Timers armed with ``background=True`` (the periodic wake-ups of daemon
threads) do not count as hope for a waiting thread: when every non-daemon
thread has waited while only daemons and background timers ran for
``idle_limit`` consecutive turns, that is a deadlock too.

Without threads
~~~~~~~~~~~~~~~
A simulation can also serve code that runs in the caller (``"main"``) and
never calls :meth:`Simulation.run`, as the file-system kit's one-thread
mode does: :meth:`Simulation.block` then runs events in time order until the
sleeper can go on, and raises a deadlock when the queue runs dry.  With
``switches=False`` the model does not even report switch points (see
:mod:`pvnsim.hooks`): the fast path for one thread.

A failure (any exception escaping a thread) stops the run: every other
thread is unwound by throwing an internal exception into it, then
:meth:`run` re-raises the failure.  Greenlets are pooled per OS thread,
because creating one costs ten times more than switching to it.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

import greenlet

from pvnsim.errors import (
    DeadlockError,
    InternalError,
    InterruptSleep,
    LivelockError,
    LostWakeupError,
    StepLimitExceeded,
    UsageError,
    Wait,
)
from pvnsim.sched.clock import Clock, _Background
from pvnsim.sched.footprint import CLOCK, Footprint
from pvnsim.sched.interface import Scheduler
from pvnsim.sched.schedule import Schedule
from pvnsim.sched.where import source_line

__all__ = ["Pruned", "SimThread", "Simulation", "Strategy"]

NEW, READY, BLOCKED, DONE = 0, 1, 2, 3

#: ``block(on=...)`` not given: take what :meth:`Simulation.note_wait` said.
_NOTED: Any = object()
_STATE_NAMES = ("new", "ready", "blocked", "done")


class _Killed(BaseException):
    """Thrown into the threads of a run that is being torn down."""


class Pruned(BaseException):
    """Raised by a strategy to abandon a run that can only repeat what it
    has already explored (a partial-order reduction's sleep set blocks
    it).  The exploration counts the run and goes on; it is no failure."""


class Strategy:
    """Makes the choices of a run; see :mod:`pvnsim.sched.strategies`.

    ``choose_thread`` gets the options (option 0 is the default, see
    :mod:`pvnsim.sched.schedule`) and whether taking another one is a
    preemption; ``choose_value`` picks one of ``n`` data values.  Both
    return an index.  ``start_run`` is called before each run and returns
    False when the strategy has nothing left to try; ``begin`` when the
    run starts; ``end_run`` after it.

    A strategy that sets :attr:`footprints` also sees every *step* (see
    :mod:`pvnsim.sched.footprint`): at each boundary the simulation calls
    ``step(thread, reads, writes, wild, atomic)`` for the step that just
    ended, before any choice made there.  Every switch point is a boundary, taken
    or not, so a thread's steps are the same whatever the other threads do.
    The options handed to ``choose_thread`` are the enabled threads that
    may run there; :meth:`Simulation.waiting` tells which live threads wait.
    A strategy may raise :class:`Pruned` from any of these calls to
    abandon the run.
    """

    #: True: record each step's footprint and call :meth:`step`.
    footprints = False

    def start_run(self) -> bool:
        """Prepare the next run; False when there is nothing left to explore."""
        return True

    def begin(self, sim: Simulation) -> None:
        """The run on ``sim`` starts (called by :meth:`Simulation.run`)."""

    def step(
        self,
        thread: SimThread,
        reads: set[Any],
        writes: set[Any],
        wild: bool,
        atomic: bool = False,
    ) -> None:
        """A step of ``thread`` ended (only when :attr:`footprints` is set).

        ``reads``/``writes`` are the keys it read and wrote; ``wild``: it
        waited on something unnamed and conflicts with every step;
        ``atomic``: it ended at a CPU-only switch point, which no other
        kernel thread may cross (for them the step goes on).
        """

    def choose_thread(self, options: list[SimThread], preemptive: bool) -> int:
        """The index of the thread to run (0 = the default)."""
        return 0

    def choose_value(self, n: int, what: str) -> int:
        """An index in ``range(n)`` (0 = the default)."""
        return 0

    def end_run(self, sim: Simulation) -> None:
        """Called once the run is over (whatever its outcome)."""

    def check_complete(self, sim: Simulation) -> None:
        """Called after a run that succeeded; may raise ScheduleDivergence."""

    def fresh(self) -> Strategy:
        """A copy in its initial state (for running an exploration again)."""
        return Strategy()


class SimThread:
    """One simulated thread of a :class:`Simulation`."""

    __slots__ = (
        "args",
        "cpu",
        "daemon",
        "error",
        "explain",
        "fn",
        "glet",
        "holder",
        "name",
        "on",
        "probe",
        "ready",
        "result",
        "sim",
        "state",
        "tid",
        "what",
    )

    def __init__(
        self,
        sim: Simulation,
        tid: int,
        name: str,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        daemon: bool,
        cpu: bool,
    ) -> None:
        self.sim = sim
        self.tid = tid
        self.name = name
        self.fn = fn
        self.args = args
        self.daemon = daemon
        self.cpu = cpu
        self.state = NEW
        self.ready: Callable[[], bool] | None = None
        self.what = ""
        self.holder: str | None = None
        # While blocked: what the wait reads (footprint keys) and a function
        # that, once nobody else can run, says why the wait can never end.
        self.on: Any = None
        self.explain: Callable[[], str | None] | None = None
        # What the thread's next step would read and write (for a daemon
        # that a run may end without: see Simulation.leftover).
        self.probe: Callable[[], tuple[set[Any], set[Any]]] | None = None
        self.result: Any = None
        self.error: BaseException | None = None
        self.glet: greenlet.greenlet | None = None

    def enabled(self) -> bool:
        """Whether the thread could run now."""
        state = self.state
        if state == BLOCKED:
            return self.ready() if self.ready is not None else False
        return state != DONE

    @property
    def done(self) -> bool:
        """Whether the thread has finished (returned, failed or been stopped)."""
        return self.state == DONE

    def __repr__(self) -> str:
        extra = f" waiting for {self.what}" if self.state == BLOCKED else ""
        return f"<SimThread {self.name} {_STATE_NAMES[self.state]}{extra}>"


# -- the greenlet pool -------------------------------------------------------

_pool = threading.local()


def _no_body() -> None:
    """The body of the interrupt pseudo-thread (it never runs as a thread)."""


def _routine(fn: object) -> str:
    """The name of an interrupt routine, for reports."""
    if fn is None:
        return "?"
    if isinstance(fn, _Background):
        fn = fn.fn
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if name is None:
        name = type(fn).__qualname__
    return str(name).replace(".<locals>", "")


class _IrqGlet(greenlet.greenlet):
    """The greenlet an interrupt routine runs on; ``thread`` is set once it
    has blocked and goes on as an interrupt thread."""

    thread: SimThread | None = None


def _irq_main(sim: Simulation, fn: Callable[[], None]) -> None:
    # The body of an interrupt's greenlet.  Unblocked, it returns (or raises)
    # to the interrupted code, its parent; an interrupt thread ends like a
    # thread, back to the hub.
    try:
        fn()
    except BaseException as exc:
        t = _current_irq_thread()
        if t is None:
            raise
        sim._irq_end(t, exc)
        return
    t = _current_irq_thread()
    if t is not None:
        sim._irq_end(t, None)


def _current_irq_thread() -> SimThread | None:
    g = greenlet.getcurrent()
    return g.thread if isinstance(g, _IrqGlet) else None


def _worker_main(thread: SimThread) -> None:
    # A pooled greenlet: runs one thread body, hands the CPU to the hub, and
    # is resumed later with the next body to run.
    while True:
        sim = thread.sim
        sim._run_body(thread)
        free: list[greenlet.greenlet] = _pool.free
        free.append(greenlet.getcurrent())
        thread = sim._hub_glet().switch()


def _new_glet(thread: SimThread, hub: greenlet.greenlet) -> greenlet.greenlet:
    free: list[greenlet.greenlet] | None = getattr(_pool, "free", None)
    if free is None:
        free = _pool.free = []
    if free:
        g = free.pop()
        g.parent = hub
        return g
    return greenlet.greenlet(_worker_main, parent=hub)


# -- the simulation ------------------------------------------------------------


class Simulation(Scheduler):
    """Runs simulated threads, switching only at switch points.

    Args:
        strategy: makes the choices (default: none, i.e. no preemption).
        max_steps: switch points a run may pass before
            :class:`StepLimitExceeded` is raised in the running thread.
        cpu_only_kinds: switch-point kinds where only ``cpu=True`` threads
            may run (the hardware acts; kernel threads are not preempted).
        clock: the clock to use (default: a new one); the simulation runs
            its events in interrupt context.
        switches: False: never preempt at switch points (the model then
            does not report them; threads change only where one blocks,
            yields or ends).  The one-thread mode of the file-system kit.
        interrupts: ``"due"``: events run when the clock reaches them;
            ``"any"``: also whenever the strategy chooses, at any switch
            point while one is pending (explores completion timing).
        idle_limit: turns that only daemon threads and background timers
            may take while every other thread waits, before that is called
            a deadlock.
        spin_kinds: switch-point kinds that are failed trylocks.  More than
            ``livelock_steps`` switch points without progress is a
            :class:`LivelockError`: consecutive ones of these kinds and
            yields, or, once one of these kinds has been passed and until a
            thread sleeps or ends, switch points that each thread has
            already passed since (the same kind at the same object: a
            thread that locks, fails a trylock and unlocks in a loop).
        livelock_steps: see ``spin_kinds``.

    Attributes:
        threads: every thread spawned, in spawn order.
        choices: the option index taken at each choice point so far.
        log: one line per context switch, for failure reports.
        steps: switch points passed so far.
        clock: virtual time and the event queue.
        interrupt: the pseudo-thread that stands for "run the next event
            now" among a switch point's options (``interrupts="any"``).
        in_interrupt: the interrupt routine running now, or None.
        sleeps: how many times a thread went to sleep.
        recording: footprints of steps are being recorded (the strategy
            asked for them, or :meth:`record_footprints` was called).
        footprint: the running step's :class:`~pvnsim.sched.footprint.Footprint`.
        leftover: once the run is over, the threads that could still have
            run (daemons, or every thread of a run that failed), each with
            what its next step would have read and written:
            ``(thread, reads, writes, wild)`` (wild: unknown).
    """

    def __init__(
        self,
        strategy: Strategy | None = None,
        *,
        max_steps: int = 1_000_000,
        cpu_only_kinds: frozenset[str] | set[str] = frozenset(),
        clock: Clock | None = None,
        switches: bool = True,
        interrupts: str = "due",
        idle_limit: int = 100,
        spin_kinds: frozenset[str] | set[str] = frozenset(),
        livelock_steps: int = 1000,
    ) -> None:
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise UsageError(f"max_steps must be a positive int, not {max_steps!r}")
        if clock is not None and not isinstance(clock, Clock):
            raise UsageError(f"clock must be a Clock, not {type(clock).__name__}")
        if isinstance(idle_limit, bool) or not isinstance(idle_limit, int) or idle_limit < 1:
            raise UsageError(f"idle_limit must be a positive int, not {idle_limit!r}")
        if (
            isinstance(livelock_steps, bool)
            or not isinstance(livelock_steps, int)
            or livelock_steps < 1
        ):
            raise UsageError(f"livelock_steps must be a positive int, not {livelock_steps!r}")
        self.clock = clock if clock is not None else Clock()
        self.clock.context = self
        self.switches = bool(switches)
        self.idle_limit = idle_limit
        self._intr: object = None  # the interrupt routine running, if any
        self.sleeps = 0
        self._idle = 0
        self.interrupt = SimThread(self, -1, "interrupt", _no_body, (), True, False)
        self.strategy = strategy if strategy is not None else Strategy()
        self.max_steps = max_steps
        self.cpu_only_kinds = frozenset(cpu_only_kinds)
        self.spin_kinds = frozenset(spin_kinds) | {"yield"}
        self.livelock_steps = livelock_steps
        # Livelock detection: ``_spin`` counts switch points without
        # progress.  Outside a window, consecutive failed trylocks and
        # yields.  A failed trylock opens a window that lasts until a thread
        # sleeps or ends; in it, the switch points since the last one never
        # passed before in the window (a thread, kind and object in
        # ``_passed``).
        self._spin = 0
        self._window = False
        self._spinning: dict[str, tuple[str, object]] = {}  # thread -> what it last spun on
        self._passed: set[tuple[int, str, object]] = set()
        # A kernel thread preempted at a CPU-only switch point: until it runs
        # again only it and cpu threads may run.
        self._held: SimThread | None = None
        self.footprint = Footprint()
        self.recording = False
        self.leftover: list[tuple[SimThread, set[Any], set[Any], bool]] = []
        self._note: tuple[Any, Callable[[], str | None] | None] | None = None
        self._stepping = bool(self.strategy.footprints)
        if self._stepping:
            self.record_footprints()
        self.threads: list[SimThread] = []
        self.choices: list[int] = []
        self.log: list[str] = []
        self.steps = 0
        self.hooks: list[Callable[[str, object], None]] = []
        self.listeners: list[Callable[[SimThread | None, SimThread | None], None]] = []
        self._live: list[SimThread] = []
        self._cpus = 0
        self._names: set[str] = set()
        self._current: SimThread | None = None
        self._hub: greenlet.greenlet | None = None
        self._failure: tuple[SimThread, BaseException] | None = None
        self._killing = False
        self._ran = False
        self._irqs = 0
        self.interrupts = interrupts  # (validated by the property's setter)

    # -- building a run ------------------------------------------------------

    def spawn(
        self,
        fn: Callable[..., Any],
        *args: Any,
        name: str | None = None,
        daemon: bool = False,
        cpu: bool = False,
        probe: Callable[[], tuple[set[Any], set[Any]]] | None = None,
    ) -> SimThread:
        """Add a thread that will run ``fn(*args)``.

        Args:
            fn: any callable; its return value becomes ``thread.result``.
            name: unique thread name (default ``t<n>``); the trace and the
                lock owners use it.
            daemon: the run does not wait for this thread; it is stopped
                once every other thread is done.
            cpu: the thread stands for another CPU and may also run at
                CPU-only switch points.
            probe: ``probe()`` returns the footprint keys (reads, writes)
                the thread's next step would touch, in the current state:
                for a daemon a run may end without, so that a partial-order
                reduction still sees what it would have done (without one,
                that step is taken to conflict with everything).

        Raises:
            UsageError: ``fn`` not callable, or the name is taken.
        """
        if not callable(fn):
            raise UsageError(f"spawn: {fn!r} is not callable")
        if name is None:
            name = f"t{len(self.threads)}"
        if not isinstance(name, str) or not name:
            raise UsageError(f"spawn: a thread name is a non-empty string, not {name!r}")
        if name in self._names:
            raise UsageError(f"spawn: a thread named {name!r} already exists")
        if self._ran and self._current is None:
            raise UsageError("spawn: this simulation has already run")
        t = SimThread(self, len(self.threads), name, fn, args, daemon, cpu)
        t.probe = probe
        self._names.add(name)
        self.threads.append(t)
        self._live.append(t)
        if cpu:
            self._cpus += 1
        return t

    def add_hook(self, hook: Callable[[str, object], None]) -> None:
        """Call ``hook(kind, what)`` in the running thread at every switch point."""
        self.hooks.append(hook)

    def add_listener(self, listener: Callable[[SimThread | None, SimThread | None], None]) -> None:
        """Call ``listener(old, new)`` at every context switch (``None``: the hub).

        For per-thread state that the code under test keeps in one global
        place: save it for ``old``, restore it for ``new``.
        """
        self.listeners.append(listener)

    def _notify(self, old: SimThread | None, new: SimThread | None) -> None:
        self.set_current("main" if new is None else new.name)
        for listener in self.listeners:
            listener(old, new)

    @property
    def interrupts(self) -> str:
        """``"due"`` or ``"any"`` (see the class's Args); may be set before the
        run starts, e.g. by a scenario's setup that wants completion timing
        explored.

        Raises:
            UsageError: another value, or the run has started.
        """
        return self._interrupts

    @interrupts.setter
    def interrupts(self, value: str) -> None:
        if value not in ("due", "any"):
            raise UsageError(f"interrupts must be 'due' or 'any', not {value!r}")
        if self._ran:
            raise UsageError("interrupts: the run has started")
        self._interrupts = value
        self._any = value == "any"

    @property
    def schedule(self) -> Schedule:
        """The choices made so far, as a :class:`Schedule`."""
        return Schedule(tuple(self.choices))

    # -- footprints -------------------------------------------------------------

    def record_footprints(self, touched: bool = False) -> None:
        """Record what every step reads and writes (see :mod:`pvnsim.sched.footprint`).

        Args:
            touched: also keep ``footprint.touched``, the keys written since
                an incremental validator last cleared it.
        """
        self.recording = True
        self.clock.footprint = self.footprint
        if touched and self.footprint.touched is None:
            self.footprint.touched = set()

    def _close(self, owner: SimThread | None, atomic: bool = False) -> None:
        # A boundary: the running step (of ``owner``) ends.
        if not self._stepping:
            self.footprint.drop()
            return
        reads, writes, wild = self.footprint.close(None if owner is None else owner.name)
        if owner is not None:
            self.strategy.step(owner, reads, writes, wild, atomic)

    def note(self, reads: Iterable[Any] = (), writes: Iterable[Any] = ()) -> None:
        """Record footprint keys the running step read or wrote outside the
        model (state of your own that threads share), while footprints are
        recorded; otherwise nothing.  A partial-order reduction only knows
        what is recorded: two steps that share state it was not told about
        are taken to be independent.
        """
        if self.recording:
            fp = self.footprint
            fp.reads.update(reads)
            fp.writes.update(writes)

    def waiting(self) -> list[SimThread]:
        """The live threads that wait (blocked and not yet able to go on)."""
        return [t for t in self._live if t.state == BLOCKED and not t.enabled()]

    # -- the Scheduler interface -----------------------------------------------

    def current(self) -> str:
        """The running thread's name; ``"main"`` outside any simulated thread,
        ``"interrupt"`` while an interrupt routine runs."""
        if self._intr is not None:
            return "interrupt"
        t = self._current
        return "main" if t is None else t.name

    def switch_point(self, kind: str, what: object) -> None:
        """The running thread may be preempted here (or an interrupt taken)."""
        cur = self._current
        if cur is None or self._killing or self._intr is not None:
            return
        if self.recording:
            self._close(cur, kind in self.cpu_only_kinds and not cur.cpu)
        clock = self.clock
        if clock._fifo or clock._heap:
            self._interrupt_point(cur, kind, what)
            return
        if kind in self.cpu_only_kinds:
            if not self._cpus:
                return
            self._step(kind, what)
            others = [t for t in self._live if t.cpu and t is not cur and t.enabled()]
            if not others:
                return
            options = [cur, *others]
        else:
            # The hot path, with _step inlined.
            steps = self.steps + 1
            self.steps = steps
            if steps > self.max_steps:
                self._too_many(kind, what)
            if kind in self.spin_kinds:
                self._spun(cur, kind, what)
            elif self._window:
                self._again(cur, kind, what)
            else:
                self._spin = 0
            for hook in self.hooks:
                hook(kind, what)
            live = self._live
            if len(live) == 2 and (live[0] is cur or live[1] is cur):
                # The running thread and one other (the usual case): no
                # list to filter.
                other = live[1] if live[0] is cur else live[0]
                if other.state == BLOCKED and not other.ready():  # type: ignore[misc]
                    return
                options = [cur, other]
            elif len(live) == 1:
                return
            else:
                options = [cur, *self._runnable(cur)]
                if len(options) == 1:
                    return
        idx = self.strategy.choose_thread(options, True)
        self.choices.append(idx)
        if idx:
            self._preempt(cur, options[idx], kind, f"preempted at {kind} {what}")

    def _preempt(self, cur: SimThread, nxt: SimThread, kind: str, how: str) -> None:
        # A kernel thread preempted at a CPU-only switch point stays the only
        # kernel thread that may run until it runs again.
        held = kind in self.cpu_only_kinds and not cur.cpu
        if held:
            self._held = cur
        self._switch(cur, nxt, how)
        if held:
            self._held = None

    def _interrupt_point(self, cur: SimThread, kind: str, what: object) -> None:
        # A switch point while events are pending: due ones run first; with
        # interrupts="any" the strategy may also take the next one early.
        self._step(kind, what)
        clock = self.clock
        while True:
            clock.run_due()
            options = [cur]
            if kind not in self.cpu_only_kinds:
                options.extend(self._runnable(cur))
            elif self._cpus:
                options.extend(t for t in self._live if t.cpu and t is not cur and t.enabled())
            if self._any and (clock._fifo or clock._heap):
                options.append(self.interrupt)
            if len(options) == 1:
                return
            idx = self.strategy.choose_thread(options, True)
            self.choices.append(idx)
            nxt = options[idx]
            if nxt is self.interrupt:
                self._take_interrupt(f"{cur.name} interrupted at {kind} {what}")
                continue
            if idx:
                self._preempt(cur, nxt, kind, f"preempted at {kind} {what}")
            return

    def _runnable(self, cur: SimThread | None) -> list[SimThread]:
        # The enabled threads other than ``cur`` that may run now: while a
        # kernel thread is held at a CPU-only switch point, only it and the
        # cpu threads.
        held = self._held
        if held is None:
            return [t for t in self._live if t is not cur and t.enabled()]
        return [t for t in self._live if t is not cur and (t.cpu or t is held) and t.enabled()]

    def _take_interrupt(self, how: str) -> None:
        # Run the earliest event now (the clock moves to its time if later).
        fn = self.clock.next_event()
        self.log.append(f"choice {len(self.choices)}: {how}: {_routine(fn)} runs")
        self.clock.run_next()

    def run_interrupt(self, fn: Callable[[], None]) -> None:
        """Run ``fn()`` in interrupt context (the clock calls this for each event)."""
        clock = self.clock
        prev = self._intr
        prev_thread = self.curthread
        if not isinstance(fn, _Background):
            self._idle = 0  # progress: something other than a daemon's timer
        # Each interrupt is a step of the interrupt pseudo-thread of its own.
        recording = self.recording and prev is None
        if recording:
            self._close(self._current)
        self._intr = fn
        clock.in_event = True
        self.set_current("interrupt")
        try:
            if self._hub is None or self._killing:
                fn()
            else:
                # On a greenlet of its own, so that the routine may block on a
                # mutex (see block): the code it interrupted then goes on.
                _IrqGlet(_irq_main, parent=greenlet.getcurrent()).switch(self, fn)
        finally:
            clock.in_event = prev is not None
            self._intr = prev
            self.set_current(prev_thread)
        if recording:
            self.footprint.writes.add(CLOCK)
            self._close(self.interrupt)

    def note_wait(self, on: Any, explain: Callable[[], str | None] | None) -> None:
        """Details of the coming :meth:`block` (see :class:`Scheduler`)."""
        self._note = (on, explain)

    def block(
        self,
        what: str,
        holder: str | None,
        ready: Callable[[], bool],
        *,
        mutex: bool = False,
        on: Any = _NOTED,
        explain: Callable[[], str | None] | None = None,
    ) -> None:
        """Sleep until ``ready()``; a deadlock if nothing could ever make it true.

        Args:
            what, holder: what the thread waits for and who holds it (for
                reports).
            ready: true once the thread may go on.
            mutex: the wait is for a kernel mutex.  An interrupt routine may
                block on one (illumos's interrupt threads may): while threads
                run, the routine then goes on as an interrupt thread of its
                own, scheduled like any thread once the mutex is free, and
                the code it interrupted continues.  Any other wait of an
                interrupt routine is a sleep.
            on: what the wait reads, as footprint (mode, key) pairs; the
                wake-up that makes ``ready()`` true writes one of them.
                ``None``: unknown (the waiting step conflicts with every
                step).  Not given: what :meth:`note_wait` said, if anything.
            explain: called when nobody else can run; returns why this wait
                can never end (a lost wakeup), or None.

        Raises:
            InterruptSleep: called from an interrupt routine that would
                sleep, or would block on a mutex outside a run (one thread:
                nobody else could let go of it).
            DeadlockError: no thread can run and no event is pending
                (:class:`LostWakeupError` when a waiter's ``explain`` says so).
        """
        if on is _NOTED:
            note = self._note
            on, explain = note if note is not None else (None, None)
        self._note = None
        if self._intr is not None:
            if ready():
                return
            g = greenlet.getcurrent()
            if not mutex or not isinstance(g, _IrqGlet) or self._killing:
                raise InterruptSleep(
                    f"interrupt routine {self.in_interrupt} would sleep on {what}"
                    + (f" (held by {holder})" if holder else "")
                )
            self._irq_block(g, what, holder, ready, on, explain)
            return
        cur = self._current
        if cur is None:
            # No simulated thread: the caller sleeps until an event wakes it.
            if ready():
                return
            self.sleeps += 1
            if not self.clock.run_until(ready):
                raise DeadlockError([Wait(self.current(), what, holder)])
            return
        if self._killing:
            raise _Killed
        self._sleep_thread(cur, what, holder, ready, on, explain)

    def _sleep_thread(
        self,
        cur: SimThread,
        what: str,
        holder: str | None,
        ready: Callable[[], bool],
        on: Any,
        explain: Callable[[], str | None] | None,
    ) -> None:
        # The running thread sleeps until ready() (block's threaded case).
        recording = self.recording
        if recording:
            self.footprint.wait_on(on)
            self._close(cur)
        self._step("block", what)
        if ready():
            return
        self.sleeps += 1
        self._progress()  # a sleep is progress, not spinning
        cur.state = BLOCKED
        cur.ready = ready
        cur.what = what
        cur.holder = holder
        cur.on = on
        cur.explain = explain
        nxt = self._pick(cur)
        if nxt is not cur:  # (an interrupt may have woken cur itself)
            self._switch(cur, nxt, f"blocks on {what}")
        cur.state = READY
        cur.ready = None
        cur.on = cur.explain = None
        if recording:
            # The wake-up step reads what the wait read (it found ready()).
            self.footprint.wait_on(on)

    def _irq_block(
        self,
        g: _IrqGlet,
        what: str,
        holder: str | None,
        ready: Callable[[], bool],
        on: Any,
        explain: Callable[[], str | None] | None,
    ) -> None:
        # An interrupt routine blocks on a mutex.  The first time, it becomes
        # an interrupt thread of its own (a live, non-daemon thread the
        # strategy schedules like any other) and the code it interrupted goes
        # on at once, as illumos unpins a thread whose interrupt blocks.
        routine = self._intr
        name = _routine(routine)
        clock = self.clock
        t = g.thread
        if t is None:
            self._irqs += 1
            t = SimThread(self, -1 - self._irqs, f"{name}#{self._irqs}", _no_body, (), False, False)
            t.glet = g
            t.state = BLOCKED
            t.ready = ready
            t.what = what
            t.holder = holder
            g.thread = t
            self._live.append(t)
            self.sleeps += 1
            self.log.append(
                f"choice {len(self.choices)}: interrupt {name} blocks on {what}: "
                f"it goes on as thread {t.name}"
            )
            if self.recording:
                self.footprint.wait_on(on)
            back = g.parent
            if back is None:
                raise InternalError("an interrupt greenlet without a parent")
            g.parent = self._hub_glet()  # where control goes when it ends
            back.switch()
            # Scheduled by _switch, with ready() true.
            if self._killing:
                raise _Killed
            t.state = READY
            t.ready = None
        else:
            self._intr = None
            clock.in_event = False
            self._sleep_thread(t, what, holder, ready, on, explain)
        self._intr = routine
        clock.in_event = True
        self.set_current("interrupt")

    def _irq_end(self, t: SimThread, exc: BaseException | None) -> None:
        # An interrupt thread's routine is over: it ends like a thread, and
        # control goes to the hub (its greenlet's parent).
        if exc is not None and not isinstance(exc, _Killed):
            t.error = exc
            if self._failure is None and not self._killing:
                self._failure = (t, exc)
                self.log.append(
                    f"choice {len(self.choices)}: {t.name} fails: {type(exc).__name__}: {exc}"
                )
        elif exc is None:
            self.log.append(f"choice {len(self.choices)}: {t.name} ends")
        if self.recording and not self._killing:
            try:
                self._close(t)
            except BaseException as gave_up:  # the strategy gave up the run
                if self._failure is None:
                    self._failure = (t, gave_up)
        t.state = DONE
        self._live.remove(t)
        self._intr = None
        self.clock.in_event = False
        self._notify(t, None)

    # -- for thread bodies -------------------------------------------------------

    def yield_cpu(self, what: str = "yield") -> None:
        """Give up the CPU: another enabled thread runs if there is one (no preemption)."""
        cur = self._current
        if cur is None or self._killing:
            return
        if self.recording:
            self._close(cur)
        self._step("yield", what)
        clock = self.clock
        while True:
            clock.run_due()
            options: list[SimThread] = self._runnable(cur)
            if self._any and (clock._fifo or clock._heap):
                options.append(self.interrupt)
            if not options:
                return
            options.append(cur)
            idx = self.strategy.choose_thread(options, False)
            self.choices.append(idx)
            nxt = options[idx]
            if nxt is self.interrupt:
                self._take_interrupt(f"{cur.name} yields ({what}) to an interrupt")
                continue
            if nxt is not cur:
                self._switch(cur, nxt, f"yields ({what})")
            return

    def choose(self, n: int, what: str = "value") -> int:
        """A data choice in ``range(n)``, made by the strategy and recorded."""
        if not isinstance(n, int) or n < 1:
            raise UsageError(f"choose: n must be a positive int, not {n!r}")
        if self.recording and self._current is not None:
            self._close(self._current)
        if n == 1:
            return 0
        idx = self.strategy.choose_value(n, what)
        self.choices.append(idx)
        return idx

    def wait(
        self,
        what: str,
        ready: Callable[[], bool],
        holder: str | None = None,
        *,
        on: Any = None,
    ) -> None:
        """Block the running thread until ``ready()`` (for user-written threads).

        ``on``: the footprint keys ``ready()`` reads, as (mode, key) pairs
        (see :meth:`block`); without it a partial-order reduction assumes
        the wait depends on everything.
        """
        self.block(what, holder, ready, on=on)

    # -- time ----------------------------------------------------------------------

    @property
    def in_interrupt(self) -> str | None:
        """The name of the interrupt routine running now, or None."""
        return None if self._intr is None else _routine(self._intr)

    @property
    def now(self) -> int:
        """Virtual time in nanoseconds."""
        return self.clock.now

    def at(self, when: int, fn: Callable[[], None], *, background: bool = False) -> None:
        """Run ``fn()`` in interrupt context when the clock reaches ``when`` (ns).

        ``background``: a daemon's periodic timer (see the idle rule in the
        module docstring).
        """
        self.clock.at(when, fn, background=background)

    def cpu(self, ns: int, what: str = "cpu") -> None:
        """The running code computes for ``ns`` nanoseconds of virtual time.

        Events falling due meanwhile interrupt it (and run); then, in a
        simulated thread, this is a switch point.
        """
        if isinstance(ns, bool) or not isinstance(ns, int) or ns < 0:
            raise UsageError(f"cpu: ns must be a non-negative int, not {ns!r}")
        if self._intr is not None:
            raise InterruptSleep(f"interrupt routine {self.in_interrupt} would spend time ({what})")
        self.clock.advance(ns)
        if self.switches and self._current is not None:
            self.switch_point(what, ns)

    def delay(self, ns: int, what: str | None = None) -> None:
        """Sleep ``ns`` nanoseconds of virtual time (illumos ``delay()``).

        Other threads run meanwhile; a callout at the wake-up time makes the
        sleeper runnable again.  A daemon thread's delay is a background
        timer (see the module docstring).
        """
        if isinstance(ns, bool) or not isinstance(ns, int) or ns < 0:
            raise UsageError(f"delay: ns must be a non-negative int, not {ns!r}")
        self.sleep_until(self.clock.now + ns, what)

    def sleep_until(self, when: int, what: str | None = None) -> None:
        """Sleep until the clock reads ``when`` (ns); see :meth:`delay`."""
        clock = self.clock
        if when <= clock.now:
            return
        cur = self._current
        woken = [False]

        def callout() -> None:
            woken[0] = True

        callout.__qualname__ = f"callout({when} ns)"
        clock.at(when, callout, background=cur is not None and cur.daemon)
        self.block(what or f"time {when} ns", None, lambda: woken[0], on=_ON_CLOCK)

    # -- running -------------------------------------------------------------------

    def run(self) -> None:
        """Run every thread to completion.

        Raises:
            DeadlockError: every live thread waits (raised in a thread).
            StepLimitExceeded: more than ``max_steps`` switch points
                (:class:`LivelockError` when they were all failed trylocks).
            UsageError: the simulation has already run, or run() was
                called from one of its own threads.
            BaseException: whatever a thread raised, re-raised here.
        """
        if self._ran:
            raise UsageError("run: a Simulation runs once; build a new one")
        self._ran = True
        self._hub = greenlet.getcurrent()
        try:
            self.strategy.begin(self)
            while self._failure is None:
                if not any(not t.daemon for t in self._live):
                    self._settle()
                    if not any(not t.daemon for t in self._live):
                        break
                    continue  # (an interrupt that blocked goes on as a thread)
                nxt = self._pick(None)
                self.log.append(f"choice {len(self.choices)}: {nxt.name} runs")
                self._current = nxt
                self._notify(None, nxt)
                if nxt.glet is None:
                    nxt.glet = _new_glet(nxt, self._hub)
                    nxt.glet.switch(nxt)
                else:
                    nxt.glet.switch()
                self._current = None
        finally:
            self._current = None
            if self.recording:
                self._left_over()
            self._teardown()
            self.strategy.end_run(self)
        if self._failure is not None:
            raise self._failure[1]

    # -- internals -------------------------------------------------------------------

    def _step(self, kind: str, what: object) -> None:
        self.steps += 1
        if self.steps > self.max_steps:
            self._too_many(kind, what)
        if kind in self.spin_kinds:
            self._spun(self._current, kind, what)
        elif self._window:
            self._again(self._current, kind, what)
        else:
            self._spin = 0
        for hook in self.hooks:
            hook(kind, what)

    def _too_many(self, kind: str, what: object) -> None:
        raise StepLimitExceeded(
            f"more than {self.max_steps} switch points (last: {kind} {what} "
            f"in {self.current()}); a livelock?"
        )

    def _spun(self, cur: SimThread | None, kind: str, what: object) -> None:
        # A failed trylock or a yield: no progress in itself.
        if not self._spin and not self._window:
            self._spinning.clear()
        if cur is not None and (kind != "yield" or cur.name not in self._spinning):
            # (What it keeps trying, rather than the yield between tries.)
            self._spinning[cur.name] = (kind, what)
        if kind != "yield":
            self._window = True
        if self._window:
            self._again(cur, kind, what)
            return
        self._spin += 1
        if self._spin > self.livelock_steps:
            self._livelock()

    def _again(self, cur: SimThread | None, kind: str, what: object) -> None:
        # A switch point inside a spin window: progress only if this thread
        # has not passed it (kind and object) since the window opened.  So a
        # thread that takes and drops a lock between its retries (backing
        # off) spins as surely as one that only retries.
        try:
            label = (-2 if cur is None else cur.tid, kind, what)
            new = label not in self._passed
        except TypeError:  # (an unhashable object: by identity)
            label = (-2 if cur is None else cur.tid, kind, id(what))
            new = label not in self._passed
        if new:
            self._passed.add(label)
            self._spin = 0
            return
        self._spin += 1
        if self._spin > self.livelock_steps:
            self._livelock()

    def _livelock(self) -> None:
        spins = "; ".join(
            f"{name} retries {kind} {what}" for name, (kind, what) in self._spinning.items()
        )
        raise LivelockError(
            f"livelock: {self._spin} switch points without progress: failed trylocks, "
            f"yields and steps repeated since, no thread sleeping or ending ({spins})"
        )

    def _progress(self) -> None:
        # A thread slept or ended: the spin window closes.
        self._spin = 0
        if self._window:
            self._window = False
            self._passed.clear()

    def _pick(self, cur: SimThread | None) -> SimThread:
        """The next thread to run when ``cur`` (or a finished thread) stops.

        With nobody to run, the CPU idles until the next interrupt.
        """
        clock = self.clock
        while True:
            clock.run_due()
            # (cur is blocked or done: listed only if an interrupt woke it.)
            options: list[SimThread] = self._runnable(None)
            pending = bool(clock._fifo or clock._heap)
            if not options:
                if not pending or self._hopeless():
                    # The hub only picks while a non-daemon thread lives, so
                    # this is a deadlock (daemons waiting alone are stopped).
                    self._deadlock()
                self._take_interrupt("idle")
                continue
            if self._any and pending:
                options.append(self.interrupt)
            if len(options) == 1:
                nxt = options[0]
            else:
                idx = self.strategy.choose_thread(options, False)
                self.choices.append(idx)
                nxt = options[idx]
                if nxt is self.interrupt:
                    self._take_interrupt("interrupt")
                    continue
            if nxt.daemon and not any(not t.daemon and t.enabled() for t in self._live):
                # Only daemons can run: another turn without progress.
                self._idle += 1
                if self._idle > self.idle_limit and any(
                    not t.daemon and t.state == BLOCKED for t in self._live
                ):
                    self._deadlock()
            else:
                self._idle = 0
            return nxt

    def _settle(self) -> None:
        # Every thread that matters is done: the I/O still in flight
        # completes (its interrupts run), so the run ends in a quiet machine.
        # Daemons' timers are left alone: the daemons are stopped next.
        clock = self.clock
        while clock.pending > clock.background:
            self._take_interrupt("settling")

    def _hopeless(self) -> bool:
        # Only background timers are pending and daemons have had their turns.
        clock = self.clock
        return clock.background == clock.pending and self._idle > self.idle_limit

    def _hub_glet(self) -> greenlet.greenlet:
        hub = self._hub
        if hub is None:
            raise InternalError("a simulated thread runs outside Simulation.run")
        return hub

    def _deadlock(self) -> None:
        waits = self._waits()
        if any(w.lost_wakeup for w in waits):
            raise LostWakeupError(waits)
        raise DeadlockError(waits)

    def _waits(self) -> list[Wait]:
        out = []
        for t in self._live:
            if t.state != BLOCKED:
                continue
            lost = t.explain() if t.explain is not None else None
            glet = t.glet
            frame: FrameType | None = None
            if t is self._current:
                frame = sys._getframe()
            elif glet is not None:
                frame = glet.gr_frame
            out.append(Wait(t.name, t.what, t.holder, lost_wakeup=lost, where=source_line(frame)))
        return out

    def _switch(self, cur: SimThread, nxt: SimThread, how: str) -> None:
        self.log.append(f"choice {len(self.choices)}: {cur.name} {how} -> {nxt.name}")
        self._notify(cur, nxt)
        self._current = nxt
        if nxt.glet is None:
            nxt.glet = _new_glet(nxt, self._hub_glet())
            nxt.glet.switch(nxt)
        else:
            nxt.glet.switch()
        # Resumed: whoever switched to us has set _current.
        if self._killing:
            raise _Killed

    def _run_body(self, t: SimThread) -> None:
        t.state = READY
        try:
            t.result = t.fn(*t.args)
        except _Killed:
            pass
        except BaseException as exc:
            t.error = exc
            if self._failure is None and not self._killing:
                self._failure = (t, exc)
                self.log.append(
                    f"choice {len(self.choices)}: {t.name} fails: {type(exc).__name__}: {exc}"
                )
        else:
            self.log.append(f"choice {len(self.choices)}: {t.name} ends")
        if self.recording and not self._killing:
            try:
                self._close(t)
            except BaseException as exc:  # the strategy gave up the run
                if self._failure is None:
                    self._failure = (t, exc)
        self._progress()  # a thread ending is progress
        t.state = DONE
        self._live.remove(t)
        if t.cpu:
            self._cpus -= 1
        self._notify(t, None)

    def _left_over(self) -> None:
        # The threads the run ended without (see ``leftover``).
        for t in self._live:
            if not t.enabled():
                continue
            probe = t.probe
            if probe is None:
                self.leftover.append((t, set(), set(), True))
            else:
                reads, writes = probe()
                self.leftover.append((t, set(reads), set(writes), False))

    def _teardown(self) -> None:
        self._killing = True
        for t in list(self._live):
            if t.glet is not None and t.state != DONE:
                self._current = t
                self._notify(None, t)
                t.glet.throw(_Killed)
            else:
                t.state = DONE
                self._live.remove(t)
        self._current = None
        self.set_current("main")


#: What a timed sleep waits on: the clock (the callout that wakes it).
_ON_CLOCK = (("r", CLOCK),)
