"""The user-facing API of pvnsim.concurrency: runs, validation modes, reports, bad input."""

from __future__ import annotations

from typing import Any

import pytest

from pvnsim import DeadlockError, InvariantViolation, Kernel, make_page
from pvnsim.concurrency import (
    PCT,
    Alternate,
    Exhaustive,
    IterativeBounding,
    RandomWalk,
    Run,
    explore,
    replay,
)
from pvnsim.errors import ScheduleDivergence, StepLimitExceeded, UsageError
from pvnsim.flags import SE_EXCL
from pvnsim.vm import page_lookup, page_unlock
from pvnsim.vm.mutex import mutex_enter, mutex_exit


def corrupting_setup(run: Run) -> Kernel:
    """One thread breaks freemem across a yield point and then repairs it."""
    k = run.attach(Kernel(total_pages=8))

    def sloppy() -> None:
        k.freemem += 1
        k.yield_point("inconsistent")
        k.freemem -= 1

    run.spawn(sloppy, name="sloppy")
    return k


def test_validate_true_catches_an_invariant_broken_between_switch_points() -> None:
    """validate=True checks at every switch point; 'end' and False only see the repaired state."""
    result = explore(corrupting_setup, strategy=Exhaustive(0))
    assert result.failure is not None
    assert isinstance(result.failure.error, InvariantViolation)
    assert "freemem" in str(result.failure.error)
    assert explore(corrupting_setup, validate="end", strategy=Exhaustive(0)).ok
    assert explore(corrupting_setup, validate=False, strategy=Exhaustive(0)).ok


def test_at_switch_runs_in_the_running_thread_at_every_switch_point() -> None:
    """at_switch(run) sees the simulated thread that reached the switch point."""
    seen: list[str] = []

    def setup(run: Run) -> None:
        k = run.attach(Kernel(total_pages=8))
        run.spawn(lambda: k.yield_point("a"), name="t1")
        run.spawn(lambda: k.yield_point("b"), name="t2")

    replay(setup, at_switch=lambda run: seen.append(run.kernel.curthread))
    assert seen == ["t1", "t2"]


def test_the_kernel_is_detached_after_every_run_even_a_failing_one() -> None:
    """k.sched is None again once the run ends, and check() runs single-threaded."""
    kernels: list[Kernel] = []

    def setup(run: Run) -> None:
        k = run.attach(Kernel(total_pages=8))
        kernels.append(k)

        def boom() -> None:
            raise RuntimeError("boom")

        run.spawn(boom, name="b")

    with pytest.raises(RuntimeError, match="boom") as info:
        replay(setup)
    assert kernels[0].sched is None
    # The failure report rides along as a note: schedule string included.
    assert any("schedule: ''" in note for note in info.value.__notes__)

    def check(run: Run) -> None:
        assert run.kernel.sched is None
        assert run.kernel.curthread == "main"

    def quiet(run: Run) -> None:
        run.attach(Kernel(total_pages=8))
        run.spawn(lambda: 7, name="seven")

    run = replay(quiet, check)
    assert run.results == {"seven": 7}
    assert run.thread("seven").result == 7


def test_abba_deadlock_names_both_threads_locks_and_holders() -> None:
    """A takes vphm then the page; B the page then vphm: some schedule deadlocks."""

    def setup(run: Run) -> None:
        k = run.attach(Kernel(total_pages=16))
        vp = k.vnode("f")
        make_page(vp, 0)

        def a() -> None:
            mutex_enter(vp.v_vphm)
            page_lookup(vp, 0, SE_EXCL)
            mutex_exit(vp.v_vphm)

        def b() -> None:
            page_lookup(vp, 0, SE_EXCL)
            mutex_enter(vp.v_vphm)
            mutex_exit(vp.v_vphm)

        run.spawn(a, name="A")
        run.spawn(b, name="B")

    result = explore(setup, strategy=Exhaustive(2), stop_at_first=False)
    reports = {
        "; ".join(str(w) for w in f.error.waits)
        for f in result.failures
        if isinstance(f.error, DeadlockError)
    }
    assert (
        "A waits for page lock of f@0x0, held by B; B waits for mutex vphm(f), held by A" in reports
    )


def test_explore_defaults_to_a_bounded_search_taking_turns_with_a_random_walk() -> None:
    """Without a strategy explore alternates iterative bounding with DPOR and a
    random walk, from the start each time, and stops once the search is done.

    Two threads that each lock one page of their own are independent: one
    run stands for every interleaving, at every bound (the random walk has
    had its one turn meanwhile).  Two threads that lock the same page
    conflict: the two orders are two classes, and each order also splits on
    whether the second thread arrives while the first still holds the page
    (it then waits) or after it is done.
    """

    def setup(pages: tuple[int, int]) -> Any:
        def build(run: Run) -> None:
            k = run.attach(Kernel(total_pages=8))
            vp = k.vnode("f")
            for off in {*pages}:
                make_page(vp, off)

            def locker(off: int) -> None:
                pp = page_lookup(vp, off, SE_EXCL)
                assert pp is not None
                k.yield_point("holding")
                page_unlock(pp)

            run.spawn(locker, pages[0], name="t1")
            run.spawn(locker, pages[1], name="t2")

        return build

    apart = explore(setup((0, 4096)), max_runs=25)
    assert (apart.runs, apart.classes, apart.ok, apart.exhausted) == (2, 1, True, True)
    assert isinstance(apart.strategy, Alternate)
    assert [type(m) for m in apart.strategy.members] == [IterativeBounding, RandomWalk]
    same = explore(setup((0, 0)), max_runs=100)
    assert same.ok and same.exhausted
    assert same.classes == 4
    # A second call starts from the beginning (it does not resume the first).
    again = explore(setup((0, 0)), strategy=same.strategy, max_runs=100)
    assert (again.runs, again.classes) == (same.runs, same.classes)


def test_a_livelock_is_stopped_by_max_steps() -> None:
    """A thread that spins on a switch point forever fails with StepLimitExceeded."""

    def setup(run: Run) -> None:
        k = run.attach(Kernel(total_pages=8))

        def spin() -> None:
            while True:
                k.yield_point("spin")

        run.spawn(spin, name="spinner")

    with pytest.raises(StepLimitExceeded):
        replay(setup, max_steps=200)


def test_replaying_a_schedule_from_another_scenario_is_refused() -> None:
    """A schedule whose choices do not exist in this scenario raises ScheduleDivergence."""

    def setup(run: Run) -> None:
        run.attach(Kernel(total_pages=8))
        run.spawn(lambda: None, name="only")

    with pytest.raises(ScheduleDivergence):
        replay(setup, None, "3b")


def test_bad_arguments_are_usage_errors() -> None:
    """Non-callables, unknown validate modes, a second scheduler and a bad strategy."""
    with pytest.raises(UsageError, match="setup"):
        explore(42)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="check"):
        explore(lambda run: None, 42)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="validate"):
        explore(lambda run: None, validate="sometimes")
    with pytest.raises(UsageError, match="strategy"):
        explore(lambda run: None, strategy="pct")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="max_runs"):
        explore(lambda run: None, max_runs=0)

    def twice(run: Run) -> None:
        k = run.attach(Kernel(total_pages=8))
        run.attach(k)

    with pytest.raises(UsageError, match="already has a scheduler"):
        replay(twice)
    with pytest.raises(UsageError, match="no kernel"):
        replay(lambda run: run.kernel)
    assert isinstance(PCT(seed=1).fresh(), PCT)
