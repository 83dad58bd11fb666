"""What the model needs from a simulated-thread scheduler.

The model (``pvnsim.kernel`` and ``pvnsim.vm``) calls three methods and
nothing else: :meth:`Scheduler.current` names the running thread,
:meth:`Scheduler.switch_point` marks a place where the C could give up the
CPU (before a lock is taken, after one is released, a failing trylock),
and :meth:`Scheduler.block` is where the C would sleep.  This module has no
dependencies, so the model can import it without pulling in greenlet.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Scheduler"]


class Scheduler:
    """The interface a simulated-thread scheduler offers the model.

    ``Kernel.sched = None`` (the default) means single-threaded: no switch
    points, and a sleep on something nobody can release is a deadlock.
    :class:`pvnsim.sched.Simulation` is the real implementation; tests may
    subclass this for small scripted stand-ins.
    """

    #: False for a scheduler whose ``switch_point`` never switches (one
    #: thread, which must be named ``"main"``): the model then skips calling
    #: ``switch_point`` and ``current``.
    switches: bool = True

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
        self, what: str, holder: str | None, ready: Callable[[], bool]
    ) -> None:  # pragma: no cover
        """Sleep until ``ready()`` is true; ``what``/``holder`` describe the wait."""
        raise NotImplementedError
