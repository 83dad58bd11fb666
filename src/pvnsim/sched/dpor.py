"""Partial-order reduction: one run per class of equivalent interleavings.

Theory of operation
-------------------
Two runs are *equivalent* when one can be turned into the other by swapping
adjacent independent steps (steps of different threads whose footprints do
not conflict, see :mod:`pvnsim.sched.footprint`): they execute the same
steps, and every pair of dependent steps in the same order, so they end in
the same state and fail in the same way.  :class:`DPOR` explores one run
of every such class (a Mazurkiewicz trace) with *source-set dynamic
partial-order reduction and sleep sets* (Abdulla, Aronis, Jonsson and
Sagonas, "Optimal dynamic partial order reduction", POPL 2014, Algorithm
1), stateless: every run is re-executed from the start, replaying the
choices of the path explored so far up to the *node* (choice point) where it
tries something new.

After each run it looks for *races*: a step ``e`` and a later step ``e'`` of
another thread that conflict and are not ordered by anything else.  For
each race the run ``notdep(e).e'`` (the steps after ``e`` that do not depend
on it, then ``e'``) shows another class; the threads that can start it are
its *initials*, and unless one of them is already among the node's
*backtrack* set (the threads tried or to be tried at the node before
``e``), one is added.  A node's *sleep set* holds threads whose next step
has already been explored from an equivalent state: they are not chosen
until a conflicting step wakes them, and a run in which only sleeping
threads could go on is abandoned (:class:`~pvnsim.sched.core.Pruned`, a
"sleep-set blocked" run).  So no two complete runs are equivalent, and
every class of complete runs is reached.

Details of this simulation:

* Every switch point is a step boundary (taken or not), so a thread's
  steps do not depend on the other threads.  Empty steps are ignored.
* At a CPU-only switch point only another CPU may run: for the other
  kernel threads the running thread's step goes on, so what a sleep set
  remembers of a thread's next step runs up to a switch point they may
  cross.
* Data choices (``sim.choose``, the other CPU's pick) are nodes whose
  every value is explored; they do not touch the sleep set.
* A run ends when every thread but the daemons is done (or one fails):
  the next step of each thread it ended without is added at the end of
  the run for the race analysis only (its footprint from the thread's
  ``probe``, else conflicting with everything), so that it is tried
  earlier, and the thread is tried at the last node where it could run.
* A thread that cannot be chosen at the node before ``e`` (it waits there,
  or the running thread is inside a CPU-only section) is added at the
  latest earlier node where it can be.
* The interrupt pseudo-thread (``interrupts="any"``) is a thread whose
  steps are the events it fires, in order; queueing an event and moving
  time write ``"clock"``.
* With ``preemption_bound`` a node takes only choices within the bound
  (a preemption is taking another thread at a switch point where the
  running thread could go on), and, as in Coons, Musuvathi and McKinley's
  bounded POR (OOPSLA 2013), every backtrack point also goes to the node
  where the preempted thread was last switched in, where it costs less.

Soundness rests on the footprints: a step that reads shared state the
footprints do not see (a racy read of a field outside the primitives and
not under the lock the C uses) can make two "independent" steps matter.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import Any

from pvnsim.errors import ScheduleDivergence, UsageError
from pvnsim.sched.core import Pruned, SimThread, Simulation, Strategy
from pvnsim.sched.footprint import conflict

__all__ = ["DPOR", "check_bound", "dependencies", "run_signature"]

Keys = frozenset[Hashable] | set[Hashable]
Step = tuple[int, Keys, Keys, bool]  # (tid, reads, writes, wild)


def check_bound(name: str, value: object) -> int | None:
    """``value`` if it is a non-negative int or None (a preemption bound).

    Raises:
        UsageError: anything else, naming ``name``.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UsageError(f"{name} must be a non-negative int or None, not {value!r}")
    return value


class _Node:
    """One choice point of the explored path."""

    __slots__ = (
        "backtrack",
        "chosen",
        "cur",
        "done",
        "explored",
        "kind",
        "last_in",
        "options",
        "preemptions",
        "preemptive",
        "sleep",
    )

    def __init__(
        self,
        kind: str,
        options: list[int],
        preemptive: bool,
        preemptions: int,
        sleep: dict[int, Step],
    ) -> None:
        self.kind = kind  # "thread" or "value"
        self.options = options  # tids (or values 0..n-1)
        self.preemptive = preemptive
        self.cur = options[0] if preemptive else None
        self.preemptions = preemptions  # taken before this node
        # (Preemptive nodes) the node where ``cur`` was last switched in.
        self.last_in = -1
        self.sleep = sleep  # the sleep set on arrival
        self.chosen = -2
        self.backtrack: set[int] = set()
        self.done: set[int] = set()
        # The first step of each explored thread from here (for sleep sets).
        self.explored: dict[int, Step] = {}


class DPOR(Strategy):
    """Source-set dynamic partial-order reduction with sleep sets.

    Args:
        preemption_bound: the most preemptions a run may have (``None``:
            unbounded, every class is explored).

    Attributes:
        runs: runs started.
        classes: the classes of equivalent runs among the complete runs
            (without a bound no two complete runs are equivalent).
        complete: complete runs (not pruned).
        seen: a hash of each class explored (see :func:`run_signature`).
        pruned: runs abandoned because only sleeping threads could go on.
        exhausted: every class (within the bound) has been explored.
        bound_hit: some choice was left out because of the bound (a
            higher bound would explore more).

    Raises:
        ScheduleDivergence: (during a run) a replayed prefix met different
            choice points: the scenario is not deterministic.
    """

    footprints = True

    def __init__(self, preemption_bound: int | None = None) -> None:
        self.preemption_bound = check_bound("preemption_bound", preemption_bound)
        self.runs = 0
        self.complete = 0
        self.seen: set[int] = set()
        self.pruned = 0
        self.exhausted = False
        self.bound_hit = False
        self._nodes: list[_Node] = []
        self._target = -1  # the node where this run tries something new
        self._pos = 0  # nodes passed in this run
        self._preemptions = 0
        self._steps: list[Step] = []
        self._node_of: list[int] = []  # per step: the latest node before it
        self._sleep: dict[int, Step] = {}
        # tid -> (node, reads, writes, wild): a node awaiting the first step
        # of the thread chosen there.
        self._pending: dict[int, tuple[int, Keys, Keys, bool]] = {}
        self._was_pruned = False
        self._replaying = False
        self._fresh = 0  # the first step this run is the first to reach
        self._last_in: dict[int, int] = {}  # tid -> node where it was last switched in

    # -- the run -------------------------------------------------------------

    def start_run(self) -> bool:
        """Pick the deepest node with something left to try; False when none is left."""
        if self.exhausted:
            return False
        if self.runs:
            if not self._backtrack():
                self.exhausted = True
                return False
        self.runs += 1
        self._pos = 0
        self._preemptions = 0
        self._steps = []
        self._node_of = []
        self._sleep = {}
        self._pending = {}
        self._was_pruned = False
        self._replaying = self._target >= 0
        self._fresh = 0
        self._last_in = {}
        return True

    def _backtrack(self) -> bool:
        nodes = self._nodes
        while nodes:
            node = nodes[-1]
            i = len(nodes) - 1
            for c in self._candidates(node):
                node.chosen = c
                node.done.add(c)
                self._target = i
                return True
            nodes.pop()
        self._target = -1
        return False

    def _candidates(self, node: _Node) -> list[int]:
        if node.kind == "value":
            return [v for v in node.options if v not in node.done]
        return [
            t
            for t in node.options
            if t in node.backtrack and t not in node.done and t not in node.sleep
        ]

    def begin(self, sim: Simulation) -> None:
        """Nothing to set up (the run's state was reset by :meth:`start_run`)."""

    def _prune(self) -> None:
        self._was_pruned = True
        raise Pruned

    def _cost(self, node: _Node, tid: int) -> int:
        return 1 if node.preemptive and tid != node.cur else 0

    def _allowed(self, node: _Node, tid: int) -> bool:
        bound = self.preemption_bound
        if bound is None or node.preemptions + self._cost(node, tid) <= bound:
            return True
        self.bound_hit = True
        return False

    def _arrive(self, kind: str, options: list[int], preemptive: bool) -> _Node:
        # The node at this choice point: replayed, or new.
        pos = self._pos
        self._pos = pos + 1
        nodes = self._nodes
        if pos < len(nodes):
            node = nodes[pos]
            if node.kind != kind or node.options != options or node.preemptive != preemptive:
                raise ScheduleDivergence(
                    f"choice point {pos} had options {node.options} before and {options} now: "
                    "the scenario is not deterministic"
                )
            if pos == self._target:
                # Where this run departs from the explored path: races
                # between steps before here were handled by earlier runs.
                self._replaying = False
                self._fresh = len(self._steps)
                if kind == "value":
                    self._sleep = dict(node.sleep)
                else:
                    sleep = dict(node.sleep)
                    for t in node.done:
                        if t != node.chosen and t in node.explored:
                            sleep[t] = node.explored[t]
                    self._sleep = sleep
            return node
        node = _Node(kind, options, preemptive, self._preemptions, dict(self._sleep))
        nodes.append(node)
        if kind == "value":
            node.chosen = 0
            node.done.add(0)
            return node
        for t in options:
            if t not in self._sleep and self._allowed(node, t):
                node.chosen = t
                node.backtrack.add(t)
                node.done.add(t)
                return node
        nodes.pop()
        self._pos -= 1
        self._prune()
        raise AssertionError("unreachable")  # pragma: no cover

    def choose_thread(self, options: list[SimThread], preemptive: bool) -> int:
        """Replay the path, take the new choice at the target node, then any
        thread that is not asleep (the running one first)."""
        tids = [t.tid for t in options]
        node = self._arrive("thread", tids, preemptive)
        chosen = node.chosen
        self._preemptions += self._cost(node, chosen)
        pos = self._pos - 1
        if preemptive:
            # (For _conservative; the same in every run through this node.)
            node.last_in = self._last_in.get(node.cur, -1)  # type: ignore[arg-type]
            if chosen != node.cur:
                self._last_in[chosen] = pos
        else:
            self._last_in[chosen] = pos
        if not self._replaying and chosen not in node.explored:
            self._pending[chosen] = (self._pos - 1, frozenset(), frozenset(), False)
        return tids.index(chosen)

    def choose_value(self, n: int, what: str) -> int:
        """Every value of a data choice, in turn."""
        node = self._arrive("value", list(range(n)), False)
        return node.chosen

    def step(
        self,
        thread: SimThread,
        reads: set[Any],
        writes: set[Any],
        wild: bool,
        atomic: bool = False,
    ) -> None:
        """Record the step; abandon the run if a sleeping thread took it."""
        tid = thread.tid
        empty = not (reads or writes or wild)
        if not self._replaying:
            pending = self._pending.get(tid)
            if pending is not None:
                # The first step of a thread chosen at a node, through the
                # CPU-only switch points no other kernel thread may cross:
                # what a sleep set remembers of it.
                at, r, w, x = pending
                r = r | reads
                w = w | writes
                x = x or wild
                if atomic or not (r or w or x):
                    # (Empty steps are no steps: it has not really moved.)
                    self._pending[tid] = (at, r, w, x)
                else:
                    del self._pending[tid]
                    self._nodes[at].explored[tid] = (tid, r, w, x)
            if empty:
                return
            sleep = self._sleep
            if tid in sleep:
                self._prune()
            for q in [
                q for q, ev in sleep.items() if conflict(ev[1], ev[2], ev[3], reads, writes, wild)
            ]:
                del sleep[q]
        elif empty:
            return
        self._steps.append((tid, reads, writes, wild))
        self._node_of.append(self._pos - 1)

    def end_run(self, sim: Simulation) -> None:
        """Count the run; add backtrack points for the races it shows."""
        complete = not self._was_pruned
        if not complete:
            self.pruned += 1
        else:
            self.complete += 1
            # The steps the run ended without (daemons, or every thread of a
            # run that failed) race with what ran, as if they came last:
            # so they are tried earlier.
            for t, reads, writes, wild in sim.leftover:
                if reads or writes or wild:
                    self._steps.append((t.tid, reads, writes, wild))
                    self._node_of.append(self._pos - 1)
        if self._pos < len(self._nodes):
            # The run ended (failed) before the end of the replayed path.
            del self._nodes[self._pos :]
        if complete:
            for t, reads, writes, wild in sim.leftover:
                if reads or writes or wild:
                    self._as_late_as_possible(t.tid)
            self.seen.add(hash(self._races(signature=len(self._steps) - len(sim.leftover))))
        else:
            self._races()

    def _as_late_as_possible(self, tid: int) -> None:
        # A thread the run ended without also runs at the last node where
        # it could have (after every step, conflicting or not).
        nodes = self._nodes
        for m in range(len(nodes) - 1, -1, -1):
            node = nodes[m]
            if node.kind == "thread" and tid in node.options:
                if tid not in node.backtrack and self._allowed(node, tid):
                    node.backtrack.add(tid)
                    self._conservative(m, tid)
                return

    # -- races ------------------------------------------------------------------

    def _races(self, signature: int = 0) -> frozenset[tuple[Any, ...]]:
        # Happens-before (vector clocks of step indices, one slot per
        # thread) and the races of the steps this run was the first to
        # reach; with ``signature`` > 0, also the signature of the run's
        # first ``signature`` steps.
        steps = self._steps
        fresh = self._fresh
        slot: dict[int, int] = {}
        vcs: list[list[int]] = []
        last_of: dict[int, int] = {}
        items = []
        names = _name_steps(steps) if signature else []
        for j, deps in dependencies(steps):
            tid = steps[j][0]
            s = slot.setdefault(tid, len(slot))
            prev = last_of.get(tid)
            vc = list(vcs[prev]) if prev is not None else []
            vc.extend([-1] * (len(slot) - len(vc)))
            for c in deps:
                for i, x in enumerate(vcs[c]):
                    if x > vc[i]:
                        vc[i] = x
            vc[s] = j
            vcs.append(vc)
            others = [c for c in deps if steps[c][0] != tid]
            if j >= fresh and others:
                self._reverse(j, s, prev, others, slot, vcs)
            if j < signature:
                items.append(_item(steps, names, j, others))
            last_of[tid] = j
        return frozenset(items)

    @staticmethod
    def _hb(vcs: list[list[int]], c: int, cslot: int, d: int) -> bool:
        # Step c happens before step d (c < d).
        vc = vcs[d]
        return cslot < len(vc) and vc[cslot] >= c

    def _reverse(
        self,
        j: int,
        s: int,
        prev: int | None,
        deps: list[int],
        slot: dict[int, int],
        vcs: list[list[int]],
    ) -> None:
        steps = self._steps
        # Races: conflicting steps of other threads not already ordered
        # before j by j's own thread or through another of them.
        cands = [c for c in deps if prev is None or not self._hb(vcs, c, slot[steps[c][0]], prev)]
        for c in cands:
            cs = slot[steps[c][0]]
            if any(d != c and d > c and self._hb(vcs, c, cs, d) for d in cands):
                continue
            self._add_backtrack(c, j, cs, slot, vcs)

    def _initials(
        self, c: int, j: int, cs: int, slot: dict[int, int], vcs: list[list[int]]
    ) -> list[int]:
        # The threads that can start notdep(c).j: in order, each thread's
        # first step of the sequence that nothing earlier in it precedes.
        steps = self._steps
        first: dict[int, int] = {}  # slot -> its first step in the sequence
        out: list[int] = []
        for i in [*range(c + 1, j), j]:
            if i != j and self._hb(vcs, c, cs, i):
                continue  # depends on c: not in the sequence
            tid = steps[i][0]
            si = slot[tid]
            if si in first:
                continue
            # (j depends on c, the race; only the sequence's steps count.)
            ok = all(not self._hb(vcs, f, fs, i) for fs, f in first.items())
            first[si] = i
            if ok:
                out.append(tid)
        return out

    def _add_backtrack(
        self, c: int, j: int, cs: int, slot: dict[int, int], vcs: list[list[int]]
    ) -> None:
        initials = self._initials(c, j, cs, slot, vcs)
        if not initials:
            return
        want = self._steps[j][0]
        order = sorted(initials, key=lambda t: (t != want, t))
        nodes = self._nodes
        m = self._node_of[c]
        while m >= 0:
            node = nodes[m]
            if node.kind == "thread":
                if any(t in node.backtrack for t in initials):
                    return
                for t in order:
                    if t in node.options and self._allowed(node, t):
                        node.backtrack.add(t)
                        self._conservative(m, t)
                        return
                if self.preemption_bound is not None:
                    self._conservative(m, order[0])
            m -= 1

    def _conservative(self, m: int, tid: int) -> None:
        # Bounded search: also try tid where the running thread of node m
        # was last switched in (a cheaper place to switch to tid).
        if self.preemption_bound is None:
            return
        nodes = self._nodes
        node = nodes[m]
        if not node.preemptive or tid == node.cur:
            return
        # (Found once, on arrival: a scan here made long runs quadratic.)
        i = node.last_in
        if i >= 0:
            up = nodes[i]
            if tid in up.options and tid not in up.backtrack and self._allowed(up, tid):
                up.backtrack.add(tid)

    @property
    def classes(self) -> int:
        """The classes of equivalent runs explored so far."""
        return len(self.seen)

    def fresh(self) -> DPOR:
        """The same search from the start."""
        return DPOR(self.preemption_bound)

    def __repr__(self) -> str:
        return f"DPOR(preemption_bound={self.preemption_bound})"


def dependencies(steps: list[Step]) -> Iterator[tuple[int, set[int]]]:
    """For each step, in order, the earlier steps it immediately depends on.

    A step depends on the last step that wrote a key it reads or writes,
    and on the steps that read a key it writes since that key was last
    written (their own predecessors follow by transitivity); a wild step
    depends on the last step of every thread, and every step on the last
    wild one.
    """
    last_w: dict[Hashable, int] = {}
    readers: dict[Hashable, list[int]] = {}
    last_of: dict[int, int] = {}
    last_wild = -1
    for j, (tid, reads, writes, wild) in enumerate(steps):
        deps: set[int] = set()
        if wild:
            deps.update(last_of.values())
        else:
            if last_wild >= 0:
                deps.add(last_wild)
            for key in reads:
                w = last_w.get(key)
                if w is not None:
                    deps.add(w)
            for key in writes:
                w = last_w.get(key)
                if w is not None:
                    deps.add(w)
                rs = readers.get(key)
                if rs:
                    deps.update(rs)
        yield j, deps
        for key in reads:
            readers.setdefault(key, []).append(j)
        for key in writes:
            last_w[key] = j
            readers[key] = []
        if wild:
            last_wild = j
        last_of[tid] = j


def _item(
    steps: list[Step], names: list[tuple[int, int]], j: int, others: list[int]
) -> tuple[Any, ...]:
    # A step in a run's signature: its name, footprint, and the names of the
    # steps of other threads it depends on (``names``: see _name_steps).
    _, reads, writes, wild = steps[j]
    return (
        names[j],
        frozenset(reads),
        frozenset(writes),
        wild,
        frozenset(names[d] for d in others),
    )


def _name_steps(steps: list[Step]) -> list[tuple[int, int]]:
    # Each step's name: its thread and its index among that thread's steps
    # (the same in every run of the class).
    count: dict[int, int] = {}
    names = []
    for tid, *_ in steps:
        idx = count.get(tid, 0)
        count[tid] = idx + 1
        names.append((tid, idx))
    return names


def run_signature(steps: list[Step]) -> frozenset[tuple[Any, ...]]:
    """What identifies a run's class of equivalent runs.

    Each step is named by its thread and its index among that thread's
    steps; the signature holds, for every step, its footprint and the steps
    of other threads it immediately depends on (:func:`dependencies`).  Two
    runs are equivalent exactly when their signatures are equal.
    """
    names = _name_steps(steps)
    return frozenset(
        _item(steps, names, j, [d for d in deps if steps[d][0] != steps[j][0]])
        for j, deps in dependencies(steps)
    )
