"""Branch tests of the vnode-walking ports against vm_pvn.c.

Covers pvn_vplist_dirty (C lines 737-985), pvn_vplist_setdirty (995-1037),
pvn_vpzero (1045-1083), pvn_getpages (1089-1151), pvn_plist_init (1157-1211)
and pvn_init (697-705).  Expected values are worked out from the C and from
../shared/illumos/semantics.md (sections 4, 5 and 7).

A few branches can only be reached when another thread runs while the walker
sleeps (page_lock returning 0, page_io_wait returning, v_pages emptied while
waiting for VVMLOCK).  For those the tests install :class:`OtherThread`, a
minimal stand-in for a scheduler: whenever the main thread would sleep, it
runs one scripted step "as another thread" and lets the main thread go on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pvnsim import (
    DeadlockError,
    Kernel,
    KernelPanic,
    PageSlots,
    VnodeOps,
    check_kernel,
    make_page,
    populate,
    pvn_getpages,
    pvn_init,
    pvn_plist_init,
    pvn_vplist_dirty,
    pvn_vplist_setdirty,
    pvn_vpzero,
    pvn_write_done,
)
from pvnsim.flags import (
    B_ASYNC,
    B_DONTNEED,
    B_ERROR,
    B_FREE,
    B_INVAL,
    B_TRUNC,
    B_WRITE,
    EAGAIN,
    EIO,
    P_FREE,
    P_MOD,
    P_REF,
    PAGE_IO_INUSE,
    SE_EXCL,
    SE_SHARED,
    VMODSORT,
    VVMLOCK,
    SegRw,
)
from pvnsim.sched import Simulation
from pvnsim.vm import (
    page_add,
    page_destroy,
    page_lookup,
    page_lookup_nowait,
    page_unlock,
    page_vpadd,
    page_vpsub,
    ring,
)
from pvnsim.vm.describe import vnode_pages
from pvnsim.vm.kmem import kmem_cache_alloc, kmem_cache_free
from pvnsim.vm.mutex import cv_broadcast
from pvnsim.vm.page import PVN_VPLIST_HASH_TAG
from pvnsim.vm.page_lock import page_io_unlock
from pvnsim.vm.vm_pvn import marker_constructor

ENOSPC = 28
U64 = 1 << 64


# ---------------------------------------------------------------------------
# helpers


def roomy_kernel(**kw: Any) -> Kernel:
    """Like the ``roomy`` fixture, with extra Kernel arguments."""
    return Kernel(
        total_pages=4096,
        lotsfree=0,
        desfree=0,
        minfree=0,
        throttlefree=0,
        pageout_reserve=0,
        pages_before_pager=0,
        **kw,
    )


def names(pages: Any) -> list[str]:
    return [p.name for p in pages]


def vlist(vp: Any) -> list[str]:
    return names(vnode_pages(vp))


def prims(t: Any, thread: str | None = None) -> list[str]:
    return [e.format() for e in t.filter(kind="prim", thread=thread, nested=False)]


class Putapage:
    """A ufs-like one-page putapage: records its arguments, then completes
    the "write" with pvn_write_done(pp, [B_ERROR|]B_WRITE|flags)."""

    def __init__(
        self, errors: tuple[int, ...] = (), on_call: Callable[..., None] | None = None
    ) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.pages: list[str] = []
        self.errors = list(errors)
        self.on_call = on_call

    def __call__(self, vp: Any, pp: Any, offp: Any, lenp: Any, flags: int, cred: Any) -> int:
        self.calls.append((vp, pp, offp, lenp, flags, cred))
        self.pages.append(pp.name)
        if self.on_call is not None:
            self.on_call(vp, pp)
        err = self.errors.pop(0) if self.errors else 0
        pvn_write_done(pp, (B_ERROR if err else 0) | B_WRITE | flags)
        return err


class OtherThread(Simulation):
    """A one-thread simulation whose caller is thread "main": when main would
    sleep, one scripted step runs as thread "other" (steps in ``on_block``
    order); ``on_switch`` maps a (kind, what) switch point to a step run
    there once."""

    def __init__(
        self,
        on_block: list[Callable[[], None]] | None = None,
        on_switch: dict[tuple[str, str], Callable[[], None]] | None = None,
    ) -> None:
        # Switch points are reported to it only if a step waits for one.
        super().__init__(switches=bool(on_switch))
        self.on_block = list(on_block or [])
        self.on_switch = dict(on_switch or {})
        self.slept_on: list[str] = []

    @property
    def thread(self) -> str:
        """The thread running now: "main", or "other" during a step."""
        return self.curthread

    def current(self) -> str:
        return self.curthread

    def switch_point(self, kind: str, what: object) -> None:
        step = self.on_switch.pop((kind, str(what)), None)
        if step is not None:
            self._run(step)

    def block(
        self, what: str, holder: str | None, ready: Callable[[], bool], *, mutex: bool = False
    ) -> None:
        self.slept_on.append(what)
        if not self.on_block:
            raise AssertionError(f"main would sleep forever on {what}")
        self._run(self.on_block.pop(0))
        if not ready():
            raise AssertionError(f"main woke up but {what} is still not available")

    def _run(self, step: Callable[[], None]) -> None:
        prev = self.curthread
        self.set_current("other")
        try:
            step()
        finally:
            self.set_current(prev)


def destroy_all(vp: Any) -> None:
    """What another thread truncating the whole file does to the pages."""
    for off in sorted(vp.kernel.page_hash[vp]):
        pp = page_lookup(vp, off, SE_EXCL)
        page_destroy(pp, 0)


# ---------------------------------------------------------------------------
# pvn_vplist_dirty: entry, VVMLOCK


@pytest.mark.parametrize("flags", [0, B_ASYNC, B_INVAL])
def test_vplist_dirty_no_pages_returns_0_before_looking_at_vvmlock(flags: int) -> None:
    """A vnode without pages returns 0 at once, even with VVMLOCK held elsewhere.

    Why: the unlocked v_pages == NULL test (vm_pvn.c L757-758) comes before
    v_lock is taken and VVMLOCK examined (L767-774); semantics.md §7.20.
    """
    k = roomy_kernel()
    vp = k.vnode("v1", v_flag=VVMLOCK)
    t = k.trace_on()
    put = Putapage()
    assert pvn_vplist_dirty(vp, 0, put, flags, None) == 0
    assert prims(t) == []
    assert put.calls == []
    assert vp.v_flag & VVMLOCK
    check_kernel(k)


@pytest.mark.parametrize("flags", [B_ASYNC, B_ASYNC | B_INVAL, B_ASYNC | B_FREE])
def test_vplist_dirty_vvmlock_held_async_returns_eagain(flags: int) -> None:
    """With VVMLOCK held by another walker, an async caller gets EAGAIN and changes nothing.

    Why: L768-770 return EAGAIN (11) when VVMLOCK is set and flags has B_ASYNC,
    after only entering and leaving v_lock; semantics.md §5.8 step 2.
    """
    k = roomy_kernel()
    vp = k.vnode("v1", v_flag=VVMLOCK)
    make_page(vp, 0, nrm=P_MOD | P_REF, maps=("-",))
    before = k.snapshot()
    t = k.trace_on()
    put = Putapage()
    assert pvn_vplist_dirty(vp, 0, put, flags, None) == EAGAIN == 11
    assert prims(t) == ["mutex_enter(v_lock(v1))", "mutex_exit(v_lock(v1))"]
    assert put.calls == []
    assert k.snapshot() == before
    assert k.marker_cache.built == 0
    check_kernel(k)


@pytest.mark.parametrize("flags", [0, B_INVAL, B_FREE])
def test_vplist_dirty_vvmlock_held_sync_waits_on_v_cv(flags: int) -> None:
    """A synchronous caller sleeps on v_cv while VVMLOCK is held (DeadlockError single-threaded).

    Why: without B_ASYNC the C loops on cv_wait(&vp->v_cv, &vp->v_lock)
    while VVMLOCK is set (L773-774); nobody can clear it here.
    """
    k = roomy_kernel()
    vp = k.vnode("v1", v_flag=VVMLOCK)
    make_page(vp, 0, nrm=P_MOD | P_REF, maps=("-",))
    t = k.trace_on()
    put = Putapage()
    with pytest.raises(DeadlockError) as exc:
        pvn_vplist_dirty(vp, 0, put, flags, None)
    assert prims(t) == ["mutex_enter(v_lock(v1))", "cv_wait(v_cv(v1), v_lock(v1)) = WOULDBLOCK"]
    assert exc.value.waits[0].holder == "other"
    assert put.calls == []
    assert k.marker_cache.built == 0


def test_vplist_dirty_waits_for_vvmlock_then_walks() -> None:
    """After the other walker clears VVMLOCK and broadcasts v_cv, the caller takes VVMLOCK and walks.

    Why: the while loop of L773-774 re-tests VVMLOCK after cv_wait returns;
    then L781 sets VVMLOCK and the walk runs; L981 clears it at the end.
    """
    k = roomy_kernel()
    vp = k.vnode("v1", v_flag=VVMLOCK)
    make_page(vp, 0, nrm=P_MOD | P_REF, maps=("-",))

    def other_finishes() -> None:
        vp.v_flag &= ~VVMLOCK
        vp.v_vvmlock_owner = None
        cv_broadcast(vp.v_cv)

    seen_vvmlock = []
    put = Putapage(on_call=lambda v, p: seen_vvmlock.append(bool(v.v_flag & VVMLOCK)))
    k.sched = OtherThread(on_block=[other_finishes])
    t = k.trace_on()
    assert pvn_vplist_dirty(vp, 0, put, 0, None) == 0
    k.sched = None
    main = prims(t, "main")
    assert main[:3] == [
        "mutex_enter(v_lock(v1))",
        "cv_wait(v_cv(v1), v_lock(v1))",
        "mutex_exit(v_lock(v1))",
    ]
    assert put.pages == ["v1@0x0"]
    assert seen_vvmlock == [True]
    assert not vp.v_flag & VVMLOCK
    check_kernel(k)


def test_vplist_dirty_pages_gone_after_waiting_for_vvmlock_returns_0() -> None:
    """If the pages vanished while waiting for VVMLOCK, return 0 without setting VVMLOCK.

    Why: L776-778 re-test v_pages under v_lock after the wait and return 0
    before VVMLOCK is set (L781) or markers are allocated (L788).
    """
    k = roomy_kernel()
    vp = k.vnode("v1", v_flag=VVMLOCK)
    populate(vp, [0, 4096], nrm=P_MOD | P_REF)

    def other_truncates_and_finishes() -> None:
        destroy_all(vp)
        vp.v_flag &= ~VVMLOCK
        vp.v_vvmlock_owner = None
        cv_broadcast(vp.v_cv)

    put = Putapage()
    k.sched = OtherThread(on_block=[other_truncates_and_finishes])
    t = k.trace_on()
    assert pvn_vplist_dirty(vp, 0, put, 0, None) == 0
    k.sched = None
    assert prims(t, "main") == [
        "mutex_enter(v_lock(v1))",
        "cv_wait(v_cv(v1), v_lock(v1))",
        "mutex_exit(v_lock(v1))",
    ]
    assert put.calls == []
    assert not vp.v_flag & VVMLOCK
    assert k.marker_cache.built == 0
    check_kernel(k)


def test_vplist_dirty_pages_gone_before_vphm_goes_to_leave() -> None:
    """If v_pages empties between setting VVMLOCK and taking vphm, the markers are freed unused.

    Why: L801-802 `if (vp->v_pages == NULL) goto leave;` skips the marker
    insertion and the loop; `leave` (L977-983) frees both markers, clears
    VVMLOCK and broadcasts v_cv.
    """
    k = roomy_kernel()
    vp = k.vnode("v1")
    populate(vp, [0, 4096], nrm=P_MOD | P_REF)
    put = Putapage()
    k.sched = OtherThread(on_switch={("mutex_enter", "vphm(v1)"): lambda: destroy_all(vp)})
    t = k.trace_on()
    assert pvn_vplist_dirty(vp, 0, put, 0, None) == 0
    k.sched = None
    assert [e.name for e in t.filter(kind="prim", thread="main", nested=False)] == [
        "mutex_enter",
        "mutex_exit",
        "kmem_cache_alloc",
        "kmem_cache_alloc",
        "mutex_enter",
        "mutex_exit",
        "kmem_cache_free",
        "kmem_cache_free",
        "mutex_enter",
        "cv_broadcast",
        "mutex_exit",
    ]
    assert put.calls == []
    assert not vp.v_flag & VVMLOCK
    assert len(k.marker_cache.outstanding) == 0
    assert vp.v_pages is None
    check_kernel(k)


# ---------------------------------------------------------------------------
# pvn_vplist_dirty: markers and the walk


def test_vplist_dirty_markers_walk_from_tail_to_head_and_are_returned() -> None:
    """The marker pair is appended after the tail, `mark` walks to the head, both go back to the cache.

    Why: L788-793 allocate `end` (offset -2) and `mark` (-1); L807-808 put
    them after the tail; each visited page has `mark` moved in front of it
    (L914-915); L970-971 remove them and L978-979 free them; L981 clears
    VVMLOCK.  semantics.md §7.17 gives the list states.
    """
    k = roomy_kernel()
    vp = k.vnode("v1")
    populate(vp, [0, 4096, 8192], nrm=P_MOD | P_REF, maps=("-",), at="tail")
    seen: list[tuple[str, list[str], bool]] = []
    markers: list[Any] = []

    def look(v: Any, pp: Any) -> None:
        seen.append((pp.name, vlist(v), bool(v.v_flag & VVMLOCK)))
        markers[:] = [p for p in vnode_pages(v) if p.p_hash is PVN_VPLIST_HASH_TAG]

    put = Putapage(on_call=look)
    assert pvn_vplist_dirty(vp, 0, put, 0, None) == 0
    assert seen == [
        ("v1@0x2000", ["v1@0x0", "v1@0x1000", "MARK(-1)", "v1@0x2000", "MARK(-2)"], True),
        ("v1@0x1000", ["v1@0x0", "MARK(-1)", "v1@0x1000", "v1@0x2000", "MARK(-2)"], True),
        ("v1@0x0", ["MARK(-1)", "v1@0x0", "v1@0x1000", "v1@0x2000", "MARK(-2)"], True),
    ]
    mark, end = markers
    assert mark.p_vnode is vp and mark.p_offset == U64 - 1
    assert end.p_vnode is vp and end.p_offset == U64 - 2
    assert vlist(vp) == ["v1@0x0", "v1@0x1000", "v1@0x2000"]
    assert len(k.marker_cache.outstanding) == 0
    assert len(k.marker_cache.free) == 2
    assert not vp.v_flag & VVMLOCK
    check_kernel(k)


@pytest.mark.parametrize(
    ("flags", "new_page_visited"),
    [(B_ASYNC, False), (B_ASYNC | B_DONTNEED, True), (0, True)],
)
def test_vplist_dirty_exact_b_async_stops_when_mark_reaches_head(
    flags: int, new_page_visited: bool
) -> None:
    """Only flags == B_ASYNC stops at the head; a page added at the tail meanwhile is then skipped.

    Why: L815-816 break when `flags == B_ASYNC && vp->v_pages == mark`; any
    other flags go on until mark->p_vpprev == end (L821), so a page inserted
    after `end` during the walk is still visited (semantics.md §7.19, §7.30).
    """
    k = roomy_kernel()
    vp = k.vnode("v1")
    populate(vp, [0, 4096, 8192], nrm=P_MOD | P_REF, maps=("-",), at="tail")
    added = []

    def add_at_tail(v: Any, pp: Any) -> None:
        if not added:
            added.append(make_page(v, 65536, nrm=P_MOD | P_REF, maps=("-",), at="tail"))

    put = Putapage(on_call=add_at_tail)
    assert pvn_vplist_dirty(vp, 0, put, flags, None) == 0
    expected = ["v1@0x2000", "v1@0x1000", "v1@0x0"] + (["v1@0x10000"] if new_page_visited else [])
    assert put.pages == expected
    assert bool(added[0].p_nrm & P_MOD) is not new_page_visited
    assert len(k.marker_cache.outstanding) == 0
    check_kernel(k)


# ---------------------------------------------------------------------------
# pvn_vplist_dirty: the VMODSORT fast path


@pytest.mark.parametrize("flags", [0, B_ASYNC, B_ASYNC | B_DONTNEED])
def test_vplist_dirty_vmodsort_stops_at_first_clean_idle_page(flags: int) -> None:
    """On a VMODSORT vnode a write-back stops at the first clean, idle page; earlier pages are never examined.

    Why: L838-840: IS_VMODSORT and none of B_INVAL|B_FREE|B_TRUNC, and
    !hat_ismod(pp) && !page_io_locked(pp) -> break (L869).  [c1,c2,d1,d2]:
    d2 and d1 are written, the walk stops at c2, c1 is never looked at
    (semantics.md §7.18).  pvn_write_done moves each written, clean page to
    the head (L407-409).
    """
    k = roomy_kernel()
    vp = k.vnode("v1", v_flag=VMODSORT)
    c1, c2 = populate(vp, [0, 4096], nrm=P_REF, at="tail")
    populate(vp, [8192, 12288], nrm=P_MOD | P_REF, maps=("-",), at="tail")
    t = k.trace_on()
    put = Putapage()
    assert pvn_vplist_dirty(vp, 0, put, flags, None) == 0
    assert put.pages == ["v1@0x3000", "v1@0x2000"]
    assert [e.args[0] for e in t.filter(name="pvn_getdirty", nested=False)] == [
        "v1@0x3000",
        "v1@0x2000",
    ]
    # c2 was only tested (hat_ismod, page_io_locked); c1 never appears at all.
    assert [e.format() for e in t if e.args and e.args[0] == "v1@0x1000"] == [
        "hat_ismod(v1@0x1000) = 0",
        "page_io_locked(v1@0x1000) = 0",
    ]
    assert not [e for e in t if "v1@0x0" in e.args]
    for pp in (c1, c2):
        assert (pp.p_selock, pp.p_iolock_state, pp.p_nrm) == (0, 0, P_REF)
    assert vlist(vp) == ["v1@0x2000", "v1@0x3000", "v1@0x0", "v1@0x1000"]
    check_kernel(k)


@pytest.mark.parametrize(
    ("flags", "written"),
    [(B_FREE, ["v1@0x1000"]), (B_INVAL, ["v1@0x1000"]), (B_INVAL | B_TRUNC, [])],
)
def test_vplist_dirty_vmodsort_fast_path_off_for_free_inval_trunc(
    flags: int, written: list[str]
) -> None:
    """With B_INVAL, B_FREE or B_TRUNC a VMODSORT vnode is walked completely.

    Why: the fast path needs !(flags & (B_INVAL|B_FREE|B_TRUNC)) (L838-839),
    so the clean head page also reaches pvn_getdirty (L963).  B_TRUNC makes
    pvn_getdirty discard the dirty page without I/O (L635-643).
    """
    k = roomy_kernel()
    vp = k.vnode("v1", v_flag=VMODSORT)
    make_page(vp, 0, nrm=P_REF, at="tail")
    make_page(vp, 4096, nrm=P_MOD | P_REF, maps=("-",), at="tail")
    t = k.trace_on()
    put = Putapage()
    assert pvn_vplist_dirty(vp, 0, put, flags, None) == 0
    assert [e.args[0] for e in t.filter(name="pvn_getdirty", nested=False)] == [
        "v1@0x1000",
        "v1@0x0",
    ]
    assert not t.filter(name="page_io_locked", nested=False)
    assert put.pages == written
    check_kernel(k)


def test_vplist_dirty_vmodsort_clean_io_locked_page_sync_waits() -> None:
    """A clean page still being written makes a synchronous walk wait in page_io_wait.

    Why: L870-877: clean but io-locked and no B_ASYNC -> drop vphm,
    page_io_wait(pp).  The i/o lock is held by "other", so single-threaded
    this is a deadlock (semantics.md §7.18).
    """
    k = roomy_kernel()
    vp = k.vnode("v1", v_flag=VMODSORT)
    make_page(vp, 0, nrm=P_REF, at="tail")
    make_page(vp, 4096, nrm=P_REF, io="other", at="tail")
    make_page(vp, 8192, nrm=P_MOD | P_REF, maps=("-",), at="tail")
    t = k.trace_on()
    put = Putapage()
    with pytest.raises(DeadlockError) as exc:
        pvn_vplist_dirty(vp, 0, put, 0, None)
    assert put.pages == ["v1@0x2000"]
    assert prims(t)[-5:] == [
        "hat_ismod(v1@0x1000) = 0",
        "page_io_locked(v1@0x1000) = 1",
        "hat_ismod(v1@0x1000) = 0",
        "mutex_exit(vphm(v1))",
        "page_io_wait(v1@0x1000) = WOULDBLOCK",
    ]
    assert exc.value.waits[0].holder == "other"


def test_vplist_dirty_vmodsort_io_wait_then_rechecks_same_page() -> None:
    """After page_io_wait returns the walk re-examines the same page, now idle, and stops there.

    Why: L878-879 retake vphm and `continue` without moving the marker, so
    pp = mark->p_vpprev is the same page; now clean and idle it ends the
    walk (L840, L869).  The page before it is never examined.
    """
    k = roomy_kernel()
    vp = k.vnode("v1", v_flag=VMODSORT)
    make_page(vp, 0, nrm=P_REF, at="tail")
    busy = make_page(vp, 4096, nrm=P_REF, io="other", at="tail")
    make_page(vp, 8192, nrm=P_MOD | P_REF, maps=("-",), at="tail")
    k.sched = OtherThread(on_block=[lambda: page_io_unlock(busy)])
    t = k.trace_on()
    put = Putapage()
    assert pvn_vplist_dirty(vp, 0, put, 0, None) == 0
    k.sched = None
    assert put.pages == ["v1@0x2000"]
    main = prims(t, "main")
    i = main.index("page_io_wait(v1@0x1000)")
    assert main[i + 1 : i + 4] == [
        "mutex_enter(vphm(v1))",
        "hat_ismod(v1@0x1000) = 0",
        "page_io_locked(v1@0x1000) = 0",
    ]
    assert not [e for e in t if "v1@0x0" in e.args]
    check_kernel(k)


def test_vplist_dirty_vmodsort_clean_io_locked_page_async_falls_through() -> None:
    """An async walk does not wait for a clean io-locked page: it tries it and moves on.

    Why: the `else if` of L870 needs !(flags & B_ASYNC); otherwise the page
    falls through to page_trylock (L929) and pvn_getdirty, whose
    page_io_trylock fails (L611-613: unlock, return 0).  The walk then stops
    at the next clean idle page (L840).
    """
    k = roomy_kernel()
    vp = k.vnode("v1", v_flag=VMODSORT)
    make_page(vp, 0, nrm=P_REF, at="tail")
    busy = make_page(vp, 4096, nrm=P_REF, lock="S@other", io="other", at="tail")
    make_page(vp, 8192, nrm=P_MOD | P_REF, maps=("-",), at="tail")
    t = k.trace_on()
    put = Putapage()
    assert pvn_vplist_dirty(vp, 0, put, B_ASYNC, None) == 0
    assert put.pages == ["v1@0x2000"]
    lines = prims(t)
    assert "page_trylock(v1@0x1000, SE_SHARED) = 1" in lines
    assert "page_io_trylock(v1@0x1000) = 0" in lines
    assert not t.filter(name="page_io_wait", nested=False)
    assert [e.format() for e in t.filter(name="pvn_getdirty", nested=False)] == [
        "pvn_getdirty(v1@0x2000, B_ASYNC) = 1",
        "pvn_getdirty(v1@0x1000, B_ASYNC) = 0",
    ]
    # The walk's shared hold is dropped; the writer's own stays.
    assert busy.p_selock == 1 and busy.p_sowner == "other" and busy.p_ioowner == "other"
    # c1 is the stop page: only tested, never locked nor passed to pvn_getdirty.
    assert [e.format() for e in t if "v1@0x0" in e.args] == [
        "hat_ismod(v1@0x0) = 0",
        "page_io_locked(v1@0x0) = 0",
    ]
    check_kernel(k)


# ---------------------------------------------------------------------------
# pvn_vplist_dirty: offset filter and page locking


def test_vplist_dirty_skips_pages_below_off_without_locking_them() -> None:
    """Pages below `off` are stepped over (marker moved) but never locked or written.

    Why: L887-890 move the marker and `continue` before any locking when
    pp->p_offset < off (semantics.md §7.21).
    """
    k = roomy_kernel()
    vp = k.vnode("v1")
    low = populate(vp, [0, 4096], nrm=P_MOD | P_REF, maps=("-",), at="tail")
    populate(vp, [8192, 12288], nrm=P_MOD | P_REF, maps=("-",), at="tail")
    t = k.trace_on()
    put = Putapage()
    assert pvn_vplist_dirty(vp, 8192, put, 0, None) == 0
    assert put.pages == ["v1@0x3000", "v1@0x2000"]
    assert [e.args[0] for e in t.filter(name="page_lock", nested=False)] == [
        "v1@0x3000",
        "v1@0x2000",
    ]
    # The marker still passed the low pages: it was put in front of each.
    vpadds = [e.args[0] for e in t.filter(name="page_vpadd", nested=False)]
    assert vpadds[-2:] == ["&v1@0x0.p_vpnext", "&v1.v_pages"]
    for pp in low:
        assert pp.p_selock == 0 and pp.p_nrm & P_MOD
    check_kernel(k)


@pytest.mark.parametrize(
    ("flags", "lock_line"),
    [
        (0, "page_lock(v1@0x0, SE_SHARED, vphm(v1), P_NO_RECLAIM) = 1"),
        (B_INVAL, "page_lock(v1@0x0, SE_EXCL, vphm(v1), P_NO_RECLAIM) = 1"),
        (B_FREE, "page_lock(v1@0x0, SE_EXCL, vphm(v1), P_NO_RECLAIM) = 1"),
        (B_ASYNC | B_INVAL, "page_lock(v1@0x0, SE_EXCL, vphm(v1), P_NO_RECLAIM) = 1"),
        (B_ASYNC, "page_trylock(v1@0x0, SE_SHARED) = 1"),
        (B_ASYNC | B_FREE, "page_trylock(v1@0x0, SE_EXCL) = 1"),
    ],
)
def test_vplist_dirty_lock_mode_and_primitive(flags: int, lock_line: str) -> None:
    """Sync and B_INVAL walks page_lock (then move the marker); async ones move the marker then trylock.

    Why: se is SE_EXCL for B_INVAL|B_FREE (L897); B_INVAL or !B_ASYNC take
    page_lock(pp, se, vphm, P_NO_RECLAIM) before moving the marker
    (L903-915); otherwise the marker moves first and page_trylock follows
    (L921-929).
    """
    k = roomy_kernel()
    vp = k.vnode("v1")
    make_page(vp, 0, nrm=P_MOD | P_REF, maps=("-",))
    t = k.trace_on()
    put = Putapage()
    assert pvn_vplist_dirty(vp, 0, put, flags, None) == 0
    lines = prims(t)
    i = lines.index(lock_line)
    moves = ["page_vpsub(&v1.v_pages, MARK(-1))", "page_vpadd(&v1.v_pages, MARK(-1))"]
    if lock_line.startswith("page_lock"):
        assert lines[i + 1 : i + 3] == moves
    else:
        assert lines[i - 2 : i] == moves
    assert not t.filter(
        nested=False, name="page_trylock" if lock_line.startswith("page_lock") else "page_lock"
    )
    assert put.pages == ["v1@0x0"]
    check_kernel(k)


@pytest.mark.parametrize(
    ("flags", "lock", "try_line"),
    [
        (B_ASYNC, "X@other", "page_trylock(v1@0x1000, SE_SHARED) = 0"),
        (B_ASYNC | B_FREE, "S@other", "page_trylock(v1@0x1000, SE_EXCL) = 0"),
    ],
)
def test_vplist_dirty_async_skips_page_it_cannot_trylock(
    flags: int, lock: str, try_line: str
) -> None:
    """An async walk skips for good a page whose page_trylock fails.

    Why: the marker is moved before the trylock (L921-922) and a failed
    trylock just `continue`s (L929-930), so the busy page is not retried
    (semantics.md §7.23).
    """
    k = roomy_kernel()
    vp = k.vnode("v1")
    make_page(vp, 0, nrm=P_MOD | P_REF, maps=("-",), at="tail")
    busy = make_page(vp, 4096, nrm=P_MOD | P_REF, maps=("-",), lock=lock, at="tail")
    make_page(vp, 8192, nrm=P_MOD | P_REF, maps=("-",), at="tail")
    before = repr(busy)
    t = k.trace_on()
    put = Putapage()
    assert pvn_vplist_dirty(vp, 0, put, flags, None) == 0
    assert put.pages == ["v1@0x2000", "v1@0x0"]
    assert try_line in prims(t)
    assert len(t.filter(name="page_trylock", nested=False)) == 3
    assert repr(busy) == before
    check_kernel(k)


@pytest.mark.parametrize(
    ("flags", "lock", "line"),
    [
        (0, "X@other", "page_lock(v1@0x0, SE_SHARED, vphm(v1), P_NO_RECLAIM) = WOULDBLOCK"),
        (B_INVAL, "S@other", "page_lock(v1@0x0, SE_EXCL, vphm(v1), P_NO_RECLAIM) = WOULDBLOCK"),
        (
            B_INVAL | B_ASYNC,
            "X@other",
            "page_lock(v1@0x0, SE_EXCL, vphm(v1), P_NO_RECLAIM) = WOULDBLOCK",
        ),
    ],
)
def test_vplist_dirty_page_lock_on_page_held_by_other_blocks(
    flags: int, lock: str, line: str
) -> None:
    """A sync (or B_INVAL) walk blocks in page_lock on a page held by another thread.

    Why: L903-908 use the blocking page_lock; the holder can never release
    it single-threaded, so the model reports a deadlock.
    """
    k = roomy_kernel()
    vp = k.vnode("v1")
    make_page(vp, 0, nrm=P_MOD | P_REF, maps=("-",), lock=lock)
    t = k.trace_on()
    put = Putapage()
    with pytest.raises(DeadlockError):
        pvn_vplist_dirty(vp, 0, put, flags, None)
    assert prims(t)[-1] == line
    assert put.calls == []


def test_vplist_dirty_page_lock_that_slept_retries_same_page() -> None:
    """When page_lock had to sleep (returned 0) the walk starts the iteration over on mark->p_vpprev.

    Why: L908-909 `if (!page_lock(...)) continue;` without moving the
    marker, so the same page is locked again on the next pass.
    """
    k = roomy_kernel()
    vp = k.vnode("v1")
    held = make_page(vp, 0, nrm=P_MOD | P_REF, maps=("-",), lock="X@other")
    k.sched = OtherThread(on_block=[lambda: page_unlock(held)])
    t = k.trace_on()
    put = Putapage()
    assert pvn_vplist_dirty(vp, 0, put, 0, None) == 0
    k.sched = None
    assert [e.format() for e in t.filter(name="page_lock", thread="main", nested=False)] == [
        "page_lock(v1@0x0, SE_SHARED, vphm(v1), P_NO_RECLAIM) = 0",
        "page_lock(v1@0x0, SE_SHARED, vphm(v1), P_NO_RECLAIM) = 1",
    ]
    assert put.pages == ["v1@0x0"]
    check_kernel(k)


def test_vplist_dirty_page_destroyed_while_sleeping_is_not_visited() -> None:
    """A page destroyed while page_lock slept is gone from v_pages; the walk resumes at the next one.

    Why: after the failed page_lock (L908-909) pp is re-derived from the
    marker (L824), which nobody else moves (semantics.md §7.23, §7.30).
    """
    k = roomy_kernel()
    vp = k.vnode("v1")
    make_page(vp, 0, nrm=P_MOD | P_REF, maps=("-",), at="tail")
    doomed = make_page(vp, 4096, nrm=P_MOD | P_REF, lock="X@other", at="tail")
    k.sched = OtherThread(on_block=[lambda: page_destroy(doomed, 0)])
    put = Putapage()
    assert pvn_vplist_dirty(vp, 0, put, 0, None) == 0
    k.sched = None
    assert put.pages == ["v1@0x0"]
    assert 4096 not in k.page_hash[vp]
    assert vlist(vp) == ["v1@0x0"]
    check_kernel(k)


# ---------------------------------------------------------------------------
# pvn_vplist_dirty: free pages, pvn_getdirty, putapage, errors


@pytest.mark.parametrize(
    ("flags", "lock_line", "destroyed"),
    [
        (0, "page_lock(v1@0x0, SE_SHARED, vphm(v1), P_NO_RECLAIM) = 1", False),
        (B_FREE, "page_lock(v1@0x0, SE_EXCL, vphm(v1), P_NO_RECLAIM) = 1", False),
        (B_ASYNC, "page_trylock(v1@0x0, SE_SHARED) = 1", False),
        (B_INVAL, "page_lock(v1@0x0, SE_EXCL, vphm(v1), P_NO_RECLAIM) = 1", True),
        (B_INVAL | B_ASYNC, "page_lock(v1@0x0, SE_EXCL, vphm(v1), P_NO_RECLAIM) = 1", True),
    ],
)
def test_vplist_dirty_cached_page(flags: int, lock_line: str, destroyed: bool) -> None:
    """A cached page is locked without reclaim; B_INVAL destroys it with page_destroy_free, else it is just unlocked.

    Why: page_lock(..., P_NO_RECLAIM) leaves a free page on its list
    (semantics.md §4.2); PP_ISFREE (L940): without B_INVAL page_unlock and
    continue (L941-943); with B_INVAL page_destroy_free (L949-952).
    pvn_getdirty is never called for it.  freemem is unchanged either way
    (§4.5).
    """
    k = roomy_kernel()
    vp = k.vnode("v1")
    pp = make_page(vp, 0, cached=True)
    freemem, cached, free = k.freemem, k.cachelist_count, k.freelist_count
    t = k.trace_on()
    put = Putapage()
    assert pvn_vplist_dirty(vp, 0, put, flags, None) == 0
    lines = prims(t)
    assert lock_line in lines
    assert not t.filter(name="pvn_getdirty", nested=False)
    assert put.calls == []
    assert k.freemem == freemem
    if destroyed:
        assert "page_destroy_free(v1@0x0)" in lines
        assert "page_unlock(v1@0x0)" not in lines
        assert pp.p_vnode is None and vp.v_pages is None
        assert (k.cachelist_count, k.freelist_count) == (cached - 1, free + 1)
    else:
        assert "page_unlock(v1@0x0)" in lines
        assert not t.filter(name="page_destroy_free", nested=False)
        assert pp.p_vnode is vp and pp.p_state & P_FREE and pp.p_selock == 0
        assert (k.cachelist_count, k.freelist_count) == (cached, free)
    check_kernel(k)


def test_vplist_dirty_putapage_only_for_pages_getdirty_accepts() -> None:
    """putapage is called only when pvn_getdirty returns 1.

    Why: L963-964 `if (pvn_getdirty(pp, flags)) error = (*putapage)(...)`.
    A clean page gets 0 (L635-662); software-dirty or hardware-dirty pages
    (hat_pagesync ZERORM folds the mod bit, L632) get 1.
    """
    k = roomy_kernel()
    vp = k.vnode("v1")
    make_page(vp, 0, nrm=P_REF, maps=("r",), at="tail")
    make_page(vp, 4096, nrm=P_MOD | P_REF, maps=("-",), at="tail")
    make_page(vp, 8192, nrm=0, maps=("m",), at="tail")
    t = k.trace_on()
    put = Putapage()
    assert pvn_vplist_dirty(vp, 0, put, 0, None) == 0
    assert [e.format() for e in t.filter(name="pvn_getdirty", nested=False)] == [
        "pvn_getdirty(v1@0x2000, 0) = 1",
        "pvn_getdirty(v1@0x1000, 0) = 1",
        "pvn_getdirty(v1@0x0, 0) = 0",
    ]
    assert put.pages == ["v1@0x2000", "v1@0x1000"]
    check_kernel(k)


@pytest.mark.parametrize("flags", [0, B_ASYNC, B_ASYNC | B_DONTNEED, B_FREE, B_INVAL])
def test_vplist_dirty_putapage_arguments(flags: int) -> None:
    """putapage gets (vp, pp, NULL, NULL, flags, cred) exactly.

    Why: L964 `(*putapage)(vp, pp, NULL, NULL, flags, cred)`.
    """
    k = roomy_kernel()
    vp = k.vnode("v1")
    pp = make_page(vp, 0, nrm=P_MOD | P_REF, maps=("-",))
    cred = object()
    put = Putapage()
    assert pvn_vplist_dirty(vp, 0, put, flags, cred) == 0
    assert len(put.calls) == 1
    got = put.calls[0]
    assert got[0] is vp and got[1] is pp and got[5] is cred
    assert got[2:5] == (None, None, flags)
    check_kernel(k)


@pytest.mark.parametrize(
    ("errors", "expected"),
    [
        ((EIO, ENOSPC, 0), EIO),
        ((0, EIO, ENOSPC), EIO),
        ((ENOSPC, 0, EIO), ENOSPC),
        ((0, 0, 0), 0),
    ],
)
def test_vplist_dirty_first_error_wins(errors: tuple[int, ...], expected: int) -> None:
    """The walk returns the first non-zero putapage error and still writes every page.

    Why: L965-966 `if (!err) err = error;` keeps the first error; the loop
    does not stop on errors (semantics.md §7.24).
    """
    k = roomy_kernel()
    vp = k.vnode("v1")
    populate(vp, [0, 4096, 8192], nrm=P_MOD | P_REF, maps=("-",), at="tail")
    put = Putapage(errors=errors)
    assert pvn_vplist_dirty(vp, 0, put, 0, None) == expected
    assert put.pages == ["v1@0x2000", "v1@0x1000", "v1@0x0"]
    check_kernel(k)


# ---------------------------------------------------------------------------
# pvn_vplist_dirty: the DEBUG self-check


@pytest.mark.parametrize("debug", [True, False])
def test_vplist_dirty_debug_check_of_clean_remainder(debug: bool) -> None:
    """A DEBUG kernel re-checks every page before the VMODSORT stop; a clean remainder passes.

    Why: L841-868 (#ifdef DEBUG) move the marker in front of the stop page
    (L850-851), then walk p_vpprev from it to the head calling
    hat_page_getattr(chk, P_MOD|P_REF) on each non-marker page (L857).  After
    d1 is written and moved to the head the list is [d1, c1, c2]: the stop
    is at c2, so c1 then d1 are examined.  A non-DEBUG kernel does none of it.
    """
    k = roomy_kernel(debug=debug)
    vp = k.vnode("v1", v_flag=VMODSORT)
    make_page(vp, 0, nrm=P_REF, at="tail")
    make_page(vp, 4096, nrm=P_REF, at="tail")
    make_page(vp, 8192, nrm=P_MOD | P_REF, maps=("-",), at="tail")
    t = k.trace_on()
    put = Putapage()
    assert pvn_vplist_dirty(vp, 0, put, 0, None) == 0
    assert put.pages == ["v1@0x2000"]
    getattrs = [e.format() for e in t.filter(name="hat_page_getattr", nested=False)]
    if debug:
        assert getattrs == [
            "hat_page_getattr(v1@0x0, P_MOD|P_REF) = P_REF",
            "hat_page_getattr(v1@0x2000, P_MOD|P_REF) = 0",
        ]
        lines = prims(t)
        i = lines.index("page_io_locked(v1@0x1000) = 0")
        assert lines[i + 1 : i + 3] == [
            "page_vpsub(&v1.v_pages, MARK(-1))",
            "page_vpadd(&v1@0x0.p_vpnext, MARK(-1))",
        ]
    else:
        assert getattrs == []
    check_kernel(k)


def test_vplist_dirty_debug_check_panics_on_modified_page_before_stop() -> None:
    """A DEBUG kernel panics when a modified page sits before the VMODSORT stop.

    Why: L859-866 panic("v_pages list not all clean: ...") when
    hat_page_getattr finds P_MOD on a page between the head and the stop.
    The state [m (modified), c (clean)] violates the VMODSORT order on
    purpose (built with make_page).
    """
    k = roomy_kernel(debug=True)
    vp = k.vnode("v1", v_flag=VMODSORT)
    make_page(vp, 4096, nrm=P_REF)
    make_page(vp, 0, nrm=P_MOD | P_REF)
    assert vlist(vp) == ["v1@0x0", "v1@0x1000"]
    t = k.trace_on()
    put = Putapage()
    with pytest.raises(KernelPanic, match=r"^v_pages list not all clean: page_t\*=v1@0x0 ") as exc:
        pvn_vplist_dirty(vp, 0, put, 0, None)
    assert "last clean page_t*=v1@0x1000" in str(exc.value)
    assert [e.format() for e in t.filter(name="hat_page_getattr", nested=False)] == [
        "hat_page_getattr(v1@0x0, P_MOD|P_REF) = P_MOD|P_REF"
    ]
    assert put.calls == []


def test_vplist_dirty_non_debug_stops_without_checking_misordered_list() -> None:
    """A non-DEBUG kernel just stops at the clean page, leaving the modified page before it unwritten.

    Why: without DEBUG, L840 -> L869 `break` directly.  (The misordered
    VMODSORT state is built on purpose, so check_kernel's VMODSORT-order
    validator would rightly reject it; it is not called here.)
    """
    k = roomy_kernel(debug=False)
    vp = k.vnode("v1", v_flag=VMODSORT)
    make_page(vp, 4096, nrm=P_REF)
    m = make_page(vp, 0, nrm=P_MOD | P_REF)
    put = Putapage()
    assert pvn_vplist_dirty(vp, 0, put, 0, None) == 0
    assert put.calls == []
    assert m.p_nrm & P_MOD and m.p_selock == 0
    assert len(k.marker_cache.outstanding) == 0
    assert not vp.v_flag & VVMLOCK


# ---------------------------------------------------------------------------
# pvn_vplist_setdirty


class PageCheck:
    def __init__(self, dirty: set[int] | None = None) -> None:
        self.dirty = dirty
        self.seen: list[str] = []

    def __call__(self, pp: Any) -> int:
        self.seen.append(pp.name)
        return 1 if self.dirty is None or pp.p_offset in self.dirty else 0


def test_vplist_setdirty_empty_vnode() -> None:
    """An empty vnode: vphm is entered and left, page_check is never called.

    Why: L1005-1007 return when v_pages is NULL.
    """
    k = roomy_kernel()
    vp = k.vnode("v1", v_flag=VMODSORT)
    t = k.trace_on()
    check = PageCheck()
    pvn_vplist_setdirty(vp, check)
    assert check.seen == []
    assert prims(t) == ["mutex_enter(vphm(v1))", "mutex_exit(vphm(v1))"]
    check_kernel(k)


@pytest.mark.parametrize("where", ["head", "middle", "tail"])
@pytest.mark.parametrize("v_flag", [0, VMODSORT])
def test_vplist_setdirty_skips_marker_pages(where: str, v_flag: int) -> None:
    """A marker page on v_pages is never passed to page_check nor marked modified.

    Why: L1016 tests `pp->p_hash != PVN_VPLIST_HASH_TAG` before calling
    page_check (semantics.md §4.10, §7.28).
    """
    k = roomy_kernel()
    vp = k.vnode("v1", v_flag=v_flag)
    a, b, c = populate(vp, [0, 4096, 8192], nrm=P_REF, at="tail")
    m = kmem_cache_alloc(k.marker_cache, 0)
    m.p_vnode = vp
    m.p_offset = U64 - 1
    link = {"head": vp, "middle": a, "tail": c}[where]
    page_vpadd(link, m)
    check = PageCheck()
    pvn_vplist_setdirty(vp, check)
    assert check.seen == ["v1@0x0", "v1@0x1000", "v1@0x2000"]
    assert m.p_nrm == 0
    assert all(pp.p_nrm & P_MOD for pp in (a, b, c))
    assert "MARK(-1)" in vlist(vp)
    page_vpsub(vp, m)
    kmem_cache_free(k.marker_cache, m)
    check_kernel(k)


def test_vplist_setdirty_vmodsort_moves_checked_pages_to_tail() -> None:
    """On a VMODSORT vnode each page that page_check accepts is marked with hat_setmod_only and moved after the tail.

    Why: L1022 hat_setmod_only (no shuffle of its own, no vphm), then
    L1023-1026 page_vpsub + page_vpadd(&v_pages->p_vpprev->p_vpnext, pp).
    [a,b,c,d] with a and c accepted -> [b,d,a,c]; each page is checked once.
    """
    k = roomy_kernel()
    vp = k.vnode("v1", v_flag=VMODSORT)
    pages = populate(vp, [0, 4096, 8192, 12288], nrm=P_REF, at="tail")
    t = k.trace_on()
    check = PageCheck({0, 8192})
    pvn_vplist_setdirty(vp, check)
    assert check.seen == ["v1@0x0", "v1@0x1000", "v1@0x2000", "v1@0x3000"]
    assert vlist(vp) == ["v1@0x1000", "v1@0x3000", "v1@0x0", "v1@0x2000"]
    assert [bool(p.p_nrm & P_MOD) for p in pages] == [True, False, True, False]
    assert prims(t) == [
        "mutex_enter(vphm(v1))",
        "hat_setmod_only(v1@0x0)",
        "page_vpsub(&v1.v_pages, v1@0x0)",
        "page_vpadd(&v1@0x3000.p_vpnext, v1@0x0)",
        "hat_setmod_only(v1@0x2000)",
        "page_vpsub(&v1.v_pages, v1@0x2000)",
        "page_vpadd(&v1@0x0.p_vpnext, v1@0x2000)",
        "mutex_exit(vphm(v1))",
    ]
    assert not t.filter(name="hat_setmod", nested=False)
    check_kernel(k)


def test_vplist_setdirty_moved_pages_are_not_revisited() -> None:
    """Pages moved behind the old tail are not checked again, even when the old tail itself moves.

    Why: `end` is the tail at entry (L1010); `next` is saved before the move
    (L1015) and the loop stops after processing `end` (L1031-1032).
    All three accepted: a, b, c each move once and the order comes back to
    [a, b, c].
    """
    k = roomy_kernel()
    vp = k.vnode("v1", v_flag=VMODSORT)
    populate(vp, [0, 4096, 8192], nrm=P_REF, at="tail")
    t = k.trace_on()
    check = PageCheck()
    pvn_vplist_setdirty(vp, check)
    assert check.seen == ["v1@0x0", "v1@0x1000", "v1@0x2000"]
    assert len(t.filter(name="page_vpsub", nested=False)) == 3
    assert vlist(vp) == ["v1@0x0", "v1@0x1000", "v1@0x2000"]
    check_kernel(k)


@pytest.mark.parametrize(("v_flag", "offsets"), [(0, [0, 4096, 8192]), (VMODSORT, [0])])
def test_vplist_setdirty_no_shuffle(v_flag: int, offsets: list[int]) -> None:
    """Without VMODSORT, or with a single page, pages are marked modified but never moved.

    Why: shuffle = IS_VMODSORT(vp) && (vp->v_pages != end) (L1011); the
    page_vpsub/page_vpadd of L1024-1026 only run when shuffle is set.
    """
    k = roomy_kernel()
    vp = k.vnode("v1", v_flag=v_flag)
    pages = populate(vp, offsets, nrm=P_REF, at="tail")
    order = vlist(vp)
    t = k.trace_on()
    pvn_vplist_setdirty(vp, PageCheck({0, 8192}))
    assert vlist(vp) == order
    assert not t.filter(name=["page_vpsub", "page_vpadd"], nested=False)
    assert [bool(p.p_nrm & P_MOD) for p in pages] == [p.p_offset in (0, 8192) for p in pages]
    assert len(t.filter(name="hat_setmod_only", nested=False)) == sum(
        p.p_offset in (0, 8192) for p in pages
    )
    check_kernel(k)


# ---------------------------------------------------------------------------
# pvn_vpzero


class FsOps:
    """A vnode's getpage (page_lookup SE_SHARED into pl[0], pl[1] = NULL) and a recording putpage."""

    def __init__(self) -> None:
        self.getpages: list[int] = []
        self.putpages: list[tuple[int, int, int]] = []
        self.ops = VnodeOps(getpage=self.getpage, putpage=self.putpage)

    def getpage(
        self, vp: Any, off: int, length: int, protp: Any, pl: Any, plsz: int, *rest: Any
    ) -> int:
        self.getpages.append(off)
        pl[0] = page_lookup(vp, off, SE_SHARED)
        pl[1] = None
        return 0

    def putpage(self, vp: Any, off: int, length: int, flags: int, cr: Any) -> int:
        self.putpages.append((off, length, flags))
        return 0


def test_vpzero_without_pages_does_nothing() -> None:
    """A vnode without pages: nothing is mapped, zeroed or written.

    Why: L1052-1053 return when v_pages is NULL.
    """
    k = roomy_kernel()
    fs = FsOps()
    vp = k.vnode("v1", ops=fs.ops)
    before = k.snapshot()
    t = k.trace_on()
    pvn_vpzero(vp, 6000, 0)
    assert prims(t) == []
    assert fs.getpages == [] and fs.putpages == []
    assert k.snapshot() == before
    check_kernel(k)


@pytest.mark.parametrize(
    ("vplen", "zbytes", "pages", "count", "window", "zeroed"),
    [
        # vplen=6000: zero 6000..8191 (2192 bytes) of page 4096.
        (6000, 0, [4096], 2192, 0, {4096: (1904, 4096)}),
        # page aligned, zbytes 0: the early return is dead, a whole page is zeroed.
        (8192, 0, [8192], 4096, 8192, {8192: (0, 4096)}),
        # zbytes larger than the rest of the page: 1000..5999 over two pages.
        (1000, 5000, [0, 4096], 5000, 0, {0: (1000, 4096), 4096: (0, 1904)}),
        # zbytes smaller than the rest of the page: the page remainder wins.
        (6000, 100, [4096], 2192, 0, {4096: (1904, 4096)}),
        # a window further into the file: only the low MAXBSIZE bits matter.
        (16384 + 6000, 2192, [20480], 2192, 16384, {20480: (1904, 4096)}),
    ],
)
def test_vpzero_zeroes_through_segmap(
    vplen: int,
    zbytes: int,
    pages: list[int],
    count: int,
    window: int,
    zeroed: dict[int, tuple[int, int]],
) -> None:
    """The bytes from vplen (at least zbytes of them, at least to the page end) are zeroed and pushed async.

    Why: n = MAX(zbytes, PAGESIZE - (vplen & PAGEOFFSET)) (L1079-1081);
    segmap_getmapflt(segkmap, vp, vplen, n, 1, S_WRITE), kzero(addr +
    (vplen & MAXBOFFSET), n), segmap_release(segkmap, addr,
    SM_WRITE|SM_ASYNC) (L1078-1082) -> VOP_PUTPAGE(vp, window, MAXBSIZE,
    B_ASYNC) (semantics.md §4.8, §5.10, §7.27).  The early return of
    L1060-1061 never fires: PAGESIZE - (vplen & PAGEOFFSET) is never 0.
    """
    k = roomy_kernel()
    fs = FsOps()
    vp = k.vnode("v1", ops=fs.ops)
    made = {off: make_page(vp, off, nrm=P_REF, data=b"\xff" * 4096) for off in pages}
    t = k.trace_on()
    pvn_vpzero(vp, vplen, zbytes)
    base = 0x100000000 + window
    assert prims(t) == [
        f"segmap_getmapflt(segkmap, v1, {hex(vplen)}, {count}, 1, S_WRITE) = {hex(base)}",
        f"kzero({hex(base + (vplen & 8191))}, {count})",
        f"segmap_release(segkmap, {hex(base)}, SM_WRITE|SM_ASYNC) = 0",
    ]
    assert fs.getpages == pages
    assert fs.putpages == [(window, 8192, B_ASYNC)]
    for off, pp in made.items():
        lo, hi = zeroed[off]
        data = bytes(pp.p_data)
        assert data[lo:hi] == bytes(hi - lo)
        assert data[:lo] == b"\xff" * lo and data[hi:] == b"\xff" * (4096 - hi)
        assert pp.p_nrm & P_MOD
        assert pp.p_selock == 0 and not pp.p_mapping
    check_kernel(k)


@pytest.mark.parametrize("traced", [True, False])
@pytest.mark.parametrize(("vplen", "zbytes"), [(6000, 2193), (1000, 7193), (16384 + 8191, 2)])
def test_vpzero_panics_when_zbytes_cross_the_window(vplen: int, zbytes: int, traced: bool) -> None:
    """zbytes + (vplen & MAXBOFFSET) > MAXBSIZE panics before anything is mapped.

    Why: L1076-1077 panic("pvn_vptrunc zbytes") before segmap_getmapflt.
    """
    k = roomy_kernel()
    fs = FsOps()
    vp = k.vnode("v1", ops=fs.ops)
    make_page(vp, (vplen & ~4095), nrm=P_REF)
    before = k.snapshot()
    t = k.trace_on() if traced else k.trace
    with pytest.raises(KernelPanic, match=r"^pvn_vptrunc zbytes$"):
        pvn_vpzero(vp, vplen, zbytes)
    assert prims(t) == (["panic(pvn_vptrunc zbytes)"] if traced else [])
    assert fs.getpages == [] and fs.putpages == []
    assert k.snapshot() == before


def test_vpzero_exact_window_end_does_not_panic() -> None:
    """zbytes + (vplen & MAXBOFFSET) == MAXBSIZE is allowed.

    Why: the test of L1076 is a strict `>`.
    """
    k = roomy_kernel()
    fs = FsOps()
    vp = k.vnode("v1", ops=fs.ops)
    make_page(vp, 4096, nrm=P_REF)
    pvn_vpzero(vp, 6000, 2192)
    assert fs.putpages == [(0, 8192, B_ASYNC)]
    check_kernel(k)


# ---------------------------------------------------------------------------
# pvn_getpages


class GetPage:
    """The oracle's scripted getpage: page_lookup_nowait(SE_SHARED) into pl[0], NULL into pl[1]."""

    def __init__(self, fail: int | None = None) -> None:
        self.fail = fail
        self.calls: list[tuple[Any, ...]] = []

    def __call__(
        self,
        vp: Any,
        off: int,
        length: int,
        protp: Any,
        pl: Any,
        sz: int,
        seg: Any,
        addr: int,
        rw: Any,
        cred: Any,
    ) -> int:
        self.calls.append((off, length, sz, protp, seg, addr, rw, cred, isinstance(pl, PageSlots)))
        if off == self.fail:
            return EIO
        if pl is not None:
            pl[0] = page_lookup_nowait(vp, off, SE_SHARED)
            pl[1] = None
        return 0


@pytest.mark.parametrize(
    ("length", "plsz", "expected"),
    [
        # three pages: PAGESIZE for the middle calls, plsz - (o - off) for the last
        (12288, 16384, [(4096, 12288, 4096), (8192, 8192, 4096), (12288, 4096, 8192)]),
        (12288, 12288, [(4096, 12288, 4096), (8192, 8192, 4096), (12288, 4096, 4096)]),
        # len not a page multiple: the last call still starts on a page
        (10000, 20480, [(4096, 10000, 4096), (8192, 5904, 4096), (12288, 1808, 12288)]),
        # one page: the first call is the last
        (4096, 16384, [(4096, 4096, 16384)]),
    ],
)
def test_getpages_slot_sizes(length: int, plsz: int, expected: list[tuple[int, int, int]]) -> None:
    """Each getpage call gets PAGESIZE of pl except the last, which gets the rest of plsz.

    Why: sz = PAGESIZE (L1123); on the last pass (o + PAGESIZE >= eoff)
    sz = plsz - (o - off) (L1128-1133); xlen shrinks by PAGESIZE and addr
    grows by PAGESIZE each pass (L1126); ppp advances one slot (L1147-1148).
    """
    k = roomy_kernel()
    vp = k.vnode("v1")
    seg = object()
    cred = object()
    protp = object()
    pages = {off: make_page(vp, off) for off in range(4096, 4096 + length + 4095, 4096)}
    pl: list[Any] = [None] * (plsz // 4096 + 2)
    gp = GetPage()
    assert (
        pvn_getpages(gp, vp, 4096, length, protp, pl, plsz, seg, 0x10000, SegRw.S_READ, cred) == 0
    )
    assert [c[:3] for c in gp.calls] == expected
    assert [c[5] for c in gp.calls] == [0x10000 + i * 4096 for i in range(len(expected))]
    for c in gp.calls:
        assert c[3] is protp and c[4] is seg and c[6] == SegRw.S_READ and c[7] is cred and c[8]
    n = len(expected)
    assert pl[:n] == [pages[4096 + i * 4096] for i in range(n)]
    assert pl[n] is None
    check_kernel(k)


def test_getpages_without_pl_passes_sz_0() -> None:
    """With pl == NULL every call gets sz 0 and a NULL page array.

    Why: sz = (pl != NULL) ? PAGESIZE : 0 (L1123) and the last-pass
    adjustment needs pl != NULL (L1128).
    """
    k = roomy_kernel()
    vp = k.vnode("v1")
    gp = GetPage()
    assert pvn_getpages(gp, vp, 0, 12288, None, None, 99999, None, 0x10000, SegRw.S_READ, None) == 0
    assert [c[:3] for c in gp.calls] == [(0, 12288, 0), (4096, 8192, 0), (8192, 4096, 0)]
    assert not any(c[8] for c in gp.calls)
    check_kernel(k)


def test_getpages_error_on_first_call_releases_nothing() -> None:
    """An error from the first getpage call is returned without releasing anything.

    Why: the release loop needs o > off (L1141); on the first pass o == off.
    """
    k = roomy_kernel()
    vp = k.vnode("v1")
    held = make_page(vp, 0, lock="S")
    make_page(vp, 4096)
    pl: list[Any] = [held, None, None, None]
    t = k.trace_on()
    gp = GetPage(fail=4096)
    assert pvn_getpages(gp, vp, 4096, 8192, None, pl, 8192, None, 0, SegRw.S_READ, None) == EIO
    assert len(gp.calls) == 1
    assert not t.filter(name="page_release", nested=False)
    assert pl[0] is held and held.p_selock == 1
    check_kernel(k)


def test_getpages_error_after_some_pages_releases_them() -> None:
    """An error after some pages releases each returned page with page_release(pp, 1) and clears its slot.

    Why: L1141-1144 `for (ppp = pl; *ppp != NULL; *ppp++ = NULL)
    (void) page_release(*ppp, 1);`.  The pages are clean and unmapped, so
    they go to the cache list (PGREL_CLEAN, semantics.md §4.5).
    """
    k = roomy_kernel()
    vp = k.vnode("v1")
    populate(vp, [4096, 8192, 12288], nrm=P_REF, at="tail")
    pl: list[Any] = [None] * 6
    t = k.trace_on()
    gp = GetPage(fail=12288)
    assert pvn_getpages(gp, vp, 4096, 12288, None, pl, 16384, None, 0, SegRw.S_READ, None) == EIO
    assert [e.format() for e in t.filter(kind="callback", nested=False)] == [
        "getpage(v1, 0x1000, 12288, 4096) = 0",
        "getpage(v1, 0x2000, 8192, 4096) = 0",
        "getpage(v1, 0x3000, 4096, 8192) = 5",
    ]
    assert [e.format() for e in t.filter(name="page_release", nested=False)] == [
        "page_release(v1@0x1000, 1) = PGREL_CLEAN",
        "page_release(v1@0x2000, 1) = PGREL_CLEAN",
    ]
    assert pl == [None] * 6
    assert names(ring(k.page_cachelist)) == ["v1@0x1000", "v1@0x2000"]
    check_kernel(k)


def test_getpages_error_without_pl_releases_nothing() -> None:
    """With pl == NULL an error after some pages releases nothing.

    Why: the release loop of L1141 also needs pl != NULL.
    """
    k = roomy_kernel()
    vp = k.vnode("v1")
    t = k.trace_on()
    gp = GetPage(fail=8192)
    assert pvn_getpages(gp, vp, 0, 12288, None, None, 0, None, 0, SegRw.S_READ, None) == EIO
    assert len(gp.calls) == 3
    assert not t.filter(name="page_release", nested=False)
    check_kernel(k)


# ---------------------------------------------------------------------------
# pvn_plist_init

UNSET = "unset"


def test_getpages_and_plist_init_accept_plain_int_rw_while_tracing() -> None:
    """The C-named rw constants of pvnsim.flags (plain ints) work with tracing on.

    Why: rw is an `enum seg_rw` (an int in C); pvnsim.flags exports S_READ and
    S_CREATE under their C names and the ports take ``SegRw | int``.  The
    calls must behave as with the enum members (L1135-1136, L1195).
    """
    from pvnsim.flags import S_CREATE, S_READ

    k = roomy_kernel()
    vp = k.vnode("v1")
    make_page(vp, 0)
    k.trace_on()
    pl: list[Any] = [None] * 3
    assert pvn_getpages(GetPage(), vp, 0, 4096, None, pl, 4096, None, 0, S_READ, None) == 0
    assert pl[0] is not None and pl[0].p_selock == 1
    page_unlock(pl[0])
    plist = kluster(vp, [4096, 8192])
    pl2: list[Any] = [None] * 3
    pvn_plist_init(plist, pl2, 8192, 4096, 8192, S_CREATE)
    assert names(pl2[:2]) == ["v1@0x1000", "v1@0x2000"] and pl2[2] is None
    assert [p.p_selock for p in pl2[:2]] == [-1, -1]
    check_kernel(k)


def kluster(vp: Any, offsets: list[int]) -> Any:
    """A read kluster: pages EXCL- and i/o-locked, clean (P_REF), on an ascending p_next ring."""
    head = None
    for off in offsets:
        pp = make_page(vp, off, nrm=P_REF, lock="X", io="me", at="tail")
        head = page_add(head, pp).p_next
    return head


def test_plist_init_semantics_7_25() -> None:
    """Kluster 0..28672, off=12288, plsz=8192: 0-8192 released, pl={12288,16384,NULL}, the rest released.

    Why: L1168-1177 release the pages in front of `off`; the do-while of
    L1190-1198 stores pages while sz > 0, io-unlocking and downgrading them
    (L1194-1196); L1199 terminates pl; L1205-1210 release the rest
    (semantics.md §5.12, §7.25).  Clean unmapped pages go to the cache list.
    """
    k = roomy_kernel()
    vp = k.vnode("v1")
    plist = kluster(vp, list(range(0, 32768, 4096)))
    freemem = k.freemem
    pl: list[Any] = [UNSET] * 4
    t = k.trace_on()
    pvn_plist_init(plist, pl, 8192, 12288, 32768, SegRw.S_READ)
    assert names(pl[:2]) == ["v1@0x3000", "v1@0x4000"]
    assert pl[2:] == [None, UNSET]
    assert [
        e.format() for e in t.filter(name=["page_release", "page_downgrade"], nested=False)
    ] == [
        "page_release(v1@0x0, 1) = PGREL_CLEAN",
        "page_release(v1@0x1000, 1) = PGREL_CLEAN",
        "page_release(v1@0x2000, 1) = PGREL_CLEAN",
        "page_downgrade(v1@0x3000)",
        "page_downgrade(v1@0x4000)",
        "page_release(v1@0x5000, 1) = PGREL_CLEAN",
        "page_release(v1@0x6000, 1) = PGREL_CLEAN",
        "page_release(v1@0x7000, 1) = PGREL_CLEAN",
    ]
    assert names(ring(k.page_cachelist)) == [
        "v1@0x0",
        "v1@0x1000",
        "v1@0x2000",
        "v1@0x5000",
        "v1@0x6000",
        "v1@0x7000",
    ]
    assert k.freemem == freemem + 6
    for pp in pl[:2]:
        assert pp.p_selock == 1 and not pp.p_iolock_state & PAGE_IO_INUSE and pp.p_next is pp
    check_kernel(k)


def test_plist_init_off_not_in_list_releases_all() -> None:
    """When no page has offset `off`, every page is released and pl[0] = NULL.

    Why: the while loop of L1168 empties the list, then L1179-1181 set
    pl[0] = NULL and return (pl[1] is not touched).
    """
    k = roomy_kernel()
    vp = k.vnode("v1")
    plist = kluster(vp, [0, 4096, 8192, 12288])
    pl: list[Any] = [UNSET] * 3
    t = k.trace_on()
    pvn_plist_init(plist, pl, 8192, 20480, 16384, SegRw.S_READ)
    assert pl == [None, UNSET, UNSET]
    assert len(t.filter(name="page_release", nested=False)) == 4
    assert not t.filter(name="page_downgrade", nested=False)
    assert k.cachelist_count == 4
    check_kernel(k)


def test_plist_init_empty_list() -> None:
    """An empty list just sets pl[0] = NULL.

    Why: L1168 loop not entered, L1179-1181.
    """
    k = roomy_kernel()
    pl: list[Any] = [UNSET, UNSET]
    pvn_plist_init(None, pl, 8192, 0, 8192, SegRw.S_READ)
    assert pl == [None, UNSET]
    check_kernel(k)


def test_plist_init_s_create_keeps_pages_exclusive() -> None:
    """With rw == S_CREATE the pages put in pl stay SE_EXCL.

    Why: L1195-1196 downgrade only when rw != S_CREATE.
    """
    k = roomy_kernel()
    vp = k.vnode("v1")
    plist = kluster(vp, [0, 4096, 8192])
    pl: list[Any] = [UNSET] * 4
    t = k.trace_on()
    pvn_plist_init(plist, pl, 8192, 0, 12288, SegRw.S_CREATE)
    assert names(pl[:2]) == ["v1@0x0", "v1@0x1000"] and pl[2] is None
    assert [p.p_selock for p in pl[:2]] == [-1, -1]
    assert not t.filter(name="page_downgrade", nested=False)
    assert [e.format() for e in t.filter(name="page_release", nested=False)] == [
        "page_release(v1@0x2000, 1) = PGREL_CLEAN"
    ]
    check_kernel(k)


@pytest.mark.parametrize(
    ("plsz", "kept"),
    [(0, 1), (4096, 1), (4097, 2), (5000, 2), (8192, 2), (8193, 3), (65536, 4)],
)
def test_plist_init_plsz_rounding(plsz: int, kept: int) -> None:
    """pl gets ceil(plsz / PAGESIZE) pages (at least one), capped by the list; the rest are released.

    Why: sz is signed and decremented by PAGESIZE after each stored page in
    a do-while (L1184-1198), so a partial page counts as a whole one and
    plsz 0 still stores one page; the loop also stops when the list is
    empty.  Remaining pages are released (L1205-1210).
    """
    k = roomy_kernel()
    vp = k.vnode("v1")
    plist = kluster(vp, [0, 4096, 8192, 12288])
    pl: list[Any] = [UNSET] * (plsz // 4096 + 3)
    t = k.trace_on()
    pvn_plist_init(plist, pl, plsz, 0, 16384, SegRw.S_READ)
    assert names(pl[:kept]) == [f"v1@{4096 * i:#x}" for i in range(kept)]
    assert pl[kept] is None
    assert all(x == UNSET for x in pl[kept + 1 :])
    assert [e.args[0] for e in t.filter(name="page_release", nested=False)] == [
        f"v1@{4096 * i:#x}" for i in range(kept, 4)
    ]
    check_kernel(k)


# ---------------------------------------------------------------------------
# pvn_init


@pytest.mark.parametrize(
    ("kw", "supported"),
    [({}, 1), ({"hat_vmodsort": 0}, 0), ({"pvn_vmodsort_disable": 1}, 0)],
)
def test_pvn_init_vmodsort_supported(kw: dict[str, int], supported: int) -> None:
    """pvn_vmodsort_supported is what hat_supported(HAT_VMODSORT) answers, unless pvn_vmodsort_disable is set.

    Why: L700-701 `if (pvn_vmodsort_disable == 0) pvn_vmodsort_supported =
    hat_supported(HAT_VMODSORT, NULL);` (the global starts at 0).
    """
    k = Kernel(**kw)
    assert k.pvn_vmodsort_supported == supported
    check_kernel(k)


def test_pvn_init_disable_leaves_supported_unassigned() -> None:
    """With pvn_vmodsort_disable set, pvn_init neither asks the HAT nor changes pvn_vmodsort_supported.

    Why: the assignment of L701 is guarded by L700.
    """
    k = Kernel(pvn_vmodsort_disable=1)
    k.pvn_vmodsort_supported = 1
    t = k.trace_on()
    pvn_init(k)
    assert k.pvn_vmodsort_supported == 1
    assert not t.filter(name="hat_supported", nested=False)

    k2 = Kernel(hat_vmodsort=0)
    k2.pvn_vmodsort_supported = 1
    t2 = k2.trace_on()
    pvn_init(k2)
    assert k2.pvn_vmodsort_supported == 0
    assert [e.format() for e in t2.filter(name="hat_supported", nested=False)] == [
        "hat_supported(HAT_VMODSORT) = 0"
    ]


def test_pvn_init_marker_cache_uses_the_constructor() -> None:
    """marker_cache builds markers with marker_constructor: zeroed, p_hash = PVN_VPLIST_HASH_TAG.

    Why: L702-704 kmem_cache_create("marker_cache", ..., marker_constructor,
    ...); the constructor bzero()s the page and sets p_hash (L687-695,
    semantics.md §4.10).
    """
    k = Kernel()
    cache = k.marker_cache
    assert cache.name == "marker_cache"
    assert cache.constructor is marker_constructor
    m = kmem_cache_alloc(cache, 0)
    assert m.p_hash is PVN_VPLIST_HASH_TAG
    assert (m.p_vnode, m.p_offset, m.p_selock, m.p_iolock_state, m.p_nrm, m.p_state) == (
        None,
        0,
        0,
        0,
        0,
        0,
    )
    assert m.p_vpnext is m and m.p_vpprev is m and m.p_next is m
    kmem_cache_free(cache, m)
    check_kernel(k)


def test_vmodsort_flag_ignored_when_hat_lacks_vmodsort() -> None:
    """Without HAT VMODSORT support a VMODSORT vnode is walked fully and setdirty does not shuffle.

    Why: IS_VMODSORT needs pvn_vmodsort_supported (vnode.h), which pvn_init
    leaves 0 when hat_supported says no (L701); so L838 and L1011 are false.
    """
    k = roomy_kernel(hat_vmodsort=0)
    vp = k.vnode("v1", v_flag=VMODSORT)
    make_page(vp, 0, nrm=P_REF, maps=("-",), at="tail")
    make_page(vp, 4096, nrm=P_MOD | P_REF, maps=("-",), at="tail")
    t = k.trace_on()
    put = Putapage()
    assert pvn_vplist_dirty(vp, 0, put, 0, None) == 0
    assert [e.args[0] for e in t.filter(name="pvn_getdirty", nested=False)] == [
        "v1@0x1000",
        "v1@0x0",
    ]
    assert put.pages == ["v1@0x1000"]
    order = vlist(vp)
    pvn_vplist_setdirty(vp, PageCheck())
    assert vlist(vp) == order
    check_kernel(k)


def test_vplist_dirty_asserts_each_listed_page_belongs_to_the_vnode() -> None:
    """A page of another vnode spliced into v_pages trips the walk's
    ASSERT(pp->p_vnode == vp) (vm_pvn.c line 830) as a KernelAssertionError."""
    from pvnsim.errors import KernelAssertionError
    from pvnsim.vm.page import page_vpadd, page_vpsub

    k = Kernel(total_pages=16)
    a = k.vnode("a")
    b = k.vnode("b")
    make_page(a, 0, nrm=P_MOD)
    stray = make_page(b, 0, nrm=P_MOD)
    page_vpsub(b, stray)
    page_vpadd(a, stray)  # stray now heads a's list, still naming b
    with pytest.raises(KernelAssertionError, match=r"pp->p_vnode == vp"):
        pvn_vplist_dirty(a, 0, lambda *args: 0, 0, None)
