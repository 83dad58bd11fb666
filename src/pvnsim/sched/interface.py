"""What the model needs from a simulated-thread scheduler.

The model (``pvnsim.kernel``, ``pvnsim.hooks`` and ``pvnsim.vm``) calls two
methods and nothing else: :meth:`Scheduler.switch_point` marks a place where
the C could give up the CPU (before a lock is taken, after one is released,
a failing trylock), and :meth:`Scheduler.block` is where the C would sleep
(after :meth:`Scheduler.note_wait`, which a scheduler may ignore, has said
what the sleep waits on).
The scheduler tells the model which thread runs with
:meth:`Scheduler.set_current`, which writes ``curthread`` of every kernel
attached to it (a kernel attaches itself when its ``sched`` is set);
:meth:`Scheduler.current` answers the same question for other users.  This module has no
dependencies, so the model can import it without pulling in greenlet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Scheduler"]


class Scheduler:
    """The interface a simulated-thread scheduler offers the model.

    ``Kernel.sched = None`` (the default) means single-threaded: no switch
    points, and a sleep on something nobody can release is a deadlock.
    :class:`pvnsim.sched.Simulation` is the real implementation; tests may
    subclass this for small scripted stand-ins.
    """

    #: The running thread's name, as last set by :meth:`set_current`.
    curthread: str = "main"

    #: False for a scheduler whose ``switch_point`` never switches (one
    #: thread): the model then does not hook every call to report switch
    #: points (see :mod:`pvnsim.hooks`); it still calls ``block``.
    switches: bool = True

    def attached(self, kernel: Any) -> None:
        """``kernel`` now uses this scheduler (its ``sched`` was set to it)."""
        kernels: list[Any] | None = self.__dict__.get("_kernels")
        if kernels is None:
            kernels = self.__dict__["_kernels"] = []
        if kernel not in kernels:
            kernels.append(kernel)

    def detached(self, kernel: Any) -> None:
        """``kernel`` no longer uses this scheduler; its thread is ``main`` again."""
        kernels: list[Any] = self.__dict__.get("_kernels", [])
        if kernel in kernels:
            kernels.remove(kernel)
        kernel.curthread = "main"

    def set_current(self, name: str) -> None:
        """Tell every kernel using this scheduler that thread ``name`` runs now.

        A scheduler calls this at each switch; the model reads the running
        thread from its kernel's ``curthread``.
        """
        self.curthread = name
        for kernel in self.__dict__.get("_kernels", ()):
            kernel.curthread = name

    def current(self) -> str:  # pragma: no cover - interface
        """The name of the running simulated thread."""
        raise NotImplementedError

    def switch_point(self, kind: str, what: object) -> None:  # pragma: no cover
        """The running thread may be preempted here.

        ``kind`` names the primitive; ``what`` is the lock or page it is
        about (any object: ``str(what)`` is taken only when a log needs it).
        """
        raise NotImplementedError

    def block(
        self, what: str, holder: str | None, ready: Callable[[], bool], *, mutex: bool = False
    ) -> None:  # pragma: no cover
        """Sleep until ``ready()`` is true; ``what``/``holder`` describe the wait;
        ``mutex``: it is a wait for a kernel mutex (which an interrupt routine
        may do, unlike a sleep)."""
        raise NotImplementedError

    def note_wait(self, on: Any, explain: Callable[[], str | None] | None) -> None:
        """Called just before :meth:`block` with details of the coming sleep.

        ``on``: the footprint keys the wait reads, as (mode, key) pairs
        (``None``: not recorded); ``explain()``: once nothing else can run,
        why the wait can never end (a lost wakeup), or None.  A scheduler
        that has no use for them ignores them (the default).
        """
