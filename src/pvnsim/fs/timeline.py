"""A run over virtual time: an opt-in sampler of a :class:`~pvnsim.fs.sim.Machine`.

Theory of operation
-------------------
:meth:`Timeline.attach` installs the timeline as the simulation's
``sampler``; :meth:`Machine.run <pvnsim.fs.sim.Machine.run>` then hands
each operation to it instead of applying it directly.  The timeline applies
the operation itself and afterwards reads only public counters: the clock,
``freemem``, the disk's byte counts and the file system's kluster
histograms.  Every ``every`` operations it records a sample (time, freemem,
pages read and written so far); the klusters issued since the previous
sample are recorded as ``(time, pages, count)`` by diffing the histograms;
every fsync's latency, and the lowest freemem after any operation, are kept
whatever ``every`` is.

Nothing is recorded for operations called directly (``sim.write(...)``)
rather than through ``run``, and a simulation without a timeline pays one
``is None`` test per operation.

The figure is drawn by :func:`pvnsim.viz.plots.plot_timeline`.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import attrs

from pvnsim.errors import UsageError
from pvnsim.fs.workload import Op

if TYPE_CHECKING:
    from pvnsim.fs.sim import Machine

__all__ = ["FsyncSample", "KlusterSample", "Timeline"]


@attrs.frozen
class KlusterSample:
    """``count`` klusters of ``pages`` pages issued by virtual time ``t_ns``."""

    t_ns: int
    pages: int
    count: int


@attrs.frozen
class FsyncSample:
    """An fsync(2) of ``file`` that started at ``t_ns`` and took ``latency_ns``."""

    t_ns: int
    latency_ns: int
    file: str


def _new_klusters(now: Counter[int], seen: dict[int, int], t_ns: int) -> list[KlusterSample]:
    """The histogram's growth since ``seen`` (updated in place), as samples."""
    out = []
    for pages, count in now.items():
        grown = count - seen.get(pages, 0)
        if grown:
            out.append(KlusterSample(t_ns, pages, grown))
            seen[pages] = count
    out.sort(key=lambda s: s.pages)
    return out


@attrs.define(eq=False)
class Timeline:
    """Samples of one simulation run over virtual time.

    Attributes:
        every: operations between two samples of the series.
        pagesize, total_pages, minfree, desfree, lotsfree: the kernel's
            (fixed) figures, for drawing the thresholds.
        t_ns, freemem, pages_read, pages_written: the sampled series (pages
            read and written are cumulative disk traffic in pages).
        read_klusters, write_klusters: klusters issued, by sample time.
        fsyncs: every fsync run through the simulation.
    """

    every: int = 1
    pagesize: int = 4096
    total_pages: int = 0
    minfree: int = 0
    desfree: int = 0
    lotsfree: int = 0
    t_ns: list[int] = attrs.field(factory=list)
    freemem: list[int] = attrs.field(factory=list)
    pages_read: list[int] = attrs.field(factory=list)
    pages_written: list[int] = attrs.field(factory=list)
    read_klusters: list[KlusterSample] = attrs.field(factory=list)
    write_klusters: list[KlusterSample] = attrs.field(factory=list)
    fsyncs: list[FsyncSample] = attrs.field(factory=list)
    _sim: Machine | None = attrs.field(default=None, repr=False)
    _ops: int = 0
    _low: int = attrs.field(default=1 << 62, repr=False)
    _seen_read: dict[int, int] = attrs.field(factory=dict, repr=False)
    _seen_write: dict[int, int] = attrs.field(factory=dict, repr=False)

    @classmethod
    def attach(cls, sim: Machine, *, every: int = 1) -> Timeline:
        """Start sampling ``sim`` (replacing any sampler it had); returns the timeline.

        Args:
            sim: the simulation; samples are taken by its ``run``.
            every: take a sample every this many operations.

        Raises:
            UsageError: ``every`` is not a positive int.
        """
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise UsageError(f"timeline: every must be a positive int, not {every!r}")
        k = sim.kernel
        tl = cls(
            every=every,
            pagesize=k.pagesize,
            total_pages=k.total_pages,
            minfree=int(k.minfree or 0),
            desfree=int(k.desfree or 0),
            lotsfree=int(k.lotsfree or 0),
            sim=sim,
        )
        stats = sim.fs.stats
        tl._seen_read = dict(stats.read_klusters)
        tl._seen_write = dict(stats.write_klusters)
        tl.sample()
        sim.sampler = tl
        return tl

    def detach(self) -> None:
        """Stop sampling (takes a last sample)."""
        sim = self._sim
        if sim is not None and sim.sampler is self:
            self.sample()
            sim.sampler = None

    def __call__(self, sim: Machine, op: Op) -> int:
        """Apply ``op`` to ``sim`` and record what it did; returns its errno."""
        start = sim.clock.now
        err = sim.apply(op)
        self._low = min(self._low, sim.kernel.freemem)
        if op.kind == "fsync":
            self.fsyncs.append(FsyncSample(start, sim.clock.now - start, op.file))
        self._ops += 1
        if self._ops % self.every == 0:
            self.sample()
        return err

    def sample(self) -> None:
        """Record the series and the new klusters now."""
        sim = self._sim
        if sim is None:
            raise UsageError("timeline: not attached to a simulation (use Timeline.attach)")
        now = sim.clock.now
        disk = sim.disk
        self.t_ns.append(now)
        self.freemem.append(sim.kernel.freemem)
        self.pages_read.append(disk.bytes_read // self.pagesize)
        self.pages_written.append(disk.bytes_written // self.pagesize)
        stats = sim.fs.stats
        self.read_klusters += _new_klusters(stats.read_klusters, self._seen_read, now)
        self.write_klusters += _new_klusters(stats.write_klusters, self._seen_write, now)

    @property
    def freemem_min(self) -> int:
        """The lowest freemem after any operation since attach, sampled or not."""
        return min(self._low, *self.freemem)

    def fsync_latencies(self) -> list[int]:
        """Every fsync's latency in ns, in the order they ran."""
        return [f.latency_ns for f in self.fsyncs]
