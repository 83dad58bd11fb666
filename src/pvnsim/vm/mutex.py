"""Simulated kernel mutexes and condition variables (kmutex_t, kcondvar_t).

A mutex records its owner (a simulated thread name).  ``mutex_enter`` of a
mutex the caller already owns panics, as illumos does for a recursive enter.
Entering a mutex owned by another thread waits: with a scheduler the thread
is suspended; without one nobody could ever release it, so a
:class:`~pvnsim.errors.DeadlockError` is raised before anything changes.

Both are switch points for the scheduler: a simulated thread may be
preempted before ``mutex_enter`` and after ``mutex_exit``; ``cv_wait``
sleeps (the scheduler runs someone else) and ``cv_broadcast`` is a switch
point after the wake-up, so a woken waiter may run at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pvnsim.errors import KernelPanic
from pvnsim.vm import _trace

if TYPE_CHECKING:
    from pvnsim.kernel import Kernel

__all__ = ["KCondvar", "KMutex", "cv_broadcast", "cv_wait", "mutex_enter", "mutex_exit"]


class KMutex:
    """A kernel mutex; ``owner`` is the holding thread's name or ``None``."""

    __slots__ = ("kernel", "name", "owner")

    def __init__(self, kernel: Kernel, name: str) -> None:
        self.kernel = kernel
        self.name = name
        self.owner: str | None = None

    def __repr__(self) -> str:
        held = f" held by {self.owner}" if self.owner else ""
        return f"<KMutex {self.name}{held}>"


class KCondvar:
    """A condition variable.

    ``describe`` tells a deadlock report what a waiter really waits for (for
    ``v_cv``: the VVMLOCK flag and who set it).
    """

    __slots__ = ("describe", "kernel", "name", "waiters")

    def __init__(
        self,
        kernel: Kernel,
        name: str,
        describe: Callable[[], tuple[str, str | None]] | None = None,
    ) -> None:
        self.kernel = kernel
        self.name = name
        self.describe = describe
        # Generation counter: a waiter sleeps until it changes.
        self.waiters = 0

    def __repr__(self) -> str:
        return f"<KCondvar {self.name}>"


def _mutex_enter(m: KMutex) -> None:
    k = m.kernel
    if m.owner is None and not k.hooked:
        # The uncontended enter on an unhooked kernel (the thread is "main"),
        # tested first: the walks take the page-list mutex once per page.
        m.owner = "main"
        return
    me = k.curthread if k.hooked else "main"
    if m.owner == me:
        raise KernelPanic(f"recursive mutex_enter: {m.name} is already held by {me}")
    if m.owner is not None:
        k.block(f"mutex {m.name}", m.owner, lambda: m.owner is None)
    m.owner = me


def _mutex_exit(m: KMutex) -> None:
    k = m.kernel
    if m.owner == "main" and not k.hooked:
        # The exit by the owner on an unhooked kernel, tested first (as above).
        m.owner = None
        return
    if m.owner != (k.curthread if k.hooked else "main"):
        raise KernelPanic(
            f"mutex_exit: {m.name} is held by {m.owner or 'nobody'}, not by {k.curthread}"
        )
    m.owner = None


def mutex_enter(m: KMutex) -> None:
    """Acquire ``m``; waits while another thread holds it."""
    k = m.kernel
    if k.hooked and k.sched is not None:
        k.sched.switch_point("mutex_enter", m.name)
    if k.hooked and k.tracing:
        _trace.traced(k, "mutex_enter", "m", _mutex_enter, m)
        return
    _mutex_enter(m)


def mutex_exit(m: KMutex) -> None:
    """Release ``m``; the caller must own it."""
    k = m.kernel
    if k.hooked and k.tracing:
        _trace.traced(k, "mutex_exit", "m", _mutex_exit, m)
    else:
        _mutex_exit(m)
    if k.hooked and k.sched is not None:
        k.sched.switch_point("mutex_exit", m.name)


def _cv_wait(cv: KCondvar, m: KMutex) -> None:
    k = cv.kernel
    what, holder = cv.describe() if cv.describe else (f"cv {cv.name}", None)
    if k.sched is None:
        k.block(what, holder, lambda: False)
    generation = cv.waiters
    _mutex_exit(m)
    k.block(what, holder, lambda: cv.waiters != generation)
    _mutex_enter(m)


def _cv_broadcast(cv: KCondvar) -> None:
    cv.waiters += 1


def cv_wait(cv: KCondvar, m: KMutex) -> None:
    """Release ``m``, sleep until ``cv`` is signalled, re-acquire ``m``."""
    k = cv.kernel
    if k.hooked and k.tracing:
        _trace.traced(k, "cv_wait", "mm", _cv_wait, cv, m)
        return
    _cv_wait(cv, m)


def cv_broadcast(cv: KCondvar) -> None:
    """Wake every waiter of ``cv`` (a switch point: a woken thread may run)."""
    k = cv.kernel
    if k.hooked and k.tracing:
        _trace.traced(k, "cv_broadcast", "m", _cv_broadcast, cv)
    else:
        _cv_broadcast(cv)
    if k.hooked and k.sched is not None:
        k.sched.switch_point("cv_broadcast", cv.name)
