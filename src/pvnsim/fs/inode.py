"""The file system's records and validators: inodes, statistics, and the
checks :meth:`RefFs.check <pvnsim.fs.fs.RefFs.check>` runs.

Files are vnodes (VMODSORT on regular files, as ufs sets it) with an
:class:`Inode` in ``v_data``: a size and a block map from file blocks to disk
addresses.  Blocks are allocated when written (``bmap_write``), from a
cursor that hands out consecutive disk blocks, so a file written in order is
laid out in order.  Unallocated blocks are holes and read as zeros.

Page contents live in ``Page.p_data`` (``None`` means zeros).  ``p_fsdata``
is 1 once a page's contents are valid; page_hashout resets it, so a page that
``page_create_va(PG_WAIT)`` hands back with ``p_fsdata == 0`` is new.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING

import attrs

from pvnsim.errors import InvariantViolation, UsageError
from pvnsim.flags import PAGE_IO_INUSE
from pvnsim.hooks import sleep, switch_point
from pvnsim.vm.hat import HatMapping
from pvnsim.vm.page import Page
from pvnsim.vm.seg import SegVn
from pvnsim.vm.vnode import Vnode

if TYPE_CHECKING:
    from pvnsim.fs.fs import RefFs

__all__ = ["DEV_BSIZE", "BlockMap", "FsStats", "Inode", "check_fs", "rw_enter", "rw_exit"]

DEV_BSIZE = 512

#: Where mmap segments start; each file gets its own segment of _MMAP_SPAN.
MMAP_BASE = 1 << 44
_MMAP_SPAN = 1 << 40


class BlockMap(MutableMapping[int, int]):
    """A file's block map, file block number -> disk byte address, kept as
    extents: runs of blocks whose disk addresses follow each other.

    A mapping like a dict, but a file written in order (its blocks allocated
    one after the other) is one extent however large it is: the map of a
    16 GiB file is a few numbers, not two million entries.

    >>> m = BlockMap(8192)
    >>> m[0], m[1], m[5] = 0, 8192, 65536
    >>> m.extents(), m[1], m.get(2), m.run(0, 16), 5 in m
    ([(0, 0, 2), (5, 65536, 1)], 8192, None, 2, True)
    """

    __slots__ = ("_addrs", "_count", "_lens", "_starts", "bsize")

    def __init__(self, bsize: int) -> None:
        self.bsize = bsize
        # Extent i covers blocks [_starts[i], _starts[i] + _lens[i]), the
        # first at disk address _addrs[i]; sorted, disjoint, and two
        # neighbours that continue each other on disk are one extent.
        self._starts: list[int] = []
        self._addrs: list[int] = []
        self._lens: list[int] = []
        self._count = 0

    def _find(self, lbn: int) -> int:
        # The extent holding lbn, or -1.
        i = bisect_right(self._starts, lbn) - 1
        if i >= 0 and lbn < self._starts[i] + self._lens[i]:
            return i
        return -1

    def get(self, lbn: int, default: int | None = None) -> int | None:  # type: ignore[override]
        """The disk address of block ``lbn``, or ``default`` for a hole."""
        i = bisect_right(self._starts, lbn) - 1
        if i >= 0:
            within = lbn - self._starts[i]
            if within < self._lens[i]:
                return self._addrs[i] + within * self.bsize
        return default

    def __contains__(self, lbn: object) -> bool:
        return isinstance(lbn, int) and self._find(lbn) >= 0

    def __getitem__(self, lbn: int) -> int:
        daddr = self.get(lbn)
        if daddr is None:
            raise KeyError(lbn)
        return daddr

    def __setitem__(self, lbn: int, daddr: int) -> None:
        if lbn in self:
            del self[lbn]
        starts, addrs, lens = self._starts, self._addrs, self._lens
        bsize = self.bsize
        i = bisect_right(starts, lbn)
        self._count += 1
        joins_prev = i > 0 and starts[i - 1] + lens[i - 1] == lbn
        joins_prev = joins_prev and addrs[i - 1] + lens[i - 1] * bsize == daddr
        joins_next = i < len(starts) and starts[i] == lbn + 1 and addrs[i] == daddr + bsize
        if joins_prev:
            lens[i - 1] += 1
            if joins_next:  # the block fills the gap between two extents
                lens[i - 1] += lens.pop(i)
                del starts[i], addrs[i]
        elif joins_next:
            starts[i], addrs[i] = lbn, daddr
            lens[i] += 1
        else:
            starts.insert(i, lbn)
            addrs.insert(i, daddr)
            lens.insert(i, 1)

    def __delitem__(self, lbn: int) -> None:
        i = self._find(lbn)
        if i < 0:
            raise KeyError(lbn)
        starts, addrs, lens = self._starts, self._addrs, self._lens
        within = lbn - starts[i]
        after = lens[i] - within - 1
        self._count -= 1
        if after:  # the blocks after lbn become an extent of their own
            starts.insert(i + 1, lbn + 1)
            addrs.insert(i + 1, addrs[i] + (within + 1) * self.bsize)
            lens.insert(i + 1, after)
        if within:
            lens[i] = within
        else:
            del starts[i], addrs[i], lens[i]

    def __iter__(self) -> Iterator[int]:
        for start, n in zip(list(self._starts), list(self._lens), strict=True):
            yield from range(start, start + n)

    def __len__(self) -> int:
        return self._count

    def __repr__(self) -> str:
        return f"BlockMap({self.extents()})"

    def add_extent(self, lbn: int, daddr: int, n: int) -> None:
        """Map ``n`` blocks from ``lbn`` on to the disk addresses from ``daddr``
        on, at once (none of them may be mapped yet, nor touch a neighbour).

        Raises:
            UsageError: ``n`` below 1, or the range overlaps or continues an
                extent (map those blocks one by one).
        """
        if n < 1:
            raise UsageError(f"add_extent: n must be at least 1, not {n}")
        starts = self._starts
        i = bisect_right(starts, lbn)
        if (i > 0 and starts[i - 1] + self._lens[i - 1] >= lbn) or (
            i < len(starts) and starts[i] <= lbn + n
        ):
            raise UsageError(f"add_extent: blocks {lbn}..{lbn + n - 1} touch a mapped extent")
        starts.insert(i, lbn)
        self._addrs.insert(i, daddr)
        self._lens.insert(i, n)
        self._count += n

    def extents(self) -> list[tuple[int, int, int]]:
        """``(first block, its disk address, blocks)`` of each extent, in order."""
        return list(zip(self._starts, self._addrs, self._lens, strict=True))

    def run(self, lbn: int, limit: int) -> int:
        """Blocks from ``lbn`` on that follow each other on disk, at most
        ``limit`` (0 for a hole): bmap_read's ``contig``, in blocks."""
        i = self._find(lbn)
        if i < 0:
            return 0
        n = self._starts[i] + self._lens[i] - lbn
        return n if n < limit else limit


@attrs.define(slots=True, eq=False)
class Inode:
    """A file: its vnode, size, block map and bookkeeping.

    Attributes:
        bmap: file block number -> disk byte address (a :class:`BlockMap`
            with the file system's block size).
        pending: disk requests in flight for this file.
        nextr: page offset after the last getpage (sequential detection).
        nextrio: read-ahead has been issued up to here.
        rnext: byte offset after the last read(2) (free-behind detection).
        maps: the simulated address space's translations of this file's
            pages (page offset -> (page, translation)).
        writer, readers: who holds the file's lock (see :func:`rw_enter`).
    """

    name: str
    vp: Vnode
    size: int = 0
    bmap: BlockMap = attrs.field(factory=lambda: BlockMap(8192))
    pending: int = 0
    nextr: int = 0
    nextrio: int = 0
    rnext: int = 0
    seg: SegVn | None = None
    maps: dict[int, tuple[Page, HatMapping]] = attrs.field(factory=dict)
    writer: str | None = None
    readers: list[str] = attrs.field(factory=list)


def rw_enter(ino: Inode, writer: bool) -> None:
    """Take the file's lock, as a writer or as a reader (ufs's ``i_rwlock``).

    The system calls that change the file or its mapping (write, truncate,
    an mmap store, munmap) take it as writers; read and an mmap load as
    readers.  The VM's paths (getpage, putpage, pageout, fsflush, fsync)
    never take it: their concurrency is the pages' locks.  Taking it is a
    switch point; a taker sleeps while it is held against it.
    """
    k = ino.vp.kernel
    switch_point(k, "rw_enter", ino.name)
    if writer:
        if ino.writer is not None or ino.readers:
            sleep(
                k,
                f"i_rwlock of {ino.name} (as a writer)",
                ino.writer or ", ".join(ino.readers),
                lambda: ino.writer is None and not ino.readers,
            )
        ino.writer = k.curthread
    else:
        if ino.writer is not None:
            sleep(
                k,
                f"i_rwlock of {ino.name} (as a reader)",
                ino.writer,
                lambda: ino.writer is None,
            )
        ino.readers.append(k.curthread)


def rw_exit(ino: Inode, writer: bool) -> None:
    """Release the file's lock taken by :func:`rw_enter`; a switch point."""
    k = ino.vp.kernel
    if writer:
        ino.writer = None
    else:
        ino.readers.remove(k.curthread)
    switch_point(k, "rw_exit", ino.name)


@attrs.define(slots=True)
class FsStats:
    """What the file system counts (the kernel's own counters are in ``kernel.vm``)."""

    getpage_hits: int = 0
    getpage_misses: int = 0
    zero_fills: int = 0
    pages_created: int = 0
    pages_freed: int = 0
    pages_destroyed: int = 0
    readahead_issued: int = 0
    readahead_giveups: int = 0
    read_errors: int = 0
    write_errors: int = 0
    write_behind: int = 0
    free_behind: int = 0
    read_klusters: Counter[int] = attrs.field(factory=Counter)
    write_klusters: Counter[int] = attrs.field(factory=Counter)


def _roundup(x: int, unit: int) -> int:
    return (x + unit - 1) // unit * unit


def _fill(pp: Page, data: memoryview, ps: int) -> None:
    """Give a new page the contents ``data`` (zero-padded to a page).

    A recycled page keeps the buffer of its previous identity; it is reused
    rather than reallocated (nothing else refers to it).
    """
    buf = pp.p_data
    n = len(data)
    if buf is None or len(buf) != ps:
        buf = pp.p_data = bytearray(ps)
    elif n < ps:
        buf[n:] = bytes(ps - n)
    buf[:n] = data
    pp.p_fsdata = 1


def check_fs(fs: RefFs) -> None:
    """Validate every file (run between operations, when no VOP is active).

    * each vnode's ``v_data`` is its inode, and no page lies past the
      page holding end of file;
    * a page whose contents are not yet valid is being read (i/o-locked);
    * the bytes past end of file are zero, in memory and on disk;
    * no disk block belongs to two files or is also free;
    * the in-flight counts add up to the disk queue.

    Raises:
        InvariantViolation: naming the file and what is wrong.
    """
    k = fs.kernel
    ps = k.pagesize
    owner: dict[int, str] = {}
    free = set(fs._free_blocks)
    pending = 0
    for name, ino in fs.inodes.items():
        vp = ino.vp
        if vp.v_data is not ino:
            raise InvariantViolation(f"file {name}: vnode does not point back at its inode")
        pending += ino.pending
        limit = _roundup(ino.size, ps)
        for off, pp in k.page_hash[vp].items():
            if off >= limit:
                raise InvariantViolation(f"file {name}: page {pp.name} lies past end of file")
            if pp.p_fsdata == 0 and not pp.p_iolock_state & PAGE_IO_INUSE:
                raise InvariantViolation(f"file {name}: page {pp.name} has no valid contents")
        _check_eof(fs, ino)
        for lbn, daddr in ino.bmap.items():
            if daddr in owner or daddr in free:
                raise InvariantViolation(
                    f"file {name}: block {lbn} at {daddr:#x} is also "
                    f"{'free' if daddr in free else 'used by ' + owner[daddr]}"
                )
            owner[daddr] = name
    if pending != len(fs.disk.queue):
        raise InvariantViolation(
            f"files have {pending} requests in flight but the disk queue holds {len(fs.disk.queue)}"
        )


def _check_eof(fs: RefFs, ino: Inode) -> None:
    k = fs.kernel
    size = ino.size
    within = size % k.pagesize
    pp = k.page_hash[ino.vp].get(size - within)
    if within and pp is not None and pp.p_fsdata and pp.p_data is not None:
        if any(pp.p_data[within:]):
            raise InvariantViolation(f"file {ino.name}: page {pp.name} has data past EOF")
    bsize = fs.bsize
    daddr = ino.bmap.get(size // bsize)
    if size % bsize and daddr is not None and not ino.pending:
        tail = fs.disk.peek(daddr + size % bsize, bsize - size % bsize)
        if any(tail):
            raise InvariantViolation(f"file {ino.name}: disk block holds data past EOF")
