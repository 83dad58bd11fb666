"""A whole simulation: kernel, disk, file system, pageout and fsflush in
virtual time, driven by workload operations.

Theory of operation
-------------------
:class:`Machine` builds a :class:`~pvnsim.kernel.Kernel` with the
requested memory and pvn tunables, a :class:`~pvnsim.fs.disk.Disk` on a
:class:`~pvnsim.sched.Clock`, the reference file system
(:class:`~pvnsim.fs.fs.RefFs`), a :class:`~pvnsim.fs.pageout.Pageout`
plugged into ``Kernel.memory_reclaim`` and an
:class:`~pvnsim.fs.pageout.Fsflush`.

Each operation is a system call of the single simulated thread.  Before it,
the clock advances by its CPU cost (``syscall_ns`` plus ``copy_ns_per_byte``
per byte moved), disk completions due by then run, and the background
daemons (pageout while memory is short, fsflush on its period) get their
turn.  During it, the thread sleeps only by completing disk I/O: the machine's
scheduler is a one-thread :class:`~pvnsim.sched.Simulation`
(``switches=False``), whose sleeps run the clock's events in time order.

With ``verify=True`` the simulation keeps the expected contents of every
file and checks every byte read against the last byte written.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from pvnsim.errors import InvariantViolation, UsageError
from pvnsim.flags import EAGAIN, PG_WAIT
from pvnsim.fs import rdwr
from pvnsim.fs.disk import Disk, Fault
from pvnsim.fs.fs import Inode, RefFs
from pvnsim.fs.metrics import Metrics
from pvnsim.fs.pageout import Fsflush, Pageout
from pvnsim.fs.workload import Op, pattern
from pvnsim.hooks import sleep
from pvnsim.kernel import Kernel
from pvnsim.sched import Simulation
from pvnsim.vm.page import Page
from pvnsim.vm.page_lock import page_io_unlock
from pvnsim.vm.validate import check_kernel
from pvnsim.vm.vm_page import page_create_va, page_destroy

__all__ = ["Machine", "SimConfig"]

MiB = 1 << 20


def _nonneg(_inst: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and value < 0:
        raise UsageError(f"{attribute.name} must not be negative, not {value}")


@attrs.frozen(kw_only=True)
class SimConfig:
    """Every knob of a simulation (all optional; defaults model a small x86 box).

    Memory and disk:
        memory: bytes of simulated physical memory.
        pagesize: PAGESIZE.
        seek_ns, overhead_ns, ns_per_byte: the disk's cost model.
        keep_log: keep the disk's request log.

    File system:
        bsize: block size, the kluster window.
        vmodsort, readahead, write_behind, freebehind, smallfile, maxcontig:
            see :class:`~pvnsim.fs.fs.RefFs`.

    pvn tunables and thresholds (None: illumos defaults):
        pvn_nofodklust, pvn_write_noklust, pvn_vmodsort_disable, write_free,
        pages_before_pager, lotsfree, desfree, minfree, throttlefree,
        pageout_reserve.

    Time:
        syscall_ns, copy_ns_per_byte: CPU cost of an operation.
        fsflush_interval_ns: fsflush period (0: off; default 30 s, illumos's
            autoup).
        pageout_interval_ns, handspread: pageout's period and hand spread.

    Checking:
        verify: check every byte read against the last write.
        poison: fill every page page_create_va creates with a poison
            pattern (Kernel ``poison``): a page the file system forgets to
            fill reads back as DEADBEEF, which ``verify`` catches.
        seed: seed of the kernel's random generator (workload generators
            take their own).
    """

    memory: int = attrs.field(default=64 * MiB, validator=_nonneg)
    pagesize: int = 4096
    bsize: int = 8192
    seek_ns: int = attrs.field(default=4_000_000, validator=_nonneg)
    overhead_ns: int = attrs.field(default=50_000, validator=_nonneg)
    ns_per_byte: float = attrs.field(default=10.0, validator=_nonneg)
    keep_log: bool = True
    vmodsort: bool = True
    readahead: int = attrs.field(default=1, validator=_nonneg)
    write_behind: bool = True
    freebehind: bool = True
    smallfile: int = attrs.field(default=32768, validator=_nonneg)
    maxcontig: int = 16
    pvn_nofodklust: int = 0
    pvn_write_noklust: int = 0
    pvn_vmodsort_disable: int = 0
    write_free: int = 1
    pages_before_pager: int = attrs.field(default=200, validator=_nonneg)
    lotsfree: int | None = attrs.field(default=None, validator=_nonneg)
    desfree: int | None = attrs.field(default=None, validator=_nonneg)
    minfree: int | None = attrs.field(default=None, validator=_nonneg)
    throttlefree: int | None = attrs.field(default=None, validator=_nonneg)
    pageout_reserve: int | None = attrs.field(default=None, validator=_nonneg)
    syscall_ns: int = attrs.field(default=2_000, validator=_nonneg)
    copy_ns_per_byte: float = attrs.field(default=0.25, validator=_nonneg)
    fsflush_interval_ns: int = attrs.field(default=30_000_000_000, validator=_nonneg)
    pageout_interval_ns: int = attrs.field(default=250_000_000, validator=_nonneg)
    handspread: int | None = attrs.field(default=None, validator=_nonneg)
    verify: bool = False
    poison: bool = False
    seed: int = 0


def _preload(fs: RefFs, ino: Inode, data: bytes | bytearray) -> None:
    """Put ``data`` on disk as a new file's contents, without I/O or time."""
    if not data:
        return
    fs.bmap_write(ino, 0, len(data))
    bsize = fs.bsize
    view = memoryview(data)
    for lbn in range(0, (len(data) + bsize - 1) // bsize):
        fs.disk.poke(ino.bmap[lbn], view[lbn * bsize : (lbn + 1) * bsize])
    ino.size = len(data)


class Machine:
    """A file system over a simulated disk under memory pressure.

    Build one with keyword arguments of :class:`SimConfig` (or a ``config``),
    then create files and run operations or whole workloads::

        sim = Machine(memory=16 << 20, verify=True)
        sim.create("f")
        sim.write("f", 0, b"hello")
        assert sim.read("f", 0, 5) == (0, b"hello")
        print(sim.metrics().table())

    Raises:
        UsageError: a bad configuration.
    """

    def __init__(self, config: SimConfig | None = None, **options: object) -> None:
        if config is None:
            config = SimConfig(**options)  # type: ignore[arg-type]
        elif options:
            config = attrs.evolve(config, **options)  # type: ignore[arg-type]
        self.config = c = config
        total = c.memory // c.pagesize if c.pagesize > 0 else 0
        if total < 64:
            raise UsageError(f"memory must hold at least 64 pages, not {total}")
        self.kernel = k = Kernel(
            total_pages=total,
            pagesize=c.pagesize,
            lotsfree=c.lotsfree,
            desfree=c.desfree,
            minfree=c.minfree,
            throttlefree=c.throttlefree,
            pageout_reserve=c.pageout_reserve,
            pvn_nofodklust=c.pvn_nofodklust,
            pvn_write_noklust=c.pvn_write_noklust,
            pvn_vmodsort_disable=c.pvn_vmodsort_disable,
            write_free=c.write_free,
            pages_before_pager=c.pages_before_pager,
            seed=c.seed,
            poison=c.poison,
        )
        self.sched = Simulation(switches=False)
        self.clock = self.sched.clock
        self.disk = Disk(
            self.clock,
            seek_ns=c.seek_ns,
            overhead_ns=c.overhead_ns,
            ns_per_byte=c.ns_per_byte,
            keep_log=c.keep_log,
        )
        k.sched = self.sched
        self.fs = RefFs(
            k,
            self.disk,
            bsize=c.bsize,
            vmodsort=c.vmodsort,
            readahead=c.readahead,
            write_behind=c.write_behind,
            freebehind=c.freebehind,
            smallfile=c.smallfile,
            maxcontig=c.maxcontig,
        )
        self.pageout = Pageout(
            k, self.disk, handspread=c.handspread, interval_ns=c.pageout_interval_ns or 1
        )
        k.memory_reclaim = self.pageout.reclaim
        self.fsflush = Fsflush(self.fs, self.clock, interval_ns=c.fsflush_interval_ns)
        self.model: dict[str, bytearray] | None = {} if c.verify else None
        self.ops = 0
        self.errors = 0
        self._pinned: list[Page] = []
        self._hog = k.vnode("<pressure>")
        self._hog_next = 0
        #: Applies each operation of :meth:`run` when set (see pvnsim.fs.timeline).
        self.sampler: Callable[[Machine, Op], int] | None = None

    # -- time -----------------------------------------------------------------

    def _enter(self, nbytes: int = 0) -> None:
        c = self.config
        self.ops += 1
        self.clock.advance(c.syscall_ns + int(nbytes * c.copy_ns_per_byte))
        self.pageout.tick()
        self.fsflush.tick()

    def sleep(self, ns: int) -> None:
        """Let ``ns`` nanoseconds of virtual time pass (daemons run)."""
        if ns < 0:
            raise UsageError(f"sleep: {ns} ns is negative")
        self._enter()
        self.clock.advance(ns)
        self.pageout.tick()
        self.fsflush.tick()

    def settle(self) -> None:
        """Wait for every disk request in flight."""
        disk = self.disk
        if disk.queue:
            sleep(self.kernel, "the disk queue to drain", "disk", lambda: not disk.queue)

    # -- files ----------------------------------------------------------------

    def _ino(self, name: str) -> Inode:
        return self.fs.inode(name)

    def create(self, name: str, size: int = 0, tag: int = 0) -> Inode:
        """Create a file; with ``size``, its contents (``pattern(tag, ...)``)
        are put on disk directly, as if written long ago."""
        if size < 0:
            raise UsageError(f"create: size must not be negative, not {size}")
        ino = self.fs.create(name)
        self.ops += 1
        data = pattern(tag, 0, size) if size else b""
        _preload(self.fs, ino, data)
        if self.model is not None:
            self.model[name] = bytearray(data)
        return ino

    def write(self, name: str, off: int, data: bytes | bytearray) -> int:
        """write(2); returns 0 or an errno."""
        ino = self._ino(name)
        self._enter(len(data))
        err, done = rdwr.fs_write(self.fs, ino, off, data)
        model = self.model
        if model is not None and done:
            buf = model[name]
            if len(buf) < off:
                buf.extend(bytes(off - len(buf)))
            buf[off : off + done] = data[:done]
        return self._result(err)

    def read(self, name: str, off: int, n: int) -> tuple[int, bytes]:
        """read(2); returns (errno, data)."""
        ino = self._ino(name)
        self._enter(n)
        err, data = rdwr.fs_read(self.fs, ino, off, n)
        if self.model is not None:
            want = bytes(self.model[name][off : off + n])
            if err:
                want = want[: len(data)]
            if data != want:
                self._mismatch(name, off, data, want)
        return self._result(err), data

    def fsync(self, name: str) -> int:
        """fsync(2); returns 0 or the first write error."""
        ino = self._ino(name)
        self._enter()
        return self._result(rdwr.fs_fsync(self.fs, ino))

    def sync(self) -> int:
        """A pure B_ASYNC flush of every file; returns how many were busy."""
        self._enter()
        return rdwr.fs_sync(self.fs)

    def truncate(self, name: str, size: int) -> int:
        """Set the file's size; returns 0 or an errno."""
        ino = self._ino(name)
        self._enter()
        err = rdwr.fs_truncate(self.fs, ino, size)
        if self.model is not None:
            buf = self.model[name]
            if size < len(buf):
                del buf[size:]
            else:
                buf.extend(bytes(size - len(buf)))
        return self._result(err)

    def invalidate(self, name: str) -> int:
        """Write back and destroy the file's pages; returns 0 or an errno."""
        ino = self._ino(name)
        self._enter()
        return self._result(rdwr.fs_invalidate(self.fs, ino))

    def free(self, name: str, off: int, n: int) -> int:
        """Free-behind of a range (B_ASYNC | B_FREE | B_DONTNEED)."""
        ino = self._ino(name)
        self._enter()
        return self._result(rdwr.fs_free(self.fs, ino, off, n))

    def load(self, name: str, off: int, n: int = 8) -> tuple[int, bytes]:
        """An mmap load; returns (errno, data)."""
        ino = self._ino(name)
        self._enter(n)
        err, data = rdwr.fs_load(self.fs, ino, off, n)
        if self.model is not None and not err:
            want = bytes(self.model[name][off : off + n])
            if data != want:
                self._mismatch(name, off, data, want)
        return self._result(err), data

    def store(self, name: str, off: int, data: bytes | bytearray) -> int:
        """An mmap store; returns 0 or an errno (EFAULT past end of file)."""
        ino = self._ino(name)
        self._enter(len(data))
        err = rdwr.fs_store(self.fs, ino, off, data)
        if self.model is not None and not err:
            self.model[name][off : off + len(data)] = data
        return self._result(err)

    def munmap(self, name: str) -> int:
        """Unload the file's translations; returns how many."""
        ino = self._ino(name)
        self._enter()
        return rdwr.fs_munmap(self.fs, ino)

    def _result(self, err: int) -> int:
        if err and err != EAGAIN:
            self.errors += 1
        return int(err)

    def _mismatch(self, name: str, off: int, got: bytes, want: bytes) -> None:
        at = next((i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), 0)
        raise InvariantViolation(
            f"data mismatch in {name} at offset {off + at}: read {got[at : at + 8].hex()}, "
            f"last written {want[at : at + 8].hex()} (lengths {len(got)}, {len(want)})"
        )

    # -- memory pressure and faults -------------------------------------------------

    def set_pressure(self, pages: int) -> None:
        """Pin ``pages`` pages of memory away from the file system (0 releases).

        Pinning allocates with page_create_va(PG_WAIT), so it may run pageout.

        Raises:
            UsageError: more than leaves the file system a working margin.
        """
        k = self.kernel
        margin = k.throttlefree + 4 * (self.fs.bsize // k.pagesize) + 16  # type: ignore[operator]
        if pages < 0 or pages > k.total_pages - margin:
            raise UsageError(
                f"pressure: can pin 0..{k.total_pages - margin} pages of {k.total_pages}, not {pages}"
            )
        self._enter()
        while len(self._pinned) > pages:
            page_destroy(self._pinned.pop(), 0)
        while len(self._pinned) < pages:
            pp = page_create_va(self._hog, self._hog_next, k.pagesize, PG_WAIT, None, 0)
            assert pp is not None  # PG_WAIT never fails
            self._hog_next += k.pagesize
            page_io_unlock(pp)
            self._pinned.append(pp)

    @property
    def pressure(self) -> int:
        """Pages pinned by :meth:`set_pressure`."""
        return len(self._pinned)

    def fail_block(self, name: str, off: int, kind: str = "write", times: int | None = 1) -> Fault:
        """Make requests touching the disk block that holds ``off`` of ``name`` fail.

        Args:
            kind: ``"read"``, ``"write"`` or ``"any"``.
            times: failures before the block works again; None: never again.

        Raises:
            UsageError: the block is not allocated (a hole).
        """
        ino = self._ino(name)
        bsize = self.fs.bsize
        daddr = ino.bmap.get(off // bsize)
        if daddr is None:
            raise UsageError(f"fail: {name}@{off:#x} is in a hole (no disk block)")
        fault = self.disk.fail(kind, daddr=daddr, nbytes=bsize, times=times)
        self.ops += 1
        return fault

    # -- workloads --------------------------------------------------------------------

    def apply(self, op: Op) -> int:
        """Run one operation; returns its errno (0 on success)."""
        kind = op.kind
        if kind == "write":
            return self.write(op.file, op.off, pattern(op.tag, op.off, op.length))
        if kind == "read":
            return self.read(op.file, op.off, op.length)[0]
        if kind == "load":
            return self.load(op.file, op.off, op.length or 8)[0]
        if kind == "store":
            return self.store(op.file, op.off, pattern(op.tag, op.off, op.length or 8))
        if kind == "fsync":
            return self.fsync(op.file)
        if kind == "create":
            self.create(op.file, op.length, op.tag)
            return 0
        if kind == "sync":
            self.sync()
            return 0
        if kind == "truncate":
            return self.truncate(op.file, op.length)
        if kind == "invalidate":
            return self.invalidate(op.file)
        if kind == "free":
            return self.free(op.file, op.off, op.length)
        if kind == "munmap":
            self.munmap(op.file)
            return 0
        if kind == "sleep":
            self.sleep(op.length)
            return 0
        if kind == "pressure":
            self.set_pressure(op.length)
            return 0
        # "fail" (Op validated the kind).
        self.fail_block(op.file, op.off, op.arg or "write", op.tag or None)
        return 0

    def run(
        self,
        ops: Iterable[Op],
        *,
        check: bool = False,
        progress: Callable[[int], None] | None = None,
        every: int = 1000,
    ) -> Metrics:
        """Run operations in order and return the metrics.

        Args:
            check: validate kernel, file system and disk after every step.
            progress: called with the number of operations done, every
                ``every`` operations and at the end.
        """
        done = 0
        for op in ops:
            if self.sampler is None:
                self.apply(op)
            else:
                self.sampler(self, op)
            done += 1
            if check:
                self.check()
            if progress is not None and done % every == 0:
                progress(done)
        if progress is not None:
            progress(done)
        return self.metrics()

    # -- views ------------------------------------------------------------------------

    def check(self) -> None:
        """Run every validator: kernel, file system, disk, and file sizes.

        Raises:
            InvariantViolation: naming what is broken.
        """
        check_kernel(self.kernel)
        self.fs.check()
        self.disk.check()
        if self.model is not None:
            for name, buf in self.model.items():
                size = self.fs.inodes[name].size
                if size != len(buf):
                    raise InvariantViolation(f"file {name} is {size} bytes, expected {len(buf)}")

    def metrics(self) -> Metrics:
        """What the simulation has counted so far."""
        k = self.kernel
        d = self.disk
        s = self.fs.stats
        po = self.pageout
        return Metrics(
            virtual_ns=self.clock.now,
            ops=self.ops,
            disk_reads=d.reads,
            disk_writes=d.writes,
            bytes_read=d.bytes_read,
            bytes_written=d.bytes_written,
            seeks=d.seeks,
            disk_errors=d.errors,
            disk_busy_ns=d.busy_ns,
            max_queue=d.max_queue,
            read_klusters=tuple(sorted(s.read_klusters.items())),
            write_klusters=tuple(sorted(s.write_klusters.items())),
            pages_created=s.pages_created,
            pages_freed=s.pages_freed,
            pages_destroyed=s.pages_destroyed,
            pages_reclaimed=k.vm.pgfrec,
            getpage_hits=s.getpage_hits,
            getpage_misses=s.getpage_misses,
            zero_fills=s.zero_fills,
            readahead_issued=s.readahead_issued,
            readahead_giveups=s.readahead_giveups,
            write_behind=s.write_behind,
            free_behind=s.free_behind,
            pageout_scanned=po.scanned,
            pageout_freed=po.freed,
            pageout_pushed=po.pushed,
            pageout_reclaims=po.reclaims,
            fsflush_runs=self.fsflush.runs,
            freemem=k.freemem,
            vm=tuple(k.vm.as_dict().items()),
        )


def __getattr__(name: str) -> object:
    # The kit's machine was called Simulation before 0.2, a name pvnsim.sched
    # also uses; the old name stays for one release.
    if name == "Simulation":
        warnings.warn(
            "pvnsim.fs.Simulation is now pvnsim.fs.Machine", DeprecationWarning, stacklevel=2
        )
        return Machine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
