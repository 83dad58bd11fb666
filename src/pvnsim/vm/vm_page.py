"""Page creation, lookup, freeing and destruction of vm_page.c.

Derived from illumos usr/src/uts/common/vm/vm_page.c (CDDL-1.0), following the
contracts in semantics.md 4.4-4.5 and the simplifications listed in
docs/oracle.md ("Model assumptions"):

* freemem is exact: never-used + free-list + cache-list pages.
* page_create_va reserves memory first (throttling as illumos does), then per
  page takes a physical page from the free list or else the head of the cache
  list (which loses its old identity at once), then looks up the identity.
* Waiting for memory without a scheduler first calls the kernel's
  ``memory_reclaim`` hook (a pageout stand-in); if memory is still short it is
  a deadlock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
from pvnsim.vm import _trace
from pvnsim.vm import vnode as _vnode
from pvnsim.vm.hat import _hat_pageunload
from pvnsim.vm.mutex import _mutex_enter, _mutex_exit
from pvnsim.vm.page import NOOFFSET, _page_sub, _page_vpadd, _page_vpsub
from pvnsim.vm.page_lock import (
    _add_reader,
    _grantable,
    _holder,
    _page_io_unlock,
    _page_trylock,
    _page_tryupgrade,
    _page_unlock,
    _take,
)
from pvnsim.vm.vnode import _vn_dispose

if TYPE_CHECKING:
    from pvnsim.kernel import Kernel
    from pvnsim.vm.mutex import KMutex
    from pvnsim.vm.page import Page
    from pvnsim.vm.seg import Seg
    from pvnsim.vm.vnode import Vnode

__all__ = [
    "page_create_va",
    "page_destroy",
    "page_destroy_free",
    "page_exists",
    "page_free",
    "page_hashin",
    "page_hashout",
    "page_lookup",
    "page_lookup_nowait",
    "page_reclaim",
    "page_release",
]

# page_release's results as plain ints (converting the enum per call costs).
_PGREL_NOTREL, _PGREL_MOD, _PGREL_CLEAN = int(PGREL_NOTREL), int(PGREL_MOD), int(PGREL_CLEAN)

_PG_ALLOWED = PG_EXCL | PG_WAIT | PG_NORELOC | PG_PANIC | PG_PUSHPAGE | PG_NORMALPRI

# Masks the per-page paths use, computed once: CPython 3.11 does not
# specialize ``&``, ``|`` and ``~`` on ints, so each one spelled out in a body
# costs a generic call per page.
_PG_EXCL_WAIT = PG_EXCL | PG_WAIT
_ONE_PAGE_FLAGS = frozenset((PG_WAIT, PG_EXCL, _PG_EXCL_WAIT))
_NOT_PG_ALLOWED = ~_PG_ALLOWED
_NOT_P_FREE = ~P_FREE
_NOT_P_SWAP = ~P_SWAP
_NOT_FREE_SWAP = ~(P_FREE | P_SWAP)
_RM_RO = P_REF | P_MOD | P_RO
_NOT_RM_RO = ~_RM_RO
_SWAPVP_FLAGS = VISSWAP | VSWAPLIKE


# -- hash in / hash out ---------------------------------------------------


def _page_hashin(pp: Page, vp: Vnode, off: int) -> int:
    k = vp.kernel
    bucket = k.page_hash[vp]
    if off in bucket:
        return 0
    # The vnode-list mutex is taken before the hash changes, so a thread
    # that sleeps on it leaves the hash and v_pages agreeing; the hash is
    # searched again once it is held (the C holds the hash-chain mutex
    # across search and insert).
    vphm = vp.v_vphm
    # Single-threaded and uncontended, mutex_enter/mutex_exit come down to
    # setting and clearing the owner; done inline, as this runs per page.
    fast = not k.hooked and vphm.owner is None
    if fast:
        vphm.owner = "main"
    else:
        _mutex_enter(vphm)
    if off in bucket:
        _mutex_exit(vphm)
        return 0
    pp.p_vnode = vp
    pp.p_offset = off
    if vp.v_flag & VISSWAP:
        pp.p_state |= P_SWAP
    bucket[off] = pp
    if (
        vp.v_pages is not None
        and pp.p_nrm & P_MOD
        and vp.v_flag & VMODSORT
        and k.pvn_vmodsort_supported
    ):
        _page_vpadd(vp.v_pages.p_vpprev, pp)
    else:
        _page_vpadd(vp, pp)
    if fast:
        vphm.owner = None
    else:
        _mutex_exit(vphm)
    return 1


def _page_hashout(pp: Page) -> None:
    vp = pp.p_vnode
    if vp is None:
        return
    vphm = vp.v_vphm
    k = vp.kernel
    fast = not k.hooked and vphm.owner is None  # as in _page_hashin
    if fast:
        vphm.owner = "main"
    else:
        _mutex_enter(vphm)
    del k.page_hash[vp][pp.p_offset]
    _page_vpsub(vp, pp)
    if fast:
        vphm.owner = None
    else:
        _mutex_exit(vphm)
    pp.p_nrm &= _NOT_RM_RO
    pp.p_state &= _NOT_P_SWAP
    pp.p_vnode = None
    pp.p_offset = NOOFFSET
    pp.p_fsdata = 0


def page_hashin(pp: Page, vp: Vnode, off: int) -> int:
    """Give ``pp`` the identity (vp, off); 0 if that identity already exists."""
    return _page_hashin(pp, vp, off)


def page_hashout(pp: Page) -> None:
    """Remove ``pp``'s identity (hash, v_pages, ref/mod bits)."""
    _page_hashout(pp)


# -- memory ----------------------------------------------------------------


def _wait_for_memory(k: Kernel, target: int) -> None:
    if k.freemem >= target:
        return
    if k.memory_reclaim is not None:
        k.memory_reclaim(k, target - k.freemem)
        if k.freemem >= target:
            return
    k.needfree += target - k.freemem
    try:
        k.block(
            f"memory (freemem {k.freemem}, needs {target})",
            None,
            lambda: k.freemem >= target,
        )
    finally:
        k.needfree = 0


def _wait_excl(k: Kernel, pp: Page, bucket: dict[int, Page], off: int) -> None:
    # Woken when the page is unlocked or loses this identity (page_hashout).
    k.block(
        f"page lock of {pp.name} (SE_EXCL)",
        _holder(pp),
        lambda: _grantable(pp, SE_EXCL) or bucket.get(off) is not pp,
    )


def _wait_io(k: Kernel, pp: Page) -> None:
    k.block(f"i/o lock of {pp.name}", pp.p_ioowner, lambda: not pp.p_iolock_state & PAGE_IO_INUSE)


def _give_back(k: Kernel, spare: Page) -> None:
    spare.p_selock = 0
    spare.p_sowner = None
    k.put_free_page(spare)


def _first_unlocked(head: Page | None) -> Page | None:
    # illumos skips cache-list pages it cannot lock (a walk may hold one).
    if head is None:
        return None
    pp = head
    while pp.p_selock != 0:
        pp = pp.p_next
        if pp is head:
            return None
    return pp


def _page_create_va(
    vp: Vnode, off: int, nbytes: int, flags: int, seg: Seg | None, vaddr: int
) -> Page | None:
    k = vp.kernel
    if nbytes == k.pagesize and flags in _ONE_PAGE_FLAGS:
        # The one-page call the ports and the fs kit make, told by a
        # comparison and a set lookup (cheaper than the bit tests below):
        # valid flags, and one page is never more than max_page_get (at
        # least 1).
        npages = 1
    else:
        if not flags & _PG_EXCL_WAIT:
            raise KernelPanic("page_create_va: invalid flags: neither PG_EXCL nor PG_WAIT")
        if flags & _NOT_PG_ALLOWED:
            raise KernelPanic(f"page_create_va: unsupported flags {flags & ~_PG_ALLOWED:#x}")
        npages = (nbytes + k.pageoffset) >> k.pageshift  # btopr
        if npages > (k.total_pages // 2 or 1):
            if not flags & PG_WAIT:
                return None
            k.block(f"memory for {npages} pages (more than max_page_get)", None, lambda: False)
    if k.freemem <= k.throttlefree + npages:  # type: ignore[operator]
        if flags & PG_WAIT:
            _wait_for_memory(k, npages + k.throttlefree)  # type: ignore[operator]
        elif k.freemem < npages + k.pageout_reserve:  # type: ignore[operator]
            return None
    if k.freemem < npages:
        if not flags & PG_WAIT:
            return None
        _wait_for_memory(k, npages)
    # After any wait (a reclaim hook may have changed freemem meanwhile).
    entry_freemem = k.freemem
    k.freemem -= npages
    hooked = k.hooked
    me = k.curthread if hooked else "main"
    plist: Page | None = None
    created = 0
    spare: Page | None = None
    bucket = k.page_hash[vp]
    vphm = vp.v_vphm
    pagesize = k.pagesize
    visswap = vp.v_flag & VISSWAP  # read once for the written-out page_hashin
    i = 0
    o = off  # off + (i << PAGESHIFT), kept up to date as i advances
    while i < npages:
        if spare is None:
            # Like the C's page_get_freelist/page_get_cachelist, the page we
            # take is locked SE_EXCL, so nobody can use it while we hold it.
            # Once memory is full the free list is empty and every page is
            # built: skip take_free_page's call then.
            if k.page_freelist is None and k.unused_pages <= 0:
                spare = None
            else:
                spare = k.take_free_page()
            if spare is None:
                cached = k.page_cachelist
                if cached is not None and cached.p_selock != 0:
                    cached = _first_unlocked(cached)
                if cached is None:
                    raise KernelPanic("page_create_va: no free page")
                # _take(cached, SE_EXCL, me) and k.cachelist_sub(cached), inlined:
                # once memory is full, every page created comes this way.
                cached.p_selock = -1
                cached.p_sowner = me
                nxt = cached.p_next
                if k.page_cachelist is cached:
                    k.page_cachelist = None if nxt is cached else nxt
                prv = cached.p_prev
                prv.p_next = nxt
                nxt.p_prev = prv
                cached.p_next = cached
                cached.p_prev = cached
                k.cachelist_count -= 1
                ovp = cached.p_vnode
                if hooked or ovp is None or ovp.v_vphm.owner is not None:
                    cached.p_state &= _NOT_P_FREE
                    _page_hashout(cached)
                else:
                    # _page_hashout(cached), written out for the case where
                    # nothing can watch: unhooked, with the old vnode's list
                    # mutex free, taking and dropping it changes nothing
                    # anyone sees, so it is left alone.  Once memory is full
                    # every page created recycles a cached one this way.
                    del k.page_hash[ovp][cached.p_offset]
                    nxt = cached.p_vpnext
                    if ovp.v_pages is cached:
                        ovp.v_pages = None if nxt is cached else nxt
                    prv = cached.p_vpprev
                    prv.p_vpnext = nxt
                    nxt.p_vpprev = prv
                    cached.p_vpnext = cached
                    cached.p_vpprev = cached
                    cached.p_nrm &= _NOT_RM_RO
                    # Clearing P_FREE (above, for the other branch) and then
                    # P_SWAP (in _page_hashout), in one step.
                    cached.p_state &= _NOT_FREE_SWAP
                    cached.p_vnode = None
                    cached.p_offset = NOOFFSET
                    cached.p_fsdata = 0
                spare = cached
            else:
                # _take(spare, SE_EXCL, me): a page off the free list is unlocked.
                spare.p_selock = -1
                spare.p_sowner = me
        existing = bucket.get(o)
        if existing is None:
            pp = spare
            if hooked or vphm.owner is not None:
                pp.p_nrm = P_REF
                if not _page_hashin(pp, vp, o):
                    # Another thread created it while we waited for the list
                    # mutex (only possible with a scheduler): look again.
                    pp.p_nrm = 0
                    continue
            else:
                # _page_hashin(pp, vp, o), written out (once per page
                # created) for the case where it cannot fail: unhooked and
                # with the list mutex free nothing runs between the lookup
                # above and here, and that mutex is left alone as above.  A
                # page with only P_REF goes to the head of v_pages.
                pp.p_nrm = P_REF
                pp.p_vnode = vp
                pp.p_offset = o
                if visswap:
                    pp.p_state |= P_SWAP
                bucket[o] = pp
                head = vp.v_pages
                if head is None:
                    pp.p_vpnext = pp
                    pp.p_vpprev = pp
                else:
                    tail = head.p_vpprev
                    pp.p_vpnext = head
                    pp.p_vpprev = tail
                    tail.p_vpnext = pp
                    head.p_vpprev = pp
                vp.v_pages = pp
            # The spare was locked SE_EXCL by us when it was taken.
            spare = None
            pp.p_iolock_state |= PAGE_IO_INUSE
            pp.p_ioowner = me
            created += 1
        elif flags & PG_EXCL:
            while plist is not None:
                victim = plist
                plist = _page_sub(plist, victim)
                _page_io_unlock(victim)
                _vn_dispose(victim, B_INVAL, 0, None)
            _give_back(k, spare)
            k.freemem += npages - created
            # Our own self-check; with other threads running, freemem may
            # have moved while this call slept.
            if k.sched is None and k.freemem != entry_freemem:
                raise KernelAssertionError("page_create_va: freemem not restored after failure")
            return None
        else:
            if not _grantable(existing, SE_EXCL):
                # The reservation is kept while we sleep, as in the C.
                _wait_excl(k, existing, bucket, o)
                continue
            pp = existing
            _take(pp, SE_EXCL, me)
            if pp.p_state & P_FREE:
                k.cachelist_sub(pp)
                pp.p_state &= _NOT_P_FREE
            else:
                k.freemem += 1
            if pp.p_iolock_state & PAGE_IO_INUSE:
                if spare is not None:
                    # This page needs no spare: give it back before sleeping,
                    # so freemem and the free lists agree while we wait.
                    _give_back(k, spare)
                    spare = None
                _wait_io(k, pp)
            pp.p_iolock_state |= PAGE_IO_INUSE
            pp.p_ioowner = me
        # Append: page_add(&plist, pp) followed by plist = plist->p_next,
        # inlined (once per page).
        if plist is None:
            pp.p_next = pp
            pp.p_prev = pp
            plist = pp
        else:
            tail = plist.p_prev
            pp.p_next = plist
            pp.p_prev = tail
            tail.p_next = pp
            plist.p_prev = pp
        i += 1
        if i < npages:  # (not after the last page: a new int object each time)
            o += pagesize
    if spare is not None:
        _give_back(k, spare)
    return plist


def page_create_va(
    vp: Vnode, off: int, nbytes: int, flags: int, seg: Seg | None, vaddr: int
) -> Page | None:
    """Create pages for [off, off + nbytes) of ``vp``, each EXCL- and i/o-locked.

    Returns the ring of pages (ascending, head at ``off``), or ``None`` when a
    page already exists and PG_EXCL was given, or memory is short without
    PG_WAIT.
    """
    k = vp.kernel
    if k.hooked and k.sched is not None:
        k.sched.switch_point("page_create_va", vp.v_name)
    if k.hooked and k.tracing:
        return _trace.traced(
            k, "page_create_va", "viiGsa>p", _page_create_va, vp, off, nbytes, flags, seg, vaddr
        )
    return _page_create_va(vp, off, nbytes, flags, seg, vaddr)


# -- lookup ------------------------------------------------------------------


def _page_exists(vp: Vnode, off: int) -> Page | None:
    return vp.kernel.page_hash[vp].get(off)


def page_exists(vp: Vnode, off: int) -> Page | None:
    """The page (vp, off) if it exists, free or not (a hint: nothing is locked)."""
    k = vp.kernel
    if k.hooked and k.tracing:
        return _trace.traced(k, "page_exists", "vi>p", _page_exists, vp, off)
    return k.page_hash[vp].get(off)


def _page_lookup_nowait(vp: Vnode, off: int, se: int) -> Page | None:
    k = vp.kernel
    pp = k.page_hash[vp].get(off)
    # PP_ISFREE; p_state is 0 for most pages, and a comparison is cheaper
    # than the bit test (CPython specializes the one, not the other).
    if pp is None or (pp.p_state != 0 and pp.p_state & P_FREE):
        return None
    # page_trylock, inlined for its two common cases (every page of a
    # putpage range comes here).
    selock = pp.p_selock
    if selock == 0:
        pp.p_selock = -1 if se == SE_EXCL else 1
        pp.p_sowner = k.curthread if k.hooked else "main"
        return pp
    if not _page_trylock(pp, se):
        return None
    return pp


def page_lookup_nowait(vp: Vnode, off: int, se: Se | int) -> Page | None:
    """The page (vp, off) locked in mode ``se``, or None if absent, free or busy.

    Failing because the page is busy is a switch point: the holder may run.
    """
    k = vp.kernel
    if k.hooked and k.tracing:
        pp = _trace.traced(k, "page_lookup_nowait", "vie>p", _page_lookup_nowait, vp, off, Se(se))
    else:
        pp = _page_lookup_nowait(vp, off, se)
    if pp is None and k.hooked and k.sched is not None:
        busy = k.page_hash[vp].get(off)
        if busy is not None and not busy.p_state & P_FREE:
            k.sched.switch_point("page_lookup_nowait", busy)
    return pp


def _page_lookup(vp: Vnode, off: int, se: int) -> Page | None:
    k = vp.kernel
    bucket = k.page_hash[vp]
    while True:
        pp = bucket.get(off)
        if pp is None:
            return None
        # PP_ISFREE, read once (nothing below changes p_state before the
        # second use); p_state is 0 for most pages, a cheap comparison.
        free = pp.p_state != 0 and pp.p_state & P_FREE
        want = SE_EXCL if free else se
        selock = pp.p_selock
        if selock == 0:
            # _take of an unlocked page, inlined (the common case).
            pp.p_selock = -1 if want == SE_EXCL else 1
            pp.p_sowner = k.curthread if k.hooked else "main"
        elif want == SE_EXCL or selock < 0:  # not _grantable
            _wait_page(k, bucket, off, pp, want)
            continue
        else:
            _add_reader(pp, k.curthread if k.hooked else "main")
        if free:
            if k.freemem < 1 or pp.p_vnode is None:
                if not _page_reclaim(pp, None):
                    continue
            else:
                # _page_reclaim(pp, None) of a cached page with memory to
                # spare, written out: readahead pages come back this way,
                # once per page read.  (We hold it SE_EXCL and it is free,
                # the two things _page_reclaim asserts.)  The cache-list
                # removal is k.cachelist_sub(pp), spelled out.
                nxt = pp.p_next
                if k.page_cachelist is pp:
                    k.page_cachelist = None if nxt is pp else nxt
                prv = pp.p_prev
                prv.p_next = nxt
                nxt.p_prev = prv
                pp.p_next = pp
                pp.p_prev = pp
                k.cachelist_count -= 1
                pp.p_state &= _NOT_P_FREE
                pp.p_nrm |= P_REF
                k.freemem -= 1
                vm = k.vm
                vm.pgrec += 1
                vm.pgfrec += 1
            if se != SE_EXCL:
                pp.p_selock = 1
        return pp


def _wait_page(k: Kernel, bucket: dict[int, Page], off: int, pp: Page, want: int) -> None:
    # The page's name as pp.name (page_name) renders a page with identity,
    # built here without the property and its call: a sequential read waits
    # here for each readahead block.  The wake-up test is _grantable(pp,
    # want) written out.
    vp = pp.p_vnode
    name = f"{vp.v_name}@{pp.p_offset}" if vp is not None and pp.p_hash is None else pp.name
    k.block(
        f"page lock of {name}",
        _holder(pp),
        lambda: (
            (pp.p_selock == 0 if want == SE_EXCL else pp.p_selock >= 0) or bucket.get(off) is not pp
        ),
    )


def page_lookup(vp: Vnode, off: int, se: Se | int) -> Page | None:
    """The page (vp, off) locked in mode ``se``, reclaimed if it was cached.

    Waits for the page lock; returns None only when the page does not exist.
    """
    k = vp.kernel
    if k.hooked and k.sched is not None:
        k.sched.switch_point("page_lookup", vp.v_name)
    if k.hooked and k.tracing:
        return _trace.traced(k, "page_lookup", "vie>p", _page_lookup, vp, off, Se(se))
    return _page_lookup(vp, off, se)


def _page_reclaim(pp: Page, lock: KMutex | None) -> int:
    k = pp.kernel
    if pp.p_selock >= 0:
        raise KernelAssertionError(f"page_reclaim: page {pp.name} is not held exclusively")
    if not pp.p_state & P_FREE:
        raise KernelAssertionError(f"page_reclaim: page {pp.name} is not free")
    if k.freemem < 1:
        _page_unlock(pp)
        return 0
    if pp.p_vnode is not None:
        k.cachelist_sub(pp)
    else:
        k.page_freelist = _page_sub(k.page_freelist, pp)
        k.freelist_count -= 1
    pp.p_state &= _NOT_P_FREE
    pp.p_nrm |= P_REF
    k.freemem -= 1
    k.vm.pgrec += 1
    k.vm.pgfrec += 1
    return 1


def page_reclaim(pp: Page, lock: KMutex | None) -> int:
    """Take an exclusively locked free page off its list; 1 on success."""
    k = pp.kernel
    if k.hooked and k.tracing:
        return _trace.traced(k, "page_reclaim", "pm>i", _page_reclaim, pp, lock)
    return _page_reclaim(pp, lock)


# -- free, destroy, release ----------------------------------------------------


def _page_free(pp: Page, dontneed: int) -> None:
    k = pp.kernel
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
            raise KernelAssertionError(f"page_free: page {pp.name} is not held exclusively")
        if pp.p_iolock_state & PAGE_IO_INUSE:
            raise KernelAssertionError(f"page_free: page {pp.name} is i/o locked")
        if state & P_FREE:
            raise KernelPanic(f"page_free: page {pp.name} is free")
        if pp.p_mapping or pp.p_lckcnt or pp.p_cowcnt:
            raise KernelPanic(
                f"page_free pp={pp.name}, mapped={len(pp.p_mapping or ())}, "
                f"lckcnt={pp.p_lckcnt}, cowcnt={pp.p_cowcnt}"
            )
    vp = pp.p_vnode
    nrm = pp.p_nrm
    if nrm != 0:
        if vp is not None and nrm & P_MOD and vp.v_flag & VMODSORT and k.pvn_vmodsort_supported:
            raise KernelAssertionError(f"page_free: VMODSORT page {pp.name} is modified")
        pp.p_nrm = nrm & _NOT_RM_RO
    pp.p_state = state | P_FREE
    if vp is None:
        pp.p_offset = NOOFFSET
        k.put_free_page(pp)
    else:
        # k.cachelist_add(pp, dontneed), inlined: every page freed comes here.
        head = k.page_cachelist
        if head is None:
            pp.p_next = pp
            pp.p_prev = pp
            k.page_cachelist = pp
        else:
            tail = head.p_prev
            pp.p_next = head
            pp.p_prev = tail
            tail.p_next = pp
            head.p_prev = pp
            if dontneed:
                k.page_cachelist = pp
        k.cachelist_count += 1
    pp.p_selock = 0
    pp.p_sowner = None
    k.freemem += 1


def page_free(pp: Page, dontneed: int) -> None:
    """Free ``pp``: cache list (head if ``dontneed``) with identity, else free list."""
    k = pp.kernel
    if k.hooked and k.tracing:
        _trace.traced(k, "page_free", "pi", _page_free, pp, dontneed)
        return
    _page_free(pp, dontneed)


def _page_destroy(pp: Page, dontfree: int) -> None:
    if pp.p_selock >= 0:
        raise KernelAssertionError(f"page_destroy: page {pp.name} is not held exclusively")
    if pp.p_iolock_state & PAGE_IO_INUSE:
        raise KernelAssertionError(f"page_destroy: page {pp.name} is i/o locked")
    _hat_pageunload(pp, 1)
    _page_hashout(pp)
    if not dontfree:
        pp.p_lckcnt = 0
        pp.p_cowcnt = 0
        _page_free(pp, 0)


def page_destroy(pp: Page, dontfree: int) -> None:
    """Unmap ``pp``, remove its identity and (unless ``dontfree``) free it."""
    k = pp.kernel
    if k.hooked and k.tracing:
        _trace.traced(k, "page_destroy", "pi", _page_destroy, pp, dontfree)
        return
    _page_destroy(pp, dontfree)


def _page_destroy_free(pp: Page) -> None:
    k = pp.kernel
    if pp.p_selock >= 0:
        raise KernelAssertionError(f"page_destroy_free: page {pp.name} is not held exclusively")
    if not pp.p_state & P_FREE or pp.p_vnode is None:
        raise KernelAssertionError(f"page_destroy_free: page {pp.name} is not on the cache list")
    if pp.p_mapping or pp.p_nrm & (P_REF | P_MOD | P_RO):
        raise KernelAssertionError(f"page_destroy_free: page {pp.name} is mapped or has ref/mod")
    k.cachelist_sub(pp)
    _page_hashout(pp)
    k.put_free_page(pp)
    pp.p_selock = 0
    pp.p_sowner = None


def page_destroy_free(pp: Page) -> None:
    """Move a locked cache-list page to the free list, removing its identity."""
    k = pp.kernel
    if k.hooked and k.tracing:
        _trace.traced(k, "page_destroy_free", "p", _page_destroy_free, pp)
        return
    _page_destroy_free(pp)


def _page_release(pp: Page, checkmod: int) -> int:
    vp = pp.p_vnode
    # PP_ISFREE behind the comparison p_state != 0, as in the lookups.
    if pp.p_selock == 0 or (pp.p_state != 0 and pp.p_state & P_FREE) or vp is None:
        raise KernelAssertionError(
            f"page_release: page {pp.name} must be locked, not free, with a vnode"
        )
    if (
        not pp.p_mapping
        and not vp.v_flag & _SWAPVP_FLAGS  # IS_SWAPVP(vp)
        and ((pp.p_selock > 0 and _page_tryupgrade(pp)) or pp.p_selock < 0)
        and pp.p_lckcnt == 0
        and pp.p_cowcnt == 0
        and not pp.p_mapping
    ):
        if checkmod and pp.p_nrm & P_MOD:
            _page_unlock(pp)
            return _PGREL_MOD
        # _vn_dispose(pp, B_FREE, 0, None) with the page's vnode known,
        # written out: every readahead page released after its read comes
        # here.
        op = vp.v_op.dispose
        if op is not None:
            op(vp, pp, B_FREE, 0, None)
        else:
            _page_free(pp, 0)  # fs_dispose's B_FREE case
        return _PGREL_CLEAN
    _page_unlock(pp)
    return _PGREL_NOTREL


def page_release(pp: Page, checkmod: int) -> int:
    """Free ``pp`` if nobody maps or shares it (PGREL_CLEAN), else unlock it."""
    k = pp.kernel
    if k.hooked and k.tracing:
        return _trace.traced(k, "page_release", "pi>r", _page_release, pp, checkmod)
    return _page_release(pp, checkmod)


_vnode._page_free = _page_free
_vnode._page_destroy = _page_destroy
