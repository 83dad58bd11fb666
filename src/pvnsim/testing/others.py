"""A stand-in for the other threads of the system, for single-threaded tests.

:class:`OtherThreads` is a one-thread :class:`~pvnsim.sched.Simulation`
(``switches=False``) with one running thread, ``main``, and a thread ``other`` that never runs on its
own: pages and locks can be held by it (``make_page(lock="X@other")``, or
:meth:`OtherThreads.as_other`), and whenever ``main`` would sleep on
something ``other`` holds, ``other`` finishes its work (drops every page lock
and i/o lock it holds) and ``main`` goes on.  Any other sleep is a real
deadlock and raises :class:`~pvnsim.errors.DeadlockError`.  The state
machine uses it; real interleavings are :mod:`pvnsim.concurrency`'s business.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pvnsim.flags import PAGE_IO_INUSE
from pvnsim.kernel import Kernel
from pvnsim.sched import Simulation
from pvnsim.vm.page_lock import page_io_unlock, page_unlock

__all__ = ["OTHER", "OtherThreads"]

T = TypeVar("T")

#: The name of the other thread.
OTHER = "other"


class OtherThreads(Simulation):
    """The scheduler of the machine's kernel: thread ``main`` plus an ``other``
    that finishes its work whenever ``main`` would wait for it.

    Attributes:
        thread: the running thread's name.
        finished: how many times ``other`` was made to finish.
    """

    def __init__(self, k: Kernel) -> None:
        # main is never preempted: nothing to hook per call.
        super().__init__(switches=False)
        self.k = k
        self.finished = 0

    @property
    def thread(self) -> str:
        """The running thread's name."""
        return self.k.curthread

    def current(self) -> str:
        return self.k.curthread

    def block(
        self, what: str, holder: str | None, ready: Callable[[], bool], *, mutex: bool = False
    ) -> None:
        """``other`` finishes first if it holds what ``main`` waits for; then
        the wait is the simulation's (events, or a deadlock)."""
        if holder is not None and OTHER in holder.split(", "):
            self.finish()
        super().block(what, holder, ready, mutex=mutex)

    def as_other(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """Run ``fn`` as thread ``other``."""
        prev = self.k.curthread
        self.set_current(OTHER)
        try:
            return fn(*args, **kw)
        finally:
            self.set_current(prev)

    def finish(self) -> None:
        """``other`` drops every i/o lock and page lock it holds."""
        self.finished += 1
        for pp in self.k.pages:
            if pp.p_iolock_state & PAGE_IO_INUSE and pp.p_ioowner == OTHER:
                self.as_other(page_io_unlock, pp)
            owner = pp.p_sowner
            while owner == OTHER or (isinstance(owner, list) and OTHER in owner):
                self.as_other(page_unlock, pp)
                owner = pp.p_sowner
