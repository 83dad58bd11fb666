"""The whole exception hierarchy of pvnsim.

Every error pvnsim raises derives from :class:`PvnsimError`.  Subclasses that
correspond to a builtin category also inherit it, so ``except ValueError``
catches a :class:`UsageError`.

None of these are raised with ``assert``: a simulated kernel ``ASSERT`` stays
active under ``python -O``.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "DeadlockError",
    "InternalError",
    "InterruptSleep",
    "InvariantViolation",
    "KernelAssertionError",
    "KernelPanic",
    "LivelockError",
    "LostWakeupError",
    "PvnsimError",
    "ScheduleDivergence",
    "StepLimitExceeded",
    "UsageError",
    "Wait",
]


class PvnsimError(Exception):
    """Base class of every pvnsim error."""


class UsageError(PvnsimError, ValueError):
    """A public routine was called with arguments it does not accept.

    Raised before any simulated state changes, so the kernel is exactly as it
    was before the call.
    """


class KernelPanic(PvnsimError):
    """The simulated kernel would have called ``panic()``."""


class KernelAssertionError(KernelPanic, AssertionError):
    """A simulated kernel ``ASSERT`` failed (a DEBUG illumos kernel panics)."""


class InvariantViolation(PvnsimError, AssertionError):
    """A validator found a broken invariant; the message names the object."""


class InternalError(PvnsimError, RuntimeError):
    """A bug in pvnsim itself, not in the caller's use of it."""


class Wait:
    """What one simulated thread waits for, for deadlock reports.

    ``lost_wakeup`` says why the wait can never end when the thread waits on
    a condition variable whose condition is already clear (nobody will
    broadcast it again);
    ``where`` is the source line (``file:line``) the thread waits at, when
    known.
    """

    __slots__ = ("holder", "lost_wakeup", "thread", "what", "where")

    def __init__(
        self,
        thread: str,
        what: str,
        holder: str | None,
        *,
        lost_wakeup: str | None = None,
        where: str | None = None,
    ) -> None:
        self.thread = thread
        self.what = what
        self.holder = holder
        self.lost_wakeup = lost_wakeup
        self.where = where

    def __str__(self) -> str:
        if self.lost_wakeup:
            return f"{self.thread} waits for {self.what}, but {self.lost_wakeup}"
        held = f", held by {self.holder}" if self.holder else ""
        return f"{self.thread} waits for {self.what}{held}"

    def __repr__(self) -> str:
        return f"Wait({self.thread!r}, {self.what!r}, {self.holder!r})"


class DeadlockError(PvnsimError, RuntimeError):
    """Every live simulated thread waits; nothing could ever wake them.

    In single-threaded use (no scheduler) a blocking primitive whose lock is
    held by someone who can never release it raises this instead of hanging.
    ``waits`` lists each waiting thread, what it waits for and who holds it.
    """

    def __init__(self, waits: Sequence[Wait]) -> None:
        self.waits = tuple(waits)
        lines = "; ".join(str(w) for w in self.waits)
        super().__init__(f"{self.kind}: {lines}")

    #: The first word of the message.
    kind = "deadlock"


class LostWakeupError(DeadlockError):
    """A deadlock in which a thread sleeps on a condition variable although
    the condition it waits for is already clear: whoever cleared it did not
    broadcast (a lost wakeup).  ``waits`` names the sleeper and the condition.
    """

    kind = "lost wakeup"


class InterruptSleep(KernelPanic):
    """An interrupt routine (a disk completion, a callout) would sleep.

    Interrupt context has no thread to put to sleep; illumos panics when a
    completion routine blocks.  The message names the routine and what it
    would have waited for.
    """


class StepLimitExceeded(PvnsimError, RuntimeError):
    """A simulated-thread run passed more switch points than its ``max_steps``
    (a livelock?)."""


class LivelockError(StepLimitExceeded):
    """No progress for many switch points while threads spin on trylocks.

    Every switch point in the window was a failed trylock (page_trylock,
    page_io_trylock, page_tryupgrade, page_lookup_nowait) or a yield: the
    threads retry forever and nothing else happens.  The message names the
    spinning threads and the locks they keep trying.
    """


class ScheduleDivergence(UsageError):
    """A run did not meet the choice points a schedule or a search expected.

    Replaying a schedule recorded from another scenario, or running a
    scenario that is not deterministic (it reads the clock, iterates a set
    of objects, draws from an unseeded random generator), gives this.
    """
