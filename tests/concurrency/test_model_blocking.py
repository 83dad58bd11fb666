"""The model's sleeps and switch points under the real scheduler.

Each scenario is explored exhaustively (it is small), and the property is
checked in every interleaving; where a behaviour needs a particular
interleaving, the test also checks that some schedule produced it.
"""

from __future__ import annotations

from typing import Any

import pytest

from pvnsim import DeadlockError, Kernel, make_page, pvn_io_done, pvn_vplist_dirty, pvn_write_done
from pvnsim.concurrency import Exhaustive, Run, explore, replay
from pvnsim.flags import B_ASYNC, B_WRITE, P_MOD, P_NO_RECLAIM, PG_EXCL, PG_WAIT, SE_EXCL, SE_SHARED
from pvnsim.vm import (
    hat_ismod,
    page_create_va,
    page_destroy,
    page_free,
    page_io_lock,
    page_lock,
    page_lookup,
    page_trylock,
    page_unlock,
)
from pvnsim.vm.mutex import mutex_enter, mutex_exit

ROOMY = dict(
    lotsfree=0, desfree=0, minfree=0, throttlefree=0, pageout_reserve=0, pages_before_pager=0
)


def roomy(total: int = 64) -> Kernel:
    return Kernel(total_pages=total, **ROOMY)  # type: ignore[arg-type]


def outcomes(setup: Any, check: Any = None, bound: int | None = None) -> list[Run]:
    """Every run of an exhaustive exploration (it must pass and finish)."""
    runs: list[Run] = []

    def keep(run: Run) -> None:
        if check is not None:
            check(run)
        runs.append(run)

    result = explore(setup, keep, strategy=Exhaustive(bound), max_runs=20_000)
    assert result.ok, str(result)
    assert result.exhausted
    return runs


def locker_setup(holder_destroys: bool) -> Any:
    """A holder locks page f@0x0 SE_EXCL; a locker calls page_lock(..., vphm, ...)."""

    def setup(run: Run) -> dict[str, Any]:
        k = run.attach(roomy())
        vp = k.vnode("f")
        pp = make_page(vp, 0)
        out: dict[str, Any] = {"pp": pp}

        def holder() -> None:
            p = page_lookup(vp, 0, SE_EXCL)
            assert p is not None
            k.yield_point("holding")
            if holder_destroys:
                page_destroy(p, 1)  # identity gone, still held SE_EXCL
                k.yield_point("destroyed")
                page_free(p, 0)
            else:
                page_unlock(p)

        def locker() -> None:
            vphm = vp.v_vphm
            mutex_enter(vphm)
            got = page_lock(pp, SE_SHARED, vphm, P_NO_RECLAIM)
            out["got"] = got
            out["vphm_owner"] = vphm.owner
            out["identity"] = pp.p_vnode is not None
            out["held_by_holder"] = pp.p_selock == -1
            if got:
                page_unlock(pp)
            mutex_exit(vphm)

        run.spawn(holder, name="holder")
        run.spawn(locker, name="locker")
        return out

    return setup


def test_page_lock_that_waited_retakes_the_mutex_and_returns_0() -> None:
    """page_lock sleeping on a held page drops vphm, retakes it and returns 0.

    In every interleaving the locker owns vphm again when page_lock returns;
    it returns 1 when the holder is not holding the page at that moment, and
    0 in the interleavings where it had to sleep (both occur).
    """
    runs = outcomes(locker_setup(holder_destroys=False))
    assert all(r.data["vphm_owner"] == "locker" for r in runs)
    assert {r.data["got"] for r in runs} == {0, 1}


def test_page_lock_wakes_when_the_page_loses_its_identity() -> None:
    """A sleeper in page_lock wakes when the page is destroyed, even if it stays locked.

    page_hashout wakes page_lock's sleepers (semantics.md 4.4); the holder
    destroys the page with dontfree=1, so it is still SE_EXCL-held when the
    locker returns 0 without the page.  Without that wake-up the locker would
    only run after the holder's page_free.
    """
    runs = outcomes(locker_setup(holder_destroys=True))
    woken = [r.data for r in runs if r.data["got"] == 0 and not r.data["identity"]]
    assert any(d["held_by_holder"] for d in woken)
    assert all(r.data["vphm_owner"] == "locker" for r in runs)


def test_named_schedule_page_lock_sleeps_then_returns_0() -> None:
    """Schedule '2b': the holder is preempted at its yield point while holding the page.

    Choice 0 starts the holder; choice 1 (page_lookup's switch point, the
    locker runnable) continues it; choice 2 at the yield point switches to
    the locker, which takes vphm (choice 3, 4: continue) and sleeps in
    page_lock; the holder unlocks, ends, and the locker returns 0.
    """
    run = replay(locker_setup(holder_destroys=False), None, "2b")
    assert run.data["got"] == 0
    assert run.data["vphm_owner"] == "locker"


def memory_setup(with_destroyer: bool) -> Any:
    """Four pages in a four-page kernel: freemem 0; a creator needs one more page."""

    def setup(run: Run) -> dict[str, Any]:
        k = run.attach(roomy(total=4))
        vp = k.vnode("f")
        pages = [make_page(vp, i * 4096) for i in range(4)]
        out: dict[str, Any] = {"first": pages[0], "k": k}

        def creator() -> None:
            pl = page_create_va(vp, 4 * 4096, 4096, PG_EXCL | PG_WAIT, None, 0)
            out["created"] = pl
            assert pl is not None
            pvn_io_done(pl)

        def destroyer() -> None:
            pp = page_lookup(vp, 0, SE_EXCL)
            assert pp is not None
            page_destroy(pp, 0)

        run.spawn(creator, name="creator")
        if with_destroyer:
            run.spawn(destroyer, name="destroyer")
        return out

    return setup


def test_page_create_va_waits_for_memory_until_a_page_is_freed() -> None:
    """With freemem 0, PG_WAIT sleeps until another thread frees a page, then uses it.

    The freed page goes to the free list and is the only free page, so the
    created page at 16384 is the destroyed page's page_t.  needfree is back
    to 0 afterwards.
    """
    runs = outcomes(memory_setup(with_destroyer=True))
    for r in runs:
        created = r.data["created"]
        assert created is r.data["first"]
        assert created.p_offset == 4 * 4096
        assert r.data["k"].needfree == 0
        assert r.data["k"].freemem == 0


def test_waiting_for_memory_nobody_frees_is_a_deadlock() -> None:
    """Alone, the creator's wait for memory is reported with what it waits for."""
    with pytest.raises(DeadlockError) as info:
        replay(memory_setup(with_destroyer=False))
    assert [str(w) for w in info.value.waits] == ["creator waits for memory (freemem 0, needs 1)"]


def test_failing_trylock_lets_the_holder_run() -> None:
    """A page_trylock that fails is a switch point: a retry can then succeed.

    The trier tries twice with nothing in between; only a switch at the
    failing trylock lets the holder unlock before the second try.
    """

    def setup(run: Run) -> dict[str, Any]:
        k = run.attach(roomy())
        vp = k.vnode("f")
        pp = make_page(vp, 0)
        tries: list[int] = []

        def holder() -> None:
            p = page_lookup(vp, 0, SE_EXCL)
            assert p is not None
            k.yield_point("holding")
            page_unlock(p)

        def trier() -> None:
            for _ in range(2):
                got = page_trylock(pp, SE_EXCL)
                tries.append(got)
                if got:
                    page_unlock(pp)
                    return

        run.spawn(holder, name="holder")
        run.spawn(trier, name="trier")
        return {"tries": tries}

    runs = outcomes(setup)
    assert [0, 1] in [r.data["tries"] for r in runs]


def test_racing_creators_of_one_offset_share_the_page() -> None:
    """Two PG_WAIT creators of f@0 while a third thread holds vphm: one page results.

    Both may find the offset free and then sleep on vphm in page_hashin; the
    second to get vphm must see the first one's page and wait for it instead
    of hashing in a duplicate.  Both end up with the same page_t.
    """

    def setup(run: Run) -> dict[str, Any]:
        k = run.attach(roomy())
        vp = k.vnode("f")
        make_page(vp, 4096)
        got: dict[str, Any] = {"vp": vp}

        def creator(name: str) -> None:
            pl = page_create_va(vp, 0, 4096, PG_WAIT, None, 0)
            got[name] = pl
            assert pl is not None
            pvn_io_done(pl)

        def blocker() -> None:
            mutex_enter(vp.v_vphm)
            k.yield_point("holding vphm")
            mutex_exit(vp.v_vphm)

        run.spawn(blocker, name="blocker")
        run.spawn(creator, "c1", name="c1")
        run.spawn(creator, "c2", name="c2")
        return got

    def check(run: Run) -> None:
        d = run.data
        assert d["c1"] is d["c2"]
        assert d["c1"].p_offset == 0
        assert sorted(run.kernel.page_hash[d["vp"]]) == [0, 4096]

    runs = outcomes(setup, check, bound=2)
    retried = [
        r
        for r in runs
        if any("c2 blocks on mutex vphm(f)" in line for line in r.sim.log)
        and any("c2 blocks on page lock of f@0x0" in line for line in r.sim.log)
    ]
    assert retried


def test_trace_events_carry_the_thread_names() -> None:
    """With tracing on, each recorded call names the simulated thread that made it."""

    def setup(run: Run) -> None:
        k = run.attach(roomy())
        vp = k.vnode("f")
        for i in range(2):
            make_page(vp, i * 4096, nrm=P_MOD)

        def put(v: Any, pp: Any, offp: Any, lenp: Any, fl: int, cred: Any) -> int:
            pvn_write_done(pp, B_WRITE | fl)
            return 0

        def destroyer() -> None:
            pp = page_lookup(vp, 4096, SE_EXCL)
            if pp is not None:
                page_destroy(pp, 0)

        run.spawn(pvn_vplist_dirty, vp, 0, put, 0, None, name="walker")
        run.spawn(destroyer, name="destroyer")

    run = replay(setup, trace=True)
    trace = run.kernel.trace
    assert {e.thread for e in trace} == {"walker", "destroyer"}
    assert trace.filter("pvn_vplist_dirty")[0].thread == "walker"
    assert {e.thread for e in trace.filter("page_destroy")} == {"destroyer"}


def test_a_thread_asleep_inside_a_traced_call_does_not_hide_other_threads_calls() -> None:
    """While the destroyer sleeps on vphm inside page_destroy, the holder's calls are traced.

    The trace records only top-level calls, counting nesting per thread:
    schedule '2b' starts the holder, lets it take vphm, and switches at its
    yield point to the destroyer, which sleeps in page_destroy's hashout;
    the holder's hat_ismod then is a top-level call of its own.
    """

    def setup(run: Run) -> None:
        k = run.attach(roomy())
        vp = k.vnode("f")
        make_page(vp, 0)
        q = make_page(vp, 4096)

        def holder() -> None:
            mutex_enter(vp.v_vphm)
            k.yield_point("holding vphm")
            hat_ismod(q)
            mutex_exit(vp.v_vphm)

        def destroyer() -> None:
            pp = page_lookup(vp, 0, SE_EXCL)
            assert pp is not None
            page_destroy(pp, 0)

        run.spawn(holder, name="holder")
        run.spawn(destroyer, name="destroyer")

    run = replay(setup, None, "2b", trace=True)
    assert run.sim.log[1:3] == [
        "choice 3: holder preempted at yield holding vphm -> destroyer",
        "choice 4: destroyer blocks on mutex vphm(f) -> holder",
    ]
    lines = [f"{e.thread}: {e.format()}" for e in run.kernel.trace.filter(nested=False)]
    assert lines == [
        "holder: mutex_enter(vphm(f))",
        "destroyer: page_lookup(f, 0x0, SE_EXCL) = f@0x0",
        "destroyer: page_destroy(f@0x0, 0)",
        "holder: hat_ismod(f@0x1000) = 0",
        "holder: mutex_exit(vphm(f))",
    ]


@pytest.mark.parametrize(("flags", "sleeps"), [(0, True), (B_ASYNC, False)], ids=["sync", "async"])
def test_getdirty_sleeps_on_the_io_lock_only_where_the_c_does(flags: int, sleeps: bool) -> None:
    """A write in progress holds f@0 SE_SHARED and i/o-locked while the walk reaches it.

    A synchronous walk's pvn_getdirty takes the i/o lock with page_io_lock
    (L616) and sleeps until the writer's pvn_write_done drops it; an async
    one uses page_io_trylock (L610-613) and never sleeps there.
    """

    def setup(run: Run) -> dict[str, Any]:
        k = run.attach(roomy())
        vp = k.vnode("f")
        make_page(vp, 0, nrm=P_MOD)
        written: list[str] = []

        def put(v: Any, pp: Any, offp: Any, lenp: Any, fl: int, cred: Any) -> int:
            written.append(pp.name)
            pvn_write_done(pp, B_WRITE | fl)
            return 0

        def writer() -> None:
            pp = page_lookup(vp, 0, SE_SHARED)
            assert pp is not None
            page_io_lock(pp)
            k.yield_point("writing")
            pvn_write_done(pp, B_WRITE)

        run.spawn(writer, name="writer")
        run.spawn(pvn_vplist_dirty, vp, 0, put, flags, None, name="walker")
        return {"written": written}

    runs = outcomes(setup, bound=2)
    slept = [r for r in runs if any("walker blocks on i/o lock of f@0x0" in x for x in r.sim.log)]
    assert bool(slept) == sleeps
    for r in slept:
        # Woken by the writer's pvn_write_done, it writes the still-dirty page.
        assert r.data["written"] == ["f@0x0"]
