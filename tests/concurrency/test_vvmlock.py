"""Two pvn_vplist_dirty calls on one vnode: VVMLOCK serialises them.

vm_pvn.c L767-782: a walk sets VVMLOCK under v_lock; a second synchronous
walk sleeps on v_cv until the first clears it and broadcasts (L980-983); a
second B_ASYNC walk returns EAGAIN at once (L768-770).  Every schedule with
at most two preemptions is explored.
"""

from __future__ import annotations

from typing import Any

from pvnsim import Kernel, make_page, pvn_vplist_dirty, pvn_write_done
from pvnsim.concurrency import Exhaustive, Run, explore
from pvnsim.flags import B_ASYNC, B_WRITE, EAGAIN, P_MOD, VVMLOCK

ROOMY = dict(
    lotsfree=0, desfree=0, minfree=0, throttlefree=0, pageout_reserve=0, pages_before_pager=0
)


def two_walkers(second_flags: int) -> Any:
    def setup(run: Run) -> dict[str, Any]:
        k = run.attach(Kernel(total_pages=64, **ROOMY))  # type: ignore[arg-type]
        vp = k.vnode("f")
        for i in range(4):
            make_page(vp, i * 4096, nrm=P_MOD, at="tail")
        puts: list[tuple[str, int]] = []

        def put(v: Any, pp: Any, offp: Any, lenp: Any, fl: int, cred: Any) -> int:
            me = k.curthread
            if not (v.v_flag & VVMLOCK and v.v_vvmlock_owner == me):
                raise AssertionError(f"{me} wrote {pp.name} without holding VVMLOCK")
            puts.append((me, pp.p_offset))
            pvn_write_done(pp, B_WRITE | fl)
            return 0

        run.spawn(pvn_vplist_dirty, vp, 0, put, 0, None, name="w1")
        run.spawn(pvn_vplist_dirty, vp, 0, put, second_flags, None, name="w2")
        return {"puts": puts, "vp": vp}

    return setup


def explore_all(second_flags: int) -> list[Run]:
    runs: list[Run] = []
    result = explore(
        two_walkers(second_flags),
        runs.append,
        strategy=Exhaustive(preemption_bound=2),
        max_runs=20_000,
    )
    assert result.ok, str(result)
    assert result.exhausted
    return runs


def test_two_sync_walks_serialise() -> None:
    """Whoever sets VVMLOCK first writes all four pages; the other waits, then finds them clean.

    Only the VVMLOCK holder ever calls putapage (checked at each call), the
    four dirty pages are written once in all, both walks return 0, and in
    some schedules the second walk sleeps in cv_wait(v_cv) until the first
    broadcasts.
    """
    runs = explore_all(0)
    for run in runs:
        assert run.results == {"w1": 0, "w2": 0}
        puts = run.data["puts"]
        assert sorted(off for _, off in puts) == [0, 4096, 8192, 12288]
        assert len({who for who, _ in puts}) == 1
        assert not run.data["vp"].v_flag & VVMLOCK
    waited = {
        line.split()[2] for r in runs for line in r.sim.log if "blocks on VVMLOCK of f" in line
    }
    assert waited == {"w1", "w2"}


def test_async_walk_gets_eagain_while_another_holds_vvmlock() -> None:
    """A B_ASYNC walk returns EAGAIN (and writes nothing) exactly when VVMLOCK is held.

    In schedules where w2 looks at VVMLOCK while w1 holds it, w2 returns
    EAGAIN at once; otherwise it walks (and may be the one that writes
    everything, w1 then waiting on v_cv).  Both outcomes occur.
    """
    runs = explore_all(B_ASYNC)
    seen = set()
    for run in runs:
        w2 = run.results["w2"]
        assert run.results["w1"] == 0
        assert w2 in (0, EAGAIN)
        seen.add(w2)
        puts = run.data["puts"]
        if w2 == EAGAIN:
            assert all(who == "w1" for who, _ in puts)
            assert not any("w2 blocks on VVMLOCK" in line for line in run.sim.log)
        assert sorted(off for _, off in puts) == [0, 4096, 8192, 12288]
    assert seen == {0, EAGAIN}
