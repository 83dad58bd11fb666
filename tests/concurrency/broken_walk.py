"""A deliberately broken pvn_vplist_dirty, to prove the explorer can fail.

It does what the port does (VVMLOCK, the page lock dropping vphm, the free
and B_INVAL cases, pvn_getdirty, putapage), except that it keeps its place
in v_pages with a plain pointer to the next page, saved before vphm is
dropped, instead of a marker page in the list.  Single-threaded it hands
putapage exactly the pages the port does.  Once another thread may run while
vphm is dropped, the saved page can be destroyed meanwhile, and the walk then
follows a page that is no longer on the list (semantics.md §7.30 says why the
C uses markers).  ``skipping_vplist_dirty`` adds a second bug that only the
end-of-walk checks can see.  Test code only: never import this from src/.
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
from pvnsim.vm import page_destroy_free, page_lock, page_trylock, page_unlock
from pvnsim.vm.mutex import cv_broadcast, cv_wait, mutex_enter, mutex_exit


def broken_vplist_dirty(vp: Any, off: int, putapage: Any, flags: int, cred: Any) -> int:
    """pvn_vplist_dirty with a saved next-page pointer instead of markers."""
    return _walk(vp, off, putapage, flags, cred, skip_after_sleep=False)


def skipping_vplist_dirty(vp: Any, off: int, putapage: Any, flags: int, cred: Any) -> int:
    """The same walk, and when page_lock had to sleep it goes on to the next page.

    A second bug, of the kind only the end-of-walk checks can see: a
    synchronous walk that slept on a busy page never writes it.
    """
    return _walk(vp, off, putapage, flags, cred, skip_after_sleep=True)


def _walk(
    vp: Any, off: int, putapage: Any, flags: int, cred: Any, *, skip_after_sleep: bool
) -> int:
    k = vp.kernel
    if vp.v_pages is None:
        return 0
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
                    if pp.p_state & P_FREE:
                        if flags & B_INVAL:
                            mutex_exit(vphm)
                            page_destroy_free(pp)
                            mutex_enter(vphm)
                        else:
                            page_unlock(pp)
                    else:
                        mutex_exit(vphm)
                        if pvn_getdirty(pp, flags):
                            error = putapage(vp, pp, None, None, flags, cred)
                            err = err or error
                        mutex_enter(vphm)
            if last:
                break
            pp = nxt
    mutex_exit(vphm)
    mutex_enter(vp.v_lock)
    vp.v_flag &= ~VVMLOCK
    vp.v_vvmlock_owner = None
    cv_broadcast(vp.v_cv)
    mutex_exit(vp.v_lock)
    return err
