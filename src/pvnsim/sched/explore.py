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

import attrs

from pvnsim.errors import UsageError
from pvnsim.sched.core import Simulation, Strategy
from pvnsim.sched.schedule import Schedule

__all__ = ["Difference", "Exploration", "Failure", "explore", "first_difference"]

Scenario = Callable[[Simulation], None]


@attrs.frozen
class Failure:
    """A run that raised.

    Attributes:
        run: index of the run in its exploration (from 0).
        schedule: the choices that replay it.
        error: what the run raised.
        log: the context switches of the run, last ones last.
    """

    run: int
    schedule: Schedule
    error: BaseException
    log: tuple[str, ...]

    def report(self, last: int = 12) -> str:
        """A readable account: the error, the schedule string, the last switches."""
        lines = [
            f"run {self.run} failed: {type(self.error).__name__}: {self.error}",
            f"schedule: {str(self.schedule)!r} ({len(self.schedule)} choices, "
            f"{self.schedule.switches} off the default); replay it with "
            f"replay(setup, check, {str(self.schedule)!r})",
        ]
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


@attrs.frozen
class Exploration:
    """What :func:`explore` found.

    Attributes:
        runs: runs made.
        exhausted: the strategy had nothing left to try (an exhaustive
            search completed) before ``max_runs``.
        failures: the failing runs (only the first unless
            ``stop_at_first=False``).
        seconds: wall time of the whole exploration.
    """

    runs: int
    exhausted: bool
    failures: tuple[Failure, ...]
    seconds: float

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
        head = (
            f"{self.runs} runs in {self.seconds:.2f} s"
            f"{' (search exhausted)' if self.exhausted else ''}: "
        )
        if self.ok:
            return head + "no failure"
        return head + f"{len(self.failures)} failure(s)\n" + self.failures[0].report()


def explore(
    scenario: Scenario,
    strategy: Strategy,
    *,
    max_runs: int = 1000,
    stop_at_first: bool = True,
    max_steps: int = 1_000_000,
    cpu_only_kinds: frozenset[str] | set[str] = frozenset(),
) -> Exploration:
    """Run ``scenario`` once per schedule of ``strategy``.

    Args:
        scenario: ``scenario(sim)`` spawns threads on ``sim``, calls
            ``sim.run()`` and checks the outcome; raising fails the run.
        strategy: where the choices come from.
        max_runs: stop after this many runs.
        stop_at_first: stop at the first failure.
        max_steps, cpu_only_kinds: passed to each :class:`Simulation`.

    Returns:
        An :class:`Exploration`; each failure's error carries its report as
        an exception note.

    Raises:
        UsageError: ``max_runs`` is not a positive int.
    """
    if isinstance(max_runs, bool) or not isinstance(max_runs, int) or max_runs < 1:
        raise UsageError(f"max_runs must be a positive int, not {max_runs!r}")
    failures: list[Failure] = []
    runs = 0
    exhausted = False
    t0 = time.perf_counter()
    while runs < max_runs:
        if not strategy.start_run():
            exhausted = True
            break
        sim = Simulation(strategy, max_steps=max_steps, cpu_only_kinds=cpu_only_kinds)
        try:
            scenario(sim)
            strategy.check_complete(sim)
        except Exception as exc:  # every failure of a run is reported, not raised
            failure = Failure(runs, sim.schedule, exc, tuple(sim.log))
            exc.add_note(failure.report())
            failures.append(failure)
            runs += 1
            if stop_at_first:
                break
            continue
        runs += 1
    return Exploration(runs, exhausted, tuple(failures), time.perf_counter() - t0)


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
