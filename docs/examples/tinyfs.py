"""tinyfs: a small file system on pvnsim, the example of docs/guide-filesystem.md.

Files are made of fixed-size blocks kept in a dict (the "disk").  Everything
between the system calls and the disk goes through the paged-vnode layer the
way illumos file systems drive it:

* ``getapage`` / ``getpage`` (VOP_GETPAGE): page_lookup, else
  pvn_read_kluster over the block, a disk read, pvn_plist_init; an
  asynchronous read-ahead of the next block;
* ``putapage`` and ``putpage`` (VOP_PUTPAGE): pvn_write_kluster,
  pvn_write_done; pvn_vplist_dirty for a whole file, the page_lookup and
  pvn_getdirty loop for a range;
* ``write``, ``read``, ``fsync``, ``truncate`` (pvn_vpzero and
  B_INVAL | B_TRUNC) and a small page daemon, ``pageout``.

Asynchronous I/O is a list of requests in flight: a request completes when a
thread needs its pages (the way biowait would sleep) or when the disk
"interrupts" (:meth:`TinyFs.interrupt`).  Blocks named in ``TinyFs.bad``
fail every request with EIO.

Run it: ``python docs/examples/tinyfs.py``.
"""

from __future__ import annotations

import errno
from typing import Any

from pvnsim import (
    Kernel,
    Kluster,
    Page,
    SegMap,
    Vnode,
    VnodeOps,
    check_kernel,
    pvn_getdirty,
    pvn_getpages,
    pvn_plist_init,
    pvn_read_done,
    pvn_read_kluster,
    pvn_vplist_dirty,
    pvn_vpzero,
    pvn_write_done,
    pvn_write_kluster,
)
from pvnsim.flags import (
    B_ASYNC,
    B_ERROR,
    B_FREE,
    B_INVAL,
    B_READ,
    B_TRUNC,
    B_WRITE,
    HAT_FORCE_PGUNLOAD,
    HAT_SYNC_ZERORM,
    P_MOD,
    P_REF,
    PG_WAIT,
    S_CREATE,
    S_READ,
    S_WRITE,
    SE_EXCL,
    SE_SHARED,
    VMODSORT,
)
from pvnsim.vm import (
    PP_ISFREE,
    VN_DISPOSE,
    hat_page_clrattr,
    hat_page_setattr,
    hat_pagesync,
    hat_pageunload,
    page_create_va,
    page_io_unlock,
    page_lookup,
    page_lookup_nowait,
    page_trylock,
    page_unlock,
    ring,
)

# Where the file system's pages would be mapped in the kernel (any address:
# the segment below accepts every kluster).
KERNEL_BASE = 0x1000_0000


class Request:
    """A disk request in flight: a kluster being read or written."""

    def __init__(self, kind: str, vp: Vnode, kl: Kluster, flags: int, data: dict[int, bytes]):
        self.kind = kind
        self.vp = vp
        self.kl = kl
        self.flags = flags
        self.data = data  # a write's payload, taken when the write starts

    def covers(self, vp: Vnode, off: int) -> bool:
        return vp is self.vp and self.kl.off <= off < self.kl.off + self.kl.len


class TinyFs:
    """A file system of ``bsize``-byte blocks whose page cache is pvnsim's."""

    def __init__(self, kernel: Kernel, bsize: int = 8192) -> None:
        self.k = kernel
        self.bsize = bsize
        self.seg = SegMap(kernel, "tinyfs")  # the kluster policy: always yes
        self.disk: dict[tuple[str, int], bytearray] = {}  # (file, block number) -> block
        self.size: dict[str, int] = {}
        self.vnodes: dict[str, Vnode] = {}
        self.in_flight: list[Request] = []
        self.bad: set[tuple[str, int]] = set()  # blocks whose I/O fails
        self.reads = self.writes = 0

    # -- files ------------------------------------------------------------------

    def create(self, name: str) -> Vnode:
        """A new empty file.  VMODSORT keeps its dirty pages at the tail of v_pages."""
        vp = self.k.vnode(
            name, v_flag=VMODSORT, ops=VnodeOps(getpage=self.getpage, putpage=self.putpage)
        )
        self.vnodes[name] = vp
        self.size[name] = 0
        return vp

    def _page_end(self, vp: Vnode) -> int:
        """The end of the page holding the last byte of the file."""
        return -(-self.size[vp.v_name] // self.k.pagesize) * self.k.pagesize

    # -- the disk ----------------------------------------------------------------

    def _fails(self, vp: Vnode, kl: Kluster) -> bool:
        return any((vp.v_name, pp.p_offset // self.bsize) in self.bad for pp in kl.pages)

    def _disk_read(self, vp: Vnode, kl: Kluster) -> int:
        """Fill each page of the kluster from its block (holes read as zeros)."""
        ps = self.k.pagesize
        self.reads += 1
        if self._fails(vp, kl):
            return errno.EIO
        for pp in kl.pages:
            block = self.disk.get((vp.v_name, pp.p_offset // self.bsize))
            at = pp.p_offset % self.bsize
            pp.p_data = bytearray(block[at : at + ps]) if block else bytearray(ps)
        return 0

    def _payload(self, kl: Kluster) -> dict[int, bytes]:
        return {pp.p_offset: bytes(pp.p_data or bytes(self.k.pagesize)) for pp in kl.pages}

    def _disk_write(self, vp: Vnode, data: dict[int, bytes]) -> int:
        self.writes += 1
        if any((vp.v_name, off // self.bsize) in self.bad for off in data):
            return errno.EIO
        for off, payload in data.items():
            block = self.disk.setdefault((vp.v_name, off // self.bsize), bytearray(self.bsize))
            at = off % self.bsize
            block[at : at + len(payload)] = payload
        return 0

    def _start(self, kind: str, vp: Vnode, kl: Kluster, flags: int) -> None:
        """Start an asynchronous request; it completes in :meth:`_finish`."""
        data = self._payload(kl) if kind == "write" else {}
        self.in_flight.append(Request(kind, vp, kl, flags, data))

    def _finish(self, req: Request) -> None:
        """The disk's completion: what bio_pageio_done does for paged I/O."""
        self.in_flight.remove(req)
        if req.kind == "read":
            err = self._disk_read(req.vp, req.kl)
            # Success: the pages go to the cache list.  Failure: they are destroyed.
            pvn_read_done(req.kl.plist, (B_ERROR if err else 0) | req.flags)
        else:
            err = self._disk_write(req.vp, req.data)
            # Failure: the pages stay dirty, to be written again later.
            pvn_write_done(req.kl.plist, (B_ERROR if err else 0) | B_WRITE | req.flags)

    def wait_io(self, vp: Vnode, off: int | None = None) -> None:
        """Wait (as biowait would) for the requests on ``vp``, or on its page at ``off``."""
        for req in list(self.in_flight):
            if req.vp is vp and (off is None or req.covers(vp, off)):
                self._finish(req)

    def interrupt(self) -> None:
        """The disk completes every request in flight."""
        while self.in_flight:
            self._finish(self.in_flight[0])

    # -- VOP_GETPAGE -------------------------------------------------------------

    def getapage(
        self,
        vp: Vnode,
        off: int,
        length: int,
        protp: Any,
        pl: Any,
        plsz: int,
        seg: Any,
        addr: int,
        rw: int,
        cred: Any,
    ) -> int:
        """Put the page at ``off`` into ``pl``, locked; read its block on a miss.

        ``pl`` is a list (or, from pvn_getpages, a view of one) that gets the
        pages and then None; with ``pl`` None the pages are only brought in.
        """
        k = self.k
        self.wait_io(vp, off)  # a page under I/O: wait for the I/O first
        while True:
            pp = page_lookup(vp, off, SE_EXCL if rw == S_CREATE else SE_SHARED)
            if pp is not None:
                self._hand_over([pp], pl)
                return 0
            if rw == S_CREATE:
                # The caller overwrites the whole page: no need to read it.
                # Without PG_EXCL an existing page would be returned, locked.
                pp = page_create_va(vp, off, k.pagesize, PG_WAIT, seg, addr)
                assert pp is not None  # PG_WAIT waits for memory rather than fail
                page_io_unlock(pp)
                pp.p_data = bytearray(k.pagesize)
                self._hand_over([pp], pl)
                return 0
            # A miss: read the pages of the block holding off that are not in
            # memory yet (pvn_read_kluster stops at the first one that is).
            blkoff = off - off % self.bsize
            vp_len = max(min(self.bsize, self._page_end(vp) - blkoff), off + k.pagesize - blkoff)
            kl = pvn_read_kluster(vp, off, seg, addr, blkoff, vp_len, 0)
            if kl is None:
                continue  # another thread created the page meanwhile: look again
            err = self._disk_read(vp, kl)  # a synchronous read: done when it returns
            if err:
                pvn_read_done(kl.plist, B_ERROR)  # destroys the pages read into
                return err
            got: list[Page | None] = [None] * (k.btopr(max(plsz, k.pagesize)) + 1)
            pvn_plist_init(kl.plist, got, plsz, off, kl.len, rw)
            self._hand_over([pp for pp in got if pp is not None], pl)
            self.read_ahead(vp, blkoff + self.bsize, addr + (blkoff + self.bsize - off))
            return 0

    @staticmethod
    def _hand_over(pages: list[Page], pl: Any) -> None:
        """Give the caller its locked pages, None-terminated (or unlock them)."""
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
        seg: Any,
        addr: int,
        rw: int,
        cred: Any,
    ) -> int:
        """VOP_GETPAGE: one page directly, more through pvn_getpages."""
        if length <= self.k.pagesize:
            return self.getapage(vp, off, length, protp, pl, plsz, seg, addr, rw, cred)
        return pvn_getpages(self.getapage, vp, off, length, protp, pl, plsz, seg, addr, rw, cred)

    def read_ahead(self, vp: Vnode, off: int, addr: int) -> None:
        """Start reading the block at ``off`` asynchronously, if memory allows."""
        length = min(self.bsize, self._page_end(vp) - off)
        if length <= 0:
            return
        kl = pvn_read_kluster(vp, off, self.seg, addr, off, length, 1)  # isra = 1
        if kl is not None:  # None: the page is in memory, or memory is short
            self._start("read", vp, kl, B_READ | B_ASYNC)

    # -- VOP_PUTPAGE ---------------------------------------------------------------

    def putapage(self, vp: Vnode, pp: Page, offp: None, lenp: None, flags: int, cr: Any) -> int:
        """The putapage the pvn walks call (``offp``/``lenp`` are NULL): :meth:`push`."""
        return self.push(vp, pp, flags, cr)[0]

    def push(self, vp: Vnode, pp: Page, flags: int, cr: Any) -> tuple[int, int, int]:
        """Write ``pp`` and its dirty neighbours inside its block; returns the
        error and the range written (the C's ``*offp``, ``*lenp``)."""
        blkoff = pp.p_offset - pp.p_offset % self.bsize
        kl = pvn_write_kluster(vp, pp, blkoff, self.bsize, flags)
        err = 0
        if flags & B_ASYNC:
            self._start("write", vp, kl, flags)  # pvn_write_done runs at completion
        else:
            err = self._disk_write(vp, self._payload(kl))
            pvn_write_done(kl.plist, (B_ERROR if err else 0) | B_WRITE | flags)
        return err, kl.off, kl.len

    def putpage(self, vp: Vnode, off: int, length: int, flags: int, cr: Any) -> int:
        """Write back, free or destroy the pages of ``[off, off + length)`` (0: to the end)."""
        if vp.v_pages is None:
            return 0
        if not flags & B_ASYNC:
            self.wait_io(vp)  # a synchronous caller would sleep on busy pages
        if length == 0:
            return pvn_vplist_dirty(vp, off, self.putapage, flags, cr)
        ps = self.k.pagesize
        io_off, end, err = off, min(off + length, self._page_end(vp)), 0
        while io_off < end:
            if flags & B_INVAL or not flags & B_ASYNC:
                pp = page_lookup(vp, io_off, SE_EXCL if flags & (B_INVAL | B_FREE) else SE_SHARED)
            else:
                # Asynchronous: skip busy pages, leave cached ones cached.
                pp = page_lookup_nowait(vp, io_off, SE_EXCL if flags & B_FREE else SE_SHARED)
            if pp is None or not pvn_getdirty(pp, flags):
                io_off += ps  # absent, or pvn_getdirty dealt with it
                continue
            error, koff, klen = self.push(vp, pp, flags, cr)
            err = err or error
            io_off = koff + klen  # past the pages the kluster took
        return err

    # -- system calls --------------------------------------------------------------

    def write(self, name: str, off: int, data: bytes) -> None:
        """write(2): copy ``data`` into the file's pages and mark them modified.

        Raises:
            OSError: reading a partly written page failed.
        """
        vp, ps, pos = self.vnodes[name], self.k.pagesize, off
        while pos < off + len(data):
            pgoff = pos - pos % ps
            n = min(ps - (pos - pgoff), off + len(data) - pos)
            # A page written whole need not be read first.
            rw = S_CREATE if n == ps else S_WRITE
            pl: list[Page | None] = [None, None]
            err = self.getpage(vp, pgoff, ps, None, pl, ps, self.seg, KERNEL_BASE + pgoff, rw, None)
            if err:
                raise OSError(err, f"write {name}: {errno.errorcode[err]} at {pgoff}")
            pp = pl[0]
            assert pp is not None and pp.p_data is not None
            pp.p_data[pos - pgoff : pos - pgoff + n] = data[pos - off : pos - off + n]
            hat_page_setattr(pp, P_REF | P_MOD)  # dirty: moves to the tail (VMODSORT)
            page_unlock(pp)
            pos += n
        self.size[name] = max(self.size[name], off + len(data))

    def read(self, name: str, off: int, n: int) -> bytes:
        """read(2): up to ``n`` bytes at ``off``, short at end of file.

        Raises:
            OSError: a page could not be read.
        """
        vp, ps = self.vnodes[name], self.k.pagesize
        end, out, pos = min(off + n, self.size[name]), bytearray(), off
        while pos < end:
            pgoff = pos - pos % ps
            pl: list[Page | None] = [None, None]
            err = self.getpage(
                vp, pgoff, ps, None, pl, ps, self.seg, KERNEL_BASE + pgoff, S_READ, None
            )
            if err:
                raise OSError(err, f"read {name}: {errno.errorcode[err]} at {pgoff}")
            pp = pl[0]
            assert pp is not None
            stop = min(end, pgoff + ps)
            out += (pp.p_data or bytes(ps))[pos - pgoff : stop - pgoff]
            page_unlock(pp)
            pos = stop
        return bytes(out)

    def fsync(self, name: str) -> int:
        """fsync(2): every dirty page of the file written, synchronously; 0 or an errno."""
        return self.putpage(self.vnodes[name], 0, 0, 0, None)

    def truncate(self, name: str, size: int) -> int:
        """Shrink (or grow) the file to ``size`` bytes."""
        vp, ps = self.vnodes[name], self.k.pagesize
        if size < self.size[name]:
            if size % ps:
                # Zero the rest of the page that now holds end of file, so
                # that growing the file again reads zeros there.
                pvn_vpzero(vp, size, ps - size % ps)
            # Destroy every page past the new end, dirty or not (B_TRUNC: no write).
            err = self.putpage(vp, -(-size // ps) * ps, 0, B_INVAL | B_TRUNC, None)
            if err:
                return err
            first = -(-size // self.bsize)
            for key in [key for key in self.disk if key[0] == name and key[1] >= first]:
                del self.disk[key]
            if size % self.bsize and (name, size // self.bsize) in self.disk:
                block = self.disk[(name, size // self.bsize)]
                block[size % self.bsize :] = bytes(self.bsize - size % self.bsize)
        self.size[name] = size
        return 0

    # -- the page daemon -------------------------------------------------------------

    def pageout(self, name: str) -> tuple[int, int]:
        """One sweep of a two-handed clock over the file's pages.

        The front hand clears each page's reference bits; the back hand, one
        page later, frees a page still unreferenced, or pushes it
        (B_ASYNC | B_FREE) if it is dirty.  Busy and free pages are skipped.

        Returns:
            (pages freed, pages pushed).
        """
        vp = self.vnodes[name]
        freed = pushed = 0
        pages = [pp for pp in ring(vp.v_pages, vp_list=True) if not PP_ISFREE(pp)]
        for pp in pages:  # the front hand
            if page_trylock(pp, SE_SHARED):
                hat_pagesync(pp, HAT_SYNC_ZERORM)  # fold the hardware bits in
                hat_page_clrattr(pp, P_REF)
                page_unlock(pp)
        for pp in pages:  # the back hand
            if PP_ISFREE(pp) or pp.p_vnode is not vp or not page_trylock(pp, SE_EXCL):
                continue
            bits = hat_pagesync(pp, HAT_SYNC_ZERORM)
            if bits & P_REF:
                page_unlock(pp)  # used since the front hand passed: keep it
            elif bits & P_MOD:
                page_unlock(pp)
                self.putpage(vp, pp.p_offset, self.k.pagesize, B_ASYNC | B_FREE, None)
                pushed += 1
            else:
                hat_pageunload(pp, HAT_FORCE_PGUNLOAD)
                VN_DISPOSE(pp, B_FREE, 0, None)  # to the cache list, still named
                freed += 1
        return freed, pushed


def demo() -> None:
    """Write, read back, fsync, truncate and page out one file, checking as we go."""
    k = Kernel(total_pages=1024)  # 4 KiB pages, illumos thresholds
    fs = TinyFs(k, bsize=8192)
    fs.create("notes")
    data = bytes(range(256)) * 80  # 20 KiB: five pages, three blocks
    fs.write("notes", 0, data)
    assert fs.read("notes", 0, len(data)) == data
    assert fs.fsync("notes") == 0
    assert fs.writes == 3  # one kluster per block
    fs.truncate("notes", 5000)
    assert fs.read("notes", 0, 10_000) == data[:5000]
    fs.interrupt()
    check_kernel(k)
    print(f"{fs.writes} disk writes, {fs.reads} disk reads; invariants hold")


if __name__ == "__main__":
    demo()
