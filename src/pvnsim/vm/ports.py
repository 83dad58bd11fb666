"""The public boundary of the ports: each routine's contract, checked once.

The ports in :mod:`pvnsim.vm.vm_pvn` trust their arguments, as the C does;
calls inside the library (a port calling a port, the file-system kit calling
a port) go to them directly.  A user's call comes here first: one check
function per routine (``check_pvn_read_kluster``, ...) states each
precondition the routine has beyond what the C itself asserts (those
ASSERTs are the first statements of the ports), and refuses a bad call with
a :class:`~pvnsim.errors.UsageError` before anything changes.  Then the port
runs.  docs/model.md lists every check with its reason.

These public functions are what :mod:`pvnsim` exports.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from pvnsim.errors import UsageError
from pvnsim.flags import ALL_BUF_FLAGS, B_ERROR, B_FORCE, B_FREE, B_INVAL, S_CREATE, SegRw
from pvnsim.vm import vm_pvn as _pvn
from pvnsim.vm.argcheck import (
    check_aligned,
    check_callable,
    check_ctype,
    check_flags,
    check_page,
    check_plist,
    check_rw,
    check_vnode,
)
from pvnsim.vm.cint import U_OFFSET_T, ssize_t
from pvnsim.vm.seg import Seg
from pvnsim.vm.vm_pvn import PageSlots

if TYPE_CHECKING:
    from pvnsim.kernel import Kernel
    from pvnsim.vm.page import Page
    from pvnsim.vm.vm_pvn import GetpageFn, Kluster, PageArray, PageCheckFn, PutapageFn
    from pvnsim.vm.vnode import Vnode

__all__ = [
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

PVN_FLAGS = _pvn.PVN_FLAGS


def _check_seg(routine: str, k: Kernel, seg: Any) -> None:
    if not isinstance(seg, Seg):
        raise UsageError(f"{routine}: seg must be a Seg, not {type(seg).__name__}")
    if seg.kernel is not k:
        raise UsageError(f"{routine}: segment {seg.name} belongs to another kernel")


# -- the checks ----------------------------------------------------------------
#
# Each check refuses only what the C asserts (the ASSERTs at a port's entry
# are the port's own first statements, not repeated here), what the C type
# of an argument cannot hold, or what would corrupt the model; docs/model.md
# lists every check with its reason.


def _check_pl(routine: str, pl: Any, slots: int) -> None:
    if not isinstance(pl, (list, PageSlots)):
        raise UsageError(f"{routine}: pl must be a list or a PageSlots, not {type(pl).__name__}")
    if builtins.len(pl) < slots:
        raise UsageError(f"{routine}: pl needs at least {slots} slots, not {builtins.len(pl)}")


def check_pvn_read_kluster(
    vp: Any, off: Any, seg: Any, addr: Any, vp_off: Any, vp_len: Any, isra: Any
) -> None:
    """pvn_read_kluster's contract (the window ASSERT is the port's first line)."""
    routine = "pvn_read_kluster"
    k = check_vnode(routine, vp)
    check_aligned(routine, k, "off", off)
    check_ctype(routine, "addr", addr, "caddr_t")
    check_ctype(routine, "vp_off", vp_off, "u_offset_t")
    check_ctype(routine, "vp_len", vp_len, "size_t")
    if not isinstance(isra, int):  # a bool is fine: it is an int
        raise UsageError(f"{routine}: isra must be an int, not {type(isra).__name__}")
    check_ctype(routine, "isra", int(isra), "int")
    _check_seg(routine, k, seg)


def check_pvn_write_kluster(vp: Any, pp: Any, vp_off: Any, vp_len: Any, flags: Any) -> int:
    """pvn_write_kluster's contract; returns the flags as an int."""
    routine = "pvn_write_kluster"
    k = check_vnode(routine, vp)
    flags = check_flags(routine, flags, PVN_FLAGS)
    check_ctype(routine, "vp_off", vp_off, "u_offset_t")
    check_ctype(routine, "vp_len", vp_len, "size_t")
    locked = "excl" if flags & B_INVAL and not flags & B_FREE else "any"
    check_page(routine, pp, k, vp=vp, locked=locked, io_locked=True)
    if pp.p_next is not pp:
        raise UsageError(f"{routine}: page {pp.name} is already on a page list")
    return int(flags)


def check_pvn_io_done(plist: Any) -> None:
    """pvn_io_done's contract: a well-formed list of locked, i/o-locked pages."""
    check_plist("pvn_io_done", plist)


def check_pvn_read_done(plist: Any, flags: Any) -> int:
    """pvn_read_done's contract; returns the flags as an int.

    A failed read (B_ERROR) destroys every page (VN_DISPOSE B_INVAL, L333),
    and page_destroy ASSERTs SE_EXCL: checked here for every page, before
    the first one is destroyed.
    """
    flags = check_flags("pvn_read_done", flags, ALL_BUF_FLAGS)
    check_plist("pvn_read_done", plist, locked="excl" if flags & B_ERROR else "any")
    return int(flags)


def check_pvn_write_done(plist: Any, flags: Any) -> int:
    """pvn_write_done's contract (B_READ is the port's own ASSERT); returns the flags.

    B_INVAL without B_ERROR, or with B_ERROR and B_FORCE, destroys every
    page (VN_DISPOSE B_INVAL, L428, L441), and page_destroy ASSERTs SE_EXCL:
    checked here for every page, before the first one is destroyed.
    """
    flags = check_flags("pvn_write_done", flags, ALL_BUF_FLAGS)
    if flags & B_ERROR:
        destroys = flags & (B_INVAL | B_FORCE) == B_INVAL | B_FORCE
    else:
        destroys = bool(flags & B_INVAL)
    check_plist("pvn_write_done", plist, locked="excl" if destroys else "any")
    return int(flags)


def check_pvn_getdirty(pp: Any, flags: Any) -> int:
    """pvn_getdirty's contract (the lock mode and not-free ASSERTs are the
    port's first lines); returns the flags as an int."""
    flags = check_flags("pvn_getdirty", flags, PVN_FLAGS)
    check_page("pvn_getdirty", pp, free=None)
    return int(flags)


def check_pvn_init(k: Any) -> None:
    """pvn_init's contract: a kernel."""
    from pvnsim.kernel import Kernel

    if not isinstance(k, Kernel):
        raise UsageError(f"pvn_init: expected a Kernel, not {type(k).__name__}")


def check_pvn_vplist_dirty(vp: Any, off: Any, putapage: Any, flags: Any, cred: Any) -> int:
    """pvn_vplist_dirty's contract (VCHR is the port's own ASSERT); returns the flags.

    ``off`` need not be page aligned: the C only compares it with each
    page's offset.
    """
    routine = "pvn_vplist_dirty"
    k = check_vnode(routine, vp)
    check_ctype(routine, "off", off, "u_offset_t")
    flags = check_flags(routine, flags, PVN_FLAGS)
    check_callable(routine, "putapage", putapage)
    if k.marker_cache is None:
        raise UsageError(f"{routine}: pvn_init has not run on this kernel")
    return int(flags)


def check_pvn_vplist_setdirty(vp: Any, page_check: Any) -> None:
    """pvn_vplist_setdirty's contract."""
    check_vnode("pvn_vplist_setdirty", vp)
    check_callable("pvn_vplist_setdirty", "page_check", page_check)


def check_pvn_vpzero(vp: Any, vplen: Any, zbytes: Any) -> None:
    """pvn_vpzero's contract (VCHR is the port's own ASSERT)."""
    routine = "pvn_vpzero"
    check_vnode(routine, vp)
    check_ctype(routine, "vplen", vplen, "u_offset_t")
    check_ctype(routine, "zbytes", zbytes, "size_t")
    if vp.v_pages is not None and (vp.v_op.getpage is None or vp.v_op.putpage is None):
        raise UsageError(f"{routine}: vnode {vp.v_name} needs getpage and putpage operations")


def check_pvn_getpages(
    getpage: Any,
    vp: Any,
    off: Any,
    len: Any,
    protp: Any,
    pl: Any,
    plsz: Any,
    seg: Any,
    addr: Any,
    rw: Any,
    cred: Any,
) -> None:
    """pvn_getpages's contract (``plsz >= len`` is the port's own ASSERT)."""
    routine = "pvn_getpages"
    check_callable(routine, "getpage", getpage)
    k = check_vnode(routine, vp)
    check_ctype(routine, "off", off, "u_offset_t")
    check_ctype(routine, "len", len, "size_t")
    check_ctype(routine, "addr", addr, "caddr_t")
    check_rw(routine, rw)
    # The C loops from off while below off + len, a PAGESIZE at a time: with
    # len 0, or when its last step o + PAGESIZE passes 2^64 - 1, the loop
    # never starts (the C returns an uninitialised error) or its counter
    # wraps to 0 and it never ends.  Anything else runs as in the C, an
    # unaligned off included.
    if len == 0 or off + -(-len // k.pagesize) * k.pagesize > U_OFFSET_T:
        raise UsageError(
            f"{routine}: off={off:#x}, len={len:#x}: the range is empty or its last "
            "page step passes 2^64 - 1 (the C's loop would not run, or never end)"
        )
    if pl is not None:
        check_ctype(routine, "plsz", plsz, "size_t")
        if plsz >= len:  # (otherwise the port's ASSERT refuses the call)
            _check_pl(routine, pl, k.btopr(plsz) + 1)


def check_pvn_plist_init(pp: Any, pl: Any, plsz: Any, off: Any, io_len: Any, rw: Any) -> None:
    """pvn_plist_init's contract.  ``off`` need not be page aligned (the C
    compares it with each page's offset, and releases every page when none
    matches).

    Every page is taken off the list and i/o-unlocked, so each must be locked
    (shared will do) and i/o-locked; only the pages the C puts into ``pl``
    and downgrades (all but S_CREATE) must be held SE_EXCL.  ``pl`` needs a
    slot for each of those and one for the terminating None.
    """
    routine = "pvn_plist_init"
    k = check_plist(routine, pp)
    check_ctype(routine, "plsz", plsz, "size_t")
    check_ctype(routine, "off", off, "u_offset_t")
    check_ctype(routine, "io_len", io_len, "size_t")
    check_rw(routine, rw)
    if k is None:
        _check_pl(routine, pl, 1)
        return
    # The pages in the order the C takes them: the first at ``off`` starts pl.
    ring = [pp]
    nxt = pp.p_next
    while nxt is not pp:
        ring.append(nxt)
        nxt = nxt.p_next
    start = next((i for i, page in enumerate(ring) if page.p_offset == off), None)
    if start is None:
        _check_pl(routine, pl, 1)
        return
    # The do-while stores one page, then more while the ssize_t budget of
    # plsz bytes stays positive and pages remain.
    # (L1197's subtraction wraps when plsz is within a page above 2^63: the
    # budget turns huge and every page is stored.)
    left = ssize_t(ssize_t(plsz) - k.pagesize)
    stored = min(len(ring) - start, 1 + (-(-left // k.pagesize) if left > 0 else 0))
    if rw != S_CREATE:
        for page in ring[start : start + stored]:
            if page.p_selock >= 0:
                raise UsageError(
                    f"{routine}: page {page.name} must be locked SE_EXCL: it goes into pl "
                    "and is downgraded"
                )
    _check_pl(routine, pl, stored + 1)


# -- the public routines -------------------------------------------------------


def pvn_read_kluster(
    vp: Vnode, off: int, seg: Seg, addr: int, vp_off: int, vp_len: int, isra: int
) -> Kluster | None:
    """Create the largest run of absent pages around ``off`` for one read.

    The run stays inside the block window ``[vp_off, vp_off + vp_len)`` and
    within what the segment accepts, and shrinks when free memory is short.
    Every page is new, locked SE_EXCL and i/o-locked.  The port:
    :func:`pvnsim.vm.vm_pvn.pvn_read_kluster` (vm_pvn.c lines 89-221).

    Returns:
        A :class:`~pvnsim.Kluster` (plist, off, len), or ``None`` when the
        page at ``off`` already exists, read-ahead gives up under memory
        pressure, or the segment refuses read-ahead.

    Raises:
        UsageError: misaligned ``off``, ``off`` outside the window, a
            non-positive ``vp_len``, a foreign segment.
    """
    check_pvn_read_kluster(vp, off, seg, addr, vp_off, vp_len, isra)
    return _pvn.pvn_read_kluster(vp, off, seg, addr, vp_off, vp_len, int(isra))


def pvn_write_kluster(vp: Vnode, pp: Page, vp_off: int, vp_len: int, flags: int) -> Kluster:
    """Gather the dirty neighbours of ``pp`` into one write.

    ``pp`` must already have been accepted by :func:`pvn_getdirty` (locked and
    i/o-locked).  Neighbours inside ``[vp_off, vp_off + vp_len)`` are looked
    up without waiting and passed to pvn_getdirty with B_DELWRI; the first
    one that is missing, busy or clean ends that direction (a clean one has
    been freed, destroyed or released by pvn_getdirty as a side effect).
    The port: :func:`pvnsim.vm.vm_pvn.pvn_write_kluster` (lines 233-298).

    Returns:
        A :class:`~pvnsim.Kluster` of i/o-locked dirty pages, ``pp`` included.

    Raises:
        UsageError: ``pp`` not of ``vp``, not locked as the flags require or
            not i/o-locked, already on a list, or unknown flags.
    """
    flags = check_pvn_write_kluster(vp, pp, vp_off, vp_len, flags)
    return _pvn.pvn_write_kluster(vp, pp, vp_off, vp_len, flags)


def pvn_io_done(plist: Page | None) -> None:
    """Drop the i/o lock and the page lock of every page of ``plist``.

    The port: :func:`pvnsim.vm.vm_pvn.pvn_io_done` (lines 304-315).

    Raises:
        UsageError: a malformed list, or a page not locked and i/o-locked.
    """
    check_pvn_io_done(plist)
    _pvn.pvn_io_done(plist)


def pvn_read_done(plist: Page | None, flags: int) -> None:
    """Finish a read: destroy the pages on B_ERROR, otherwise release them.

    Without B_ERROR each page goes through ``page_release(pp, 0)``, which puts
    an unmapped, unshared page on the cache list and only unlocks the others.
    The port: :func:`pvnsim.vm.vm_pvn.pvn_read_done` (lines 322-338).

    Raises:
        UsageError: unknown flags, a malformed list, or a page not locked and
            i/o-locked.
    """
    flags = check_pvn_read_done(plist, flags)
    _pvn.pvn_read_done(plist, flags)


def pvn_write_done(plist: Page | None, flags: int) -> None:
    """Finish a write of ``plist``: keep, free or destroy each page.

    * B_ERROR: the page is marked modified again and unlocked (destroyed
      instead with B_INVAL|B_FORCE).
    * B_INVAL: destroyed.
    * B_FREE, or the page is not mapped: freed to the cache list unless it
      was referenced or modified during the write (counted as pgrec).
    * otherwise: unlocked.

    Below ``lotsfree + pages_before_pager`` free pages (and ``write_free``
    set), a successful write behaves as if B_FREE were given.  For VMODSORT
    vnodes a page still clean after the write moves to the head of v_pages.
    The ten counters of the kernel's ``vm`` statistics are updated.  The
    port: :func:`pvnsim.vm.vm_pvn.pvn_write_done` (lines 340-565).

    Raises:
        UsageError: B_READ in flags, unknown flags, a malformed list, or a
            page that is not locked and i/o-locked.
    """
    flags = check_pvn_write_done(plist, flags)
    _pvn.pvn_write_done(plist, flags)


def pvn_getdirty(pp: Page, flags: int) -> int:
    """Decide what to do with a locked page that a putpage path visits.

    The port: :func:`pvnsim.vm.vm_pvn.pvn_getdirty` (lines 567-684).

    Returns:
        1 when the page must be written: it is then i/o-locked, its REF and
        MOD bits are cleared, and it is held SE_SHARED (SE_EXCL for B_INVAL
        without B_FREE).  0 when the page has been dealt with (destroyed,
        freed, released or just unlocked).

    Raises:
        UsageError: the page is free, or not locked SE_EXCL (B_INVAL/B_FREE)
            or SE_SHARED (otherwise), or unknown flags.
    """
    flags = check_pvn_getdirty(pp, flags)
    return _pvn.pvn_getdirty(pp, flags)


def pvn_init(k: Kernel) -> None:
    """Set up the pvn layer of kernel ``k``: VMODSORT support and the marker cache.

    Every :class:`~pvnsim.Kernel` runs this at construction.  The port:
    :func:`pvnsim.vm.vm_pvn.pvn_init` (lines 697-705).

    Raises:
        UsageError: ``k`` is not a Kernel.
    """
    check_pvn_init(k)
    _pvn.pvn_init(k)


def pvn_vplist_dirty(vp: Vnode, off: int, putapage: PutapageFn, flags: int, cred: Any) -> int:
    """Write back, free or invalidate every page of ``vp`` at or above ``off``.

    Pages are visited from the tail towards the head with two marker pages
    keeping the place while the page-list mutex is dropped.  Each page is
    locked (SE_EXCL for B_INVAL/B_FREE, else SE_SHARED), passed to
    :func:`pvn_getdirty`, and if dirty to ``putapage(vp, pp, None, None,
    flags, cred)``.  On a VMODSORT vnode a pure write-back stops at the first
    clean, idle page.  Serialised per vnode with VVMLOCK.  The port:
    :func:`pvnsim.vm.vm_pvn.pvn_vplist_dirty` (lines 707-985).

    Returns:
        0, the first error a putapage call returned, or EAGAIN when B_ASYNC is
        set and another walk holds VVMLOCK.

    Raises:
        UsageError: a VCHR vnode, an ``off`` past 2^64 - 1, unknown flags
            or a ``putapage`` that is not callable.
        DeadlockError: (single-threaded) a page, i/o lock or VVMLOCK it must
            wait for is held by someone who can never release it.
    """
    flags = check_pvn_vplist_dirty(vp, off, putapage, flags, cred)
    return _pvn.pvn_vplist_dirty(vp, off, putapage, flags, cred)


def pvn_vplist_setdirty(vp: Vnode, page_check: PageCheckFn) -> None:
    """Mark modified every page of ``vp`` for which ``page_check(pp)`` is true.

    Uses ``hat_setmod_only`` (no shuffle, no mutex) under the page-list mutex
    and, on a VMODSORT vnode with more than one page, moves each such page to
    the tail itself.  Marker pages are skipped; moved pages are not visited
    twice.  The port: :func:`pvnsim.vm.vm_pvn.pvn_vplist_setdirty` (lines
    987-1037).

    Raises:
        UsageError: ``vp`` is not a vnode or ``page_check`` not callable.
    """
    check_pvn_vplist_setdirty(vp, page_check)
    _pvn.pvn_vplist_setdirty(vp, page_check)


def pvn_vpzero(vp: Vnode, vplen: int, zbytes: int) -> None:
    """Zero the file from ``vplen`` to the end of its page (at least ``zbytes``).

    Works through a segkmap window, so the page is faulted in with the
    vnode's getpage, dirtied through a kernel translation, and pushed with an
    async putpage of the whole MAXBSIZE window.  The port:
    :func:`pvnsim.vm.vm_pvn.pvn_vpzero` (lines 1039-1083).

    Raises:
        UsageError: a VCHR vnode, negative arguments, or (when the vnode has
            pages) a vnode without getpage and putpage operations.
        KernelPanic: ``zbytes + (vplen & MAXBOFFSET) > MAXBSIZE``, as in C.
    """
    check_pvn_vpzero(vp, vplen, zbytes)
    _pvn.pvn_vpzero(vp, vplen, zbytes)


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

    ``getpage(vp, off, len, protp, pl, plsz, seg, addr, rw, cred)`` gets
    ``pl`` as a :class:`~pvnsim.PageSlots` view at the current slot (or
    ``None``) and one page's worth of ``plsz``, except the last call, which
    may use the rest of the array.  On an error, pages already returned are
    released.  The port: :func:`pvnsim.vm.vm_pvn.pvn_getpages` (lines
    1085-1151).

    Returns:
        0 or the first error of ``getpage``.

    Raises:
        UsageError: ``len`` 0 or a range whose last page step passes
            2^64 - 1, ``plsz < len`` with ``pl`` given, ``pl`` too short,
            ``getpage`` not callable.
    """
    check_pvn_getpages(getpage, vp, off, len, protp, pl, plsz, seg, addr, rw, cred)
    return _pvn.pvn_getpages(getpage, vp, off, len, protp, pl, plsz, seg, addr, rw, cred)


def pvn_plist_init(
    pp: Page | None, pl: PageArray, plsz: int, off: int, io_len: int, rw: SegRw | int
) -> None:
    """Turn a read kluster into the caller's page array.

    Pages before ``off`` are released; then up to ``plsz`` bytes of pages
    from ``off`` go into ``pl`` (downgraded to SE_SHARED unless ``rw`` is
    S_CREATE), ``pl`` is None-terminated, and the rest is released.
    ``io_len`` is unused, as in the C.  The port:
    :func:`pvnsim.vm.vm_pvn.pvn_plist_init` (lines 1153-1211).

    Raises:
        UsageError: a malformed list, pages not locked and i/o-locked, a
            page going into ``pl`` not SE_EXCL (unless S_CREATE), ``pl``
            too short.
    """
    check_pvn_plist_init(pp, pl, plsz, off, io_len, rw)
    _pvn.pvn_plist_init(pp, pl, plsz, off, io_len, rw)
