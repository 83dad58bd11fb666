"""Each kind of failure report, with its message: deadlock, lost wakeup,
livelock and a failed assertion.

A report names what went wrong, where (the source line of the code under
test), the schedule and the replay call that brings it back.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from pvnsim import (
    DeadlockError,
    InvariantViolation,
    Kernel,
    LivelockError,
    LostWakeupError,
    make_page,
)
from pvnsim.concurrency import (
    Exhaustive,
    IterativeBounding,
    Run,
    check_determinism,
    explore,
    replay,
)
from pvnsim.flags import SE_EXCL, VVMLOCK
from pvnsim.vm import (
    KM_SLEEP,
    kmem_cache_alloc,
    kmem_cache_free,
    page_lookup,
    page_trylock,
    page_unlock,
)
from pvnsim.vm.mutex import cv_wait, mutex_enter, mutex_exit


def _abba(run: Run) -> None:
    k = run.attach(Kernel(total_pages=16))
    vp = k.vnode("f")
    make_page(vp, 0)

    def a() -> None:
        mutex_enter(vp.v_vphm)
        pp = page_lookup(vp, 0, SE_EXCL)
        assert pp is not None
        page_unlock(pp)
        mutex_exit(vp.v_vphm)

    def b() -> None:
        pp = page_lookup(vp, 0, SE_EXCL)
        assert pp is not None
        mutex_enter(vp.v_vphm)
        mutex_exit(vp.v_vphm)
        page_unlock(pp)

    run.spawn(a, name="A")
    run.spawn(b, name="B")


def test_deadlock_report_names_each_waiter_its_holder_and_line() -> None:
    """A waits for the page B holds, B for the mutex A holds; each waits at its call."""
    failure = explore(_abba, strategy=IterativeBounding()).failure
    assert failure is not None
    assert isinstance(failure.error, DeadlockError)
    assert not isinstance(failure.error, LostWakeupError)
    assert str(failure.error) == (
        "deadlock: A waits for page lock of f@0x0, held by B; B waits for mutex vphm(f), held by A"
    )
    report = failure.report()
    here = "tests/concurrency/test_reports.py"
    assert re.search(rf"^  A waits at {here}:\d+$", report, re.M)
    assert re.search(rf"^  B waits at {here}:\d+$", report, re.M)
    assert f"replay it with replay(_abba, None, '{failure.schedule}')" in report
    with pytest.raises(DeadlockError, match=r"^deadlock: A waits"):
        replay(_abba, None, failure.schedule)


def _sleepy(run: Run) -> Any:
    """A sets VVMLOCK and clears it without broadcasting; B waits for it."""
    k = run.attach(Kernel(total_pages=8))
    vp = k.vnode("f")

    def a() -> None:
        mutex_enter(vp.v_lock)
        vp.v_flag |= VVMLOCK
        vp.v_vvmlock_owner = "A"
        mutex_exit(vp.v_lock)
        mutex_enter(vp.v_lock)
        vp.v_flag &= ~VVMLOCK
        vp.v_vvmlock_owner = None
        mutex_exit(vp.v_lock)  # no cv_broadcast(v_cv)

    def b() -> None:
        mutex_enter(vp.v_lock)
        while vp.v_flag & VVMLOCK:
            cv_wait(vp.v_cv, vp.v_lock)
        mutex_exit(vp.v_lock)

    run.spawn(a, name="A")
    run.spawn(b, name="B")


def test_lost_wakeup_report_says_the_condition_is_clear_and_nobody_will_broadcast() -> None:
    """Not a plain deadlock: B sleeps on v_cv although VVMLOCK is already clear."""
    failure = explore(_sleepy, strategy=IterativeBounding()).failure
    assert failure is not None
    assert isinstance(failure.error, LostWakeupError)
    assert str(failure.error) == (
        "lost wakeup: B waits for VVMLOCK of f, but it is already clear and "
        "nobody will broadcast v_cv(f)"
    )
    assert re.search(
        r"^  B waits at tests/concurrency/test_reports\.py:\d+$", failure.report(), re.M
    )


def _spinners(run: Run) -> None:
    """Each thread holds one page and retries a trylock of the other's forever."""
    k = run.attach(Kernel(total_pages=8))
    vp = k.vnode("f")
    make_page(vp, 0)
    make_page(vp, 4096)

    def spin(mine: int, theirs: int) -> None:
        pp = page_lookup(vp, mine, SE_EXCL)
        assert pp is not None
        other = k.page_hash[vp][theirs]
        while not page_trylock(other, SE_EXCL):
            k.yield_point("retry")
        page_unlock(other)
        page_unlock(pp)

    run.spawn(spin, 0, 4096, name="A")
    run.spawn(spin, 4096, 0, name="B")


def test_livelock_report_names_the_spinning_threads_and_their_locks() -> None:
    """Nothing but failed trylocks and yields for 1000 switch points: a livelock.

    Under a bound of one preemption, once each holds its page the search
    lets the spinning thread go on (A, preempted, would spin the same way).
    """
    failure = explore(_spinners, strategy=Exhaustive(preemption_bound=1)).failure
    assert failure is not None
    assert isinstance(failure.error, LivelockError)
    assert str(failure.error) == (
        "livelock: 1001 switch points without progress: failed trylocks, yields and "
        "steps repeated since, no thread sleeping or ending (B retries page_trylock f@0x0)"
    )
    assert failure.where is not None
    assert failure.where.startswith("tests/concurrency/test_reports.py:")


def _backoff(run: Run) -> None:
    """Each thread locks its page, trylocks the other's, backs off and retries."""
    k = run.attach(Kernel(total_pages=8))
    vp = k.vnode("f")
    make_page(vp, 0)
    make_page(vp, 4096)

    def spin(mine: int, theirs: int) -> None:
        other = k.page_hash[vp][theirs]
        while True:
            pp = page_lookup(vp, mine, SE_EXCL)
            assert pp is not None
            if page_trylock(other, SE_EXCL):
                page_unlock(other)
                page_unlock(pp)
                return
            page_unlock(pp)  # back off: drop ours, try again

    run.spawn(spin, 0, 4096, name="A")
    run.spawn(spin, 4096, 0, name="B")


def test_a_spin_that_backs_off_is_a_livelock_too() -> None:
    """Locking and unlocking its own page between failed trylocks is no progress.

    Preempted while it holds page 0 (just after its page_lookup), A never
    runs again under one preemption: B takes page 1, fails page 0, drops
    page 1, forever.  Every lock B takes it has taken before, nothing
    sleeps or ends: a livelock, reported after ``livelock_steps`` repeated
    switch points (not after the 100,000 of ``max_steps``).
    """
    result = explore(_backoff, strategy=Exhaustive(preemption_bound=1), max_steps=5000)
    failure = result.failure
    assert failure is not None
    assert isinstance(failure.error, LivelockError)
    assert str(failure.error).startswith("livelock: 1001 switch points without progress")
    assert str(failure.error).endswith("(B retries page_trylock f@0x0)")
    assert failure.where is not None
    assert failure.where.startswith("tests/concurrency/test_reports.py:")


def test_failed_trylocks_of_ever_new_pages_are_no_livelock() -> None:
    """A thread that fails a trylock on each of 1,200 different pages goes on.

    Every page is locked by set-up (thread main, which never unlocks them),
    so each trylock fails: 1,200 failed trylocks in a row, more than
    ``livelock_steps``, but each on a page the thread never tried before.
    """

    def setup(run: Run) -> None:
        k = run.attach(Kernel(total_pages=2048))
        vp = k.vnode("f")
        pages = [make_page(vp, i * 4096, lock="X") for i in range(1200)]

        def skim() -> int:
            return sum(not page_trylock(pp, SE_EXCL) for pp in pages)

        run.spawn(skim, name="skim")

    run = replay(setup, None, "", validate=False)
    assert run.results["skim"] == 1200


def test_assertion_report_names_the_line_that_failed() -> None:
    """An assert in a thread: its line, the schedule and the replay call."""

    def setup(run: Run) -> None:
        k = run.attach(Kernel(total_pages=8))
        vp = k.vnode("f")
        make_page(vp, 0)
        seen: list[str] = []

        def first() -> None:
            pp = page_lookup(vp, 0, SE_EXCL)
            assert pp is not None
            seen.append("first")
            page_unlock(pp)

        def second() -> None:
            pp = page_lookup(vp, 0, SE_EXCL)
            assert pp is not None
            if seen != ["first"]:
                raise AssertionError(f"second ran before first: {seen}")
            page_unlock(pp)

        run.spawn(first, name="first")
        run.spawn(second, name="second")

    failure = explore(setup).failure
    assert failure is not None
    assert str(failure.error) == "second ran before first: []"
    report = failure.report()
    lines = report.splitlines()
    assert lines[0] == f"run {failure.run} failed: AssertionError: second ran before first: []"
    assert re.fullmatch(r"at tests/concurrency/test_reports\.py:\d+", lines[1])
    # (setup is local to this test: pasted here, its own name replays it.)
    assert f"replay it with replay(setup, None, '{failure.schedule}')" in report
    with pytest.raises(AssertionError, match="second ran before first"):
        (call,) = [x[len("replay it with ") :] for x in lines if x.startswith("replay it with ")]
        eval(call)  # the call as printed, pasted


def test_markers_without_vvmlock_are_reported_as_such() -> None:
    """A walk of one's own that allocates marker pages without VVMLOCK is told why it fails.

    The rule that holds at every switch point is "at most two markers out
    per vnode with VVMLOCK set"; with none set, two markers out break it at
    the first switch point after the allocation (the mutex_enter below).
    """

    def setup(run: Run) -> None:
        k = run.attach(Kernel(total_pages=8))
        vp = k.vnode("f")
        make_page(vp, 0)

        def walk() -> None:
            cache = k.marker_cache
            marks = [kmem_cache_alloc(cache, KM_SLEEP) for _ in range(2)]
            mutex_enter(vp.v_vphm)
            mutex_exit(vp.v_vphm)
            for m in marks:
                kmem_cache_free(cache, m)

        run.spawn(walk, name="walk")

    failure = explore(setup).failure
    assert failure is not None
    assert isinstance(failure.error, InvariantViolation)
    assert str(failure.error).startswith(
        "marker_cache has 2 markers allocated but only 0 vnode(s) have VVMLOCK set: "
        "a walk that uses marker pages must hold VVMLOCK"
    )


def test_a_notebook_shows_an_exploration_and_its_failure_as_the_report() -> None:
    """A notebook cell ending in ``result`` or ``result.failure`` shows the report.

    IPython's plain-text formatter (the text/plain of a notebook output) must
    give the same lines as ``print(result)``: the count of runs, then the
    failure with its error, schedule and replay call, one item per line, not
    the dataclass fields on one line.
    """
    from IPython.core.formatters import PlainTextFormatter  # ipykernel's, in the test extra

    formatter = PlainTextFormatter()
    result = explore(_abba, stop_at_first=True)
    failure = result.failure
    assert failure is not None
    shown = formatter(result)
    lines = shown.splitlines()
    assert re.fullmatch(r"\d+ runs in \d+\.\d\d s.*: 1 failure\(s\)", lines[0])
    assert lines[1].startswith(f"run {failure.run} failed: DeadlockError: deadlock: ")
    assert f"replay it with replay(_abba, None, '{failure.schedule}')" in lines
    assert "Exploration(" not in shown
    assert formatter(failure) == failure.report()
    determinism = check_determinism(_abba, max_runs=2)
    assert formatter(determinism) == str(determinism)
    assert formatter(determinism).startswith("deterministic: ")


IN_IPYTHON = r"""
from IPython.core.interactiveshell import InteractiveShell

shell = InteractiveShell.instance()
cell = '''from pvnsim import Kernel
from pvnsim.concurrency import explore
def setup(run):
    run.attach(Kernel(total_pages=8))
    def t():
        assert False, "boom"
    run.spawn(t, name="t")
result = explore(setup)
'''
outcome = shell.run_cell(cell, store_history=True)
assert outcome.success, outcome.error_in_exec
print(outcome.execution_count)
print(shell.user_ns["result"].failure.where)
"""


def test_a_failure_in_an_ipython_cell_is_placed_in_the_cell() -> None:
    """A thread defined in a notebook cell fails: the report names the cell, as IPython does.

    IPython compiles each cell under a name of its own (``<ipython-input-...>``
    in the shell, a temporary file in a notebook kernel); the report must say
    ``Cell In[n], line 6``, the cell's number and the line of the assert in
    it, not that name (nor skip the cell for the library's lines).  Run in a
    fresh interpreter so that the test session has no IPython shell.
    """
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", IN_IPYTHON], capture_output=True, text=True, check=True, timeout=120
    ).stdout.splitlines()
    count, where = out[-2], out[-1]
    assert where == f"Cell In[{count}], line 6"
