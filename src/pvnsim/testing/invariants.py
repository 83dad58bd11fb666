"""Named invariants of the pvn layer: one public function per property.

Each ``check_*`` function checks one property and raises
:class:`~pvnsim.errors.InvariantViolation` whose message starts with the
property's name and names the broken object (``v1@4096``, ``vnode v1``,
``freemem``)::

    page conservation: freemem is 62 but the lists hold 61 (...)

The kernel-wide ones are the validators of :func:`pvnsim.check_kernel`, one
family each, under the names listed in :data:`INVARIANTS`;
:func:`check_invariants` runs them all (it is check_kernel with the names in
its messages).
The two kluster invariants need the kluster a port returned and the state
before the call, recorded with :func:`vnode_state`.  docs/invariants.md says
why each holds in illumos.

This module does not need Hypothesis.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, NoReturn

import attrs

from pvnsim.errors import InvariantViolation
from pvnsim.flags import P_FREE, P_MOD, PAGE_IO_INUSE, VVMLOCK
from pvnsim.vm.page import page_name
from pvnsim.vm.validate import (
    check_conservation,
    check_free_pages,
    check_hash,
    check_lists,
    check_lock_words,
    check_markers,
    check_vmodsort,
    invariants_hold,
)

if TYPE_CHECKING:
    from pvnsim.kernel import Kernel
    from pvnsim.vm.page import Page
    from pvnsim.vm.vm_pvn import Kluster
    from pvnsim.vm.vnode import Vnode

__all__ = [
    "INVARIANTS",
    "PageRecord",
    "VnodeState",
    "check_invariants",
    "check_list_wellformedness",
    "check_lock_consistency",
    "check_marker_safety",
    "check_no_free_page_held",
    "check_page_conservation",
    "check_quiescent",
    "check_read_kluster",
    "check_vmodsort_ordering",
    "check_write_kluster",
    "is_dirty",
    "vnode_state",
]


def _fail(name: str, message: str) -> NoReturn:
    raise InvariantViolation(f"{name}: {message}")


def _named(name: str, check: Callable[[Kernel], None], k: Kernel) -> None:
    try:
        check(k)
    except InvariantViolation as e:
        raise InvariantViolation(f"{name}: {e}") from None


def _pname(pp: Page) -> str:
    return page_name(pp) if pp.p_vnode is not None else f"page #{pp.p_id}"


def is_dirty(pp: Page) -> bool:
    """Modified: software P_MOD, or a hardware mod bit in one of its translations."""
    if pp.p_nrm & P_MOD:
        return True
    return any(m.hw & P_MOD for m in pp.p_mapping or ())


# ---------------------------------------------------------------------------
# Kernel-wide invariants


def check_list_wellformedness(k: Kernel) -> None:
    """Every page list is a well-formed ring and the page hash agrees with v_pages.

    Checks the p_vpnext/p_vpprev ring of every vnode, the free and cache
    lists (counts, and who may be on them), every I/O list, and that each
    vnode's hash entries are exactly its non-marker pages.

    Raises:
        InvariantViolation: the message starts with "list well-formedness:" and names the object.
    """
    _named("list well-formedness", check_lists, k)
    _named("list well-formedness", check_hash, k)


def check_marker_safety(k: Kernel) -> None:
    """Marker pages only on vnodes being walked, at most two, none leaked.

    Raises:
        InvariantViolation: the message starts with "marker safety:" and names the object.
    """
    _named("marker safety", check_markers, k)


def check_page_conservation(k: Kernel) -> None:
    """No page is created or lost, and freemem counts exactly the free memory.

    Raises:
        InvariantViolation: the message starts with "page conservation:" and names the object.
    """
    _named("page conservation", check_conservation, k)


def check_vmodsort_ordering(k: Kernel) -> None:
    """On a quiet VMODSORT vnode no clean page follows a modified one.

    Raises:
        InvariantViolation: the message starts with "VMODSORT ordering:" and names the object.
    """
    _named("VMODSORT ordering", check_vmodsort, k)


def check_lock_consistency(k: Kernel) -> None:
    """Page and i/o locks are consistent.

    Lock words are valid and their holders recorded; a page on an I/O list
    holds its page lock and its i/o lock; an i/o-locked page in use also
    holds its page lock.

    Raises:
        InvariantViolation: the message starts with "lock/i-o-lock consistency:" and names the object.
    """
    _named("lock/i-o-lock consistency", check_lock_words, k)


def check_no_free_page_held(k: Kernel) -> None:
    """No free page is held by a user.

    A page on the free or cache list is unmapped, has no p_lckcnt/p_cowcnt,
    no ref/mod bits, no i/o lock, and is page-locked only by the walk of its
    own vnode (pvn_vplist_dirty locks cached pages with P_NO_RECLAIM).

    Raises:
        InvariantViolation: the message starts with "no free page held:" and names the object.
    """
    _named("no free page held", check_free_pages, k)


def check_quiescent(k: Kernel, thread: str = "main") -> None:
    """Between operations ``thread`` holds nothing: no lock leaked.

    No page lock or i/o lock recorded for ``thread``, no page on an I/O list,
    no VVMLOCK held by ``thread``.  Call it between steps, not inside a
    callback (a putapage runs with locks held by design).

    Raises:
        InvariantViolation: the message starts with "quiescence:" and names the object.
    """
    name = "quiescence"
    for vp in k.vnodes:
        if vp.v_flag & VVMLOCK and vp.v_vvmlock_owner == thread:
            _fail(name, f"vnode {vp.v_name} is still being walked by {thread} (VVMLOCK held)")
    for pp in k.pages:
        if pp.p_selock:
            owner = pp.p_sowner
            if owner == thread or (isinstance(owner, list) and thread in owner):
                _fail(name, f"{_pname(pp)} is still locked by {thread}")
        if pp.p_iolock_state & PAGE_IO_INUSE and pp.p_ioowner == thread:
            _fail(name, f"{_pname(pp)} is still i/o locked by {thread}")
        if pp.p_next is not pp and not pp.p_state & P_FREE:
            _fail(name, f"{_pname(pp)} is still on an I/O list")


#: The kernel-wide invariants, by name, in the order :func:`check_invariants` runs them.
INVARIANTS: Mapping[str, Callable[[Kernel], None]] = {
    "list well-formedness": check_list_wellformedness,
    "marker safety": check_marker_safety,
    "page conservation": check_page_conservation,
    "VMODSORT ordering": check_vmodsort_ordering,
    "lock/i-o-lock consistency": check_lock_consistency,
    "no free page held": check_no_free_page_held,
}


def check_invariants(k: Kernel) -> None:
    """Run every kernel-wide invariant of :data:`INVARIANTS`; raise at the first broken one.

    The same checks as :func:`pvnsim.check_kernel` (this module adds none of
    its own), with each message starting with the invariant's name.
    """
    if invariants_hold(k):
        return
    check_list_wellformedness(k)
    check_marker_safety(k)
    check_page_conservation(k)
    check_vmodsort_ordering(k)
    check_lock_consistency(k)
    check_no_free_page_held(k)


# ---------------------------------------------------------------------------
# The state before a kluster call


@attrs.frozen
class PageRecord:
    """What the kluster invariants need to know about a page before a call."""

    page: Page
    free: bool
    dirty: bool
    io_locked: bool


@attrs.frozen(eq=False)
class VnodeState:
    """A vnode's pages and the memory counters, recorded by :func:`vnode_state`."""

    vnode: Vnode
    freemem: int
    minfree: int
    pages: Mapping[int, PageRecord]


def vnode_state(vp: Vnode) -> VnodeState:
    """Record ``vp``'s pages and freemem before a kluster call.

    For :func:`check_write_kluster`, record it before the caller's
    pvn_getdirty of the first page when you can; inside a putapage (the page
    is already prepared) is fine too.
    """
    k = vp.kernel
    pages = {
        off: PageRecord(
            pp,
            bool(pp.p_state & P_FREE),
            is_dirty(pp),
            bool(pp.p_iolock_state & PAGE_IO_INUSE),
        )
        for off, pp in k.page_hash[vp].items()
    }
    return VnodeState(vp, k.freemem, k.minfree or 0, pages)


def _run(name: str, where: str, kl: Kluster, vp: Vnode) -> list[Page]:
    """The kluster's ring, checked to be an ascending run of vp's pages."""
    k = vp.kernel
    head = kl.plist
    pages: list[Page] = []
    pp = head
    while True:
        if pp.p_next.p_prev is not pp:
            _fail(name, f"{where}: ring link broken after {_pname(pp)}")
        pages.append(pp)
        pp = pp.p_next
        if pp is head:
            break
        if len(pages) > len(k.pages):
            _fail(name, f"{where}: the ring from {_pname(head)} does not close")
    first = head.p_offset
    for i, p in enumerate(pages):
        if p.p_vnode is not vp or p.p_offset != first + i * k.pagesize:
            _fail(
                name,
                f"{where}: {_pname(p)} at position {i} breaks the ascending run "
                f"from {_pname(head)}",
            )
    if kl.off != first:
        _fail(name, f"{where}: off={kl.off} but the first page is {_pname(head)}")
    return pages


def check_read_kluster(
    kl: Kluster | None,
    before: VnodeState,
    *,
    off: int,
    vp_off: int,
    vp_len: int,
    isra: int = 0,
) -> None:
    """A read kluster is a contiguous run of new pages inside its bounds.

    Args:
        kl: what ``pvn_read_kluster(vp, off, seg, addr, vp_off, vp_len,
            isra)`` returned.
        before: :func:`vnode_state` of the vnode just before the call.
        off, vp_off, vp_len, isra: the call's arguments.

    NULL must create nothing and, for a demand read, means the page at
    ``off`` existed.  A kluster is an ascending run holding ``off``, starting
    at ``kl.off``, inside ``[vp_off, vp_off + vp_len)``, ``kl.len`` covering
    its pages (cut at the window end; a single page reports at most
    min(vp_len, PAGESIZE), as the C's single-page branch does, even past the
    window end), no more pages than freemem - minfree allowed (at least
    one), every page absent or cached before the call, now held SE_EXCL and
    i/o-locked by the caller, unmapped.

    Raises:
        InvariantViolation: naming the page or bound that is wrong.
    """
    name = "read-kluster contiguity and bounds"
    vp = before.vnode
    k = vp.kernel
    vp_end = vp_off + vp_len
    where = f"pvn_read_kluster({vp.v_name}, off={off}, window [{vp_off}, {vp_end}))"
    bucket = k.page_hash[vp]
    if kl is None:
        for o in bucket:
            if o not in before.pages:
                _fail(name, f"{where} returned NULL but created {vp.v_name}@{o:#x}")
        if not isra and off not in before.pages:
            _fail(name, f"{where} returned NULL although {vp.v_name}@{off:#x} did not exist")
        return
    pages = _run(name, where, kl, vp)
    n = len(pages)
    offs = [p.p_offset for p in pages]
    if off not in offs:
        _fail(name, f"{where}: the kluster {_pname(pages[0])}..{_pname(pages[-1])} misses off")
    if offs[0] < vp_off or offs[-1] >= vp_end:
        bad = pages[0] if offs[0] < vp_off else pages[-1]
        _fail(name, f"{where}: {_pname(bad)} lies outside the window")
    if n == 1:
        # The single-page branch (L149-151) reports min(vp_len, PAGESIZE) of
        # the possibly shrunk window, without cutting it at the window end.
        if not 0 < kl.len <= min(vp_len, k.pagesize):
            _fail(name, f"{where}: len={kl.len} for a single page")
    elif not (n - 1) * k.pagesize < kl.len <= n * k.pagesize or kl.off + kl.len > vp_end:
        _fail(name, f"{where}: len={kl.len} does not cover exactly its {n} pages")
    allowed = max(1, before.freemem - before.minfree)
    if n > allowed:
        _fail(name, f"{where}: {n} pages but freemem - minfree allowed {allowed}")
    me = k.curthread
    for p in pages:
        rec = before.pages.get(p.p_offset)
        if rec is not None and not rec.free:
            _fail(name, f"{where}: {_pname(p)} was in use before the call, not created")
        if bucket.get(p.p_offset) is not p:
            _fail(name, f"{where}: {_pname(p)} is not in the page hash")
        if p.p_selock != -1 or p.p_sowner != me:
            _fail(name, f"{where}: {_pname(p)} is not held SE_EXCL by {me}")
        if not p.p_iolock_state & PAGE_IO_INUSE or p.p_state & P_FREE or p.p_mapping:
            _fail(name, f"{where}: {_pname(p)} is not an i/o-locked, unmapped page in use")


def check_write_kluster(
    kl: Kluster,
    before: VnodeState,
    *,
    pp: Page,
    vp_off: int,
    vp_len: int,
) -> None:
    """A write kluster holds only pages that were dirty, each prepared for the write.

    Args:
        kl: what ``pvn_write_kluster(vp, pp, vp_off, vp_len, flags)``
            returned.
        before: :func:`vnode_state` of the vnode before the call.
        pp, vp_off, vp_len: the call's arguments.

    The kluster is an ascending run holding ``pp``, ``kl.len`` is its pages,
    every page but ``pp`` lies inside ``[vp_off, vp_off + vp_len)``; every
    page was resident, in use and dirty before (``pp`` may already have been
    prepared by pvn_getdirty); each now holds its page lock and its i/o lock
    and its modification has moved into the write (software P_MOD and
    hardware mod bits clear).

    Raises:
        InvariantViolation: naming the page that is wrong.
    """
    name = "write-kluster dirtiness"
    vp = before.vnode
    k = vp.kernel
    vp_end = vp_off + vp_len
    where = f"pvn_write_kluster({vp.v_name}, {_pname(pp)}, window [{vp_off}, {vp_end}))"
    pages = _run(name, where, kl, vp)
    if not any(p is pp for p in pages):
        _fail(name, f"{where}: the kluster does not hold {_pname(pp)}")
    if kl.len != len(pages) * k.pagesize:
        _fail(name, f"{where}: len={kl.len} but the kluster has {len(pages)} pages")
    for p in pages:
        rec = before.pages.get(p.p_offset)
        if rec is None or rec.page is not p or rec.free:
            _fail(name, f"{where}: {_pname(p)} was not a resident page in use before the call")
        if p is not pp:
            if not vp_off <= p.p_offset < vp_end:
                _fail(name, f"{where}: {_pname(p)} lies outside the window")
            if not rec.dirty:
                _fail(name, f"{where}: {_pname(p)} was clean before the call")
        elif not (rec.dirty or rec.io_locked):
            _fail(name, f"{where}: {_pname(p)} was clean and not prepared by pvn_getdirty")
        if not p.p_iolock_state & PAGE_IO_INUSE or p.p_selock == 0:
            _fail(name, f"{where}: {_pname(p)} does not hold its page and i/o locks")
        if is_dirty(p):
            _fail(name, f"{where}: {_pname(p)} is still modified; its dirt was not handed over")
