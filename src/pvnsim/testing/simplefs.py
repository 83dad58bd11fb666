"""A small ufs-like file system: VOP_GETPAGE and VOP_PUTPAGE over the pvn layer.

:class:`SimpleFs` drives the pvn routines the way ufs does, so the
state machine (and anyone who needs vnodes
that pvn_vpzero accepts) has realistic callers:

* ``getapage``: page_lookup; on a miss S_CREATE makes the page with
  page_create_va, anything else reads the block around the page with
  pvn_read_kluster and hands the pages over with pvn_plist_init
  (pvn_read_done(B_ERROR) when the read fails);
* ``getpage``: ``getapage`` for one page, pvn_getpages for more;
* ``putpage``: pvn_vplist_dirty for the whole file (len 0), otherwise the
  range loop of page_lookup (or page_lookup_nowait for async) and
  pvn_getdirty;
* ``putapage``: pvn_write_kluster inside the block, the write, then
  pvn_write_done with B_WRITE (and B_ERROR if it failed).

Every write kluster is checked with
:func:`~pvnsim.testing.invariants.check_write_kluster` and every read
kluster with :func:`~pvnsim.testing.invariants.check_read_kluster`.
Reads and writes fail (EIO) for the kluster offsets in ``fail_reads`` and
``fail_writes``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pvnsim.errors import UsageError
from pvnsim.flags import (
    B_ERROR,
    EIO,
    PG_EXCL,
    PG_WAIT,
    S_CREATE,
    SE_EXCL,
    SE_SHARED,
)
from pvnsim.fs.ufslike import UfsPutapage, putpage_range
from pvnsim.testing.invariants import check_read_kluster, check_write_kluster, vnode_state
from pvnsim.vm.page import Page
from pvnsim.vm.page_lock import page_io_unlock, page_unlock
from pvnsim.vm.seg import Seg
from pvnsim.vm.vm_page import page_create_va, page_lookup
from pvnsim.vm.vm_pvn import (
    Kluster,
    pvn_getpages,
    pvn_plist_init,
    pvn_read_done,
    pvn_read_kluster,
    pvn_vplist_dirty,
)
from pvnsim.vm.vnode import Vnode, VnodeOps

__all__ = ["SimpleFs"]


class SimpleFs:
    """getpage/putpage/putapage of a ufs-like file system with block size ``blksz``.

    Args:
        blksz: the block size; read and write klusters stay inside the
            block (rounded up to a page) holding the page.
        during_write: called with each write kluster between
            pvn_write_kluster and pvn_write_done (while the "I/O" is in
            flight): the place for another CPU to touch the pages.

    Attributes:
        fail_reads, fail_writes: kluster offsets whose read or write fails.
        reads, writes: number of klusters read and written.
    """

    def __init__(
        self, blksz: int = 8192, during_write: Callable[[Kluster], None] | None = None
    ) -> None:
        self.blksz = blksz
        self.during_write = during_write
        self.fail_reads: set[int] = set()
        self.fail_writes: set[int] = set()
        self.reads = 0
        self.writes = 0
        self._put = UfsPutapage(blksz, self._write, window=self._write_window)
        self._writing: tuple[Any, Page, int, int] | None = None

    def vnodeops(self) -> VnodeOps:
        """The VnodeOps to give a vnode (``k.vnode(name, ops=fs.vnodeops())``)."""
        return VnodeOps(getpage=self.getpage, putpage=self.putpage)

    def _window(self, vp: Vnode, off: int) -> tuple[int, int]:
        k = vp.kernel
        window = (max(self.blksz, k.pagesize) + k.pageoffset) & k.pagemask
        return off - off % window, window

    # -- reading ------------------------------------------------------------

    def getapage(
        self,
        vp: Vnode,
        off: int,
        length: int,
        protp: Any,
        pl: Any,
        plsz: int,
        seg: Seg | None,
        addr: int,
        rw: int,
        cred: Any,
    ) -> int:
        """VOP_GETPAGE of one page: the page at ``off`` locked into ``pl[0]``."""
        k = vp.kernel
        se = SE_EXCL if rw == S_CREATE else SE_SHARED
        while True:
            pp = page_lookup(vp, off, se)
            if pp is not None:
                self._hand_over([pp], pl)
                return 0
            if rw == S_CREATE:
                pp = page_create_va(vp, off, k.pagesize, PG_WAIT | PG_EXCL, seg, addr)
                if pp is None:
                    continue  # created meanwhile: look it up
                page_io_unlock(pp)
                self._hand_over([pp], pl)
                return 0
            if seg is None:
                raise UsageError("getapage: reading a page needs a segment")
            blkoff, window = self._window(vp, off)
            before = vnode_state(vp)
            kl = pvn_read_kluster(vp, off, seg, addr, blkoff, window, 0)
            check_read_kluster(kl, before, off=off, vp_off=blkoff, vp_len=window)
            if kl is None:
                continue  # the page exists now: look it up
            self.reads += 1
            if kl.off in self.fail_reads:
                pvn_read_done(kl.plist, B_ERROR)
                return EIO
            got: list[Page | None] = [None] * (k.btopr(max(plsz, k.pagesize)) + 1)
            pvn_plist_init(kl.plist, got, plsz, off, kl.len, rw)
            self._hand_over([p for p in got if p is not None], pl)
            return 0

    @staticmethod
    def _hand_over(pages: list[Page], pl: Any) -> None:
        if pl is None:
            for pp in pages:
                page_unlock(pp)
            return
        for i, pp in enumerate(pages):
            pl[i] = pp
        pl[len(pages)] = None

    def getpage(
        self,
        vp: Vnode,
        off: int,
        length: int,
        protp: Any,
        pl: Any,
        plsz: int,
        seg: Seg | None,
        addr: int,
        rw: int,
        cred: Any,
    ) -> int:
        """VOP_GETPAGE: one page directly, more through pvn_getpages."""
        if length <= vp.kernel.pagesize:
            return self.getapage(vp, off, length, protp, pl, plsz, seg, addr, rw, cred)
        return pvn_getpages(self.getapage, vp, off, length, protp, pl, plsz, seg, addr, rw, cred)

    # -- writing ------------------------------------------------------------

    def putapage(self, vp: Vnode, pp: Page, offp: Any, lenp: Any, flags: int, cred: Any) -> int:
        """Write the dirty pages of ``pp``'s block around it; the pvn putapage callback."""
        return self._put(vp, pp, offp, lenp, flags, cred)

    def _write_window(self, vp: Vnode, pp: Page) -> tuple[int, int]:
        # The block; the vnode's state is kept for the kluster check in _write.
        blkoff, window = self._window(vp, pp.p_offset)
        self._writing = (vnode_state(vp), pp, blkoff, window)
        return blkoff, window

    def _write(self, vp: Vnode, kl: Kluster, flags: int) -> int:
        # The "I/O": the kluster is checked, another CPU may touch its pages,
        # and the write fails for the offsets in fail_writes.
        writing = self._writing
        assert writing is not None  # _write_window ran first
        before, pp, blkoff, window = writing
        check_write_kluster(kl, before, pp=pp, vp_off=blkoff, vp_len=window)
        self.writes += 1
        if self.during_write is not None:
            self.during_write(kl)
        return EIO if kl.off in self.fail_writes else 0

    def putpage(self, vp: Vnode, off: int, length: int, flags: int, cred: Any) -> int:
        """VOP_PUTPAGE: the whole file from ``off`` (``length`` 0) or a range."""
        if vp.v_pages is None:
            return 0
        if length == 0:
            return int(pvn_vplist_dirty(vp, off, self.putapage, flags, cred))
        return putpage_range(vp, off, off + length, flags, cred, self._put)
