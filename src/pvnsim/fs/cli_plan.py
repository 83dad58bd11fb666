"""What a ``pvnsim simulate`` run will ask of the machine, before it runs.

Theory of operation
-------------------
The simulation keeps everything in this process's memory: the disk's
contents, the simulated pages that hold file data, the list of operations,
and with ``--verify`` a second copy of every file.  A run whose sizes do not
fit would end in a ``MemoryError`` (or in the machine swapping) minutes
later, so the command sums up its demand first (:class:`Demand`, from the
workload's options or from the trace's operations), turns it into bytes of
host memory (:func:`footprint`) and seconds (:func:`estimate_seconds`), and
refuses or warns before doing any work.

The figures are estimates, a little on the safe side: the costs per byte and
per operation were measured on the development machine (2 cores, CPython
3.11) and are meant to tell seconds from hours, not to time a run.
"""

from __future__ import annotations

import math
import os

import attrs

from pvnsim.fs.workload import Op

__all__ = [
    "BYTES_PER_OP",
    "Demand",
    "available_memory",
    "estimate_seconds",
    "footprint",
    "format_bytes",
    "format_seconds",
    "format_size",
    "trace_demand",
    "workload_demand",
]

# Host memory: the interpreter and pvnsim, one operation in the list, and one
# resident simulated page beyond its data (Page object, hash entries).
_BASE_BYTES = 48 << 20
#: Host memory one operation of a workload's list takes.
BYTES_PER_OP = 200
_PAGE_BYTES = 768
# The disk stores data in 1 MiB chunks: a write may touch one more than its length.
_CHUNK = 1 << 20
# Wall time: per operation, per byte moved, per byte preloaded, and per page
# checked by --check after each operation.
_NS_PER_OP = 4_000
_NS_PER_BYTE_MOVED = 2.5
_NS_PER_BYTE_CREATED = 2.5
_NS_PER_PAGE_CHECKED = 300


@attrs.frozen
class Demand:
    """What a run asks for, in the workload's own terms.

    Attributes:
        ops: operations, setup included.
        data: bytes of file contents, each file at its largest.
        stored: bytes the simulated disk may come to hold (at most ``data``,
            less where files are sparse).
        created: bytes put on disk by ``create`` before any I/O.
        buffer: the largest number of bytes one operation moves at once.
        moved: bytes read and written by all operations.
        data_cause: what, in the user's words, makes ``data`` what it is.
        ops_cause: what makes ``ops`` what it is.
    """

    ops: int
    data: int
    stored: int
    created: int
    buffer: int
    moved: int
    data_cause: str
    ops_cause: str


def _workload_ops(kind: str, files: int, chunks: int, ops: int) -> int:
    """Operations :func:`~pvnsim.fs.workload.build_workload` makes, setup included.

    ``mixed`` is an upper bound: one roll in a hundred truncates and regrows.
    """
    per_file = {
        "seq": 2 * chunks + 1,
        "seqwrite": chunks + 1,
        "seqread": chunks,
        "randread": ops,
        "randwrite": ops + 1,
        "mmap": ops + 2,
    }
    if kind == "mixed":
        return files + 2 * ops + 2 * files
    return files + files * per_file[kind]


def workload_demand(kind: str, *, files: int, file_size: int, iosize: int, ops: int) -> Demand:
    """The demand of one of the built-in workloads, without building it.

    Args:
        kind, files, file_size, iosize, ops: as for
            :func:`~pvnsim.fs.workload.build_workload`.
    """
    chunks = -(-file_size // iosize)
    data = files * file_size
    preload = kind not in ("seq", "seqwrite")
    moved = {
        "seq": 2 * data,
        "seqwrite": data,
        "seqread": data,
        "randread": files * ops * iosize,
        "randwrite": files * ops * iosize,
        "mmap": files * ops * 8,
        "mixed": ops * iosize,
    }[kind]
    return Demand(
        ops=_workload_ops(kind, files, chunks, ops),
        data=data,
        stored=data,
        created=data if preload else 0,
        buffer=max(iosize, file_size if preload else 0),
        moved=moved,
        data_cause=f"--files {files} --file-size {format_size(file_size)}",
        ops_cause=(
            f"--io-size {format_size(iosize)}"
            if kind in ("seq", "seqwrite", "seqread")
            else f"--ops {ops}"
        ),
    )


def trace_demand(ops: list[Op], source: str) -> Demand:
    """The demand of a trace's operations.

    Files are followed in order: a read moves at most what the file holds
    by then, a write past the end makes the file that long.
    """
    extent: dict[str, int] = {}
    written: dict[str, int] = {}
    created = buffer = moved = 0
    biggest = ("", 0)
    for op in ops:
        kind, name = op.kind, op.file
        if kind == "create":
            extent[name] = written[name] = op.length
            created += op.length
            buffer = max(buffer, op.length)
        elif kind in ("write", "store"):
            n = op.length or 8
            extent[name] = max(extent.get(name, 0), op.off + n)
            written[name] = written.get(name, 0) + n + _CHUNK
            buffer = max(buffer, n)
            moved += n
        elif kind in ("read", "load"):
            n = min(op.length or 8, max(0, extent.get(name, 0) - op.off))
            buffer = max(buffer, n)
            moved += n
        elif kind == "truncate":
            extent[name] = max(extent.get(name, 0), op.length)
        if name and extent.get(name, 0) > biggest[1]:
            biggest = (name, extent[name])
    data = sum(extent.values())
    return Demand(
        ops=len(ops),
        data=data,
        stored=sum(min(extent[f], written.get(f, 0)) for f in extent),
        created=created,
        buffer=buffer,
        moved=moved,
        data_cause=f"{source}: its largest file, {biggest[0]!r}, reaches "
        f"{format_bytes(biggest[1])}",
        ops_cause=source,
    )


def footprint(demand: Demand, *, memory: int, pagesize: int, verify: bool) -> int:
    """Bytes of host memory the run may use at its peak.

    The disk's contents, the resident simulated pages (at most ``memory``,
    at most the files), the operation list and, with ``verify``, the
    expected contents of every file stay for the whole run; on top of them
    comes the largest single operation's data, twice (the data and its copy).
    """
    resident = min(memory, demand.data)
    pages = resident + -(-resident // pagesize) * _PAGE_BYTES
    return (
        _BASE_BYTES
        + demand.stored
        + pages
        + demand.ops * BYTES_PER_OP
        + (demand.data if verify else 0)
        + 2 * demand.buffer
    )


def estimate_seconds(demand: Demand, *, memory: int, pagesize: int, check: bool) -> float:
    """Rough wall-clock seconds of the run (see the module's note on accuracy)."""
    ns = (
        demand.ops * _NS_PER_OP
        + demand.moved * _NS_PER_BYTE_MOVED
        + demand.created * _NS_PER_BYTE_CREATED
    )
    if check:
        pages = min(memory, demand.data) // pagesize
        ns += demand.ops * pages * _NS_PER_PAGE_CHECKED
    return ns / 1e9


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def available_memory() -> int | None:
    """Bytes this process can still take: the machine's available memory,
    capped by an address-space limit (``ulimit -v``); None if unknown."""
    avail = _meminfo_available()
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Unix
        return avail
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        used = 0
        try:
            with open("/proc/self/statm", encoding="ascii") as f:
                used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            pass
        room = max(0, soft - used)
        avail = room if avail is None else min(avail, room)
    return avail


def format_bytes(n: int) -> str:
    """A byte count for people, in binary units.

    >>> format_bytes(64 << 30), format_bytes(1536), format_bytes(12)
    ('64 GiB', '1.5 KiB', '12 B')
    """
    for unit, shift in (("PiB", 50), ("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            value = n / (1 << shift)
            text = f"{value:.1f}".removesuffix(".0") if value < 100 else f"{value:,.0f}"
            return f"{text} {unit}"
    return f"{n} B"


def format_size(n: int) -> str:
    """A size the way a user types it: the largest suffix that divides it.

    >>> format_size(64 << 30), format_size(16384), format_size(3000)
    ('64G', '16K', '3000')
    """
    for suffix, shift in (("P", 50), ("T", 40), ("G", 30), ("M", 20), ("K", 10)):
        if n and n % (1 << shift) == 0:
            return f"{n >> shift}{suffix}"
    return str(n)


def format_seconds(s: float) -> str:
    """A rough duration for people.

    >>> format_seconds(42), format_seconds(150), format_seconds(7200)
    ('42 s', '3 minutes', '2 hours')
    """
    if s < 90:
        return f"{math.ceil(s)} s"
    if s < 90 * 60:
        return f"{round(s / 60)} minutes"
    if s < 48 * 3600:
        return f"{round(s / 3600)} hours"
    return f"{round(s / 86400):,} days"
