"""Ports of every routine of illumos vm_pvn.c, the paged-vnode VM layer.

Derived from illumos usr/src/uts/common/vm/vm_pvn.c
(Copyright (c) 1986, 2010, Oracle and/or its affiliates; Copyright 2015
Nexenta Systems, Inc.; portions (c) AT&T and the Regents of the University of
California), distributed under the CDDL-1.0, as is this file.

Read it side by side with the C: each port follows its C routine statement by
statement, in the same order, and ``# L<n>`` comments give the C line a
statement stands for (the trace uses them to tag events).  Every place where a
port departs from the C says ``DEVIATION:`` and why.

Each port opens with the model's hook guard (the one hook point,
:mod:`pvnsim.hooks`, as for every primitive), then the C's first statement.
These are the bodies: they trust their arguments, as the C does, and call
each other and the primitives directly.  The public functions users call
(``pvnsim.pvn_read_kluster``, ...) live in :mod:`pvnsim.vm.ports`, which
checks the arguments once and then calls these.

Deviations shared by all ports:

* DEVIATION: out-parameters (``*offp``, ``*lenp``) are returned in a
  :class:`Kluster`; page-list arrays (``pl``) stay caller-owned Python lists
  filled in place, as arrays are in C.
* DEVIATION: the C's globals (freemem, tunables, marker_cache, ...) live in the
  :class:`~pvnsim.kernel.Kernel` reached through the vnode or page argument;
  ``pvn_init`` therefore takes the kernel.
* DEVIATION: an ASSERT at a routine's entry raises
  :class:`~pvnsim.errors.UsageError` (nothing has changed yet: the caller
  broke the routine's contract); an ASSERT further on raises
  :class:`~pvnsim.errors.KernelAssertionError`.  Both stay active under
  ``python -O``.
* DEVIATION: on the paths run once per page, a few macros of page.h and
  vnode.h (IS_VMODSORT, IS_SWAPFSVP, PP_ISFREE, PAGE_LOCKED) are written out
  as the field tests they expand to, as the C preprocessor would; the
  comment beside each names the macro.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from pvnsim.errors import KernelAssertionError, UsageError
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
    EAGAIN,
    HAT_FORCE_PGUNLOAD,
    HAT_SYNC_DONTZERO,
    HAT_SYNC_STOPON_MOD,
    HAT_SYNC_ZERORM,
    HAT_VMODSORT,
    MAXBOFFSET,
    MAXBSIZE,
    P_FREE,
    P_MOD,
    P_NO_RECLAIM,
    P_REF,
    PAGE_IO_INUSE,
    PG_EXCL,
    PG_WAIT,
    S_CREATE,
    S_WRITE,
    SE_EXCL,
    SE_SHARED,
    SM_ASYNC,
    SM_WRITE,
    VCHR,
    VISSWAPFS,
    VMODSORT,
    VVMEXEC,
    VVMLOCK,
    SegRw,
)
from pvnsim.hooks import call_back, implements, panic
from pvnsim.trace import register_line_map
from pvnsim.vm.cint import CADDR_T, PGCNT_T, SIZE_T, U_OFFSET_T, spgcnt_t, ssize_t
from pvnsim.vm.hat import (
    hat_clrrefmod,
    hat_ismod,
    hat_page_getattr,
    hat_page_is_mapped,
    hat_pagesync,
    hat_pageunload,
    hat_setmod_only,
    hat_supported,
)
from pvnsim.vm.kmem import KM_SLEEP, KmemCache, kmem_cache_alloc, kmem_cache_free
from pvnsim.vm.mutex import cv_broadcast, cv_wait, mutex_enter, mutex_exit
from pvnsim.vm.page import (
    PVN_VPLIST_HASH_TAG,
    Page,
    page_add,
    page_name,
    page_sub,
    page_vpadd,
    page_vpsub,
    ring,
)
from pvnsim.vm.page_lock import (
    page_downgrade,
    page_io_lock,
    page_io_locked,
    page_io_trylock,
    page_io_unlock,
    page_io_wait,
    page_lock,
    page_trylock,
    page_tryupgrade,
    page_unlock,
)
from pvnsim.vm.seg import SEGOP_KLUSTER, Seg
from pvnsim.vm.seg_map import kzero, segmap_getmapflt, segmap_release
from pvnsim.vm.vm_page import (
    VN_DISPOSE,
    page_create_va,
    page_destroy_free,
    page_lookup_nowait,
    page_release,
)
from pvnsim.vm.vnode import IS_SWAPVP, IS_VMODSORT, Vnode, page_vnode_mutex

if TYPE_CHECKING:
    from pvnsim.kernel import Kernel

__all__ = [
    "KCRED",
    "PVN_FLAGS",
    "Kluster",
    "PageSlots",
    "marker_constructor",
    "pvn_getdirty",
    "pvn_getpages",
    "pvn_init",
    "pvn_io_done",
    "pvn_plist_init",
    "pvn_read_done",
    "pvn_read_kluster",
    "pvn_vplist_dirty",
    "pvn_vplist_setdirty",
    "pvn_vpzero",
    "pvn_write_done",
    "pvn_write_kluster",
]

_U64 = 1 << 64

#: The credential the C passes as ``kcred`` (opaque to the simulation).
KCRED: Any = "kcred"

#: Flags pvn_getdirty, pvn_write_kluster and pvn_vplist_dirty understand.
PVN_FLAGS = B_ASYNC | B_INVAL | B_FREE | B_DONTNEED | B_DELWRI | B_TRUNC | B_FORCE

# A mask the per-page paths use, computed once (CPython 3.11 does not
# specialize ``&``, ``|`` and ``~`` on ints).
_B_INVAL_FREE = B_INVAL | B_FREE

PutapageFn = Callable[[Vnode, Page, Any, Any, int, Any], int]
GetpageFn = Callable[..., int]
PageCheckFn = Callable[[Page], int]


class Kluster(NamedTuple):
    """What pvn_read_kluster and pvn_write_kluster give back.

    An immutable record; it unpacks as ``plist, off, len``, the way the C
    fills its three results.  (A named tuple because one is built per
    kluster, and building a tuple is the cheapest record Python has.)

    Attributes:
        plist: head of the p_next ring of pages, lowest offset first.
        off: the C's ``*offp``: offset of the first page.
        len: the C's ``*lenp``: bytes covered (may end inside the last page
            after pvn_read_kluster's retract).
    """

    plist: Page
    off: int
    len: int

    @property
    def pages(self) -> list[Page]:
        """The pages of the ring, head first."""
        return ring(self.plist)

    def __str__(self) -> str:
        names = " ".join(p.name for p in self.pages)
        return f"plist=[{names}] off={self.off:#x} len={self.len}"


class PageSlots:
    """The page-array type every routine that takes ``pl`` accepts: a view of
    a page array from some index on (the C's ``page_t **``).

    pvn_getpages hands one to its getpage callback at the current slot, so
    ``pl[0] = pp`` there stores into the caller's array, and the callback
    may hand it on to pvn_plist_init (the tmpfs pattern).  A plain list is
    accepted wherever a PageSlots is.
    """

    __slots__ = ("_array", "_start")

    def __init__(self, array: list[Page | None] | PageSlots, start: int = 0) -> None:
        base: list[Page | None]
        if isinstance(array, PageSlots):
            base = array._array
            start += array._start
        else:
            base = array
        self._array: list[Page | None] = base
        self._start: int = start

    def __getitem__(self, index: int) -> Page | None:
        return self._array[self._start + index]

    def __setitem__(self, index: int, value: Page | None) -> None:
        self._array[self._start + index] = value

    def __len__(self) -> int:
        return len(self._array) - self._start

    def __repr__(self) -> str:
        rest = self._array[self._start :]
        names = ", ".join("NULL" if pp is None else pp.name for pp in rest)
        return f"PageSlots([{names}])"


PageArray = list[Page | None] | PageSlots


def _kassert(cond: object, text: str) -> None:
    if not cond:
        raise KernelAssertionError(f"assertion failed: {text}")


# ---------------------------------------------------------------------------
# pvn_read_kluster: vm_pvn.c lines 89-221


@implements
def pvn_read_kluster(
    vp: Vnode,
    off: int,
    seg: Seg,
    addr: int,
    vp_off: int,
    vp_len: int,
    isra: int,
) -> Kluster | None:
    """Create the largest run of absent pages around ``off`` for one read.

    C source: usr/src/uts/common/vm/vm_pvn.c, lines 89-221.

    Deviations: the shared ones in the module docstring.
    """
    k = vp.kernel
    if k.hooks is not None and k.hooks.entering != "pvn_read_kluster":
        return k.hooks.around(  # type: ignore[no-any-return]
            "pvn_read_kluster", vp, off, seg, addr, vp_off, vp_len, isra
        )
    if not (off >= vp_off and off < (vp_off + vp_len) & U_OFFSET_T):  # L107
        raise UsageError(
            f"pvn_read_kluster: off={off:#x} is outside the window "
            f"[{vp_off:#x}, {vp_off + vp_len:#x})"
        )
    PAGESIZE = k.pagesize
    plist: Page | None = None

    # Klustering (and read-ahead) only spends memory above minfree.
    pagesavail = spgcnt_t(k.freemem - k.minfree)  # type: ignore[operator]  # L113

    if pagesavail <= 0:  # L115
        if isra:  # L116
            return None  # L117
        else:
            pagesavail = 1  # L119

    # Compare in pages, as the C does to stay clear of 32-bit byte overflow.
    # btopr(vp_len), a uintptr_t, compared as a signed page count:
    if pagesavail < spgcnt_t(((vp_len + k.pageoffset) & PGCNT_T) >> k.pageshift):  # L122
        # Not enough for the whole window: first drop the part before off.
        deltab = ssize_t(off - vp_off)  # L127
        vp_len = (vp_len - deltab) & SIZE_T  # L128
        vp_off = (vp_off + deltab) & U_OFFSET_T  # L129
        # Here the signed page count meets an unsigned one: compared unsigned.
        if pagesavail & PGCNT_T < ((vp_len + k.pageoffset) & PGCNT_T) >> k.pageshift:  # L130
            # Still too much: settle for what is available (at least a page).
            vp_len = (pagesavail << k.pageshift) & SIZE_T  # L135: ptob(pagesavail)

    vp_end = (vp_off + vp_len) & U_OFFSET_T  # L139
    if not (off >= vp_off and off < vp_end):  # L140
        _kassert(False, "off >= vp_off && off < vp_end")  # pragma: no cover

    if isra and SEGOP_KLUSTER(seg, addr, 0):  # L142
        return None  # L143

    plist = page_create_va(vp, off, PAGESIZE, PG_EXCL | PG_WAIT, seg, addr)  # L145
    if plist is None:
        return None  # L147

    if vp_len <= PAGESIZE or k.pvn_nofodklust:  # L149
        offp = off  # L150
        lenp = min(vp_len, PAGESIZE)  # L151
    else:
        # Walk backwards from off, prepending each new page, until the window
        # start, a refusal by the segment, or a page that already exists.
        deltab = PAGESIZE  # L158
        while off >= (vp_off + deltab) & U_OFFSET_T:
            if SEGOP_KLUSTER(seg, addr, -deltab):  # L164
                break  # L165
            pp = page_create_va(  # L166
                vp, (off - deltab) & U_OFFSET_T, PAGESIZE, PG_EXCL, seg, (addr - deltab) & CADDR_T
            )
            if pp is None:
                break  # L169
            plist = page_add(plist, pp)  # L173
            deltab += PAGESIZE  # L159
        deltab -= PAGESIZE  # L175

        # Then forwards, appending, until the window end.
        deltaf = PAGESIZE  # L178
        while (off + deltaf) & U_OFFSET_T < vp_end:
            if SEGOP_KLUSTER(seg, addr, deltaf):  # L184
                break  # L185
            pp = page_create_va(  # L186
                vp, (off + deltaf) & U_OFFSET_T, PAGESIZE, PG_EXCL, seg, (addr + deltaf) & CADDR_T
            )
            if pp is None:
                break  # L189
            plist = page_add(plist, pp)  # L194
            plist = plist.p_next  # L195
            deltaf += PAGESIZE  # L179
        off = (off - deltab) & U_OFFSET_T  # L197
        offp = off
        lenp = (deltab + deltaf) & SIZE_T  # L198
        if off < vp_off:  # L199
            _kassert(False, "off >= vp_off")  # pragma: no cover

        # A window narrower than the pages covering it (fragments smaller
        # than a page) is reported with its own end, not the page end.
        if (vp_off + vp_len) & U_OFFSET_T < (off + lenp) & U_OFFSET_T:  # L212
            _kassert(vp_end > off, "vp_end > off")  # L213
            lenp = (vp_end - off) & SIZE_T  # L214
    return Kluster(plist, offp, lenp)  # L220


# ---------------------------------------------------------------------------
# pvn_write_kluster: vm_pvn.c lines 233-298


@implements
def pvn_write_kluster(
    vp: Vnode,
    pp: Page,
    vp_off: int,
    vp_len: int,
    flags: int,
) -> Kluster:
    """Gather the dirty neighbours of ``pp`` into one write.

    C source: usr/src/uts/common/vm/vm_pvn.c, lines 233-298.

    Deviations: the shared ones in the module docstring.
    """
    k = vp.kernel
    if k.hooks is not None and k.hooks.entering != "pvn_write_kluster":
        return k.hooks.around(  # type: ignore[no-any-return]
            "pvn_write_kluster", vp, pp, vp_off, vp_len, flags
        )
    PAGESIZE = k.pagesize

    off = pp.p_offset  # L249

    # Never kluster an invalidation of a swap-like vnode: its neighbours may
    # belong to other processes.
    if k.pvn_write_noklust or ((flags & B_INVAL) and IS_SWAPVP(vp)):  # L256
        return Kluster(pp, off, PAGESIZE)  # L257-259

    if flags & (B_FREE | B_INVAL):  # L262
        se = SE_EXCL  # L263
    else:
        se = SE_SHARED  # L265

    dirty = pp  # L267
    # Backwards; the comparison is written so the unsigned C never wraps.
    deltab = PAGESIZE  # L273
    while off >= (vp_off + deltab) & U_OFFSET_T:
        pp = page_lookup_nowait(vp, (off - deltab) & U_OFFSET_T, se)  # type: ignore[assignment]  # L274
        if pp is None:
            break  # L276
        if pvn_getdirty(pp, flags | B_DELWRI) == 0:  # L277
            break  # L278
        dirty = page_add(dirty, pp)  # L279
        deltab += PAGESIZE  # L273
    deltab -= PAGESIZE  # L281

    vp_end = (vp_off + vp_len) & U_OFFSET_T  # L283
    deltaf = PAGESIZE  # L285
    while (off + deltaf) & U_OFFSET_T < vp_end:
        pp = page_lookup_nowait(vp, (off + deltaf) & U_OFFSET_T, se)  # type: ignore[assignment]  # L286
        if pp is None:
            break  # L288
        if pvn_getdirty(pp, flags | B_DELWRI) == 0:  # L289
            break  # L290
        dirty = page_add(dirty, pp)  # L291
        dirty = dirty.p_next  # L292
        deltaf += PAGESIZE  # L285

    return Kluster(dirty, (off - deltab) & U_OFFSET_T, (deltab + deltaf) & SIZE_T)  # L295-297


# ---------------------------------------------------------------------------
# pvn_io_done: vm_pvn.c lines 304-315


@implements
def pvn_io_done(plist: Page | None) -> None:
    """Drop the i/o lock and the page lock of every page of ``plist``.

    C source: usr/src/uts/common/vm/vm_pvn.c, lines 304-315.

    Deviations: the shared ones in the module docstring.
    """
    k = None if plist is None else plist.kernel
    if k is not None and k.hooks is not None and k.hooks.entering != "pvn_io_done":
        return k.hooks.around("pvn_io_done", plist)  # type: ignore[no-any-return]
    while plist is not None:  # L309
        pp = plist  # L310
        plist = page_sub(plist, pp)  # L311
        page_io_unlock(pp)  # L312
        page_unlock(pp)  # L313
    return None


# ---------------------------------------------------------------------------
# pvn_read_done: vm_pvn.c lines 322-338


@implements
def pvn_read_done(plist: Page | None, flags: int) -> None:
    """Finish a read: destroy the pages on B_ERROR, otherwise release them.

    C source: usr/src/uts/common/vm/vm_pvn.c, lines 322-338.

    Deviations: the shared ones in the module docstring.
    """
    k = None if plist is None else plist.kernel
    if k is not None and k.hooks is not None and k.hooks.entering != "pvn_read_done":
        return k.hooks.around("pvn_read_done", plist, flags)  # type: ignore[no-any-return]
    while plist is not None:  # L327
        pp = plist  # L328
        plist = page_sub(plist, pp)  # L329
        page_io_unlock(pp)  # L330
        if flags & B_ERROR:  # L331
            VN_DISPOSE(pp, B_INVAL, 0, KCRED)  # L333
        else:
            page_release(pp, 0)  # L335
    return None


# ---------------------------------------------------------------------------
# pvn_write_done: vm_pvn.c lines 359-565


@implements
def pvn_write_done(plist: Page | None, flags: int) -> None:
    """Finish a write of ``plist``: keep, free or destroy each page.

    C source: usr/src/uts/common/vm/vm_pvn.c, lines 340-565 (tunables
    ``write_free`` and ``pages_before_pager`` at lines 345-346).

    Deviations: the C's globals are reached through the list's kernel; an
    empty list has none, and then the routine has nothing to do (in C the
    write_free test and the zero statistics have no effect either).
    """
    # DEVIATION: the C's globals are reached through the list's kernel, and an
    # empty list has none (the routine then has nothing to do).
    k = None if plist is None else plist.kernel
    if k is not None and k.hooks is not None and k.hooks.entering != "pvn_write_done":
        return k.hooks.around("pvn_write_done", plist, flags)  # type: ignore[no-any-return]
    if (flags & B_READ) != 0:  # L378
        raise UsageError("pvn_write_done: B_READ is set (ASSERT((flags & B_READ) == 0))")
    dfree = 0
    pgrec = 0
    pgout = 0
    pgpgout = 0
    anonpgout = 0
    anonfree = 0
    fspgout = 0
    fsfree = 0
    execpgout = 0
    execfree = 0
    vp: Vnode | None = None

    # When the pager is about to run anyway, free what we have just written.
    if k is not None:
        if (
            k.write_free
            and k.freemem < (k.lotsfree + k.pages_before_pager) & PGCNT_T  # type: ignore[operator]
            and (flags & B_ERROR) == 0
        ):  # L383
            flags |= B_FREE  # L385

    while plist is not None:  # L391
        pp = plist  # L392
        # PAGE_LOCKED(pp) && page_iolock_assert(pp), with the two macros
        # spelled out and the test inline: this runs for every page written.
        if not (pp.p_selock != 0 and pp.p_iolock_state & PAGE_IO_INUSE):  # L393
            _kassert(False, "PAGE_LOCKED(pp) && page_iolock_assert(pp)")  # pragma: no cover
        plist = page_sub(plist, pp)  # L394

        if vp is None:  # L397
            vp = pp.p_vnode  # L398
        assert vp is not None

        # IS_VMODSORT(vp), spelled out here and below on the per-page paths.
        if (
            ((flags & B_ERROR) == 0) and vp.v_flag & VMODSORT and vp.kernel.pvn_vmodsort_supported
        ):  # L400
            # A page nobody dirtied during the write is clean now: move it to
            # the head, where VMODSORT keeps clean pages.
            vphm = page_vnode_mutex(vp)  # L405
            mutex_enter(vphm)  # L406
            if (pp.p_vpnext is not pp) and not hat_ismod(pp):  # L407
                page_vpsub(vp, pp)  # L408
                page_vpadd(vp, pp)  # L409
            mutex_exit(vphm)  # L411

        if flags & B_ERROR:  # L414
            # The write failed: keep the page dirty for a later retry, unless
            # the caller insists on destroying it.
            if (flags & (B_INVAL | B_FORCE)) == (B_INVAL | B_FORCE):  # L425
                page_io_unlock(pp)  # L426
                VN_DISPOSE(pp, B_INVAL, 0, KCRED)  # L428
            else:
                hat_setmod_only(pp)  # L430
                page_io_unlock(pp)  # L431
                page_unlock(pp)  # L432
        elif flags & B_INVAL:  # L434
            page_io_unlock(pp)  # L439
            VN_DISPOSE(pp, B_INVAL, 0, KCRED)  # L441
        elif flags & B_FREE or not hat_page_is_mapped(pp):  # L442
            # Count the page-out by the kind of vnode.
            if pp.p_vnode:  # pragma: no branch - every listed page has one  # L446
                if pp.p_vnode.v_flag & VISSWAPFS:  # L447: IS_SWAPFSVP
                    anonpgout += 1  # L448
                else:
                    if pp.p_vnode.v_flag & VVMEXEC:  # L450
                        execpgout += 1  # L451
                    else:
                        fspgout += 1  # L453
            page_io_unlock(pp)  # L457
            pgout = 1  # L458
            pgpgout += 1  # L459

            # With the exclusive lock nobody can map the page anew, so its
            # lckcnt/cowcnt can be read without the page_struct lock.
            if page_tryupgrade(pp) and pp.p_lckcnt == 0 and pp.p_cowcnt == 0:  # L468
                # Read the hardware bits without clearing them.
                ppattr = hat_pagesync(pp, HAT_SYNC_DONTZERO | HAT_SYNC_STOPON_MOD)  # L483
                while True:  # ck_refmod: L485
                    if not (ppattr & (P_REF | P_MOD)):  # L486
                        if hat_page_is_mapped(pp):  # L487
                            # Still mapped: unload, then look again, since
                            # another CPU may have touched it meanwhile.  No
                            # new translation can appear while we hold EXCL,
                            # so this goes round at most once more.
                            hat_pageunload(pp, HAT_FORCE_PGUNLOAD)  # L502
                            ppattr = hat_page_getattr(pp, P_REF | P_MOD)  # L504
                            continue  # L506: goto ck_refmod
                        if pp.p_vnode:  # pragma: no branch - still hashed  # L512
                            if pp.p_vnode.v_flag & VISSWAPFS:  # L513: IS_SWAPFSVP
                                anonfree += 1  # L514
                            else:
                                if pp.p_vnode.v_flag & VVMEXEC:  # L516
                                    execfree += 1  # L518
                                else:
                                    fsfree += 1  # L520
                        VN_DISPOSE(pp, B_FREE, (flags & B_DONTNEED), KCRED)  # L525
                        dfree += 1  # L527
                    else:
                        # Someone used the page during the write: keep it.
                        page_unlock(pp)  # L529
                        pgrec += 1  # L530
                    break
            else:
                # Locked in memory, or shared by another user now.
                page_unlock(pp)  # L540
        else:
            page_io_unlock(pp)  # L547
            page_unlock(pp)  # L548

    if k is not None:
        stats = k.vm  # L552-564: CPU_STATS_ADDQ
        stats.dfree += dfree
        stats.pgrec += pgrec
        stats.pgout += pgout
        stats.pgpgout += pgpgout
        stats.anonpgout += anonpgout
        stats.anonfree += anonfree
        stats.fspgout += fspgout
        stats.fsfree += fsfree
        stats.execpgout += execpgout
        stats.execfree += execfree
    return None


# ---------------------------------------------------------------------------
# pvn_getdirty: vm_pvn.c lines 580-684


@implements
def pvn_getdirty(pp: Page, flags: int) -> int:
    """Decide what to do with a locked page that a putpage path visits.

    C source: usr/src/uts/common/vm/vm_pvn.c, lines 567-684.

    Deviations: the shared ones in the module docstring.
    """
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "pvn_getdirty":
        return k.hooks.around("pvn_getdirty", pp, flags)  # type: ignore[no-any-return]
    if not (pp.p_selock < 0 if flags & _B_INVAL_FREE else pp.p_selock > 0):  # L583-584
        mode = "SE_EXCL" if flags & _B_INVAL_FREE else "SE_SHARED"
        raise UsageError(f"pvn_getdirty: page {page_name(pp)} must be locked {mode}")
    if pp.p_state != 0 and pp.p_state & P_FREE:  # L585: ASSERT(PP_ISFREE(pp) == 0)
        raise UsageError(f"pvn_getdirty: page {page_name(pp)} must not be free")

    # Pages locked in memory are neither freed nor invalidated.
    if (
        (flags & (B_INVAL | B_FREE))
        and not (flags & (B_TRUNC | B_FORCE))
        and (pp.p_lckcnt != 0 or pp.p_cowcnt != 0)
    ):  # L592-593
        page_unlock(pp)  # L594
        return 0  # L595

    # Klustering (B_DELWRI) and plain async write-back never wait for the
    # i/o lock: whoever holds it is writing the page already.
    if (flags & B_DELWRI) or ((flags & (B_INVAL | B_ASYNC)) == B_ASYNC):  # L610
        if not page_io_trylock(pp):  # L611
            page_unlock(pp)  # L612
            return 0  # L613
    else:
        page_io_lock(pp)  # L616

    # Freeing or invalidating: remove every translation so later users must
    # fault.  Writing back: fold the hardware bits in and clear them.
    if flags & (B_INVAL | B_FREE):  # L629
        hat_pageunload(pp, HAT_FORCE_PGUNLOAD)  # L630
    else:
        hat_pagesync(pp, HAT_SYNC_ZERORM)  # L632

    if not hat_ismod(pp) or (flags & B_TRUNC):  # L635
        # Nothing to write (or truncation throws the data away).
        page_io_unlock(pp)  # L640
        if flags & B_INVAL:  # L641
            VN_DISPOSE(pp, B_INVAL, 0, KCRED)  # L643
        elif flags & B_FREE:  # L644
            VN_DISPOSE(pp, B_FREE, (flags & B_DONTNEED), KCRED)  # L646
        else:
            # Advisory free for callers such as segmap_release: page_release
            # frees only an unmapped page it can lock exclusively.
            page_release(pp, 1)  # L660
        return 0  # L662

    hat_clrrefmod(pp)  # L669

    # Others may use a page that will be freed after the write; the write's
    # completion sees their REF/MOD bits and keeps the page then.
    if flags & B_FREE:  # L677
        page_downgrade(pp)  # L678

    return 1  # L683


# ---------------------------------------------------------------------------
# marker_constructor and pvn_init: vm_pvn.c lines 687-705


def marker_constructor(buf: Page, cdrarg: Any, kmflags: int) -> int:
    """Build a marker page: all fields zero, p_hash set to the marker tag.

    C source: usr/src/uts/common/vm/vm_pvn.c, lines 687-695.

    Deviations: "zeroing" resets every field of our Page to its initial
    value (p_offset 0, links pointing to the page itself).
    """
    mark = buf  # L691
    # DEVIATION: bzero becomes resetting each field of our Page.
    mark.p_vnode = None  # L692
    mark.p_offset = 0
    mark.p_selock = 0
    mark.p_sowner = None
    mark.p_iolock_state = 0
    mark.p_ioowner = None
    mark.p_lckcnt = 0
    mark.p_cowcnt = 0
    mark.p_state = 0
    mark.p_nrm = 0
    mark.p_mapping = None
    mark.p_next = mark.p_prev = mark
    mark.p_vpnext = mark.p_vpprev = mark
    mark.p_hash = PVN_VPLIST_HASH_TAG  # L693
    return 0  # L694


@implements
def pvn_init(k: Kernel) -> None:
    """Set up the pvn layer of kernel ``k``: VMODSORT support and the marker cache.

    C source: usr/src/uts/common/vm/vm_pvn.c, lines 697-705.

    Every :class:`~pvnsim.kernel.Kernel` runs this at construction.

    Deviations: takes the kernel (the C works on globals).
    """
    if k.hooks is not None and k.hooks.entering != "pvn_init":
        return k.hooks.around("pvn_init", k)  # type: ignore[no-any-return]
    if k.pvn_vmodsort_disable == 0:  # L700
        k.pvn_vmodsort_supported = hat_supported(k, HAT_VMODSORT, None)  # L701
    k.marker_cache = KmemCache(k, "marker_cache", marker_constructor)  # L702-704
    return None


# ---------------------------------------------------------------------------
# pvn_vplist_dirty: vm_pvn.c lines 737-985


@implements
def pvn_vplist_dirty(
    vp: Vnode,
    off: int,
    putapage: PutapageFn,
    flags: int,
    cred: Any,
) -> int:
    """Write back, free or invalidate every page of ``vp`` at or above ``off``.

    C source: usr/src/uts/common/vm/vm_pvn.c, lines 707-985.

    Deviations: the ``#ifdef DEBUG`` self-check of the VMODSORT stop runs
    only when ``kernel.debug`` is true (illumos builds it only into DEBUG
    kernels).
    """
    k = vp.kernel
    if k.hooks is not None and k.hooks.entering != "pvn_vplist_dirty":
        return k.hooks.around(  # type: ignore[no-any-return]
            "pvn_vplist_dirty", vp, off, putapage, flags, cred
        )
    if vp.v_type == VCHR:  # L755
        raise UsageError(
            f"pvn_vplist_dirty: vnode {vp.v_name} is VCHR (ASSERT(vp->v_type != VCHR))"
        )

    if vp.v_pages is None:  # L757
        return 0  # L758

    err = 0
    marker_cache: KmemCache = k.marker_cache  # type: ignore[assignment]  # set by pvn_init

    # One walk per vnode at a time (VVMLOCK).  An async caller does not wait
    # for it, so sync() never stalls behind a hung writer.
    mutex_enter(vp.v_lock)  # L767
    if (vp.v_flag & VVMLOCK) and (flags & B_ASYNC):  # L768
        mutex_exit(vp.v_lock)  # L769
        return EAGAIN  # L770

    while vp.v_flag & VVMLOCK:  # L773
        cv_wait(vp.v_cv, vp.v_lock)  # L774

    if vp.v_pages is None:  # L776
        mutex_exit(vp.v_lock)  # L777
        return 0  # L778

    vp.v_flag |= VVMLOCK  # L781
    vp.v_vvmlock_owner = k.curthread  # DEVIATION: ours, names the holder in deadlock reports
    mutex_exit(vp.v_lock)  # L782

    # Two markers: `end` stays at the tail, `mark` walks towards the head.
    end = kmem_cache_alloc(marker_cache, KM_SLEEP)  # L788
    end.p_vnode = vp  # L789
    end.p_offset = _U64 - 2  # L790
    mark = kmem_cache_alloc(marker_cache, KM_SLEEP)  # L791
    mark.p_vnode = vp  # L792
    mark.p_offset = _U64 - 1  # L793

    # The page-list mutex; dropped around anything that may sleep.
    vphm = page_vnode_mutex(vp)  # L799
    mutex_enter(vphm)  # L800
    if vp.v_pages is not None:  # L801: otherwise goto leave
        page_vpadd(vp.v_pages.p_vpprev, mark)  # L807
        page_vpadd(mark, end)  # L808
        while True:  # L809
            # A pure async flush ends once the marker reaches the head.
            if flags == B_ASYNC and vp.v_pages is mark:  # L815
                break  # L816

            # Otherwise go on until the marker meets `end` from behind.
            if mark.p_vpprev is end:  # L821
                break  # L822

            pp = mark.p_vpprev  # L824
            where_to_move: Vnode | Page
            if vp.v_pages is pp:  # L825
                where_to_move = vp  # L826
            else:
                where_to_move = pp.p_vpprev  # L828

            if pp.p_vnode is not vp:  # L830 (the test inline: once per page)
                _kassert(False, "pp->p_vnode == vp")

            # VMODSORT keeps dirty pages at the tail, so a write-back can
            # stop at the first page that is neither dirty nor being written.
            if (
                vp.v_flag & VMODSORT
                and k.pvn_vmodsort_supported
                and not (flags & (B_INVAL | B_FREE | B_TRUNC))
            ):  # L838: IS_VMODSORT(vp) && ...
                if not hat_ismod(pp) and not page_io_locked(pp):  # L840
                    # DEVIATION: #ifdef DEBUG becomes a run-time switch.
                    if k.debug:  # L841
                        _vmodsort_debug_check(vp, pp, mark, end, where_to_move)
                    break  # L869
                elif not (flags & B_ASYNC) and not hat_ismod(pp):  # L870
                    # Being written: a sync caller waits for that write.
                    mutex_exit(vphm)  # L876
                    page_io_wait(pp)  # L877
                    mutex_enter(vphm)  # L878
                    continue  # L879

            # Below the requested offset: step over it.
            if pp.p_offset < off:  # L887
                page_vpsub(vp, mark)  # L888
                page_vpadd(where_to_move, mark)  # L889
                continue  # L890

            se = SE_EXCL if (flags & (B_INVAL | B_FREE)) else SE_SHARED  # L897

            # Every synchronous operation must get the page lock.
            if (flags & B_INVAL) != 0 or (flags & B_ASYNC) == 0:  # L903
                # If page_lock had to sleep it dropped vphm: start over.
                if not page_lock(pp, se, vphm, P_NO_RECLAIM):  # L908
                    continue  # L909
                page_vpsub(vp, mark)  # L914
                page_vpadd(where_to_move, mark)  # L915
            else:
                page_vpsub(vp, mark)  # L921
                page_vpadd(where_to_move, mark)  # L922
                # An async write-back skips a busy page for good: whoever
                # holds it is presumably writing it.
                if not page_trylock(pp, se):  # L929
                    continue  # L930

            if pp.p_vnode is not vp:  # L933 (the test inline: once per page)
                # Unreachable once L830 held: the page stayed locked or listed.
                _kassert(False, "pp->p_vnode == vp")  # pragma: no cover

            # A free page has nothing to write; only B_INVAL destroys it.
            if pp.p_state & P_FREE:  # L940: PP_ISFREE
                if (flags & B_INVAL) == 0:  # L941
                    page_unlock(pp)  # L942
                    continue  # L943
                mutex_exit(vphm)  # L949
                page_destroy_free(pp)  # L950
                mutex_enter(vphm)  # L951
                continue  # L952

            # pvn_getdirty and putapage both release the page lock.
            mutex_exit(vphm)  # L962
            if pvn_getdirty(pp, flags):  # L963
                error = call_back(  # L964
                    k, "putapage", (pp, flags), putapage, vp, pp, None, None, flags, cred
                )
                if not err:  # L965
                    err = error  # L966
            mutex_enter(vphm)  # L968
        page_vpsub(vp, mark)  # L970
        page_vpsub(vp, end)  # L971

    # leave: L973
    mutex_exit(vphm)  # L977
    kmem_cache_free(marker_cache, mark)  # L978
    kmem_cache_free(marker_cache, end)  # L979
    mutex_enter(vp.v_lock)  # L980
    vp.v_flag &= ~VVMLOCK  # L981
    vp.v_vvmlock_owner = None  # DEVIATION: ours (see above)
    cv_broadcast(vp.v_cv)  # L982
    mutex_exit(vp.v_lock)  # L983
    return err  # L984


def _vmodsort_debug_check(
    vp: Vnode, pp: Page, mark: Page, end: Page, where_to_move: Vnode | Page
) -> None:
    """The DEBUG-kernel check that every page left before the stop is clean.

    C source: usr/src/uts/common/vm/vm_pvn.c, lines 841-868.
    """
    chk = pp  # L847
    page_vpsub(vp, mark)  # L850
    page_vpadd(where_to_move, mark)  # L851
    while True:  # L852
        chk = chk.p_vpprev  # L853
        _kassert(chk is not end, "chk != end")  # L854
        if chk is not mark:  # L855
            attr = hat_page_getattr(chk, P_MOD | P_REF)  # L857
            if attr & P_MOD:  # L859
                panic(  # L861
                    vp.kernel,
                    f"v_pages list not all clean: page_t*={chk.name} vnode={vp.v_name} "
                    f"off={chk.p_offset:x} attr={attr:#x} last clean page_t*={pp.name}",
                )
        if chk is vp.v_pages:  # L867
            break


# ---------------------------------------------------------------------------
# pvn_vplist_setdirty: vm_pvn.c lines 995-1037


@implements
def pvn_vplist_setdirty(vp: Vnode, page_check: PageCheckFn) -> None:
    """Mark modified every page of ``vp`` for which ``page_check(pp)`` is true.

    C source: usr/src/uts/common/vm/vm_pvn.c, lines 987-1037.

    Deviations: the shared ones in the module docstring.
    """
    k = vp.kernel
    if k.hooks is not None and k.hooks.entering != "pvn_vplist_setdirty":
        return k.hooks.around(  # type: ignore[no-any-return]
            "pvn_vplist_setdirty", vp, page_check
        )

    vphm = page_vnode_mutex(vp)  # L1002
    mutex_enter(vphm)  # L1003

    if vp.v_pages is None:  # L1005
        mutex_exit(vphm)  # L1006
        return None  # L1007

    end = vp.v_pages.p_vpprev  # L1010
    shuffle = IS_VMODSORT(vp) and (vp.v_pages is not end)  # L1011
    pp = vp.v_pages  # L1012

    while True:  # L1014
        nxt = pp.p_vpnext  # L1015
        if pp.p_hash is not PVN_VPLIST_HASH_TAG and call_back(
            k, "page_check", (pp,), page_check, pp
        ):  # L1016
            # The variant that neither moves the page nor takes vphm, which
            # we already hold.
            hat_setmod_only(pp)  # L1022
            if shuffle:  # L1023
                page_vpsub(vp, pp)  # L1024
                _kassert(vp.v_pages is not None, "vp->v_pages != NULL")  # L1025
                page_vpadd(vp.v_pages.p_vpprev, pp)  # L1026
        # The old tail was the last page to look at.
        if pp is end:  # L1031
            break  # L1032
        pp = nxt  # L1033

    mutex_exit(vphm)  # L1036
    return None


@implements
def pvn_vpzero(vp: Vnode, vplen: int, zbytes: int) -> None:
    """Zero the file from ``vplen`` to the end of its page (at least ``zbytes``).

    C source: usr/src/uts/common/vm/vm_pvn.c, lines 1039-1083.

    Deviations: the shared ones in the module docstring.
    """
    k = vp.kernel
    if k.hooks is not None and k.hooks.entering != "pvn_vpzero":
        return k.hooks.around("pvn_vpzero", vp, vplen, zbytes)  # type: ignore[no-any-return]
    if vp.v_type == VCHR:  # L1050
        raise UsageError(f"pvn_vpzero: vnode {vp.v_name} is VCHR (ASSERT(vp->v_type != VCHR))")
    PAGESIZE = k.pagesize
    PAGEOFFSET = k.pageoffset

    if vp.v_pages is None:  # L1052
        return None  # L1053

    # The second term is never zero, so this early return cannot happen;
    # kept because the C has it.
    if zbytes == 0 and (PAGESIZE - (vplen & PAGEOFFSET)) == 0:  # L1060
        return None  # pragma: no cover - dead in the C too (the term is 1..PAGESIZE)  # L1061

    if (zbytes + (vplen & MAXBOFFSET)) & SIZE_T > MAXBSIZE:  # L1076
        panic(k, "pvn_vptrunc zbytes")  # L1077
    segkmap: Seg = k.segkmap  # type: ignore[assignment]  # set at boot
    count = max(zbytes, PAGESIZE - (vplen & PAGEOFFSET))
    addr = segmap_getmapflt(segkmap, vp, vplen, count, 1, S_WRITE)  # L1078-1079
    kzero((addr + (vplen & MAXBOFFSET)) & CADDR_T, count, segkmap)  # L1080-1081
    segmap_release(segkmap, addr, SM_WRITE | SM_ASYNC)  # L1082
    return None


# ---------------------------------------------------------------------------
# pvn_getpages: vm_pvn.c lines 1089-1151


@implements
def pvn_getpages(
    getpage: GetpageFn,
    vp: Vnode,
    off: int,
    len: int,
    protp: Any,
    pl: PageArray | None,
    plsz: int,
    seg: Seg | None,
    addr: int,
    rw: SegRw | int,
    cred: Any,
) -> int:
    """Call a file system's one-page ``getpage`` for each page of a range.

    C source: usr/src/uts/common/vm/vm_pvn.c, lines 1085-1151.

    Deviations: the shared ones in the module docstring.
    """
    k = vp.kernel
    if k.hooks is not None and k.hooks.entering != "pvn_getpages":
        return k.hooks.around(  # type: ignore[no-any-return]
            "pvn_getpages", getpage, vp, off, len, protp, pl, plsz, seg, addr, rw, cred
        )
    if not (pl is None or plsz >= len):  # L1110
        raise UsageError(
            f"pvn_getpages: plsz={plsz} < len={len} (ASSERT(pl == NULL || plsz >= len))"
        )
    PAGESIZE = k.pagesize

    # One page per call keeps duplicates out of pl; only the last call may
    # fill the remaining slots.
    slot = 0  # L1122: ppp = pl
    sz = PAGESIZE if pl is not None else 0  # L1123
    eoff = (off + len) & U_OFFSET_T  # L1124
    xlen = len  # L1125
    err = 0
    o = off  # L1126
    while o < eoff:
        if (o + PAGESIZE) & U_OFFSET_T >= eoff and pl is not None:  # L1128
            sz = (plsz - (o - off)) & SIZE_T  # L1133
        ppp = PageSlots(pl, slot) if pl is not None else None
        err = call_back(  # L1135
            k,
            "getpage",
            (vp, o, xlen, sz),
            getpage,
            vp,
            o,
            xlen,
            protp,
            ppp,
            sz,
            seg,
            addr,
            rw,
            cred,
        )
        if err:  # L1137
            # Give back what earlier calls returned.
            if o > off and pl is not None:  # L1141
                i = 0
                while pl[i] is not None:  # L1142
                    page_release(pl[i], 1)  # type: ignore[arg-type]  # L1143
                    pl[i] = None
                    i += 1
            break  # L1145
        if pl is not None:  # L1147
            slot += 1  # L1148
        o = (o + PAGESIZE) & U_OFFSET_T  # L1126
        addr = (addr + PAGESIZE) & CADDR_T
        xlen = (xlen - PAGESIZE) & SIZE_T
    return int(err)  # L1150


# ---------------------------------------------------------------------------
# pvn_plist_init: vm_pvn.c lines 1157-1211


@implements
def pvn_plist_init(
    pp: Page | None,
    pl: PageArray,
    plsz: int,
    off: int,
    io_len: int,
    rw: SegRw | int,
) -> None:
    """Turn a read kluster into the caller's page array.

    C source: usr/src/uts/common/vm/vm_pvn.c, lines 1153-1211.

    Deviations: the shared ones in the module docstring.
    """
    k = None if pp is None else pp.kernel
    if k is not None and k.hooks is not None and k.hooks.entering != "pvn_plist_init":
        return k.hooks.around(  # type: ignore[no-any-return]
            "pvn_plist_init", pp, pl, plsz, off, io_len, rw
        )
    PAGESIZE = k.pagesize if k is not None else 0

    # Drop the pages in front of the one the caller asked for.
    while pp is not None and pp.p_offset != off:  # L1168
        ppcur = pp  # L1173
        pp = page_sub(pp, ppcur)  # L1174
        page_io_unlock(ppcur)  # L1175
        page_release(ppcur, 1)  # L1176

    if pp is None:  # L1179
        pl[0] = None  # L1180
        return None  # L1181

    sz = ssize_t(plsz)  # L1184: a size_t kept in an ssize_t

    slot = 0  # L1189
    while True:  # L1190: do
        ppcur = pp  # L1191
        pl[slot] = ppcur  # L1192
        slot += 1
        pp = page_sub(pp, ppcur)  # L1193
        page_io_unlock(ppcur)  # L1194
        if rw != S_CREATE:  # L1195
            page_downgrade(ppcur)  # L1196
        sz = ssize_t(sz - PAGESIZE)  # L1197: an ssize_t, wraps below -2^63
        if not (sz > 0 and pp is not None):  # L1198
            break
    pl[slot] = None  # L1199

    # Release whatever did not fit in pl.
    while pp is not None:  # L1205
        ppcur = pp  # L1206
        pp = page_sub(pp, ppcur)  # L1207
        page_io_unlock(ppcur)  # L1208
        page_release(ppcur, 1)  # L1209
    return None


register_line_map(__file__, pathlib.Path(__file__).read_text(encoding="utf-8"))
