"""vnode_t and its VM-facing operations.

Derived from illumos usr/src/uts/common/sys/vnode.h (CDDL-1.0).  VN_DISPOSE
and the default dispose operation, fs_dispose, free or destroy pages and
live with the other page routines in :mod:`pvnsim.vm.vm_page`.

A :class:`Vnode` carries the fields the pvn layer touches (``v_pages``,
``v_flag``, ``v_type``, ``v_lock``, ``v_cv``) plus its own page-list mutex
(``page_vnode_mutex``: illumos hashes vnodes onto a table of mutexes; one
mutex per vnode only removes false sharing).  Its :class:`VnodeOps` hold the
three operations the pvn layer reaches through the vnode: ``dispose``
(VOP_DISPOSE, default :func:`fs_dispose`), ``getpage`` and ``putpage`` (used by
pvn_vpzero's segmap window).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from pvnsim.flags import (
    VISSWAP,
    VISSWAPFS,
    VMODSORT,
    VSWAPLIKE,
    VVMLOCK,
    VFlag,
    VType,
    flag_names,
)
from pvnsim.vm.mutex import KCondvar, KMutex

if TYPE_CHECKING:
    from pvnsim.kernel import Kernel
    from pvnsim.vm.page import Page

__all__ = [
    "IS_SWAPFSVP",
    "IS_SWAPVP",
    "IS_VMODSORT",
    "Vnode",
    "VnodeOps",
    "page_vnode_mutex",
]

DisposeOp = Callable[["Vnode", "Page", int, int, Any], None]


@attrs.define(slots=True)
class VnodeOps:
    """The vnode operations the pvn layer calls through a vnode.

    ``dispose(vp, pp, fl, dn, cr)`` is VOP_DISPOSE; ``getpage(vp, off, len,
    protp, pl, plsz, seg, addr, rw, cr) -> int`` is VOP_GETPAGE;
    ``putpage(vp, off, len, flags, cr) -> int`` is VOP_PUTPAGE.  Any may be
    ``None``: dispose then defaults to :func:`fs_dispose`; a missing getpage
    or putpage makes pvn_vpzero refuse the vnode.
    """

    dispose: DisposeOp | None = None
    getpage: Callable[..., int] | None = None
    putpage: Callable[..., int] | None = None


class Vnode:
    """A simulated ``vnode_t``; create one with :meth:`Kernel.vnode`."""

    __slots__ = (
        "__weakref__",
        "kernel",
        "v_cv",
        "v_data",
        "v_flag",
        "v_lock",
        "v_name",
        "v_op",
        "v_pages",
        "v_type",
        "v_vphm",
        "v_vvmlock_owner",
    )

    def __init__(
        self, kernel: Kernel, name: str, v_flag: int, v_type: VType, ops: VnodeOps | None
    ) -> None:
        self.kernel = kernel
        self.v_name = name
        self.v_flag = v_flag
        self.v_type = v_type
        self.v_pages: Page | None = None
        self.v_lock = KMutex(kernel, f"v_lock({name})")
        self.v_cv = KCondvar(kernel, f"v_cv({name})", self._vvmlock_wait, self._vvmlock_held)
        self.v_vphm = KMutex(kernel, f"vphm({name})")
        self.v_op = ops if ops is not None else VnodeOps()
        # Who set VVMLOCK, for deadlock reports ("other" when a scenario sets it).
        self.v_vvmlock_owner: str | None = "other" if v_flag & VVMLOCK else None
        # Free for file-system code built on top (the fs kit keeps its inode here).
        self.v_data: Any = None

    def _vvmlock_wait(self) -> tuple[str, str | None]:
        return f"VVMLOCK of {self.v_name}", self.v_vvmlock_owner

    def _vvmlock_held(self) -> bool:
        return bool(self.v_flag & VVMLOCK)

    def __repr__(self) -> str:
        from pvnsim.vm.describe import vnode_summary

        return f"<Vnode {vnode_summary(self)}>"

    def __str__(self) -> str:
        from pvnsim.vm.describe import vnode_text

        return vnode_text(self)

    @property
    def flag_names(self) -> str:
        """``v_flag`` spelled with C names."""
        return flag_names(self.v_flag, VFlag)


def page_vnode_mutex(vp: Vnode) -> KMutex:
    """The mutex that protects ``vp->v_pages`` and its pages' p_vpnext/p_vpprev."""
    return vp.v_vphm


def IS_SWAPVP(vp: Vnode) -> bool:
    """vnode.h IS_SWAPVP: a swap vnode or one that behaves like one."""
    return vp.v_flag & (VISSWAP | VSWAPLIKE) != 0


def IS_SWAPFSVP(vp: Vnode) -> bool:
    """vnode.h IS_SWAPFSVP: an anonymous-memory (swapfs) vnode."""
    return vp.v_flag & VISSWAPFS != 0


def IS_VMODSORT(vp: Vnode) -> bool:
    """vnode.h IS_VMODSORT: the HAT keeps this vnode's modified pages at the tail."""
    return vp.v_flag & VMODSORT != 0 and bool(vp.kernel.pvn_vmodsort_supported)
