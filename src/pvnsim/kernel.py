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

At construction the kernel sets itself up explicitly, the way illumos's
startup code does: it derives the memory thresholds, builds the kernel's
segmap segment and calls ``pvn_init``.

The kernel also holds what the hook point (:mod:`pvnsim.hooks`) needs:
``curthread``, the name of the running simulated thread (a scheduler writes
it at every switch), and ``hooks``, ``None`` unless tracing is on or a
scheduler that switches threads is installed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import attrs

import pvnsim.hooks as _hooks
from pvnsim.errors import UsageError
from pvnsim.flags import ALL_V_FLAGS, VREG, VType
from pvnsim.sched.interface import Scheduler
from pvnsim.trace import Trace
from pvnsim.vm.cint import in_range
from pvnsim.vm.page import Page
from pvnsim.vm.seg import SegMap
from pvnsim.vm.vm_pvn import pvn_init
from pvnsim.vm.vnode import Vnode, VnodeOps

if TYPE_CHECKING:
    from pvnsim.hooks import Hooks
    from pvnsim.vm.kmem import KmemCache
    from pvnsim.vm.seg import Seg

__all__ = ["Kernel", "VmStats"]


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


#: The C type of each global a Kernel is given (checked at construction).
_GLOBAL_TYPES = (
    ("lotsfree", "pgcnt_t"),
    ("desfree", "pgcnt_t"),
    ("minfree", "pgcnt_t"),
    ("throttlefree", "pgcnt_t"),
    ("pageout_reserve", "pgcnt_t"),
    ("pages_before_pager", "pgcnt_t"),
    ("pvn_nofodklust", "int"),
    ("pvn_write_noklust", "int"),
    ("write_free", "int"),
    ("pvn_vmodsort_disable", "uint_t"),
    ("hat_vmodsort", "int"),
)


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
        poison: fill every page page_create_va creates with
            :attr:`poison_pattern` (``DEADBEEF`` repeated), so a file system
            that exposes a page it never filled is caught.  In illumos (and
            here by default) a new page holds whatever its memory held.
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
    poison: bool = False

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
    #: The running simulated thread; a scheduler writes it at every switch.
    curthread: str = attrs.field(init=False, default="main")
    #: The hook point's state, or None while nobody watches calls (pvnsim.hooks).
    hooks: Hooks | None = attrs.field(init=False, default=None)
    marker_cache: KmemCache | None = attrs.field(init=False, default=None)
    segkmap: Seg | None = attrs.field(init=False, default=None)
    memory_reclaim: Callable[[Kernel, int], None] | None = attrs.field(init=False, default=None)
    rng: random.Random = attrs.field(init=False, default=None)
    #: What a page created with ``poison`` on holds: DEADBEEF, one page long.
    poison_pattern: bytes = attrs.field(init=False, default=b"")
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
        # Each global holds what its C type can (a domain check, as for every
        # argument): the page counts are pgcnt_t, the vm_pvn.c tunables int
        # (pvn_vmodsort_disable a uint_t).
        for name, ctype in _GLOBAL_TYPES:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise UsageError(f"{name} must be an int, not {type(value).__name__}")
            if not in_range(ctype, value):
                raise UsageError(f"{name}={value} does not fit a {ctype}")
        self.unused_pages = self.total_pages - self.kernel_pages
        self.freemem = self.unused_pages
        self.rng = random.Random(self.seed)
        self.poison_pattern = b"\xde\xad\xbe\xef" * (self.pagesize // 4)
        # What illumos's startup does for the part of the VM modelled here.
        self.segkmap = SegMap(self, "segkmap")
        pvn_init(self)

    # -- threads ---------------------------------------------------------

    @property
    def sched(self) -> Scheduler | None:
        """The simulated-thread scheduler, or None (single-threaded)."""
        return self._sched

    @sched.setter
    def sched(self, value: Scheduler | None) -> None:
        old = self._sched
        if old is not None and old is not value:
            old.detached(self)
        self._sched = value
        if value is not None:
            value.attached(self)
        _hooks.update(self)

    @property
    def tracing(self) -> bool:
        """Whether calls are being recorded (see :meth:`trace_on`)."""
        return self._tracing

    @tracing.setter
    def tracing(self, value: bool) -> None:
        self._tracing = bool(value)
        _hooks.update(self)

    def yield_point(self, what: str = "") -> None:
        """An explicit switch point: with a scheduler, another thread may run here.

        Users add these to their own thread functions (a file system's code
        between two pvn calls, say); without a scheduler it does nothing.
        """
        _hooks.switch_point(self, "yield", what)

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

    def snapshot(self) -> Any:
        """A comparable record of the whole simulated state (see describe.snapshot)."""
        from pvnsim.vm.describe import snapshot

        return snapshot(self)
