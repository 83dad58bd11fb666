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

Switch points (see the table in :mod:`pvnsim.hooks`): before ``page_lock``,
``page_io_lock`` and ``page_io_wait``, after ``page_unlock`` and
``page_io_unlock``, and after a trylock (``page_trylock``,
``page_io_trylock``, ``page_tryupgrade``) that fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pvnsim.errors import KernelAssertionError, KernelPanic
from pvnsim.flags import (
    P_FREE,
    P_RECLAIM,
    PAGE_IO_INUSE,
    SE_EXCL,
    SE_EXCL_WANTED,
    SE_SHARED,
    Reclaim,
    Se,
)
from pvnsim.hooks import implements, sleep

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
    "page_lock_clr_exclwanted",
    "page_trylock",
    "page_tryupgrade",
    "page_unlock",
]


_NOT_IO_INUSE = ~PAGE_IO_INUSE


#: Where this model keeps illumos's SE_EWANTED: a bit of ``p_state`` above
#: the C's eight (illumos keeps it in ``p_selock``, which here is a plain
#: reader count; a slot of its own would cost every page 8 bytes).
#: ``Page.p_ewanted`` reads and writes it as 0 or 1.
PS_EWANTED = 0x100
_NOT_PS_EWANTED = ~PS_EWANTED


def _add_reader(pp: Page, who: str) -> None:
    owner = pp.p_sowner
    if pp.p_selock == 0:
        pp.p_sowner = who
    elif isinstance(owner, list):
        owner.append(who)
    else:
        pp.p_sowner = [owner or "?", who]
    pp.p_selock += 1


def grantable(pp: Page, se: int, es: int = 0) -> bool:
    """Whether ``pp``'s page lock could be taken in mode ``se`` now.

    While a thread wants the page exclusively (SE_EWANTED) only that kind
    of request (``es`` SE_EXCL_WANTED) may take it.
    """
    if pp.p_state & PS_EWANTED and not es & SE_EXCL_WANTED:
        return False
    if se == SE_EXCL:
        return pp.p_selock == 0
    return pp.p_selock >= 0


def holder(pp: Page) -> str | None:
    """Who holds ``pp``'s page lock, for wait reports."""
    owner = pp.p_sowner
    if isinstance(owner, list):
        return ", ".join(owner)
    return owner


def take(pp: Page, se: int, who: str) -> None:
    """Grant ``pp``'s page lock in mode ``se`` to ``who`` (it must be grantable)."""
    if se == SE_EXCL:
        pp.p_selock = -1
        pp.p_sowner = who
    else:
        _add_reader(pp, who)


def want_excl(pp: Page) -> None:
    """Mark ``pp`` as wanted exclusively by a waiting thread (SE_EWANTED), as
    page_lock_es does for a caller that must wait; for building states."""
    pp.p_ewanted = 1


def io_take(pp: Page, who: str) -> None:
    """Grant ``pp``'s i/o lock to ``who`` (it must be free)."""
    pp.p_iolock_state |= PAGE_IO_INUSE
    pp.p_ioowner = who


@implements
def page_lock(
    pp: Page, se: Se | int, lock: KMutex | None, reclaim: Reclaim | int, es: int = 0
) -> int:
    """Lock ``pp`` in mode ``se``; 0 (after dropping and retaking ``lock``) if it had to wait.

    page_lock.c's page_lock_es (page_lock is page_lock_es with ``es`` 0).
    With ``reclaim`` P_RECLAIM a free page is locked exclusively and taken
    off its list, then downgraded if a shared lock was asked for.  While
    another thread wants the page exclusively (SE_EWANTED) readers and plain
    exclusive requests wait; with ``es`` SE_EXCL_WANTED the caller is such a
    thread: if it must wait it sets SE_EWANTED, and taking the lock clears it.
    """
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "page_lock":
        return k.hooks.around("page_lock", pp, se, lock, reclaim, es)  # type: ignore[no-any-return]
    upgraded = False
    reclaim_it = False
    if reclaim == P_RECLAIM and pp.p_state & P_FREE:
        # A free page is reclaimed under the exclusive lock.
        reclaim_it = True
        if se == SE_SHARED:
            upgraded = True
            se = SE_EXCL
    got = False
    mark_wanted = False
    if se == SE_EXCL:
        if pp.p_state & PS_EWANTED and not es & SE_EXCL_WANTED:
            pass  # another thread is first in line for the exclusive lock
        elif pp.p_selock == 0:
            pp.p_selock = -1
            pp.p_sowner = k.curthread
            pp.p_state &= _NOT_PS_EWANTED  # granted: our own want, if any, is met
            got = True
        elif es & SE_EXCL_WANTED:
            mark_wanted = True  # set below, once we know we may sleep
    elif pp.p_selock >= 0 and not pp.p_state & PS_EWANTED:
        # _add_reader(pp, k.curthread), its first-reader case written out:
        # once per page a synchronous walk visits.
        if pp.p_selock == 0:
            pp.p_selock = 1
            pp.p_sowner = k.curthread
        else:
            _add_reader(pp, k.curthread)
        got = True
    if not got:
        mode = "SE_EXCL" if se == SE_EXCL else "SE_SHARED"
        what = f"page lock of {pp.name} ({mode})"
        if pp.p_ewanted and not es & SE_EXCL_WANTED:
            what += ", wanted exclusively"
        if k.sched is None:
            sleep(k, what, holder(pp), lambda: False)
        if mark_wanted:
            pp.p_ewanted = 1
        from pvnsim.vm.mutex import mutex_enter, mutex_exit

        ident = (pp.p_vnode, pp.p_offset)
        if lock is not None:
            mutex_exit(lock)
        sleep(
            k,
            what,
            holder(pp),
            lambda: grantable(pp, se, es) or (pp.p_vnode, pp.p_offset) != ident,
        )
        if lock is not None:
            mutex_enter(lock)
        return 0
    if reclaim_it:
        from pvnsim.vm.vm_page import page_reclaim

        if not page_reclaim(pp, lock):
            return 0
        if upgraded:
            page_downgrade(pp)
    return 1


@implements
def page_lock_clr_exclwanted(pp: Page) -> None:
    """Clear SE_EWANTED: the thread that wanted ``pp`` exclusively gives up
    (page_hashout does this too: the page's identity is gone)."""
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "page_lock_clr_exclwanted":
        return k.hooks.around("page_lock_clr_exclwanted", pp)  # type: ignore[no-any-return]
    pp.p_ewanted = 0
    return None


@implements
def page_trylock(pp: Page, se: Se | int) -> int:
    """Lock ``pp`` in mode ``se`` if that needs no waiting; 1 on success.

    Fails whenever a thread wants the page exclusively (SE_EWANTED).
    """
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "page_trylock":
        return k.hooks.around("page_trylock", pp, se)  # type: ignore[no-any-return]
    if pp.p_state & PS_EWANTED:
        return 0  # a thread waits for the exclusive lock: nobody jumps the queue
    if se == SE_EXCL:
        if pp.p_selock != 0:
            return 0
        pp.p_selock = -1
        pp.p_sowner = k.curthread
        return 1
    if pp.p_selock < 0:
        return 0
    _add_reader(pp, k.curthread)
    return 1


@implements
def page_unlock(pp: Page) -> None:
    """Release one hold of ``pp``'s page lock."""
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "page_unlock":
        return k.hooks.around("page_unlock", pp)  # type: ignore[no-any-return]
    selock = pp.p_selock
    # The last hold (exclusive, or one reader) first: the usual case.
    if selock < 0 or selock == 1:
        pp.p_selock = 0
        pp.p_sowner = None
        return None
    if selock == 0:
        raise KernelPanic(f"page_unlock: page {pp.name} is not locked")
    pp.p_selock -= 1
    owner = pp.p_sowner
    if isinstance(owner, list):
        me = k.curthread
        owner.remove(me if me in owner else owner[0])
        if len(owner) == 1:
            pp.p_sowner = owner[0]
    return None


@implements
def page_tryupgrade(pp: Page) -> int:
    """Turn the caller's single shared hold into an exclusive one; 1 on success.

    Fails while another thread wants the page exclusively (SE_EWANTED).
    """
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "page_tryupgrade":
        return k.hooks.around("page_tryupgrade", pp)  # type: ignore[no-any-return]
    if pp.p_selock != 1 or pp.p_state & PS_EWANTED:
        return 0
    pp.p_selock = -1
    pp.p_sowner = k.curthread
    return 1


@implements
def page_downgrade(pp: Page) -> None:
    """Turn an exclusive hold into a single shared hold."""
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "page_downgrade":
        return k.hooks.around("page_downgrade", pp)  # type: ignore[no-any-return]
    if pp.p_selock >= 0:
        raise KernelAssertionError(f"page_downgrade: page {pp.name} is not held exclusively")
    pp.p_selock = 1
    return None


# -- the i/o lock ---------------------------------------------------------


def _io_free(pp: Page) -> bool:
    return not pp.p_iolock_state & PAGE_IO_INUSE


@implements
def page_io_lock(pp: Page) -> None:
    """Take the i/o lock of ``pp``, waiting while it is held."""
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "page_io_lock":
        return k.hooks.around("page_io_lock", pp)  # type: ignore[no-any-return]
    if pp.p_iolock_state & PAGE_IO_INUSE:
        sleep(k, f"i/o lock of {pp.name}", pp.p_ioowner, lambda: _io_free(pp))
    pp.p_iolock_state |= PAGE_IO_INUSE  # io_take(pp, k.curthread), written out
    pp.p_ioowner = k.curthread
    return None


@implements
def page_io_trylock(pp: Page) -> int:
    """Take the i/o lock of ``pp`` if it is free; 1 on success."""
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "page_io_trylock":
        return k.hooks.around("page_io_trylock", pp)  # type: ignore[no-any-return]
    state = pp.p_iolock_state
    # A free i/o lock is state 0: told by a comparison, which CPython
    # specializes, before the bit test (once per page a walk writes).
    if state == 0:
        pp.p_iolock_state = PAGE_IO_INUSE
    elif state & PAGE_IO_INUSE:
        return 0
    else:
        pp.p_iolock_state = state | PAGE_IO_INUSE
    pp.p_ioowner = k.curthread
    return 1


@implements
def page_io_unlock(pp: Page) -> None:
    """Release the i/o lock of ``pp`` (not checked, as in illumos)."""
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "page_io_unlock":
        return k.hooks.around("page_io_unlock", pp)  # type: ignore[no-any-return]
    pp.p_iolock_state &= _NOT_IO_INUSE
    pp.p_ioowner = None
    return None


@implements
def page_io_wait(pp: Page) -> None:
    """Wait until nobody holds the i/o lock of ``pp`` (without taking it)."""
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "page_io_wait":
        return k.hooks.around("page_io_wait", pp)  # type: ignore[no-any-return]
    if pp.p_iolock_state & PAGE_IO_INUSE:
        sleep(k, f"i/o lock of {pp.name}", pp.p_ioowner, lambda: _io_free(pp))
    return None


@implements
def page_io_locked(pp: Page) -> int:
    """Non-zero when the i/o lock of ``pp`` is held."""
    k = pp.kernel
    if k.hooks is not None and k.hooks.entering != "page_io_locked":
        return k.hooks.around("page_io_locked", pp)  # type: ignore[no-any-return]
    return pp.p_iolock_state & PAGE_IO_INUSE
