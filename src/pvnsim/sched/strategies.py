"""Strategies: who makes the choices of a run.

===================  =====================================================
strategy             what it does
===================  =====================================================
:class:`RandomWalk`  a seeded random choice at every choice point
:class:`PCT`         probabilistic concurrency testing (Burckhardt et al.,
                     ASPLOS 2010): random thread priorities and ``depth -
                     1`` random priority-change points; finds a bug of
                     depth ``d`` with probability >= 1/(n k^(d-1)) per run
:class:`Exhaustive`  depth-first enumeration of every schedule with at
                     most ``preemption_bound`` preemptions
:class:`DPOR`        one run per class of equivalent interleavings
                     (partial-order reduction, :mod:`pvnsim.sched.dpor`)
:class:`IterativeBounding`  DPOR (or Exhaustive) at preemption bound 0, 1,
                     2, ... in turn
:class:`Alternate`   runs taken in turn from several strategies
:class:`Replay`      the choices of a recorded :class:`Schedule`
===================  =====================================================

Every strategy is deterministic given its arguments; :meth:`fresh` gives a
copy in its initial state, so the same exploration can be run again.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from pvnsim.errors import ScheduleDivergence, UsageError
from pvnsim.sched.core import SimThread, Simulation, Strategy
from pvnsim.sched.dpor import DPOR, check_bound
from pvnsim.sched.schedule import Schedule

__all__ = [
    "DPOR",
    "PCT",
    "Alternate",
    "Delegate",
    "Exhaustive",
    "IterativeBounding",
    "RandomWalk",
    "Replay",
]


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise UsageError(f"seed must be an int, not {seed!r}")
    return seed


class RandomWalk(Strategy):
    """A seeded random choice at every choice point.

    Args:
        seed: seed of the strategy's own random generator.
        switch_probability: at a switch point, the chance of preempting the
            running thread (for a uniformly chosen other one); ``None``
            picks uniformly among all options, the running thread included.
            The default, 0.1, found every seeded bug of docs/concurrency.md
            in the fewest runs of the values measured (uniform choice misses
            some in thousands of runs: it preempts so often that no thread
            gets far).
    """

    def __init__(self, seed: int = 0, switch_probability: float | None = 0.1) -> None:
        self.seed = _check_seed(seed)
        if switch_probability is not None and not 0.0 <= switch_probability <= 1.0:
            raise UsageError(f"switch_probability must be in [0, 1], not {switch_probability!r}")
        self.switch_probability = switch_probability
        self.rng = random.Random(seed)

    def choose_thread(self, options: list[SimThread], preemptive: bool) -> int:
        """Uniform, or biased towards staying when ``switch_probability`` is set."""
        p = self.switch_probability
        if p is not None and preemptive:
            if self.rng.random() >= p:
                return 0
            return 1 + self.rng.randrange(len(options) - 1)
        return self.rng.randrange(len(options))

    def choose_value(self, n: int, what: str) -> int:
        """Uniform."""
        return self.rng.randrange(n)

    def fresh(self) -> RandomWalk:
        """The same walk from the start."""
        return RandomWalk(self.seed, self.switch_probability)

    def __repr__(self) -> str:
        return f"RandomWalk(seed={self.seed}, switch_probability={self.switch_probability})"


class PCT(Strategy):
    """Probabilistic concurrency testing with bug depth ``depth``.

    Each run gives every thread a random priority (all above ``depth``) and
    picks ``depth - 1`` change points among the first ``steps`` preemption
    points (switch points where the running thread could go on); the
    enabled thread of highest priority always runs, and at the i-th change
    point the running thread drops to priority i.  Where the running thread
    blocks, yields or ends, the highest priority decides without a change
    point; data choices are uniform.

    Args:
        seed: seed of the strategy's random generator.
        depth: the bug depth d (1: no change points, i.e. random priorities).
        steps: the number k of preemption points a run has; ``None`` learns
            it (the most of any run so far; 100 before the first run).
    """

    def __init__(self, seed: int = 0, depth: int = 3, steps: int | None = None) -> None:
        self.seed = _check_seed(seed)
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise UsageError(f"depth must be a positive int, not {depth!r}")
        if steps is not None and (not isinstance(steps, int) or steps < 1):
            raise UsageError(f"steps must be a positive int or None, not {steps!r}")
        self.depth = depth
        self.steps = steps
        self.rng = random.Random(seed)
        self.longest = 0
        self._prio: dict[int, float] = {}
        self._changes: dict[int, int] = {}
        self._step = 0

    def start_run(self) -> bool:
        """Draw new priorities lazily and new change points."""
        # k: the preemption points of a run, learned from the runs so far (a
        # guess of 100 before the first).  Not at least 100: change points
        # drawn beyond the end of a short run never happen.  Only preemption
        # points count: in a short run, change points spent where nothing
        # could be preempted would leave none for where it matters.
        k = self.steps if self.steps is not None else (self.longest or 100)
        count = min(self.depth - 1, k)
        points = sorted(self.rng.sample(range(1, k + 1), count))
        self._changes = {step: i + 1 for i, step in enumerate(points)}
        self._prio = {}
        self._step = 0
        return True

    def choose_thread(self, options: list[SimThread], preemptive: bool) -> int:
        """The enabled thread of highest priority, after any change point."""
        prio = self._prio
        for t in options:
            if t.tid not in prio:
                prio[t.tid] = self.depth + self.rng.random()
        best = max(range(len(options)), key=lambda i: prio[options[i].tid])
        if not preemptive:
            return best
        self._step += 1
        change = self._changes.get(self._step)
        if change is not None:
            prio[options[best].tid] = change
            best = max(range(len(options)), key=lambda i: prio[options[i].tid])
        return best

    def choose_value(self, n: int, what: str) -> int:
        """Uniform."""
        return self.rng.randrange(n)

    def end_run(self, sim: Simulation) -> None:
        """Learn how many preemption points a run has."""
        self.longest = max(self.longest, self._step)

    def fresh(self) -> PCT:
        """The same strategy from the start."""
        return PCT(self.seed, self.depth, self.steps)

    def __repr__(self) -> str:
        return f"PCT(seed={self.seed}, depth={self.depth})"


class Exhaustive(Strategy):
    """Every schedule with at most ``preemption_bound`` preemptions, depth first.

    A preemption is taking a thread other than the running one at a switch
    point where the running thread could go on; choices where the running
    thread blocks, finishes or yields, and data choices, are all explored
    and cost nothing.  :attr:`exhausted` becomes true when the last schedule
    has been run.

    Args:
        preemption_bound: the bound (``None``: unbounded).

    Raises:
        ScheduleDivergence: (during a run) the scenario met different
            choice points when re-run with the same choices: it is not
            deterministic.
    """

    def __init__(self, preemption_bound: int | None = 2) -> None:
        self.preemption_bound = check_bound("preemption_bound", preemption_bound)
        self.exhausted = False
        #: Some schedule was left out because of the bound.
        self.bound_hit = False
        # One entry per choice point of the current path: [index, options,
        # cost of a non-default index (0 or 1), preemptions before it].
        self._stack: list[list[int]] = []
        self._pos = 0
        self._preemptions = 0
        self._started = False

    def start_run(self) -> bool:
        """Advance to the next schedule (backtracking); False once all are done."""
        self._pos = 0
        self._preemptions = 0
        if not self._started:
            self._started = True
            return True
        bound = self.preemption_bound
        stack = self._stack
        while stack:
            entry = stack[-1]
            nxt = entry[0] + 1
            if nxt < entry[1]:
                if bound is None or entry[3] + entry[2] <= bound:
                    entry[0] = nxt
                    return True
                self.bound_hit = True
            stack.pop()
        self.exhausted = True
        return False

    def _choose(self, n: int, cost: int) -> int:
        stack = self._stack
        pos = self._pos
        self._pos = pos + 1
        if pos < len(stack):
            entry = stack[pos]
            if entry[1] != n or entry[2] != cost:
                raise ScheduleDivergence(
                    f"choice point {pos} had {entry[1]} options before and {n} now: "
                    "the scenario is not deterministic"
                )
            idx = entry[0]
        else:
            stack.append([0, n, cost, self._preemptions])
            idx = 0
        if idx and cost:
            self._preemptions += 1
        return idx

    def choose_thread(self, options: list[SimThread], preemptive: bool) -> int:
        """The next untried option of this choice point."""
        return self._choose(len(options), 1 if preemptive else 0)

    def choose_value(self, n: int, what: str) -> int:
        """The next untried value of this choice point."""
        return self._choose(n, 0)

    def fresh(self) -> Exhaustive:
        """The same search from the start."""
        return Exhaustive(self.preemption_bound)

    def __repr__(self) -> str:
        return f"Exhaustive(preemption_bound={self.preemption_bound})"


class Delegate(Strategy):
    """A strategy that hands each run to another one, ``inner``.

    Every choice, step and end of run goes to ``inner``; a subclass decides
    which strategy that is for each run (in ``start_run``).
    """

    inner: Strategy

    def begin(self, sim: Simulation) -> None:
        """Passed on to this run's strategy."""
        self.inner.begin(sim)

    def step(
        self,
        thread: SimThread,
        reads: set[Any],
        writes: set[Any],
        wild: bool,
        atomic: bool = False,
    ) -> None:
        """Passed on to this run's strategy."""
        self.inner.step(thread, reads, writes, wild, atomic)

    def choose_thread(self, options: list[SimThread], preemptive: bool) -> int:
        """Passed on to this run's strategy."""
        return self.inner.choose_thread(options, preemptive)

    def choose_value(self, n: int, what: str) -> int:
        """Passed on to this run's strategy."""
        return self.inner.choose_value(n, what)

    def end_run(self, sim: Simulation) -> None:
        """Passed on to this run's strategy."""
        self.inner.end_run(sim)

    def check_complete(self, sim: Simulation) -> None:
        """Passed on to this run's strategy."""
        self.inner.check_complete(sim)

    def describe(self) -> str:
        """This run's strategy, for failure reports."""
        fn = getattr(self.inner, "describe", None)
        return str(fn()) if callable(fn) else repr(self.inner)


class IterativeBounding(Delegate):
    """Every schedule with at most 0 preemptions, then at most 1, then 2, ...

    CHESS's iterative context bounding (Musuvathi and Qadeer, PLDI 2007):
    bugs that need few preemptions, the most common kind, are found
    first, and the search goes on as long as the run or time budget lasts.
    Each bound is a complete search of its own (runs of a lower bound are
    run again), with partial-order reduction (:class:`~pvnsim.sched.dpor.DPOR`)
    or without it (:class:`Exhaustive`).  The search is exhausted when a
    bound was searched without any choice being cut by it, or after
    ``max_bound``.

    Args:
        max_bound: the last bound to search (``None``: no limit).
        por: reduce each bound's search with DPOR (default) rather than
            enumerate every schedule.

    Attributes:
        bound: the bound being searched.
        runs_per_bound: runs made at each bound finished so far.
        classes: with ``por``, the classes of equivalent runs explored at
            any bound so far.
        exhausted: nothing is left to search.
    """

    def __init__(self, max_bound: int | None = None, *, por: bool = True) -> None:
        self.max_bound = check_bound("max_bound", max_bound)
        self.por = bool(por)
        self.footprints = self.por
        self.bound = 0
        self.exhausted = False
        self.runs_per_bound: list[int] = []
        self.seen: set[int] = set()
        self._runs = 0
        self.inner: DPOR | Exhaustive = self._make(0)

    def _make(self, bound: int) -> DPOR | Exhaustive:
        return DPOR(bound) if self.por else Exhaustive(bound)

    def start_run(self) -> bool:
        """The next run of this bound, or the first of the next bound."""
        if self.exhausted:
            return False
        while not self.inner.start_run():
            self.runs_per_bound.append(self._runs)
            self._runs = 0
            last = self.max_bound is not None and self.bound >= self.max_bound
            if last or not self.inner.bound_hit:
                self.exhausted = True
                return False
            self.bound += 1
            self.inner = self._make(self.bound)
        self._runs += 1
        return True

    def end_run(self, sim: Simulation) -> None:
        """Passed on to the current bound's search (and its classes counted)."""
        inner = self.inner
        inner.end_run(sim)
        if isinstance(inner, DPOR):
            self.seen |= inner.seen

    @property
    def classes(self) -> int | None:
        """The classes of equivalent runs explored (None without ``por``)."""
        return len(self.seen) if self.por else None

    def describe(self) -> str:
        """Which bound, for failure reports."""
        return f"{'DPOR' if self.por else 'Exhaustive'} at preemption bound {self.bound}"

    def fresh(self) -> IterativeBounding:
        """The same search from the start."""
        return IterativeBounding(self.max_bound, por=self.por)

    def __repr__(self) -> str:
        return f"IterativeBounding(max_bound={self.max_bound}, por={self.por})"


class Alternate(Delegate):
    """Take turns: run 1 from the first strategy, run 2 from the second, ...

    A systematic search and a random one together find the bugs either finds
    quickly (docs/concurrency.md compares them on the seeded bugs), and the
    exploration is *exhausted* as soon as one member that searches every
    schedule (one with an ``exhausted`` attribute, such as
    :class:`IterativeBounding`) has finished: nothing is left to find.  A
    member that has nothing left to try but is not such a search just drops
    out.

    Args:
        strategies: the members, in turn order.

    Raises:
        UsageError: no member, or one that is not a Strategy.
    """

    def __init__(self, *strategies: Strategy) -> None:
        if not strategies or not all(isinstance(m, Strategy) for m in strategies):
            raise UsageError(f"Alternate needs one or more strategies, not {strategies!r}")
        self.members = list(strategies)
        self.exhausted = False
        self.footprints = strategies[0].footprints
        self._live = list(strategies)
        self._turn = 0
        self.inner = strategies[0]

    def start_run(self) -> bool:
        """The next member's next run."""
        while self._live and not self.exhausted:
            member = self._live[self._turn % len(self._live)]
            if member.start_run():
                self._turn += 1
                self.inner = member
                self.footprints = member.footprints
                return True
            if getattr(member, "exhausted", False):
                self.exhausted = True
            else:
                self._live.remove(member)
        return False

    @property
    def classes(self) -> int | None:
        """The classes the first member that counts them has explored."""
        for member in self.members:
            found = getattr(member, "classes", None)
            if found is not None:
                return int(found)
        return None

    def fresh(self) -> Alternate:
        """The same members, each from the start."""
        return Alternate(*(m.fresh() for m in self.members))

    def __repr__(self) -> str:
        return f"Alternate({', '.join(repr(m) for m in self.members)})"


class Replay(Strategy):
    """Make exactly the choices of ``schedule``, then the defaults.

    Args:
        schedule: a :class:`Schedule`, its text form, or a list of ints.
        strict: a recorded index that does not exist at its choice point,
            or choices left over when the run ends, raise
            :class:`ScheduleDivergence`.  Not strict (for Hypothesis), an
            index is taken modulo the number of options.
    """

    def __init__(self, schedule: Schedule | str | Sequence[int], *, strict: bool = True) -> None:
        if isinstance(schedule, (Schedule, str)):
            self.schedule = Schedule.parse(schedule)
        else:
            self.schedule = Schedule(tuple(schedule))
        self.strict = strict
        self._choices = self.schedule.choices
        self._pos = 0
        self._runs = 0

    def start_run(self) -> bool:
        """One run only."""
        self._runs += 1
        self._pos = 0
        return self._runs == 1

    def _choose(self, n: int) -> int:
        pos = self._pos
        self._pos = pos + 1
        if pos >= len(self._choices):
            return 0
        value = self._choices[pos]
        if value >= n:
            if self.strict:
                raise ScheduleDivergence(
                    f"schedule {self.schedule}: choice {pos} is option {value} "
                    f"but only {n} options exist there"
                )
            value %= n
        return value

    def choose_thread(self, options: list[SimThread], preemptive: bool) -> int:
        """The recorded option."""
        return self._choose(len(options))

    def choose_value(self, n: int, what: str) -> int:
        """The recorded value."""
        return self._choose(n)

    def check_complete(self, sim: Simulation) -> None:
        """Strict: the run must have used every recorded choice."""
        if self.strict and self._pos < len(self._choices):
            raise ScheduleDivergence(
                f"schedule {self.schedule}: the run ended after {self._pos} of "
                f"{len(self._choices)} choices"
            )

    def fresh(self) -> Replay:
        """The same replay from the start."""
        return Replay(self.schedule, strict=self.strict)

    def __repr__(self) -> str:
        return f"Replay({str(self.schedule)!r})"
