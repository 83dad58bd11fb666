"""Validators: check every invariant of a kernel, naming what is broken.

:func:`check_kernel` runs all of them and raises
:class:`~pvnsim.errors.InvariantViolation` at the first broken one; each
``check_*`` function checks one family and can be called on its own.  They
only read the model.

Invariants (see docs/invariants.md for why each holds in illumos):

* lists: every p_next/p_prev and p_vpnext/p_vpprev ring is well formed; the
  free and cache list counts match their rings.
* hash: the page hash and each vnode's v_pages hold the same pages.
* conservation: built + never-used + kernel pages = total;
  freemem = never-used + free list + cache list; a page without identity is
  free, or held exclusively by someone (never lost).
* markers: marker pages appear only on a vnode whose pvn_vplist_dirty walk is
  running (VVMLOCK set), at most two per vnode, and the marker cache has
  exactly as many markers out as the lists hold.
* vmodsort: on an IS_VMODSORT vnode with no page i/o-locked and no walk
  running, no clean page follows a modified one.
* locks: lock words are valid; a free page is unmapped, not i/o-locked, has no
  ref/mod bits and no lckcnt/cowcnt, and is locked only during a walk; a page
  on an I/O list holds its page lock and i/o lock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pvnsim.errors import InvariantViolation
from pvnsim.flags import P_FREE, P_MOD, P_REF, P_RO, PAGE_IO_INUSE, VVMLOCK
from pvnsim.vm._trace import page_name
from pvnsim.vm.page import PVN_VPLIST_HASH_TAG
from pvnsim.vm.vnode import IS_VMODSORT

if TYPE_CHECKING:
    from pvnsim.kernel import Kernel
    from pvnsim.vm.page import Page
    from pvnsim.vm.vnode import Vnode

__all__ = [
    "check_conservation",
    "check_free_pages",
    "check_hash",
    "check_kernel",
    "check_lists",
    "check_lock_words",
    "check_locks",
    "check_markers",
    "check_vmodsort",
]


def _fail(message: str) -> None:
    raise InvariantViolation(message)


def _ring(head: Page, what: str, *, vp_list: bool, limit: int) -> list[Page]:
    # With every next's prev checked, a walk that does not come back to the
    # head within ``limit`` pages is a ring that does not close.
    out: list[Page] = []
    pp = head
    if vp_list:
        while True:
            nxt = pp.p_vpnext
            if nxt.p_vpprev is not pp:
                _broken(what, pp, nxt.p_vpprev)
            out.append(pp)
            pp = nxt
            if pp is head:
                return out
            if len(out) > limit:
                _fail(f"{what}: ring does not return to its head {page_name(head)}")
    while True:
        nxt = pp.p_next
        if nxt.p_prev is not pp:
            _broken(what, pp, nxt.p_prev)
        out.append(pp)
        pp = nxt
        if pp is head:
            return out
        if len(out) > limit:
            _fail(f"{what}: ring does not return to its head {page_name(head)}")


def _broken(what: str, pp: Page, back: Page) -> None:
    _fail(f"{what}: link broken after {page_name(pp)} (next's prev is {page_name(back)})")


def _walking(vp: Vnode) -> bool:
    return bool(vp.v_flag & VVMLOCK)


def _name(pp: Page) -> str:
    return page_name(pp) if pp.p_vnode is not None else f"page #{pp.p_id}"


def check_lists(k: Kernel) -> None:
    """Both list families are well-formed rings; list counts match."""
    limit = len(k.pages) + 2 * len(k.vnodes) + 2
    for vp in k.vnodes:
        if vp.v_pages is not None:
            for pp in _ring(vp.v_pages, f"vnode {vp.v_name} v_pages", vp_list=True, limit=limit):
                if pp.p_vnode is not vp:
                    _fail(f"vnode {vp.v_name} v_pages holds {page_name(pp)} of another vnode")
    free = (
        _ring(k.page_freelist, "free list", vp_list=False, limit=limit) if k.page_freelist else []
    )
    if len(free) != k.freelist_count:
        _fail(f"free list holds {len(free)} pages but freelist_count is {k.freelist_count}")
    for pp in free:
        if pp.p_vnode is not None or not pp.p_state & P_FREE:
            _fail(f"free list holds {page_name(pp)}, which is not an identity-less free page")
    cache = (
        _ring(k.page_cachelist, "cache list", vp_list=False, limit=limit)
        if k.page_cachelist
        else []
    )
    if len(cache) != k.cachelist_count:
        _fail(f"cache list holds {len(cache)} pages but cachelist_count is {k.cachelist_count}")
    for pp in cache:
        if pp.p_vnode is None or not pp.p_state & P_FREE:
            _fail(f"cache list holds {page_name(pp)}, which is not a free page with identity")
    for pp in k.pages:
        if not pp.p_state & P_FREE and pp.p_next is not pp:
            _ring(pp, f"I/O list of {page_name(pp)}", vp_list=False, limit=limit)


def check_hash(k: Kernel) -> None:
    """The page hash and the vnode lists hold exactly the same pages."""
    for vp in k.vnodes:
        bucket = k.page_hash.get(vp, {})
        on_list = 0
        head = vp.v_pages
        if head is not None:
            pp = head
            while True:
                if pp.p_hash is not PVN_VPLIST_HASH_TAG:
                    on_list += 1
                    if bucket.get(pp.p_offset) is not pp:
                        _fail(
                            f"page {page_name(pp)} is on v_pages of {vp.v_name} but not in the hash"
                        )
                pp = pp.p_vpnext
                if pp is head:
                    break
        for off, pp in bucket.items():
            if pp.p_vnode is not vp or pp.p_offset != off:
                _fail(f"hash entry ({vp.v_name}, {off}) holds {page_name(pp)}")
        if on_list != len(bucket):
            _fail(f"vnode {vp.v_name}: {len(bucket)} pages hashed but {on_list} on v_pages")


def check_conservation(k: Kernel) -> None:
    """No page is created or lost; freemem counts the free and cache lists."""
    if len(k.pages) + k.unused_pages + k.kernel_pages != k.total_pages:
        _fail(
            f"pages not conserved: {len(k.pages)} built + {k.unused_pages} never used + "
            f"{k.kernel_pages} kernel != {k.total_pages} total"
        )
    expected = k.unused_pages + k.freelist_count + k.cachelist_count
    if k.freemem != expected:
        _fail(
            f"freemem is {k.freemem} but the lists hold {expected} "
            f"({k.unused_pages} never used + {k.freelist_count} free + {k.cachelist_count} cached)"
        )
    free_no_id = free_id = 0
    lost: Page | None = None
    for pp in k.pages:
        if pp.p_state & P_FREE:
            if pp.p_vnode is None:
                free_no_id += 1
            else:
                free_id += 1
        elif pp.p_vnode is None and pp.p_selock >= 0 and lost is None:
            lost = pp
    if free_no_id != k.freelist_count:
        _fail(
            f"{free_no_id} pages are free without identity but the free list counts {k.freelist_count}"
        )
    if free_id != k.cachelist_count:
        _fail(
            f"{free_id} pages are free with identity but the cache list counts {k.cachelist_count}"
        )
    if lost is not None:
        _fail(f"page #{lost.p_id} is lost: no identity, not free and not held exclusively")


def check_markers(k: Kernel) -> None:
    """Markers only on vnodes being walked, at most two each, none leaked."""
    total = 0
    for vp in k.vnodes:
        head = vp.v_pages
        count = 0
        if head is not None:
            pp = head
            while True:
                if pp.p_hash is PVN_VPLIST_HASH_TAG:
                    count += 1
                pp = pp.p_vpnext
                if pp is head:
                    break
        if count and not _walking(vp):
            _fail(
                f"vnode {vp.v_name} holds {count} marker page(s) but no pvn_vplist_dirty is running"
            )
        if count > 2:
            _fail(f"vnode {vp.v_name} holds {count} marker pages (at most 2)")
        total += count
    cache = k.marker_cache
    out = len(cache.outstanding) if cache is not None else 0
    if out != total:
        _fail(f"marker_cache has {out} markers allocated but the vnode lists hold {total}")


def check_vmodsort(k: Kernel) -> None:
    """On quiet VMODSORT vnodes, modified pages all follow the clean ones."""
    for vp in k.vnodes:
        if not IS_VMODSORT(vp) or _walking(vp) or vp.v_pages is None:
            continue
        pages = []
        head = vp.v_pages
        pp = head
        while True:
            pages.append(pp)
            pp = pp.p_vpnext
            if pp is head:
                break
        if any(p.p_iolock_state & PAGE_IO_INUSE for p in pages):
            continue
        seen_mod: Page | None = None
        for p in pages:
            if p.p_nrm & P_MOD:
                seen_mod = seen_mod or p
            elif seen_mod is not None:
                _fail(
                    f"VMODSORT vnode {vp.v_name}: clean page {page_name(p)} follows "
                    f"modified page {page_name(seen_mod)}"
                )


def check_lock_words(k: Kernel) -> None:
    """Lock words valid, holders recorded, I/O-list pages hold both locks."""
    for pp in k.pages:
        selock = pp.p_selock
        owner = pp.p_sowner
        if selock == 0:
            if owner is not None:
                _fail(f"{_name(pp)}: unlocked but records holder {owner!r}")
        elif selock < -1:
            _fail(f"{_name(pp)}: invalid lock word {selock}")
        elif selock > 1 and isinstance(owner, list) and len(owner) != selock:
            _fail(f"{_name(pp)}: {selock} readers but {len(owner)} recorded")
        if pp.p_next is not pp and not pp.p_state & P_FREE:
            if not pp.p_iolock_state & PAGE_IO_INUSE or selock == 0:
                _fail(f"{_name(pp)} is on an I/O list without holding its page and i/o locks")


def check_free_pages(k: Kernel) -> None:
    """A free page is idle: unmapped, not i/o-locked, no bits, locked only by a walk."""
    walking: bool | None = None
    for pp in k.pages:
        if not pp.p_state & P_FREE:
            continue
        if pp.p_iolock_state & PAGE_IO_INUSE:
            _fail(f"free {_name(pp)} is i/o locked")
        if pp.p_mapping:
            _fail(f"free {_name(pp)} is mapped")
        if pp.p_lckcnt or pp.p_cowcnt:
            _fail(f"free {_name(pp)} has lckcnt={pp.p_lckcnt} cowcnt={pp.p_cowcnt}")
        if pp.p_nrm & (P_REF | P_MOD | P_RO):
            _fail(f"free {_name(pp)} has ref/mod bits {pp.p_nrm:#x}")
        if pp.p_selock:
            if walking is None:
                walking = any(_walking(vp) for vp in k.vnodes)
            if not walking:
                _fail(f"free {_name(pp)} is locked ({pp.p_selock}) while no pvn_vplist_dirty runs")


def check_locks(k: Kernel) -> None:
    """Lock words valid and consistent with free state and I/O lists.

    :func:`check_lock_words` and then :func:`check_free_pages`.
    """
    check_lock_words(k)
    check_free_pages(k)


def check_kernel(k: Kernel) -> None:
    """Run every validator on ``k``; raise InvariantViolation at the first failure."""
    check_lists(k)
    check_hash(k)
    check_conservation(k)
    check_markers(k)
    check_vmodsort(k)
    check_locks(k)
