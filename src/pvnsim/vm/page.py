"""page_t and the intrusive list operations of vm_page.c.

Derived from illumos usr/src/uts/common/vm/page.h and vm_page.c (CDDL-1.0):
the page structure, ``page_add``/``page_sub`` (the p_next/p_prev family) and
``page_vpadd``/``page_vpsub`` (the p_vpnext/p_vpprev family), and the page
hash.

Both list families are circular and doubly linked.  C passes the address of
the list head (``&plist``, ``&vp->v_pages``, or ``&x->p_vpnext``); Python has
no addresses, so:

* ``page_add(head, pp)`` / ``page_sub(head, pp)`` take the current head and
  **return the new head** (the C's ``page_t **`` is always a local variable
  in vm_pvn.c);
* ``page_vpadd(link, pp)`` / ``page_vpsub(link, pp)`` take ``link`` = a
  :class:`~pvnsim.vm.vnode.Vnode` (meaning ``&vp->v_pages``) or a
  :class:`Page` ``x`` (meaning ``&x->p_vpnext``) and update it in place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pvnsim.errors import KernelPanic
from pvnsim.flags import P_FREE, PAGE_IO_INUSE
from pvnsim.vm import _trace

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
    "page_sub",
    "page_vpadd",
    "page_vpsub",
]

# u_offset_t -1: the offset of a page without identity (and of the walk marker).
NOOFFSET = (1 << 64) - 1


# The value vm/pvn.h stores in p_hash of marker pages (defined beside
# page_name, which must recognise markers without importing this module).
PVN_VPLIST_HASH_TAG: Any = _trace.PVN_VPLIST_HASH_TAG


class Page:
    """A simulated ``page_t``.

    Field names are the C's.  Fields of our own: ``kernel`` (the owning
    kernel), ``p_sowner`` (who holds the page lock: a thread name, or a list of
    names for several readers), ``p_ioowner`` (who holds the i/o lock),
    ``p_mapping`` (the HAT translations, or ``None``), ``p_data`` (page
    contents, allocated on first use) and ``p_id`` (a serial number).

    ``p_selock`` is 0 when unlocked, the number of readers when shared, and
    -1 when exclusive.
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
    def name(self) -> str:
        """The page as the trace writes it: ``v1@4096``, ``MARK(-1)``, ..."""
        return _trace.page_name(self)

    def __repr__(self) -> str:
        from pvnsim.vm.describe import page_summary

        return f"<Page {page_summary(self)}>"

    def __str__(self) -> str:
        return self.name

    def _repr_html_(self) -> str:
        # The notebook view lives above the model (pvnsim.viz); import it lazily.
        from pvnsim.viz.display import View

        return View(self).html()


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
# p_next/p_prev family.


def _page_add(head: Page | None, pp: Page) -> Page:
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


def _page_sub(head: Page | None, pp: Page | None) -> Page | None:
    if head is None or pp is None:
        raise KernelPanic(f"page_sub: bad arg(s): pp {pp!r}, *ppp {head!r}")
    nxt = pp.p_next
    if head is pp:
        head = None if nxt is pp else nxt
    prv = pp.p_prev
    prv.p_next = nxt
    nxt.p_prev = prv
    pp.p_next = pp
    pp.p_prev = pp
    return head


def page_add(head: Page | None, pp: Page) -> Page:
    """Insert ``pp`` before ``head`` on a p_next ring; return the new head (``pp``).

    ``page_add(&l, pp)`` prepends; followed by ``l = l->p_next`` it appends.
    """
    k = pp.kernel
    if k.hooked and k.tracing:
        return _trace.traced(k, "page_add", "pp>p", _page_add, head, pp)
    return _page_add(head, pp)


def page_sub(head: Page | None, pp: Page) -> Page | None:
    """Unlink ``pp`` from the p_next ring headed by ``head``; return the new head."""
    k = pp.kernel
    if k.hooked and k.tracing:
        return _trace.traced(k, "page_sub", "pp>p", _page_sub, head, pp)
    return _page_sub(head, pp)


# ---------------------------------------------------------------------------
# p_vpnext/p_vpprev family.  ``link`` is a Vnode (its v_pages) or a Page
# (its p_vpnext field).


def _page_vpadd(link: Vnode | Page, pp: Page) -> None:
    if type(link) is Page:
        old = link.p_vpnext
        # Insert pp before old, then store pp into link's next field.
        prv = old.p_vpprev
        pp.p_vpnext = old
        pp.p_vpprev = prv
        prv.p_vpnext = pp
        old.p_vpprev = pp
        link.p_vpnext = pp
        return
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


def _page_vpsub(link: Vnode | Page, pp: Page | None) -> None:
    is_page = type(link) is Page
    if is_page:
        head: Page | None = link.p_vpnext  # type: ignore[union-attr]
    else:
        head = link.v_pages  # type: ignore[union-attr]
    if head is None or pp is None:
        raise KernelPanic(f"page_vpsub: bad arg(s): pp {pp!r}, *ppp {head!r}")
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


def page_vpadd(link: Vnode | Page, pp: Page) -> None:
    """Insert ``pp`` into a vnode page list.

    ``link`` a Vnode: ``pp`` becomes the new head of ``v_pages``.  ``link`` a
    Page ``x``: ``pp`` is inserted right after ``x``
    (``page_vpadd(&x->p_vpnext, pp)``).
    """
    k = pp.kernel
    if k.hooked and k.tracing:
        _trace.traced(k, "page_vpadd", "lp", _page_vpadd, link, pp)
        return
    _page_vpadd(link, pp)


def page_vpsub(link: Vnode | Page, pp: Page) -> None:
    """Remove ``pp`` from a vnode page list (see :func:`page_vpadd` for ``link``)."""
    k = pp.kernel
    if k.hooked and k.tracing:
        _trace.traced(k, "page_vpsub", "lp", _page_vpsub, link, pp)
        return
    _page_vpsub(link, pp)


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
