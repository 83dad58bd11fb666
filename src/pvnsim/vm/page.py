"""page_t and every list a page is linked on.

Derived from illumos usr/src/uts/common/vm/page.h, vm_page.c and
vm_pagelist.c (CDDL-1.0): the page structure and its predicate macros, the
two intrusive ring families (``page_add``/``page_sub`` on p_next/p_prev and
``page_vpadd``/``page_vpsub`` on p_vpnext/p_vpprev), a page's identity (the
page hash and v_pages: ``page_hashin``/``page_hashout``), and the free and
cache lists (``page_list_add``/``page_list_sub``).

Theory of operation
-------------------
This module is the only place that writes a page's list links or the
kernel's list heads and counters.  Both ring families are circular and
doubly linked.  C passes the address of the list head (``&plist``,
``&vp->v_pages``, or ``&x->p_vpnext``); Python has no addresses, so:

* ``page_add(head, pp)`` / ``page_sub(head, pp)`` take the current head and
  **return the new head** (the C's ``page_t **`` is always a local variable
  in vm_pvn.c);
* ``page_vpadd(link, pp)`` / ``page_vpsub(link, pp)`` take ``link`` = a
  :class:`~pvnsim.vm.vnode.Vnode` (meaning ``&vp->v_pages``) or a
  :class:`Page` ``x`` (meaning ``&x->p_vpnext``) and update it in place.

Free memory.  A kernel's physical pages are never-used (not yet built), on
the free list (no identity) or on the cache list (with identity), or in use.
``freemem`` counts the pages free for a new user.  It moves with the lists:
:func:`page_list_add` adds one, :func:`page_list_sub` takes one away.
``page_create_va`` reserves pages before it takes them
(``page_create_reserve`` in :mod:`pvnsim.vm.vm_page`), takes its reserved
pages off the lists without counting them again (:func:`page_get_free`,
:func:`page_get_cached`, :func:`page_take`), returns an unused one the same
way (:func:`page_give_back`), and puts back a reservation it did not use
(``page_create_putback``).  So at rest
``freemem == never-used + free list + cache list``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pvnsim.errors import KernelPanic
from pvnsim.flags import P_FREE, P_MOD, P_REF, P_RO, P_SWAP, PAGE_IO_INUSE, VISSWAP, VMODSORT
from pvnsim.hooks import implements
from pvnsim.vm.mutex import mutex_enter, mutex_exit
from pvnsim.vm.page_lock import PS_EWANTED, page_lock_clr_exclwanted

if TYPE_CHECKING:
    from pvnsim.kernel import Kernel
    from pvnsim.vm.hat import HatMapping
    from pvnsim.vm.vnode import Vnode

__all__ = [
    "NOOFFSET",
    "PAGE_EXCL",
    "PAGE_LOCKED",
    "PAGE_SHARED",
    "PP_ISFREE",
    "PVN_VPLIST_HASH_TAG",
    "Page",
    "page_add",
    "page_get_cached",
    "page_get_free",
    "page_give_back",
    "page_hashin",
    "page_hashout",
    "page_iolock_assert",
    "page_kernel_give",
    "page_kernel_take",
    "page_list_add",
    "page_list_sub",
    "page_name",
    "page_sub",
    "page_take",
    "page_vpadd",
    "page_vpsub",
    "ring",
]

_U64 = 1 << 64

# u_offset_t -1: the offset of a page without identity (and of the walk marker).
NOOFFSET = _U64 - 1

_NOT_P_FREE = ~P_FREE
_NOT_P_SWAP = ~P_SWAP
_NOT_RM_RO = ~(P_REF | P_MOD | P_RO)


class _HashTag:
    """The value vm/pvn.h stores in p_hash of marker pages."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "PVN_VPLIST_HASH_TAG"


#: What a marker page holds in p_hash (vm/pvn.h's PVN_VPLIST_HASH_TAG).
PVN_VPLIST_HASH_TAG: Any = _HashTag()


class Page:
    """A simulated ``page_t``.

    Field names are the C's.  Fields of our own: ``kernel`` (the owning
    kernel), ``p_sowner`` (who holds the page lock: a thread name, or a list of
    names for several readers), ``p_ioowner`` (who holds the i/o lock),
    ``p_mapping`` (the HAT translations, or ``None``), ``p_data`` (page
    contents, allocated on first use) and ``p_id`` (a serial number).

    ``p_selock`` is 0 when unlocked, the number of readers when shared, and
    -1 when exclusive.  ``p_ewanted`` (1 or 0) is the SE_EWANTED bit illumos
    keeps inside p_selock: a thread waits for the exclusive lock, so new
    readers and plain exclusive requests must wait too (stored as the bit
    :data:`~pvnsim.vm.page_lock.PS_EWANTED` of ``p_state``).
    """

    __slots__ = (
        "kernel",
        "p_cowcnt",
        "p_data",
        "p_fsdata",
        "p_hash",
        "p_id",
        "p_iolock_state",
        "p_ioowner",
        "p_lckcnt",
        "p_mapping",
        "p_next",
        "p_nrm",
        "p_offset",
        "p_prev",
        "p_selock",
        "p_sowner",
        "p_state",
        "p_vnode",
        "p_vpnext",
        "p_vpprev",
    )

    def __init__(self, kernel: Kernel, p_id: int) -> None:
        self.kernel = kernel
        self.p_vnode: Vnode | None = None
        self.p_offset = NOOFFSET
        self.p_next: Page = self
        self.p_prev: Page = self
        self.p_vpnext: Page = self
        self.p_vpprev: Page = self
        self.p_hash: Any = None
        self.p_selock = 0
        self.p_sowner: str | list[str] | None = None
        self.p_iolock_state = 0
        self.p_ioowner: str | None = None
        self.p_lckcnt = 0
        self.p_cowcnt = 0
        self.p_state = 0
        self.p_nrm = 0
        self.p_mapping: list[HatMapping] | None = None
        self.p_data: bytearray | None = None
        self.p_fsdata = 0
        self.p_id = p_id

    @property
    def p_ewanted(self) -> int:
        """SE_EWANTED: 1 while a thread waits for the exclusive lock, else 0."""
        return 1 if self.p_state & PS_EWANTED else 0

    @p_ewanted.setter
    def p_ewanted(self, value: int) -> None:
        if value:
            self.p_state |= PS_EWANTED
        else:
            self.p_state &= ~PS_EWANTED

    @property
    def name(self) -> str:
        """The page as the trace writes it: ``v1@0x1000``, ``MARK(-1)``, ``NOIDENT``."""
        return page_name(self)

    def __repr__(self) -> str:
        from pvnsim.vm.describe import page_summary

        return f"<Page {page_summary(self)}>"

    def __str__(self) -> str:
        return page_name(self)


def page_name(pp: Page | None) -> str:
    """A page as the trace and the dumps write it.

    >>> from pvnsim import Kernel
    >>> k = Kernel(total_pages=64)
    >>> pp = Page(k, 0)
    >>> page_name(pp), page_name(None)
    ('NOIDENT', 'NULL')
    """
    if pp is None:
        return "NULL"
    if pp.p_hash is PVN_VPLIST_HASH_TAG:
        off = pp.p_offset
        if off >= _U64 // 2:
            off -= _U64
        return f"MARK({off})"
    vp = pp.p_vnode
    if vp is None:
        return "NOIDENT"
    return f"{vp.v_name}@{pp.p_offset:#x}"


# ---------------------------------------------------------------------------
# Predicate macros of page.h (field reads; never traced).


def PAGE_LOCKED(pp: Page) -> bool:
    """page.h PAGE_LOCKED: held shared or exclusive."""
    return pp.p_selock != 0


def PAGE_SHARED(pp: Page) -> bool:
    """page.h PAGE_SHARED: held by one or more readers."""
    return pp.p_selock > 0


def PAGE_EXCL(pp: Page) -> bool:
    """page.h PAGE_EXCL: held exclusively."""
    return pp.p_selock < 0


def PP_ISFREE(pp: Page) -> bool:
    """page.h PP_ISFREE: on the free list or the cache list."""
    return pp.p_state & P_FREE != 0


def page_iolock_assert(pp: Page) -> bool:
    """page_lock.c page_iolock_assert: the i/o lock is held."""
    return pp.p_iolock_state & PAGE_IO_INUSE != 0


# ---------------------------------------------------------------------------
# The p_next/p_prev family.


@implements
def page_add(head: Page | None, pp: Page) -> Page:
    """Insert ``pp`` before ``head`` on a p_next ring; return the new head (``pp``).

    ``page_add(&l, pp)`` prepends; followed by ``l = l->p_next`` it appends.
    """
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "page_add":
        return k.hooks.around("page_add", head, pp)  # type: ignore[no-any-return]
    if head is None:
        pp.p_next = pp
        pp.p_prev = pp
    else:
        tail = head.p_prev
        pp.p_next = head
        pp.p_prev = tail
        tail.p_next = pp
        head.p_prev = pp
    return pp


@implements
def page_sub(head: Page | None, pp: Page) -> Page | None:
    """Unlink ``pp`` from the p_next ring headed by ``head``; return the new head."""
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "page_sub":
        return k.hooks.around("page_sub", head, pp)  # type: ignore[no-any-return]
    if head is None:
        raise KernelPanic(f"page_sub: bad arg(s): pp {page_name(pp)}, *ppp NULL")
    nxt = pp.p_next
    if head is pp:
        head = None if nxt is pp else nxt
    prv = pp.p_prev
    prv.p_next = nxt
    nxt.p_prev = prv
    pp.p_next = pp
    pp.p_prev = pp
    return head


# ---------------------------------------------------------------------------
# The p_vpnext/p_vpprev family.  ``link`` is a Vnode (its v_pages) or a Page
# (its p_vpnext field).


@implements
def page_vpadd(link: Vnode | Page, pp: Page) -> None:
    """Insert ``pp`` into a vnode page list.

    ``link`` a Vnode: ``pp`` becomes the new head of ``v_pages``.  ``link`` a
    Page ``x``: ``pp`` is inserted right after ``x``
    (``page_vpadd(&x->p_vpnext, pp)``).
    """
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "page_vpadd":
        return k.hooks.around("page_vpadd", link, pp)  # type: ignore[no-any-return]
    if type(link) is Page:
        old = link.p_vpnext
        # Insert pp before old, then store pp into link's next field.
        prv = old.p_vpprev
        pp.p_vpnext = old
        pp.p_vpprev = prv
        prv.p_vpnext = pp
        old.p_vpprev = pp
        link.p_vpnext = pp
        return None
    vp: Vnode = link  # type: ignore[assignment]
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
    return None


@implements
def page_vpsub(link: Vnode | Page, pp: Page) -> None:
    """Remove ``pp`` from a vnode page list (see :func:`page_vpadd` for ``link``)."""
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "page_vpsub":
        return k.hooks.around("page_vpsub", link, pp)  # type: ignore[no-any-return]
    is_page = type(link) is Page
    if is_page:
        head: Page | None = link.p_vpnext  # type: ignore[union-attr]
    else:
        head = link.v_pages  # type: ignore[union-attr]
    if head is None:
        raise KernelPanic(f"page_vpsub: bad arg(s): pp {page_name(pp)}, *ppp NULL")
    nxt = pp.p_vpnext
    if head is pp:
        head = None if nxt is pp else nxt
        if is_page:
            link.p_vpnext = head  # type: ignore[union-attr]
        else:
            link.v_pages = head  # type: ignore[union-attr]
    prv = pp.p_vpprev
    prv.p_vpnext = nxt
    nxt.p_vpprev = prv
    pp.p_vpnext = pp
    pp.p_vpprev = pp
    return None


def ring(head: Page | None, *, vp_list: bool = False) -> list[Page]:
    """The pages of a ring from ``head``, following p_next (or p_vpnext)."""
    out: list[Page] = []
    if head is None:
        return out
    pp = head
    while True:
        out.append(pp)
        pp = pp.p_vpnext if vp_list else pp.p_next
        if pp is head:
            return out


# ---------------------------------------------------------------------------
# Identity: the page hash and v_pages (vm_page.c page_hashin/page_hashout).


@implements
def page_hashin(pp: Page, vp: Vnode, off: int) -> int:
    """Give ``pp`` the identity (vp, off); 0 if that identity already exists.

    The page joins ``v_pages`` at the head, or at the tail when it is
    modified and the vnode is VMODSORT.
    """
    k = vp.kernel
    if k.hooks is not None and k.hooks.entering != "page_hashin":
        return k.hooks.around("page_hashin", pp, vp, off)  # type: ignore[no-any-return]
    bucket = k.page_hash[vp]
    if off in bucket:
        return 0
    # The vnode-list mutex is taken before the hash changes, so a thread
    # that sleeps on it leaves the hash and v_pages agreeing; the hash is
    # searched again once it is held (the C holds the hash-chain mutex
    # across search and insert).
    vphm = vp.v_vphm
    mutex_enter(vphm)
    if off in bucket:
        mutex_exit(vphm)
        return 0
    pp.p_vnode = vp
    pp.p_offset = off
    if vp.v_flag & VISSWAP:
        pp.p_state |= P_SWAP
    bucket[off] = pp
    head = vp.v_pages
    # page_vpadd, written out (once per page created): at the tail
    # (page_vpadd(&tail->p_vpnext, pp)) or as the new head (page_vpadd(vp, pp)).
    if head is None:
        pp.p_vpnext = pp
        pp.p_vpprev = pp
        vp.v_pages = pp
    else:
        tail = head.p_vpprev
        pp.p_vpnext = head
        pp.p_vpprev = tail
        tail.p_vpnext = pp
        head.p_vpprev = pp
        if not (pp.p_nrm & P_MOD and vp.v_flag & VMODSORT and k.pvn_vmodsort_supported):
            vp.v_pages = pp
    mutex_exit(vphm)
    return 1


@implements
def page_hashout(pp: Page) -> None:
    """Remove ``pp``'s identity (hash, v_pages, ref/mod bits)."""
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "page_hashout":
        return k.hooks.around("page_hashout", pp)  # type: ignore[no-any-return]
    vp = pp.p_vnode
    if vp is None:
        return None
    vphm = vp.v_vphm
    mutex_enter(vphm)
    del k.page_hash[vp][pp.p_offset]
    # page_vpsub(vp, pp), written out (once per page destroyed or recycled).
    nxt = pp.p_vpnext
    if vp.v_pages is pp:
        vp.v_pages = None if nxt is pp else nxt
    prv = pp.p_vpprev
    prv.p_vpnext = nxt
    nxt.p_vpprev = prv
    pp.p_vpnext = pp
    pp.p_vpprev = pp
    mutex_exit(vphm)
    pp.p_nrm &= _NOT_RM_RO
    pp.p_state &= _NOT_P_SWAP
    pp.p_vnode = None
    pp.p_offset = NOOFFSET
    pp.p_fsdata = 0
    if pp.p_state & PS_EWANTED:
        # The identity is gone: whoever wanted this page exclusively wakes
        # up and finds it is not the page it wanted.
        page_lock_clr_exclwanted(pp)
    return None


# ---------------------------------------------------------------------------
# The free list and the cache list (p_next rings headed in the kernel).


def _link_free(k: Kernel, pp: Page, at_head: int) -> None:
    # Put pp on the cache list (with identity) or the free list and set
    # P_FREE; freemem is the caller's business.
    pp.p_state |= P_FREE
    cached = pp.p_vnode is not None
    head = k.page_cachelist if cached else k.page_freelist
    if head is None:
        pp.p_next = pp
        pp.p_prev = pp
        head = pp
    else:
        tail = head.p_prev
        pp.p_next = head
        pp.p_prev = tail
        tail.p_next = pp
        head.p_prev = pp
        if at_head:
            head = pp
    if cached:
        k.page_cachelist = head
        k.cachelist_count += 1
    else:
        k.page_freelist = head
        k.freelist_count += 1


@implements
def page_list_add(pp: Page, at_head: int) -> None:
    """Free ``pp``: onto the cache list if it has an identity, else the free list.

    The page goes to the tail (the head with ``at_head``, for pages nobody
    is expected to want back), is marked P_FREE, and counts in freemem.
    """
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "page_list_add":
        return k.hooks.around("page_list_add", pp, at_head)  # type: ignore[no-any-return]
    # _link_free(k, pp, at_head), written out: every page freed comes here.
    pp.p_state |= P_FREE
    cached = pp.p_vnode is not None
    head = k.page_cachelist if cached else k.page_freelist
    if head is None:
        pp.p_next = pp
        pp.p_prev = pp
        head = pp
    else:
        tail = head.p_prev
        pp.p_next = head
        pp.p_prev = tail
        tail.p_next = pp
        head.p_prev = pp
        if at_head:
            head = pp
    if cached:
        k.page_cachelist = head
        k.cachelist_count += 1
    else:
        k.page_freelist = head
        k.freelist_count += 1
    k.freemem += 1
    return None


def _unlink_free(k: Kernel, pp: Page) -> None:
    # Take pp off the free list or the cache list (whichever holds it) and
    # clear P_FREE; freemem is the caller's business.
    nxt = pp.p_next
    if pp.p_vnode is not None:
        if k.page_cachelist is pp:
            k.page_cachelist = None if nxt is pp else nxt
        k.cachelist_count -= 1
    else:
        if k.page_freelist is pp:
            k.page_freelist = None if nxt is pp else nxt
        k.freelist_count -= 1
    prv = pp.p_prev
    prv.p_next = nxt
    nxt.p_prev = prv
    pp.p_next = pp
    pp.p_prev = pp
    pp.p_state &= _NOT_P_FREE


@implements
def page_list_sub(pp: Page) -> None:
    """Take a free page off its list for a new user (freemem goes down by one)."""
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "page_list_sub":
        return k.hooks.around("page_list_sub", pp)  # type: ignore[no-any-return]
    if not pp.p_state & P_FREE:
        raise KernelPanic(f"page_list_sub: page {page_name(pp)} is not free")
    # _unlink_free(k, pp), written out: every page reclaimed comes here.
    nxt = pp.p_next
    if pp.p_vnode is not None:
        if k.page_cachelist is pp:
            k.page_cachelist = None if nxt is pp else nxt
        k.cachelist_count -= 1
    else:
        if k.page_freelist is pp:
            k.page_freelist = None if nxt is pp else nxt
        k.freelist_count -= 1
    prv = pp.p_prev
    prv.p_next = nxt
    nxt.p_prev = prv
    pp.p_next = pp
    pp.p_prev = pp
    pp.p_state &= _NOT_P_FREE
    k.freemem -= 1
    return None


# -- pages taken for a reservation -----------------------------------------


def page_take(pp: Page) -> None:
    """Take free page ``pp`` off its list for a reservation (freemem does
    not change: the reservation paid for it)."""
    if not pp.p_state & P_FREE:
        raise KernelPanic(f"page_take: page {page_name(pp)} is not free")
    _unlink_free(pp.kernel, pp)


def page_give_back(pp: Page) -> None:
    """Return an unused page taken for a reservation to the free list (the
    reservation still holds its share of freemem, so freemem does not change).

    The page must be unlocked and without identity.
    """
    if pp.p_vnode is not None or pp.p_selock != 0 or pp.p_state & P_FREE:
        raise KernelPanic(f"page_give_back: page {page_name(pp)} is not an unused spare")
    _link_free(pp.kernel, pp, 0)


def page_kernel_take(k: Kernel, n: int) -> int:
    """Move up to ``n`` never-used pages into the rest of the kernel's memory
    (``kernel_pages``), as a kernel allocation would; returns how many."""
    m = min(n, k.unused_pages)
    k.unused_pages -= m
    k.kernel_pages += m
    k.freemem -= m
    return m


def page_kernel_give(k: Kernel, n: int) -> None:
    """Give ``n`` pages of the rest of the kernel's memory back as never-used."""
    k.kernel_pages -= n
    k.unused_pages += n
    k.freemem += n


def page_get_free(k: Kernel) -> Page | None:
    """A page off the free list (or a never-used one) for a reservation, or None."""
    pp = k.page_freelist
    if pp is not None:
        # _unlink_free(k, pp) of the free list's head, written out.
        nxt = pp.p_next
        if nxt is pp:
            k.page_freelist = None
        else:
            k.page_freelist = nxt
            prv = pp.p_prev
            prv.p_next = nxt
            nxt.p_prev = prv
            pp.p_next = pp
            pp.p_prev = pp
        k.freelist_count -= 1
        pp.p_state &= _NOT_P_FREE
        return pp
    if k.unused_pages > 0:
        k.unused_pages -= 1
        pp = Page(k, len(k.pages))
        k.pages.append(pp)
        return pp
    return None


def page_get_cached(k: Kernel) -> Page | None:
    """A page off the cache list for a reservation, or None: the first one
    a trylock would get (nobody holds it, as a walk may, and nobody waits to
    hold it exclusively), still carrying its old identity."""
    head = k.page_cachelist
    if head is None:
        return None
    pp = head
    while pp.p_selock != 0 or pp.p_state & PS_EWANTED:
        pp = pp.p_next
        if pp is head:
            return None
    # _unlink_free(k, pp) of a cache-list page, written out: once memory is
    # full every page created comes this way.
    nxt = pp.p_next
    if head is pp:
        k.page_cachelist = None if nxt is pp else nxt
    k.cachelist_count -= 1
    prv = pp.p_prev
    prv.p_next = nxt
    nxt.p_prev = prv
    pp.p_next = pp
    pp.p_prev = pp
    pp.p_state &= _NOT_P_FREE
    return pp
