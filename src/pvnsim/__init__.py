"""pvnsim: a pure-Python simulation of the illumos paged-vnode VM layer.

Build a :class:`Kernel`, create vnodes and pages, and call the ports of every
routine of illumos ``usr/src/uts/common/vm/vm_pvn.c``::

    >>> from pvnsim import Kernel, SegMap, pvn_read_kluster
    >>> k = Kernel(total_pages=1024)
    >>> vp = k.vnode("file")
    >>> kl = pvn_read_kluster(vp, 12288, SegMap(k, "seg"), 0x10000, 0, 32768, 0)
    >>> kl.off, kl.len, [p.p_offset for p in kl.pages]
    (0, 32768, [0, 4096, 8192, 12288, 16384, 20480, 24576, 28672])

The ports live in :mod:`pvnsim.vm.vm_pvn`; the model of the primitives they
call in the other modules of :mod:`pvnsim.vm`.
"""

from __future__ import annotations

from pvnsim import flags
from pvnsim.errors import (
    DeadlockError,
    InternalError,
    InvariantViolation,
    KernelAssertionError,
    KernelPanic,
    PvnsimError,
    UsageError,
)
from pvnsim.kernel import Kernel, VmStats
from pvnsim.trace import Event, Trace
from pvnsim.vm.build import make_page, populate
from pvnsim.vm.describe import KernelSnapshot, snapshot
from pvnsim.vm.hat import (
    hat_clrrefmod,
    hat_ismod,
    hat_map,
    hat_page_getattr,
    hat_page_is_mapped,
    hat_pagesync,
    hat_pageunload,
    hat_setmod,
    hat_setmod_only,
    hat_touch,
    hat_unmap,
)
from pvnsim.vm.page import Page, page_add, page_sub, page_vpadd, page_vpsub, ring
from pvnsim.vm.page_lock import (
    page_downgrade,
    page_io_lock,
    page_io_locked,
    page_io_trylock,
    page_io_unlock,
    page_io_wait,
    page_lock,
    page_trylock,
    page_tryupgrade,
    page_unlock,
)
from pvnsim.vm.seg import Seg, SegCallable, SegMap, SegVn
from pvnsim.vm.validate import check_kernel
from pvnsim.vm.vm_page import (
    page_create_va,
    page_destroy,
    page_destroy_free,
    page_exists,
    page_free,
    page_lookup,
    page_lookup_nowait,
    page_release,
)
from pvnsim.vm.vm_pvn import (
    KCRED,
    Kluster,
    PageSlots,
    pvn_getdirty,
    pvn_getpages,
    pvn_init,
    pvn_io_done,
    pvn_plist_init,
    pvn_read_done,
    pvn_read_kluster,
    pvn_vplist_dirty,
    pvn_vplist_setdirty,
    pvn_vpzero,
    pvn_write_done,
    pvn_write_kluster,
)
from pvnsim.vm.vnode import VN_DISPOSE, Vnode, VnodeOps, fs_dispose

__version__ = "0.1.0"

__all__ = [
    "KCRED",
    "VN_DISPOSE",
    "DeadlockError",
    "Event",
    "InternalError",
    "InvariantViolation",
    "Kernel",
    "KernelAssertionError",
    "KernelPanic",
    "KernelSnapshot",
    "Kluster",
    "Page",
    "PageSlots",
    "PvnsimError",
    "Seg",
    "SegCallable",
    "SegMap",
    "SegVn",
    "Trace",
    "UsageError",
    "VmStats",
    "Vnode",
    "VnodeOps",
    "__version__",
    "check_kernel",
    "flags",
    "fs_dispose",
    "hat_clrrefmod",
    "hat_ismod",
    "hat_map",
    "hat_page_getattr",
    "hat_page_is_mapped",
    "hat_pagesync",
    "hat_pageunload",
    "hat_setmod",
    "hat_setmod_only",
    "hat_touch",
    "hat_unmap",
    "make_page",
    "page_add",
    "page_create_va",
    "page_destroy",
    "page_destroy_free",
    "page_downgrade",
    "page_exists",
    "page_free",
    "page_io_lock",
    "page_io_locked",
    "page_io_trylock",
    "page_io_unlock",
    "page_io_wait",
    "page_lock",
    "page_lookup",
    "page_lookup_nowait",
    "page_release",
    "page_sub",
    "page_trylock",
    "page_tryupgrade",
    "page_unlock",
    "page_vpadd",
    "page_vpsub",
    "populate",
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
    "ring",
    "snapshot",
]
