"""Frozen pictures of the model that every view renders from.

Theory of operation
-------------------
The views never render a live object directly: they first *capture* it into
the frozen records below (``capture_kernel``, ``capture_vnode``,
``capture_page``, ``capture_kluster``), then render the records.  That keeps
each view a pure function of data, lets a recording (:mod:`pvnsim.viz.record`)
store the state of a run as a list of these records and draw any of them
later, and makes a capture the only place that reads the model.

A capture only reads: it takes no lock, calls no traced primitive and leaves
the kernel exactly as it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from pvnsim.flags import P_FREE, P_MOD, P_REF, P_RO, PAGE_IO_INUSE, VVMLOCK, VFlag, flag_names
from pvnsim.vm.describe import lock_text
from pvnsim.vm.page import PVN_VPLIST_HASH_TAG, Page

if TYPE_CHECKING:
    from pvnsim.kernel import Kernel
    from pvnsim.trace import Event
    from pvnsim.vm.vm_pvn import Kluster
    from pvnsim.vm.vnode import Vnode

__all__ = [
    "EventView",
    "KernelView",
    "KlusterView",
    "PageView",
    "VnodeView",
    "capture_event",
    "capture_kernel",
    "capture_kluster",
    "capture_page",
    "capture_vnode",
]

_U64 = 1 << 64

#: The walk markers of pvn_vplist_dirty by their p_offset (-1 walks, -2 stays at the end).
MARKER_ROLES = {_U64 - 1: "mark", _U64 - 2: "end"}


@attrs.frozen
class PageView:
    """One page as a view shows it.

    Attributes:
        name: the page as the trace writes it (``f@4096``, ``MARK(-1)``).
        offset: ``p_offset``, or ``None`` for a marker or a page without identity.
        marker: a pvn_vplist_dirty marker page.
        role: ``"mark"`` (the walking marker), ``"end"`` or ``""``.
        lock: the page lock: ``"-"``, ``"S1"``, ``"S2"``, ``"X"``, ``"X@other"``...
        io: the i/o lock is held; ``io_owner`` says by whom.
        free: on the free or the cache list; ``cached`` when it also has an identity.
        ref, mod, ro: the software attribute bits (``p_nrm``).
        maps: one entry per translation: hardware bits ``"r"``, ``"m"``,
            ``"rm"`` or ``"-"``, then ``"w"`` when writable.
        lckcnt, cowcnt: the logical lock counts.
        p_id: the physical page's serial number (negative for markers).
    """

    name: str
    offset: int | None
    marker: bool = False
    role: str = ""
    lock: str = "-"
    io: bool = False
    io_owner: str | None = None
    free: bool = False
    cached: bool = False
    ref: bool = False
    mod: bool = False
    ro: bool = False
    maps: tuple[str, ...] = ()
    lckcnt: int = 0
    cowcnt: int = 0
    p_id: int = 0

    @property
    def state(self) -> str:
        """One word for the page's contents: marker, cached, free, dirty, referenced or clean."""
        if self.marker:
            return "marker"
        if self.cached:
            return "cached"
        if self.free:
            return "free"
        if self.mod or any("m" in m.split("/")[0] for m in self.maps):
            return "dirty"
        if self.ref or any("r" in m.split("/")[0] for m in self.maps):
            return "referenced"
        return "clean"


@attrs.frozen
class VnodeView:
    """A vnode and its ``v_pages`` ring, head first.

    Attributes:
        name, flags: ``v_name`` and ``v_flag`` spelled with C names.
        vvmlock: a pvn_vplist_dirty walk holds the vnode (VVMLOCK).
        pages: the ring from ``v_pages`` on, markers included; when the ring
            is longer than the capture's limit, only the first pages.
        total: the length of the whole ring (markers included).
        resident: pages in the page hash (markers excluded).
    """

    name: str
    flags: str
    vvmlock: bool
    pages: tuple[PageView, ...]
    total: int
    resident: int

    @property
    def walking(self) -> bool:
        """A marker is on the ring: a pvn_vplist_dirty walk is in progress."""
        return any(p.marker for p in self.pages)


@attrs.frozen
class KlusterView:
    """A kluster: the pages of its p_next ring and the range it covers."""

    off: int
    len: int
    pages: tuple[PageView, ...]
    vnode: VnodeView | None

    @property
    def names(self) -> frozenset[str]:
        """Names of the pages in the kluster."""
        return frozenset(p.name for p in self.pages)


@attrs.frozen
class EventView:
    """A trace event as it stood when captured (events are filled in as calls return)."""

    seq: int
    kind: str
    name: str
    args: tuple[str, ...]
    result: str | None
    line: int | None
    thread: str
    done: bool
    #: How deeply the call is nested in another traced call (0: called directly).
    depth: int = 0
    #: Why the call came back empty-handed, when the trace knows.
    why: str | None = None

    def format(self) -> str:
        """``name(args) = result (why)``, as :meth:`pvnsim.trace.Event.explain`."""
        text = f"{self.name}({', '.join(self.args)})"
        if self.result is not None:
            text += f" = {self.result}"
        return text if self.why is None else f"{text} ({self.why})"


@attrs.frozen
class KernelView:
    """The VM globals a view shows, and the vnodes captured with them."""

    pagesize: int
    total_pages: int
    kernel_pages: int
    freemem: int
    freelist: int
    cachelist: int
    minfree: int
    desfree: int
    lotsfree: int
    throttlefree: int
    pageout_reserve: int
    pages_before_pager: int
    write_free: int
    stats: tuple[tuple[str, int], ...]
    vnodes: tuple[VnodeView, ...]
    thread: str
    hidden_vnodes: int = 0

    @property
    def write_free_at(self) -> int:
        """pvn_write_done frees every written page while freemem is below this."""
        return self.lotsfree + self.pages_before_pager

    @property
    def zone(self) -> str:
        """Where freemem stands: ``"minfree"``, ``"desfree"``, ``"lotsfree"`` or ``"plenty"``."""
        if self.freemem < self.minfree:
            return "minfree"
        if self.freemem < self.desfree:
            return "desfree"
        if self.freemem < self.lotsfree:
            return "lotsfree"
        return "plenty"

    def vnode(self, name: str) -> VnodeView | None:
        """The captured vnode called ``name``, if it was captured."""
        for vv in self.vnodes:
            if vv.name == name:
                return vv
        return None


def _map_text(hw: int, writable: bool) -> str:
    bits = ("r" if hw & P_REF else "") + ("m" if hw & P_MOD else "")
    return (bits or "-") + ("/w" if writable else "")


def capture_page(pp: Page) -> PageView:
    """Capture one page (reads only)."""
    if pp.p_hash is PVN_VPLIST_HASH_TAG:
        return PageView(
            name=pp.name,
            offset=None,
            marker=True,
            role=MARKER_ROLES.get(pp.p_offset, ""),
            p_id=pp.p_id,
        )
    nrm = pp.p_nrm
    free = bool(pp.p_state & P_FREE)
    mappings = pp.p_mapping
    return PageView(
        name=pp.name,
        offset=pp.p_offset if pp.p_vnode is not None else None,
        lock=lock_text(pp),
        io=bool(pp.p_iolock_state & PAGE_IO_INUSE),
        io_owner=pp.p_ioowner,
        free=free,
        cached=free and pp.p_vnode is not None,
        ref=bool(nrm & P_REF),
        mod=bool(nrm & P_MOD),
        ro=bool(nrm & P_RO),
        maps=tuple(_map_text(m.hw, m.writable) for m in mappings) if mappings else (),
        lckcnt=pp.p_lckcnt,
        cowcnt=pp.p_cowcnt,
        p_id=pp.p_id,
    )


def _ring(head: Page | None, limit: int, *, vp_list: bool) -> tuple[list[Page], int]:
    """Up to ``limit`` pages of a ring from ``head``, and the ring's length."""
    out: list[Page] = []
    if head is None:
        return out, 0
    pp = head
    n = 0
    while True:
        if n < limit:
            out.append(pp)
        n += 1
        pp = pp.p_vpnext if vp_list else pp.p_next
        if pp is head or n > 50_000_000:
            return out, n


def capture_vnode(vp: Vnode, limit: int = 100_000) -> VnodeView:
    """Capture a vnode and (up to ``limit`` pages of) its page ring."""
    pages, total = _ring(vp.v_pages, limit, vp_list=True)
    return VnodeView(
        name=vp.v_name,
        flags=flag_names(vp.v_flag, VFlag),
        vvmlock=bool(vp.v_flag & VVMLOCK),
        pages=tuple(capture_page(pp) for pp in pages),
        total=total,
        resident=len(vp.kernel.page_hash.get(vp, {})),
    )


def capture_kluster(kl: Kluster, with_vnode: bool = True) -> KlusterView:
    """Capture a kluster's pages and, if asked, the ring of their vnode."""
    pages, _ = _ring(kl.plist, 100_000, vp_list=False)
    vp = kl.plist.p_vnode
    return KlusterView(
        off=kl.off,
        len=kl.len,
        pages=tuple(capture_page(pp) for pp in pages),
        vnode=capture_vnode(vp) if with_vnode and vp is not None else None,
    )


def capture_kernel(
    k: Kernel,
    vnodes: list[Vnode] | tuple[Vnode, ...] | None = None,
    limit: int = 100_000,
    max_vnodes: int = 64,
) -> KernelView:
    """Capture the VM globals and the vnodes (all of them, or those given).

    Args:
        vnodes: the vnodes to include; ``None`` means every vnode of ``k``
            (the first ``max_vnodes`` of them).
        limit: at most this many pages of each ring are captured.
        max_vnodes: when ``vnodes`` is ``None``, how many vnodes to capture.
    """
    chosen = list(k.vnodes[:max_vnodes]) if vnodes is None else list(vnodes)
    hidden = len(k.vnodes) - len(chosen) if vnodes is None else 0
    return KernelView(
        pagesize=k.pagesize,
        total_pages=k.total_pages,
        kernel_pages=k.kernel_pages,
        freemem=k.freemem,
        freelist=k.freelist_count + k.unused_pages,
        cachelist=k.cachelist_count,
        minfree=int(k.minfree or 0),
        desfree=int(k.desfree or 0),
        lotsfree=int(k.lotsfree or 0),
        throttlefree=int(k.throttlefree or 0),
        pageout_reserve=int(k.pageout_reserve or 0),
        pages_before_pager=k.pages_before_pager,
        write_free=k.write_free,
        stats=tuple(k.vm.as_dict().items()),
        vnodes=tuple(capture_vnode(vp, limit) for vp in chosen),
        thread=k.curthread,
        hidden_vnodes=hidden,
    )


def capture_event(e: Event) -> EventView:
    """Freeze a trace event as it stands now."""
    # Traces that record nesting give each event a depth; older ones do not.
    depth = getattr(e, "depth", 0)
    return EventView(
        e.seq,
        e.kind,
        e.name,
        tuple(e.args),
        e.result,
        e.line,
        e.thread,
        e.done,
        int(depth or 0),
        getattr(e, "why", None),
    )
