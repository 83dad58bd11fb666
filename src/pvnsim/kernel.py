"""The Kernel: everything that is global in the illumos C code.

Theory of operation
-------------------
A :class:`Kernel` owns the memory counters (freemem, minfree, desfree,
lotsfree, throttlefree, pageout_reserve), the vm_pvn.c tunables, the page
hash, the free list and the cache list, the vm statistics, the trace and the
marker kmem cache.  Several kernels can live in one process; nothing is
shared between them.

Physical pages are built lazily: a kernel of a million pages starts with an
empty free list and a count of never-used pages, which the allocator turns
into :class:`~pvnsim.vm.page.Page` objects on demand.  The free list and the
cache list are p_next/p_prev rings, as in illumos.

freemem is kept exactly (illumos keeps it approximately in per-CPU counters):
``freemem == never-used + len(free list) + len(cache list)``.

At construction the kernel runs every routine registered with
:func:`register_boot_routine` (the ports register ``pvn_init``), the way
illumos calls its init routines at startup.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import attrs

from pvnsim.errors import DeadlockError, UsageError, Wait
from pvnsim.flags import ALL_V_FLAGS, P_FREE, VREG, VType
from pvnsim.sched.interface import Scheduler
from pvnsim.trace import Trace
from pvnsim.vm.page import Page, _page_add, _page_sub

if TYPE_CHECKING:
    from pvnsim.vm.kmem import KmemCache
    from pvnsim.vm.seg import Seg
    from pvnsim.vm.vnode import Vnode, VnodeOps

__all__ = ["Kernel", "Scheduler", "VmStats", "register_boot_routine"]

_BOOT_ROUTINES: list[Callable[[Kernel], None]] = []


def register_boot_routine(routine: Callable[[Kernel], None]) -> None:
    """Have every kernel built from now on run ``routine(kernel)`` at boot."""
    if routine not in _BOOT_ROUTINES:
        _BOOT_ROUTINES.append(routine)


@attrs.define(slots=True)
class VmStats:
    """The ``cpu_vminfo`` counters the VM code adds to (sys/sysinfo.h)."""

    dfree: int = 0
    pgrec: int = 0
    pgfrec: int = 0
    pgout: int = 0
    pgpgout: int = 0
    anonpgout: int = 0
    anonfree: int = 0
    fspgout: int = 0
    fsfree: int = 0
    execpgout: int = 0
    execfree: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters by name."""
        return attrs.asdict(self)


def _pageshift(pagesize: int) -> int:
    if pagesize < 512 or pagesize & (pagesize - 1):
        raise UsageError(f"pagesize must be a power of two of at least 512, not {pagesize}")
    return pagesize.bit_length() - 1


@attrs.define(slots=True, eq=False, repr=False)
class Kernel:
    """A simulated illumos kernel's VM globals.

    Args:
        total_pages: physical memory in pages (``physmem``).
        pagesize: PAGESIZE, any power of two >= 512 (x86: 4096, sparc: 8192).
        kernel_pages: pages in use by the rest of the kernel; never free.
        lotsfree, desfree, minfree, throttlefree, pageout_reserve: memory
            thresholds in pages; ``None`` derives the illumos defaults
            (lotsfree = max(total/64, 512 KiB), desfree = lotsfree/2,
            minfree = desfree/2, throttlefree = minfree,
            pageout_reserve = throttlefree/2).
        pvn_nofodklust, pvn_write_noklust, pvn_vmodsort_disable, write_free,
            pages_before_pager: the vm_pvn.c tunables (C defaults).
        hat_vmodsort: what ``hat_supported(HAT_VMODSORT)`` answers (x86: 1).
        debug: behave like a DEBUG kernel (runs the C's ``#ifdef DEBUG``
            self-checks).
        seed: seed of the kernel's random generator.
    """

    total_pages: int = 4096
    pagesize: int = 4096
    kernel_pages: int = 0
    lotsfree: int | None = None
    desfree: int | None = None
    minfree: int | None = None
    throttlefree: int | None = None
    pageout_reserve: int | None = None
    pvn_nofodklust: int = 0
    pvn_write_noklust: int = 0
    pvn_vmodsort_disable: int = 0
    write_free: int = 1
    pages_before_pager: int = 200
    hat_vmodsort: int = 1
    debug: bool = False
    seed: int = 0

    pageshift: int = attrs.field(init=False, default=0)
    pageoffset: int = attrs.field(init=False, default=0)
    pagemask: int = attrs.field(init=False, default=0)
    freemem: int = attrs.field(init=False, default=0)
    needfree: int = attrs.field(init=False, default=0)
    po_share: int = attrs.field(init=False, default=8)
    pvn_vmodsort_supported: int = attrs.field(init=False, default=0)
    page_hash: dict[Vnode, dict[int, Page]] = attrs.field(init=False, factory=dict)
    page_freelist: Page | None = attrs.field(init=False, default=None)
    page_cachelist: Page | None = attrs.field(init=False, default=None)
    freelist_count: int = attrs.field(init=False, default=0)
    cachelist_count: int = attrs.field(init=False, default=0)
    unused_pages: int = attrs.field(init=False, default=0)
    pages: list[Page] = attrs.field(init=False, factory=list)
    vnodes: list[Vnode] = attrs.field(init=False, factory=list)
    vm: VmStats = attrs.field(init=False, factory=VmStats)
    trace: Trace = attrs.field(init=False, factory=Trace)
    _tracing: bool = attrs.field(init=False, default=False)
    _sched: Scheduler | None = attrs.field(init=False, default=None)
    #: True while tracing is on or a scheduler that wants switch points is
    #: installed: every primitive tests this one flag and, when it is False,
    #: goes straight to its body.
    hooked: bool = attrs.field(init=False, default=False)
    marker_cache: KmemCache | None = attrs.field(init=False, default=None)
    segkmap: Seg | None = attrs.field(init=False, default=None)
    memory_reclaim: Callable[[Kernel, int], None] | None = attrs.field(init=False, default=None)
    rng: random.Random = attrs.field(init=False, default=None)
    kzero_fail: bool = attrs.field(init=False, default=False)
    _names: dict[str, Vnode] = attrs.field(init=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        self.pageshift = _pageshift(self.pagesize)
        self.pageoffset = self.pagesize - 1
        self.pagemask = ~self.pageoffset
        if self.total_pages < 1:
            raise UsageError(f"total_pages must be positive, not {self.total_pages}")
        if not 0 <= self.kernel_pages < self.total_pages:
            raise UsageError(f"kernel_pages must be in [0, total_pages), not {self.kernel_pages}")
        if self.lotsfree is None:
            self.lotsfree = max(self.total_pages // 64, (512 * 1024) >> self.pageshift)
        if self.desfree is None:
            self.desfree = self.lotsfree // 2
        if self.minfree is None:
            self.minfree = self.desfree // 2
        if self.throttlefree is None:
            self.throttlefree = self.minfree
        if self.pageout_reserve is None:
            self.pageout_reserve = self.throttlefree // 2
        for name in ("lotsfree", "desfree", "minfree", "throttlefree", "pageout_reserve"):
            if getattr(self, name) < 0:
                raise UsageError(f"{name} must not be negative")
        self.unused_pages = self.total_pages - self.kernel_pages
        self.freemem = self.unused_pages
        self.rng = random.Random(self.seed)
        from pvnsim.vm.seg import SegMap

        self.segkmap = SegMap(self, "segkmap")
        for routine in _BOOT_ROUTINES:
            routine(self)

    # -- threads ---------------------------------------------------------

    @property
    def sched(self) -> Scheduler | None:
        """The simulated-thread scheduler, or None (single-threaded)."""
        return self._sched

    @sched.setter
    def sched(self, value: Scheduler | None) -> None:
        self._sched = value
        self._rehook()

    @property
    def tracing(self) -> bool:
        """Whether calls are being recorded (see :meth:`trace_on`)."""
        return self._tracing

    @tracing.setter
    def tracing(self, value: bool) -> None:
        self._tracing = bool(value)
        self._rehook()

    def _rehook(self) -> None:
        sched = self._sched
        switches = sched is not None and getattr(sched, "switches", True)
        if sched is not None and not switches and sched.current() != "main":
            # Unhooked primitives name the running thread "main" without asking.
            raise UsageError("a scheduler that never switches must name its one thread 'main'")
        self.hooked = self._tracing or switches

    @property
    def curthread(self) -> str:
        """The name of the running simulated thread (``"main"`` without a scheduler)."""
        sched = self.sched
        return "main" if sched is None else sched.current()

    def block(self, what: str, holder: str | None, ready: Callable[[], bool]) -> None:
        """Sleep until ``ready()``; without a scheduler that is a deadlock."""
        sched = self._sched  # the field behind the sched property
        if sched is None:
            raise DeadlockError([Wait(self.curthread, what, holder)])
        sched.block(what, holder, ready)

    def yield_point(self, what: str = "") -> None:
        """An explicit switch point: with a scheduler, another thread may run here.

        Users add these to their own thread functions (a file system's code
        between two pvn calls, say); without a scheduler it does nothing.
        """
        if self.sched is not None:
            self.sched.switch_point("yield", what)

    # -- tracing ---------------------------------------------------------

    def trace_on(self) -> Trace:
        """Start recording calls; returns the trace."""
        self.tracing = True
        return self.trace

    def trace_off(self) -> None:
        """Stop recording calls (the recorded events stay)."""
        self.tracing = False

    # -- arithmetic of param.h --------------------------------------------

    def btop(self, x: int) -> int:
        """Bytes to pages, rounding down."""
        return x >> self.pageshift

    def btopr(self, x: int) -> int:
        """Bytes to pages, rounding up."""
        return (x + self.pageoffset) >> self.pageshift

    def ptob(self, x: int) -> int:
        """Pages to bytes."""
        return x << self.pageshift

    # -- vnodes ------------------------------------------------------------

    def vnode(
        self,
        name: str | None = None,
        *,
        v_flag: int = 0,
        v_type: VType | int = VREG,
        ops: VnodeOps | None = None,
    ) -> Vnode:
        """Create a vnode of this kernel (names must be unique)."""
        from pvnsim.vm.vnode import Vnode

        if name is None:
            name = f"v{len(self.vnodes) + 1}"
        if name in self._names:
            raise UsageError(f"a vnode named {name!r} already exists in this kernel")
        if int(v_flag) & ~ALL_V_FLAGS:
            raise UsageError(f"unknown v_flag bits {int(v_flag) & ~ALL_V_FLAGS:#x}")
        vp = Vnode(self, name, int(v_flag), VType(v_type), ops)
        self.vnodes.append(vp)
        self._names[name] = vp
        self.page_hash[vp] = {}
        return vp

    def vnode_named(self, name: str) -> Vnode:
        """The vnode called ``name``."""
        try:
            return self._names[name]
        except KeyError:
            raise UsageError(f"no vnode named {name!r}") from None

    # -- physical pages ------------------------------------------------------

    def _new_page(self) -> Page:
        pp = Page(self, len(self.pages))
        self.pages.append(pp)
        return pp

    def take_free_page(self) -> Page | None:
        """Take a page off the free list (building one if never used), or None."""
        pp = self.page_freelist
        if pp is not None:
            self.page_freelist = _page_sub(pp, pp)
            self.freelist_count -= 1
        elif self.unused_pages > 0:
            self.unused_pages -= 1
            pp = self._new_page()
        else:
            return None
        pp.p_state &= ~P_FREE
        return pp

    def put_free_page(self, pp: Page) -> None:
        """Put an identity-less page at the tail of the free list (no freemem change)."""
        pp.p_state |= P_FREE
        head = self.page_freelist
        if head is None:
            self.page_freelist = _page_add(None, pp)
        else:
            _page_add(head, pp)
        self.freelist_count += 1

    def cachelist_add(self, pp: Page, at_head: bool) -> None:
        """Put a page with identity on the cache list (head or tail)."""
        head = self.page_cachelist
        if head is None:
            self.page_cachelist = _page_add(None, pp)
        else:
            _page_add(head, pp)
            if at_head:
                self.page_cachelist = pp
        self.cachelist_count += 1

    def cachelist_sub(self, pp: Page) -> None:
        """Take a page off the cache list."""
        self.page_cachelist = _page_sub(self.page_cachelist, pp)
        self.cachelist_count -= 1

    def iter_pages(self) -> Iterator[Page]:
        """Every physical page built so far."""
        return iter(self.pages)

    def __repr__(self) -> str:
        return (
            f"<Kernel pagesize={self.pagesize} total={self.total_pages} "
            f"freemem={self.freemem} minfree={self.minfree} lotsfree={self.lotsfree} "
            f"vnodes={len(self.vnodes)}>"
        )

    def __str__(self) -> str:
        from pvnsim.vm.describe import kernel_text

        return kernel_text(self)

    def _repr_html_(self) -> str:
        # The notebook view lives above the model (pvnsim.viz); import it lazily.
        from pvnsim.viz.display import View

        return View(self).html()

    def snapshot(self) -> Any:
        """A comparable record of the whole simulated state (see describe.snapshot)."""
        from pvnsim.vm.describe import snapshot

        return snapshot(self)
