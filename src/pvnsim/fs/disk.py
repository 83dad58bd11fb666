"""A simulated disk: a byte store, a FIFO request queue, a cost model in
virtual time, a request log and error injection.

Theory of operation
-------------------
The disk is addressed in bytes.  A request is costed when it is submitted:
it starts when the disk becomes free (requests are served first come, first
served), pays a seek when it does not start where the previous request ended,
a fixed per-request overhead, and a transfer time per byte.  Its completion
is an event on the :class:`~pvnsim.sched.clock.Clock` at its finish time; the
event moves the data (a write's payload, captured at submission, reaches the
store; a read's data is taken from the store) and then calls the request's
``on_done`` callback, the way ``biodone`` calls ``b_iodone``.

Whether a request fails is decided at submission by the armed
:class:`Fault` records, so the same inputs always fail the same requests.
A failed write leaves the store untouched; a failed read returns no data.

The store is a :class:`tempfile.SpooledTemporaryFile`: in memory while it
spans at most 64 MiB, then (for good) a sparse temporary file in
``tempfile.gettempdir()`` (``$TMPDIR``), whose unwritten bytes read as zeros
and take no room.  So the data of a large file lives in the operating
system's file cache and on its disk, not in this process's memory, and a
small disk (a test's, an explorer run's) costs no file.  The file is deleted
when the disk is closed or goes away.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections import deque
from collections.abc import Callable
from heapq import heappush
from typing import Any

import attrs

from pvnsim.errors import InternalError, InvariantViolation, UsageError
from pvnsim.flags import EIO
from pvnsim.sched.clock import Clock
from pvnsim.sched.interface import Scheduler

__all__ = ["Disk", "DiskRequest", "Fault"]

# Zeros written at once by discard (a freed range is zeroed piece by piece).
_ZEROS = bytes(1 << 20)
# A store stays in memory while it spans at most this many bytes.
_IN_MEMORY = 64 << 20
_KINDS = ("read", "write", "any")


@attrs.define(slots=True, eq=False, repr=False)
class DiskRequest:
    """One disk request and, once done, its outcome.

    Attributes:
        seq: 1-based number of the request on this disk.
        kind: ``"read"`` or ``"write"``.
        daddr: disk byte address; ``nbytes``: its length.
        is_async: the submitter did not wait for it.
        submit_ns, start_ns, finish_ns: virtual times.
        seek: whether it paid a seek.
        error: 0 or an errno (EIO for an injected fault).
        done: completion has run.
        data: a write's payload until it completes; a read's data while its
            ``on_done`` runs (the log keeps neither): a buffer ``on_done``
            may keep.
        tag: what the request is for (file, offset, pages), for the log.
        queued: requests already in the queue when it was submitted.
    """

    seq: int
    kind: str
    daddr: int
    nbytes: int
    is_async: bool
    submit_ns: int
    start_ns: int
    finish_ns: int
    seek: bool
    error: int
    # The tag as given to Disk.submit: text, or the parts the tag property
    # formats on first use (most requests' tags are never read).
    _tag: str | tuple[str, int, int] = attrs.field(alias="tag")
    queued: int
    data: bytes | bytearray | memoryview | None = None
    done: bool = False
    on_done: Callable[[DiskRequest], None] | None = attrs.field(default=None, repr=False)

    @property
    def tag(self) -> str:
        """What the request is for, as text (``file@offset+Np`` for the kit's)."""
        tag = self._tag
        if isinstance(tag, str):
            return tag
        name, off, npages = tag
        text = self._tag = f"{name}@{off:#x}+{npages}p"
        return text

    def __repr__(self) -> str:
        # attrs's repr, with the tag as text rather than the private field.
        shown = (a.name.lstrip("_") for a in attrs.fields(DiskRequest) if a.repr)
        return "DiskRequest(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in shown) + ")"

    def __str__(self) -> str:
        status = "pending" if not self.done else ("EIO" if self.error else "ok")
        mode = "async" if self.is_async else "sync"
        return (
            f"#{self.seq} {self.kind} {self.nbytes}B @{self.daddr:#x} {mode} "
            f"[{self.submit_ns}..{self.finish_ns}ns] {status} {self.tag}"
        )


@attrs.define(slots=True, eq=False)
class Fault:
    """An armed error injection (see :meth:`Disk.fail`).

    A request matches when its kind matches, it overlaps ``[start, end)`` (if
    given), and it is at least the ``nth`` matching request (if given).  A
    matching request fails while ``times`` (None: forever) is not used up.
    """

    kind: str
    start: int | None
    end: int | None
    nth: int | None
    times: int | None
    seen: int = 0
    fired: int = 0

    def match(self, kind: str, daddr: int, nbytes: int) -> bool:
        """Count the request and say whether it fails."""
        if self.kind != "any" and self.kind != kind:
            return False
        if self.start is not None and self.end is not None:
            if daddr + nbytes <= self.start or daddr >= self.end:
                return False
        self.seen += 1
        if self.nth is not None and self.seen < self.nth:
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        self.fired += 1
        return True

    @property
    def exhausted(self) -> bool:
        """A transient fault that has fired all its times."""
        return self.times is not None and self.fired >= self.times


class Disk:
    """A single-spindle disk in virtual time.

    Args:
        clock: the simulation's clock.
        seek_ns: cost of a request that does not start where the last ended.
        overhead_ns: fixed cost of every request (command processing).
        ns_per_byte: transfer cost (10 ns/B is 100 MB/s).
        keep_log: keep every request in :attr:`log`.

    Raises:
        UsageError: a negative cost.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        seek_ns: int = 4_000_000,
        overhead_ns: int = 50_000,
        ns_per_byte: float = 10.0,
        keep_log: bool = True,
    ) -> None:
        for name, value in (
            ("seek_ns", seek_ns),
            ("overhead_ns", overhead_ns),
            ("ns_per_byte", ns_per_byte),
        ):
            if value < 0:
                raise UsageError(f"Disk: {name} must not be negative, not {value}")
        self.clock = clock
        self.seek_ns = int(seek_ns)
        self.overhead_ns = int(overhead_ns)
        self.ns_per_byte = float(ns_per_byte)
        self.keep_log = keep_log
        self.log: list[DiskRequest] = []
        self.queue: deque[DiskRequest] = deque()
        self.faults: list[Fault] = []
        # The store (see the module docstring): created at the first write;
        # _end is the end of the furthest byte written.
        self._file: tempfile.SpooledTemporaryFile[bytes] | None = None
        #: The store has become a file (see the module docstring).
        self.spilled = False
        self._end = 0
        self._head = 0
        self._free_at = 0
        self._seq = 0
        self.reads = 0
        self.writes = 0
        self.bytes_read = 0
        self.bytes_written = 0
        self.seeks = 0
        self.errors = 0
        self.busy_ns = 0
        self.max_queue = 0
        # The completion event of every request (one bound method, made once).
        self._on_finish = self.biodone

    # -- the store ---------------------------------------------------------

    def peek(self, daddr: int, nbytes: int) -> bytearray:
        """The stored bytes at ``[daddr, daddr + nbytes)`` (no I/O, no time)."""
        out = bytearray(nbytes)
        f = self._file
        if f is not None and daddr < self._end:
            f.seek(daddr)
            f.readinto(memoryview(out)[: self._end - daddr])
        return out

    def poke(self, daddr: int, data: bytes | bytearray | memoryview) -> None:
        """Store ``data`` at ``daddr`` (no I/O, no time): a preloaded disk."""
        n = len(data)
        if not n:
            return
        end = daddr + n
        f = self._file
        if f is None:
            # Lives as long as the disk: closed by close() or when the disk goes.
            f = self._file = tempfile.SpooledTemporaryFile(  # noqa: SIM115
                _IN_MEMORY, prefix="pvnsim-disk-"
            )
            weakref.finalize(self, f.close)
        if end > _IN_MEMORY and not self.spilled:
            # A file from now on (in memory, the bytes before daddr would be
            # zeros taking room).
            f.rollover()
            self.spilled = True
        f.seek(daddr)
        f.write(data)
        if end > self._end:
            self._end = end

    def discard(self, daddr: int, nbytes: int) -> None:
        """Zero ``[daddr, daddr + nbytes)`` at once (freed space reads as zeros)."""
        end = min(daddr + nbytes, self._end)
        while daddr < end:
            n = min(end - daddr, len(_ZEROS))
            self.poke(daddr, memoryview(_ZEROS)[:n])
            daddr += n

    def close(self) -> None:
        """Drop the store (its file is deleted); the disk reads as empty afterwards."""
        if self._file is not None:
            self._file.close()
            self._file = None
            self.spilled = False
            self._end = 0

    @property
    def stored(self) -> int:
        """Bytes the store spans (its written extent, holes included)."""
        return self._end

    def store_dir(self) -> str:
        """The directory the store's file is (or will be) in."""
        return tempfile.gettempdir()

    def room(self) -> int:
        """Bytes still free on the file system that holds (or will hold) the store."""
        return shutil.disk_usage(self.store_dir()).free

    @property
    def allocated(self) -> int:
        """Bytes the store takes: in memory while it is small, then on the
        host's disk (less than :attr:`stored` where the file has holes)."""
        if self._file is None:
            return 0
        if not self.spilled:
            return self._end
        return os.fstat(self._file.fileno()).st_blocks * 512

    # -- faults --------------------------------------------------------------

    def fail(
        self,
        kind: str = "write",
        *,
        daddr: int | None = None,
        nbytes: int = 1,
        nth: int | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Arm an error injection; matching requests complete with EIO.

        Args:
            kind: ``"read"``, ``"write"`` or ``"any"``.
            daddr, nbytes: only requests overlapping this byte range match.
            nth: only the n-th matching request (1-based) and later ones.
            times: how many requests fail (transient); None: all (permanent).

        Returns:
            The :class:`Fault`, whose ``fired`` counts the failures so far.

        Raises:
            UsageError: an unknown kind or a non-positive count.
        """
        if kind not in _KINDS:
            raise UsageError(f"Disk.fail: kind must be one of {_KINDS}, not {kind!r}")
        if nth is not None and nth < 1:
            raise UsageError(f"Disk.fail: nth counts from 1, not {nth}")
        if times is not None and times < 1:
            raise UsageError(f"Disk.fail: times must be positive or None, not {times}")
        if daddr is not None and (daddr < 0 or nbytes < 1):
            raise UsageError(f"Disk.fail: bad range daddr={daddr} nbytes={nbytes}")
        end = None if daddr is None else daddr + nbytes
        fault = Fault(kind, daddr, end, nth, times)
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Disarm every error injection."""
        self.faults.clear()

    def _fails(self, kind: str, daddr: int, nbytes: int) -> bool:
        failed = False
        for fault in self.faults:
            if fault.match(kind, daddr, nbytes):
                failed = True
        return failed

    # -- requests ------------------------------------------------------------

    def submit(
        self,
        kind: str,
        daddr: int,
        nbytes: int,
        *,
        data: bytes | bytearray | None = None,
        is_async: bool = False,
        on_done: Callable[[DiskRequest], None] | None = None,
        tag: str | tuple[str, int, int] = "",
    ) -> DiskRequest:
        """Queue a request; its completion runs at its finish time.

        A write's ``data`` (exactly ``nbytes`` long) is captured now.  The
        caller of a synchronous request waits for it with
        :meth:`Simulation.block <pvnsim.sched.Simulation.block>` (or :meth:`wait`).  ``tag`` is text, or
        ``(file, offset, pages)``, which :attr:`DiskRequest.tag` turns into
        ``file@offset+Np`` only when it is read.

        Raises:
            UsageError: unknown kind, bad address or length, missing data.
        """
        if kind == "write":
            is_write = True
        elif kind == "read":
            is_write = False
        else:
            raise UsageError(f"Disk.submit: kind must be 'read' or 'write', not {kind!r}")
        if daddr < 0 or nbytes < 1:
            raise UsageError(f"Disk.submit: bad request daddr={daddr} nbytes={nbytes}")
        if not is_write:
            data = None
        elif data is None or len(data) != nbytes:
            raise UsageError("Disk.submit: a write needs exactly nbytes of data")
        clock = self.clock
        now = clock.now
        start = self._free_at
        if start < now:
            start = now
        cost = self.overhead_ns + int(nbytes * self.ns_per_byte)
        seek = daddr != self._head
        if seek:
            cost += self.seek_ns
            self.seeks += 1
        finish = start + cost
        seq = self._seq = self._seq + 1
        error = EIO if self.faults and self._fails(kind, daddr, nbytes) else 0
        queue = self.queue
        queued = len(queue)
        req = DiskRequest(
            seq,
            kind,
            daddr,
            nbytes,
            is_async,
            now,
            start,
            finish,
            seek,
            error,
            tag,
            queued,
            data,
            False,
            on_done,
        )
        self._head = daddr + nbytes
        self._free_at = finish
        self.busy_ns += cost
        if is_write:
            self.writes += 1
            self.bytes_written += nbytes
        else:
            self.reads += 1
            self.bytes_read += nbytes
        queue.append(req)
        if queued >= self.max_queue:
            self.max_queue = queued + 1
        if self.keep_log:
            self.log.append(req)
        # Clock.at, inlined (finish is never before now).
        clock._seq += 1
        fifo = clock._fifo
        if not fifo or fifo[-1][0] <= finish:
            fifo.append((finish, clock._seq, self._on_finish))
        else:
            heappush(clock._heap, (finish, clock._seq, self._on_finish))
        return req

    def biodone(self) -> None:
        """The disk's interrupt: the request at the head of the queue is done.

        It runs as a clock event, in interrupt context (a routine it calls
        may not sleep: :class:`~pvnsim.errors.InterruptSleep` names
        ``Disk.biodone``).  The data moves, ``done`` is set (waking a
        sleeper in :meth:`wait`), then the request's ``on_done`` runs, the
        way biodone calls ``b_iodone``.
        """
        # FIFO service: completions happen in submission order.
        req = self.queue.popleft()
        if req.error:
            self.errors += 1
        elif req.kind == "write":
            data = req.data
            if data is not None:
                self.poke(req.daddr, data)
        else:
            req.data = self.peek(req.daddr, req.nbytes)
        req.done = True
        on_done = req.on_done
        if on_done is not None:
            on_done(req)
        # The log keeps the record, not the bytes.
        req.data = None
        req.on_done = None

    def wait(self, req: DiskRequest) -> None:
        """Sleep until ``req`` is done (biowait).

        The sleep is the clock's simulation's (other threads run meanwhile;
        without threads, completions run until this one is done); a clock
        of its own just runs its events.
        """
        self._sleep(f"disk {req.kind} #{req.seq}", lambda: req.done)

    def drain(self) -> None:
        """Sleep until every request in flight is done."""
        self._sleep("the disk queue to drain", lambda: not self.queue)

    def _sleep(self, what: str, ready: Callable[[], bool]) -> None:
        if ready():
            return
        sched = self.clock.context
        if isinstance(sched, Scheduler):
            sched.block(what, "disk", ready)
        elif not self.clock.run_until(ready):
            raise InternalError(f"the disk never completed: waiting for {what}")

    # -- views ---------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters: requests, bytes, seeks, errors, busy time, deepest queue."""
        return {
            "reads": self.reads,
            "writes": self.writes,
            "bytes_read": self.bytes_read,
            "bytes_written": self.bytes_written,
            "seeks": self.seeks,
            "errors": self.errors,
            "busy_ns": self.busy_ns,
            "max_queue": self.max_queue,
        }

    def check(self) -> None:
        """Validate the queue: FIFO finish times, nothing done still queued.

        Raises:
            InvariantViolation: naming the broken request.
        """
        last = -1
        for req in self.queue:
            if req.done:
                raise InvariantViolation(f"disk: completed request {req} is still queued")
            if req.finish_ns < last or req.finish_ns < req.start_ns:
                raise InvariantViolation(f"disk: request {req} finishes out of order")
            last = req.finish_ns
        if len(self.queue) > self.clock.pending:
            raise InvariantViolation("disk: more queued requests than completion events")
