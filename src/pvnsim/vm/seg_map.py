"""segmap windows and kzero, as far as pvn_vpzero needs them.

Derived from the behaviour of illumos usr/src/uts/common/vm/seg_map.c
(segmap_getmapflt, segmap_release) and the kzero copy primitive (CDDL-1.0).

A window covers the MAXBSIZE-aligned block of a file that contains the
requested offset.  ``segmap_getmapflt`` with ``forcefault`` faults the pages
of the range in through the vnode's VOP_GETPAGE and loads a ``segkmap``
translation for each; ``kzero`` zeroes bytes through those translations (so
their hardware mod bit is set); ``segmap_release`` unloads the window's
translations and, for any flag but SM_DONTNEED, calls VOP_PUTPAGE on the whole
window.

DEVIATION: illumos keeps a released window's translations cached in its smap
slot until the slot is reused; we unload them at release (their ref/mod bits
reach ``p_nrm`` either way), so released pages are not left mapped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pvnsim.errors import KernelPanic
from pvnsim.flags import (
    B_ASYNC,
    B_DONTNEED,
    B_FREE,
    B_INVAL,
    B_TRUNC,
    EFAULT,
    MAXBMASK,
    MAXBSIZE,
    SM_ASYNC,
    SM_DESTROY,
    SM_DONTNEED,
    SM_FREE,
    SM_INVAL,
    SegRw,
)
from pvnsim.hooks import implements
from pvnsim.vm.cint import U_OFFSET_T
from pvnsim.vm.hat import HatMapping, hat_map, hat_touch, hat_unmap
from pvnsim.vm.page_lock import page_unlock

if TYPE_CHECKING:
    from pvnsim.vm.page import Page
    from pvnsim.vm.seg import Seg
    from pvnsim.vm.vnode import Vnode

__all__ = ["SEGKMAP_BASE", "kzero", "segmap_getmapflt", "segmap_release"]

# Kernel virtual address of window 0; a window's address is this plus the
# MAXBSIZE-aligned file offset it maps.
SEGKMAP_BASE = 0x100000000


class _Window:
    __slots__ = ("maps", "off", "vp")

    def __init__(self, vp: Vnode, off: int) -> None:
        self.vp = vp
        self.off = off
        self.maps: list[tuple[Page, HatMapping]] = []


def _windows(seg: Seg) -> dict[int, list[_Window]]:
    table: dict[int, list[_Window]] | None = getattr(seg, "_windows", None)
    if table is None:
        table = {}
        seg._windows = table  # type: ignore[attr-defined]
    return table


@implements
def segmap_getmapflt(
    seg: Seg, vp: Vnode, off: int, length: int, forcefault: int, rw: SegRw | int
) -> int:
    """Map the window of ``vp`` holding ``off``; returns the window's address."""
    k = vp.kernel
    if k.hooks is not None and k.hooks.entering != "segmap_getmapflt":
        return k.hooks.around(  # type: ignore[no-any-return]
            "segmap_getmapflt", seg, vp, off, length, forcefault, rw
        )
    baseoff = off & MAXBMASK
    # seg_map.c's test, in u_offset_t: both sums wrap past 2^64 - 1.
    if (off + length) & U_OFFSET_T > (baseoff + MAXBSIZE) & U_OFFSET_T:
        raise KernelPanic("segmap_getmap bad len")
    addr = SEGKMAP_BASE + baseoff
    win = _Window(vp, baseoff)
    _windows(seg).setdefault(addr, []).append(win)
    if forcefault and vp.v_op.getpage is not None:
        o = off & k.pagemask
        # Only the window's pages can be mapped in it (a length that wrapped
        # past 2^64 and was let through above ends at the window's end).
        stop = min(off + length, baseoff + MAXBSIZE)
        while o < stop:
            pl: list[Page | None] = [None, None]
            err = vp.v_op.getpage(
                vp, o, k.pagesize, None, pl, k.pagesize, seg, addr + (o - baseoff), rw, None
            )
            pp = pl[0]
            if not err and pp is not None:
                win.maps.append((pp, hat_map(pp, "segkmap", True)))
                page_unlock(pp)
            o += k.pagesize
    return addr


def _find(seg: Seg, addr: int) -> _Window | None:
    base = SEGKMAP_BASE + ((addr - SEGKMAP_BASE) & MAXBMASK)
    wins = _windows(seg).get(base)
    return wins[-1] if wins else None


@implements
def kzero(addr: int, count: int, seg: Seg) -> int:
    """Zero ``count`` bytes at kernel address ``addr`` (a segkmap window).

    Returns 0, or EFAULT when a byte is not backed by a mapped page.
    DEVIATION: takes the segment (a kernel's segkmap) because pvnsim has no
    global kernel address space.
    """
    k = seg.kernel
    if k.hooks is not None and k.hooks.entering != "kzero":
        return k.hooks.around("kzero", addr, count, seg)  # type: ignore[no-any-return]
    win = _find(seg, addr)
    if win is None:
        return EFAULT
    start = win.off + (addr - SEGKMAP_BASE - win.off)
    end = start + count
    by_off = {pp.p_offset: (pp, m) for pp, m in win.maps if pp.p_vnode is win.vp}
    o = start
    while o < end:
        pgoff = o & k.pagemask
        hit = by_off.get(pgoff)
        if hit is None:
            return EFAULT
        pp, m = hit
        stop = min(end, pgoff + k.pagesize)
        if pp.p_data is not None:
            pp.p_data[o - pgoff : stop - pgoff] = bytes(stop - o)
        if m in (pp.p_mapping or ()):
            hat_touch(pp, True, m)
        o = stop
    return 0


@implements
def segmap_release(seg: Seg, addr: int, flags: int) -> int:
    """Release a window; write it back with VOP_PUTPAGE unless only SM_DONTNEED."""
    k = seg.kernel
    if k.hooks is not None and k.hooks.entering != "segmap_release":
        return k.hooks.around("segmap_release", seg, addr, flags)  # type: ignore[no-any-return]
    win = _find(seg, addr)
    if win is None:
        raise KernelPanic(f"segmap_release: no window at {addr:#x}")
    _windows(seg)[SEGKMAP_BASE + win.off].pop()
    for pp, m in win.maps:
        if pp.p_mapping and m in pp.p_mapping:
            hat_unmap(pp, m)
    if not flags & ~SM_DONTNEED:
        return 0
    bflags = 0
    if flags & SM_ASYNC:
        bflags |= B_ASYNC
    if flags & SM_INVAL:
        bflags |= B_INVAL
    if flags & SM_DESTROY:
        bflags |= B_INVAL | B_TRUNC
    if flags & SM_FREE:
        bflags |= B_FREE
    if flags & SM_DONTNEED:
        bflags |= B_DONTNEED
    putpage = win.vp.v_op.putpage
    if putpage is None:
        return 0
    return int(putpage(win.vp, win.off, MAXBSIZE, bflags, None))
