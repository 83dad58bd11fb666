"""Exploring interleavings, and checking that runs are deterministic.

:func:`explore` runs a scenario once per schedule a strategy proposes and
collects the failures, each with the schedule that replays it.  It knows
nothing about what the threads do: the scenario builds its threads on the
:class:`~pvnsim.sched.core.Simulation` it is given, runs it and checks the
outcome, raising to report a failure.

:func:`first_difference` compares two runs' records line by line; the
determinism check of :mod:`pvnsim.concurrency` is built on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from pvnsim.errors import UsageError
from pvnsim.sched.core import Pruned, SimThread, Simulation, Strategy
from pvnsim.sched.dpor import run_signature
from pvnsim.sched.schedule import Schedule
from pvnsim.sched.strategies import Delegate
from pvnsim.sched.where import source_line_of

__all__ = ["Difference", "Exploration", "Failure", "describe", "explore", "first_difference"]

Scenario = Callable[[Simulation], None]


def shown_as_str(self: object, p: Any, cycle: bool) -> None:
    """``_repr_pretty_`` for a result whose ``str`` is its report.

    IPython (a notebook, the shell) then displays the report instead of the
    attrs repr, the fields on one long line.  It must be set on the class
    itself (``_repr_pretty_ = shown_as_str``): IPython stops at the first
    class of the MRO that defines ``__repr__``.
    """
    p.text(str(self))


@attrs.frozen
class Failure:
    """A run that raised.

    Attributes:
        run: index of the run in its exploration (from 0).
        schedule: the choices that replay it.
        error: what the run raised.
        log: the context switches of the run, last ones last.
        where: ``file:line`` of the code under test where it failed (the
            statement of a thread, a port or a check), when known.
        replay_call: the call that replays it.
        found_by: the strategy (and its state, e.g. the preemption bound)
            that found it.
    """

    run: int
    schedule: Schedule
    error: BaseException
    log: tuple[str, ...]
    where: str | None = None
    replay_call: str = ""
    found_by: str = ""

    def report(self, last: int = 12) -> str:
        """A readable account: the error, where, the replay call, the last switches."""
        err = self.error
        lines = [f"run {self.run} failed: {type(err).__name__}: {err}"]
        if self.where:
            lines.append(f"at {self.where}")
        waits = getattr(err, "waits", ())
        for w in waits:
            if getattr(w, "where", None):
                lines.append(f"  {w.thread} waits at {w.where}")
        call = self.replay_call or f"replay(setup, check, {str(self.schedule)!r})"
        lines.append(
            f"schedule: {str(self.schedule)!r} ({len(self.schedule)} choices, "
            f"{self.schedule.switches} off the default"
            + (f"; found by {self.found_by}" if self.found_by else "")
            + ")"
        )
        lines.append(f"replay it with {call}")
        if self.log:
            shown = self.log[-last:]
            skipped = len(self.log) - len(shown)
            lines.append(
                "context switches" + (f" (last {len(shown)} of {len(self.log)})" if skipped else "")
            )
            lines.extend(f"  {line}" for line in shown)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()

    _repr_pretty_ = shown_as_str


@attrs.frozen
class Exploration:
    """What :func:`explore` found.

    Attributes:
        runs: runs made (pruned ones included).
        exhausted: the strategy had nothing left to try (an exhaustive
            search completed) before ``max_runs`` or ``max_seconds``.
        failures: the failing runs (only the first unless
            ``stop_at_first=False``).
        seconds: wall time of the whole exploration.
        pruned: runs a partial-order reduction abandoned because they
            could only repeat what it had explored (sleep-set blocked).
        classes: distinct classes of equivalent runs among the complete
            runs, when known (a partial-order reduction, or
            ``classes=True``); else None.
        strategy: the strategy as it was when the exploration ended (a
            fresh copy of the one given).
    """

    runs: int
    exhausted: bool
    failures: tuple[Failure, ...]
    seconds: float
    pruned: int = 0
    classes: int | None = None
    strategy: Strategy | None = attrs.field(default=None, repr=False, eq=False)

    @property
    def ok(self) -> bool:
        """No run failed."""
        return not self.failures

    @property
    def failure(self) -> Failure | None:
        """The first failure, if any."""
        return self.failures[0] if self.failures else None

    @property
    def runs_per_second(self) -> float:
        """Runs per second of wall time."""
        return self.runs / self.seconds if self.seconds > 0 else float("inf")

    def raise_failure(self) -> None:
        """Re-raise the first failure's error, with its report as a note."""
        failure = self.failure
        if failure is not None:
            raise failure.error

    def __str__(self) -> str:
        extra = []
        if self.classes is not None:
            extra.append(f"{self.classes} classes")
        if self.pruned:
            extra.append(f"{self.pruned} pruned")
        head = (
            f"{self.runs} runs in {self.seconds:.2f} s"
            + (f" ({', '.join(extra)})" if extra else "")
            + f"{' (search exhausted)' if self.exhausted else ''}: "
        )
        if self.ok:
            return head + "no failure"
        return head + f"{len(self.failures)} failure(s)\n" + self.failures[0].report()

    _repr_pretty_ = shown_as_str


class _ClassCounter(Delegate):
    """Wraps a strategy to record each complete run's class (its signature)."""

    footprints = True

    def __init__(self, inner: Strategy) -> None:
        self.inner = inner
        self.signatures: set[frozenset[tuple[object, ...]]] = set()
        self._steps: list[tuple[int, object, object, bool]] = []

    def start_run(self) -> bool:
        self._steps = []
        return self.inner.start_run()

    def step(
        self,
        thread: SimThread,
        reads: set[Any],
        writes: set[Any],
        wild: bool,
        atomic: bool = False,
    ) -> None:
        if reads or writes or wild:
            self._steps.append((thread.tid, reads, writes, wild))
        if self.inner.footprints:
            self.inner.step(thread, reads, writes, wild, atomic)

    def complete(self) -> None:
        self.signatures.add(run_signature(self._steps))  # type: ignore[arg-type]

    def fresh(self) -> Strategy:
        return _ClassCounter(self.inner.fresh())

    def __repr__(self) -> str:
        return repr(self.inner)


def explore(
    scenario: Scenario,
    strategy: Strategy,
    *,
    max_runs: int = 1000,
    max_seconds: float | None = None,
    stop_at_first: bool = True,
    max_steps: int = 1_000_000,
    cpu_only_kinds: frozenset[str] | set[str] = frozenset(),
    spin_kinds: frozenset[str] | set[str] = frozenset(),
    interrupts: str = "due",
    classes: bool = False,
    replay_call: Callable[[Schedule], str] | None = None,
) -> Exploration:
    """Run ``scenario`` once per schedule of a fresh copy of ``strategy``.

    Args:
        scenario: ``scenario(sim)`` spawns threads on ``sim``, calls
            ``sim.run()`` and checks the outcome; raising fails the run.
        strategy: where the choices come from; the exploration runs
            ``strategy.fresh()``, so it always starts from the beginning.
        max_runs: stop after this many runs.
        max_seconds: stop starting runs after this much wall time.
        stop_at_first: stop at the first failure.
        max_steps, cpu_only_kinds, spin_kinds, interrupts: passed to each
            :class:`Simulation`.
        classes: count the classes of equivalent complete runs
            (:attr:`Exploration.classes`; a partial-order reduction counts
            them anyway).
        replay_call: ``replay_call(schedule)`` is the call a failure report
            prints to replay it.

    Returns:
        An :class:`Exploration`; each failure's error carries its report as
        an exception note.

    Raises:
        UsageError: ``max_runs`` is not a positive int, or ``max_seconds``
            not a positive number.
    """
    if isinstance(max_runs, bool) or not isinstance(max_runs, int) or max_runs < 1:
        raise UsageError(f"max_runs must be a positive int, not {max_runs!r}")
    if max_seconds is not None and (
        isinstance(max_seconds, bool)
        or not isinstance(max_seconds, (int, float))
        or not max_seconds > 0
    ):
        raise UsageError(f"max_seconds must be a positive number or None, not {max_seconds!r}")
    if not isinstance(strategy, Strategy):
        raise UsageError(f"strategy must be a Strategy, not {type(strategy).__name__}")
    strategy = strategy.fresh()
    counter = _ClassCounter(strategy) if classes else None
    driver: Strategy = counter if counter is not None else strategy
    failures: list[Failure] = []
    runs = pruned = 0
    exhausted = False
    t0 = time.perf_counter()
    while runs < max_runs:
        if max_seconds is not None and time.perf_counter() - t0 >= max_seconds:
            break
        if not driver.start_run():
            exhausted = True
            break
        sim = Simulation(
            driver,
            max_steps=max_steps,
            cpu_only_kinds=cpu_only_kinds,
            spin_kinds=spin_kinds,
            interrupts=interrupts,
        )
        runs += 1
        try:
            scenario(sim)
            driver.check_complete(sim)
        except Pruned:
            pruned += 1
            continue
        except Exception as exc:  # every failure of a run is reported, not raised
            schedule = sim.schedule
            failure = Failure(
                runs - 1,
                schedule,
                exc,
                tuple(sim.log),
                source_line_of(exc),
                replay_call(schedule) if replay_call is not None else "",
                describe(strategy),
            )
            exc.add_note(failure.report())
            failures.append(failure)
            if counter is not None:
                counter.complete()
            if stop_at_first:
                break
            continue
        if counter is not None:
            counter.complete()
    found = getattr(strategy, "classes", None)
    return Exploration(
        runs,
        exhausted,
        tuple(failures),
        time.perf_counter() - t0,
        pruned,
        len(counter.signatures) if counter is not None else found,
        strategy,
    )


def describe(strategy: Strategy) -> str:
    """How a strategy describes itself in a failure report (its ``describe()``
    if it has one, else its repr)."""
    fn = getattr(strategy, "describe", None)
    return str(fn()) if callable(fn) else repr(strategy)


@attrs.frozen
class Difference:
    """Where two records first differ (``None``: that record had ended)."""

    index: int
    first: str | None
    second: str | None

    def __str__(self) -> str:
        return f"line {self.index}: {self.first!r} != {self.second!r}"


def first_difference(a: Sequence[str], b: Sequence[str]) -> Difference | None:
    """The first line where ``a`` and ``b`` differ, or None if identical.

    >>> first_difference(["x", "y"], ["x", "z"])
    Difference(index=1, first='y', second='z')
    >>> first_difference(["x"], ["x"]) is None
    True
    """
    for i in range(max(len(a), len(b))):
        x = a[i] if i < len(a) else None
        y = b[i] if i < len(b) else None
        if x != y:
            return Difference(i, x, y)
    return None
