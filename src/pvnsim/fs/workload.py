"""Workloads: operations, the data they write, and seeded generators.

An :class:`Op` is one step of a workload (a system call, an mmap access, a
change of memory pressure, an injected fault, ...); a workload is a sequence
of them, generated here or read from a trace file
(:mod:`pvnsim.fs.tracefile`), and run by
:meth:`~pvnsim.fs.sim.Simulation.run`.

Data written is :func:`pattern` ``(tag, off, n)``: a function of the
operation's tag and the absolute file offset, so a byte read back can be
checked against the write that produced it.  Every 4 KiB cell starts with
its offset and the tag, so 4 KiB pages never look alike.

Every random choice comes from the ``random.Random`` passed in; the same seed
gives the same operations.
"""

from __future__ import annotations

import functools
import random
import struct
from collections.abc import Iterator

import attrs

from pvnsim.errors import UsageError

__all__ = [
    "OP_KINDS",
    "WORKLOADS",
    "Op",
    "Workload",
    "build_workload",
    "mixed",
    "mmap_touch",
    "pattern",
    "random_read",
    "random_write",
    "sequential_read",
    "sequential_write",
]

#: Operation kinds and what their fields mean (see docs/fs.md).
OP_KINDS = {
    "create": "create FILE, preloaded on disk with LENGTH bytes of pattern TAG",
    "write": "write(2) LENGTH bytes of pattern TAG at OFF",
    "read": "read(2) LENGTH bytes at OFF",
    "fsync": "fsync(2)",
    "sync": "B_ASYNC putpage of every file (fsflush)",
    "truncate": "truncate FILE to LENGTH bytes",
    "invalidate": "putpage B_INVAL of the whole file",
    "free": "putpage B_ASYNC|B_FREE|B_DONTNEED of [OFF, OFF+LENGTH)",
    "load": "mmap load of LENGTH bytes at OFF",
    "store": "mmap store of LENGTH bytes of pattern TAG at OFF",
    "munmap": "unload the file's translations",
    "sleep": "let LENGTH ns of virtual time pass",
    "pressure": "pin LENGTH pages of memory (0 releases them)",
    "fail": "the next TAG requests (0: all) of kind ARG touching the block at OFF fail",
}

_CELL = 4096
_HEADER = struct.Struct("<QQ")


@attrs.frozen
class Op:
    """One workload step; unused fields stay 0 / empty (see :data:`OP_KINDS`)."""

    kind: str
    file: str = ""
    off: int = 0
    length: int = 0
    tag: int = 0
    arg: str = ""

    def __attrs_post_init__(self) -> None:
        if self.kind not in OP_KINDS:
            raise UsageError(f"unknown operation {self.kind!r}; known: {', '.join(OP_KINDS)}")
        for name in ("off", "length", "tag"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise UsageError(f"{self.kind}: {name} must be a non-negative int, not {value!r}")


@functools.lru_cache(maxsize=4096)
def _base(tag: int) -> bytes:
    return random.Random(tag).randbytes(_CELL)


def pattern(tag: int, off: int, n: int) -> bytearray:
    """The ``n`` bytes a write tagged ``tag`` puts at file offset ``off``.

    Each 4 KiB cell of the file holds its own offset and the tag in its
    first 16 bytes, then bytes drawn from a generator seeded with the tag.

    >>> pattern(7, 100, 4) == pattern(7, 0, 104)[100:]
    True
    """
    if n <= 0:
        return bytearray()
    first = off - off % _CELL
    last = -(-(off + n) // _CELL) * _CELL
    buf = bytearray(_base(tag)) * ((last - first) // _CELL)
    pack = _HEADER.pack_into
    for cell in range(first, last, _CELL):
        pack(buf, cell - first, cell, tag)
    if off == first and n == len(buf):
        return buf
    return buf[off - first : off - first + n]


@attrs.frozen
class Workload:
    """A named workload: setup operations (not timed) and the operations."""

    name: str
    setup: tuple[Op, ...]
    ops: tuple[Op, ...]


def _chunks(size: int, iosize: int) -> Iterator[tuple[int, int]]:
    off = 0
    while off < size:
        n = min(iosize, size - off)
        yield off, n
        off += n


def sequential_write(name: str, size: int, iosize: int, *, tag: int = 1) -> list[Op]:
    """Write a file from start to end in ``iosize`` pieces, then fsync it."""
    ops = [Op("write", name, off, n, tag) for off, n in _chunks(size, iosize)]
    ops.append(Op("fsync", name))
    return ops


def sequential_read(name: str, size: int, iosize: int) -> list[Op]:
    """Read a file from start to end in ``iosize`` pieces."""
    return [Op("read", name, off, n) for off, n in _chunks(size, iosize)]


def _aligned(rng: random.Random, size: int, iosize: int) -> int:
    slots = max(1, size // iosize)
    return rng.randrange(slots) * iosize


def random_read(name: str, size: int, iosize: int, count: int, rng: random.Random) -> list[Op]:
    """``count`` reads of ``iosize`` bytes at random aligned offsets."""
    return [Op("read", name, _aligned(rng, size, iosize), iosize) for _ in range(count)]


def random_write(
    name: str, size: int, iosize: int, count: int, rng: random.Random, *, tag0: int = 1
) -> list[Op]:
    """``count`` writes at random aligned offsets, each with its own tag, then fsync."""
    ops = [Op("write", name, _aligned(rng, size, iosize), iosize, tag0 + i) for i in range(count)]
    ops.append(Op("fsync", name))
    return ops


def mmap_touch(
    name: str,
    size: int,
    count: int,
    rng: random.Random,
    *,
    write_fraction: float = 0.3,
    pagesize: int = 4096,
    tag0: int = 1,
) -> list[Op]:
    """``count`` 8-byte loads and stores through a mapping, then munmap and fsync."""
    ops = []
    for i in range(count):
        off = rng.randrange(max(1, size // 8)) * 8
        if rng.random() < write_fraction:
            ops.append(Op("store", name, off, 8, tag0 + i))
        else:
            ops.append(Op("load", name, off, 8))
    ops += [Op("munmap", name), Op("fsync", name)]
    return ops


def mixed(
    sizes: dict[str, int], iosize: int, count: int, rng: random.Random, *, tag0: int = 1
) -> list[Op]:
    """``count`` operations over several files: mostly reads, writes and mmap
    accesses, with occasional fsync, free-behind, sync and truncate-and-regrow."""
    names = sorted(sizes)
    ops: list[Op] = []
    for i in range(count):
        name = rng.choice(names)
        size = sizes[name]
        roll = rng.random()
        off = _aligned(rng, size, iosize)
        if roll < 0.35:
            ops.append(Op("read", name, off, iosize))
        elif roll < 0.65:
            ops.append(Op("write", name, off, iosize, tag0 + i))
        elif roll < 0.80:
            ops.append(Op("load", name, rng.randrange(max(1, size // 8)) * 8, 8))
        elif roll < 0.90:
            ops.append(Op("store", name, rng.randrange(max(1, size // 8)) * 8, 8, tag0 + i))
        elif roll < 0.95:
            ops.append(Op("fsync", name))
        elif roll < 0.97:
            ops.append(Op("free", name, off, iosize))
        elif roll < 0.99:
            ops.append(Op("sync"))
        else:
            ops += [Op("truncate", name, 0, size // 2), Op("truncate", name, 0, size)]
    ops += [Op("munmap", name) for name in names]
    ops += [Op("fsync", name) for name in names]
    return ops


#: Workload names for :func:`build_workload` and ``pvnsim simulate --workload``.
WORKLOADS = {
    "seq": "sequential write, fsync, then sequential read of each file",
    "seqwrite": "sequential write and fsync of each file",
    "seqread": "sequential read of each (preloaded) file",
    "randread": "random reads over the (preloaded) files",
    "randwrite": "random writes over the (preloaded) files, then fsync",
    "mmap": "random 8-byte loads and stores through mappings of the files",
    "mixed": "a random mix of reads, writes, mmap accesses, fsync, free and truncation",
}


def build_workload(
    kind: str,
    *,
    files: int,
    file_size: int,
    iosize: int,
    ops: int,
    seed: int,
    pagesize: int = 4096,
) -> Workload:
    """Build one of :data:`WORKLOADS`.

    Args:
        kind: the workload name.
        files: number of files (``f0``, ``f1``, ...).
        file_size: bytes per file.
        iosize: bytes per read or write.
        ops: operations of the random workloads (per file for randread,
            randwrite and mmap).
        seed: seed of the generator.
        pagesize: the kernel's page size (for mmap offsets).

    Raises:
        UsageError: unknown kind or non-positive sizes.
    """
    if kind not in WORKLOADS:
        raise UsageError(f"unknown workload {kind!r}; known: {', '.join(WORKLOADS)}")
    if files < 1 or file_size < 1 or iosize < 1 or ops < 0:
        raise UsageError("files, file size and I/O size must be positive; ops must be >= 0")
    rng = random.Random(seed)
    names = [f"f{i}" for i in range(files)]
    preload = kind not in ("seq", "seqwrite")
    setup = tuple(
        Op("create", name, 0, file_size if preload else 0, 1000 + i) for i, name in enumerate(names)
    )
    body: list[Op] = []
    for i, name in enumerate(names):
        if kind == "seq":
            body += sequential_write(name, file_size, iosize, tag=1 + i)
            body += sequential_read(name, file_size, iosize)
        elif kind == "seqwrite":
            body += sequential_write(name, file_size, iosize, tag=1 + i)
        elif kind == "seqread":
            body += sequential_read(name, file_size, iosize)
        elif kind == "randread":
            body += random_read(name, file_size, iosize, ops, rng)
        elif kind == "randwrite":
            body += random_write(name, file_size, iosize, ops, rng, tag0=1 + i * ops)
        elif kind == "mmap":
            body += mmap_touch(name, file_size, ops, rng, pagesize=pagesize, tag0=1 + i * ops)
    if kind == "mixed":
        body = mixed(dict.fromkeys(names, file_size), iosize, ops, rng)
    return Workload(kind, setup, tuple(body))
