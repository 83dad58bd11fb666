"""Running the ports in simulated threads: scenarios, exploration, replay.

Theory of operation
-------------------
A *scenario* is a ``setup(run)`` function that builds a kernel, attaches it
to the :class:`Run` (which makes the run's
:class:`~pvnsim.sched.Simulation` the kernel's scheduler) and spawns
threads, plus an optional ``check(run)`` called after the threads are done.
:func:`explore` calls the scenario once per schedule of a strategy;
:func:`replay` runs it once with a recorded schedule; :func:`check_determinism`
runs an exploration twice and compares the traces.

With ``validate=True`` (the default) every attached kernel is validated
incrementally at every switch point (the objects the steps since the last
one wrote, from their footprints:
:func:`~pvnsim.vm.validate.invariants_hold_for`, then
:func:`~pvnsim.concurrency.checks.check_in_flight` to name a problem) and in
full after the run (:func:`~pvnsim.check_kernel`), so a failure names the
first moment an invariant broke; ``validate="full"`` checks everything at
every switch point.  ``at_switch(run)`` adds checks of your own at every
switch point.  When the run ends (however it
ends) the kernels are detached: ``k.sched`` is ``None`` again and the check
runs single-threaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import attrs

from pvnsim.concurrency.checks import check_in_flight
from pvnsim.errors import UsageError
from pvnsim.kernel import Kernel
from pvnsim.sched import SimThread, Simulation, Strategy
from pvnsim.sched.explore import Difference, Exploration, first_difference, shown_as_str
from pvnsim.sched.explore import explore as _explore
from pvnsim.sched.schedule import Schedule
from pvnsim.sched.strategies import Alternate, IterativeBounding, RandomWalk, Replay
from pvnsim.vm.validate import (
    Touched,
    check_kernel,
    invariants_hold,
    invariants_hold_for,
    marker_counts,
)

__all__ = [
    "CPU_ONLY_KINDS",
    "SPIN_KINDS",
    "Determinism",
    "Run",
    "check_determinism",
    "default_strategy",
    "explore",
    "replay",
    "replay_call",
]

#: Switch points inside the HAT where only another CPU may act.
CPU_ONLY_KINDS = frozenset({"hat_pagesync", "hat_pageunload"})

#: Switch points that are failed trylocks (a run of nothing but these and
#: yields is a livelock).
SPIN_KINDS = frozenset({"page_trylock", "page_io_trylock", "page_tryupgrade", "page_lookup_nowait"})

#: What ``validate`` may be.
VALIDATE = (True, "full", "end", False)


def default_strategy() -> Strategy:
    """The strategy :func:`explore` uses when given none.

    Runs taken in turn from :class:`~pvnsim.sched.strategies.IterativeBounding`
    (partial-order reduction at preemption bound 0, 1, 2, ...) and
    :class:`~pvnsim.sched.strategies.RandomWalk` (``switch_probability``
    0.1): on the seeded bugs of docs/concurrency.md the random walk finds
    each within tens of runs, the bounded search within hundreds but then
    says when there is nothing left to find (``result.exhausted``).
    """
    return Alternate(IterativeBounding(), RandomWalk(seed=0))


Setup = Callable[["Run"], Any]
Check = Callable[["Run"], None]


class Run:
    """One run of a threaded scenario, handed to ``setup`` and ``check``.

    Attributes:
        sim: the :class:`~pvnsim.sched.Simulation` that runs the threads.
        kernels: the kernels attached so far.
        data: whatever ``setup`` returned.
    """

    def __init__(
        self,
        sim: Simulation,
        *,
        validate: bool | str = True,
        at_switch: Check | None = None,
        trace: bool = False,
    ) -> None:
        self.sim = sim
        self.kernels: list[Kernel] = []
        self.data: Any = None
        self.validate = validate
        self.trace = trace
        self._validator: _Validator | None = None
        if at_switch is not None:
            sim.add_hook(lambda kind, what: at_switch(self))

    @property
    def kernel(self) -> Kernel:
        """The (first) attached kernel.

        Raises:
            UsageError: no kernel is attached.
        """
        if not self.kernels:
            raise UsageError("no kernel is attached to this run: call run.attach(kernel)")
        return self.kernels[0]

    def attach(self, k: Kernel) -> Kernel:
        """Make this run's simulation the scheduler of ``k``; returns ``k``.

        Raises:
            UsageError: ``k`` is not a Kernel or already has a scheduler.
        """
        if not isinstance(k, Kernel):
            raise UsageError(f"attach: expected a Kernel, not {type(k).__name__}")
        if k.sched is not None:
            raise UsageError("attach: this kernel already has a scheduler")
        if self.validate is True and self._validator is None:
            # Footprints tell the validator what each step wrote (they must
            # be on before the kernel is hooked).
            self.sim.record_footprints(touched=True)
            self._validator = _Validator(self)
            self.sim.add_hook(self._validator)
        k.sched = self.sim
        self.kernels.append(k)

        if self.trace:
            k.trace_on()
        if self.validate == "full":
            self.sim.add_hook(partial(_validate_at_switch, k))
        return k

    def spawn(self, fn: Callable[..., Any], *args: Any, name: str | None = None) -> SimThread:
        """Run ``fn(*args)`` as a simulated thread (see :meth:`Simulation.spawn`)."""
        return self.sim.spawn(fn, *args, name=name)

    def other_cpu(
        self,
        *,
        name: str = "cpu1",
        pages: Any = None,
        bits: tuple[str, ...] = ("ref", "mod"),
        budget: int = 1,
    ) -> SimThread:
        """Add another CPU that sets ref/mod bits of mapped pages (see :func:`other_cpu`)."""
        from pvnsim.concurrency.cpu import other_cpu

        return other_cpu(self, name=name, pages=pages, bits=bits, budget=budget)

    def note(self, reads: Iterable[Any] = (), writes: Iterable[Any] = ()) -> None:
        """Tell a partial-order reduction what the running thread read or
        wrote of state outside the kernel (any hashable names), e.g.
        ``run.note(writes={"counter"})`` (see :meth:`Simulation.note`)."""
        self.sim.note(reads, writes)

    def choose(self, n: int, what: str = "value") -> int:
        """A recorded data choice in ``range(n)`` (explored like a thread choice)."""
        return self.sim.choose(n, what)

    @property
    def results(self) -> dict[str, Any]:
        """Each thread's return value, by name."""
        return {t.name: t.result for t in self.sim.threads}

    @property
    def schedule(self) -> Schedule:
        """The choices this run made."""
        return self.sim.schedule

    def thread(self, name: str) -> SimThread:
        """The thread called ``name``."""
        for t in self.sim.threads:
            if t.name == name:
                return t
        raise UsageError(f"no thread named {name!r} in this run")

    def detach(self) -> None:
        """Give every attached kernel back to single-threaded use."""
        for k in self.kernels:
            if k.sched is self.sim:
                k.sched = None


def _validate_at_switch(k: Kernel, kind: str, what: object) -> None:
    # The switch-point hook of validate="full": check_in_flight, with its
    # fused fast pass called directly (this runs at every switch point).
    if not invariants_hold(k, True):
        check_in_flight(k)


class _Validator:
    """The switch-point hook of validate=True: each kernel's objects that the
    steps since the last switch point wrote (their footprints say which)."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.footprint = run.sim.footprint
        # Per kernel: each vnode's marker count (None: not yet checked in full).
        self.markers: dict[Kernel, dict[Any, int]] = {}

    def __call__(self, kind: str, what: object) -> None:
        fp = self.footprint
        keys = fp.touched
        if keys is None:
            return
        fp.touched = set()
        for k in self.run.kernels:
            markers = self.markers.get(k)
            if markers is None:
                # First look: everything (set-up built the state unhooked).
                self.markers[k] = marker_counts(k)
                if not invariants_hold(k, True):
                    check_in_flight(k)
            elif keys and not invariants_hold_for(k, Touched(k, keys), markers):
                check_in_flight(k)


def _scenario(
    setup: Setup,
    check: Check | None,
    validate: bool | str,
    at_switch: Check | None,
    trace: bool,
    runs: list[Run] | None,
) -> Callable[[Simulation], None]:
    if not callable(setup):
        raise UsageError(f"setup must be callable, not {setup!r}")
    if not any(validate is v or (isinstance(v, str) and validate == v) for v in VALIDATE):
        raise UsageError(f"validate must be True, 'full', 'end' or False, not {validate!r}")
    if check is not None and not callable(check):
        raise UsageError(f"check must be callable or None, not {check!r}")
    if at_switch is not None and not callable(at_switch):
        raise UsageError(f"at_switch must be callable or None, not {at_switch!r}")

    def scenario(sim: Simulation) -> None:
        run = Run(sim, validate=validate, at_switch=at_switch, trace=trace)
        if runs is not None:
            runs.append(run)
        try:
            run.data = setup(run)
            sim.run()
        finally:
            run.detach()
        if validate:
            for k in run.kernels:
                check_kernel(k)
        if check is not None:
            check(run)

    return scenario


def _name(fn: Any) -> str:
    # How the replay call names a function: its qualified name where that
    # is valid Python (a module-level function, a class attribute), else
    # (a function defined inside another) its own name, the one in scope
    # where it was defined: ``test_x.<locals>.setup`` is written ``setup``.
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    name = str(name)
    if "<locals>." in name:
        return name.rsplit("<locals>.", 1)[1]
    return name


def replay_call(
    setup: Setup,
    check: Check | None,
    validate: bool | str,
    at_switch: Check | None,
    interrupts: str = "due",
) -> Callable[[Schedule], str]:
    """How a failure report writes the :func:`replay` call for a schedule."""

    def call(schedule: Schedule) -> str:
        parts = [_name(setup), "None" if check is None else _name(check), repr(str(schedule))]
        if validate is not True:
            parts.append(f"validate={validate!r}")
        if at_switch is not None:
            parts.append(f"at_switch={_name(at_switch)}")
        if interrupts != "due":
            parts.append(f"interrupts={interrupts!r}")
        return f"replay({', '.join(parts)})"

    return call


def explore(
    setup: Setup,
    check: Check | None = None,
    *,
    strategy: Strategy | None = None,
    max_runs: int = 1000,
    max_seconds: float | None = None,
    validate: bool | str = True,
    at_switch: Check | None = None,
    trace: bool = False,
    max_steps: int = 100_000,
    stop_at_first: bool = True,
    classes: bool = False,
    interrupts: str = "due",
) -> Exploration:
    """Run a threaded scenario under many interleavings.

    Args:
        setup: ``setup(run)`` builds a kernel, ``run.attach``-es it and
            ``run.spawn``-s threads; what it returns is ``run.data``.
        check: ``check(run)`` after the threads are done; raise (or
            ``assert``) to fail the run.
        strategy: default :func:`default_strategy` (iterative bounding with
            partial-order reduction); or :class:`~pvnsim.sched.DPOR`,
            :class:`~pvnsim.sched.RandomWalk`, :class:`~pvnsim.sched.PCT`,
            :class:`~pvnsim.sched.Exhaustive`, :class:`~pvnsim.sched.Replay`.
            The exploration runs ``strategy.fresh()``: it always starts from
            the beginning.
        max_runs: at most this many runs.
        max_seconds: start no run after this much wall time.
        validate: ``True``: check at every switch point the objects the
            steps since the last one wrote, and everything at the end;
            ``"full"``: everything at every switch point and at the end;
            ``"end"``: only at the end; ``False``: never.
        at_switch: ``at_switch(run)`` at every switch point (in the running
            thread); raise to fail the run.
        trace: record each kernel's trace (``run.kernel.trace``).
        max_steps: switch points per run before
            :class:`~pvnsim.sched.StepLimitExceeded`.
        stop_at_first: stop at the first failing run.
        classes: count the classes of equivalent runs among those made
            (``result.classes``; partial-order reductions always do).
        interrupts: ``"any"``: a strategy may also fire a pending timed
            event (a disk completion) at any switch point (see
            :class:`~pvnsim.sched.Simulation`); ``"due"``: only when due.

    Returns:
        An :class:`~pvnsim.sched.Exploration`: ``.ok``, ``.failure`` (with
        its replayable ``.schedule``, ``.where`` and a ``.report()``),
        ``.runs``, ``.exhausted``, ``.classes``, ``.pruned``.

    Raises:
        UsageError: a setup, check or at_switch that is not callable, or a
            bad strategy, max_runs, max_seconds or validate.
    """
    # (The runs are not kept: an exploration may make millions.)
    scenario = _scenario(setup, check, validate, at_switch, trace, None)
    chosen = strategy if strategy is not None else default_strategy()
    if not isinstance(chosen, Strategy):
        raise UsageError(f"strategy must be a Strategy, not {type(chosen).__name__}")
    return _explore(
        scenario,
        chosen,
        max_runs=max_runs,
        max_seconds=max_seconds,
        stop_at_first=stop_at_first,
        max_steps=max_steps,
        cpu_only_kinds=CPU_ONLY_KINDS,
        spin_kinds=SPIN_KINDS,
        interrupts=interrupts,
        classes=classes,
        replay_call=replay_call(setup, check, validate, at_switch, interrupts),
    )


def replay(
    setup: Setup,
    check: Check | None = None,
    schedule: Schedule | str = "",
    *,
    strict: bool = True,
    validate: bool | str = True,
    at_switch: Check | None = None,
    trace: bool = False,
    max_steps: int = 100_000,
    interrupts: str = "due",
) -> Run:
    """Run a threaded scenario once, making the choices of ``schedule``.

    Args:
        schedule: a :class:`~pvnsim.sched.Schedule` or its string (``""``:
            no preemption at all).
        strict: raise :class:`~pvnsim.sched.ScheduleDivergence` when the
            schedule does not fit the run (it was recorded from another
            scenario); not strict, indices wrap (for Hypothesis).
        Other arguments: as for :func:`explore`.

    Returns:
        The finished :class:`Run` (its kernel, trace, thread results).

    Raises:
        BaseException: whatever the run raised, with the failure report
            (schedule string and last context switches) as a note.
    """
    runs: list[Run] = []
    scenario = _scenario(setup, check, validate, at_switch, trace, runs)
    result = _explore(
        scenario,
        Replay(Schedule.parse(schedule), strict=strict),
        max_runs=1,
        max_steps=max_steps,
        cpu_only_kinds=CPU_ONLY_KINDS,
        spin_kinds=SPIN_KINDS,
        interrupts=interrupts,
        replay_call=replay_call(setup, check, validate, at_switch, interrupts),
    )
    result.raise_failure()
    return runs[0]


@attrs.frozen
class Determinism:
    """What :func:`check_determinism` found.

    Attributes:
        identical: the two passes produced byte-identical records.
        difference: the first differing line, when not identical.
        lines: lines in the first pass's record.
    """

    identical: bool
    difference: Difference | None
    lines: int

    def __str__(self) -> str:
        if self.identical:
            return f"deterministic: {self.lines} identical lines"
        return f"NOT deterministic: first difference at {self.difference}"

    _repr_pretty_ = shown_as_str


def check_determinism(
    setup: Setup,
    check: Check | None = None,
    *,
    strategy: Strategy | None = None,
    max_runs: int = 20,
    validate: bool | str = True,
    at_switch: Check | None = None,
    max_steps: int = 100_000,
) -> Determinism:
    """Explore twice from the same start and compare traces byte for byte.

    Each pass runs ``strategy.fresh()`` with tracing on and records, per
    run, the schedule, every kernel's trace (thread names included), the
    context switches and the outcome.

    Returns:
        A :class:`Determinism` naming the first differing line, if any.
    """
    base = strategy if strategy is not None else default_strategy()
    if not isinstance(base, Strategy):
        raise UsageError(f"strategy must be a Strategy, not {type(base).__name__}")
    records: list[list[str]] = []
    for _ in range(2):
        runs: list[Run] = []
        scenario = _scenario(setup, check, validate, at_switch, True, runs)
        result = _explore(
            scenario,
            base.fresh(),
            max_runs=max_runs,
            stop_at_first=False,
            max_steps=max_steps,
            cpu_only_kinds=CPU_ONLY_KINDS,
            spin_kinds=SPIN_KINDS,
        )
        failed = {f.run: f for f in result.failures}
        lines: list[str] = []
        for i, run in enumerate(runs):
            lines.append(f"== run {i}: schedule {str(run.schedule)!r}")
            for k in run.kernels:
                lines.extend(k.trace.format().splitlines())
            lines.extend(run.sim.log)
            f = failed.get(i)
            lines.append(
                "outcome: ok" if f is None else f"outcome: {type(f.error).__name__}: {f.error}"
            )
        records.append(lines)
    first, second = records
    same = "\n".join(first).encode() == "\n".join(second).encode()
    return Determinism(same, None if same else first_difference(first, second), len(first))
