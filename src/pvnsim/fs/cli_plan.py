"""Checking a ``pvnsim simulate`` run before it starts: its options, and what it
will ask of the machine.

Theory of operation
-------------------
:func:`prepare` turns parsed options into a :class:`Plan`.  It first checks
what depends on several options (:func:`check_options`: memory against page
size, block size against page size, the free-memory thresholds against each
other and against memory), builds the simulation, and reads the trace.

The simulation keeps in this process's memory the simulated pages that hold
file data, the list of operations, and with ``--verify`` a second copy of
every file; the disk's contents go to a sparse temporary file (in
``$TMPDIR``, see :mod:`pvnsim.fs.disk`).  A run whose sizes do not fit would
end in a ``MemoryError`` (or in the machine swapping, or a full disk)
minutes later, so the command sums up its demand first (:class:`Demand`,
from the workload's options or from the trace's operations), turns it into
bytes of host memory (:func:`footprint`), bytes of the temporary directory
(:attr:`Demand.stored`, against :func:`store_room`) and seconds
(:func:`estimate_seconds`), and refuses or warns before doing any work.

The figures are estimates, a little on the safe side: the costs per byte and
per operation were measured on the development machine (2 cores, CPython
3.11) and are meant to tell seconds from hours, not to time a run.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import shutil
import tempfile

import attrs

from pvnsim.errors import UsageError
from pvnsim.fs.sim import Machine, SimConfig
from pvnsim.fs.tracefile import load_trace
from pvnsim.fs.workload import Op, build_workload

__all__ = [
    "BYTES_PER_OP",
    "SLOW_SECONDS",
    "Demand",
    "Plan",
    "available_memory",
    "check_options",
    "estimate_seconds",
    "footprint",
    "format_bytes",
    "format_seconds",
    "format_size",
    "prepare",
    "store_room",
    "trace_demand",
    "warnings_for",
    "workload_demand",
]

# Host memory: the interpreter and pvnsim, one operation in the list, and one
# resident simulated page beyond its data (Page object, hash entries).
_BASE_BYTES = 48 << 20
#: Host memory one operation of a workload's list takes.
BYTES_PER_OP = 200
_PAGE_BYTES = 768
# A write may make the store hold up to a kluster (at most 1 MiB) beyond its bytes.
_WRITE_GRAIN = 1 << 20
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
        ops_bound: ``ops`` is an upper bound (the ``mixed`` workload's
            count depends on its random draws), not the count.
    """

    ops: int
    data: int
    stored: int
    created: int
    buffer: int
    moved: int
    data_cause: str
    ops_cause: str
    ops_bound: bool = False

    def ops_text(self) -> str:
        """``"N operations"``, or ``"up to N operations"`` for a bound."""
        return f"{'up to ' if self.ops_bound else ''}{self.ops:,} operations"


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
        # A preloaded file is generated a piece (1 MiB) at a time.
        buffer=max(iosize, min(file_size, 1 << 20) if preload else 0),
        moved=moved,
        data_cause=f"--files {files} --file-size {format_size(file_size)}",
        ops_cause=(f"--files {files} " if files > 1 else "")
        + (
            f"--io-size {format_size(iosize)}"
            if kind in ("seq", "seqwrite", "seqread")
            else f"--ops {ops}"
        ),
        ops_bound=kind == "mixed",
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
            buffer = max(buffer, min(op.length, 1 << 20))  # preloaded a piece at a time
        elif kind in ("write", "store"):
            n = op.length or 8
            extent[name] = max(extent.get(name, 0), op.off + n)
            written[name] = written.get(name, 0) + n + _WRITE_GRAIN
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

    The resident simulated pages (at most ``memory``, at most the files),
    the operation list and, with ``verify``, the expected contents of every
    file stay for the whole run; on top of them comes the largest single
    operation's data, twice (the data and its copy).  The disk's contents are
    not in memory (see :func:`store_room`).
    """
    resident = min(memory, demand.data)
    pages = resident + -(-resident // pagesize) * _PAGE_BYTES
    return (
        _BASE_BYTES
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


def store_room() -> int | None:
    """Bytes free where the disk's store goes (the temporary directory); None
    if unknown."""
    try:
        return shutil.disk_usage(tempfile.gettempdir()).free
    except OSError:
        return None


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


#: Runs expected to last longer than this many seconds are warned about.
SLOW_SECONDS = 20.0
_MIN_PAGES = 64
_MAX_BLOCK = 1 << 20


# -- checks that involve several options ---------------------------------------------


def _power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def check_options(args: argparse.Namespace) -> None:
    """Check what depends on several options, before anything is built.

    Raises:
        UsageError: naming the options, their values and what is allowed.
    """
    ps = args.pagesize
    if not (_power_of_two(ps) and 512 <= ps <= _MAX_BLOCK):
        raise UsageError(
            f"--pagesize {format_size(ps)}: must be a power of two from 512 to 1M "
            "(4096 on x86, 8192 on SPARC)"
        )
    if not (_power_of_two(args.block_size) and ps <= args.block_size <= _MAX_BLOCK):
        raise UsageError(
            f"--block-size {format_size(args.block_size)}: must be a power of two from "
            f"--pagesize ({format_size(ps)}) to 1M"
        )
    pages = args.memory // ps
    if pages < _MIN_PAGES:
        raise UsageError(
            f"--memory {format_size(args.memory)}: holds {pages} pages of {ps} bytes; the "
            f"simulation needs at least {_MIN_PAGES} (--memory {format_size(_MIN_PAGES * ps)})"
        )
    if args.trace is None:
        for option, value in (
            ("--files", args.files),
            ("--file-size", args.file_size),
            ("--io-size", args.io_size),
        ):
            if value < 1:
                raise UsageError(f"{option} {value}: must be at least 1")
    for option, value in (
        ("--pages-before-pager", args.pages_before_pager),
        ("--lotsfree", args.lotsfree),
        ("--desfree", args.desfree),
        ("--minfree", args.minfree),
        ("--throttlefree", args.throttlefree),
    ):
        if value is not None and value >= pages:
            raise UsageError(
                f"{option} {value}: must be below the {pages:,} pages of "
                f"--memory {format_size(args.memory)}"
            )


def _check_thresholds(args: argparse.Namespace, sim: Machine) -> None:
    """lotsfree >= desfree >= minfree >= throttlefree, as illumos's setupclock keeps them."""
    k = sim.kernel
    chain = [
        ("lotsfree", k.lotsfree),
        ("desfree", k.desfree),
        ("minfree", k.minfree),
        ("throttlefree", k.throttlefree),
    ]
    for (big, bv), (small, sv) in itertools.pairwise(chain):
        assert bv is not None and sv is not None
        if sv > bv:

            def said(name: str, value: int) -> str:
                given = getattr(args, name) is not None
                return f"--{name} {value}" if given else f"{name} {value} (the default)"

            hint = "" if getattr(args, big) is not None else f" (set --{big} too)"
            raise UsageError(
                f"{said(small, sv)} is above {said(big, bv)}: the thresholds must keep "
                f"lotsfree >= desfree >= minfree >= throttlefree{hint}"
            )


def _config(args: argparse.Namespace) -> SimConfig:
    return SimConfig(
        memory=args.memory,
        pagesize=args.pagesize,
        bsize=args.block_size,
        seek_ns=args.seek_ns,
        overhead_ns=args.overhead_ns,
        ns_per_byte=args.ns_per_byte,
        keep_log=False,
        vmodsort=not args.no_vmodsort,
        readahead=args.readahead,
        maxcontig=args.maxcontig,
        write_behind=not args.no_write_behind,
        freebehind=not args.no_freebehind,
        pvn_nofodklust=int(args.pvn_nofodklust),
        pvn_write_noklust=int(args.pvn_write_noklust),
        pvn_vmodsort_disable=int(args.pvn_vmodsort_disable),
        write_free=args.write_free,
        pages_before_pager=args.pages_before_pager,
        lotsfree=args.lotsfree,
        desfree=args.desfree,
        minfree=args.minfree,
        throttlefree=args.throttlefree,
        fsflush_interval_ns=args.fsflush_ms,
        verify=args.verify,
        seed=args.seed,
    )


# -- the plan ------------------------------------------------------------------------


@attrs.define
class Plan:
    """A checked run: the simulation, what it will run, and what it will cost.

    Attributes:
        sim: the simulation, built.
        what: the summary's words for the workload.
        demand: what the run asks for.
        needs: bytes of host memory at the peak (estimate).
        seconds: wall time (estimate).
        trace_ops: a trace's operations; None for a built-in workload, which
            :meth:`operations` builds.
        args: the parsed options.
    """

    sim: Machine
    what: str
    demand: Demand
    needs: int
    seconds: float
    trace_ops: list[Op] | None
    args: argparse.Namespace

    def operations(self) -> tuple[list[Op], list[Op]]:
        """The setup operations (file creation) and the timed ones."""
        if self.trace_ops is not None:
            return [], self.trace_ops
        a = self.args
        w = build_workload(
            a.workload,
            files=a.files,
            file_size=a.file_size,
            iosize=a.io_size,
            ops=a.ops,
            seed=a.seed,
            pagesize=a.pagesize,
        )
        return list(w.setup), list(w.ops)


def _shown(path: str) -> str:
    """A path as text any terminal can print (undecodable bytes escaped)."""
    return path.encode("utf-8", "backslashreplace").decode("utf-8")


def _read_trace(path: str, avail: int | None) -> list[Op]:
    # A parsed line costs about 40 times its text; refuse before reading a
    # file whose operations alone could not fit.
    try:
        size = os.stat(path).st_size
    except OSError:
        size = 0  # load_trace reports why it cannot be read
    if avail is not None and size * 40 > avail:
        raise UsageError(
            f"--trace {_shown(path)}: {format_bytes(size)} of text is about {format_bytes(size * 40)} "
            f"of operations in memory; {format_bytes(avail)} is available"
        )
    return load_trace(path)


def prepare(args: argparse.Namespace) -> Plan:
    """Check every option, build the simulation and estimate the run's cost.

    Raises:
        UsageError: one line naming the option (or trace line) and what is allowed.
    """
    check_options(args)
    sim = Machine(_config(args))
    _check_thresholds(args, sim)
    avail = available_memory()
    trace_ops: list[Op] | None = None
    if args.trace is not None:
        trace_ops = _read_trace(args.trace, avail)
        shown = _shown(args.trace)
        demand = trace_demand(trace_ops, f"--trace {shown}")
        what = f"trace {shown}"
    else:
        what = f"workload {args.workload}"
        demand = _demand(args, args.file_size, args.io_size)
    needs = _footprint(demand, args)
    if avail is not None and needs > avail:
        raise UsageError(
            f"this run needs about {format_bytes(needs)} of this machine's memory, for "
            f"{_needs_why(demand, args)}; {format_bytes(avail)} is available"
            f"{_what_fits(args, avail)}"
        )
    room = store_room()
    if room is not None and demand.stored > room:
        raise UsageError(
            f"this run stores about {format_bytes(demand.stored)} of file data "
            f"({demand.data_cause}) in a temporary file; {format_bytes(room)} is free in "
            f"{_shown(tempfile.gettempdir())} (set TMPDIR to a larger file system)"
            f"{_what_stores(args, room)}"
        )
    seconds = estimate_seconds(demand, memory=args.memory, pagesize=args.pagesize, check=args.check)
    return Plan(sim, what, demand, needs, seconds, trace_ops, args)


def _demand(args: argparse.Namespace, file_size: int, iosize: int) -> Demand:
    return workload_demand(
        args.workload, files=args.files, file_size=file_size, iosize=iosize, ops=args.ops
    )


def _footprint(demand: Demand, args: argparse.Namespace) -> int:
    return footprint(demand, memory=args.memory, pagesize=args.pagesize, verify=args.verify)


def _what_fits(args: argparse.Namespace, avail: int) -> str:
    """For a built-in workload: a larger --io-size or a smaller --file-size that fits."""
    if args.trace is not None:
        return ""
    io = args.io_size
    while io < args.file_size:
        io = 1 << io.bit_length()  # the next power of two
        if _footprint(_demand(args, args.file_size, io), args) <= avail:
            return f"; --io-size {format_size(io)} would fit"
    size = 1 << (args.file_size.bit_length() - 1)
    while size >= 1 << 20:
        if _footprint(_demand(args, size, min(args.io_size, size)), args) <= avail:
            return f"; --file-size {format_size(size)} would fit"
        size >>= 1
    return ""


def _what_stores(args: argparse.Namespace, room: int) -> str:
    """For a built-in workload: a smaller --file-size whose data fits in ``room``."""
    if args.trace is not None:
        return ""
    size = 1 << (args.file_size.bit_length() - 1)
    while size >= 1 << 20:
        if _demand(args, size, min(args.io_size, size)).stored <= room:
            return f"; --file-size {format_size(size)} would fit"
        size >>= 1
    return ""


def _needs_why(demand: Demand, args: argparse.Namespace) -> str:
    parts = [f"{format_bytes(min(args.memory, demand.data))} of simulated memory"]
    if args.verify:
        parts.append(f"a copy of {format_bytes(demand.data)} of file data for --verify")
    if demand.ops * BYTES_PER_OP >= 1 << 30:
        parts.append(f"{demand.ops:,} operations ({demand.ops_cause})")
    if demand.buffer >= 1 << 30:
        parts.append(f"{format_bytes(demand.buffer)} moved by one operation")
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]


def warnings_for(plan: Plan) -> list[str]:
    """What to tell the user before the run: slow, or close to the memory available."""
    out = []
    a = plan.args
    if plan.seconds >= SLOW_SECONDS:
        why = [plan.demand.ops_text()]
        if a.trace is None and a.io_size < a.pagesize:
            why.append(f"--io-size {a.io_size} moves less than a page per operation")
        if a.check:
            why.append("--check validates every page after every operation")
        out.append(
            f"this run may take about {format_seconds(plan.seconds)} ({'; '.join(why)}); "
            "Ctrl-C stops it"
        )
    avail = available_memory()
    if avail is not None and plan.needs > avail * 3 // 4:
        out.append(
            f"this run needs about {format_bytes(plan.needs)} of the {format_bytes(avail)} "
            "of memory available"
        )
    return out
