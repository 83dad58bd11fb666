"""A reference file system whose getpage and putpage drive the pvn routines
the way illumos ufs does.

Theory of operation
-------------------
Files, blocks and page contents are described in :mod:`pvnsim.fs.inode`.
The block size (default 8 KiB) is the window ``[vp_off, vp_off + vp_len)``
of every kluster: a getpage miss reads, with one disk request, the absent
pages :func:`~pvnsim.pvn_read_kluster` gathers inside the block around the
faulting page; a putapage writes, with one disk request, the dirty pages
:func:`~pvnsim.pvn_write_kluster` gathers inside the block.  Windows are
clipped at end of file (rounded up to DEV_BSIZE), so the last kluster of a
file may end inside a page: its tail is zeroed.

The operations are attributes, not methods to override: assign
``fs.getpage``, ``fs.putpage`` or ``fs.putapage`` a function with the VOP's
signature and every path (syscalls, pageout, fsflush, pvn_vpzero) uses it.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

from pvnsim.errors import UsageError
from pvnsim.flags import (
    B_ASYNC,
    B_ERROR,
    B_FREE,
    B_READ,
    B_WRITE,
    P_MOD,
    PG_WAIT,
    S_CREATE,
    S_OTHER,
    S_WRITE,
    SE_EXCL,
    SE_SHARED,
    VMODSORT,
    VREG,
)
from pvnsim.fs.disk import Disk, DiskRequest
from pvnsim.fs.inode import (
    _MMAP_SPAN,
    DEV_BSIZE,
    MMAP_BASE,
    BlockMap,
    FsStats,
    Inode,
    _fill,
    _roundup,
    check_fs,
)
from pvnsim.fs.ufslike import UfsPutapage, putpage_range
from pvnsim.hooks import sleep
from pvnsim.kernel import Kernel
from pvnsim.sched import Simulation
from pvnsim.vm.page import Page
from pvnsim.vm.page_lock import page_downgrade, page_io_unlock, page_unlock
from pvnsim.vm.seg import Seg, SegVn
from pvnsim.vm.vm_page import (
    fs_dispose,
    page_create_va,
    page_lookup,
)
from pvnsim.vm.vm_pvn import (
    Kluster,
    pvn_plist_init,
    pvn_read_done,
    pvn_read_kluster,
    pvn_vplist_dirty,
    pvn_write_done,
)
from pvnsim.vm.vnode import Vnode, VnodeOps

__all__ = ["DEV_BSIZE", "FsStats", "Inode", "RefFs"]


class RefFs:
    """The reference file system.

    Args:
        kernel: the kernel; its scheduler must be ``None`` (a one-thread
            :class:`~pvnsim.sched.Simulation` on the disk's clock is then
            installed) or a simulation whose clock is the disk's.
        disk: the disk the file system lives on.
        bsize: block size: a power of two, a multiple of PAGESIZE, at most
            1 MiB.
        vmodsort: set VMODSORT on regular files (ufs does).
        readahead: klusters to read ahead on sequential access (0: none);
            each is a block, or a cluster with ``maxcontig`` above 1.
        write_behind: start an async write of each block a write(2)
            completes (ufs_wrip's SM_WRITE | SM_ASYNC | SM_DONTNEED); with
            ``maxcontig`` above 1, of each cluster.
        freebehind: free the pages behind a sequential read of a file
            larger than ``smallfile`` (ufs_rdip's SM_FREE | SM_ASYNC), each
            block (or cluster) once it is read.
        smallfile: the free-behind threshold in bytes.
        maxcontig: ufs's ``fs_maxcontig``: the most blocks one kluster may
            span.  The default, 16 (128 KiB with 8 KiB blocks), is what newfs
            sets for a 128 KiB maximum transfer, so the kit clusters as ufs
            does: a putapage's window, and a sequential read miss's or
            read-ahead's, is the run of blocks that follow each other on disk
            from the page's block on (bmap_read's ``contig``), at most
            ``maxcontig`` blocks; write-behind and free-behind push whole
            clusters (``bsize * maxcontig`` bytes, ufs's delayed clusters).
            With 1 every kluster window is one block.

    Raises:
        UsageError: a bad block size, or a kernel already driven by another
            scheduler.
    """

    def __init__(
        self,
        kernel: Kernel,
        disk: Disk,
        *,
        bsize: int = 8192,
        vmodsort: bool = True,
        readahead: int = 1,
        write_behind: bool = True,
        freebehind: bool = True,
        smallfile: int = 32768,
        maxcontig: int = 16,
    ) -> None:
        ps = kernel.pagesize
        if bsize < ps or bsize & (bsize - 1) or bsize > (1 << 20):
            raise UsageError(
                f"block size must be a power of two between PAGESIZE ({ps}) and 1 MiB, not {bsize}"
            )
        if readahead < 0 or smallfile < 0:
            raise UsageError("readahead and smallfile must not be negative")
        if isinstance(maxcontig, bool) or not isinstance(maxcontig, int) or maxcontig < 1:
            raise UsageError(f"maxcontig must be an int of at least 1, not {maxcontig!r}")
        sched = kernel.sched
        if sched is None:
            kernel.sched = Simulation(clock=disk.clock, switches=False)
        elif getattr(sched, "clock", None) is not disk.clock:
            raise UsageError(
                "the kernel's scheduler keeps another time than the disk: "
                "build the disk on the simulation's clock (Disk(sim.clock))"
            )
        self.kernel = kernel
        self.disk = disk
        self.bsize = bsize
        self.vmodsort = vmodsort
        self.readahead = readahead
        self.write_behind = write_behind
        self.freebehind = freebehind
        self.smallfile = smallfile
        self.maxcontig = maxcontig
        #: Bytes a write-behind or free-behind push covers (ufs's CLUSTSZ).
        self.clustsz = bsize * maxcontig
        self.stats = FsStats()
        self.inodes: dict[str, Inode] = {}
        #: VOP_GETPAGE(vp, off, len, protp, pl, plsz, seg, addr, rw, cred) -> errno
        self.getpage: Callable[..., int] = self.ufs_getpage
        #: VOP_PUTPAGE(vp, off, len, flags, cred) -> errno
        self.putpage: Callable[..., int] = self.ufs_putpage
        #: The kit's putapage: a :class:`~pvnsim.fs.UfsPutapage` over
        #: :meth:`putapage_window` writing with :meth:`kluster_write`.
        self.ufs_putapage = UfsPutapage(bsize, self.kluster_write, window=self.putapage_window)
        #: putapage(vp, pp, offp, lenp, flags, cred) -> errno, the callback of
        #: the pvn walks; with a ``push`` method (as :attr:`ufs_putapage`
        #: has), range putpages learn from it what each kluster covered.
        self.putapage: Callable[..., int] = self.ufs_putapage
        self._ops = VnodeOps(
            dispose=self._dispose, getpage=self._vop_getpage, putpage=self._vop_putpage
        )
        self._cursor = 0
        self._free_blocks: list[int] = []
        # Stands for a page whose p_data is None (zeros) in a write's payload.
        self._zero = bytes(ps)
        # fs_read's gathering buffer, kept between reads (None while in use).
        self._read_buf: bytearray | None = None

    # -- files ---------------------------------------------------------------

    def create(self, name: str) -> Inode:
        """Create an empty regular file.

        Raises:
            UsageError: the name is empty, has white space, or exists.
        """
        if not name or any(c.isspace() for c in name):
            raise UsageError(f"file names must be non-empty without white space: {name!r}")
        if name in self.inodes:
            raise UsageError(f"file {name!r} already exists")
        vp = self.kernel.vnode(
            f"{name}", v_flag=VMODSORT if self.vmodsort else 0, v_type=VREG, ops=self._ops
        )
        ino = Inode(name, vp, bmap=BlockMap(self.bsize))
        vp.v_data = ino
        self.inodes[name] = ino
        return ino

    def inode(self, name: str) -> Inode:
        """The file called ``name``.

        Raises:
            UsageError: no such file.
        """
        try:
            return self.inodes[name]
        except KeyError:
            raise UsageError(f"no file named {name!r}") from None

    def inode_of(self, vp: Vnode) -> Inode:
        """The inode of a vnode of this file system.

        Raises:
            UsageError: ``vp`` is not one of its files.
        """
        ino = vp.v_data
        if not isinstance(ino, Inode):
            raise UsageError(f"vnode {vp.v_name} is not a RefFs file")
        return ino

    def mmap_seg(self, ino: Inode) -> SegVn:
        """The segvn segment that maps ``ino`` in the simulated address space."""
        if ino.seg is None:
            index = list(self.inodes).index(ino.name)
            ino.seg = SegVn(
                self.kernel, f"seg:{ino.name}", base=MMAP_BASE + index * _MMAP_SPAN, size=_MMAP_SPAN
            )
        return ino.seg

    # -- blocks ----------------------------------------------------------------

    def bmap_write(self, ino: Inode, off: int, end: int) -> None:
        """Allocate disk blocks for every hole in ``[off, end)`` of ``ino``."""
        bsize = self.bsize
        bmap = ino.bmap
        for lbn in range(off // bsize, (end - 1) // bsize + 1):
            if lbn not in bmap:
                bmap[lbn] = self._balloc()

    def contig(self, ino: Inode, lbn: int) -> int:
        """bmap_read's ``contig``: bytes from block ``lbn`` on that follow each
        other on disk, at most ``maxcontig`` blocks (0 for a hole)."""
        return ino.bmap.run(lbn, self.maxcontig) * self.bsize

    def _balloc(self) -> int:
        if self._free_blocks:
            return heapq.heappop(self._free_blocks)
        daddr = self._cursor
        self._cursor += self.bsize
        return daddr

    def free_blocks(self, ino: Inode, size: int) -> None:
        """Give back the blocks past ``size`` and zero the rest of the last one."""
        bsize = self.bsize
        keep = _roundup(size, bsize) // bsize
        for lbn in [b for b in ino.bmap if b >= keep]:
            daddr = ino.bmap.pop(lbn)
            self.disk.discard(daddr, bsize)
            heapq.heappush(self._free_blocks, daddr)
        if size % bsize:
            daddr_opt = ino.bmap.get(size // bsize)
            if daddr_opt is not None:
                within = size % bsize
                self.disk.discard(daddr_opt + within, bsize - within)

    def wait_io(self, ino: Inode) -> None:
        """Sleep until no disk request of ``ino`` is in flight."""
        if ino.pending:
            sleep(self.kernel, f"i/o of {ino.name} in flight", "disk", lambda: not ino.pending)

    def biowait(self, req: DiskRequest) -> None:
        """Sleep until the disk has completed ``req`` (illumos ``biowait``)."""
        if not req.done:
            sleep(self.kernel, f"disk {req.kind} #{req.seq}", "disk", lambda: req.done)

    # -- VOP entry points --------------------------------------------------------

    def _vop_getpage(self, *args: Any) -> int:
        return int(self.getpage(*args))

    def _vop_putpage(self, *args: Any) -> int:
        return int(self.putpage(*args))

    def _putapage(self, vp: Vnode, pp: Page, offp: Any, lenp: Any, flags: int, cr: Any) -> int:
        return int(self.putapage(vp, pp, offp, lenp, flags, cr))

    def _dispose(self, vp: Vnode, pp: Page, fl: int, dn: int, cr: Any) -> None:
        # Count, then let the default dispose free or destroy the page.
        if fl == B_FREE:
            self.stats.pages_freed += 1
        else:
            self.stats.pages_destroyed += 1
        fs_dispose(vp, pp, fl, dn, cr)

    # -- getpage -------------------------------------------------------------------

    def ufs_getpage(
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
        cr: Any,
    ) -> int:
        """VOP_GETPAGE: the pages of ``[off, off + length)`` into ``pl``.

        Cached pages come from page_lookup (reclaimed from the cache list if
        free); a miss reads the block's kluster (:meth:`getpage_miss`).  Pages
        are returned SE_SHARED (SE_EXCL for S_CREATE and S_OTHER) and ``pl``
        is None-terminated.  A sequential access reads ahead.  ``pl`` None
        only reads ahead (fault-ahead).

        Returns:
            0 or EIO (then nothing is left locked and ``pl[0]`` is None).
        """
        k = vp.kernel
        ps = k.pagesize
        ino = vp.v_data
        if type(ino) is not Inode:
            ino = self.inode_of(vp)
        if seg is None:
            seg = k.segkmap
            assert seg is not None
        eoff = off + length
        if pl is None:
            self._readahead(ino, off, eoff, seg, addr)
            return 0
        # Return no more pages than pl has room for (pvn_getpages hands each
        # call one page's worth of plsz).
        room = off + (plsz if plsz > ps else ps)
        if room < eoff:
            eoff = room
        se = SE_EXCL if rw in (S_CREATE, S_OTHER) else SE_SHARED
        sequential = off == ino.nextr
        stats = self.stats
        lookup = page_lookup
        i = 0
        o = off
        while o < eoff:
            pp = lookup(vp, o, se)
            if pp is not None:
                stats.getpage_hits += 1
                pl[i] = pp
                i += 1
                o += ps
                continue
            n = self.getpage_miss(
                ino,
                o,
                seg,
                addr + (o - off),
                pl,
                i,
                max(plsz - (o - off), ps),
                rw,
                se,
                sequential=sequential,
            )
            if n < 0:
                for j in range(i):
                    page_unlock(pl[j])
                    pl[j] = None
                pl[0] = None
                return -n
            i += n
            o += n * ps
        pl[i] = None
        ino.nextr = o
        if rw in (S_WRITE, S_CREATE):
            # bmap_write after the fact: a hole's pages were zero-filled, not read.
            self.bmap_write(ino, off, o)
        if sequential and self.readahead:
            self._readahead(ino, off, eoff, seg, addr)
        return 0

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
        """Bring the page at ``off`` in; store it (and kluster pages up to ``plsz``) at ``pl[i:]``.

        Holes, pages past end of file and S_CREATE get a zero-filled page from
        page_create_va(PG_WAIT); otherwise pvn_read_kluster gathers the absent
        pages of the block, one disk read fills them, and pvn_plist_init hands
        them over (pvn_read_done(B_ERROR) destroys them if the read fails).
        With ``maxcontig`` above 1, a ``sequential`` miss other than at offset
        0 klusters over the disk-contiguous run from the block on
        (:meth:`contig`), as ufs_getpage_miss does.

        Returns:
            Pages stored (0: another path created the page first, look it up
            again), or minus an errno.
        """
        k = self.kernel
        vp = ino.vp
        bsize = self.bsize
        lbn = off // bsize
        blkoff = lbn * bsize
        daddr = ino.bmap.get(lbn)
        stats = self.stats
        stats.getpage_misses += 1
        if rw == S_CREATE or daddr is None or off >= ino.size:
            pp = page_create_va(vp, off, k.pagesize, PG_WAIT, seg, addr)
            assert pp is not None  # PG_WAIT never fails
            if pp.p_fsdata == 0:
                pp.p_data = None
                pp.p_fsdata = 1
                stats.zero_fills += 1
                stats.pages_created += 1
            page_io_unlock(pp)
            if se == SE_SHARED:
                page_downgrade(pp)
            pl[i] = pp
            return 1
        window = bsize
        if sequential and off and self.maxcontig > 1:
            window = self.contig(ino, lbn)
        vp_len = min(window, _roundup(ino.size - blkoff, DEV_BSIZE))
        kl = pvn_read_kluster(vp, off, seg, addr, blkoff, vp_len, 0)
        if kl is None:
            return 0
        err = self._read_io(ino, kl, daddr + (kl.off - blkoff), is_async=False)
        if err:
            stats.read_errors += 1
            pvn_read_done(kl.plist, B_READ | B_ERROR)
            return -err
        tmp: list[Page | None] = [None] * (k.btopr(plsz) + 2)
        pvn_plist_init(kl.plist, tmp, plsz, off, kl.len, rw)
        n = 0
        while tmp[n] is not None:
            pl[i + n] = tmp[n]
            n += 1
        return n

    def _read_io(self, ino: Inode, kl: Kluster, daddr: int, *, is_async: bool) -> int:
        # The ring is walked in place here and in done (no list of it): this
        # runs once per block read, and the kluster's ring stays as it is
        # until pvn_read_done or pvn_plist_init, after done.
        head = kl.plist
        npages = 1
        pp = head.p_next
        while pp is not head:
            npages += 1
            pp = pp.p_next
        stats = self.stats
        stats.pages_created += npages
        stats.read_klusters[npages] += 1
        ino.pending += 1
        ps = self.kernel.pagesize

        def done(req: DiskRequest) -> None:
            data = req.data
            if data is not None:
                view = memoryview(data)
                nbytes = len(view)
                at = 0
                pp = head
                while True:
                    buf = pp.p_data
                    if at + ps > nbytes:
                        _fill(pp, view[at:], ps)
                    elif buf is None or len(buf) != ps:
                        # _fill's result, in one allocation.
                        pp.p_data = bytearray(view[at : at + ps])
                        pp.p_fsdata = 1
                    else:
                        buf[:] = view[at : at + ps]
                        pp.p_fsdata = 1
                    at += ps
                    pp = pp.p_next
                    if pp is head:
                        break
            if is_async:
                if req.error:
                    self.stats.read_errors += 1
                pvn_read_done(head, B_READ | B_ASYNC | (B_ERROR if req.error else 0))
            # Last: a sleeper in wait_io wakes once the completion is over.
            ino.pending -= 1

        req = self.disk.submit(
            "read",
            daddr,
            kl.len,
            is_async=is_async,
            on_done=done,
            tag=(ino.name, kl.off, npages),
        )
        if is_async:
            return 0
        self.biowait(req)
        return req.error

    def _readahead(self, ino: Inode, off: int, eoff: int, seg: Seg, addr: int) -> None:
        """Read ahead after ``eoff`` with pvn_read_kluster(isra=1), asynchronously:
        ``readahead`` klusters, each a block (or with ``maxcontig`` above 1 the
        disk-contiguous run from its block on, as ufs_getpage_ra reads)."""
        k = self.kernel
        bsize = self.bsize
        ps = k.pagesize
        clustered = self.maxcontig > 1
        # The _roundup arithmetic, written out (this runs once per block read).
        nextrio = ino.nextrio
        start = ((nextrio if nextrio > eoff else eoff) + bsize - 1) // bsize * bsize
        limit = (eoff + bsize - 1) // bsize * bsize + self.readahead * self.clustsz
        size_end = (ino.size + ps - 1) // ps * ps
        if size_end < limit:
            limit = size_end
        if start >= limit:
            return
        vp = ino.vp
        bmap = ino.bmap
        blkoff = start
        while blkoff < limit:
            lbn = blkoff // bsize
            daddr = bmap.get(lbn)
            window = self.contig(ino, lbn) if clustered and daddr is not None else bsize
            ino.nextrio = blkoff + window
            if daddr is not None and blkoff not in k.page_hash[vp]:
                if k.freemem <= k.minfree:  # type: ignore[operator]
                    self.stats.readahead_giveups += 1
                vp_len = (ino.size - blkoff + DEV_BSIZE - 1) // DEV_BSIZE * DEV_BSIZE
                if vp_len > window:
                    vp_len = window
                kl = pvn_read_kluster(vp, blkoff, seg, addr + (blkoff - off), blkoff, vp_len, 1)
                if kl is None:
                    return
                self.stats.readahead_issued += 1
                self._read_io(ino, kl, daddr, is_async=True)
            blkoff += window

    # -- putpage ---------------------------------------------------------------------

    def ufs_putpage(self, vp: Vnode, off: int, length: int, flags: int, cr: Any) -> int:
        """VOP_PUTPAGE: write back, free or invalidate pages (ufs_putpage's shape).

        ``length == 0`` means the whole file from ``off``: pvn_vplist_dirty
        with :attr:`putapage`.  Otherwise the range, clipped at end of file,
        goes through :func:`~pvnsim.fs.ufslike.putpage_range` (page_lookup or
        page_lookup_nowait, pvn_getdirty, putapage for dirty pages, skipping
        the pages each kluster took).

        Returns:
            0 or the first error.
        """
        if vp.v_pages is None:
            return 0
        if length == 0:
            return pvn_vplist_dirty(vp, off, self._putapage, flags, cr)
        ino = vp.v_data
        if type(ino) is not Inode:
            ino = self.inode_of(vp)
        ps = vp.kernel.pagesize
        eoff = off + length
        size_end = (ino.size + ps - 1) // ps * ps
        if size_end < eoff:
            eoff = size_end
        return putpage_range(vp, off, eoff, flags, cr, self.putapage)

    def putapage_window(self, vp: Vnode, pp: Page) -> tuple[int, int]:
        """The window of ``pp``'s write kluster: its block (with ``maxcontig``
        above 1, the disk-contiguous run from its block on, bmap_read's
        ``contig``), clipped at end of file but always holding ``pp``."""
        ino = vp.v_data
        if type(ino) is not Inode:
            ino = self.inode_of(vp)
        ps = vp.kernel.pagesize
        bsize = self.bsize
        poff = pp.p_offset
        blkoff = poff - poff % bsize
        blkend = blkoff + bsize
        if self.maxcontig > 1:
            blkend = blkoff + (self.contig(ino, poff // bsize) or bsize)
        size_end = (ino.size + ps - 1) // ps * ps
        if size_end < blkend:
            blkend = size_end
        if blkend <= poff:
            blkend = poff + ps
        return blkoff, blkend - blkoff

    def kluster_write(self, vp: Vnode, kl: Kluster, flags: int) -> int | None:
        """Write a kluster with one disk request (the write of :attr:`ufs_putapage`).

        The request is trimmed at end of file.  With B_ASYNC it is left in
        flight and its completion (``biodone``, in interrupt context) finishes
        the kluster with pvn_write_done((err ? B_ERROR : 0) | B_WRITE |
        flags); otherwise the caller sleeps until the disk is done (biowait)
        and pvn_write_done is left to it (:class:`~pvnsim.fs.UfsPutapage`
        calls it).

        Returns:
            None for an asynchronous write, else 0 or EIO.
        """
        ino = vp.v_data
        if type(ino) is not Inode:
            ino = self.inode_of(vp)
        if flags & B_ASYNC:
            self._submit_write(ino, kl, True, flags)
            return None
        req = self._submit_write(ino, kl, False, None)
        self.biowait(req)
        if req.error:
            self.stats.write_errors += 1
        return req.error

    def _submit_write(
        self,
        ino: Inode,
        kl: Kluster,
        is_async: bool,
        done_flags: int | None,
    ) -> DiskRequest:
        """Submit the write of ``kl`` (trimmed at end of file: the request's
        ``nbytes``); with ``done_flags``, its completion finishes the kluster
        with pvn_write_done(... | B_WRITE | done_flags)."""
        bsize = self.bsize
        koff = kl.off
        lbn = koff // bsize
        bmap = ino.bmap
        daddr = bmap.get(lbn)
        if daddr is None:
            daddr = bmap[lbn] = self._balloc()
        io_len = kl.len
        eof_len = (ino.size - koff + DEV_BSIZE - 1) // DEV_BSIZE * DEV_BSIZE
        if 0 < eof_len < io_len:
            io_len = eof_len
        # The pages' contents, gathered walking the ring in place (this runs
        # once per block written).
        zero = self._zero
        head = kl.plist
        pp = head
        bufs = []
        while True:
            buf = pp.p_data
            bufs.append(zero if buf is None else buf)
            pp = pp.p_next
            if pp is head:
                break
        npages = len(bufs)
        data = b"".join(bufs)
        if len(data) != io_len:
            data = data[:io_len]
        self.stats.write_klusters[npages] += 1
        ino.pending += 1

        def done(req: DiskRequest) -> None:
            if done_flags is not None:
                error = req.error
                if error:
                    self.stats.write_errors += 1
                pvn_write_done(kl.plist, (B_ERROR if error else 0) | B_WRITE | done_flags)
            # Last: a sleeper in wait_io wakes once the completion is over.
            ino.pending -= 1

        return self.disk.submit(
            "write",
            daddr + (koff - lbn * bsize),
            io_len,
            data=data,
            is_async=is_async,
            on_done=done,
            tag=(ino.name, koff, npages),
        )

    # -- validation -------------------------------------------------------------------

    def check(self) -> None:
        """Validate every file (see :func:`~pvnsim.fs.inode.check_fs`).

        Raises:
            InvariantViolation: naming the file and what is wrong.
        """
        check_fs(self)

    def contents(self, ino: Inode, *, cached: bool = True) -> bytes:
        """The file's bytes as they are now, without I/O or time.

        The disk's blocks (holes read as zeros), overlaid with ``cached``
        by the resident pages whose contents are valid (what a read would
        return); without, the disk alone (what survives a crash).
        """
        size = ino.size
        bsize = self.bsize
        out = bytearray(size)
        peek = self.disk.peek
        for lbn, daddr in ino.bmap.items():
            start = lbn * bsize
            if start < size:
                n = min(bsize, size - start)
                out[start : start + n] = peek(daddr, n)
        if cached:
            ps = self.kernel.pagesize
            for off, pp in self.kernel.page_hash[ino.vp].items():
                if pp.p_fsdata and off < size:
                    n = min(ps, size - off)
                    data = pp.p_data
                    out[off : off + n] = bytes(n) if data is None else data[:n]
        return bytes(out)

    def dirty_pages(self, ino: Inode) -> int:
        """Resident pages of ``ino`` with P_MOD set (software bit)."""
        return sum(1 for pp in self.kernel.page_hash[ino.vp].values() if pp.p_nrm & P_MOD)
