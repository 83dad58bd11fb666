"""Named regression schedules: short strings that replay one interleaving exactly.

Each was found by an exploration and is kept because it pins down an
interleaving worth keeping an eye on.  The test replays it, checks that the
replay really is that interleaving (its context switches), and checks the
outcome the C guarantees there.  The list is printed in docs/concurrency.md.
"""

from __future__ import annotations

from pvnsim.concurrency import replay
from pvnsim.errors import KernelAssertionError
from pvnsim.flags import B_ASYNC, EAGAIN, P_FREE

from .broken_walk import broken_vplist_dirty
from .test_model_blocking import locker_setup
from .test_other_cpu import writeback_setup
from .test_vvmlock import two_walkers
from .walk_scenario import WalkScenario

REGRESSIONS = {
    "destroyed-while-walker-sleeps-in-page_lock": "14b",
    "page_lock-sleeps-then-returns-0": "2b",
    "async-walk-gets-eagain": "25b",
    "sync-walk-waits-on-v_cv": "25b",
    "page-created-at-head-mid-walk": "10b",
    "store-in-ck_refmod-window": "10b",
}


def test_destroyed_while_walker_sleeps_in_page_lock() -> None:
    """The walker sleeps in page_lock on the page the destroyer holds; it is destroyed.

    The walker is preempted at page_lock(f@12288) holding vphm; the
    destroyer locks f@12288 (page_lookup) and sleeps on vphm in
    page_destroy's hashout; the walker's page_lock must wait, drops vphm and
    sleeps; the destroyer finishes; page_lock returns 0 and the walk goes
    on from mark.p_vpprev (L908-909).  The broken walk retries the page it
    held a pointer to, which is gone: pp->p_vnode == vp fails.
    """
    schedule = REGRESSIONS["destroyed-while-walker-sleeps-in-page_lock"]
    sc = WalkScenario("ccdddd", 0, [("destroy", 3)])
    run = replay(sc.setup, sc.check, schedule, at_switch=sc.at_switch)
    assert run.sim.log[1:5] == [
        "choice 15: walker preempted at page_lock f@0x3000 -> destroy0",
        "choice 16: destroy0 blocks on mutex vphm(f) -> walker",
        "choice 16: walker blocks on page lock of f@0x3000 (SE_SHARED) -> destroy0",
        "choice 16: destroy0 ends",
    ]
    assert [off for _, off, _ in run.data["put"]] == [20480, 16384, 8192]
    broken = WalkScenario("ccdddd", 0, [("destroy", 3)], walk=broken_vplist_dirty)
    try:
        replay(broken.setup, broken.check, schedule, at_switch=broken.at_switch)
    except KernelAssertionError as exc:
        assert "pp->p_vnode == vp" in str(exc)
    else:
        raise AssertionError("the broken walk survived its regression schedule")


def test_page_lock_sleeps_then_returns_0() -> None:
    """The holder is preempted at its yield point; page_lock sleeps, returns 0, vphm held again."""
    run = replay(
        locker_setup(holder_destroys=False), None, REGRESSIONS["page_lock-sleeps-then-returns-0"]
    )
    assert run.sim.log[1] == "choice 3: holder preempted at yield holding -> locker"
    assert (run.data["got"], run.data["vphm_owner"]) == (0, "locker")


def test_async_walk_gets_eagain() -> None:
    """w1 is preempted entering v_lock to clear VVMLOCK (L980); w2 (B_ASYNC) returns EAGAIN."""
    run = replay(two_walkers(B_ASYNC), None, REGRESSIONS["async-walk-gets-eagain"], trace=True)
    assert run.sim.log[1] == "choice 26: w1 preempted at mutex_enter v_lock(f) -> w2"
    assert run.results == {"w1": 0, "w2": EAGAIN}
    assert [e.format() for e in run.kernel.trace.filter(thread="w2", kind="prim")] == [
        "mutex_enter(v_lock(f))",
        "mutex_exit(v_lock(f))",
    ]


def test_sync_walk_waits_on_v_cv() -> None:
    """The same point with a synchronous w2: it sleeps in cv_wait until w1's broadcast.

    w2 then walks four clean pages and writes none of them.
    """
    run = replay(two_walkers(0), None, REGRESSIONS["sync-walk-waits-on-v_cv"], trace=True)
    assert run.sim.log[1:3] == [
        "choice 26: w1 preempted at mutex_enter v_lock(f) -> w2",
        "choice 27: w2 blocks on VVMLOCK of f -> w1",
    ]
    assert run.results == {"w1": 0, "w2": 0}
    assert {who for who, _ in run.data["puts"]} == {"w1"}
    assert run.kernel.trace.filter("cv_wait", thread="w2")


def test_page_created_at_head_mid_walk() -> None:
    """A page created while the walker has dropped vphm for its first page enters at the head.

    The walker has moved its marker past f@20480 and dropped vphm (L962)
    for pvn_getdirty; head0 creates f@24576 at the head, in the unvisited
    stretch (semantics.md §7.30), so the walk reaches it after the old head
    f@0 and, the page being clean, hands it to pvn_getdirty but not to
    putapage.
    """
    sc = WalkScenario("ccdddd", 0, [("head", 6)])
    run = replay(sc.setup, sc.check, REGRESSIONS["page-created-at-head-mid-walk"], trace=True)
    assert run.sim.log[1] == "choice 11: walker preempted at mutex_exit vphm(f) -> head0"
    getdirty = [e.args[0] for e in run.kernel.trace.filter("pvn_getdirty")]
    assert getdirty == [
        "f@0x5000",
        "f@0x4000",
        "f@0x3000",
        "f@0x2000",
        "f@0x1000",
        "f@0x0",
        "f@0x6000",
    ]
    assert [off for _, off, _ in run.data["put"]] == [20480, 16384, 12288, 8192]


def test_store_in_ck_refmod_window() -> None:
    """The other CPU touches the page at hat_pageunload's entry (L502): the page is kept."""
    run = replay(writeback_setup(("ref",)), None, REGRESSIONS["store-in-ck_refmod-window"])
    assert run.sim.log[1] == "choice 11: walker preempted at hat_pageunload f@0x0 -> cpu1"
    pp, k = run.data["pp"], run.data["k"]
    assert not pp.p_state & P_FREE
    assert (k.vm.pgrec, k.vm.dfree) == (1, 0)
