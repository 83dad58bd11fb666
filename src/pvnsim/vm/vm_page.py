"""Page identity, creation, lookup, freeing and destruction (vm_page.c).

Derived from illumos usr/src/uts/common/vm/vm_page.c, with VN_DISPOSE
(sys/vnode.h) and the default dispose operation fs_dispose
(usr/src/uts/common/fs/fs_subr.c), all CDDL-1.0.  The contracts are the
ones docs/primitives.md describes; the model's simplifications are listed in
docs/model.md:

* freemem is exact (see :mod:`pvnsim.vm.page`).
* page_create_va reserves memory first (throttling as illumos does), then per
  page takes a physical page from the free list or else the first unlocked
  page of the cache list (which loses its old identity at once), then looks
  up the identity.
* Waiting for memory without a scheduler first calls the kernel's
  ``memory_reclaim`` hook (a pageout stand-in); if memory is still short it is
  a deadlock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pvnsim.errors import KernelAssertionError, KernelPanic
from pvnsim.flags import (
    B_FREE,
    B_INVAL,
    P_FREE,
    P_MOD,
    P_REF,
    P_RO,
    P_SWAP,
    PAGE_IO_INUSE,
    PG_EXCL,
    PG_NORELOC,
    PG_NORMALPRI,
    PG_PANIC,
    PG_PUSHPAGE,
    PG_WAIT,
    PGREL_CLEAN,
    PGREL_MOD,
    PGREL_NOTREL,
    SE_EXCL,
    VISSWAP,
    VMODSORT,
    VSWAPLIKE,
    Se,
)
from pvnsim.hooks import implements, sleep
from pvnsim.vm.cint import PGCNT_T, U_OFFSET_T
from pvnsim.vm.hat import hat_ismod, hat_page_is_mapped, hat_pageunload
from pvnsim.vm.page import (
    NOOFFSET,
    page_add,
    page_get_cached,
    page_get_free,
    page_give_back,
    page_hashin,
    page_hashout,
    page_list_add,
    page_list_sub,
    page_name,
    page_sub,
    page_take,
)
from pvnsim.vm.page_lock import (
    grantable,
    holder,
    page_downgrade,
    page_io_lock,
    page_io_unlock,
    page_trylock,
    page_tryupgrade,
    page_unlock,
    take,
)

if TYPE_CHECKING:
    from pvnsim.kernel import Kernel
    from pvnsim.vm.mutex import KMutex
    from pvnsim.vm.page import Page
    from pvnsim.vm.seg import Seg
    from pvnsim.vm.vnode import Vnode

__all__ = [
    "VN_DISPOSE",
    "fs_dispose",
    "page_create_putback",
    "page_create_reserve",
    "page_create_va",
    "page_destroy",
    "page_destroy_free",
    "page_exists",
    "page_free",
    "page_lookup",
    "page_lookup_nowait",
    "page_reclaim",
    "page_release",
]

# page_release's results as plain ints (converting the enum per call costs).
_PGREL_NOTREL, _PGREL_MOD, _PGREL_CLEAN = int(PGREL_NOTREL), int(PGREL_MOD), int(PGREL_CLEAN)

_PG_ALLOWED = PG_EXCL | PG_WAIT | PG_NORELOC | PG_PANIC | PG_PUSHPAGE | PG_NORMALPRI

# Masks the per-page paths use, computed once: CPython 3.11 does not
# specialize ``&``, ``|`` and ``~`` on ints.
_PG_EXCL_WAIT = PG_EXCL | PG_WAIT
_ONE_PAGE_FLAGS = frozenset((PG_WAIT, PG_EXCL, _PG_EXCL_WAIT))
_NOT_PG_ALLOWED = ~_PG_ALLOWED
_NOT_P_SWAP = ~P_SWAP
_RM_RO = P_REF | P_MOD | P_RO
_NOT_RM_RO = ~_RM_RO
_SWAPVP_FLAGS = VISSWAP | VSWAPLIKE


# -- memory ----------------------------------------------------------------


def page_create_reserve(k: Kernel, npages: int) -> None:
    """Set aside ``npages`` of freemem for pages the caller will take (the
    decrement of illumos's page_create_wait)."""
    k.freemem -= npages


def page_create_putback(k: Kernel, npages: int) -> None:
    """Give back ``npages`` of a reservation that will not be taken."""
    k.freemem += npages


def _wait_for_memory(k: Kernel, target: int) -> None:
    if k.freemem >= target:
        return
    if k.memory_reclaim is not None:
        k.memory_reclaim(k, target - k.freemem)
        if k.freemem >= target:
            return
    k.needfree += target - k.freemem
    try:
        sleep(
            k,
            f"memory (freemem {k.freemem}, needs {target})",
            None,
            lambda: k.freemem >= target,
        )
    finally:
        k.needfree = 0


def _wait_excl(k: Kernel, pp: Page, bucket: dict[int, Page], off: int) -> None:
    # Woken when the page is unlocked or loses this identity (page_hashout).
    sleep(
        k,
        f"page lock of {page_name(pp)} (SE_EXCL)",
        holder(pp),
        lambda: grantable(pp, SE_EXCL) or bucket.get(off) is not pp,
    )


def _give_back(spare: Page) -> None:
    # A page taken for the reservation and not used: unlocked and returned.
    page_unlock(spare)
    page_give_back(spare)


@implements
def page_create_va(
    vp: Vnode, off: int, nbytes: int, flags: int, seg: Seg | None, vaddr: int
) -> Page | None:
    """Create pages for [off, off + nbytes) of ``vp``, each EXCL- and i/o-locked.

    Returns the ring of pages (ascending, head at ``off``), or ``None`` when a
    page already exists and PG_EXCL was given, or memory is short without
    PG_WAIT.  Without PG_EXCL an existing page is locked and used instead.
    """
    k = vp.kernel
    if k.hooks is not None and k.hooks.entering != "page_create_va":
        return k.hooks.around(  # type: ignore[no-any-return]
            "page_create_va", vp, off, nbytes, flags, seg, vaddr
        )
    if nbytes == k.pagesize and flags in _ONE_PAGE_FLAGS:
        # The one-page call the ports and the fs kit make, told by a
        # comparison and a set lookup (cheaper than the bit tests below):
        # valid flags, and one page is never more than max_page_get.
        npages = 1
    else:
        if not flags & _PG_EXCL_WAIT:
            raise KernelPanic("page_create_va: invalid flags: neither PG_EXCL nor PG_WAIT")
        if flags & _NOT_PG_ALLOWED:
            raise KernelPanic(f"page_create_va: unsupported flags {flags & ~_PG_ALLOWED:#x}")
        npages = ((nbytes + k.pageoffset) & PGCNT_T) >> k.pageshift  # btopr, a uintptr_t
        if npages > (k.total_pages // 2 or 1):
            if not flags & PG_WAIT:
                return None
            sleep(k, f"memory for {npages} pages (more than max_page_get)", None, lambda: False)
    # pgcnt_t sums, wrapping as in the C.
    if k.freemem <= (k.throttlefree + npages) & PGCNT_T:  # type: ignore[operator]
        if flags & PG_WAIT:
            _wait_for_memory(k, (npages + k.throttlefree) & PGCNT_T)  # type: ignore[operator]
        elif k.freemem < (npages + k.pageout_reserve) & PGCNT_T:  # type: ignore[operator]
            return None
    if k.freemem < npages:
        if not flags & PG_WAIT:
            return None
        _wait_for_memory(k, npages)
    # After any wait (a reclaim hook may have changed freemem meanwhile).
    entry_freemem = k.freemem
    k.freemem -= npages  # page_create_reserve(k, npages), written out
    me = k.curthread
    plist: Page | None = None
    created = 0
    spare: Page | None = None
    bucket = k.page_hash[vp]
    pagesize = k.pagesize
    i = 0
    o = off  # off + (i << PAGESHIFT), kept up to date as i advances
    while i < npages:
        if spare is None:
            # _take_spare(k, me), written out: once per page created.
            spare = page_get_free(k)
            if spare is None:
                spare = page_get_cached(k)
                if spare is None:
                    raise KernelPanic("page_create_va: no free page")
                take(spare, SE_EXCL, me)
                page_hashout(spare)
            else:
                take(spare, SE_EXCL, me)
        existing = bucket.get(o)
        if existing is None:
            pp = spare
            pp.p_nrm = P_REF
            if not page_hashin(pp, vp, o):
                # Another thread created it while we waited for the list
                # mutex (only possible with a scheduler): look again.
                pp.p_nrm = 0
                continue
            spare = None
            if k.poison:
                # Ours: the page's old contents made recognisable (see Kernel).
                pp.p_data = bytearray(k.poison_pattern)
            page_io_lock(pp)
            created += 1
        elif flags & PG_EXCL:
            while plist is not None:
                victim = plist
                plist = page_sub(plist, victim)
                page_io_unlock(victim)
                VN_DISPOSE(victim, B_INVAL, 0, None)
            _give_back(spare)
            page_create_putback(k, npages - created)
            # Our own self-check; with other threads running, freemem may
            # have moved while this call slept.
            if k.sched is None and k.freemem != entry_freemem:
                raise KernelAssertionError("page_create_va: freemem not restored after failure")
            return None
        else:
            if not page_trylock(existing, SE_EXCL):
                # The reservation is kept while we sleep, as in the C.
                _wait_excl(k, existing, bucket, o)
                continue
            pp = existing
            if pp.p_state & P_FREE:
                page_take(pp)  # the reservation pays for it
            else:
                k.freemem += 1  # page_create_putback(k, 1): in use, this slot is not needed
            if pp.p_iolock_state & PAGE_IO_INUSE and spare is not None:
                # We are about to sleep: the spare goes back first, so
                # freemem and the free list agree while we wait.
                _give_back(spare)
                spare = None
            page_io_lock(pp)
        plist = page_add(plist, pp)  # appended: the C's page_add then
        plist = plist.p_next  # plist = plist->p_next
        i += 1
        if i < npages:  # (not after the last page: a new int object each time)
            o = (o + pagesize) & U_OFFSET_T  # a u_offset_t: wraps past 2^64 - 1
    if spare is not None:
        _give_back(spare)
    return plist


# -- lookup ------------------------------------------------------------------


@implements
def page_exists(vp: Vnode, off: int) -> Page | None:
    """The page (vp, off) if it exists, free or not (a hint: nothing is locked)."""
    k = vp.kernel
    if k.hooks is not None and k.hooks.entering != "page_exists":
        return k.hooks.around("page_exists", vp, off)  # type: ignore[no-any-return]
    return k.page_hash[vp].get(off)


@implements
def page_lookup_nowait(vp: Vnode, off: int, se: Se | int) -> Page | None:
    """The page (vp, off) locked in mode ``se``, or None if absent, free or busy."""
    k = vp.kernel
    if k.hooks is not None and k.hooks.entering != "page_lookup_nowait":
        return k.hooks.around("page_lookup_nowait", vp, off, se)  # type: ignore[no-any-return]
    pp = k.page_hash[vp].get(off)
    # PP_ISFREE; p_state is 0 for most pages, and a comparison is cheaper
    # than the bit test (CPython specializes the one, not the other).
    if pp is None or (pp.p_state != 0 and pp.p_state & P_FREE):
        return None
    if not page_trylock(pp, se):
        return None
    return pp


def _wait_page(k: Kernel, bucket: dict[int, Page], off: int, pp: Page, want: int) -> None:
    sleep(
        k,
        f"page lock of {page_name(pp)}",
        holder(pp),
        lambda: grantable(pp, want) or bucket.get(off) is not pp,
    )


@implements
def page_lookup(vp: Vnode, off: int, se: Se | int) -> Page | None:
    """The page (vp, off) locked in mode ``se``, reclaimed if it was cached.

    Waits for the page lock; returns None only when the page does not exist.
    """
    k = vp.kernel
    if k.hooks is not None and k.hooks.entering != "page_lookup":
        return k.hooks.around("page_lookup", vp, off, se)  # type: ignore[no-any-return]
    bucket = k.page_hash[vp]
    while True:
        pp = bucket.get(off)
        if pp is None:
            return None
        # A free page is taken exclusively (to reclaim it) whatever was asked.
        free = pp.p_state != 0 and pp.p_state & P_FREE
        want = SE_EXCL if free else se
        if not page_trylock(pp, want):
            _wait_page(k, bucket, off, pp, want)
            continue
        if free:
            if not page_reclaim(pp, None):
                continue
            if se != SE_EXCL:
                page_downgrade(pp)
        return pp


@implements
def page_reclaim(pp: Page, lock: KMutex | None) -> int:
    """Take an exclusively locked free page off its list; 1 on success."""
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "page_reclaim":
        return k.hooks.around("page_reclaim", pp, lock)  # type: ignore[no-any-return]
    if pp.p_selock >= 0:
        raise KernelAssertionError(f"page_reclaim: page {page_name(pp)} is not held exclusively")
    if not pp.p_state & P_FREE:
        raise KernelAssertionError(f"page_reclaim: page {page_name(pp)} is not free")
    if k.freemem < 1:
        page_unlock(pp)
        return 0
    page_list_sub(pp)
    pp.p_nrm |= P_REF
    vm = k.vm
    vm.pgrec += 1
    vm.pgfrec += 1
    return 1


# -- free, destroy, release ----------------------------------------------------


@implements
def page_free(pp: Page, dontneed: int) -> None:
    """Free ``pp``: cache list (head if ``dontneed``) with identity, else free list."""
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "page_free":
        return k.hooks.around("page_free", pp, dontneed)  # type: ignore[no-any-return]
    state = pp.p_state
    # The usual page (exclusively locked, i/o lock free, not free, unmapped,
    # no lock or cow counts) in one test, mostly comparisons (which CPython
    # specializes; a bit test is a generic call): this runs for every page
    # freed.  The checks below name any problem.
    if not (
        pp.p_selock < 0
        and pp.p_iolock_state == 0
        and not state & P_FREE
        and pp.p_mapping is None
        and pp.p_lckcnt == 0
        and pp.p_cowcnt == 0
    ):
        if pp.p_selock >= 0:
            raise KernelAssertionError(f"page_free: page {page_name(pp)} is not held exclusively")
        if pp.p_iolock_state & PAGE_IO_INUSE:
            raise KernelAssertionError(f"page_free: page {page_name(pp)} is i/o locked")
        if state & P_FREE:
            raise KernelPanic(f"page_free: page {page_name(pp)} is free")
        if pp.p_mapping or pp.p_lckcnt or pp.p_cowcnt:
            raise KernelPanic(
                f"page_free pp={page_name(pp)}, mapped={len(pp.p_mapping or ())}, "
                f"lckcnt={pp.p_lckcnt}, cowcnt={pp.p_cowcnt}"
            )
    vp = pp.p_vnode
    nrm = pp.p_nrm
    if nrm != 0:
        if vp is not None and nrm & P_MOD and vp.v_flag & VMODSORT and k.pvn_vmodsort_supported:
            raise KernelAssertionError(f"page_free: VMODSORT page {page_name(pp)} is modified")
        pp.p_nrm = nrm & _NOT_RM_RO
    if vp is None:
        pp.p_offset = NOOFFSET
        page_list_add(pp, 0)
    else:
        page_list_add(pp, dontneed)
    page_unlock(pp)
    return None


@implements
def page_destroy(pp: Page, dontfree: int) -> None:
    """Unmap ``pp``, remove its identity and (unless ``dontfree``) free it."""
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "page_destroy":
        return k.hooks.around("page_destroy", pp, dontfree)  # type: ignore[no-any-return]
    if pp.p_selock >= 0:
        raise KernelAssertionError(f"page_destroy: page {page_name(pp)} is not held exclusively")
    if pp.p_iolock_state & PAGE_IO_INUSE:
        raise KernelAssertionError(f"page_destroy: page {page_name(pp)} is i/o locked")
    hat_pageunload(pp, 1)
    page_hashout(pp)
    if not dontfree:
        pp.p_lckcnt = 0
        pp.p_cowcnt = 0
        page_free(pp, 0)
    return None


@implements
def page_destroy_free(pp: Page) -> None:
    """Move a locked cache-list page to the free list, removing its identity."""
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "page_destroy_free":
        return k.hooks.around("page_destroy_free", pp)  # type: ignore[no-any-return]
    if pp.p_selock >= 0:
        raise KernelAssertionError(
            f"page_destroy_free: page {page_name(pp)} is not held exclusively"
        )
    if not pp.p_state & P_FREE or pp.p_vnode is None:
        raise KernelAssertionError(
            f"page_destroy_free: page {page_name(pp)} is not on the cache list"
        )
    if pp.p_mapping or pp.p_nrm & _RM_RO:
        raise KernelAssertionError(
            f"page_destroy_free: page {page_name(pp)} is mapped or has ref/mod"
        )
    page_list_sub(pp)
    page_hashout(pp)
    page_list_add(pp, 0)
    page_unlock(pp)
    return None


@implements
def page_release(pp: Page, checkmod: int) -> int:
    """Free ``pp`` if nobody maps or shares it (PGREL_CLEAN), else unlock it.

    With ``checkmod`` a modified page is only unlocked (PGREL_MOD).
    """
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "page_release":
        return k.hooks.around("page_release", pp, checkmod)  # type: ignore[no-any-return]
    vp = pp.p_vnode
    # PP_ISFREE behind the comparison p_state != 0, as in the lookups.
    if pp.p_selock == 0 or (pp.p_state != 0 and pp.p_state & P_FREE) or vp is None:
        raise KernelAssertionError(
            f"page_release: page {page_name(pp)} must be locked, not free, with a vnode"
        )
    # The HAT's predicates are called, not read, so that a trace shows them
    # where the C calls them.
    if (
        not hat_page_is_mapped(pp)
        and not vp.v_flag & _SWAPVP_FLAGS  # IS_SWAPVP(vp)
        and ((pp.p_selock > 0 and page_tryupgrade(pp)) or pp.p_selock < 0)
        and pp.p_lckcnt == 0
        and pp.p_cowcnt == 0
        and not hat_page_is_mapped(pp)
    ):
        if checkmod and hat_ismod(pp):
            page_unlock(pp)
            return _PGREL_MOD
        VN_DISPOSE(pp, B_FREE, 0, None)
        return _PGREL_CLEAN
    page_unlock(pp)
    return _PGREL_NOTREL


# -- dispose -------------------------------------------------------------------


@implements
def VN_DISPOSE(pp: Page, flag: int, dn: int, cr: Any) -> None:
    """vnode.h VN_DISPOSE: hand ``pp`` to its vnode's dispose operation.

    A vnode without one (and a page without a vnode) gets :func:`fs_dispose`.
    """
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "VN_DISPOSE":
        return k.hooks.around("VN_DISPOSE", pp, flag, dn, cr)  # type: ignore[no-any-return]
    vp = pp.p_vnode
    if vp is not None and vp.v_op.dispose is not None:
        vp.v_op.dispose(vp, pp, flag, dn, cr)
    # fs_dispose(vp, pp, flag, dn, cr), its two cases written out: every page
    # a walk frees or destroys comes here.
    elif flag == B_FREE:
        page_free(pp, dn)
    elif flag == B_INVAL:
        page_destroy(pp, dn)
    else:
        fs_dispose(vp, pp, flag, dn, cr)  # refuses the flag
    return None


@implements
def fs_dispose(vp: Vnode | None, pp: Page, fl: int, dn: int, cr: Any) -> None:
    """fs_subr.c fs_dispose, the default VOP_DISPOSE: free (B_FREE) or
    destroy (B_INVAL) ``pp``."""
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "fs_dispose":
        return k.hooks.around("fs_dispose", vp, pp, fl, dn, cr)  # type: ignore[no-any-return]
    if fl == B_FREE:
        page_free(pp, dn)
    elif fl == B_INVAL:
        page_destroy(pp, dn)
    else:
        raise KernelAssertionError(f"fs_dispose: flag {fl:#x} is neither B_FREE nor B_INVAL")
    return None
