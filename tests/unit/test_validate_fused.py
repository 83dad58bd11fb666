"""The fused fast pass (invariants_hold) agrees with the separate validators.

check_kernel and check_in_flight trust :func:`invariants_hold` when it says
yes and run the separate checks otherwise, so it must never say yes for a
state one of them rejects.  These tests break seeded random kernels in many
ways (links, lock words, flags, counters, hash entries, markers) and compare.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from typing import Any

import pytest

from pvnsim import InvariantViolation, Kernel, make_page, pvn_vplist_dirty
from pvnsim.concurrency import Exhaustive, explore
from pvnsim.concurrency.checks import check_in_flight, check_markers_in_flight
from pvnsim.flags import (
    P_FREE,
    P_MOD,
    P_REF,
    P_RO,
    PAGE_IO_INUSE,
    PAGE_IO_WANTED,
    VMODSORT,
    VVMLOCK,
)
from pvnsim.vm.kmem import kmem_cache_alloc, kmem_cache_free
from pvnsim.vm.page import PVN_VPLIST_HASH_TAG, page_add, page_hashout, page_list_add, page_vpadd
from pvnsim.vm.validate import (
    check_conservation,
    check_hash,
    check_kernel,
    check_lists,
    check_locks,
    check_markers,
    check_vmodsort,
    invariants_hold,
)

ROOMY: dict[str, Any] = dict(
    lotsfree=0, desfree=0, minfree=0, throttlefree=0, pageout_reserve=0, pages_before_pager=0
)

Check = Callable[[Kernel], None]
STRICT: list[Check] = [
    check_lists,
    check_hash,
    check_conservation,
    check_markers,
    check_vmodsort,
    check_locks,
]
IN_FLIGHT: list[Check] = [
    check_lists,
    check_hash,
    check_conservation,
    check_markers_in_flight,
    check_vmodsort,
    check_locks,
]


def _first_failure(checks: list[Check], k: Kernel) -> str | None:
    # In order, stopping at the first: a later check may assume an earlier
    # one passed (the ring walks assume well-formed rings).
    for check in checks:
        try:
            check(k)
        except InvariantViolation as e:
            return str(e)
    return None


def _raised(check: Check, k: Kernel) -> str | None:
    try:
        check(k)
    except InvariantViolation as e:
        return str(e)
    return None


def _build(rng: random.Random) -> Kernel:
    k = Kernel(total_pages=rng.randint(20, 28), **ROOMY)  # room for 3 x 5 + 3 pages
    if rng.random() < 0.5:
        k.pvn_vmodsort_supported = 1
    vnodes = [
        k.vnode(f"v{i}", v_flag=VMODSORT if rng.random() < 0.5 else 0)
        for i in range(rng.randint(1, 3))
    ]
    for vp in vnodes:
        for i in range(rng.randint(0, 5)):
            if rng.random() < 0.3:
                make_page(vp, i * 4096, cached=True)
            else:
                make_page(
                    vp,
                    i * 4096,
                    nrm=rng.choice([0, P_MOD, P_REF, P_MOD | P_REF]),
                    lock=rng.choice([None, None, "S", "SS", "X", "X@other"]),
                    io=rng.choice([None, None, "me"]),
                    at=rng.choice(["head", "tail"]),
                    maps=rng.choice([(), ("r",)]),
                )
    held = [pp for pp in k.pages if pp.p_selock and pp.p_iolock_state & PAGE_IO_INUSE]
    if len(held) >= 2 and rng.random() < 0.5:
        page_add(page_add(None, held[0]), held[1])  # an I/O list of two
    # Pages destroyed: no identity, on the free list.
    for pp in [make_page(vnodes[0], (64 + i) * 4096) for i in range(rng.choice([0, 1, 2, 3]))]:
        page_hashout(pp)
        page_list_add(pp, 0)
    for vp in vnodes:
        if rng.random() < 0.3:
            _walk(k, vp, rng.choice([0, 1, 2]), rng)
    return k


def _walk(k: Kernel, vp: Any, markers: int, rng: random.Random) -> None:
    # A pvn_vplist_dirty walk on vp, as far as the validators see it.
    vp.v_flag |= VVMLOCK
    assert k.marker_cache is not None
    for _ in range(markers):
        mark = kmem_cache_alloc(k.marker_cache, 0)
        mark.p_vnode = vp
        if rng.random() < 0.8:  # else allocated but not yet inserted
            page_vpadd(vp, mark)


PAGE_VALUES: dict[str, list[Any]] = {
    "p_selock": [-2, -1, 0, 1, 2, 3],
    "p_sowner": [None, "main", ["a"], ["a", "b"], ["a", "b", "c"]],
    "p_state": [0, P_FREE],
    "p_nrm": [0, P_MOD, P_REF, P_RO, P_MOD | P_REF],
    "p_iolock_state": [0, PAGE_IO_INUSE],
    "p_mapping": [None, [], ["x"]],
    "p_lckcnt": [0, 1],
    "p_cowcnt": [0, 1],
    "p_hash": [None, PVN_VPLIST_HASH_TAG],
}
COUNTERS = ["freemem", "freelist_count", "cachelist_count", "unused_pages", "kernel_pages"]


def _all_pages(k: Kernel) -> list[Any]:
    out = list(k.pages)
    for vp in k.vnodes:
        head = vp.v_pages
        pp = head
        for _ in range(64):
            if pp is None:
                break
            if pp not in out:
                out.append(pp)  # markers are not in k.pages
            pp = pp.p_vpnext
            if pp is head:
                break
    return out


def _corrupt(k: Kernel, rng: random.Random) -> None:
    pages = _all_pages(k)
    listed = [pp for pp in pages if pp.p_next is not pp]
    if listed and rng.random() < 0.3:
        pages = listed  # a page on the free, cache or an I/O list
    r = rng.random()
    if r < 0.35 and pages:
        field = rng.choice(list(PAGE_VALUES))
        setattr(rng.choice(pages), field, rng.choice(PAGE_VALUES[field]))
    elif r < 0.47 and pages:
        link = rng.choice(["p_next", "p_prev", "p_vpnext", "p_vpprev"])
        setattr(rng.choice(pages), link, rng.choice(pages))
    elif r < 0.57 and pages:
        pp = rng.choice(pages)
        if rng.random() < 0.5:
            pp.p_vnode = rng.choice([None, *k.vnodes])
        else:
            pp.p_offset = rng.choice([0, 4096, 8192, 12345])
    elif r < 0.65:
        counter = rng.choice(COUNTERS)
        setattr(k, counter, getattr(k, counter) + rng.choice([-1, 1]))
    elif r < 0.72:
        rng.choice(k.vnodes).v_flag ^= rng.choice([VVMLOCK, VMODSORT])
    elif r < 0.78:
        bucket = k.page_hash.setdefault(rng.choice(k.vnodes), {})
        if bucket and rng.random() < 0.5:
            del bucket[rng.choice(list(bucket))]
        elif pages:
            bucket[rng.choice([0, 4096, 40960])] = rng.choice(pages)
    elif r < 0.8:
        assert k.marker_cache is not None
        kmem_cache_alloc(k.marker_cache, 0)
    elif r < 0.83:
        _walk(k, rng.choice(k.vnodes), 1, rng)
    elif r < 0.85:
        marks = [pp for pp in pages if pp.p_hash is PVN_VPLIST_HASH_TAG]
        cache = k.marker_cache
        if marks and cache is not None and id(marks[0]) in cache.outstanding:
            kmem_cache_free(cache, marks[0])  # still on its list
    elif r < 0.88 and pages:
        with contextlib.suppress(Exception):  # the hash may be broken already
            page_hashout(rng.choice(pages))  # identity gone, page kept
    elif r < 0.91 and pages:
        rng.choice(pages).p_state ^= P_FREE
    elif r < 0.95 and pages:
        _splice(rng.choice(pages), "p_next", "p_prev")
    elif pages:
        _splice(rng.choice(pages), "p_vpnext", "p_vpprev")


def _splice(pp: Any, nxt: str, prv: str) -> None:
    # Take pp out of its ring the way the list code would (the ring stays
    # well formed, pp becomes a ring of one), whatever it was on.
    after, before = getattr(pp, nxt), getattr(pp, prv)
    setattr(before, nxt, after)
    setattr(after, prv, before)
    setattr(pp, nxt, pp)
    setattr(pp, prv, pp)


def _agree(k: Kernel, intact: bool) -> bool:
    """Compare for both marker rules; True when the state is broken."""
    strict = _first_failure(STRICT, k)
    assert _raised(check_kernel, k) == strict
    if strict is not None:
        assert not invariants_hold(k)
    elif intact:
        assert invariants_hold(k)  # no detour through the slow path for real states
    flight = _first_failure(IN_FLIGHT, k)
    assert _raised(check_in_flight, k) == flight
    if flight is not None:
        assert not invariants_hold(k, True)
    elif intact:
        assert invariants_hold(k, True)
    return strict is not None or flight is not None


def _rich() -> tuple[Kernel, dict[str, Any]]:
    """A valid kernel with a bit of everything: dirty, cached, locked and
    i/o-locked pages, an I/O list of three, a free list of three, a sorted
    VMODSORT vnode."""
    k = Kernel(total_pages=40, **ROOMY)
    k.pvn_vmodsort_supported = 1
    v1 = k.vnode("v1")
    v2 = k.vnode("v2", v_flag=VMODSORT)
    p: dict[str, Any] = {"v1": v1, "v2": v2}
    p["dirty"] = make_page(v1, 0, nrm=P_MOD | P_REF)
    p["cached"] = make_page(v1, 4096, cached=True)
    make_page(v1, 8192, cached=True)
    p["io1"] = make_page(v1, 12288, lock="X", io="me")
    p["io2"] = make_page(v1, 16384, lock="X", io="me")
    p["io3"] = make_page(v1, 20480, lock="S", io="me")
    p["shared2"] = make_page(v1, 24576, lock="SS")
    p["idle"] = make_page(v1, 28672)
    page_add(page_add(page_add(None, p["io1"]), p["io2"]), p["io3"])
    p["clean"] = make_page(v2, 0, nrm=P_REF)
    make_page(v2, 4096, nrm=P_REF, at="tail")
    make_page(v2, 8192, nrm=P_MOD, at="tail")
    dead = [make_page(v1, (64 + i) * 4096) for i in range(3)]
    for pp in dead:
        page_hashout(pp)
        page_list_add(pp, 0)
    p["dead"] = dead
    check_kernel(k)
    assert invariants_hold(k) and invariants_hold(k, True)
    return k, p


def _marks(k: Kernel, vp: Any, n: int) -> list[Any]:
    assert k.marker_cache is not None
    out = []
    for _ in range(n):
        mark = kmem_cache_alloc(k.marker_cache, 0)
        mark.p_vnode = vp
        page_vpadd(vp, mark)
        out.append(mark)
    return out


def _two_walks(k: Kernel, p: dict[str, Any]) -> None:
    p["v1"].v_flag |= VVMLOCK
    p["v2"].v_flag |= VVMLOCK


def _set(name: str, field: str, value: Any) -> Callable[[Kernel, dict[str, Any]], None]:
    def brk(k: Kernel, p: dict[str, Any]) -> None:
        setattr(p[name], field, value)

    return brk


def _b_io_ring(k: Kernel, p: dict[str, Any]) -> None:
    p["io2"].p_prev = p["io2"]


def _b_free_splice(k: Kernel, p: dict[str, Any]) -> None:
    _splice(p["dead"][1], "p_next", "p_prev")


def _b_free_stray(k: Kernel, p: dict[str, Any]) -> None:
    # An identity-less page marked free but on no list (freemem unchanged).
    pp = make_page(p["v1"], 200 * 4096)
    page_hashout(pp)
    pp.p_state |= P_FREE


def _b_lost_on_io_list(k: Kernel, p: dict[str, Any]) -> None:
    page_hashout(p["io3"])  # shared-locked, on an I/O list, no identity


def _b_cached_loses_identity(k: Kernel, p: dict[str, Any]) -> None:
    page_hashout(p["cached"])


def _b_dead_gains_identity(k: Kernel, p: dict[str, Any]) -> None:
    p["dead"][1].p_vnode = p["v1"]


def _b_lost(k: Kernel, p: dict[str, Any]) -> None:
    page_hashout(p["idle"])


def _b_three_markers(k: Kernel, p: dict[str, Any]) -> None:
    _two_walks(k, p)
    _marks(k, p["v1"], 3)


def _b_marker_freed_on_list(k: Kernel, p: dict[str, Any]) -> None:
    p["v1"].v_flag |= VVMLOCK
    mark = _marks(k, p["v1"], 1)[0]
    assert k.marker_cache is not None
    kmem_cache_free(k.marker_cache, mark)


def _b_marker_without_walk(k: Kernel, p: dict[str, Any]) -> None:
    _marks(k, p["v1"], 1)


def _b_markers_out_beyond_walks(k: Kernel, p: dict[str, Any]) -> None:
    p["v1"].v_flag |= VVMLOCK
    assert k.marker_cache is not None
    for _ in range(3):
        kmem_cache_alloc(k.marker_cache, 0)


def _b_misorder(k: Kernel, p: dict[str, Any]) -> None:
    p["clean"].p_nrm |= P_MOD


def _b_free_locked_without_walk(k: Kernel, p: dict[str, Any]) -> None:
    p["cached"].p_selock = 1
    p["cached"].p_sowner = "x"


def _b_hash_missing(k: Kernel, p: dict[str, Any]) -> None:
    del k.page_hash[p["v1"]][0]


def _b_hash_extra(k: Kernel, p: dict[str, Any]) -> None:
    k.page_hash[p["v1"]][999 * 4096] = p["dirty"]


def _b_hash_other_vnode(k: Kernel, p: dict[str, Any]) -> None:
    k.page_hash[p["v2"]][999 * 4096] = p["dirty"]


def _b_vp_link(k: Kernel, p: dict[str, Any]) -> None:
    p["dirty"].p_vpprev = p["dirty"]


def _b_vp_splice(k: Kernel, p: dict[str, Any]) -> None:
    _splice(p["idle"], "p_vpnext", "p_vpprev")


def _b_counter(name: str, delta: int) -> Callable[[Kernel, dict[str, Any]], None]:
    def brk(k: Kernel, p: dict[str, Any]) -> None:
        setattr(k, name, getattr(k, name) + delta)

    return brk


BREAKERS: dict[str, Callable[[Kernel, dict[str, Any]], None]] = {
    "I/O ring link": _b_io_ring,
    "I/O page without i/o lock": _set("io2", "p_iolock_state", 0),
    "I/O page unlocked": _set("io2", "p_selock", 0),
    "lost on an I/O list": _b_lost_on_io_list,
    "free list splice": _b_free_splice,
    "stray free page": _b_free_stray,
    "stray cached page": _set("idle", "p_state", P_FREE),
    "cached page loses identity": _b_cached_loses_identity,
    "identity on the free list": _b_dead_gains_identity,
    "lost page": _b_lost,
    "three markers": _b_three_markers,
    "marker freed on its list": _b_marker_freed_on_list,
    "marker without a walk": _b_marker_without_walk,
    "markers out beyond the walks": _b_markers_out_beyond_walks,
    "VMODSORT order": _b_misorder,
    "free page locked without a walk": _b_free_locked_without_walk,
    "free page lckcnt": _set("cached", "p_lckcnt", 1),
    "free page cowcnt": _set("cached", "p_cowcnt", 1),
    "free page mapped": _set("cached", "p_mapping", ["x"]),
    "free page referenced": _set("cached", "p_nrm", P_REF),
    "free page i/o locked": _set("cached", "p_iolock_state", PAGE_IO_INUSE),
    "invalid lock word": _set("dirty", "p_selock", -2),
    "unlocked with a holder": _set("dirty", "p_sowner", "x"),
    "readers miscounted": _set("shared2", "p_sowner", ["a"]),
    "marker tag on a page": _set("dirty", "p_hash", PVN_VPLIST_HASH_TAG),
    "hash entry missing": _b_hash_missing,
    "hash entry extra": _b_hash_extra,
    "hash entry of another vnode": _b_hash_other_vnode,
    "v_pages link": _b_vp_link,
    "v_pages splice": _b_vp_splice,
    "foreign page on v_pages": _set("dirty", "p_vnode", None),
    "freemem": _b_counter("freemem", 1),
    "total_pages": _b_counter("total_pages", 1),
    "freelist_count": _b_counter("freelist_count", 1),
    "cachelist_count": _b_counter("cachelist_count", -1),
}


@pytest.mark.parametrize("name", list(BREAKERS))
def test_fused_pass_sees_each_kind_of_breakage(name: str) -> None:
    """One invariant broken at a time in a rich kernel: the fast pass says no
    for every marker rule under which a validator raises, and
    check_kernel/check_in_flight raise what the separate checks raise."""
    k, p = _rich()
    BREAKERS[name](k, p)
    assert _agree(k, intact=False)


@pytest.mark.parametrize("seed", range(4))
def test_fused_pass_never_accepts_what_a_validator_rejects(seed: int) -> None:
    """Random kernels, each broken a few times: the fast pass says no whenever
    a validator would raise, and check_kernel/check_in_flight raise its message."""
    rng = random.Random(seed)
    broken = 0
    for _ in range(600):
        k = _build(rng)
        _agree(k, intact=True)
        for _ in range(rng.randint(1, 3)):
            _corrupt(k, rng)
            broken += _agree(k, intact=False)
    assert broken > 600  # the corruptions do break things


def test_a_free_page_waited_on_is_left_to_the_slow_path() -> None:
    """A free page with only PAGE_IO_WANTED set passes the validators; the fast
    pass is conservative about it (says no), and check_kernel still passes."""
    k = Kernel(total_pages=8)
    pp = make_page(k.vnode("v1"), 0, cached=True)
    pp.p_iolock_state = PAGE_IO_WANTED
    assert not invariants_hold(k)
    check_kernel(k)


def test_fast_pass_holds_at_every_switch_of_a_walk() -> None:
    """Along explored interleavings of a walk against a page destroyer, the
    fast pass answers yes at every switch point (validation stays cheap)."""
    from pvnsim import pvn_write_done
    from pvnsim.flags import B_WRITE, SE_EXCL
    from pvnsim.vm import page_destroy, page_lookup

    answers: list[bool] = []

    def put(vp: Any, pp: Any, offp: Any, lenp: Any, flags: int, cred: Any) -> int:
        pvn_write_done(pp, B_WRITE | flags)
        return 0

    def destroy(vp: Any) -> None:
        pp = page_lookup(vp, 8 * 4096, SE_EXCL)
        if pp is not None:
            page_destroy(pp, 0)

    def setup(run: Any) -> None:
        k = run.attach(Kernel(total_pages=32, **ROOMY))
        vp = k.vnode("f")
        for i in range(16):
            make_page(vp, i * 4096, nrm=P_MOD)
        run.spawn(pvn_vplist_dirty, vp, 0, put, 0, None, name="walker")
        run.spawn(destroy, vp, name="destroyer")

    result = explore(
        setup,
        strategy=Exhaustive(preemption_bound=1),
        max_runs=30,
        at_switch=lambda run: answers.append(invariants_hold(run.kernel, True)),
    )
    assert result.ok
    assert len(answers) > 1000
    assert all(answers)
