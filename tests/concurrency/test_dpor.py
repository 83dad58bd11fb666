"""Partial-order reduction (DPOR) against the naive exhaustive search.

The differential test: on small scenarios DPOR must reach exactly the final
states and exactly the failures that enumerating every schedule reaches, in
fewer runs, and explore each class of equivalent runs once.  A class is
identified by :func:`pvnsim.sched.dpor.run_signature` (every step's
footprint and the steps it depends on); ``explore(..., classes=True)``
counts them.  The scenarios cover what the reduction must handle: blocking
on page locks and mutexes, the marker walk against a destroyer and against
a page creator, the other CPU (data choices, CPU-only switch points), a
disk completion taken early as an interrupt (``interrupts="any"``), three
threads, and a preemption bound (bounded DPOR must cover every class the
bounded naive search reaches).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pvnsim import Kernel, make_page, pvn_io_done, pvn_vplist_dirty, pvn_write_done
from pvnsim.concurrency import DPOR, Exhaustive, Run, explore, other_cpu
from pvnsim.flags import B_WRITE, P_MOD, PG_EXCL, PG_WAIT, SE_SHARED
from pvnsim.vm import page_create_va, page_lookup, page_unlock

from .broken_walk import broken_vplist_dirty
from .walk_scenario import WalkScenario

ROOMY: dict[str, Any] = dict(
    lotsfree=0, desfree=0, minfree=0, throttlefree=0, pageout_reserve=0, pages_before_pager=0
)


class Outcomes:
    """What an exploration reached: final states, failures, runs, classes."""

    def __init__(self, setup: Callable[[Run], Any], check: Callable[[Run], None] | None) -> None:
        self.setup = setup
        self.inner_check = check
        self.states: set[Any] = set()

    def check(self, run: Run) -> None:
        if self.inner_check is not None:
            self.inner_check(run)
        self.states.add(
            (
                tuple(k.snapshot() for k in run.kernels),
                tuple(sorted((n, repr(r)) for n, r in run.results.items())),
            )
        )

    def explore(self, strategy: Any, **kw: Any) -> tuple[set[Any], set[str], Any]:
        self.states = set()
        result = explore(
            self.setup,
            self.check,
            strategy=strategy,
            max_runs=100_000,
            stop_at_first=False,
            classes=True,
            **kw,
        )
        assert result.exhausted
        failures = {f"{type(f.error).__name__}: {f.error}" for f in result.failures}
        return set(self.states), failures, result


def walk(pages: str, ops: list[tuple[str, int]], walker: Any = None) -> Outcomes:
    sc = WalkScenario(pages, 0, ops, **({} if walker is None else {"walk": walker}))

    def check(run: Run) -> None:
        sc.check(run)

    def setup(run: Run) -> Any:
        run.sim.add_hook(lambda kind, what: sc.at_switch(run))
        return sc.setup(run)

    return Outcomes(setup, check)


def writeback_with_other_cpu(budget: int) -> Outcomes:
    """A write-back of two dirty mapped pages while another CPU touches them."""

    def setup(run: Run) -> None:
        k = run.attach(Kernel(total_pages=64))
        vp = k.vnode("f")
        pages = [make_page(vp, i * 4096, nrm=P_MOD, maps=["-"]) for i in range(2)]

        def put(v: Any, p: Any, offp: Any, lenp: Any, fl: int, cred: Any) -> int:
            pvn_write_done(p, B_WRITE | fl)
            return 0

        run.spawn(pvn_vplist_dirty, vp, 0, put, 0, None, name="walker")
        other_cpu(run, pages=pages, bits=("mod",), budget=budget)

    return Outcomes(setup, None)


def other_cpu_outlives_two_threads() -> Outcomes:
    """A write-back of one dirty mapped page and a thread that looks up a
    page that does not exist, while another CPU may store into the page.

    The run ends when the second of the two threads ends, so a store the
    other CPU could still make after the first has ended happens in some
    runs and not in others.
    """

    def setup(run: Run) -> None:
        k = run.attach(Kernel(total_pages=64))
        vp = k.vnode("f")
        pages = [make_page(vp, 0, nrm=P_MOD, maps=["-"])]

        def put(v: Any, p: Any, offp: Any, lenp: Any, fl: int, cred: Any) -> int:
            pvn_write_done(p, B_WRITE | fl)
            return 0

        def looker() -> None:
            assert page_lookup(vp, 4096, SE_SHARED) is None

        run.spawn(pvn_vplist_dirty, vp, 0, put, 0, None, name="walker")
        run.spawn(looker, name="looker")
        other_cpu(run, pages=pages, bits=("mod",), budget=1)

    return Outcomes(setup, None)


def read_with_completion_interrupt() -> Outcomes:
    """A reader creates a page and starts its read; the disk completes it in
    interrupt context (possibly early, interrupts="any") while another thread
    looks the page up and waits for it."""

    def setup(run: Run) -> None:
        k = run.attach(Kernel(total_pages=16, **ROOMY))
        vp = k.vnode("f")
        sim = run.sim

        def reader() -> None:
            pp = page_create_va(vp, 0, 4096, PG_EXCL | PG_WAIT, None, 0)
            assert pp is not None
            sim.at(sim.now + 1000, lambda: pvn_io_done(pp))
            sim.cpu(2000, "reader works")

        def looker() -> None:
            pp = page_lookup(vp, 0, SE_SHARED)
            if pp is not None:
                page_unlock(pp)

        run.spawn(reader, name="reader")
        run.spawn(looker, name="looker")

    return Outcomes(setup, None)


CASES = [
    pytest.param(lambda: walk("cdd", [("destroy", 1)]), {}, id="walk-destroy"),
    pytest.param(lambda: walk("d", [("lock", 0)]), {}, id="walk-lock"),
    pytest.param(lambda: walk("d", [("head", 1)]), {}, id="walk-create"),
    pytest.param(lambda: writeback_with_other_cpu(2), {}, id="other-cpu"),
    pytest.param(read_with_completion_interrupt, {"interrupts": "any"}, id="interrupt"),
]


@pytest.mark.parametrize(("make", "kw"), CASES)
def test_dpor_reaches_exactly_what_the_naive_search_reaches(make: Any, kw: dict[str, Any]) -> None:
    """Same final states, same failures, same classes; fewer runs; no class twice."""
    scenario = make()
    states, failures, naive = scenario.explore(Exhaustive(preemption_bound=None), **kw)
    dstates, dfailures, dpor = scenario.explore(DPOR(), **kw)
    assert dstates == states
    assert dfailures == failures
    assert dpor.classes == naive.classes
    # Every complete run is a class of its own: the count of distinct
    # signatures equals the strategy's own count of complete runs.
    assert dpor.strategy.complete == dpor.classes  # type: ignore[union-attr]
    assert dpor.runs < naive.runs


def test_dpor_reaches_every_final_state_when_the_other_cpu_outlives_the_threads() -> None:
    """Same final states and failures when the run may end before the other CPU's store.

    Ending the run and the other CPU's last store are not dependent steps
    for the reduction, so a run in which the looker ends before that store
    (which then never happens) is not a class of its own: DPOR explores
    fewer classes than the naive search counts (docs/concurrency.md,
    Limits), but every final state is one it reaches.
    """
    scenario = other_cpu_outlives_two_threads()
    states, failures, naive = scenario.explore(Exhaustive(preemption_bound=None))
    dstates, dfailures, dpor = scenario.explore(DPOR())
    assert dstates == states
    assert len(states) > 1  # (the store happens in some runs, not in others)
    assert dfailures == failures == set()
    assert dpor.runs * 10 < naive.runs


def test_dpor_finds_the_failures_of_the_broken_walk() -> None:
    """A walk without markers: the same failures as the naive search, far fewer runs."""
    scenario = walk("cdd", [("destroy", 1)], broken_vplist_dirty)
    _, failures, naive = scenario.explore(Exhaustive(preemption_bound=None))
    _, dfailures, dpor = scenario.explore(DPOR())
    assert failures and dfailures == failures
    assert all("pp->p_vnode == vp" in f for f in failures)
    assert dpor.runs * 10 < naive.runs


@pytest.mark.parametrize("bound", [0, 1, 2])
def test_bounded_dpor_reaches_every_final_state_of_the_bounded_naive_search(bound: int) -> None:
    """With a preemption bound DPOR still reaches every final state the naive
    search reaches within that bound (three threads, one creating pages).

    (Bound 0 leaves only the order in which threads start and follow each
    other when one ends or blocks: every such order here is a class.)
    """
    scenario = walk("dd", [("destroy", 0), ("head", 2)])
    states, failures, naive = scenario.explore(Exhaustive(preemption_bound=bound))
    dstates, dfailures, dpor = scenario.explore(DPOR(preemption_bound=bound))
    assert states <= dstates
    assert dfailures == failures
    assert dpor.runs <= naive.runs if bound == 0 else dpor.runs < naive.runs


def test_walker_and_destroyer_on_six_pages_bound_two_in_at_most_80_runs() -> None:
    """The figure of the issue: the naive search makes over 200 runs for 73 classes."""
    sc = WalkScenario("ccdddd", 0, [("destroy", 3)])
    naive = explore(
        sc.setup,
        sc.check,
        at_switch=sc.at_switch,
        strategy=Exhaustive(preemption_bound=2),
        max_runs=10_000,
        classes=True,
    )
    dpor = explore(
        sc.setup,
        sc.check,
        at_switch=sc.at_switch,
        strategy=DPOR(preemption_bound=2),
        max_runs=10_000,
    )
    assert naive.ok and dpor.ok and naive.exhausted and dpor.exhausted
    assert naive.runs > 200
    assert dpor.classes == naive.classes
    assert dpor.runs <= 80


def test_dpor_refuses_a_bad_bound() -> None:
    """The bound is a non-negative int or None."""
    from pvnsim.errors import UsageError

    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(UsageError, match="preemption_bound"):
            DPOR(preemption_bound=bad)  # type: ignore[arg-type]
