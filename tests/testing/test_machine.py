"""The ready state machine runs clean, checks every invariant after every step, and is extensible."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import rule, run_state_machine_as_test

from pvnsim import DeadlockError, InvariantViolation, Kernel, SegMap, make_page, pvn_vplist_dirty
from pvnsim.flags import EIO, P_MOD, P_REF, S_READ, SE_SHARED
from pvnsim.testing import OtherThreads, PvnStateMachine, SimpleFs, is_dirty
from pvnsim.vm import page_lookup

ROOMY = dict(
    lotsfree=0, desfree=0, minfree=0, throttlefree=0, pageout_reserve=0, pages_before_pager=0
)

# A short run without shrinking, for the tests about the machine itself.
QUICK = settings(
    max_examples=15,
    stateful_step_count=20,
    deadline=None,
    database=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def test_state_machine_runs_clean() -> None:
    """Random sequences of every pvn operation keep every invariant (under the current profile)."""
    run_state_machine_as_test(PvnStateMachine)


def test_a_rule_that_breaks_an_invariant_is_caught_after_its_step() -> None:
    """A user rule that unbalances freemem fails the run with the invariant's message."""

    class Leaky(PvnStateMachine):
        @rule()
        def leak_a_page(self) -> None:
            self.k.freemem += 1

    with pytest.raises(InvariantViolation, match=r"^page conservation: freemem is \d+ but"):
        run_state_machine_as_test(Leaky, settings=QUICK)


def test_user_rules_run_with_the_ready_ones() -> None:
    """A subclass's own rule runs among the machine's rules, on the machine's vnodes."""
    results: list[int] = []

    class WithFsync(PvnStateMachine):
        @rule(i=st.integers(0, 7))
        def fsync(self, i: int) -> None:
            vp = self.vnode(i)
            results.append(pvn_vplist_dirty(vp, 0, self.fs.putapage, 0, None))
            assert not [p.name for p in self.k.page_hash[vp].values() if is_dirty(p)]

    run_state_machine_as_test(WithFsync, settings=QUICK)
    assert results and set(results) == {0}


def test_other_thread_lets_go_when_main_would_wait_for_it() -> None:
    """page_lookup of a page another thread reads in gets it once that thread finishes."""
    k = Kernel(total_pages=16)
    vp = k.vnode("v1")
    pp = make_page(vp, 0, lock="X@other", io="other")
    k.sched = others = OtherThreads(k)
    assert page_lookup(vp, 0, SE_SHARED) is pp
    assert (pp.p_selock, pp.p_sowner, pp.p_iolock_state) == (1, "main", 0)
    assert others.finished == 1


def test_waiting_for_main_itself_is_still_a_deadlock() -> None:
    """A wait on a lock main holds is reported, not papered over."""
    k = Kernel(total_pages=16)
    vp = k.vnode("v1")
    make_page(vp, 0, lock="X")
    k.sched = OtherThreads(k)
    with pytest.raises(DeadlockError, match=r"main waits for page lock of v1@0x0, held by main"):
        page_lookup(vp, 0, SE_SHARED)


def test_simplefs_range_putpage_writes_each_block_once() -> None:
    """putpage of [0, 12288) with 8 KiB blocks writes block 0 (two pages) and block 1 (one).

    The loop looks up 0, klusters 0 and 4096 in block [0, 8192), then goes on
    at 8192 whose block has no page at 12288; 16384 is outside the range.
    """
    k = Kernel(total_pages=64, **ROOMY)
    fs = SimpleFs(k, blksz=8192)
    vp = k.vnode("v1", ops=fs.vnodeops())
    for off in (0, 4096, 8192, 16384):
        make_page(vp, off, nrm=P_MOD | P_REF)
    assert fs.putpage(vp, 0, 12288, 0, None) == 0
    assert fs.writes == 2
    assert {o for o, p in k.page_hash[vp].items() if is_dirty(p)} == {16384}


def test_simplefs_getpage_reads_the_whole_block() -> None:
    """A getpage miss reads the 16 KiB block around the page and returns that page SE_SHARED."""
    k = Kernel(total_pages=64, **ROOMY)
    fs = SimpleFs(k, blksz=16384)
    vp = k.vnode("v1", ops=fs.vnodeops())
    pl = [None, None]
    assert fs.getpage(vp, 4096, 4096, None, pl, 4096, SegMap(k, "s"), 0x11000, S_READ, None) == 0
    assert pl[0] is not None and pl[0].p_offset == 4096 and pl[0].p_selock == 1
    assert pl[1] is None
    assert sorted(k.page_hash[vp]) == [0, 4096, 8192, 12288]


def test_simplefs_failed_read_destroys_the_kluster() -> None:
    """A read that fails returns EIO and leaves no page of the kluster behind."""
    k = Kernel(total_pages=64, **ROOMY)
    fs = SimpleFs(k, blksz=16384)
    fs.fail_reads = {0}
    vp = k.vnode("v1", ops=fs.vnodeops())
    pl = [None, None]
    assert fs.getpage(vp, 4096, 4096, None, pl, 4096, SegMap(k, "s"), 0x11000, S_READ, None) == EIO
    assert k.page_hash[vp] == {}


def test_a_failing_run_names_its_pages() -> None:
    """The falsifying steps name pages by bundle variable (pages_0, ...), not by an
    index into a list that changes as the run goes."""
    from pvnsim import Page

    class Picky(PvnStateMachine):
        @rule(pp=PvnStateMachine.pages)
        def refuse_any_page(self, pp: Page) -> None:
            if self.mine(pp):
                raise ValueError("a page")

    with pytest.raises(ValueError, match="a page") as failure:
        run_state_machine_as_test(
            Picky,
            settings=settings(
                max_examples=50,
                stateful_step_count=10,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            ),
        )
    report = "\n".join(getattr(failure.value, "__notes__", []))
    assert "state.refuse_any_page(pp=pages_" in report
