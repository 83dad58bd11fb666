"""Building page populations directly, without going through page_create_va.

Tests, scenarios and notebooks need a vnode with pages in a given state and
order (dirty here, cached there, locked by another thread...).  Building that
through page_create_va and a simulated file system would take many calls and
leave traces; :func:`make_page` builds one page in one step, through the
model's own list, hash and lock operations (run quietly: nothing is traced
and no thread switches), so the result satisfies every invariant.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from pvnsim.errors import UsageError
from pvnsim.flags import P_MOD, P_REF, P_RO, SE_EXCL, SE_SHARED
from pvnsim.hooks import quiet
from pvnsim.vm.hat import HatMapping
from pvnsim.vm.page import (
    Page,
    page_get_free,
    page_hashin,
    page_list_add,
    page_vpadd,
    page_vpsub,
)
from pvnsim.vm.page_lock import io_take, take, want_excl
from pvnsim.vm.vm_page import page_create_putback, page_create_reserve

if TYPE_CHECKING:
    from pvnsim.vm.vnode import Vnode

__all__ = ["LOCK_STATES", "make_page", "populate"]

#: Accepted ``lock=`` values: by the caller ("main") or by another thread.
LOCK_STATES = (None, "S", "SS", "X", "S@other", "X@other")

_HW = {"-": 0, "r": P_REF, "m": P_MOD, "rm": P_REF | P_MOD, "mr": P_REF | P_MOD}


def make_page(
    vp: Vnode,
    off: int,
    *,
    nrm: int = 0,
    maps: Sequence[str] = (),
    lckcnt: int = 0,
    cowcnt: int = 0,
    cached: bool = False,
    lock: str | None = None,
    io: str | None = None,
    at: str = "head",
    data: bytes | None = None,
    ewanted: bool = False,
) -> Page:
    """Give ``vp`` a resident page at ``off`` in the stated condition.

    Args:
        nrm: software attribute bits (P_MOD, P_REF, P_RO).
        maps: one entry per translation, its hardware bits: ``"rm"``,
            ``"r"``, ``"m"`` or ``"-"``.  These translations are writable even
            on a clean VMODSORT page, a state the HAT itself never creates
            (:func:`~pvnsim.vm.hat.hat_map` loads such a translation
            read-only); it lets tests reach any state the C could be handed.
        lckcnt, cowcnt: p_lckcnt and p_cowcnt.
        cached: put the page on the cache list (tail); it must then be clean,
            unmapped, unlocked and not logically locked.
        lock: one of :data:`LOCK_STATES`.
        io: ``None``, ``"me"`` or ``"other"``: who holds the i/o lock.
        at: ``"head"`` or ``"tail"`` of v_pages.
        data: initial contents (at most PAGESIZE bytes).
        ewanted: another thread waits for the page's exclusive lock
            (SE_EWANTED): trylocks, shared locks and upgrades fail.  A cached
            page may have it too (its lock was wanted while it was freed);
            page_create_va then passes over it.

    Raises:
        UsageError: misaligned or duplicate offset, no free memory, or an
            impossible combination.
    """
    k = vp.kernel
    if isinstance(off, bool) or not isinstance(off, int) or off < 0 or off & k.pageoffset:
        raise UsageError(f"make_page: offset {off!r} is not a page-aligned non-negative int")
    if off in k.page_hash[vp]:
        raise UsageError(f"make_page: {vp.v_name}@{off:#x} already exists")
    if lock not in LOCK_STATES:
        raise UsageError(f"make_page: lock must be one of {LOCK_STATES}, not {lock!r}")
    if io not in (None, "me", "other"):
        raise UsageError(f"make_page: io must be None, 'me' or 'other', not {io!r}")
    if at not in ("head", "tail"):
        raise UsageError(f"make_page: at must be 'head' or 'tail', not {at!r}")
    if nrm & ~(P_MOD | P_REF | P_RO):
        raise UsageError(f"make_page: nrm has unknown bits {nrm:#x}")
    for m in maps:
        if m not in _HW:
            raise UsageError(f"make_page: translation bits must be one of {sorted(_HW)}, not {m!r}")
    if cached and (maps or lock or io or lckcnt or cowcnt or nrm):
        raise UsageError("make_page: a cached page must be clean, unmapped, unlocked and idle")
    if data is not None and len(data) > k.pagesize:
        raise UsageError("make_page: data is longer than a page")
    with quiet(k):
        page_create_reserve(k, 1)
        pp = page_get_free(k)
        if pp is None:
            page_create_putback(k, 1)
            raise UsageError("make_page: no free memory left in this kernel")
        _place(vp, pp, off, nrm, at)
        pp.p_lckcnt = lckcnt
        pp.p_cowcnt = cowcnt
        if maps:
            pp.p_mapping = [HatMapping("as", True, _HW[m]) for m in maps]
        if data is not None:
            pp.p_data = bytearray(data.ljust(k.pagesize, b"\0"))
        me = k.curthread
        if lock == "S":
            take(pp, SE_SHARED, me)
        elif lock == "SS":
            take(pp, SE_SHARED, me)
            take(pp, SE_SHARED, "other")
        elif lock == "X":
            take(pp, SE_EXCL, me)
        elif lock == "S@other":
            take(pp, SE_SHARED, "other")
        elif lock == "X@other":
            take(pp, SE_EXCL, "other")
        if io is not None:
            io_take(pp, me if io == "me" else "other")
        if ewanted:
            want_excl(pp)
        if cached:
            page_list_add(pp, 0)
    return pp


def _place(vp: Vnode, pp: Page, off: int, nrm: int, at: str) -> None:
    # Give pp its identity at the head of v_pages (page_hashin puts a clean
    # page there), then its attribute bits, then move it to the tail if asked.
    pp.p_nrm = 0
    page_hashin(pp, vp, off)
    pp.p_nrm = nrm
    if at == "tail" and pp.p_vpnext is not pp:
        page_vpsub(vp, pp)
        page_vpadd(vp.v_pages.p_vpprev, pp)  # type: ignore[union-attr]


def populate(vp: Vnode, offsets: Iterable[int], **state: object) -> list[Page]:
    """:func:`make_page` for each offset, in order (each becomes the new head
    unless ``at="tail"``); returns the pages.

    When ``state`` holds at most ``nrm`` and ``at`` (the usual bulk case), all
    offsets are checked first and the pages are built in one tight loop, so a
    bad offset changes nothing and a million pages build in seconds.
    """
    if not set(state) <= {"nrm", "at"}:
        return [make_page(vp, off, **state) for off in offsets]  # type: ignore[arg-type]
    nrm = state.get("nrm", 0)
    at = state.get("at", "head")
    if not isinstance(nrm, int) or nrm & ~(P_MOD | P_REF | P_RO):
        raise UsageError(f"populate: nrm has unknown bits {nrm!r}")
    if at not in ("head", "tail"):
        raise UsageError(f"populate: at must be 'head' or 'tail', not {at!r}")
    k = vp.kernel
    bucket = k.page_hash[vp]
    offs = list(offsets)
    mask = k.pageoffset
    seen: set[int] = set()
    for off in offs:
        if type(off) is not int or off < 0 or off & mask:
            raise UsageError(f"populate: offset {off!r} is not a page-aligned non-negative int")
        if off in bucket or off in seen:
            raise UsageError(f"populate: {vp.v_name}@{off:#x} already exists")
        seen.add(off)
    if len(offs) > k.unused_pages + k.freelist_count:
        raise UsageError(
            f"populate: {len(offs)} pages wanted but only "
            f"{k.unused_pages + k.freelist_count} are free"
        )
    out: list[Page] = []
    # Pages form reference cycles (the rings), so each allocation counts
    # towards the cyclic collector's thresholds; over a million pages its
    # repeated full passes cost as much as the building itself.  Nothing here
    # creates garbage, so the collector is paused for the loop.
    collecting = gc.isenabled()
    gc.disable()
    try:
        with quiet(k):
            page_create_reserve(k, len(offs))
            for off in offs:
                pp: Page = page_get_free(k)  # type: ignore[assignment]  # counted above
                _place(vp, pp, off, nrm, at)
                out.append(pp)
    finally:
        if collecting:
            gc.enable()
    return out
