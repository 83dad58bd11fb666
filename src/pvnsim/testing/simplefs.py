"""SimpleFs: the kit's file system (:class:`~pvnsim.fs.RefFs`) as a preset for
tests of raw vnodes: no disk, no file sizes, every kluster checked.

Theory of operation
-------------------
The state machine (and anyone who needs vnodes that pvn_vpzero accepts, with
pages placed by hand at any offset) wants realistic callers of the pvn
routines without a disk, file sizes or time.  :class:`SimpleFs` is RefFs
with:

* **raw vnodes**: a vnode it did not create (``k.vnode(name,
  ops=fs.vnodeops())``) is adopted as an unbounded file whose every block is
  allocated at its own offset, so a getpage miss always reads the block's
  kluster (``pvn_read_kluster`` over the block, ``pvn_plist_init``, or
  ``pvn_read_done(B_ERROR)`` when the read fails) and putapage writes the
  block's dirty pages (``pvn_write_kluster`` over the block, then
  ``pvn_write_done``);
* **no disk**: every read and write completes at once, in the caller, and
  moves no data (pages keep what they hold); the klusters whose offsets are
  in ``fail_reads`` / ``fail_writes`` fail with EIO;
* one-block windows, no read-ahead, write-behind or free-behind;
* every read kluster checked with
  :func:`~pvnsim.testing.invariants.check_read_kluster` and every write
  kluster with :func:`~pvnsim.testing.invariants.check_write_kluster`, and
  a ``during_write`` hook between pvn_write_kluster and pvn_write_done.

Everything else (VOP_GETPAGE, the range and whole-file VOP_PUTPAGE, the
putapage) is RefFs's own code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pvnsim.flags import EIO
from pvnsim.fs.disk import Disk
from pvnsim.fs.fs import RefFs
from pvnsim.fs.inode import BlockMap, Inode
from pvnsim.kernel import Kernel
from pvnsim.sched.clock import Clock
from pvnsim.testing.invariants import (
    VnodeState,
    check_read_kluster,
    check_write_kluster,
    vnode_state,
)
from pvnsim.vm.page import Page
from pvnsim.vm.seg import Seg
from pvnsim.vm.vm_pvn import Kluster
from pvnsim.vm.vnode import Vnode, VnodeOps

__all__ = ["SimpleFs"]

#: The size of a raw vnode: as good as unbounded (the pages tests place).
_RAW_SIZE = 1 << 52


class SimpleFs(RefFs):
    """RefFs for raw vnodes, without a disk, checking every kluster.

    Args:
        kernel: the kernel of the vnodes.
        blksz: the block size (a power of two from PAGESIZE to 1 MiB): read
            and write klusters stay inside the block holding the page.
        during_write: called with each write kluster between
            pvn_write_kluster and pvn_write_done (while the "I/O" is in
            flight): the place for another CPU to touch the pages.

    Attributes:
        fail_reads, fail_writes: kluster offsets whose read or write fails.
        reads, writes: number of klusters read and written.

    Raises:
        UsageError: a bad block size.
    """

    def __init__(
        self,
        kernel: Kernel,
        blksz: int = 8192,
        during_write: Callable[[Kluster], None] | None = None,
    ) -> None:
        # The disk is never asked for I/O (see _read_io and kluster_write);
        # it keeps the scheduler's time, as RefFs wants.
        clock = getattr(kernel.sched, "clock", None)
        super().__init__(
            kernel,
            Disk(clock if isinstance(clock, Clock) else Clock()),
            bsize=blksz,
            readahead=0,
            write_behind=False,
            freebehind=False,
            maxcontig=1,
        )
        self.during_write = during_write
        self.fail_reads: set[int] = set()
        self.fail_writes: set[int] = set()
        self.reads = 0
        self.writes = 0
        # What the kluster checks compare with: the vnode before the call.
        self._reading: tuple[VnodeState, int] | None = None
        self._writing: tuple[VnodeState, Page, int, int] | None = None

    @property
    def blksz(self) -> int:
        """The block size."""
        return self.bsize

    def vnodeops(self) -> VnodeOps:
        """The VnodeOps to give a vnode (``k.vnode(name, ops=fs.vnodeops())``)."""
        return self._ops

    def getapage(self, *args: Any) -> int:
        """VOP_GETPAGE (of one page, as pvn_getpages calls it): :meth:`ufs_getpage`."""
        return self.ufs_getpage(*args)

    def inode_of(self, vp: Vnode) -> Inode:
        """The inode of ``vp``; a raw vnode is adopted as an unbounded file
        whose every block is allocated at its own offset."""
        ino = vp.v_data
        if isinstance(ino, Inode):
            return ino
        bmap = BlockMap(self.bsize)
        bmap.add_extent(0, 0, _RAW_SIZE // self.bsize)
        ino = Inode(vp.v_name, vp, size=_RAW_SIZE, bmap=bmap)
        vp.v_data = ino
        return ino

    # -- reads ------------------------------------------------------------------

    def getpage_miss(
        self,
        ino: Inode,
        off: int,
        seg: Seg,
        addr: int,
        pl: Any,
        i: int,
        plsz: int,
        rw: int,
        se: int,
        *,
        sequential: bool = False,
    ) -> int:
        """RefFs's miss, with the read kluster checked."""
        before = vnode_state(ino.vp)
        self._reading = (before, off)
        n = super().getpage_miss(ino, off, seg, addr, pl, i, plsz, rw, se, sequential=sequential)
        if n == 0:  # pvn_read_kluster found the page there: check that too
            blkoff = off - off % self.bsize
            check_read_kluster(None, before, off=off, vp_off=blkoff, vp_len=self.bsize)
        return n

    def _read_io(self, ino: Inode, kl: Kluster, daddr: int, *, is_async: bool) -> int:
        # The "read": checked, counted, done at once, failing for fail_reads.
        reading = self._reading
        assert reading is not None  # getpage_miss ran first
        before, off = reading
        blkoff = off - off % self.bsize
        check_read_kluster(kl, before, off=off, vp_off=blkoff, vp_len=self.bsize)
        self.reads += 1
        return EIO if kl.off in self.fail_reads else 0

    # -- writes -----------------------------------------------------------------

    def putapage_window(self, vp: Vnode, pp: Page) -> tuple[int, int]:
        """RefFs's window (the block); the vnode is kept for the kluster check."""
        vp_off, vp_len = super().putapage_window(vp, pp)
        self._writing = (vnode_state(vp), pp, vp_off, vp_len)
        return vp_off, vp_len

    def kluster_write(self, vp: Vnode, kl: Kluster, flags: int) -> int | None:
        """The "write": checked, counted, ``during_write``, done at once
        (putapage then calls pvn_write_done), failing for ``fail_writes``."""
        writing = self._writing
        assert writing is not None  # putapage_window ran first
        before, pp, vp_off, vp_len = writing
        check_write_kluster(kl, before, pp=pp, vp_off=vp_off, vp_len=vp_len)
        self.writes += 1
        if self.during_write is not None:
            self.during_write(kl)
        return EIO if kl.off in self.fail_writes else 0
