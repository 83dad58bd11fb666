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

import sys

from pvnsim import flags
from pvnsim.errors import (
    DeadlockError,
    InternalError,
    InterruptSleep,
    InvariantViolation,
    KernelAssertionError,
    KernelPanic,
    LivelockError,
    LostWakeupError,
    PvnsimError,
    ScheduleDivergence,
    StepLimitExceeded,
    UsageError,
)
from pvnsim.kernel import Kernel, VmStats
from pvnsim.trace import Event, Trace
from pvnsim.vm.build import make_page, populate
from pvnsim.vm.describe import KernelSnapshot, snapshot
from pvnsim.vm.page import Page
from pvnsim.vm.ports import (
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
from pvnsim.vm.seg import Seg, SegCallable, SegMap, SegVn
from pvnsim.vm.validate import check_kernel
from pvnsim.vm.vm_pvn import KCRED, Kluster, PageSlots
from pvnsim.vm.vnode import Vnode, VnodeOps

__version__ = "0.1.0"

__all__ = [
    "KCRED",
    "DeadlockError",
    "Event",
    "InternalError",
    "InterruptSleep",
    "InvariantViolation",
    "Kernel",
    "KernelAssertionError",
    "KernelPanic",
    "KernelSnapshot",
    "Kluster",
    "LivelockError",
    "LostWakeupError",
    "Page",
    "PageSlots",
    "PvnsimError",
    "ScheduleDivergence",
    "Seg",
    "SegCallable",
    "SegMap",
    "SegVn",
    "StepLimitExceeded",
    "Trace",
    "UsageError",
    "VmStats",
    "Vnode",
    "VnodeOps",
    "__version__",
    "check_kernel",
    "flags",
    "make_page",
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
    "snapshot",
]


def _register_notebook_display() -> None:
    # Rich notebook displays of the model's objects come from pvnsim.viz,
    # which sits above the model: the model does not import it.  When this
    # package is imported inside IPython, register the views with IPython's
    # HTML formatter; the views are imported only when something is shown.
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return
    shell = ipython.get_ipython()
    if shell is None:
        return
    if not hasattr(shell, "display_formatter"):
        return
    from pvnsim.viz.display import enable_notebook

    enable_notebook(shell)


_register_notebook_display()
