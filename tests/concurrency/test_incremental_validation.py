"""Incremental validation catches what the full check catches, at the same step.

``validate=True`` checks at each switch point only the objects the steps
since the last one wrote (their footprints say which); ``validate="full"``
checks the whole kernel there.  The sensitivity test: every failing
schedule of every seeded broken walk, found under either mode, fails under
the other in exactly the same way (same error, same message, same context
switches up to it).  The fuzz test breaks valid kernels one object at a
time and asks the incremental check about that object.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from pvnsim import InvariantViolation, Kernel, make_page
from pvnsim.concurrency import IterativeBounding, RandomWalk, Replay, Run, explore
from pvnsim.concurrency.checks import check_in_flight
from pvnsim.flags import B_ASYNC, B_INVAL, VVMLOCK
from pvnsim.footprints import MEM, identity_key, list_key, page_key
from pvnsim.vm.validate import Touched, invariants_hold, invariants_hold_for, marker_counts

from ..unit.test_validate_fused import _all_pages, _build, _corrupt
from .broken_walk import broken_vplist_dirty, skipping_vplist_dirty
from .seeded import SEEDED, Seeded
from .walk_scenario import WalkScenario


def _broken(pages: str, flags: int, ops: list[tuple[str, int]], walk: Any, name: str) -> Seeded:
    sc = WalkScenario(pages, flags, ops, walk=walk)
    return Seeded(name, sc.setup, sc.check, sc.at_switch, ())


#: Every broken walk of the suite: the seeded bugs and test_sensitivity's cases.
BROKEN = {
    **SEEDED,
    **{
        s.name: s
        for s in (
            _broken("ccdddd", 0, [("destroy", 3)], broken_vplist_dirty, "pointer-destroy"),
            _broken("cCdddd", B_INVAL, [("destroy", 2)], broken_vplist_dirty, "pointer-inval"),
            _broken("ccdddd", B_ASYNC, [("destroy", 4)], broken_vplist_dirty, "pointer-async"),
            _broken(
                "ccddddcd", 0, [("destroy", 2), ("head", 8)], broken_vplist_dirty, "pointer-head"
            ),
            _broken("ccdddd", 0, [("lock", 4)], skipping_vplist_dirty, "skipping-lock"),
        )
    },
}


def _failures(s: Seeded, validate: bool | str, strategy: Any, runs: int) -> list[Any]:
    result = explore(
        s.setup,
        s.check,
        at_switch=s.at_switch,
        strategy=strategy,
        validate=validate,
        max_runs=runs,
        stop_at_first=False,
    )
    return list(result.failures)


def _replayed(s: Seeded, schedule: Any, validate: bool | str) -> Any:
    result = explore(
        s.setup,
        s.check,
        at_switch=s.at_switch,
        strategy=Replay(schedule),
        validate=validate,
        max_runs=1,
    )
    return result.failure


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_every_broken_walk_fails_the_same_way_at_the_same_step_in_both_modes(name: str) -> None:
    """Failures found with full checks repeat exactly with incremental ones, and back."""
    s = BROKEN[name]
    found = 0
    for mode, other in ((True, "full"), ("full", True)):
        for strategy in (IterativeBounding(), RandomWalk(seed=1)):
            for failure in _failures(s, mode, strategy, 300)[:20]:
                again = _replayed(s, failure.schedule, other)
                assert again is not None, f"{failure.schedule} passes with validate={other!r}"
                assert type(again.error) is type(failure.error)
                assert str(again.error) == str(failure.error)
                assert again.log == failure.log
                found += 1
    assert found


def test_a_broken_invariant_is_caught_at_the_switch_point_after_the_step_that_broke_it() -> None:
    """The unlocked walk locks a freed page: both modes report it at the first
    switch point after the lock, as an invariant violation."""
    s = SEEDED["unlocked-page-lock"]
    failures = _failures(s, True, IterativeBounding(), 2000)
    violations = [f for f in failures if isinstance(f.error, InvariantViolation)]
    assert violations
    for f in violations:
        assert "is locked by 'walker' but no pvn_vplist_dirty walks its vnode" in str(f.error)
        full = _replayed(s, f.schedule, "full")
        assert (type(full.error), str(full.error), full.log) == (
            type(f.error),
            str(f.error),
            f.log,
        )


def _keys_of(k: Kernel, before: dict[str, Any]) -> set[Any]:
    # The footprint keys that name every object whose state differs from
    # ``before`` (what a primitive making that change would have written:
    # a marker moves under its vnode's list key).
    keys: set[Any] = {MEM}
    for pp in before["all"]:
        if _page_state(pp) != before["pages"].get(id(pp)):
            keys |= {page_key(kind, pp) for kind in ("se", "io", "hat", "pg")}
            for vp in (pp.p_vnode, before["vnode_of"].get(id(pp))):
                if vp is not None:
                    keys.add(list_key(vp))
    for vp in k.vnodes:
        if _vnode_state(k, vp) != before["vnodes"][vp.v_name]:
            keys.add(list_key(vp))
            keys.add(f"v_lock({vp.v_name})")
            keys |= {identity_key(vp, off) for off in k.page_hash.get(vp, {})}
    if k.marker_cache is not None and len(k.marker_cache.outstanding) != before["markers"]:
        keys.add(("kmem", k.marker_cache.name))
    return keys


def _page_state(pp: Any) -> tuple[Any, ...]:
    return (
        pp.p_selock,
        repr(pp.p_sowner),
        pp.p_state,
        pp.p_nrm,
        pp.p_iolock_state,
        pp.p_ioowner,
        repr(pp.p_mapping),
        pp.p_lckcnt,
        pp.p_cowcnt,
        id(pp.p_hash),
        id(pp.p_next),
        id(pp.p_prev),
        id(pp.p_vpnext),
        id(pp.p_vpprev),
        id(pp.p_vnode),
        pp.p_offset,
        pp.p_ewanted,
    )


def _vnode_state(k: Kernel, vp: Any) -> tuple[Any, ...]:
    bucket = k.page_hash.get(vp, {})
    return (vp.v_flag, id(vp.v_pages), tuple(sorted((o, id(p)) for o, p in bucket.items())))


def _snapshot(k: Kernel) -> dict[str, Any]:
    pages = _all_pages(k)  # (markers too)
    return {
        "all": pages,
        "pages": {id(pp): _page_state(pp) for pp in pages},
        "vnode_of": {id(pp): pp.p_vnode for pp in pages},
        "vnodes": {vp.v_name: _vnode_state(k, vp) for vp in k.vnodes},
        "markers": len(k.marker_cache.outstanding) if k.marker_cache is not None else 0,
    }


@pytest.mark.parametrize("seed", range(12))
def test_incremental_check_of_the_changed_objects_agrees_with_the_full_check(seed: int) -> None:
    """Break a valid kernel: checking the objects that changed says no whenever
    check_in_flight raises (it may say no more often: the slow path decides)."""
    rng = random.Random(seed)
    disagreed = caught = 0
    for _ in range(150):
        k = _build(rng)
        if not invariants_hold(k, True):
            continue  # (a random state the validators reject already)
        markers = marker_counts(k)
        before = _snapshot(k)
        _corrupt(k, rng)
        try:
            check_in_flight(k)
        except InvariantViolation:
            broken = True
        except Exception:
            continue  # so broken a plain read fails: the slow path reports it
        else:
            broken = False
        keys = _keys_of(k, before)
        ok = invariants_hold_for(k, Touched(k, keys), dict(markers))
        if broken:
            caught += 1
            assert not ok, f"seed {seed}: an incremental check missed a broken state"
        elif not ok:
            disagreed += 1
    assert caught


def test_touched_objects_resolve_to_pages_and_vnodes() -> None:
    """Keys name pages (by p_id), vnodes (lists, identities, v_lock) and memory."""
    k = Kernel(total_pages=8)
    vp = k.vnode("f")
    pp = make_page(vp, 4096)
    t = Touched(
        k,
        {page_key("se", pp), identity_key(vp, 4096), "v_lock(f)", MEM, ("kmem", "marker_cache")},
    )
    assert t.pages == {pp}
    assert t.vnodes == {vp}
    assert t.memory and t.markers
    vp.v_flag |= VVMLOCK  # a walk without markers is fine
    assert invariants_hold_for(k, t, marker_counts(k))


def test_validate_true_checks_a_run_incrementally_and_in_full_at_the_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At switch points only invariants_hold_for runs (after one full look at
    the state set-up built); the full check runs at the end."""
    import pvnsim.concurrency.run as run_module

    calls: list[str] = []
    real_for, real_full = run_module.invariants_hold_for, run_module.invariants_hold

    def counting_for(*args: Any, **kw: Any) -> bool:
        calls.append("for")
        return real_for(*args, **kw)

    def counting_full(*args: Any, **kw: Any) -> bool:
        calls.append("full")
        return real_full(*args, **kw)

    monkeypatch.setattr(run_module, "invariants_hold_for", counting_for)
    monkeypatch.setattr(run_module, "invariants_hold", counting_full)

    def setup(run: Run) -> None:
        sc = WalkScenario("cddd", 0, [("destroy", 2)])
        run.data = sc.setup(run)

    result = explore(setup, strategy=Replay(""), max_runs=1)
    assert result.ok
    assert calls.count("full") == 1 and calls[0] == "full"
    assert calls.count("for") > 10
