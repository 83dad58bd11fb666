"""Deliberately broken pvn_vplist_dirty walks, to prove the explorer can fail.

Each does what the port does (VVMLOCK, the page lock dropping vphm, the free
and B_INVAL cases, pvn_getdirty, putapage) except for one seeded bug, as a
file system written outside the project might get it wrong, using only the
public API:

=====================  ======================================================
walk                   its bug
=====================  ======================================================
broken_vplist_dirty    keeps its place with a plain pointer to the next
                       page, saved before vphm is dropped, instead of marker
                       pages (semantics.md §7.30 says why the C uses
                       markers): the saved page may be destroyed meanwhile
skipping_vplist_dirty  the same, and when page_lock had to sleep it goes on
                       to the next page: a synchronous walk never writes a
                       page it slept on (only the end-of-walk checks see it)
norecheck_vplist_dirty uses markers, but when page_lock slept (and dropped
                       vphm) it locks the same page again instead of going
                       back to the marker, and never re-checks ``p_vnode``:
                       the page may have been destroyed while it slept
unlocked_vplist_dirty  uses markers, but drops vphm before it locks the page
                       (``page_lock(pp, se, NULL, ...)``): the page may be
                       destroyed between the two
nobroadcast_vplist_dirty  correct, except that it clears VVMLOCK without
                       ``cv_broadcast(v_cv)``: a second walk asleep on v_cv
                       is never woken (a lost wakeup)
=====================  ======================================================

Single-threaded every one of them hands putapage exactly the pages the port
does.  Test code only: never import this from src/.
"""

from __future__ import annotations

from typing import Any

from pvnsim import pvn_getdirty
from pvnsim.errors import KernelAssertionError
from pvnsim.flags import (
    B_ASYNC,
    B_FREE,
    B_INVAL,
    EAGAIN,
    P_FREE,
    P_NO_RECLAIM,
    SE_EXCL,
    SE_SHARED,
    VVMLOCK,
)
from pvnsim.vm import (
    KM_SLEEP,
    page_destroy_free,
    page_lock,
    page_trylock,
    page_unlock,
    page_vpadd,
    page_vpsub,
)
from pvnsim.vm.kmem import kmem_cache_alloc, kmem_cache_free
from pvnsim.vm.mutex import cv_broadcast, cv_wait, mutex_enter, mutex_exit

_U64 = 1 << 64


def broken_vplist_dirty(vp: Any, off: int, putapage: Any, flags: int, cred: Any) -> int:
    """pvn_vplist_dirty with a saved next-page pointer instead of markers."""
    return _pointer_walk(vp, off, putapage, flags, cred, skip_after_sleep=False)


def skipping_vplist_dirty(vp: Any, off: int, putapage: Any, flags: int, cred: Any) -> int:
    """The same walk, and when page_lock had to sleep it goes on to the next page.

    A second bug, of the kind only the end-of-walk checks can see: a
    synchronous walk that slept on a busy page never writes it.
    """
    return _pointer_walk(vp, off, putapage, flags, cred, skip_after_sleep=True)


def norecheck_vplist_dirty(vp: Any, off: int, putapage: Any, flags: int, cred: Any) -> int:
    """A marker walk that, when page_lock slept, retries the same page without
    looking at the marker or at ``p_vnode`` again."""
    return _marker_walk(vp, off, putapage, flags, cred, bug="norecheck")


def unlocked_vplist_dirty(vp: Any, off: int, putapage: Any, flags: int, cred: Any) -> int:
    """A marker walk that drops vphm before it locks the page."""
    return _marker_walk(vp, off, putapage, flags, cred, bug="unlocked")


def nobroadcast_vplist_dirty(vp: Any, off: int, putapage: Any, flags: int, cred: Any) -> int:
    """The port's walk, except that it clears VVMLOCK without cv_broadcast."""
    return _marker_walk(vp, off, putapage, flags, cred, bug="nobroadcast")


def _enter(vp: Any, flags: int) -> int | None:
    # VVMLOCK (L767-782): None when the walk may go on, else what to return.
    k = vp.kernel
    mutex_enter(vp.v_lock)
    if vp.v_flag & VVMLOCK and flags & B_ASYNC:
        mutex_exit(vp.v_lock)
        return EAGAIN
    while vp.v_flag & VVMLOCK:
        cv_wait(vp.v_cv, vp.v_lock)
    if vp.v_pages is None:
        mutex_exit(vp.v_lock)
        return 0
    vp.v_flag |= VVMLOCK
    vp.v_vvmlock_owner = k.curthread
    mutex_exit(vp.v_lock)
    return None


def _leave(vp: Any, broadcast: bool = True) -> None:
    # L980-983.
    mutex_enter(vp.v_lock)
    vp.v_flag &= ~VVMLOCK
    vp.v_vvmlock_owner = None
    if broadcast:
        cv_broadcast(vp.v_cv)
    mutex_exit(vp.v_lock)


def _visit(vp: Any, pp: Any, vphm: Any, putapage: Any, flags: int, cred: Any, err: int) -> int:
    # A locked page, vphm held: the free and B_INVAL cases, pvn_getdirty and
    # putapage (L940-968).  Returns the walk's error so far.
    if pp.p_state & P_FREE:
        if flags & B_INVAL:
            mutex_exit(vphm)
            page_destroy_free(pp)
            mutex_enter(vphm)
        else:
            page_unlock(pp)
        return err
    mutex_exit(vphm)
    if pvn_getdirty(pp, flags):
        error = putapage(vp, pp, None, None, flags, cred)
        err = err or error
    mutex_enter(vphm)
    return err


def _pointer_walk(
    vp: Any, off: int, putapage: Any, flags: int, cred: Any, *, skip_after_sleep: bool
) -> int:
    if vp.v_pages is None:
        return 0
    early = _enter(vp, flags)
    if early is not None:
        return early
    err = 0
    vphm = vp.v_vphm
    mutex_enter(vphm)
    if vp.v_pages is not None:
        pp = vp.v_pages.p_vpprev
        stop = vp.v_pages
        while True:
            if pp.p_vnode is not vp:
                raise KernelAssertionError("assertion failed: pp->p_vnode == vp")
            # BROKEN: the next page to visit, remembered across the lock drop.
            nxt = pp.p_vpprev
            last = pp is stop
            if pp.p_offset >= off:
                se = SE_EXCL if flags & (B_INVAL | B_FREE) else SE_SHARED
                if flags & B_INVAL or not flags & B_ASYNC:
                    locked = page_lock(pp, se, vphm, P_NO_RECLAIM)
                    if not locked and not skip_after_sleep:
                        continue
                else:
                    locked = page_trylock(pp, se)
                if locked:
                    err = _visit(vp, pp, vphm, putapage, flags, cred, err)
            if last:
                break
            pp = nxt
    mutex_exit(vphm)
    _leave(vp)
    return err


def _marker_walk(vp: Any, off: int, putapage: Any, flags: int, cred: Any, *, bug: str) -> int:
    # The port's loop (L788-979) without the VMODSORT stop, and one bug.
    k = vp.kernel
    if vp.v_pages is None:
        return 0
    early = _enter(vp, flags)
    if early is not None:
        return early
    err = 0
    cache = k.marker_cache
    end = kmem_cache_alloc(cache, KM_SLEEP)
    end.p_vnode = vp
    end.p_offset = _U64 - 2
    mark = kmem_cache_alloc(cache, KM_SLEEP)
    mark.p_vnode = vp
    mark.p_offset = _U64 - 1
    vphm = vp.v_vphm
    mutex_enter(vphm)
    if vp.v_pages is not None:
        page_vpadd(vp.v_pages.p_vpprev, mark)
        page_vpadd(mark, end)
        while True:
            if flags == B_ASYNC and vp.v_pages is mark:
                break
            if mark.p_vpprev is end:
                break
            pp = mark.p_vpprev
            where = vp if vp.v_pages is pp else pp.p_vpprev
            if pp.p_vnode is not vp:
                raise KernelAssertionError("assertion failed: pp->p_vnode == vp")
            if pp.p_offset < off:
                page_vpsub(vp, mark)
                page_vpadd(where, mark)
                continue
            se = SE_EXCL if flags & (B_INVAL | B_FREE) else SE_SHARED
            if bug == "unlocked":
                # BROKEN: past the page and vphm dropped before its lock.
                page_vpsub(vp, mark)
                page_vpadd(where, mark)
                mutex_exit(vphm)
                locked = page_lock(pp, se, None, P_NO_RECLAIM)
                mutex_enter(vphm)
                if not locked:
                    continue
            elif flags & B_INVAL or not flags & B_ASYNC:
                if not page_lock(pp, se, vphm, P_NO_RECLAIM):
                    if bug != "norecheck":
                        continue
                    # BROKEN: the same page again, p_vnode not looked at.
                    while not page_lock(pp, se, vphm, P_NO_RECLAIM):
                        pass
                    where = vp if vp.v_pages is pp else pp.p_vpprev
                page_vpsub(vp, mark)
                page_vpadd(where, mark)
            else:
                page_vpsub(vp, mark)
                page_vpadd(where, mark)
                if not page_trylock(pp, se):
                    continue
            if bug != "norecheck" and pp.p_vnode is not vp:  # L933
                raise KernelAssertionError("assertion failed: pp->p_vnode == vp")
            err = _visit(vp, pp, vphm, putapage, flags, cred, err)
        page_vpsub(vp, mark)
        page_vpsub(vp, end)
    mutex_exit(vphm)
    kmem_cache_free(cache, mark)
    kmem_cache_free(cache, end)
    _leave(vp, broadcast=bug != "nobroadcast")
    return err
