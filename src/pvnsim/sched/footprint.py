"""Footprints: what each step of a simulated run reads and writes.

Theory of operation
-------------------
A *step* is what one thread (or the interrupt pseudo-thread) does between
two *boundaries*: switch points, blocks, yields, data choices, the end of
the thread, and the start and end of every interrupt.  While a
:class:`~pvnsim.sched.core.Simulation` records footprints
(``sim.recording``), the code that runs adds *keys* to the running step's
:class:`Footprint`: ``reads`` and ``writes`` are sets of keys.  At each
boundary the simulation closes the step: it hands ``(thread, reads,
writes, wild)`` to the strategy (when the strategy asked for footprints,
:attr:`~pvnsim.sched.core.Strategy.footprints`) and adds the writes to
``touched`` (what an incremental validator has not looked at yet), then
starts a new, empty step.

Keys are opaque to this package: any hashable value that names the same
object in every run of a scenario (runs are re-executed from scratch, so a
key must not hold the objects of one run).  :mod:`pvnsim.hooks` writes the
model's keys (page locks, page identities, vnode lists, mutexes, freemem,
...); the simulation itself writes :data:`CLOCK` whenever time or the
event queue changes.  Two steps of different threads *conflict* (are
*dependent*) when one writes a key the other reads or writes, or when
either is *wild*: a wait on a condition the simulation cannot see
(:meth:`~pvnsim.sched.core.Simulation.wait` without ``on``) is taken to
conflict with everything.

Keys that must hold for the whole of a call (a port that reads a list
without its mutex, say) are *standing* reads: :meth:`Footprint.stand` adds
them to every step the named thread closes until :meth:`Footprint.sit`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

__all__ = ["CLOCK", "Footprint", "conflict"]

#: The key of virtual time and the event queue.
CLOCK = "clock"


class Footprint:
    """The keys the running step has read and written (see the module docstring).

    Attributes:
        reads: keys read by the running step.
        writes: keys written by the running step.
        wild: the running step waited on something unnamed (conflicts with
            everything).
        touched: keys written by closed steps since an incremental
            validator last looked (it clears the set); ``None`` while
            nobody keeps it.
        standing: per thread name, keys every step of that thread reads.
    """

    __slots__ = ("reads", "standing", "touched", "wild", "writes")

    def __init__(self) -> None:
        self.reads: set[Hashable] = set()
        self.writes: set[Hashable] = set()
        self.wild = False
        self.touched: set[Hashable] | None = None
        self.standing: dict[str, list[frozenset[Hashable]]] = {}

    def wait_on(self, keys: Iterable[tuple[str, Hashable]] | None) -> None:
        """Record a wait: ``keys`` are (mode, key) pairs (``"r"`` or ``"w"``);
        ``None``: an unnamed condition (the step becomes wild)."""
        if keys is None:
            self.wild = True
            return
        for mode, key in keys:
            (self.writes if mode == "w" else self.reads).add(key)

    def stand(self, thread: str, keys: frozenset[Hashable]) -> None:
        """Every step of ``thread`` reads ``keys`` until the matching :meth:`sit`."""
        self.standing.setdefault(thread, []).append(keys)

    def sit(self, thread: str) -> None:
        """End the innermost :meth:`stand` of ``thread``."""
        stack = self.standing.get(thread)
        if stack:
            stack.pop()
            if not stack:
                del self.standing[thread]

    def close(self, thread: str | None) -> tuple[set[Hashable], set[Hashable], bool]:
        """End the running step (of ``thread``); returns its reads, writes and
        wildness (new sets start the next step, so the caller may keep them)."""
        reads, writes, wild = self.reads, self.writes, self.wild
        if thread is not None:
            stack = self.standing.get(thread)
            if stack:
                for keys in stack:
                    reads |= keys
        touched = self.touched
        if touched is not None and writes:
            touched |= writes
        self.reads = set()
        self.writes = set()
        self.wild = False
        return reads, writes, wild

    def drop(self) -> None:
        """End the running step when nobody keeps steps: only ``touched``
        learns its writes (the same sets start the next step)."""
        writes = self.writes
        if writes:
            touched = self.touched
            if touched is not None:
                touched |= writes
            writes.clear()
        if self.reads:
            self.reads.clear()
        self.wild = False

    def __repr__(self) -> str:
        return f"<Footprint reads={len(self.reads)} writes={len(self.writes)}>"


def conflict(
    reads1: set[Hashable] | frozenset[Hashable],
    writes1: set[Hashable] | frozenset[Hashable],
    wild1: bool,
    reads2: set[Hashable] | frozenset[Hashable],
    writes2: set[Hashable] | frozenset[Hashable],
    wild2: bool,
) -> bool:
    """Whether two steps are dependent: one writes what the other touches.

    >>> conflict({"a"}, set(), False, set(), {"a"}, False)
    True
    >>> conflict({"a"}, set(), False, {"a"}, set(), False)
    False
    """
    if wild1 or wild2:
        return True
    if writes1 and (not writes1.isdisjoint(writes2) or not writes1.isdisjoint(reads2)):
        return True
    return bool(writes2) and not writes2.isdisjoint(reads1)
