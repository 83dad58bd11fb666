"""Memory pressure: move freemem by having "the rest of the kernel" take or give pages.

Theory of operation
-------------------
The pvn routines react to freemem relative to the thresholds (lotsfree,
desfree, minfree, throttlefree, pages_before_pager).  To put a kernel under a
given pressure, and to change it between steps, something outside the file
systems must take memory and give it back: in illumos that is kmem, other
processes, pageout.  Here it is a consumer we call ``kmem``:

* it first takes never-used memory (it moves pages from ``unused_pages`` to
  ``kernel_pages``, so no page object is built);
* then free-list pages, which it holds exclusively (thread name ``"kmem"``)
  without identity;
* then cache-list pages, head first, after page_destroy_free has taken their
  identity (exactly what page_create_va does when the free list is empty).

Giving memory back reverses this (held pages go to the free list first).
Every step keeps the validators' invariants (a page without identity is free
or held exclusively), and freemem stays exact.

Bands name the threshold freemem is under (the most pressured band wins
where thresholds coincide):

==============  ====================================  =====================================
band            freemem                               what reacts in vm_pvn.c
==============  ====================================  =====================================
none            >= lotsfree + pages_before_pager      nothing: written pages stay cached
write_free      [lotsfree, lotsfree + pbp)            pvn_write_done frees written pages
lotsfree        [desfree, lotsfree)                   pageout would scan
desfree         (minfree, desfree)                    pageout scans hard
minfree         (throttlefree, minfree]               no read klustering; read-ahead refused
throttlefree    <= throttlefree                       page_create_va(PG_WAIT) sleeps
==============  ====================================  =====================================
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

import attrs

from pvnsim.errors import InternalError, UsageError
from pvnsim.flags import SE_EXCL
from pvnsim.hooks import quiet
from pvnsim.vm.page import (
    page_get_free,
    page_kernel_give,
    page_kernel_take,
)
from pvnsim.vm.page_lock import take
from pvnsim.vm.vm_page import page_create_reserve, page_destroy_free, page_free

if TYPE_CHECKING:
    from pvnsim.kernel import Kernel
    from pvnsim.vm.page import Page

__all__ = [
    "PRESSURES",
    "Pressure",
    "apply_pressure",
    "freemem_bands",
    "held_memory",
    "pressure_of",
    "reclaim",
    "release_memory",
    "set_freemem",
    "take_memory",
]

#: The bands, from no pressure to the most pressure.
PRESSURES = ("none", "write_free", "lotsfree", "desfree", "minfree", "throttlefree")

#: The thread name that holds the pages the rest of the kernel took.
CONSUMER = "kmem"


class _Held:
    __slots__ = ("borrowed", "pages")

    def __init__(self) -> None:
        self.borrowed = 0  # never-used pages moved into kernel_pages
        self.pages: list[Page] = []  # built pages held without identity


_HELD: weakref.WeakKeyDictionary[Kernel, _Held] = weakref.WeakKeyDictionary()


def _held(k: Kernel) -> _Held:
    h = _HELD.get(k)
    if h is None:
        h = _HELD[k] = _Held()
    return h


def held_memory(k: Kernel) -> int:
    """Pages the rest of the kernel holds now (what it could give back)."""
    h = _HELD.get(k)
    return 0 if h is None else h.borrowed + len(h.pages)


def take_memory(k: Kernel, n: int, *, recycle: bool = True) -> int:
    """Have the rest of the kernel take up to ``n`` pages of free memory.

    Takes never-used memory first, then free-list pages, then (if
    ``recycle``) cache-list pages, head first, which lose their identity.
    Cache-list pages locked by a running walk are skipped.

    Returns:
        The number of pages taken (less than ``n`` when memory runs out).

    Raises:
        UsageError: ``n`` is negative.
    """
    if n < 0:
        raise UsageError(f"take_memory: n must be >= 0, not {n}")
    h = _held(k)
    taken = 0
    with quiet(k):
        while taken < n:
            if k.unused_pages:
                m = page_kernel_take(k, n - taken)
                h.borrowed += m
                taken += m
                continue
            if k.page_freelist is None and not (recycle and _recycle_cached(k)):
                break
            page_create_reserve(k, 1)
            pp: Page = page_get_free(k)  # type: ignore[assignment]  # the list is not empty
            take(pp, SE_EXCL, CONSUMER)
            h.pages.append(pp)
            taken += 1
    return taken


def _recycle_cached(k: Kernel) -> bool:
    head = k.page_cachelist
    if head is None:
        return False
    pp = head
    while pp.p_selock != 0:
        pp = pp.p_next
        if pp is head:
            return False
    take(pp, SE_EXCL, CONSUMER)
    page_destroy_free(pp)  # cache list -> free list, identity gone, unlocked
    return True


def release_memory(k: Kernel, n: int) -> int:
    """Have the rest of the kernel give back up to ``n`` pages.

    Pages it holds go to the free list first, then borrowed never-used
    memory is returned.  Usable as ``Kernel.memory_reclaim`` through
    :func:`reclaim`.

    Returns:
        The number of pages given back.

    Raises:
        UsageError: ``n`` is negative.
    """
    if n < 0:
        raise UsageError(f"release_memory: n must be >= 0, not {n}")
    h = _HELD.get(k)
    if h is None:
        return 0
    given = 0
    with quiet(k):
        while given < n and h.pages:
            pp = h.pages.pop()
            page_free(pp, 0)  # free list, freemem + 1, unlocked
            given += 1
    m = min(n - given, h.borrowed)
    h.borrowed -= m
    page_kernel_give(k, m)
    return given + m


def reclaim(k: Kernel, shortfall: int) -> None:
    """A ``Kernel.memory_reclaim`` hook: the rest of the kernel gives back ``shortfall``."""
    release_memory(k, shortfall)


def set_freemem(k: Kernel, target: int) -> int:
    """Move freemem toward ``target`` by taking or giving back memory.

    Returns:
        The freemem reached: ``target`` unless memory ran out (all free
        memory taken) or the rest of the kernel held too little to give back.

    Raises:
        UsageError: ``target`` is negative.
    """
    if target < 0:
        raise UsageError(f"set_freemem: target must be >= 0, not {target}")
    if k.freemem > target:
        take_memory(k, k.freemem - target)
    elif k.freemem < target:
        release_memory(k, target - k.freemem)
    return k.freemem


def freemem_bands(k: Kernel) -> dict[str, tuple[int, int]]:
    """Each band's freemem range ``(lo, hi)``, inclusive, that ``k`` can reach.

    The bands partition ``[0, freemem + held_memory(k)]``: each starts just
    above the more pressured bands, so when thresholds coincide the most
    pressured band wins.  A band is empty (``lo > hi``) when the thresholds
    leave no room for it or the kernel cannot reach it.
    """
    lots, des = k.lotsfree or 0, k.desfree or 0
    mn, thr = k.minfree or 0, k.throttlefree or 0
    top = k.freemem + held_memory(k)
    tops = {  # the highest freemem of each band, most pressure first
        "throttlefree": thr,
        "minfree": mn,
        "desfree": des - 1,
        "lotsfree": lots - 1,
        "write_free": lots + k.pages_before_pager - 1,
        "none": top,
    }
    out: dict[str, tuple[int, int]] = {}
    floor = 0
    for band, hi in tops.items():
        out[band] = (floor, min(hi, top))
        floor = max(floor, hi + 1)
    return {band: out[band] for band in PRESSURES}


def pressure_of(k: Kernel) -> str:
    """The band freemem is in now."""
    f = k.freemem
    for band, (lo, hi) in freemem_bands(k).items():
        if lo <= f <= hi:
            return band
    raise InternalError(f"freemem {f} is in no band of {freemem_bands(k)}")  # pragma: no cover


@attrs.frozen
class Pressure:
    """A memory pressure: a band and a position inside it.

    Attributes:
        band: one of :data:`PRESSURES`.
        permille: where in the band, from 0 (its bottom) to 1000 (its top).
    """

    band: str
    permille: int = 500

    def __attrs_post_init__(self) -> None:
        if self.band not in PRESSURES:
            raise UsageError(f"Pressure: band must be one of {PRESSURES}, not {self.band!r}")
        if not 0 <= self.permille <= 1000:
            raise UsageError(f"Pressure: permille must be in [0, 1000], not {self.permille}")

    def target(self, k: Kernel) -> int:
        """The freemem this pressure means for ``k``.

        When ``k`` cannot reach the band, the nearest freemem it can reach.
        """
        lo, hi = freemem_bands(k)[self.band]
        if lo > hi:
            return min(lo, k.freemem + held_memory(k))
        return lo + (hi - lo) * self.permille // 1000


def apply_pressure(k: Kernel, pressure: Pressure) -> int:
    """Move freemem to ``pressure``'s target; returns the freemem reached."""
    return set_freemem(k, pressure.target(k))
