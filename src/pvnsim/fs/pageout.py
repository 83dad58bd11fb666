"""Memory pressure in virtual time: a pageout scanner and an fsflush-like
periodic flusher.

Theory of operation
-------------------
:class:`Pageout` is a two-handed clock over the kernel's physical pages, in
the manner of illumos's ``pageout_scanner``/``checkpage``.  The front hand
folds each page's hardware bits in and clears its reference bit; the back
hand, ``handspread`` pages behind, looks at the page again: a page referenced
since the front hand passed is kept; otherwise its translations are unloaded
and it is freed to the cache list (clean) or pushed with
``VOP_PUTPAGE(vp, off, PAGESIZE, B_ASYNC | B_FREE)`` (dirty), which frees it
when the write completes.  Pages that are locked, i/o-locked, free, locked
in memory, or of vnodes without a putpage operation are skipped.

Pageout runs in two ways:

* as the kernel's ``memory_reclaim`` hook, when page_create_va must wait for
  memory: it first waits for writes in flight (their completions free pages,
  through pvn_write_done's free-after-write), then scans, until freemem
  reaches ``lotsfree`` (or at least what the allocator needs);
* periodically (every ``interval_ns`` of virtual time) while freemem is
  below ``lotsfree``, scanning a bounded number of pages.

:class:`Fsflush` pushes every file's dirty pages with a pure B_ASYNC
VOP_PUTPAGE every ``interval_ns`` of virtual time, the way fsflush/sync
does; a walk that finds VVMLOCK held returns EAGAIN and is counted.

Where they run: in a one-thread machine, in the thread that needs them (a
reclaim inside the allocator; :meth:`Pageout.tick` and :meth:`Fsflush.tick`
at each system call's entry, the kit's clock tick).  In a threaded machine
each is a daemon thread (:meth:`Pageout.daemon`, :meth:`Fsflush.daemon`)
asleep until the clock tick finds its run due and kicks it, or, for
pageout, until an allocator waits for memory (:meth:`Pageout.wake`); the
same :meth:`~Pageout.tick` and :meth:`~Pageout.reclaim` then run in the
daemon's thread, where the strategy may interleave them with everything else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pvnsim.errors import UsageError
from pvnsim.flags import (
    B_ASYNC,
    B_FREE,
    EAGAIN,
    HAT_FORCE_PGUNLOAD,
    HAT_SYNC_DONTZERO,
    HAT_SYNC_ZERORM,
    P_FREE,
    P_MOD,
    P_REF,
    PAGE_IO_INUSE,
    SE_EXCL,
)
from pvnsim.hooks import sleep
from pvnsim.kernel import Kernel
from pvnsim.sched.clock import Clock
from pvnsim.vm.hat import hat_page_clrattr, hat_pagesync, hat_pageunload
from pvnsim.vm.page_lock import page_trylock, page_unlock
from pvnsim.vm.vm_page import VN_DISPOSE
from pvnsim.vm.vm_pvn import KCRED

if TYPE_CHECKING:
    from pvnsim.fs.disk import Disk
    from pvnsim.fs.fs import RefFs
    from pvnsim.sched import SimThread
    from pvnsim.vm.page import Page

__all__ = ["Fsflush", "Pageout"]

_KEEP, _FREED, _PUSHED = 0, 1, 2


class Pageout:
    """The page scanner.

    Args:
        kernel: the kernel whose pages are scanned.
        disk: the disk its pushes go to (its clock is the simulation's; a
            reclaim sleeps while the disk has writes in flight).
        handspread: pages between the hands (default: a quarter of memory).
        interval_ns: period of the background scan while freemem < lotsfree.
        scan_per_run: pages a background run may scan (default: an eighth of
            memory, illumos's fastscan at four runs a second).

    Raises:
        UsageError: negative parameters.
    """

    def __init__(
        self,
        kernel: Kernel,
        disk: Disk,
        *,
        handspread: int | None = None,
        interval_ns: int = 250_000_000,
        scan_per_run: int | None = None,
    ) -> None:
        if (handspread is not None and handspread < 0) or interval_ns <= 0:
            raise UsageError("pageout: handspread must be >= 0 and interval_ns > 0")
        if scan_per_run is not None and scan_per_run < 1:
            raise UsageError("pageout: scan_per_run must be positive")
        self.kernel = kernel
        self.disk = disk
        self.clock = disk.clock
        self.handspread = kernel.total_pages // 4 if handspread is None else handspread
        self.interval_ns = interval_ns
        self.scan_per_run = scan_per_run or max(1, kernel.total_pages // 8)
        self.next_run = 0
        self._front = 0
        self.runs = 0
        self.reclaims = 0
        self.scanned = 0
        self.freed = 0
        self.pushed = 0
        #: The daemon's thread, once a threaded machine has spawned it.
        self.thread: SimThread | None = None
        #: A clock tick found a run due (see :meth:`daemon`).
        self.kicked = False
        # Allocators waiting for the daemon's reclaim: [shortfall, served].
        self._requests: list[list[int]] = []

    # -- the hands -------------------------------------------------------------

    def _checkpage(self, pp: Page, front: bool) -> int:
        vp = pp.p_vnode
        if (
            vp is None
            or pp.p_state & P_FREE
            or pp.p_selock
            or pp.p_iolock_state & PAGE_IO_INUSE
            or pp.p_lckcnt
            or pp.p_cowcnt
            or vp.v_op.putpage is None
        ):
            return _KEEP
        if not page_trylock(pp, SE_EXCL):
            return _KEEP
        if front:
            if hat_pagesync(pp, HAT_SYNC_ZERORM) & P_REF:
                hat_page_clrattr(pp, P_REF)
            page_unlock(pp)
            return _KEEP
        if hat_pagesync(pp, HAT_SYNC_DONTZERO) & P_REF:
            page_unlock(pp)
            return _KEEP
        hat_pageunload(pp, HAT_FORCE_PGUNLOAD)
        attr = pp.p_nrm
        if attr & P_REF:
            page_unlock(pp)
            return _KEEP
        if attr & P_MOD:
            off = pp.p_offset
            page_unlock(pp)
            vp.v_op.putpage(vp, off, self.kernel.pagesize, B_ASYNC | B_FREE, KCRED)
            return _PUSHED
        VN_DISPOSE(pp, B_FREE, 0, KCRED)
        return _FREED

    def scan(self, want: int, budget: int) -> int:
        """Advance the hands until ``want`` pages are freed or pushed, or
        ``budget`` positions are scanned; returns pages freed plus pushed."""
        pages = self.kernel.pages
        done = 0
        steps = 0
        while done < want and steps < budget:
            n = len(pages)
            if n == 0:
                break
            spread = min(self.handspread, n - 1)
            front = self._front % n
            self._checkpage(pages[front], True)
            result = self._checkpage(pages[(front - spread) % n], False)
            if result == _FREED:
                self.freed += 1
                done += 1
            elif result == _PUSHED:
                self.pushed += 1
                done += 1
            self._front = front + 1
            steps += 1
        self.scanned += steps
        return done

    # -- when it runs ------------------------------------------------------------

    def reclaim(self, kernel: Kernel, shortfall: int) -> None:
        """The ``Kernel.memory_reclaim`` hook: free at least ``shortfall`` pages.

        Waits for writes in flight, scans, and repeats while that makes
        progress; aims at lotsfree so that the allocator does not come back
        at once.
        """
        k = self.kernel
        self.reclaims += 1
        need = k.freemem + shortfall
        goal = max(need, int(k.lotsfree or 0))
        idle_rounds = 0
        while idle_rounds < 4:
            before = k.freemem
            self._wait_writes(goal)
            if k.freemem >= need:
                return
            progress = self.scan(goal - k.freemem, 2 * len(k.pages) + 2)
            self._wait_writes(goal)
            if k.freemem >= need:
                return
            if not progress and self.clock.next_time() is None:
                return
            # Writes that keep failing free nothing: give up after a few rounds
            # and let the allocator report the deadlock.
            idle_rounds = idle_rounds + 1 if k.freemem <= before else 0

    def _wait_writes(self, goal: int) -> None:
        # Sleep while I/O is in flight, until its completions (freeing the
        # pages written with B_FREE, or under pressure) bring freemem to goal.
        k = self.kernel
        disk = self.disk
        if k.freemem < goal and disk.queue:
            sleep(
                k,
                f"pageout: writes in flight (freemem {k.freemem}, wants {goal})",
                "disk",
                lambda: k.freemem >= goal or not disk.queue,
            )

    def due(self) -> bool:
        """Whether a background run is due: its period has passed and freemem
        is below lotsfree (illumos's schedpaging wakes pageout then)."""
        k = self.kernel
        return self.clock.now >= self.next_run and k.freemem < int(k.lotsfree or 0)

    def tick(self) -> None:
        """A background run, if one is :meth:`due`."""
        if not self.due():
            return
        k = self.kernel
        lotsfree = int(k.lotsfree or 0)
        self.next_run = self.clock.now + self.interval_ns
        self.runs += 1
        self.scan(lotsfree - k.freemem, self.scan_per_run)

    # -- as a thread -------------------------------------------------------------

    def daemon(self, done: Callable[[], bool]) -> None:
        """The body of the pageout thread of a threaded machine.

        It sleeps until a clock tick kicks it (:attr:`kicked`: then it runs
        :meth:`tick`) or an allocator waits for memory (:meth:`wake`: then it
        runs :meth:`reclaim` for it and wakes it), and returns once ``done()``
        (the machine's processes are over), so it never stops in the middle
        of a push.
        """
        k = self.kernel
        requests = self._requests
        while True:
            sleep(k, "pageout: asleep", None, lambda: self.kicked or bool(requests) or done())
            if requests:
                self.reclaim(k, requests[0][0])
                requests.pop(0)[1] = 1
            elif self.kicked:
                self.kicked = False
                self.tick()
            else:
                return

    def wake(self, kernel: Kernel, shortfall: int) -> None:
        """``Kernel.memory_reclaim`` of a threaded machine: wake the pageout
        thread and sleep until it has run :meth:`reclaim` for this shortfall.

        Code outside the machine's threads (``main``: a set-up before the run,
        a check after it) and the pageout thread itself reclaim in place, as
        the one-thread machine does.
        """
        t = self.thread
        if t is None or t.done or kernel.curthread in (t.name, "main"):
            self.reclaim(kernel, shortfall)
            return
        request = [shortfall, 0]
        self._requests.append(request)
        sleep(kernel, f"pageout to reclaim {shortfall} pages", t.name, lambda: request[1] == 1)


class Fsflush:
    """Periodic write-back of every file (pure B_ASYNC putpage).

    Args:
        fs: the file system whose files are flushed.
        clock: the simulation clock.
        interval_ns: period in virtual time (0 disables it).
    """

    def __init__(self, fs: RefFs, clock: Clock, *, interval_ns: int = 30_000_000_000) -> None:
        if interval_ns < 0:
            raise UsageError("fsflush: interval_ns must not be negative")
        self.fs = fs
        self.clock = clock
        self.interval_ns = interval_ns
        self.next_run = interval_ns
        self.runs = 0
        self.busy = 0
        #: The daemon's thread, once a threaded machine has spawned it.
        self.thread: SimThread | None = None
        #: A clock tick found a run due (see :meth:`daemon`).
        self.kicked = False

    def due(self) -> bool:
        """Whether a run is due (its period has passed; never when disabled)."""
        return bool(self.interval_ns) and self.clock.now >= self.next_run

    def tick(self) -> None:
        """Flush every file if a run is :meth:`due`."""
        if not self.due():
            return
        self.next_run = self.clock.now + self.interval_ns
        self.runs += 1
        for ino in list(self.fs.inodes.values()):
            vp = ino.vp
            if vp.v_pages is not None and self.fs.putpage(vp, 0, 0, B_ASYNC, KCRED) == EAGAIN:
                self.busy += 1

    def daemon(self, done: Callable[[], bool]) -> None:
        """The body of the fsflush thread of a threaded machine: asleep until a
        clock tick kicks it (:attr:`kicked`), then :meth:`tick`; returns once
        ``done()``."""
        k = self.fs.kernel
        while True:
            sleep(k, "fsflush: asleep", None, lambda: self.kicked or done())
            if not self.kicked:
                return
            self.kicked = False
            self.tick()
