"""Branch-by-branch tests of pvn_io_done, pvn_read_done, pvn_write_done and pvn_getdirty.

Every expectation is worked out from /work/shared/illumos/vm_pvn.c (lines
304-338, 359-565 and 580-684) and the primitive contracts of semantics.md
sections 4, 5 and 7, never from running pvnsim.  PAGESIZE is 4096.  Pages
headed for pvn_write_done are prepared as the C's callers prepare them:
locked, then accepted by pvn_getdirty (5.2, 6.0).
"""

from __future__ import annotations

import pytest

from pvnsim import (
    DeadlockError,
    Kernel,
    SegMap,
    UsageError,
    check_kernel,
    make_page,
    pvn_getdirty,
    pvn_io_done,
    pvn_read_done,
    pvn_read_kluster,
    pvn_write_done,
    pvn_write_kluster,
)
from pvnsim.flags import (
    B_ASYNC,
    B_DELWRI,
    B_DONTNEED,
    B_ERROR,
    B_FORCE,
    B_FREE,
    B_INVAL,
    B_READ,
    B_TRUNC,
    B_WRITE,
    P_FREE,
    P_MOD,
    P_REF,
    P_RO,
    PAGE_IO_INUSE,
    VISSWAPFS,
    VMODSORT,
    VVMEXEC,
)
from pvnsim.kernel import VmStats
from pvnsim.vm import hat_map, hat_touch, page_io_unlock, ring
from pvnsim.vm.describe import vnode_pages

ZERO_STATS = VmStats().as_dict()


def prims(t) -> list[str]:
    """The primitive calls of a trace as text."""
    return [e.format() for e in t.filter(kind="prim", nested=False)]


def offsets(pages) -> list[int]:
    """The offsets of a list of pages."""
    return [p.p_offset for p in pages]


def stats(**changed: int) -> dict[str, int]:
    """The vm counters expected after a call: all zero except ``changed``."""
    return {**ZERO_STATS, **changed}


def tight_kernel(**kw) -> Kernel:
    """64 pages, lotsfree 10: with the default pages_before_pager (200) write_free always triggers."""
    args = dict(
        total_pages=64,
        lotsfree=10,
        desfree=0,
        minfree=0,
        throttlefree=0,
        pageout_reserve=0,
    )
    args.update(kw)
    return Kernel(**args)


def getdirty_lock(flags: int) -> str:
    """The lock a putpage caller holds before pvn_getdirty: EXCL for B_INVAL/B_FREE (L583-584)."""
    return "X" if flags & (B_INVAL | B_FREE) else "S"


def dirty_page(vp, off: int, flags: int, **kw):
    """A page locked as a putpage caller locks it and accepted by pvn_getdirty(pp, flags)."""
    kw.setdefault("nrm", P_MOD | P_REF)
    pp = make_page(vp, off, lock=getdirty_lock(flags), **kw)
    assert pvn_getdirty(pp, flags) == 1
    return pp


def is_cached(pp, vp) -> bool:
    """On the cache list with its identity, unlocked, no i/o lock."""
    return (
        bool(pp.p_state & P_FREE)
        and pp.p_vnode is vp
        and pp.p_selock == 0
        and not pp.p_iolock_state & PAGE_IO_INUSE
    )


def is_destroyed(pp, vp, off: int) -> bool:
    """Identity gone and on the free list."""
    return pp.p_vnode is None and off not in vp.kernel.page_hash[vp] and bool(pp.p_state & P_FREE)


def is_idle(pp) -> bool:
    """Resident, not free, unlocked and not i/o-locked."""
    return not pp.p_state & P_FREE and pp.p_selock == 0 and not pp.p_iolock_state & PAGE_IO_INUSE


# ---------------------------------------------------------------------------
# pvn_io_done


def test_io_done_unlocks_every_page_in_list_order(roomy):
    """pvn_io_done removes each page from the head, then drops its i/o lock and page lock.

    Why: L309-314; pages stay resident and in use (no free, no destroy),
    each becomes a one-element ring (page_sub, 4.1).
    """
    k = roomy
    vp = k.vnode("v1")
    kl = pvn_read_kluster(vp, 0, SegMap(k, "s1"), 0x10000, 0, 12288, 0)
    assert kl is not None
    pages = kl.pages
    free_after_read = k.freemem
    t = k.trace_on()
    pvn_io_done(kl.plist)
    assert prims(t) == [
        "page_sub(v1@0x0, v1@0x0) = v1@0x1000",
        "page_io_unlock(v1@0x0)",
        "page_unlock(v1@0x0)",
        "page_sub(v1@0x1000, v1@0x1000) = v1@0x2000",
        "page_io_unlock(v1@0x1000)",
        "page_unlock(v1@0x1000)",
        "page_sub(v1@0x2000, v1@0x2000) = NULL",
        "page_io_unlock(v1@0x2000)",
        "page_unlock(v1@0x2000)",
    ]
    for p in pages:
        assert is_idle(p) and p.p_next is p, p.name
    assert k.freemem == free_after_read
    check_kernel(k)


def test_io_done_empty_list_does_nothing(roomy):
    """A NULL list is a no-op.

    Why: L309 loop condition is false at once.
    """
    k = roomy
    before = k.snapshot()
    pvn_io_done(None)
    assert k.snapshot().diff(before) == []


# ---------------------------------------------------------------------------
# pvn_read_done


def test_read_done_error_destroys_every_page(roomy):
    """B_ERROR: each page is io-unlocked and destroyed (identity gone, back on the free list).

    Why: L331-333 VN_DISPOSE(pp, B_INVAL, 0, kcred) -> fs_dispose ->
    page_destroy(pp, 0) (4.5); freemem returns to its value before the read.
    """
    k = roomy
    vp = k.vnode("v1")
    free0 = k.freemem
    kl = pvn_read_kluster(vp, 0, SegMap(k, "s1"), 0x10000, 0, 8192, 0)
    assert kl is not None
    pages = kl.pages
    t = k.trace_on()
    pvn_read_done(kl.plist, B_READ | B_ERROR)
    assert prims(t) == [
        "page_sub(v1@0x0, v1@0x0) = v1@0x1000",
        "page_io_unlock(v1@0x0)",
        "VN_DISPOSE(v1@0x0, B_INVAL, 0)",
        "page_sub(v1@0x1000, v1@0x1000) = NULL",
        "page_io_unlock(v1@0x1000)",
        "VN_DISPOSE(v1@0x1000, B_INVAL, 0)",
    ]
    for p, off in zip(pages, (0, 4096), strict=True):
        assert is_destroyed(p, vp, off)
    assert vp.v_pages is None
    assert k.freemem == free0
    check_kernel(k)


def test_read_done_releases_unmapped_pages_to_cache_and_unlocks_mapped_ones(roomy):
    """Without B_ERROR page_release(pp, 0) caches unmapped pages (in list order) and only unlocks mapped ones.

    Why: L335 page_release(pp, 0); 4.5: an unmapped, non-swap page that can
    be held EXCL (already EXCL here) is VN_DISPOSE(B_FREE, 0)'d to the cache
    list tail -> PGREL_CLEAN; a mapped page is page_unlock'ed -> PGREL_NOTREL.
    Flag bits other than B_ERROR (B_READ|B_ASYNC here) do not matter (5.4).
    """
    k = roomy
    vp = k.vnode("v1")
    free0 = k.freemem
    kl = pvn_read_kluster(vp, 0, SegMap(k, "s1"), 0x10000, 0, 12288, 0)
    assert kl is not None
    p0, p4, p8 = kl.pages
    hat_map(p4)
    t = k.trace_on()
    pvn_read_done(kl.plist, B_READ | B_ASYNC)
    assert prims(t) == [
        "page_sub(v1@0x0, v1@0x0) = v1@0x1000",
        "page_io_unlock(v1@0x0)",
        "page_release(v1@0x0, 0) = PGREL_CLEAN",
        "page_sub(v1@0x1000, v1@0x1000) = v1@0x2000",
        "page_io_unlock(v1@0x1000)",
        "page_release(v1@0x1000, 0) = PGREL_NOTREL",
        "page_sub(v1@0x2000, v1@0x2000) = NULL",
        "page_io_unlock(v1@0x2000)",
        "page_release(v1@0x2000, 0) = PGREL_CLEAN",
    ]
    assert is_cached(p0, vp) and is_cached(p8, vp)
    assert ring(k.page_cachelist) == [p0, p8]
    assert is_idle(p4) and p4.p_mapping is not None
    assert k.freemem == free0 - 1
    check_kernel(k)


def test_read_done_ignores_the_mod_bit(roomy):
    """A modified, unmapped page is still freed by pvn_read_done (checkmod is 0).

    Why: semantics.md 7.29; L335 passes checkmod 0 to page_release, so the
    P_MOD test of 4.5 is skipped and the page goes to the cache list, where
    page_free clears REF/MOD.
    """
    k = roomy
    vp = k.vnode("v1")
    pp = make_page(vp, 0, nrm=P_MOD | P_REF, lock="X", io="me")
    pvn_read_done(pp, 0)
    assert is_cached(pp, vp)
    assert pp.p_nrm == 0
    check_kernel(k)


def test_read_done_empty_list_does_nothing(roomy):
    """A NULL list is a no-op, with or without B_ERROR.

    Why: L327 loop condition is false at once.
    """
    k = roomy
    before = k.snapshot()
    pvn_read_done(None, B_ERROR)
    pvn_read_done(None, 0)
    assert k.snapshot().diff(before) == []


# ---------------------------------------------------------------------------
# pvn_getdirty


@pytest.mark.parametrize(("lck", "cow"), [(1, 0), (0, 1)], ids=["lckcnt", "cowcnt"])
@pytest.mark.parametrize(
    "flags",
    [B_INVAL, B_FREE, B_FREE | B_ASYNC, B_INVAL | B_DELWRI, B_FREE | B_DONTNEED],
    ids=["B_INVAL", "B_FREE", "B_FREE|B_ASYNC", "B_INVAL|B_DELWRI", "B_FREE|B_DONTNEED"],
)
def test_getdirty_logically_locked_page_is_only_unlocked(roomy, lck, cow, flags):
    """Freeing or invalidating a p_lckcnt/p_cowcnt page: unlock it and return 0, nothing else.

    Why: L592-596; no i/o lock, no HAT call, bits and translations untouched.
    """
    k = roomy
    vp = k.vnode("v1")
    pp = make_page(vp, 0, nrm=P_MOD | P_REF, maps=("rm",), lckcnt=lck, cowcnt=cow, lock="X")
    t = k.trace_on()
    assert pvn_getdirty(pp, flags) == 0
    assert prims(t) == ["page_unlock(v1@0x0)"]
    assert is_idle(pp)
    assert pp.p_nrm == P_MOD | P_REF
    assert [m.hw for m in pp.p_mapping] == [P_MOD | P_REF]
    assert (pp.p_lckcnt, pp.p_cowcnt) == (lck, cow)
    check_kernel(k)


def test_getdirty_lckcnt_does_not_matter_for_plain_write_back(roomy):
    """Without B_INVAL/B_FREE a logically locked dirty page is written like any other.

    Why: the L592 test needs flags & (B_INVAL|B_FREE); the page goes on to
    L616 and L669 and 1 is returned.
    """
    k = roomy
    vp = k.vnode("v1")
    pp = make_page(vp, 0, nrm=P_MOD, lckcnt=1, cowcnt=1, lock="S")
    assert pvn_getdirty(pp, 0) == 1
    assert pp.p_selock == 1 and pp.p_iolock_state & PAGE_IO_INUSE
    assert not pp.p_nrm & (P_REF | P_MOD)
    check_kernel(k)


def test_getdirty_trunc_overrides_lckcnt_and_destroys(roomy):
    """B_INVAL|B_TRUNC destroys even a logically locked dirty page, without writing it.

    Why: L592 skips the lckcnt test when B_TRUNC|B_FORCE is set; L616 blocking
    io lock (no B_DELWRI/B_ASYNC); L630 unload; L635 B_TRUNC -> L640 io
    unlock and L643 VN_DISPOSE(B_INVAL) -> page_destroy(pp, 0), which zeroes
    p_lckcnt/p_cowcnt before freeing (4.5); returns 0.
    """
    k = roomy
    vp = k.vnode("v1")
    free0 = k.freemem
    pp = make_page(vp, 0, nrm=P_MOD, maps=("rm",), lckcnt=2, lock="X")
    t = k.trace_on()
    assert pvn_getdirty(pp, B_INVAL | B_TRUNC) == 0
    assert prims(t) == [
        "page_io_lock(v1@0x0)",
        "hat_pageunload(v1@0x0, HAT_FORCE_PGUNLOAD) = 0",
        "hat_ismod(v1@0x0) = P_MOD",
        "page_io_unlock(v1@0x0)",
        "VN_DISPOSE(v1@0x0, B_INVAL, 0)",
    ]
    assert is_destroyed(pp, vp, 0)
    assert (pp.p_lckcnt, pp.p_cowcnt) == (0, 0)
    assert k.freemem == free0
    check_kernel(k)


@pytest.mark.parametrize(
    ("flags", "want_selock"),
    [(B_INVAL | B_FORCE, -1), (B_FREE | B_FORCE, 1)],
    ids=["B_INVAL|B_FORCE", "B_FREE|B_FORCE"],
)
def test_getdirty_force_overrides_lckcnt_and_writes(roomy, flags, want_selock):
    """With B_FORCE a logically locked dirty page is accepted for writing.

    Why: L592 skips the lckcnt/cowcnt test with B_FORCE; the page is unloaded
    (L630), dirty (L635 false), REF/MOD cleared (L669), downgraded only for
    B_FREE (L677-678); returns 1 with the i/o lock held.
    """
    k = roomy
    vp = k.vnode("v1")
    pp = make_page(vp, 0, nrm=P_MOD, maps=("-",), lckcnt=1, cowcnt=1, lock="X")
    assert pvn_getdirty(pp, flags) == 1
    assert pp.p_selock == want_selock
    assert pp.p_iolock_state & PAGE_IO_INUSE and pp.p_ioowner == "main"
    assert pp.p_mapping is None
    assert not pp.p_nrm & (P_REF | P_MOD)
    check_kernel(k)


@pytest.mark.parametrize(
    "flags",
    [
        B_DELWRI,
        B_ASYNC,
        B_ASYNC | B_FREE,
        B_DELWRI | B_INVAL,
        B_DELWRI | B_FREE,
        B_ASYNC | B_DONTNEED,
    ],
    ids=[
        "B_DELWRI",
        "B_ASYNC",
        "B_ASYNC|B_FREE",
        "B_DELWRI|B_INVAL",
        "B_DELWRI|B_FREE",
        "B_ASYNC|B_DONTNEED",
    ],
)
def test_getdirty_trylock_failure_unlocks_and_returns_0(roomy, flags):
    """With B_DELWRI, or B_ASYNC without B_INVAL, a busy i/o lock makes pvn_getdirty give up.

    Why: L610-614: page_io_trylock fails -> page_unlock, return 0; nothing
    else is touched (the current i/o will deal with the page).
    """
    k = roomy
    vp = k.vnode("v1")
    pp = make_page(vp, 0, nrm=P_MOD, maps=("m",), lock=getdirty_lock(flags), io="other")
    t = k.trace_on()
    assert pvn_getdirty(pp, flags) == 0
    assert prims(t) == ["page_io_trylock(v1@0x0) = 0", "page_unlock(v1@0x0)"]
    assert pp.p_selock == 0
    assert pp.p_iolock_state & PAGE_IO_INUSE and pp.p_ioowner == "other"
    assert pp.p_nrm == P_MOD and [m.hw for m in pp.p_mapping] == [P_MOD]
    page_io_unlock(pp)  # the other thread's i/o completes (an i/o lock needs a page lock)
    check_kernel(k)


@pytest.mark.parametrize(
    "flags",
    [0, B_INVAL, B_FREE, B_ASYNC | B_INVAL, B_TRUNC],
    ids=["0", "B_INVAL", "B_FREE", "B_ASYNC|B_INVAL", "B_TRUNC"],
)
def test_getdirty_blocking_io_lock_waits_for_other_thread(roomy, flags):
    """Without B_DELWRI and unless B_ASYNC without B_INVAL, pvn_getdirty waits for the i/o lock.

    Why: L615-616 page_io_lock blocks while another thread holds the i/o
    lock (4.3); single-threaded that is a DeadlockError raised before any
    change, the trace showing the call as WOULDBLOCK.
    """
    k = roomy
    vp = k.vnode("v1")
    pp = make_page(vp, 0, nrm=P_MOD, maps=("m",), lock=getdirty_lock(flags), io="other")
    t = k.trace_on()
    with pytest.raises(DeadlockError):
        pvn_getdirty(pp, flags)
    assert prims(t) == ["page_io_lock(v1@0x0) = WOULDBLOCK"]
    assert pp.p_selock == (-1 if flags & (B_INVAL | B_FREE) else 1)
    assert pp.p_ioowner == "other"
    assert pp.p_nrm == P_MOD and [m.hw for m in pp.p_mapping] == [P_MOD]
    page_io_unlock(pp)  # the other thread's i/o completes
    check_kernel(k)


@pytest.mark.parametrize(
    ("flags", "want_selock", "want_maps"),
    [(0, 1, [0, 0]), (B_FREE, 1, None), (B_INVAL, -1, None)],
    ids=["0", "B_FREE", "B_INVAL"],
)
def test_getdirty_unload_for_free_or_inval_sync_for_write_back(
    roomy, flags, want_selock, want_maps
):
    """B_INVAL/B_FREE unload every translation; a write-back keeps them and only syncs and zeroes the hardware bits.

    Why: L629-633.  The page is clean in software but a translation has its
    hardware mod bit: hat_pageunload and hat_pagesync(ZERORM) both fold the
    hardware bits into p_nrm (4.6), so L635 sees it dirty, L669 clears
    REF/MOD, and 1 is returned.  ZERORM leaves the translations with clear
    hardware bits.
    """
    k = roomy
    vp = k.vnode("v1")
    pp = make_page(vp, 0, nrm=0, maps=("m", "r"), lock=getdirty_lock(flags))
    assert pvn_getdirty(pp, flags) == 1
    assert pp.p_selock == want_selock
    if want_maps is None:
        assert pp.p_mapping is None
    else:
        assert [m.hw for m in pp.p_mapping] == want_maps
    assert not pp.p_nrm & (P_REF | P_MOD)
    assert pp.p_iolock_state & PAGE_IO_INUSE
    check_kernel(k)


def test_getdirty_clean_page_invalidated_is_destroyed(roomy):
    """A clean page under B_INVAL is destroyed and 0 returned.

    Why: L635 !hat_ismod -> L640 io unlock, L641-643 VN_DISPOSE(B_INVAL, 0).
    """
    k = roomy
    vp = k.vnode("v1")
    free0 = k.freemem
    pp = make_page(vp, 0, nrm=P_REF, maps=("r",), lock="X")
    t = k.trace_on()
    assert pvn_getdirty(pp, B_INVAL) == 0
    assert prims(t) == [
        "page_io_lock(v1@0x0)",
        "hat_pageunload(v1@0x0, HAT_FORCE_PGUNLOAD) = 0",
        "hat_ismod(v1@0x0) = 0",
        "page_io_unlock(v1@0x0)",
        "VN_DISPOSE(v1@0x0, B_INVAL, 0)",
    ]
    assert is_destroyed(pp, vp, 0)
    assert k.freemem == free0
    check_kernel(k)


@pytest.mark.parametrize("dontneed", [False, True], ids=["tail", "B_DONTNEED-head"])
def test_getdirty_clean_page_freed_to_cache(roomy, dontneed):
    """A clean page under B_FREE is freed to the cache list: at the tail, or the head with B_DONTNEED.

    Why: L644-646 VN_DISPOSE(pp, B_FREE, flags & B_DONTNEED) -> page_free
    (4.5: head when dontneed != 0, else tail); the page was unloaded at L630.
    """
    k = roomy
    vp = k.vnode("v1")
    old = make_page(vp, 40960, cached=True)
    pp = make_page(vp, 0, nrm=P_REF, maps=("r",), lock="X")
    flags = B_FREE | (B_DONTNEED if dontneed else 0)
    t = k.trace_on()
    assert pvn_getdirty(pp, flags) == 0
    dn = 8192 if dontneed else 0
    assert prims(t)[-1] == f"VN_DISPOSE(v1@0x0, B_FREE, {dn})"
    assert is_cached(pp, vp) and pp.p_mapping is None
    assert ring(k.page_cachelist) == ([pp, old] if dontneed else [old, pp])
    check_kernel(k)


@pytest.mark.parametrize(
    ("flags", "lock", "maps", "result", "first"),
    [
        (0, "S", (), "PGREL_CLEAN", "page_io_lock(v1@0x0)"),
        (B_ASYNC, "S", (), "PGREL_CLEAN", "page_io_trylock(v1@0x0) = 1"),
        (0, "S", ("r",), "PGREL_NOTREL", "page_io_lock(v1@0x0)"),
        (0, "SS", (), "PGREL_NOTREL", "page_io_lock(v1@0x0)"),
    ],
    ids=["unmapped", "async-unmapped", "mapped", "second-reader"],
)
def test_getdirty_clean_page_advisory_release(roomy, flags, lock, maps, result, first):
    """Neither B_INVAL nor B_FREE: a clean page goes through page_release(pp, 1), freed only if unmapped and unshared.

    Why: L647-660 page_release(pp, 1) (4.5): an unmapped page whose single
    shared hold can be upgraded is freed (PGREL_CLEAN); a mapped page, or one
    with a second reader (page_tryupgrade fails), is only unlocked
    (PGREL_NOTREL).  The write-back path syncs with ZERORM (L632).
    """
    k = roomy
    vp = k.vnode("v1")
    pp = make_page(vp, 0, nrm=P_REF, maps=maps, lock=lock)
    t = k.trace_on()
    assert pvn_getdirty(pp, flags) == 0
    want_sync = "P_REF"
    assert prims(t) == [
        first,
        f"hat_pagesync(v1@0x0, HAT_SYNC_ZERORM) = {want_sync}",
        "hat_ismod(v1@0x0) = 0",
        "page_io_unlock(v1@0x0)",
        f"page_release(v1@0x0, 1) = {result}",
    ]
    if result == "PGREL_CLEAN":
        assert is_cached(pp, vp)
    elif lock == "SS":
        assert pp.p_selock == 1 and pp.p_sowner == "other"
        assert not pp.p_state & P_FREE
    else:
        assert is_idle(pp) and pp.p_mapping is not None
    check_kernel(k)


@pytest.mark.parametrize(
    ("flags", "outcome", "last"),
    [
        (B_INVAL | B_TRUNC, "destroyed", "VN_DISPOSE(v1@0x0, B_INVAL, 0)"),
        (B_FREE | B_TRUNC, "cached", "VN_DISPOSE(v1@0x0, B_FREE, 0)"),
        (B_TRUNC, "kept-dirty", "page_release(v1@0x0, 1) = PGREL_MOD"),
    ],
    ids=["B_INVAL|B_TRUNC", "B_FREE|B_TRUNC", "B_TRUNC"],
)
def test_getdirty_trunc_on_dirty_page_skips_the_write(roomy, flags, outcome, last):
    """B_TRUNC treats a dirty page as clean: destroyed, freed, or (alone) released with checkmod.

    Why: L635 `|| (flags & B_TRUNC)` -> L640-662 return 0 without I/O.
    B_TRUNC alone reaches page_release(pp, 1), which finds the software mod
    bit still set after the ZERORM sync and only unlocks the page, returning
    PGREL_MOD (4.5).
    """
    k = roomy
    vp = k.vnode("v1")
    pp = make_page(vp, 0, nrm=P_MOD | P_REF, lock=getdirty_lock(flags))
    t = k.trace_on()
    assert pvn_getdirty(pp, flags) == 0
    assert prims(t)[-1] == last
    assert not pp.p_iolock_state & PAGE_IO_INUSE
    if outcome == "destroyed":
        assert is_destroyed(pp, vp, 0)
    elif outcome == "cached":
        assert is_cached(pp, vp) and pp.p_nrm == 0
    else:
        assert is_idle(pp) and pp.p_nrm & P_MOD
    check_kernel(k)


@pytest.mark.parametrize(
    ("flags", "want_selock"),
    [
        (0, 1),
        (B_ASYNC, 1),
        (B_DELWRI, 1),
        (B_FREE, 1),
        (B_FREE | B_DONTNEED, 1),
        (B_INVAL, -1),
        (B_INVAL | B_ASYNC, -1),
        (B_INVAL | B_FREE, 1),
    ],
    ids=[
        "0",
        "B_ASYNC",
        "B_DELWRI",
        "B_FREE",
        "B_FREE|B_DONTNEED",
        "B_INVAL",
        "B_INVAL|B_ASYNC",
        "B_INVAL|B_FREE",
    ],
)
def test_getdirty_dirty_page_is_accepted(roomy, flags, want_selock):
    """A dirty page returns 1, i/o-locked by the caller, REF/MOD cleared; SHARED unless B_INVAL without B_FREE.

    Why: semantics.md 5.6 step 5 / 7.11: L669 hat_clrrefmod, L677-678
    page_downgrade for B_FREE (EXCL -> one reader), L683 return 1.
    """
    k = roomy
    vp = k.vnode("v1")
    pp = make_page(vp, 0, nrm=P_MOD | P_REF, lock=getdirty_lock(flags))
    assert pvn_getdirty(pp, flags) == 1
    assert pp.p_selock == want_selock
    assert pp.p_sowner == "main"
    assert pp.p_iolock_state & PAGE_IO_INUSE and pp.p_ioowner == "main"
    assert not pp.p_nrm & (P_REF | P_MOD)
    assert not pp.p_state & P_FREE
    check_kernel(k)


@pytest.mark.parametrize(
    ("flags", "want"),
    [
        (
            B_ASYNC,
            [
                "page_io_trylock(v1@0x0) = 1",
                "hat_pagesync(v1@0x0, HAT_SYNC_ZERORM) = P_MOD|P_REF",
                "hat_ismod(v1@0x0) = P_MOD",
                "hat_clrrefmod(v1@0x0)",
            ],
        ),
        (
            0,
            [
                "page_io_lock(v1@0x0)",
                "hat_pagesync(v1@0x0, HAT_SYNC_ZERORM) = P_MOD|P_REF",
                "hat_ismod(v1@0x0) = P_MOD",
                "hat_clrrefmod(v1@0x0)",
            ],
        ),
        (
            B_FREE,
            [
                "page_io_lock(v1@0x0)",
                "hat_pageunload(v1@0x0, HAT_FORCE_PGUNLOAD) = 0",
                "hat_ismod(v1@0x0) = P_MOD",
                "hat_clrrefmod(v1@0x0)",
                "page_downgrade(v1@0x0)",
            ],
        ),
        (
            B_INVAL,
            [
                "page_io_lock(v1@0x0)",
                "hat_pageunload(v1@0x0, HAT_FORCE_PGUNLOAD) = 0",
                "hat_ismod(v1@0x0) = P_MOD",
                "hat_clrrefmod(v1@0x0)",
            ],
        ),
    ],
    ids=["B_ASYNC", "0", "B_FREE", "B_INVAL"],
)
def test_getdirty_trace_dirty_page(roomy, flags, want):
    """Exact primitive order of pvn_getdirty on a dirty mapped page.

    Why: L610-617 (trylock for B_ASYNC without B_INVAL, else blocking io
    lock), L629-633 (unload for B_INVAL/B_FREE, ZERORM sync otherwise), L635
    hat_ismod, L669 hat_clrrefmod, L677-678 page_downgrade only for B_FREE.
    """
    k = roomy
    vp = k.vnode("v1")
    pp = make_page(vp, 0, nrm=P_MOD | P_REF, maps=("rm",), lock=getdirty_lock(flags))
    t = k.trace_on()
    assert pvn_getdirty(pp, flags) == 1
    assert prims(t) == want
    check_kernel(k)


# ---------------------------------------------------------------------------
# pvn_write_done


@pytest.mark.parametrize(
    ("write_free", "pages_before_pager", "freed"),
    [(1, 54, True), (1, 53, False), (0, 54, False)],
    ids=["below-threshold", "at-threshold", "write_free-off"],
)
def test_write_done_write_free_turns_write_back_into_free(write_free, pages_before_pager, freed):
    """Below lotsfree + pages_before_pager free pages (and write_free set) a plain write-back frees the page.

    Why: semantics.md 7.12; L383-386 (strict <).  freemem is 63 at the call
    (64 pages, one in use), lotsfree 10.  Forced B_FREE sends the mapped page
    down L442-527: upgrade, no REF/MOD, still mapped -> unload, freed,
    counted (dfree, fsfree, fspgout, pgpgout, pgout).  Otherwise L547-548
    only unlock it and no counter moves.
    """
    k = tight_kernel(pages_before_pager=pages_before_pager, write_free=write_free)
    vp = k.vnode("v1")
    pp = dirty_page(vp, 0, 0, maps=("-",))
    assert k.freemem == 63
    pvn_write_done(pp, B_WRITE)
    if freed:
        assert is_cached(pp, vp) and pp.p_mapping is None
        assert k.vm.as_dict() == stats(dfree=1, pgout=1, pgpgout=1, fspgout=1, fsfree=1)
    else:
        assert is_idle(pp) and pp.p_mapping is not None
        assert k.vm.as_dict() == ZERO_STATS
    check_kernel(k)


def test_write_done_error_suppresses_write_free():
    """A failed write is never turned into a free, even when memory is low.

    Why: L383-384 require (flags & B_ERROR) == 0; L414-433: hat_setmod_only,
    io unlock, unlock.  The page is unmapped, so without B_ERROR it would be
    freed (L442); instead it stays resident and dirty and no counter moves.
    """
    k = tight_kernel()
    vp = k.vnode("v1")
    pp = dirty_page(vp, 0, 0)
    t = k.trace_on()
    pvn_write_done(pp, B_WRITE | B_ERROR)
    assert prims(t) == [
        "page_sub(v1@0x0, v1@0x0) = NULL",
        "hat_setmod_only(v1@0x0)",
        "page_io_unlock(v1@0x0)",
        "page_unlock(v1@0x0)",
    ]
    assert is_idle(pp) and pp.p_nrm & P_MOD
    assert k.vm.as_dict() == ZERO_STATS
    check_kernel(k)


def vmodsort_layout(k, *, alone: bool = False):
    """VMODSORT vnode v1: clean 4096, clean 0 at the head, then the written page 8192 (mapped) at the tail."""
    vp = k.vnode("v1", v_flag=VMODSORT)
    if not alone:
        make_page(vp, 0)
        make_page(vp, 4096)
    pp = dirty_page(vp, 8192, 0, maps=("-",), at="tail")
    return vp, pp


def test_write_done_vmodsort_moves_clean_page_to_head_trace(roomy):
    """VMODSORT: a page still clean after the write moves to the head of v_pages; exact call order.

    Why: semantics.md 7.16; L400-412: under page_vnode_mutex, p_vpnext != pp
    and !hat_ismod -> page_vpsub + page_vpadd(&vp->v_pages) (new head).  The
    page is mapped and there is no B_FREE, so L442 asks hat_page_is_mapped
    and L547-548 only unlock it; no counter moves.
    """
    k = roomy
    vp, pp = vmodsort_layout(k)
    assert offsets(vnode_pages(vp)) == [4096, 0, 8192]
    t = k.trace_on()
    pvn_write_done(pp, B_WRITE)
    assert prims(t) == [
        "page_sub(v1@0x2000, v1@0x2000) = NULL",
        "mutex_enter(vphm(v1))",
        "hat_ismod(v1@0x2000) = 0",
        "page_vpsub(&v1.v_pages, v1@0x2000)",
        "page_vpadd(&v1.v_pages, v1@0x2000)",
        "mutex_exit(vphm(v1))",
        "hat_page_is_mapped(v1@0x2000) = 1",
        "page_io_unlock(v1@0x2000)",
        "page_unlock(v1@0x2000)",
    ]
    assert offsets(vnode_pages(vp)) == [8192, 4096, 0]
    assert is_idle(pp) and pp.p_mapping is not None
    assert k.vm.as_dict() == ZERO_STATS
    check_kernel(k)


def test_write_done_vmodsort_redirtied_page_stays_at_tail(roomy):
    """VMODSORT: a page written to during the I/O is not moved to the head.

    Why: L407 `!hat_ismod(pp)` is false: the store through the
    write-protected translation faulted and hat_setmod set P_MOD, moving the
    page to the tail (4.6), where pvn_write_done leaves it.
    """
    k = roomy
    vp, pp = vmodsort_layout(k)
    hat_touch(pp, write=True)
    t = k.trace_on()
    pvn_write_done(pp, B_WRITE)
    assert prims(t) == [
        "page_sub(v1@0x2000, v1@0x2000) = NULL",
        "mutex_enter(vphm(v1))",
        "hat_ismod(v1@0x2000) = P_MOD",
        "mutex_exit(vphm(v1))",
        "hat_page_is_mapped(v1@0x2000) = 1",
        "page_io_unlock(v1@0x2000)",
        "page_unlock(v1@0x2000)",
    ]
    assert offsets(vnode_pages(vp)) == [4096, 0, 8192]
    assert pp.p_nrm & P_MOD
    check_kernel(k)


def test_write_done_vmodsort_lone_page_is_not_moved(roomy):
    """VMODSORT: a page alone on v_pages is neither tested nor moved.

    Why: L407 `pp->p_vpnext != pp` is false, so hat_ismod is not even called
    (short-circuit) and no page_vpsub/page_vpadd happens.
    """
    k = roomy
    vp, pp = vmodsort_layout(k, alone=True)
    t = k.trace_on()
    pvn_write_done(pp, B_WRITE)
    assert prims(t) == [
        "page_sub(v1@0x2000, v1@0x2000) = NULL",
        "mutex_enter(vphm(v1))",
        "mutex_exit(vphm(v1))",
        "hat_page_is_mapped(v1@0x2000) = 1",
        "page_io_unlock(v1@0x2000)",
        "page_unlock(v1@0x2000)",
    ]
    assert vnode_pages(vp) == [pp]
    check_kernel(k)


def test_write_done_vmodsort_error_does_not_move(roomy):
    """VMODSORT with B_ERROR: no move, the page is marked modified again without a shuffle.

    Why: L400 needs (flags & B_ERROR) == 0; L430 hat_setmod_only sets P_MOD
    with P_NSH, which never moves the page (4.6).
    """
    k = roomy
    vp, pp = vmodsort_layout(k)
    t = k.trace_on()
    pvn_write_done(pp, B_WRITE | B_ERROR)
    assert prims(t) == [
        "page_sub(v1@0x2000, v1@0x2000) = NULL",
        "hat_setmod_only(v1@0x2000)",
        "page_io_unlock(v1@0x2000)",
        "page_unlock(v1@0x2000)",
    ]
    assert offsets(vnode_pages(vp)) == [4096, 0, 8192]
    assert pp.p_nrm & P_MOD
    check_kernel(k)


def test_write_done_vmodsort_disabled_does_not_move():
    """With pvn_vmodsort_disable the VMODSORT flag is ignored: no mutex, no move.

    Why: pvn_init leaves pvn_vmodsort_supported 0 when pvn_vmodsort_disable
    is set (L700-701), so IS_VMODSORT is false (2.5) and L400 skips the block.
    """
    k = Kernel(
        total_pages=256,
        lotsfree=0,
        desfree=0,
        minfree=0,
        throttlefree=0,
        pageout_reserve=0,
        pages_before_pager=0,
        pvn_vmodsort_disable=1,
    )
    vp, pp = vmodsort_layout(k)
    t = k.trace_on()
    pvn_write_done(pp, B_WRITE)
    assert "mutex_enter" not in [e.name for e in t.filter(kind="prim", nested=False)]
    assert offsets(vnode_pages(vp)) == [4096, 0, 8192]
    check_kernel(k)


@pytest.mark.parametrize(
    ("flags", "destroyed"),
    [
        (B_ERROR, False),
        (B_ERROR | B_INVAL, False),
        (B_ERROR | B_FORCE, False),
        (B_ERROR | B_FREE, False),
        (B_ERROR | B_ASYNC, False),
        (B_ERROR | B_INVAL | B_FORCE, True),
    ],
    ids=["B_ERROR", "+B_INVAL", "+B_FORCE", "+B_FREE", "+B_ASYNC", "+B_INVAL|B_FORCE"],
)
def test_write_done_error_keeps_page_unless_inval_and_force(roomy, flags, destroyed):
    """A failed write keeps the page dirty for a retry; only B_INVAL|B_FORCE together destroy it.

    Why: semantics.md 7.14; L425-433.  No counter moves on the error path.
    """
    k = roomy
    vp = k.vnode("v1")
    free0 = k.freemem
    pp = dirty_page(vp, 0, flags & ~B_ERROR)
    pvn_write_done(pp, B_WRITE | flags)
    if destroyed:
        assert is_destroyed(pp, vp, 0)
        assert k.freemem == free0
    else:
        assert is_idle(pp) and pp.p_nrm & P_MOD and pp.p_vnode is vp
    assert k.vm.as_dict() == ZERO_STATS
    check_kernel(k)


def test_write_done_inval_destroys_every_page(roomy):
    """B_INVAL without error destroys each written page and counts nothing.

    Why: L434-441: io unlock, VN_DISPOSE(B_INVAL, 0); the EXCL lock kept by
    pvn_getdirty for B_INVAL (L677 does not downgrade) is what page_destroy
    needs.
    """
    k = roomy
    vp = k.vnode("v1")
    free0 = k.freemem
    make_page(vp, 4096, nrm=P_MOD)
    pp = dirty_page(vp, 0, B_INVAL)
    kl = pvn_write_kluster(vp, pp, 0, 8192, B_INVAL)
    pages = kl.pages
    t = k.trace_on()
    pvn_write_done(kl.plist, B_WRITE | B_INVAL)
    assert prims(t) == [
        "page_sub(v1@0x0, v1@0x0) = v1@0x1000",
        "page_io_unlock(v1@0x0)",
        "VN_DISPOSE(v1@0x0, B_INVAL, 0)",
        "page_sub(v1@0x1000, v1@0x1000) = NULL",
        "page_io_unlock(v1@0x1000)",
        "VN_DISPOSE(v1@0x1000, B_INVAL, 0)",
    ]
    for p, off in zip(pages, (0, 4096), strict=True):
        assert is_destroyed(p, vp, off)
    assert k.freemem == free0
    assert k.vm.as_dict() == ZERO_STATS
    check_kernel(k)


@pytest.mark.parametrize(
    ("v_flag", "kind"),
    [(0, "fs"), (VISSWAPFS, "anon"), (VVMEXEC, "exec"), (VISSWAPFS | VVMEXEC, "anon")],
    ids=["fs", "swapfs", "vmexec", "swapfs+vmexec"],
)
def test_write_done_free_path_counts_by_vnode_kind(roomy, v_flag, kind):
    """B_FREE frees every unreferenced page to the cache tail; pgout once, the rest per page, by vnode kind.

    Why: semantics.md 7.15 / 4.11; L446-459 count anonpgout (IS_SWAPFSVP
    first), execpgout (VVMEXEC) or fspgout, pgpgout, and set pgout = 1;
    L512-527 count anonfree/execfree/fsfree and dfree; L554-563 add them.
    """
    k = roomy
    vp = k.vnode("v1", v_flag=v_flag)
    make_page(vp, 4096, nrm=P_MOD)
    pp = dirty_page(vp, 0, B_FREE)
    kl = pvn_write_kluster(vp, pp, 0, 8192, B_FREE)
    p0, p4 = kl.pages
    pvn_write_done(kl.plist, B_WRITE | B_FREE)
    assert is_cached(p0, vp) and is_cached(p4, vp)
    assert ring(k.page_cachelist) == [p0, p4]
    assert k.vm.as_dict() == stats(
        dfree=2, pgout=1, pgpgout=2, **{f"{kind}pgout": 2, f"{kind}free": 2}
    )
    check_kernel(k)


@pytest.mark.parametrize("dontneed", [False, True], ids=["tail", "B_DONTNEED-head"])
def test_write_done_free_dontneed_goes_to_cache_head(roomy, dontneed):
    """Freed after the write: cache list tail normally, head with B_DONTNEED.

    Why: L525-526 VN_DISPOSE(pp, B_FREE, flags & B_DONTNEED) -> page_free
    head when dontneed (4.5).
    """
    k = roomy
    vp = k.vnode("v1")
    old = make_page(vp, 40960, cached=True)
    flags = B_FREE | (B_DONTNEED if dontneed else 0)
    pp = dirty_page(vp, 0, flags)
    t = k.trace_on()
    pvn_write_done(pp, B_WRITE | flags)
    assert prims(t)[-1] == f"VN_DISPOSE(v1@0x0, B_FREE, {8192 if dontneed else 0})"
    assert ring(k.page_cachelist) == ([pp, old] if dontneed else [old, pp])
    check_kernel(k)


def test_write_done_unmapped_page_freed_without_b_free(roomy):
    """A plain write-back of an unmapped page frees it when nobody used it during the I/O.

    Why: semantics.md 7.13; L442 `flags & B_FREE || !hat_page_is_mapped(pp)`:
    unmapped -> free path; upgrade succeeds, no REF/MOD (cleared at L669), so
    L525 frees it; counters as for B_FREE.
    """
    k = roomy
    vp = k.vnode("v1")
    pp = dirty_page(vp, 0, 0)
    t = k.trace_on()
    pvn_write_done(pp, B_WRITE)
    assert prims(t) == [
        "page_sub(v1@0x0, v1@0x0) = NULL",
        "hat_page_is_mapped(v1@0x0) = 0",
        "page_io_unlock(v1@0x0)",
        "page_tryupgrade(v1@0x0) = 1",
        "hat_pagesync(v1@0x0, HAT_SYNC_STOPON_MOD) = 0",
        "hat_page_is_mapped(v1@0x0) = 0",
        "VN_DISPOSE(v1@0x0, B_FREE, 0)",
    ]
    assert is_cached(pp, vp)
    assert k.vm.as_dict() == stats(dfree=1, pgout=1, pgpgout=1, fspgout=1, fsfree=1)
    check_kernel(k)


def test_write_done_second_reader_blocks_upgrade(roomy):
    """If another thread also holds the page shared, page_tryupgrade fails and the page is only unlocked.

    Why: semantics.md 7.13; L468 page_tryupgrade needs exactly one reader
    (4.2); L534-541 page_unlock.  The page-out is still counted (L446-459)
    but neither dfree nor pgrec.
    """
    k = roomy
    vp = k.vnode("v1")
    pp = make_page(vp, 0, nrm=P_MOD, lock="SS")
    assert pvn_getdirty(pp, 0) == 1
    t = k.trace_on()
    pvn_write_done(pp, B_WRITE)
    assert prims(t) == [
        "page_sub(v1@0x0, v1@0x0) = NULL",
        "hat_page_is_mapped(v1@0x0) = 0",
        "page_io_unlock(v1@0x0)",
        "page_tryupgrade(v1@0x0) = 0",
        "page_unlock(v1@0x0)",
    ]
    assert pp.p_selock == 1 and pp.p_sowner == "other"
    assert not pp.p_state & P_FREE and not pp.p_iolock_state & PAGE_IO_INUSE
    assert k.vm.as_dict() == stats(pgout=1, pgpgout=1, fspgout=1)
    check_kernel(k)


@pytest.mark.parametrize(("lck", "cow"), [(1, 0), (0, 1)], ids=["lckcnt", "cowcnt"])
def test_write_done_logically_locked_page_is_not_freed(roomy, lck, cow):
    """A p_lckcnt/p_cowcnt page on the free path is upgraded, then just unlocked.

    Why: L468-469: the upgrade succeeds but p_lckcnt/p_cowcnt != 0 -> L540
    page_unlock; hat_pagesync is never reached.
    """
    k = roomy
    vp = k.vnode("v1")
    pp = dirty_page(vp, 0, 0, lckcnt=lck, cowcnt=cow)
    t = k.trace_on()
    pvn_write_done(pp, B_WRITE)
    assert prims(t) == [
        "page_sub(v1@0x0, v1@0x0) = NULL",
        "hat_page_is_mapped(v1@0x0) = 0",
        "page_io_unlock(v1@0x0)",
        "page_tryupgrade(v1@0x0) = 1",
        "page_unlock(v1@0x0)",
    ]
    assert is_idle(pp)
    assert k.vm.as_dict() == stats(pgout=1, pgpgout=1, fspgout=1)
    check_kernel(k)


@pytest.mark.parametrize(
    ("write", "attrs"), [(False, "P_REF"), (True, "P_MOD|P_REF")], ids=["read", "write"]
)
def test_write_done_page_used_during_io_is_reclaimed(roomy, write, attrs):
    """A page mapped and touched after pvn_getdirty is kept (pgrec), not freed.

    Why: L483 hat_pagesync(DONTZERO|STOPON_MOD) folds the new translation's
    hardware bits (4.6); L486 sees REF (and MOD) -> L529-530 page_unlock,
    pgrec++.  With B_FREE, hat_page_is_mapped is not asked at L442.
    """
    k = roomy
    vp = k.vnode("v1")
    pp = dirty_page(vp, 0, B_FREE, maps=("-",))
    assert pp.p_mapping is None
    hat_map(pp)
    hat_touch(pp, write=write)
    t = k.trace_on()
    pvn_write_done(pp, B_WRITE | B_FREE)
    assert prims(t) == [
        "page_sub(v1@0x0, v1@0x0) = NULL",
        "page_io_unlock(v1@0x0)",
        "page_tryupgrade(v1@0x0) = 1",
        f"hat_pagesync(v1@0x0, HAT_SYNC_STOPON_MOD) = {attrs}",
        "page_unlock(v1@0x0)",
    ]
    assert is_idle(pp) and pp.p_mapping is not None
    assert k.vm.as_dict() == stats(pgrec=1, pgout=1, pgpgout=1, fspgout=1)
    check_kernel(k)


def test_write_done_mapped_unused_page_is_unloaded_then_freed_trace(roomy):
    """A page mapped during the I/O but not touched is unloaded, re-checked, then freed: exact order.

    Why: L483 sync finds no REF/MOD; ck_refmod (L486-506): still mapped ->
    hat_pageunload, ppattr = hat_page_getattr(P_REF|P_MOD), goto; now
    unmapped -> L512-527 count and VN_DISPOSE(B_FREE).
    """
    k = roomy
    vp = k.vnode("v1")
    pp = dirty_page(vp, 0, B_FREE)
    hat_map(pp)
    t = k.trace_on()
    pvn_write_done(pp, B_WRITE | B_FREE)
    assert prims(t) == [
        "page_sub(v1@0x0, v1@0x0) = NULL",
        "page_io_unlock(v1@0x0)",
        "page_tryupgrade(v1@0x0) = 1",
        "hat_pagesync(v1@0x0, HAT_SYNC_STOPON_MOD) = 0",
        "hat_page_is_mapped(v1@0x0) = 1",
        "hat_pageunload(v1@0x0, HAT_FORCE_PGUNLOAD) = 0",
        "hat_page_getattr(v1@0x0, P_MOD|P_REF) = 0",
        "hat_page_is_mapped(v1@0x0) = 0",
        "VN_DISPOSE(v1@0x0, B_FREE, 0)",
    ]
    assert is_cached(pp, vp) and pp.p_mapping is None
    assert k.vm.as_dict() == stats(dfree=1, pgout=1, pgpgout=1, fspgout=1, fsfree=1)
    check_kernel(k)


def test_write_done_read_only_page_reference_found_by_unload(roomy):
    """For a P_RO page the sync returns early; the reference is only seen after the unload, so the page is kept.

    Why: 4.6: hat_pagesync with STOPON_MOD on a P_RO page returns the
    software bits without folding; L486 sees no REF/MOD, L502 hat_pageunload
    folds the translation's REF, L504 hat_page_getattr returns P_REF, and the
    second pass through ck_refmod takes L529-530 (pgrec).
    """
    k = roomy
    vp = k.vnode("v1")
    pp = dirty_page(vp, 0, B_FREE, nrm=P_MOD | P_RO)
    hat_map(pp)
    hat_touch(pp)
    t = k.trace_on()
    pvn_write_done(pp, B_WRITE | B_FREE)
    assert prims(t) == [
        "page_sub(v1@0x0, v1@0x0) = NULL",
        "page_io_unlock(v1@0x0)",
        "page_tryupgrade(v1@0x0) = 1",
        "hat_pagesync(v1@0x0, HAT_SYNC_STOPON_MOD) = P_RO",
        "hat_page_is_mapped(v1@0x0) = 1",
        "hat_pageunload(v1@0x0, HAT_FORCE_PGUNLOAD) = 0",
        "hat_page_getattr(v1@0x0, P_MOD|P_REF) = P_REF",
        "page_unlock(v1@0x0)",
    ]
    assert is_idle(pp) and pp.p_mapping is None
    assert k.vm.as_dict() == stats(pgrec=1, pgout=1, pgpgout=1, fspgout=1)
    check_kernel(k)


def test_write_done_counters_of_a_mixed_list_under_write_free():
    """One call over freed, reclaimed and locked pages: pgout 1, pgpgout 3, dfree/fsfree 1, pgrec 1.

    Why: 4.11 / L362-371 local counters, L552-564 added once per call.
    write_free forces B_FREE (L383-386, freemem << lotsfree + 200); page 0
    is freed, page 4096 was read through a translation during the I/O
    (pgrec), page 8192 has p_lckcnt (upgrade then unlock, L540).
    """
    k = tight_kernel()
    vp = k.vnode("v1")
    make_page(vp, 4096, nrm=P_MOD, maps=("-",))
    make_page(vp, 8192, nrm=P_MOD, lckcnt=1)
    pp = dirty_page(vp, 0, 0)
    kl = pvn_write_kluster(vp, pp, 0, 12288, 0)
    p0, p4, p8 = kl.pages
    assert offsets(kl.pages) == [0, 4096, 8192]
    hat_touch(p4)
    pvn_write_done(kl.plist, B_WRITE)
    assert is_cached(p0, vp)
    assert is_idle(p4) and p4.p_mapping is not None
    assert is_idle(p8)
    assert k.vm.as_dict() == stats(dfree=1, pgrec=1, pgout=1, pgpgout=3, fspgout=3, fsfree=1)
    check_kernel(k)


def test_write_done_empty_list_does_nothing(roomy):
    """A NULL list changes nothing and adds zero to every counter.

    Why: L391 loop never runs; L552-564 add zeros.
    """
    k = roomy
    before = k.snapshot()
    pvn_write_done(None, B_WRITE)
    assert k.snapshot().diff(before) == []
    assert k.vm.as_dict() == ZERO_STATS


def test_write_done_rejects_b_read(roomy):
    """B_READ in the flags is a usage error and changes nothing.

    Why: L378 ASSERT((flags & B_READ) == 0); pvnsim raises UsageError before
    any change.
    """
    k = roomy
    vp = k.vnode("v1")
    pp = dirty_page(vp, 0, 0)
    before = k.snapshot()
    with pytest.raises(UsageError):
        pvn_write_done(pp, B_READ)
    assert k.snapshot().diff(before) == []
    check_kernel(k)
