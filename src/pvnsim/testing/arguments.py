"""Strategies for the arguments of pvn calls: segment kluster policies and b_flags.

Part of :mod:`pvnsim.testing.strategies` (which re-exports everything here);
both give plain values, each drawn in one choice from a fixed table.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import attrs
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from pvnsim.errors import UsageError
from pvnsim.flags import (
    B_ASYNC,
    B_DELWRI,
    B_DONTNEED,
    B_ERROR,
    B_FORCE,
    B_FREE,
    B_INVAL,
    B_READ,
    B_TRUNC,
    B_WRITE,
)
from pvnsim.kernel import Kernel
from pvnsim.vm.seg import Seg, SegCallable, SegMap, SegVn

__all__ = [
    "PORTS_WITH_FLAGS",
    "REALISTIC_FLAGS",
    "SEG_BASE",
    "KlusterPolicy",
    "flag_sets",
    "kluster_policies",
]

#: Address a segment built by :meth:`KlusterPolicy.seg` maps file offset 0 to
#: in the examples (any page-aligned address works).
SEG_BASE = 0x4000_0000


def _need(cond: bool, message: str) -> None:
    if not cond:
        raise UsageError(message)


# ---------------------------------------------------------------------------
# Segments


_KINDS = ("segmap", "segvn", "callable")
_ADVICE = ("normal", "random", "sequential")


@attrs.frozen
class KlusterPolicy:
    """A segment's kluster decision (SEGOP_KLUSTER), as data.

    Attributes:
        kind: ``"segmap"`` (always accepts), ``"segvn"`` (a segment of
            ``before`` pages below the address and ``after`` above it, with
            madvise ``advice``) or ``"callable"`` (refuses the page deltas
            in ``refused``).
    """

    kind: str
    before: int = 0
    after: int = 0
    advice: str = "normal"
    refused: frozenset[int] = frozenset()

    def refuses(self, delta: int) -> bool:
        """Whether SEGOP_KLUSTER(seg, addr, delta pages) refuses."""
        if self.kind == "segmap":
            return False
        if self.kind == "segvn":
            if delta < -self.before or delta > self.after:
                return True
            return self.advice == "random" or (self.advice == "sequential" and delta < 0)
        return delta in self.refused

    def seg(self, k: Kernel, addr: int) -> Seg:
        """The segment of ``k`` with this policy around address ``addr``."""
        if self.kind == "segmap":
            return SegMap(k, "segmap")
        if self.kind == "segvn":
            before = min(self.before, addr // k.pagesize)
            base = addr - before * k.pagesize
            size = (before + 1 + self.after) * k.pagesize
            return SegVn(
                k, f"segvn[-{before},+{self.after},{self.advice}]", base, size, self.advice
            )
        refused = self.refused
        pagesize = k.pagesize

        def kluster(_addr: int, delta: int) -> int:
            return -1 if delta // pagesize in refused else 0

        return SegCallable(k, f"refuse{sorted(refused)}", kluster)


@functools.cache
def _policy_table(kinds: tuple[str, ...], max_pages: int) -> tuple[KlusterPolicy, ...]:
    extents = sorted({e for e in (0, 1, 2, 4, 8, 16, max_pages) if e <= max_pages})
    table: list[KlusterPolicy] = []
    if "segmap" in kinds:
        table += [KlusterPolicy("segmap")] * 4
    if "segvn" in kinds:
        table += [
            KlusterPolicy("segvn", before, after, advice)
            for advice in _ADVICE
            for before in extents
            for after in extents
        ]
    if "callable" in kinds:
        deltas = [d for d in (1, 2, 3) if d <= max_pages]
        sets = [frozenset({0})] + [frozenset({-d}) for d in deltas]
        sets += [frozenset({d}) for d in deltas] + [frozenset({-d, d}) for d in deltas]
        table += [KlusterPolicy("callable", refused=r) for r in sets]
    return tuple(table)


def kluster_policies(
    *, kinds: Sequence[str] = _KINDS, max_pages: int = 16
) -> SearchStrategy[KlusterPolicy]:
    """Segment kluster policies: segmap, segvn (extent and advice), or refusal sets.

    Args:
        kinds: which of ``"segmap"``, ``"segvn"``, ``"callable"``.
        max_pages: largest segvn extent on either side of the address, in
            pages (extents 0, 1, 2, 4, 8, 16 and ``max_pages`` are drawn).

    Refusal sets refuse one or two page deltas within 3 pages (or delta 0,
    the read-ahead probe).  Each policy is one draw from a fixed table.

    Raises:
        UsageError: unknown kinds or a negative ``max_pages``.
    """
    chosen = tuple(kinds)
    _need(
        bool(chosen) and set(chosen) <= set(_KINDS),
        f"kluster_policies: kinds must be among {_KINDS}, not {chosen!r}",
    )
    _need(max_pages >= 0, f"kluster_policies: max_pages must be >= 0, not {max_pages}")
    return st.sampled_from(_policy_table(chosen, max_pages))


# ---------------------------------------------------------------------------
# Flags

_PUTPAGE = (
    0,  # fsync, msync(MS_SYNC)
    B_ASYNC,  # fsflush, sync(2)
    B_ASYNC | B_FREE,  # pageout
    B_INVAL,  # msync(MS_INVALIDATE), page_invalidate_pages
    B_INVAL | B_TRUNC,  # truncation, nfs_invalidate_pages
    B_ASYNC | B_INVAL,  # zfs_inactive
    B_FREE,  # segmap_release(SM_FREE)
    B_FREE | B_DONTNEED,  # segmap_release(SM_FREE | SM_DONTNEED)
    B_ASYNC | B_DONTNEED,  # segmap_release(SM_ASYNC | SM_DONTNEED)
    B_INVAL | B_FORCE,  # nfs out of space
)
_PUTPAGE_BITS = (B_ASYNC, B_INVAL, B_FREE, B_DONTNEED, B_TRUNC, B_FORCE)

#: For each port taking b_flags: the combinations real file systems pass
#: (the ways ufs, tmpfs, nfs and zfs call them).
REALISTIC_FLAGS: dict[str, tuple[int, ...]] = {
    "pvn_vplist_dirty": _PUTPAGE,
    "pvn_getdirty": _PUTPAGE,
    "pvn_write_kluster": _PUTPAGE,
    "pvn_write_done": tuple(B_WRITE | f for f in _PUTPAGE)
    + tuple(B_ERROR | B_WRITE | f for f in _PUTPAGE),
    "pvn_read_done": (
        B_READ | B_ASYNC,  # read-ahead completion (bio_pageio_done)
        B_READ | B_ASYNC | B_ERROR,
        B_ERROR,  # a failed synchronous read
        B_READ,  # nfs_readahead
        B_READ | B_ERROR,
        0,
    ),
}

#: The ports :func:`flag_sets` knows.
PORTS_WITH_FLAGS = tuple(REALISTIC_FLAGS)


def _subsets(bits: Sequence[int]) -> list[int]:
    out = [0]
    for bit in bits:
        out += [value | bit for value in out]
    return sorted(out)


def _valid_putpage(flags: int) -> bool:
    if flags & B_INVAL:
        return not flags & B_FREE
    return not flags & (B_TRUNC | B_FORCE)


def _valid(port: str) -> list[int]:
    if port == "pvn_read_done":
        return _subsets((B_READ, B_ASYNC, B_ERROR))
    putpage = [f for f in _subsets(_PUTPAGE_BITS) if _valid_putpage(f)]
    if port == "pvn_write_done":
        return sorted(f | g for f in putpage for g in _subsets((B_WRITE, B_ERROR)))
    if port in ("pvn_getdirty", "pvn_write_kluster"):
        return sorted(f | g for f in putpage for g in (0, B_DELWRI))
    return putpage


def flag_sets(port: str, *, realistic_only: bool = False) -> SearchStrategy[int]:
    """Valid b_flags for ``port``, weighted toward the combinations of
    :data:`REALISTIC_FLAGS` (about three draws in four).

    Valid means the port accepts them and a real caller could pass them:
    B_INVAL and B_FREE never together (callers never combine them, and
    pvn_write_done would destroy a page it holds only SE_SHARED); B_TRUNC
    and B_FORCE only with B_INVAL (truncation and forced invalidation: with
    B_FREE instead, pvn_getdirty would free a modified VMODSORT page or a
    logically locked one, which page_free refuses).

    Args:
        port: one of :data:`PORTS_WITH_FLAGS`.
        realistic_only: draw only the realistic combinations.

    Raises:
        UsageError: an unknown port.
    """
    _need(port in REALISTIC_FLAGS, f"flag_sets: unknown port {port!r}; known: {PORTS_WITH_FLAGS}")
    realistic = REALISTIC_FLAGS[port]
    if realistic_only:
        return st.sampled_from(realistic)
    # One draw from a table: the realistic sets three times, then every valid one.
    return st.sampled_from(realistic * 3 + tuple(_valid(port)))
