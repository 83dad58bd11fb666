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

Speed
-----
The validators run at every switch point of an explored interleaving, so
they are written as flat loops over local variables.  :func:`check_kernel`
(and :func:`pvnsim.concurrency.checks.check_in_flight`) first run
:func:`invariants_hold`, one fused pass that only answers yes or no: two
walks (every vnode's ring, then every page) instead of the dozen of the
separate checks, and no message built.  Only when it answers no do they run
the separate checks in their documented order, which find and name the
first broken invariant.  The fused pass is conservative: it answers yes only
if every separate check would pass (it may answer no for a state they
accept, which merely costs the slow path).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pvnsim.errors import InvariantViolation
from pvnsim.flags import P_FREE, P_MOD, P_REF, P_RO, PAGE_IO_INUSE, VMODSORT, VVMLOCK
from pvnsim.vm.page import PVN_VPLIST_HASH_TAG, page_name
from pvnsim.vm.page_lock import PS_EWANTED

if TYPE_CHECKING:
    from pvnsim.kernel import Kernel
    from pvnsim.vm.page import Page

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
    "invariants_hold",
]

_TAG = PVN_VPLIST_HASH_TAG
_U64 = 1 << 64
_FREE_BITS = P_REF | P_MOD | P_RO
_NO_BUCKET: dict[int, Page] = {}


def _fail(message: str) -> None:
    raise InvariantViolation(message)


def _name(pp: Page) -> str:
    return page_name(pp) if pp.p_vnode is not None else f"page #{pp.p_id}"


def _not_closed(what: str, head: Page) -> None:
    _fail(f"{what}: ring does not return to its head {page_name(head)}")


def _broken(what: str, pp: Page, back: Page) -> None:
    _fail(f"{what}: link broken after {page_name(pp)} (next's prev is {page_name(back)})")


def _io_ring(head: Page, limit: int) -> None:
    # The p_next ring of an I/O list starting at ``head``: every next's prev
    # must point back, and the walk must come back to ``head`` within
    # ``limit`` pages (else the ring does not close).
    n = 0
    pp = head
    while True:
        nxt = pp.p_next
        if nxt.p_prev is not pp:
            _broken(f"I/O list of {page_name(head)}", pp, nxt.p_prev)
        n += 1
        pp = nxt
        if pp is head:
            return
        if n > limit:
            _not_closed(f"I/O list of {page_name(head)}", head)


def _free_ring(head: Page | None, what: str, count: int, identity: bool, limit: int) -> None:
    # The free list (identity False) or the cache list (identity True): a
    # well-formed ring of ``count`` free pages, with or without identity.
    # Links are checked first, then the count, then the members, as the
    # messages have always been ordered.
    n = 0
    bad: Page | None = None
    if head is not None:
        pp = head
        while True:
            nxt = pp.p_next
            if nxt.p_prev is not pp:
                _broken(what, pp, nxt.p_prev)
            if bad is None and (
                (pp.p_vnode is not None) is not identity or not pp.p_state & P_FREE
            ):
                bad = pp
            n += 1
            pp = nxt
            if pp is head:
                break
            if n > limit:
                _not_closed(what, head)
    if n != count:
        counter = "cachelist_count" if identity else "freelist_count"
        _fail(f"{what} holds {n} pages but {counter} is {count}")
    if bad is not None:
        kind = "a free page with identity" if identity else "an identity-less free page"
        _fail(f"{what} holds {page_name(bad)}, which is not {kind}")


def check_lists(k: Kernel) -> None:
    """Both list families are well-formed rings; list counts match."""
    pages = k.pages
    limit = len(pages) + 2 * len(k.vnodes) + 2
    for vp in k.vnodes:
        head = vp.v_pages
        if head is None:
            continue
        # Every link of the ring first, then whether each page is vp's.
        foreign: Page | None = None
        n = 0
        pp = head
        while True:
            nxt = pp.p_vpnext
            if nxt.p_vpprev is not pp:
                _broken(f"vnode {vp.v_name} v_pages", pp, nxt.p_vpprev)
            if foreign is None and pp.p_vnode is not vp:
                foreign = pp
            n += 1
            pp = nxt
            if pp is head:
                break
            if n > limit:
                _not_closed(f"vnode {vp.v_name} v_pages", head)
        if foreign is not None:
            _fail(f"vnode {vp.v_name} v_pages holds {page_name(foreign)} of another vnode")
    _free_ring(k.page_freelist, "free list", k.freelist_count, False, limit)
    _free_ring(k.page_cachelist, "cache list", k.cachelist_count, True, limit)
    # Every page on an I/O list starts a walk of its ring; the members of a
    # ring already found whole need no walk of their own (same ring).
    whole: set[Page] | None = None
    for pp in pages:
        if pp.p_next is not pp and not pp.p_state & P_FREE:
            if whole is not None and pp in whole:
                continue
            _io_ring(pp, limit)
            if whole is None:
                whole = set()
            x = pp
            while True:
                whole.add(x)
                x = x.p_next
                if x is pp:
                    break


def check_hash(k: Kernel) -> None:
    """The page hash and the vnode lists hold exactly the same pages, at
    page-aligned offsets below 2^64 (u_offset_t)."""
    page_hash = k.page_hash
    mask = k.pageoffset
    for vp in k.vnodes:
        bucket = page_hash.get(vp, _NO_BUCKET)
        get = bucket.get
        on_list = 0
        head = vp.v_pages
        if head is not None:
            pp = head
            while True:
                if pp.p_hash is not _TAG:
                    on_list += 1
                    if get(pp.p_offset) is not pp:
                        _fail(
                            f"page {page_name(pp)} is on v_pages of {vp.v_name} but not in the hash"
                        )
                pp = pp.p_vpnext
                if pp is head:
                    break
        for off, pp in bucket.items():
            if pp.p_vnode is not vp or pp.p_offset != off:
                _fail(f"hash entry ({vp.v_name}, {off:#x}) holds {page_name(pp)}")
            if off & mask or not 0 <= off < _U64:
                _fail(
                    f"page {page_name(pp)}: offset is not a page-aligned u_offset_t "
                    f"(PAGESIZE {k.pagesize:#x})"
                )
        if on_list != len(bucket):
            _fail(f"vnode {vp.v_name}: {len(bucket)} pages hashed but {on_list} on v_pages")


def check_conservation(k: Kernel) -> None:
    """No page is created or lost; freemem counts the free and cache lists."""
    pages = k.pages
    if len(pages) + k.unused_pages + k.kernel_pages != k.total_pages:
        _fail(
            f"pages not conserved: {len(pages)} built + {k.unused_pages} never used + "
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
    for pp in pages:
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


def count_markers(head: Page | None) -> int:
    """The marker pages on the vnode page list headed by ``head``."""
    count = 0
    if head is not None:
        pp = head
        while True:
            if pp.p_hash is _TAG:
                count += 1
            pp = pp.p_vpnext
            if pp is head:
                break
    return count


def check_markers(k: Kernel) -> None:
    """Markers only on vnodes being walked, at most two each, none leaked."""
    total = 0
    for vp in k.vnodes:
        count = count_markers(vp.v_pages)
        if count and not vp.v_flag & VVMLOCK:
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
    if not k.pvn_vmodsort_supported:
        return  # IS_VMODSORT is false for every vnode
    for vp in k.vnodes:
        head = vp.v_pages
        if not vp.v_flag & VMODSORT or vp.v_flag & VVMLOCK or head is None:
            continue
        # One walk: the first misordered pair, and whether any page is
        # i/o-locked (which excuses the order).
        seen_mod: Page | None = None
        clean: Page | None = None
        mod: Page | None = None
        io = False
        pp = head
        while True:
            if pp.p_iolock_state & PAGE_IO_INUSE:
                io = True
                break
            if pp.p_nrm & P_MOD:
                if seen_mod is None:
                    seen_mod = pp
            elif seen_mod is not None and clean is None:
                clean, mod = pp, seen_mod
            pp = pp.p_vpnext
            if pp is head:
                break
        if not io and clean is not None and mod is not None:
            _fail(
                f"VMODSORT vnode {vp.v_name}: clean page {page_name(clean)} follows "
                f"modified page {page_name(mod)}"
            )


def check_lock_words(k: Kernel) -> None:
    """Lock words valid, holders recorded, I/O-list pages hold both locks; an
    i/o-locked page in use holds its page lock; SE_EWANTED only on a page
    with an identity."""
    for pp in k.pages:
        selock = pp.p_selock
        if selock == 0:
            if pp.p_sowner is not None:
                _fail(f"{_name(pp)}: unlocked but records holder {pp.p_sowner!r}")
        elif selock < -1:
            _fail(f"{_name(pp)}: invalid lock word {selock}")
        elif selock > 1:
            owner = pp.p_sowner
            if isinstance(owner, list) and len(owner) != selock:
                _fail(f"{_name(pp)}: {selock} readers but {len(owner)} recorded")
        if pp.p_next is not pp and not pp.p_state & P_FREE:
            if not pp.p_iolock_state & PAGE_IO_INUSE or selock == 0:
                _fail(f"{_name(pp)} is on an I/O list without holding its page and i/o locks")
        if pp.p_iolock_state & PAGE_IO_INUSE:
            if selock == 0 and not pp.p_state & P_FREE:
                _fail(f"{_name(pp)} holds its i/o lock without its page lock")
            if pp.p_ioowner is None:
                _fail(f"{_name(pp)} is i/o locked but records no holder")
        elif pp.p_ioowner is not None:
            _fail(f"{_name(pp)}: i/o lock free but records holder {pp.p_ioowner!r}")
        if pp.p_state & PS_EWANTED and pp.p_vnode is None:
            _fail(f"{_name(pp)} has no identity but is wanted exclusively (SE_EWANTED)")


def check_free_pages(k: Kernel) -> None:
    """A free page is idle: unmapped, not i/o-locked, no bits, locked only by
    the walk of its own vnode (pvn_vplist_dirty locks cached pages with
    P_NO_RECLAIM)."""
    for pp in k.pages:
        if not pp.p_state & P_FREE:
            continue
        if pp.p_iolock_state & PAGE_IO_INUSE:
            _fail(f"free {_name(pp)} is i/o locked")
        if pp.p_mapping:
            _fail(f"free {_name(pp)} is mapped")
        if pp.p_lckcnt or pp.p_cowcnt:
            _fail(f"free {_name(pp)} has lckcnt={pp.p_lckcnt} cowcnt={pp.p_cowcnt}")
        if pp.p_nrm & _FREE_BITS:
            _fail(f"free {_name(pp)} has ref/mod bits {pp.p_nrm:#x}")
        if pp.p_selock:
            vp = pp.p_vnode
            if vp is None or not vp.v_flag & VVMLOCK:
                _fail(
                    f"free {_name(pp)} is locked by {pp.p_sowner!r} "
                    "but no pvn_vplist_dirty walks its vnode"
                )


def check_locks(k: Kernel) -> None:
    """Lock words valid and consistent with free state and I/O lists.

    :func:`check_lock_words` and then :func:`check_free_pages`.
    """
    check_lock_words(k)
    check_free_pages(k)


def invariants_hold(k: Kernel, in_flight: bool = False) -> bool:
    """Whether every validator of :func:`check_kernel` would pass, in one fused pass.

    Builds no message and raises nothing for a broken state: it answers
    False, and the caller runs the separate checks to name the problem.  It
    answers True only if they would all pass (a False for a valid state only
    costs the slow path).  ``in_flight`` replaces the marker-cache rule of
    :func:`check_markers` with the one of
    :func:`pvnsim.concurrency.checks.check_markers_in_flight`.
    """
    try:
        pages = k.pages
        vnodes = k.vnodes
        npages = len(pages)
        limit = npages + 2 * len(vnodes) + 2
        # A ring passes the separate checks when it closes within limit + 1
        # pages: range(1, most) counts its pages and bounds the walk.
        most = limit + 2
        unused = k.unused_pages
        nfree = k.freelist_count
        ncache = k.cachelist_count
        # conservation: the counters
        if (
            npages + unused + k.kernel_pages != k.total_pages
            or k.freemem != unused + nfree + ncache
        ):
            return False
        page_hash = k.page_hash
        mask = k.pageoffset
        u64 = _U64
        sort_on = k.pvn_vmodsort_supported
        tag = _TAG
        free_flag = P_FREE
        markers = 0
        walks = 0
        # Each vnode's ring, once: links, closure and ownership (lists), hash
        # membership (hash), markers, VMODSORT order.
        for vp in vnodes:
            flag = vp.v_flag
            walking = flag & VVMLOCK
            if walking:
                walks += 1
            bucket = page_hash.get(vp, _NO_BUCKET)
            head = vp.v_pages
            if head is None:
                if bucket:
                    return False
                continue
            count = 0
            pp = head
            if sort_on and flag & VMODSORT and not walking:
                seen_mod = misordered = io = False
                for n in range(1, most):
                    nxt = pp.p_vpnext
                    if nxt.p_vpprev is not pp or pp.p_vnode is not vp:
                        return False
                    if pp.p_hash is tag:
                        count += 1
                    elif (
                        bucket[pp.p_offset] is not pp
                        or pp.p_offset & mask
                        or not 0 <= pp.p_offset < u64
                    ):
                        return False
                    if pp.p_iolock_state & PAGE_IO_INUSE:
                        io = True
                    if pp.p_nrm & P_MOD:
                        seen_mod = True
                    elif seen_mod:
                        misordered = True
                    pp = nxt
                    if pp is head:
                        # Closed: its pages are distinct, so its n - count
                        # hashed pages are as many distinct keys of the
                        # bucket, each mapping back to its page; equal sizes
                        # mean the bucket holds nothing else.
                        if n - count != len(bucket):
                            return False
                        break
                else:
                    return False
                if misordered and not io:
                    return False
            else:
                for n in range(1, most):
                    nxt = pp.p_vpnext
                    if nxt.p_vpprev is not pp or pp.p_vnode is not vp:
                        return False
                    if pp.p_hash is tag:
                        count += 1
                    elif (
                        bucket[pp.p_offset] is not pp
                        or pp.p_offset & mask
                        or not 0 <= pp.p_offset < u64
                    ):
                        return False
                    pp = nxt
                    if pp is head:
                        # Closed: its pages are distinct, so its n - count
                        # hashed pages are as many distinct keys of the
                        # bucket, each mapping back to its page; equal sizes
                        # mean the bucket holds nothing else.
                        if n - count != len(bucket):
                            return False
                        break
                else:
                    return False
            if count:
                if not walking or count > 2:
                    return False
                markers += count
        cache = k.marker_cache
        out = len(cache.outstanding) if cache is not None else 0
        if in_flight:
            if markers > out or out > 2 * walks:
                return False
        elif out != markers:
            return False
        # The free list (no identity) and the cache list (identity).
        head = k.page_freelist
        if head is None:
            if nfree:
                return False
        else:
            pp = head
            for n in range(1, most):
                nxt = pp.p_next
                if nxt.p_prev is not pp or pp.p_vnode is not None or not pp.p_state & free_flag:
                    return False
                pp = nxt
                if pp is head:
                    if n != nfree:
                        return False
                    break
            else:
                return False
        head = k.page_cachelist
        if head is None:
            if ncache:
                return False
        else:
            pp = head
            for n in range(1, most):
                nxt = pp.p_next
                if nxt.p_prev is not pp or pp.p_vnode is None or not pp.p_state & free_flag:
                    return False
                pp = nxt
                if pp is head:
                    if n != ncache:
                        return False
                    break
            else:
                return False
        # Every page, once: lock words, free pages, lost pages, I/O lists.
        free_no_id = free_id = 0
        free_bits = _FREE_BITS
        whole: set[Page] | None = None
        for pp in pages:
            selock = pp.p_selock
            io_state = pp.p_iolock_state
            if (io_state & PAGE_IO_INUSE) != (pp.p_ioowner is not None):
                return False  # an i/o lock without its holder, or a holder without it
            if pp.p_state & PS_EWANTED and pp.p_vnode is None:
                return False
            if pp.p_state & free_flag:
                # A free page: idle (check_free_pages), counted by identity
                # (check_conservation), its lock word valid.
                if pp.p_vnode is None:
                    free_no_id += 1
                else:
                    free_id += 1
                if (
                    pp.p_iolock_state
                    or pp.p_mapping
                    or pp.p_lckcnt
                    or pp.p_cowcnt
                    or pp.p_nrm & free_bits
                ):
                    return False
                if selock == 0:
                    if pp.p_sowner is not None:
                        return False
                    continue
                owner_vp = pp.p_vnode
                if owner_vp is None or not owner_vp.v_flag & VVMLOCK:
                    return False  # a free page is locked only by its own vnode's walk
            elif selock == 0:
                # In use and unlocked: no holder, has identity (else lost),
                # on no I/O list (which needs both locks), not i/o-locked.
                if (
                    pp.p_sowner is not None
                    or pp.p_vnode is None
                    or pp.p_next is not pp
                    or io_state & PAGE_IO_INUSE
                ):
                    return False
                continue
            elif pp.p_next is not pp:
                # Locked and on an I/O list: holds the i/o lock too, and the
                # list is a well-formed ring (walked once per ring).
                if not pp.p_iolock_state & PAGE_IO_INUSE or (pp.p_vnode is None and selock > 0):
                    return False
                if whole is None or pp not in whole:
                    if whole is None:
                        whole = set()
                    x = pp
                    for _ in range(1, most):
                        nxt = x.p_next
                        if nxt.p_prev is not x:
                            return False
                        whole.add(x)
                        x = nxt
                        if x is pp:
                            break
                    else:
                        return False
            elif pp.p_vnode is None and selock > 0:
                return False  # lost: no identity, not free, not held exclusively
            # A locked page's lock word (the free page's too, falling through).
            if selock < -1:
                return False
            if selock > 1:
                owner = pp.p_sowner
                if isinstance(owner, list) and len(owner) != selock:
                    return False
        return free_no_id == nfree and free_id == ncache
    except Exception:
        # A state so broken that a plain read fails (or a page missing from
        # its hash bucket: a KeyError): the separate checks report it, or
        # raise, exactly as they always have.
        return False


def check_kernel(k: Kernel) -> None:
    """Run every validator on ``k``; raise InvariantViolation at the first failure."""
    if invariants_hold(k):
        return
    check_lists(k)
    check_hash(k)
    check_conservation(k)
    check_markers(k)
    check_vmodsort(k)
    check_locks(k)
