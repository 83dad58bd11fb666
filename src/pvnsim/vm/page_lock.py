"""The page lock (p_selock) and the page i/o lock of page_lock.c.

Derived from illumos usr/src/uts/common/vm/page_lock.c (CDDL-1.0).

``p_selock`` is 0 (unlocked), n > 0 (n readers) or -1 (exclusive).  We also
record who holds it (``p_sowner``) so dumps and deadlock reports can name the
holder; illumos tracks only the exclusive owner.  Release never checks the
holder: an i/o completion routine legitimately unlocks pages that another
thread locked.

Blocking: ``page_lock`` and ``page_io_lock`` wait when the lock is not
grantable.  Without a scheduler nobody could release it, so they raise
:class:`~pvnsim.errors.DeadlockError` before changing anything.  With a
scheduler ``page_lock`` does what illumos does: drop the mutex it was given,
sleep until the page is unlocked or loses its identity (page_hashout wakes
the sleepers), retake the mutex and return 0.

Switch points: before ``page_lock``, ``page_io_lock`` and ``page_io_wait``,
after ``page_unlock`` and ``page_io_unlock``, and after a trylock
(``page_trylock``, ``page_io_trylock``, ``page_tryupgrade``) that fails
because another thread holds the lock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pvnsim.errors import KernelAssertionError, KernelPanic
from pvnsim.flags import P_FREE, P_RECLAIM, PAGE_IO_INUSE, SE_EXCL, Reclaim, Se
from pvnsim.vm import _trace

if TYPE_CHECKING:
    from pvnsim.vm.mutex import KMutex
    from pvnsim.vm.page import Page

__all__ = [
    "page_downgrade",
    "page_io_lock",
    "page_io_locked",
    "page_io_trylock",
    "page_io_unlock",
    "page_io_wait",
    "page_lock",
    "page_trylock",
    "page_tryupgrade",
    "page_unlock",
]


_NOT_IO_INUSE = ~PAGE_IO_INUSE


def _add_reader(pp: Page, who: str) -> None:
    owner = pp.p_sowner
    if pp.p_selock == 0:
        pp.p_sowner = who
    elif isinstance(owner, list):
        owner.append(who)
    else:
        pp.p_sowner = [owner or "?", who]
    pp.p_selock += 1


def _grantable(pp: Page, se: int) -> bool:
    if se == SE_EXCL:
        return pp.p_selock == 0
    return pp.p_selock >= 0


def _holder(pp: Page) -> str | None:
    owner = pp.p_sowner
    if isinstance(owner, list):
        return ", ".join(owner)
    return owner


def _take(pp: Page, se: int, who: str) -> None:
    if se == SE_EXCL:
        pp.p_selock = -1
        pp.p_sowner = who
    else:
        _add_reader(pp, who)


def _page_trylock(pp: Page, se: int) -> int:
    # _grantable and _take, unrolled: this runs for every page a walk visits.
    k = pp.kernel
    if se == SE_EXCL:
        if pp.p_selock != 0:
            return 0
        pp.p_selock = -1
        pp.p_sowner = k.curthread if k.hooked else "main"
        return 1
    if pp.p_selock < 0:
        return 0
    _add_reader(pp, k.curthread if k.hooked else "main")
    return 1


def _page_lock(pp: Page, se: int, lock: KMutex | None, reclaim: int) -> int:
    k = pp.kernel
    if pp.p_selock != 0 if se == SE_EXCL else pp.p_selock < 0:  # not _grantable
        mode = "SE_EXCL" if se == SE_EXCL else "SE_SHARED"
        what = f"page lock of {pp.name} ({mode})"
        if k.sched is None:
            k.block(what, _holder(pp), lambda: False)
        from pvnsim.vm.mutex import _mutex_enter, _mutex_exit

        ident = (pp.p_vnode, pp.p_offset)
        if lock is not None:
            _mutex_exit(lock)
        k.block(
            what,
            _holder(pp),
            lambda: _grantable(pp, se) or (pp.p_vnode, pp.p_offset) != ident,
        )
        if lock is not None:
            _mutex_enter(lock)
        return 0
    if reclaim == P_RECLAIM and pp.p_state & P_FREE:
        from pvnsim.vm.vm_page import _page_reclaim

        _take(pp, SE_EXCL, k.curthread if k.hooked else "main")
        if not _page_reclaim(pp, lock):
            return 0
        if se != SE_EXCL:
            _page_downgrade(pp)
        return 1
    # _take(pp, se, ...) for the two cases every walk meets (an exclusive
    # lock, or the first reader of an unlocked page), written out: once per
    # page a synchronous walk visits.
    if se == SE_EXCL:
        pp.p_selock = -1
        pp.p_sowner = k.curthread if k.hooked else "main"
    elif pp.p_selock == 0:
        pp.p_selock = 1
        pp.p_sowner = k.curthread if k.hooked else "main"
    else:
        _add_reader(pp, k.curthread if k.hooked else "main")
    return 1


def _page_unlock(pp: Page) -> None:
    selock = pp.p_selock
    # The last hold (exclusive, or one reader) first: the usual case.
    if selock < 0 or selock == 1:
        pp.p_selock = 0
        pp.p_sowner = None
        return
    if selock == 0:
        raise KernelPanic(f"page_unlock: page {pp.name} is not locked")
    pp.p_selock -= 1
    owner = pp.p_sowner
    if isinstance(owner, list):
        me = pp.kernel.curthread
        owner.remove(me if me in owner else owner[0])
        if len(owner) == 1:
            pp.p_sowner = owner[0]


def _page_tryupgrade(pp: Page) -> int:
    if pp.p_selock != 1:
        return 0
    pp.p_selock = -1
    k = pp.kernel
    pp.p_sowner = k.curthread if k.hooked else "main"
    return 1


def _page_downgrade(pp: Page) -> None:
    if pp.p_selock >= 0:
        raise KernelAssertionError(f"page_downgrade: page {pp.name} is not held exclusively")
    pp.p_selock = 1


def page_lock(pp: Page, se: Se | int, lock: KMutex | None, reclaim: Reclaim | int) -> int:
    """Lock ``pp`` in mode ``se``; 0 (after dropping and retaking ``lock``) if it had to wait."""
    k = pp.kernel
    if k.hooked and k.sched is not None:
        k.sched.switch_point("page_lock", pp)
    if k.hooked and k.tracing:
        return _trace.traced(
            k, "page_lock", "peme>i", _page_lock, pp, Se(se), lock, Reclaim(reclaim)
        )
    return _page_lock(pp, se, lock, reclaim)


def page_trylock(pp: Page, se: Se | int) -> int:
    """Lock ``pp`` in mode ``se`` if that needs no waiting; 1 on success.

    A failure is a switch point: the holder may run.
    """
    k = pp.kernel
    if k.hooked and k.tracing:
        got = _trace.traced(k, "page_trylock", "pe>i", _page_trylock, pp, Se(se))
    else:
        got = _page_trylock(pp, se)
    if not got and k.hooked and k.sched is not None:
        k.sched.switch_point("page_trylock", pp)
    return got


def page_unlock(pp: Page) -> None:
    """Release one hold of ``pp``'s page lock."""
    k = pp.kernel
    if k.hooked and k.tracing:
        _trace.traced(k, "page_unlock", "p", _page_unlock, pp)
    else:
        _page_unlock(pp)
    if k.hooked and k.sched is not None:
        k.sched.switch_point("page_unlock", pp)


def page_tryupgrade(pp: Page) -> int:
    """Turn the caller's single shared hold into an exclusive one; 1 on success.

    A failure is a switch point: the other reader may run.
    """
    k = pp.kernel
    if k.hooked and k.tracing:
        got = _trace.traced(k, "page_tryupgrade", "p>i", _page_tryupgrade, pp)
    else:
        got = _page_tryupgrade(pp)
    if not got and k.hooked and k.sched is not None:
        k.sched.switch_point("page_tryupgrade", pp)
    return got


def page_downgrade(pp: Page) -> None:
    """Turn an exclusive hold into a single shared hold."""
    k = pp.kernel
    if k.hooked and k.tracing:
        _trace.traced(k, "page_downgrade", "p", _page_downgrade, pp)
        return
    _page_downgrade(pp)


# -- the i/o lock ---------------------------------------------------------


def _page_io_lock(pp: Page) -> None:
    if pp.p_iolock_state & PAGE_IO_INUSE:
        pp.kernel.block(
            f"i/o lock of {pp.name}",
            pp.p_ioowner,
            lambda: not pp.p_iolock_state & PAGE_IO_INUSE,
        )
    pp.p_iolock_state |= PAGE_IO_INUSE
    k = pp.kernel
    pp.p_ioowner = k.curthread if k.hooked else "main"


def _page_io_trylock(pp: Page) -> int:
    state = pp.p_iolock_state
    # A free i/o lock is state 0: told by a comparison, which CPython
    # specializes, before the bit test (once per page a walk writes).
    if state == 0:
        pp.p_iolock_state = PAGE_IO_INUSE
    elif state & PAGE_IO_INUSE:
        return 0
    else:
        pp.p_iolock_state = state | PAGE_IO_INUSE
    k = pp.kernel
    pp.p_ioowner = k.curthread if k.hooked else "main"
    return 1


def _page_io_unlock(pp: Page) -> None:
    pp.p_iolock_state &= _NOT_IO_INUSE  # the mask computed once
    pp.p_ioowner = None


def _page_io_wait(pp: Page) -> None:
    if pp.p_iolock_state & PAGE_IO_INUSE:
        pp.kernel.block(
            f"i/o lock of {pp.name}",
            pp.p_ioowner,
            lambda: not pp.p_iolock_state & PAGE_IO_INUSE,
        )


def _page_io_locked(pp: Page) -> int:
    return pp.p_iolock_state & PAGE_IO_INUSE


def page_io_lock(pp: Page) -> None:
    """Take the i/o lock of ``pp``, waiting while it is held."""
    k = pp.kernel
    if k.hooked and k.sched is not None:
        k.sched.switch_point("page_io_lock", pp)
    if k.hooked and k.tracing:
        _trace.traced(k, "page_io_lock", "p", _page_io_lock, pp)
        return
    _page_io_lock(pp)


def page_io_trylock(pp: Page) -> int:
    """Take the i/o lock of ``pp`` if it is free; 1 on success.

    A failure is a switch point: the holder may run.
    """
    k = pp.kernel
    if k.hooked and k.tracing:
        got = _trace.traced(k, "page_io_trylock", "p>i", _page_io_trylock, pp)
    else:
        got = _page_io_trylock(pp)
    if not got and k.hooked and k.sched is not None:
        k.sched.switch_point("page_io_trylock", pp)
    return got


def page_io_unlock(pp: Page) -> None:
    """Release the i/o lock of ``pp`` (not checked, as in illumos)."""
    k = pp.kernel
    if k.hooked and k.tracing:
        _trace.traced(k, "page_io_unlock", "p", _page_io_unlock, pp)
    else:
        _page_io_unlock(pp)
    if k.hooked and k.sched is not None:
        k.sched.switch_point("page_io_unlock", pp)


def page_io_wait(pp: Page) -> None:
    """Wait until nobody holds the i/o lock of ``pp`` (without taking it)."""
    k = pp.kernel
    if k.hooked and k.sched is not None:
        k.sched.switch_point("page_io_wait", pp)
    if k.hooked and k.tracing:
        _trace.traced(k, "page_io_wait", "p", _page_io_wait, pp)
        return
    _page_io_wait(pp)


def page_io_locked(pp: Page) -> int:
    """Non-zero when the i/o lock of ``pp`` is held."""
    k = pp.kernel
    if k.hooked and k.tracing:
        return _trace.traced(k, "page_io_locked", "p>i", _page_io_locked, pp)
    return _page_io_locked(pp)
