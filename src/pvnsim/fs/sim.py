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

Each operation is a system call.  At its entry the clock advances by its
CPU cost (``syscall_ns`` plus ``copy_ns_per_byte`` per byte moved), disk
completions due by then run (in interrupt context: ``Disk.biodone``), and
the clock tick gives the daemons (pageout while memory is short, fsflush on
its period) their turn.

One thread (the default): the system calls run in the caller, the daemons'
ticks and pageout's reclaim run inline, and a sleep (biowait, a page lock
held by a write in flight, memory) runs the clock's events in time order
until it is over: the machine's scheduler is a one-thread
:class:`~pvnsim.sched.Simulation` (``switches=False``).

Threaded (``Machine(sim=...)`` or ``Machine(run=...)``): the machine lives
on the given simulation.  Each simulated process is a thread
(:meth:`Machine.process`) running a workload or a script; pageout and
fsflush are daemon threads (spawned first) that the clock tick kicks, and
pageout also wakes when an allocator must wait for memory
(``Kernel.memory_reclaim`` then wakes it and sleeps until it has reclaimed);
disk completions are interrupts.  With one process and no preemption the
threads take their turns exactly where the one-thread machine runs the
same code, so both give the same results.  Each file has a lock
(``i_rwlock``, :func:`~pvnsim.fs.inode.rw_enter`) that the system calls
changing it take as writers and read and load as readers.

With ``verify=True`` the simulation keeps the expected contents of every
file and checks every byte read against the last byte written.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import attrs

from pvnsim.errors import InvariantViolation, UsageError
from pvnsim.flags import PG_WAIT
from pvnsim.fs.calls import SystemCalls
from pvnsim.fs.config import SimConfig
from pvnsim.fs.disk import Disk, Fault
from pvnsim.fs.fs import Inode, RefFs
from pvnsim.fs.inode import rw_enter, rw_exit
from pvnsim.fs.metrics import Metrics
from pvnsim.fs.pageout import Fsflush, Pageout
from pvnsim.fs.workload import Op, pattern
from pvnsim.hooks import sleep
from pvnsim.kernel import Kernel
from pvnsim.sched import SimThread, Simulation
from pvnsim.vm.page import Page
from pvnsim.vm.page_lock import page_io_unlock
from pvnsim.vm.validate import check_kernel
from pvnsim.vm.vm_page import page_create_va, page_destroy

if TYPE_CHECKING:
    from pvnsim.concurrency import Run

__all__ = ["Machine", "SimConfig"]


#: Bytes of a preloaded file generated at a time (the file never is, whole).
_PRELOAD_PIECE = 1 << 20


def _preload(fs: RefFs, ino: Inode, size: int, tag: int) -> None:
    """Put ``pattern(tag, 0, size)`` on disk as a new file's contents, without
    I/O or time, a piece at a time."""
    if not size:
        return
    fs.bmap_write(ino, 0, size)
    bsize = fs.bsize
    piece = max(_PRELOAD_PIECE // bsize, 1) * bsize
    for start in range(0, size, piece):
        data = memoryview(pattern(tag, start, min(piece, size - start)))
        for at in range(0, len(data), bsize):
            fs.disk.poke(ino.bmap[(start + at) // bsize], data[at : at + bsize])
    ino.size = size


class Machine(SystemCalls):
    """A file system over a simulated disk under memory pressure.

    Build one with keyword arguments of :class:`SimConfig` (or a ``config``),
    then create files and run operations or whole workloads::

        sim = Machine(memory=16 << 20, verify=True)
        sim.create("f")
        sim.write("f", 0, b"hello")
        assert sim.read("f", 0, 5) == (0, b"hello")
        print(sim.metrics().table())

    Threaded, on a simulation of your own or on a run of
    :func:`pvnsim.concurrency.explore`::

        def setup(run):
            m = Machine(memory=64 * 4096, run=run, verify=True)
            m.create("f")
            m.process("writer", lambda m: (m.write("f", 0, b"x" * 8192), m.fsync("f")))
            m.process("reader", [Op("read", "f", 0, 8192)])
            return m

    Args:
        config: the configuration (default: ``SimConfig(**options)``).
        sim: run threaded on this :class:`~pvnsim.sched.Simulation` (one that
            has not run yet).
        run: run threaded on this :class:`~pvnsim.concurrency.Run`'s
            simulation; the kernel is attached to the run (its validators and
            trace apply).
        options: :class:`SimConfig` fields.

    Raises:
        UsageError: a bad configuration, both ``sim`` and ``run``, a
            simulation that is not a fresh Simulation, or a run whose
            simulation has threads named ``pageout`` or ``fsflush``.
    """

    def __init__(
        self,
        config: SimConfig | None = None,
        *,
        sim: Simulation | None = None,
        run: Run | None = None,
        **options: object,
    ) -> None:
        if sim is not None and run is not None:
            raise UsageError("Machine: give sim or run, not both")
        if run is not None:
            sim = getattr(run, "sim", None)
        if sim is not None and (not isinstance(sim, Simulation) or sim._ran):
            raise UsageError(f"Machine: sim must be a Simulation that has not run, not {sim!r}")
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
        #: Threaded: the processes and daemons are threads of :attr:`sched`.
        self.threaded = sim is not None
        self.sched = sim if sim is not None else Simulation(switches=False)
        self.clock = self.sched.clock
        self.disk = Disk(
            self.clock,
            seek_ns=c.seek_ns,
            overhead_ns=c.overhead_ns,
            ns_per_byte=c.ns_per_byte,
            keep_log=c.keep_log,
        )
        if run is not None:
            run.attach(k)
        else:
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
        self.fsflush = Fsflush(self.fs, self.clock, interval_ns=c.fsflush_interval_ns)
        if self.threaded:
            k.memory_reclaim = self.pageout.wake
            # Spawned before any process: with no preemption they run where
            # the one-thread machine runs their ticks (see the module
            # docstring).  They are not the scheduler's daemons, which are
            # stopped wherever they are when the run ends: they return once
            # every other thread is done, never in the middle of a push.
            # (No fsflush thread when fsflush is off: it would never run.)
            spawn = self.sched.spawn
            done = self._processes_done
            self.pageout.thread = spawn(self.pageout.daemon, done, name="pageout")
            if c.fsflush_interval_ns:
                self.fsflush.thread = spawn(self.fsflush.daemon, done, name="fsflush")
        else:
            k.memory_reclaim = self.pageout.reclaim
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
        # A system call's entry: its CPU time, then the clock tick.
        c = self.config
        self.ops += 1
        ns = c.syscall_ns + int(nbytes * c.copy_ns_per_byte)
        if self.threaded:
            self.sched.cpu(ns, "syscall")
        else:
            self.clock.advance(ns)
        self._tick()

    def _tick(self) -> None:
        # The kit's clock tick: daemons whose run is due run (in a threaded
        # machine: are kicked, and get the CPU first).
        pageout = self.pageout
        fsflush = self.fsflush
        if not self.threaded:
            pageout.tick()
            fsflush.tick()
            return
        kick = False
        if pageout.due():
            pageout.kicked = kick = True
        if fsflush.due():
            fsflush.kicked = kick = True
        if kick:
            self.sched.yield_cpu("clock tick")

    def sleep(self, ns: int) -> None:
        """Let ``ns`` nanoseconds of virtual time pass (daemons run)."""
        if ns < 0:
            raise UsageError(f"sleep: {ns} ns is negative")
        self._enter()
        if self.threaded:
            self.sched.delay(ns, f"sleep({ns} ns)")
        else:
            self.clock.advance(ns)
        self._tick()

    def settle(self) -> None:
        """Wait for every disk request in flight."""
        disk = self.disk
        if disk.queue:
            sleep(self.kernel, "the disk queue to drain", "disk", lambda: not disk.queue)

    # -- files ----------------------------------------------------------------

    def create(self, name: str, size: int = 0, tag: int = 0) -> Inode:
        """Create a file; with ``size``, its contents (``pattern(tag, ...)``)
        are put on disk directly, as if written long ago."""
        if size < 0:
            raise UsageError(f"create: size must not be negative, not {size}")
        if size:
            room = self.disk.room()
            if size > room:
                raise UsageError(
                    f"create: {name} of {size:,} bytes does not fit in the disk's store "
                    f"(a temporary file): {room:,} bytes are free in {self.disk.store_dir()}; "
                    "set TMPDIR to a larger file system"
                )
        ino = self.fs.create(name)
        self.ops += 1
        _preload(self.fs, ino, size, tag)
        if self.model is not None:
            self.model[name] = pattern(tag, 0, size)
        return ino

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

    # -- processes (a threaded machine) -------------------------------------------------

    def process(
        self,
        name: str,
        work: Iterable[Op] | Callable[[Machine], Any],
        *,
        check: bool = False,
    ) -> SimThread:
        """Spawn a simulated process: a thread running operations or a script.

        Args:
            name: the thread's name (not ``main``, ``pageout`` or ``fsflush``).
            work: operations (each applied with :meth:`apply`; the thread's
                ``result`` is the list of their errnos), or a function called
                with the machine (its return value is the ``result``).
            check: validate after every operation (see :meth:`run`).

        Returns:
            The thread (``thread.result`` once the run is over).

        Raises:
            UsageError: a one-thread machine, a reserved or taken name, or
                ``work`` neither callable nor operations.
        """
        if not self.threaded:
            raise UsageError(
                "process: this machine runs one thread; build it with Machine(sim=...) "
                "or Machine(run=...) for processes"
            )
        if name == "main":
            raise UsageError("process: 'main' is the name of code outside the threads")
        if callable(work):
            script = work
            return self.sched.spawn(lambda: script(self), name=name)
        ops = list(work)
        bad = [op for op in ops if not isinstance(op, Op)]
        if bad:
            raise UsageError(f"process: work must be Ops or a function, not {bad[0]!r}")

        def body() -> list[int]:
            errors = []
            for op in ops:
                errors.append(self.apply(op))
                if check:
                    self.check()
            return errors

        return self.sched.spawn(body, name=name)

    def _processes_done(self) -> bool:
        # Every thread of the simulation but pageout, fsflush and the
        # scheduler's daemons is over.
        mine = (self.pageout.thread, self.fsflush.thread)
        return all(t.done or t.daemon or t in mine for t in self.sched.threads)

    def run_processes(self) -> Metrics:
        """Run the processes to their end (a threaded machine on a simulation
        of its own; :func:`~pvnsim.concurrency.explore` runs its own) and
        return the metrics.

        Raises:
            UsageError: a one-thread machine.
            BaseException: whatever a thread raised (see
                :meth:`Simulation.run <pvnsim.sched.Simulation.run>`).
        """
        if not self.threaded:
            raise UsageError("run_processes: this machine runs one thread; use run(ops)")
        self.sched.run()
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

    def check_data(self, *names: str, disk: bool = False) -> None:
        """Check files' contents against the last writes (``verify=True``).

        Without I/O or time: the bytes a read would return now (``disk``:
        the bytes on disk, which an fsync that returned 0 must have put
        there; pvnsim's integrity property checks this).

        Called from a simulated process of a threaded machine, it looks at a
        file between system calls, as read does: while another process is
        inside a call that changes the file (write, truncate, an mmap store,
        munmap, which hold the file's lock as writers and bring the expected
        contents up to date when they are done), it waits for that call to
        finish, taking the file's lock as a reader.

        Raises:
            UsageError: the machine does not verify, or no such file.
            InvariantViolation: the first byte that differs, or the lengths.
        """
        model = self.model
        if model is None:
            raise UsageError("check_data: build the machine with verify=True")
        for name in names or tuple(model):
            ino = self._ino(name)
            me = self.kernel.curthread
            wait = (
                ino.writer is not None
                and ino.writer is not me
                and self.threaded
                and self.sched.current() not in ("main", "interrupt")
            )
            if wait:
                rw_enter(ino, False)
            try:
                got = self.fs.contents(ino, cached=not disk)
            finally:
                if wait:
                    rw_exit(ino, False)
            want = bytes(model[name])
            if got != want:
                where = "on disk" if disk else "in the file"
                self._mismatch(f"{name} ({where})", 0, got, want)

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
