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
from pvnsim.hooks import implements, sleep

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
    ``v_cv``: the VVMLOCK flag and who set it); ``pending`` whether that
    condition still holds, so a waiter whose condition is already clear,
    with nobody left to broadcast, is reported as a lost wakeup.
    """

    __slots__ = ("describe", "kernel", "name", "pending", "waiters")

    def __init__(
        self,
        kernel: Kernel,
        name: str,
        describe: Callable[[], tuple[str, str | None]] | None = None,
        pending: Callable[[], bool] | None = None,
    ) -> None:
        self.kernel = kernel
        self.name = name
        self.describe = describe
        self.pending = pending
        # Generation counter: a waiter sleeps until it changes.
        self.waiters = 0

    def __repr__(self) -> str:
        return f"<KCondvar {self.name}>"


@implements
def mutex_enter(m: KMutex) -> None:
    """Acquire ``m``; waits while another thread holds it."""
    k = m.kernel
    if k.hooks is not None and k.hooks.entering != "mutex_enter":
        return k.hooks.around("mutex_enter", m)  # type: ignore[no-any-return]
    me = k.curthread
    owner = m.owner
    if owner is None:
        m.owner = me
        return None
    if owner == me:
        raise KernelPanic(f"recursive mutex_enter: {m.name} is already held by {me}")
    sleep(k, f"mutex {m.name}", owner, lambda: m.owner is None, mutex=True)
    m.owner = me
    return None


@implements
def mutex_exit(m: KMutex) -> None:
    """Release ``m``; the caller must own it."""
    k = m.kernel
    if k.hooks is not None and k.hooks.entering != "mutex_exit":
        return k.hooks.around("mutex_exit", m)  # type: ignore[no-any-return]
    if m.owner != k.curthread:
        raise KernelPanic(
            f"mutex_exit: {m.name} is held by {m.owner or 'nobody'}, not by {k.curthread}"
        )
    m.owner = None
    return None


@implements
def cv_wait(cv: KCondvar, m: KMutex) -> None:
    """Release ``m``, sleep until ``cv`` is signalled, re-acquire ``m``."""
    k = cv.kernel
    if k.hooks is not None and k.hooks.entering != "cv_wait":
        return k.hooks.around("cv_wait", cv, m)  # type: ignore[no-any-return]
    what, holder = cv.describe() if cv.describe else (f"cv {cv.name}", None)
    if k.sched is None:
        sleep(k, what, holder, lambda: False)
    generation = cv.waiters
    mutex_exit(m)
    sleep(k, what, holder, lambda: cv.waiters != generation)
    mutex_enter(m)
    return None


@implements
def cv_broadcast(cv: KCondvar) -> None:
    """Wake every waiter of ``cv`` (a switch point: a woken thread may run)."""
    k = cv.kernel
    if k.hooks is not None and k.hooks.entering != "cv_broadcast":
        return k.hooks.around("cv_broadcast", cv)  # type: ignore[no-any-return]
    cv.waiters += 1
    return None
