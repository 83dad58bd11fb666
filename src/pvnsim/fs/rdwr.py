"""The system-call side of the reference file system: read(2), write(2),
truncation, fsync, invalidation, free-behind and mmap-style access.

Theory of operation
-------------------
read and write work like illumos's vpm path (segmap with kpm): VOP_GETPAGE
hands back locked pages, the data is copied, and the pages are unlocked; a
write marks each page modified with ``hat_setrefmod`` first (on a VMODSORT
file that moves the page to the tail of ``v_pages``).  A write that covers a
whole page, or a page past the old end of file, or a page of a block it has
just allocated, does not read the old contents: it takes the page with
``page_create_va(PG_WAIT)``, as ufs_wrip does through segmap_pagecreate.

ufs's policies are kept: a write that completes a block starts an
asynchronous write of it (write-behind: B_ASYNC | B_DONTNEED); a sequential
read of a file larger than ``smallfile`` frees the pages of each block it
finishes (free-behind: B_ASYNC | B_FREE, plus B_DONTNEED when memory is
short).  Truncation invalidates the pages past the new end with
B_INVAL | B_TRUNC and zeroes the rest of the last page with pvn_vpzero.

mmap-style accesses fault the page in with VOP_GETPAGE, load a translation
(``hat_map``) and touch it through the HAT, so ref/mod bits reach the page
the way a process's loads and stores do.
"""

from __future__ import annotations

from pvnsim.errors import UsageError
from pvnsim.flags import (
    B_ASYNC,
    B_DONTNEED,
    B_FREE,
    B_INVAL,
    B_TRUNC,
    EFAULT,
    P_MOD,
    P_REF,
    PG_WAIT,
    S_READ,
    S_WRITE,
)
from pvnsim.fs.fs import RefFs
from pvnsim.fs.inode import Inode, _roundup
from pvnsim.vm.hat import hat_map, hat_page_setattr, hat_touch, hat_unmap
from pvnsim.vm.page import Page
from pvnsim.vm.page_lock import page_io_unlock, page_unlock
from pvnsim.vm.seg_map import SEGKMAP_BASE
from pvnsim.vm.vm_page import page_create_va
from pvnsim.vm.vm_pvn import pvn_vpzero

__all__ = [
    "fs_free",
    "fs_fsync",
    "fs_invalidate",
    "fs_load",
    "fs_munmap",
    "fs_read",
    "fs_store",
    "fs_sync",
    "fs_truncate",
    "fs_write",
]


def _check_range(what: str, off: int, n: int) -> None:
    if isinstance(off, bool) or not isinstance(off, int) or off < 0:
        raise UsageError(f"{what}: offset must be a non-negative int, not {off!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise UsageError(f"{what}: length must be a non-negative int, not {n!r}")


def fs_write(
    fs: RefFs, ino: Inode, off: int, data: bytes | bytearray | memoryview
) -> tuple[int, int]:
    """write(2) ``data`` at ``off``.

    Returns:
        (errno, bytes written): a read error while fetching a partly
        overwritten page stops the write there.

    Raises:
        UsageError: a negative offset.
    """
    _check_range("write", off, 0)
    n = len(data)
    if n == 0:
        return 0, 0
    k = fs.kernel
    vp = ino.vp
    ps = k.pagesize
    bsize = fs.bsize
    end = off + n
    bmap = ino.bmap
    fresh = {lbn for lbn in range(off // bsize, (end - 1) // bsize + 1) if lbn not in bmap}
    fs.bmap_write(ino, off, end)
    old_size = ino.size
    if end > old_size:
        ino.size = end
    view = memoryview(data)
    seg = k.segkmap
    pos = off
    mask = k.pagemask
    stats = fs.stats
    write_behind = fs.write_behind
    # A block, or with maxcontig above 1 a cluster (ufs's delayed cluster).
    clustsz = fs.clustsz
    create, io_unlock, setattr_, unlock = (
        page_create_va,
        page_io_unlock,
        hat_page_setattr,
        page_unlock,
    )
    while pos < end:
        pgoff = pos & mask
        lo = pos - pgoff
        hi = end - pgoff
        if hi > ps:
            hi = ps
        whole = lo == 0 and hi == ps
        if whole or pgoff >= old_size or pgoff // bsize in fresh:
            pp = create(vp, pgoff, ps, PG_WAIT, seg, SEGKMAP_BASE + pgoff)
            assert pp is not None  # PG_WAIT never fails
            if pp.p_fsdata == 0:
                # New (or recycled) page: zeros, unless all of it is overwritten
                # anyway, in which case a recycled page's buffer is reused.
                if not whole or pp.p_data is None or len(pp.p_data) != ps:
                    pp.p_data = None
                pp.p_fsdata = 1
                stats.pages_created += 1
            io_unlock(pp)
        else:
            pl: list[Page | None] = [None, None]
            err = fs.getpage(vp, pgoff, ps, None, pl, ps, seg, SEGKMAP_BASE + pgoff, S_WRITE, None)
            got = pl[0]
            if err or got is None:
                # Keep what was written; a write that wrote nothing extends nothing.
                ino.size = max(old_size, pos) if pos > off else old_size
                return err or EFAULT, pos - off
            pp = got
        buf = pp.p_data
        at = pos - off
        if buf is not None:
            buf[lo:hi] = view[at : at + hi - lo]
        elif whole:
            # A fresh page written whole: its contents in one allocation.
            pp.p_data = bytearray(view[at : at + ps])
        else:
            buf = pp.p_data = bytearray(ps)
            buf[lo:hi] = view[at : at + hi - lo]
        setattr_(pp, P_REF | P_MOD)
        unlock(pp)
        pos = pgoff + hi
        if write_behind and pos % clustsz == 0:
            stats.write_behind += 1
            fs.putpage(vp, pos - clustsz, clustsz, B_ASYNC | B_DONTNEED, None)
    return 0, n


def fs_read(fs: RefFs, ino: Inode, off: int, n: int) -> tuple[int, bytes]:
    """read(2) up to ``n`` bytes at ``off`` (short at end of file).

    Returns:
        (errno, data): on an error, the data read before it.

    Raises:
        UsageError: a negative offset or length.
    """
    _check_range("read", off, n)
    size = ino.size
    if off >= size or n == 0:
        return 0, b""
    end = min(off + n, size)
    nbytes = end - off
    # The data is gathered in a buffer the file system keeps between reads
    # (allocating a fresh megabyte per read costs more than copying it);
    # it is taken while in use, so a nested read gets a fresh one.
    kept = fs._read_buf
    out = kept if kept is not None and len(kept) >= nbytes else bytearray(nbytes)
    fs._read_buf = None
    try:
        err = _read_pages(fs, ino, off, end, out)
        if err:
            return err, bytes(memoryview(out)[: ino.rnext - off])
        if len(out) == nbytes:
            return 0, bytes(out)
        return 0, bytes(memoryview(out)[:nbytes])
    finally:
        # Keep the larger buffer, unless it is too large to keep.
        fs._read_buf = out if len(out) <= _READ_BUF_MAX else kept


#: Reads up to this size reuse the file system's read buffer.
_READ_BUF_MAX = 4 << 20


def _read_pages(fs: RefFs, ino: Inode, off: int, end: int, out: bytearray) -> int:
    """fs_read's loop: copy ``[off, end)`` into ``out[0:end - off]``.

    Every byte of that range that no page supplies is zeroed.  On an error,
    ``ino.rnext`` is where the data stops.

    Returns:
        0 or the errno of getpage.
    """
    k = fs.kernel
    vp = ino.vp
    ps = k.pagesize
    bsize = fs.bsize
    size = ino.size
    dofree = fs.freebehind and ino.rnext == off and size > fs.smallfile
    # Free-behind pushes a block, or with maxcontig above 1 a cluster.
    clustsz = fs.clustsz
    seg = k.segkmap
    mask = k.pagemask
    pos = off
    # Bytes of out below cur (as a file offset) have been written in this call.
    cur = off
    unlock = page_unlock
    while pos < end:
        blkoff = pos - pos % bsize
        wend = blkoff + bsize
        if wend > end:
            wend = end
        pgoff = pos & mask
        length = (wend + ps - 1) // ps * ps - pgoff
        pl: list[Page | None] = [None] * (length // ps + 1)
        err = fs.getpage(
            vp, pgoff, length, None, pl, length, seg, SEGKMAP_BASE + pgoff, S_READ, None
        )
        if err:
            ino.rnext = pos
            return int(err)
        for pp in pl:
            if pp is None:
                break
            po = pp.p_offset
            a = po if po > pos else pos
            b = po + ps
            if b > wend:
                b = wend
            if a < b:
                if a > cur:
                    out[cur - off : a - off] = bytes(a - cur)
                data = pp.p_data
                if data is None:
                    out[a - off : b - off] = bytes(b - a)
                elif a == po and b - a == len(data):
                    # The whole page is wanted: no view needed.
                    out[a - off : b - off] = data
                else:
                    out[a - off : b - off] = memoryview(data)[a - po : b - po]
                if b > cur:
                    cur = b
            unlock(pp)
        if cur < wend:
            out[cur - off : wend - off] = bytes(wend - cur)
            cur = wend
        pos = wend
        if dofree and wend == blkoff + bsize and wend % clustsz == 0:
            flags = B_ASYNC | B_FREE
            if k.freemem < k.lotsfree + k.pages_before_pager:  # type: ignore[operator]
                flags |= B_DONTNEED
            fs.stats.free_behind += 1
            fs.putpage(vp, wend - clustsz, clustsz, flags, None)
    ino.rnext = end
    return 0


def fs_fsync(fs: RefFs, ino: Inode) -> int:
    """fsync(2): write back every dirty page synchronously (flags 0), then
    wait for writes still in flight.

    Returns:
        0 or the first write error.
    """
    err = fs.putpage(ino.vp, 0, 0, 0, None)
    fs.wait_io(ino)
    return int(err)


def fs_sync(fs: RefFs) -> int:
    """sync(2) as fsflush does it: a pure B_ASYNC putpage of every file.

    Returns:
        How many files were busy (EAGAIN: another walk held VVMLOCK).
    """
    busy = 0
    for ino in list(fs.inodes.values()):
        if ino.vp.v_pages is not None and fs.putpage(ino.vp, 0, 0, B_ASYNC, None):
            busy += 1
    return busy


def fs_invalidate(fs: RefFs, ino: Inode) -> int:
    """Write back and destroy every page of the file (putpage B_INVAL).

    A page whose write fails stays, dirty (pvn_write_done without B_FORCE).

    Returns:
        0 or the first write error.
    """
    return int(fs.putpage(ino.vp, 0, 0, B_INVAL, None))


def fs_free(fs: RefFs, ino: Inode, off: int, n: int) -> int:
    """Free-behind / madvise(MADV_DONTNEED): putpage B_ASYNC | B_FREE | B_DONTNEED.

    Clean pages go to the head of the cache list; dirty ones are written
    asynchronously and freed when the write completes.

    Returns:
        0 (errors of asynchronous writes are not reported).
    """
    _check_range("free", off, n)
    ps = fs.kernel.pagesize
    start = off - off % ps
    if n == 0:
        return 0
    return int(
        fs.putpage(
            ino.vp, start, _roundup(off + n, ps) - start, B_ASYNC | B_FREE | B_DONTNEED, None
        )
    )


def fs_truncate(fs: RefFs, ino: Inode, size: int) -> int:
    """Set the file size; shrinking destroys the pages past the new end.

    In-flight writes are waited for; pvn_vplist_dirty(B_INVAL | B_TRUNC)
    destroys the pages past the end (dirty or not, without I/O); the blocks
    past the end are freed; pvn_vpzero zeroes the rest of the last page.

    Returns:
        0 or the error of the invalidation.

    Raises:
        UsageError: a negative size.
    """
    _check_range("truncate", size, 0)
    old = ino.size
    if size >= old:
        ino.size = size
        return 0
    k = fs.kernel
    ps = k.pagesize
    fs.wait_io(ino)
    ino.size = size
    ino.nextrio = min(ino.nextrio, size - size % fs.bsize)
    for pgoff in [o for o in ino.maps if o >= size]:
        del ino.maps[pgoff]
    err = 0
    if ino.vp.v_pages is not None:
        err = int(fs.putpage(ino.vp, _roundup(size, ps), 0, B_INVAL | B_TRUNC, None))
    fs.free_blocks(ino, size)
    if size % ps:
        pvn_vpzero(ino.vp, size, 0)
    return err


# -- mmap-style access ---------------------------------------------------------


def _fault(fs: RefFs, ino: Inode, off: int, write: bool) -> tuple[int, Page | None, object]:
    k = fs.kernel
    pgoff = off & k.pagemask
    hit = ino.maps.get(pgoff)
    if hit is not None:
        pp, m = hit
        if pp.p_mapping and m in pp.p_mapping:
            return 0, pp, m
    seg = fs.mmap_seg(ino)
    pl: list[Page | None] = [None, None]
    err = fs.getpage(
        ino.vp,
        pgoff,
        k.pagesize,
        None,
        pl,
        k.pagesize,
        seg,
        seg.base + pgoff,
        S_WRITE if write else S_READ,
        None,
    )
    pp_opt = pl[0]
    if err or pp_opt is None:
        return err or EFAULT, None, None
    mapping = hat_map(pp_opt, owner=f"as:{ino.name}")
    page_unlock(pp_opt)
    ino.maps[pgoff] = (pp_opt, mapping)
    return 0, pp_opt, mapping


def _mapped(fs: RefFs, ino: Inode, off: int, write: bool) -> tuple[int, Page | None, object]:
    """The page at ``off`` with a translation the access can go through.

    A translation loaded by the fault may be gone by the time the access
    comes (another thread ran in between: pageout or an invalidation unloaded
    it); the access then faults again, as it would on the hardware.
    """
    while True:
        err, pp, m = _fault(fs, ino, off, write)
        if err or pp is None or (pp.p_mapping and m in pp.p_mapping):
            return err, pp, m


def fs_load(fs: RefFs, ino: Inode, off: int, n: int = 8) -> tuple[int, bytes]:
    """A process loads ``n`` bytes at ``off`` of its mapping of the file.

    Faults the page in if it has no translation, then touches it (hardware
    ref bit).  The range must lie inside one page and inside the file.

    Returns:
        (errno, data); EFAULT past end of file (SIGBUS).
    """
    _check_range("load", off, n)
    ps = fs.kernel.pagesize
    if n < 1 or (off % ps) + n > ps:
        raise UsageError(f"load: {n} bytes at {off} must be 1..PAGESIZE inside one page")
    if off + n > ino.size:
        return EFAULT, b""
    err, pp, m = _mapped(fs, ino, off, False)
    if err or pp is None:
        return err, b""
    hat_touch(pp, mapping=m)  # type: ignore[arg-type]
    po = off - pp.p_offset
    data = bytes(n) if pp.p_data is None else bytes(pp.p_data[po : po + n])
    return 0, data


def fs_store(fs: RefFs, ino: Inode, off: int, data: bytes | bytearray) -> int:
    """A process stores ``data`` at ``off`` of its mapping of the file.

    Faults the page in (S_WRITE) if it has no translation, writes the bytes
    and touches the page for writing: the hardware mod bit is set, and a
    write-protected translation (a clean VMODSORT page) takes a protection
    fault that calls hat_setmod.  The range must lie inside one page and
    inside the file.

    Returns:
        0, or EFAULT past end of file (SIGBUS), or a read error.
    """
    ps = fs.kernel.pagesize
    n = len(data)
    _check_range("store", off, n)
    if n < 1 or (off % ps) + n > ps:
        raise UsageError(f"store: {n} bytes at {off} must be 1..PAGESIZE inside one page")
    if off + n > ino.size:
        return EFAULT
    err, pp, m = _mapped(fs, ino, off, True)
    if err or pp is None:
        return err
    po = off - pp.p_offset
    buf = pp.p_data
    if buf is None:
        buf = pp.p_data = bytearray(ps)
    buf[po : po + n] = data
    hat_touch(pp, write=True, mapping=m)  # type: ignore[arg-type]
    return 0


def fs_munmap(fs: RefFs, ino: Inode) -> int:
    """Unload every translation of the file's mapping (segvn_unmap).

    Their hardware ref/mod bits reach the pages' software bits.

    Returns:
        The number of translations unloaded.
    """
    count = 0
    for pp, m in ino.maps.values():
        if pp.p_mapping and m in pp.p_mapping:
            hat_unmap(pp, m)
            count += 1
    ino.maps.clear()
    return count
