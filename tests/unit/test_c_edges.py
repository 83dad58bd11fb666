"""The ports at the edges of the C's types and contracts.

Offsets near 2^64 wrap as the C's u_offset_t does; an unaligned ``off`` is
compared, not refused, where the C only compares it; a page wanted
exclusively by another thread (SE_EWANTED) makes trylocks and upgrades fail;
and one page-slot type serves pvn_getpages and pvn_plist_init alike.
Expected values are worked out from vm_pvn.c and page_lock.c.
"""

from __future__ import annotations

import pytest

from pvnsim import (
    Kernel,
    Kluster,
    PageSlots,
    SegMap,
    UsageError,
    VnodeOps,
    check_kernel,
    make_page,
    pvn_getdirty,
    pvn_getpages,
    pvn_plist_init,
    pvn_read_kluster,
    pvn_vplist_dirty,
    pvn_write_kluster,
    snapshot,
)
from pvnsim.flags import (
    B_ASYNC,
    B_DELWRI,
    B_FREE,
    P_MOD,
    P_REF,
    PG_EXCL,
    PG_WAIT,
    S_CREATE,
    S_READ,
    SE_EXCL,
    SE_SHARED,
)
from pvnsim.vm import (
    page_create_va,
    page_io_unlock,
    page_lookup,
    page_lookup_nowait,
    page_release,
    page_trylock,
    page_tryupgrade,
    page_unlock,
)

TOP = 1 << 64
PAGE = 4096


def roomy(total: int = 64) -> Kernel:
    return Kernel(
        total_pages=total,
        lotsfree=0,
        desfree=0,
        minfree=0,
        throttlefree=0,
        pageout_reserve=0,
        pages_before_pager=0,
    )


def offsets(kl: Kluster) -> list[int]:
    return [p.p_offset for p in kl.pages]


# -- u_offset_t wraps ------------------------------------------------------------


def test_read_kluster_window_end_wrapping_to_zero_fails_the_entry_assert():
    """vp_off + vp_len wraps past 2^64 (L107): off < the wrapped end is false, so
    the ASSERT refuses the call and nothing changes."""
    k = roomy()
    vp = k.vnode("f")
    before = snapshot(k)
    with pytest.raises(UsageError, match="outside the window"):
        pvn_read_kluster(vp, TOP - PAGE, SegMap(k, "s"), 0x10000, TOP - PAGE, 2 * PAGE, 0)
    assert snapshot(k) == before


def test_read_kluster_forward_scan_wraps_to_offset_zero():
    """With vp_end = 2^64 - 1 the forward scan's off + deltaf wraps to 0, which is
    below vp_end: pages are created at 0 and up until one already exists (L178-189).

    off = vp_off = 2^64 - 8K, vp_len = 8K - 1: no page before off; forward
    2^64 - 4K, then 0; 4K exists, so deltaf stops at 12K: *lenp = 12K and no
    retract, since vp_off + vp_len (2^64 - 1) is not below off + 12K (4K after
    the wrap) (L212).
    """
    k = roomy()
    vp = k.vnode("f")
    make_page(vp, PAGE)
    kl = pvn_read_kluster(
        vp, TOP - 2 * PAGE, SegMap(k, "s"), 0x10000, TOP - 2 * PAGE, 2 * PAGE - 1, 0
    )
    assert kl is not None
    assert offsets(kl) == [TOP - 2 * PAGE, TOP - PAGE, 0]
    assert (kl.off, kl.len) == (TOP - 2 * PAGE, 3 * PAGE)
    check_kernel(k)


def test_write_kluster_scans_wrap_around_2_to_the_64():
    """pvn_write_kluster's deltab/deltaf are size_t: vp_off + deltab wraps to 0
    (the backward scan looks at 2^64 - 8K) and off + deltaf wraps to 0 (the forward
    scan takes the dirty page at 0), L273-292."""
    k = roomy()
    vp = k.vnode("f")
    make_page(vp, 0, nrm=P_MOD)
    pp = make_page(vp, TOP - PAGE, nrm=P_MOD, lock="S")
    assert pvn_getdirty(pp, 0) == 1
    kl = pvn_write_kluster(vp, pp, TOP - PAGE, PAGE - 1, 0)
    assert offsets(kl) == [TOP - PAGE, 0]
    assert (kl.off, kl.len) == (TOP - PAGE, 2 * PAGE)


def test_offsets_past_u_offset_t_are_refused():
    """An offset no u_offset_t holds is not a value the C could be given."""
    k = roomy()
    vp = k.vnode("f")
    with pytest.raises(UsageError, match="u_offset_t"):
        pvn_read_kluster(vp, TOP, SegMap(k, "s"), 0, 0, PAGE, 0)
    with pytest.raises(UsageError, match="u_offset_t"):
        pvn_vplist_dirty(vp, TOP, lambda *a: 0, 0, None)


# -- no check stricter than the C ------------------------------------------------


def _writer(done: list[int]):  # type: ignore[no-untyped-def]
    def putapage(vp, pp, offp, lenp, flags, cr):  # type: ignore[no-untyped-def]
        from pvnsim import pvn_write_done

        done.append(pp.p_offset)
        kl = pvn_write_kluster(vp, pp, pp.p_offset, PAGE, flags)
        pvn_write_done(kl.plist, flags)
        return 0

    return putapage


@pytest.mark.parametrize("flags", [0, B_FREE, B_ASYNC])
def test_vplist_dirty_takes_an_unaligned_off_and_compares_it(flags):
    """off = 0x1800: the page at 0x1000 is below it and skipped (L887), the one
    at 0x2000 is written."""
    k = roomy()
    vp = k.vnode("f")
    make_page(vp, 0x1000, nrm=P_MOD)
    make_page(vp, 0x2000, nrm=P_MOD)
    done: list[int] = []
    assert pvn_vplist_dirty(vp, 0x1800, _writer(done), flags, None) == 0
    assert done == [0x2000]
    assert k.page_hash[vp][0x1000].p_nrm & P_MOD
    check_kernel(k)


def test_vplist_dirty_truncation_from_an_unaligned_off_keeps_the_page_below():
    """B_INVAL|B_TRUNC from 0x1800 (pcfs truncates at 512-byte units): the page
    at 0x1000 starts below off and stays; the one at 0x2000 is destroyed."""
    from pvnsim.flags import B_INVAL, B_TRUNC

    k = roomy()
    vp = k.vnode("f")
    make_page(vp, 0x1000, nrm=P_MOD)
    make_page(vp, 0x2000, nrm=P_MOD)
    assert pvn_vplist_dirty(vp, 0x1800, _writer([]), B_INVAL | B_TRUNC, None) == 0
    assert sorted(k.page_hash[vp]) == [0x1000]
    check_kernel(k)


def test_plist_init_with_an_unaligned_off_releases_every_page():
    """No page of the list has offset 0x1800: the first loop (L1168) releases
    them all, and pl[0] = NULL (L1179-1181)."""
    k = roomy()
    vp = k.vnode("f")
    kl = pvn_read_kluster(vp, 0, SegMap(k, "s"), 0x10000, 0, 3 * PAGE, 0)
    assert kl is not None
    pl = [vp] * 4  # anything but None, to see the NULL stored
    pvn_plist_init(kl.plist, pl, 2 * PAGE, 0x1800, 3 * PAGE, S_READ)  # type: ignore[arg-type]
    assert pl[0] is None
    assert all(p.p_selock == 0 and p.p_iolock_state == 0 for p in kl.pages)
    check_kernel(k)


def _plist(*pages):  # type: ignore[no-untyped-def]
    # A p_next list in the given order (page_add puts each page in front of
    # the head, so the head moves on to keep the order).
    from pvnsim.vm import page_add

    head = None
    for pp in pages:
        head = page_add(head, pp).p_next
    return head


def test_plist_init_releases_shared_pages_it_does_not_keep():
    """The C asks SE_EXCL only of the pages it downgrades into pl (L1196); the
    ones it releases (L1176, L1209) may be shared and i/o-locked (page_sub's
    condition), and page_release decides what becomes of them: the wanted
    one is only unlocked, the other, clean, is freed."""
    from pvnsim.flags import P_FREE

    k = roomy()
    vp = k.vnode("f")
    before = make_page(vp, 0, nrm=P_REF, lock="S", io="me", ewanted=True)
    kept = make_page(vp, PAGE, nrm=P_REF, lock="X", io="me")
    after = make_page(vp, 2 * PAGE, nrm=P_REF, lock="S", io="me")
    pl: list[object] = [vp] * 3
    pvn_plist_init(_plist(before, kept, after), pl, PAGE, PAGE, 3 * PAGE, S_READ)  # type: ignore[arg-type]
    assert pl[:2] == [kept, None]
    assert kept.p_selock == 1 and kept.p_iolock_state == 0  # downgraded, i/o-unlocked
    assert before.p_selock == 0 and before.p_ewanted == 1 and not before.p_state & P_FREE
    assert after.p_selock == 0 and after.p_state & P_FREE  # released clean: freed
    page_unlock(kept)
    check_kernel(k)


def test_plist_init_refuses_a_shared_page_it_would_downgrade():
    """A page that goes into pl is downgraded, which needs SE_EXCL; nothing changes."""
    k = roomy()
    vp = k.vnode("f")
    first = make_page(vp, 0, nrm=P_REF, lock="X", io="me")
    second = make_page(vp, PAGE, nrm=P_REF, lock="S", io="me")
    plist = _plist(first, second)
    before = snapshot(k)
    with pytest.raises(UsageError, match=r"f@0x1000 must be locked SE_EXCL"):
        pvn_plist_init(plist, [None] * 3, 2 * PAGE, 0, 2 * PAGE, S_READ)
    assert snapshot(k) == before


def test_plist_init_under_s_create_keeps_shared_pages_as_they_are():
    """Under S_CREATE nothing is downgraded (L1195), so shared pages may fill pl."""
    k = roomy()
    vp = k.vnode("f")
    first = make_page(vp, 0, nrm=P_REF, lock="S", io="me")
    second = make_page(vp, PAGE, nrm=P_REF, lock="S", io="me")
    pl: list[object] = [vp] * 3
    pvn_plist_init(_plist(first, second), pl, 2 * PAGE, 0, 2 * PAGE, S_CREATE)  # type: ignore[arg-type]
    assert pl == [first, second, None]
    assert first.p_selock == 1 and second.p_selock == 1
    page_unlock(first)
    page_unlock(second)
    check_kernel(k)


def test_plist_init_with_a_plsz_just_past_2_63_stores_one_page():
    """plsz is kept in an ssize_t (L1184): 2^63 + PAGESIZE is -2^63 + PAGESIZE
    there; one page stored brings it to -2^63, not > 0, so the do-while stops
    (L1198) and the second page is released; two slots are enough."""
    k = roomy()
    vp = k.vnode("f")
    first = make_page(vp, 0, nrm=P_REF, lock="X", io="me")
    second = make_page(vp, PAGE, nrm=P_REF, lock="X", io="me")
    pl: list[object] = [vp, vp]
    pvn_plist_init(_plist(first, second), pl, (1 << 63) + PAGE, 0, 2 * PAGE, S_READ)  # type: ignore[arg-type]
    assert pl == [first, None]
    assert second.p_selock == 0 and first.p_selock == 1
    page_unlock(first)
    check_kernel(k)


def test_plist_init_with_a_plsz_of_2_63_wraps_and_stores_every_page():
    """plsz 2^63 is -2^63 as an ssize_t; after the first page, sz - PAGESIZE
    (L1197) wraps to 2^63 - PAGESIZE > 0, so the loop stores every page of the
    list, as the C compiled for amd64 does; pl needs a slot for each, and a
    list that does not fit is refused before anything changes."""
    k = roomy()
    vp = k.vnode("f")
    first = make_page(vp, 0, nrm=P_REF, lock="X", io="me")
    second = make_page(vp, PAGE, nrm=P_REF, lock="X", io="me")
    plist = _plist(first, second)
    short: list[object] = [None, None]
    before = snapshot(k)
    with pytest.raises(UsageError, match="pl needs at least 3 slots"):
        pvn_plist_init(plist, short, 1 << 63, 0, 2 * PAGE, S_READ)  # type: ignore[arg-type]
    assert snapshot(k) == before
    pl: list[object] = [None, None, None]
    pvn_plist_init(plist, pl, 1 << 63, 0, 2 * PAGE, S_READ)  # type: ignore[arg-type]
    assert pl == [first, second, None]
    assert first.p_selock == 1 and second.p_selock == 1
    page_unlock(first)
    page_unlock(second)
    check_kernel(k)


def test_page_create_passes_over_a_cached_page_wanted_exclusively():
    """With the free list empty, page_create_va takes the first cached page a
    trylock would grant: not one whose SE_EWANTED is set (page_trylock refuses
    it), so the wanted page keeps its identity."""
    from pvnsim.flags import PG_EXCL

    k = roomy(total=2)
    vp = k.vnode("f")
    wanted = make_page(vp, 0, cached=True, ewanted=True)
    other = make_page(vp, PAGE, cached=True)
    assert k.page_freelist is None and k.unused_pages == 0
    w = k.vnode("w")
    pp = page_create_va(w, 0, PAGE, PG_EXCL, None, 0)
    assert pp is other and pp.p_vnode is w
    assert wanted.p_vnode is vp and wanted.p_ewanted == 1
    assert k.page_cachelist is wanted
    page_io_unlock(pp)
    page_unlock(pp)
    check_kernel(k)


# -- SE_EWANTED --------------------------------------------------------------


def test_ewanted_makes_trylocks_shared_locks_and_upgrades_fail():
    """page_trylock fails in both modes, page_lookup_nowait returns NULL,
    page_tryupgrade fails and page_release only unlocks, while another thread
    wants the page exclusively (page_lock.c)."""
    k = roomy()
    vp = k.vnode("f")
    pp = make_page(vp, 0, ewanted=True)
    assert page_trylock(pp, SE_SHARED) == 0
    assert page_trylock(pp, SE_EXCL) == 0
    assert page_lookup_nowait(vp, 0, SE_SHARED) is None
    shared = make_page(vp, PAGE, lock="S", ewanted=True)
    assert page_tryupgrade(shared) == 0
    from pvnsim.flags import PGREL_NOTREL

    assert page_release(shared, 0) == PGREL_NOTREL
    assert shared.p_selock == 0 and shared.p_ewanted == 1
    check_kernel(k)


def test_a_shared_lookup_waits_while_a_page_is_wanted_exclusively():
    """Single-threaded, nobody can take the wanted lock and go: page_lookup's
    shared request waits, which is a deadlock raised before anything changes."""
    from pvnsim import DeadlockError

    k = roomy()
    vp = k.vnode("f")
    make_page(vp, 0, ewanted=True)
    before = snapshot(k)
    with pytest.raises(DeadlockError, match="page lock of f@0x0"):
        page_lookup(vp, 0, SE_SHARED)
    assert snapshot(k) == before


def test_page_hashout_clears_ewanted():
    """A destroyed page is nobody's wanted page any more (page_hashout)."""
    from pvnsim.vm import page_destroy

    k = roomy()
    vp = k.vnode("f")
    pp = make_page(vp, 0, lock="X", ewanted=True)
    page_destroy(pp, 0)
    assert pp.p_ewanted == 0 and pp.p_vnode is None
    check_kernel(k)


def test_the_exclusive_wanter_sets_and_clears_ewanted():
    """page_lock_es with SE_EXCL_WANTED sets SE_EWANTED when it must wait, and
    taking the lock clears it."""
    from pvnsim import DeadlockError
    from pvnsim.flags import P_NO_RECLAIM, SE_EXCL_WANTED
    from pvnsim.testing import OtherThreads
    from pvnsim.vm import page_lock

    k = roomy()
    vp = k.vnode("f")
    pp = make_page(vp, 0, lock="S@other")
    with pytest.raises(DeadlockError):
        page_lock(pp, SE_EXCL, None, P_NO_RECLAIM, SE_EXCL_WANTED)
    assert pp.p_ewanted == 0  # refused before anything changed (no scheduler)
    k.sched = others = OtherThreads(k)
    # Waiting (the other reader finishes): the wanted bit is set while it
    # waits, and the retry takes the lock and clears it.
    assert page_lock(pp, SE_EXCL, None, P_NO_RECLAIM, SE_EXCL_WANTED) == 0
    assert others.finished == 1 and pp.p_ewanted == 1 and pp.p_selock == 0
    assert page_trylock(pp, SE_SHARED) == 0
    assert page_lock(pp, SE_EXCL, None, P_NO_RECLAIM, SE_EXCL_WANTED) == 1
    assert pp.p_selock == -1 and pp.p_ewanted == 0
    page_unlock(pp)
    check_kernel(k)


# -- one page-slot type -----------------------------------------------------------


def test_tmpfs_getpage_pattern_end_to_end():
    """pvn_getpages hands tmp_getapage a PageSlots view, which it hands on to
    pvn_plist_init (tmpfs's getapage on a miss): pages come back locked shared."""
    k = roomy()
    seg = SegMap(k, "s")

    def tmp_getapage(vp, off, len_, protp, pl, plsz, seg_, addr, rw, cr):  # type: ignore[no-untyped-def]
        pp = page_lookup(vp, off, SE_SHARED)
        if pp is not None:
            pl[0], pl[1] = pp, None
            return 0
        pp = page_create_va(vp, off, PAGE, PG_WAIT | PG_EXCL, seg_, addr)
        assert pp is not None
        pp.p_data = bytearray(PAGE)  # "read" from swap: zeros
        pvn_plist_init(pp, pl, plsz, off, PAGE, rw)
        return 0

    vp = k.vnode("swapfile", ops=VnodeOps())
    pl: list[object] = [None] * 4
    assert (
        pvn_getpages(tmp_getapage, vp, 0, 2 * PAGE, None, pl, 2 * PAGE, seg, 0x10000, S_READ, None)
        == 0
    )  # type: ignore[arg-type]
    got = [p for p in pl if p is not None]
    assert [p.p_offset for p in got] == [0, PAGE]  # type: ignore[attr-defined]
    assert all(p.p_selock == 1 and p.p_iolock_state == 0 for p in got)  # type: ignore[attr-defined]
    for p in got:
        page_unlock(p)  # type: ignore[arg-type]
    check_kernel(k)


def test_page_slots_views_nest_on_the_callers_array():
    """A view of a view stores into the caller's array at the summed index."""
    k = roomy()
    pp = make_page(k.vnode("f"), 0)
    pl: list[object] = [None] * 5
    view = PageSlots(PageSlots(pl, 1), 2)  # type: ignore[arg-type]
    view[0] = pp
    assert pl[3] is pp and len(view) == 2
    # It shows what the callee sees: its own slots, NULL for the empty ones.
    assert repr(view) == "PageSlots([f@0x0, NULL])"


def test_create_then_io_unlock_keeps_check_kernel_happy():
    """(sanity) page_create_va's pages are EXCL + i/o locked; undoing both leaves a valid kernel."""
    k = roomy()
    vp = k.vnode("f")
    pp = page_create_va(vp, 0, PAGE, PG_EXCL, SegMap(k, "s"), 0)
    assert pp is not None and pp.p_nrm == P_REF
    page_io_unlock(pp)
    page_unlock(pp)
    check_kernel(k)


_ = (B_DELWRI, S_CREATE)
