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

A failure (any exception escaping a thread) stops the run: every other
thread is unwound by throwing an internal exception into it, then
:meth:`run` re-raises the failure.  Greenlets are pooled per OS thread,
because creating one costs ten times more than switching to it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import greenlet

from pvnsim.errors import DeadlockError, InternalError, StepLimitExceeded, UsageError, Wait
from pvnsim.sched.interface import Scheduler
from pvnsim.sched.schedule import Schedule

__all__ = ["SimThread", "Simulation", "Strategy"]

NEW, READY, BLOCKED, DONE = 0, 1, 2, 3
_STATE_NAMES = ("new", "ready", "blocked", "done")


class _Killed(BaseException):
    """Thrown into the threads of a run that is being torn down."""


class Strategy:
    """Makes the choices of a run; see :mod:`pvnsim.sched.strategies`.

    ``choose_thread`` gets the options (option 0 is the default, see
    :mod:`pvnsim.sched.schedule`) and whether taking another one is a
    preemption; ``choose_value`` picks one of ``n`` data values.  Both
    return an index.  ``start_run`` is called before each run and returns
    False when the strategy has nothing left to try; ``end_run`` after it.
    """

    def start_run(self) -> bool:
        """Prepare the next run; False when there is nothing left to explore."""
        return True

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
        "fn",
        "glet",
        "holder",
        "name",
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

    Attributes:
        threads: every thread spawned, in spawn order.
        choices: the option index taken at each choice point so far.
        log: one line per context switch, for failure reports.
        steps: switch points passed so far.
    """

    def __init__(
        self,
        strategy: Strategy | None = None,
        *,
        max_steps: int = 1_000_000,
        cpu_only_kinds: frozenset[str] | set[str] = frozenset(),
    ) -> None:
        if not isinstance(max_steps, int) or max_steps < 1:
            raise UsageError(f"max_steps must be a positive int, not {max_steps!r}")
        self.strategy = strategy if strategy is not None else Strategy()
        self.max_steps = max_steps
        self.cpu_only_kinds = frozenset(cpu_only_kinds)
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

    # -- building a run ------------------------------------------------------

    def spawn(
        self,
        fn: Callable[..., Any],
        *args: Any,
        name: str | None = None,
        daemon: bool = False,
        cpu: bool = False,
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
    def schedule(self) -> Schedule:
        """The choices made so far, as a :class:`Schedule`."""
        return Schedule(tuple(self.choices))

    # -- the Scheduler interface -----------------------------------------------

    def current(self) -> str:
        """The running thread's name; ``"main"`` outside any simulated thread."""
        t = self._current
        return "main" if t is None else t.name

    def switch_point(self, kind: str, what: object) -> None:
        """The running thread may be preempted here."""
        cur = self._current
        if cur is None or self._killing:
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
                options = [cur]
                for t in live:
                    if t is not cur and (t.state != BLOCKED or t.ready()):  # type: ignore[misc]
                        options.append(t)
                if len(options) == 1:
                    return
        idx = self.strategy.choose_thread(options, True)
        self.choices.append(idx)
        if idx:
            self._switch(cur, options[idx], f"preempted at {kind} {what}")

    def block(self, what: str, holder: str | None, ready: Callable[[], bool]) -> None:
        """Sleep until ``ready()``; a deadlock if nobody else can run."""
        cur = self._current
        if cur is None:
            if ready():
                return
            raise DeadlockError([Wait("main", what, holder)])
        if self._killing:
            raise _Killed
        self._step("block", what)
        if ready():
            return
        cur.state = BLOCKED
        cur.ready = ready
        cur.what = what
        cur.holder = holder
        nxt = self._pick(cur)
        self._switch(cur, nxt, f"blocks on {what}")
        cur.state = READY
        cur.ready = None

    # -- for thread bodies -------------------------------------------------------

    def yield_cpu(self, what: str = "yield") -> None:
        """Give up the CPU: another enabled thread runs if there is one (no preemption)."""
        cur = self._current
        if cur is None or self._killing:
            return
        self._step("yield", what)
        others = [t for t in self._live if t is not cur and t.enabled()]
        if not others:
            return
        options = [*others, cur]
        idx = self.strategy.choose_thread(options, False)
        self.choices.append(idx)
        if options[idx] is not cur:
            self._switch(cur, options[idx], f"yields ({what})")

    def choose(self, n: int, what: str = "value") -> int:
        """A data choice in ``range(n)``, made by the strategy and recorded."""
        if not isinstance(n, int) or n < 1:
            raise UsageError(f"choose: n must be a positive int, not {n!r}")
        if n == 1:
            return 0
        idx = self.strategy.choose_value(n, what)
        self.choices.append(idx)
        return idx

    def wait(self, what: str, ready: Callable[[], bool], holder: str | None = None) -> None:
        """Block the running thread until ``ready()`` (for user-written threads)."""
        self.block(what, holder, ready)

    # -- running -------------------------------------------------------------------

    def run(self) -> None:
        """Run every thread to completion.

        Raises:
            DeadlockError: every live thread waits (raised in a thread).
            StepLimitExceeded: more than ``max_steps`` switch points.
            UsageError: the simulation has already run, or run() was
                called from one of its own threads.
            BaseException: whatever a thread raised, re-raised here.
        """
        if self._ran:
            raise UsageError("run: a Simulation runs once; build a new one")
        self._ran = True
        self._hub = greenlet.getcurrent()
        try:
            while self._failure is None:
                if not any(not t.daemon for t in self._live):
                    break
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
            self._teardown()
            self.strategy.end_run(self)
        if self._failure is not None:
            raise self._failure[1]

    # -- internals -------------------------------------------------------------------

    def _step(self, kind: str, what: object) -> None:
        self.steps += 1
        if self.steps > self.max_steps:
            self._too_many(kind, what)
        for hook in self.hooks:
            hook(kind, what)

    def _too_many(self, kind: str, what: object) -> None:
        raise StepLimitExceeded(
            f"more than {self.max_steps} switch points (last: {kind} {what} "
            f"in {self.current()}); a livelock?"
        )

    def _pick(self, cur: SimThread | None) -> SimThread:
        """The next thread to run when ``cur`` (or a finished thread) stops."""
        options = [t for t in self._live if t is not cur and t.enabled()]
        if not options:
            # The hub only picks while a non-daemon thread lives, so this is
            # always a deadlock (daemons waiting alone are stopped instead).
            raise DeadlockError(self._waits())
        idx = self.strategy.choose_thread(options, False) if len(options) > 1 else 0
        if len(options) > 1:
            self.choices.append(idx)
        return options[idx]

    def _hub_glet(self) -> greenlet.greenlet:
        hub = self._hub
        if hub is None:
            raise InternalError("a simulated thread runs outside Simulation.run")
        return hub

    def _waits(self) -> list[Wait]:
        return [Wait(t.name, t.what, t.holder) for t in self._live if t.state == BLOCKED]

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
        t.state = DONE
        self._live.remove(t)
        if t.cpu:
            self._cpus -= 1
        self._notify(t, None)

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
