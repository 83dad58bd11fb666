"""Segments and their kluster decision (SEGOP_KLUSTER).

Derived from the behaviour of illumos usr/src/uts/common/vm/seg_vn.c
(segvn_kluster) and seg_map.c (segmap_kluster) (CDDL-1.0).

``SEGOP_KLUSTER(seg, addr, delta)`` returns 0 when reading or writing the
page at ``addr + delta`` together with the one at ``addr`` makes sense, and
non-zero (-1) to refuse.  Three policies are provided:

* :class:`SegVn` - segvn: refuses outside ``[base, base + size)``, for
  random advice, and for sequential advice with a negative delta.  (pvnsim
  has no anonymous memory, so segvn's anon-slot checks always accept.)
* :class:`SegMap` - segmap (and the kernel's ``segkmap``): never refuses.
* :class:`SegCallable` - any function ``(addr, delta) -> int``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pvnsim.errors import UsageError
from pvnsim.hooks import implements

if TYPE_CHECKING:
    from pvnsim.kernel import Kernel

__all__ = ["SEGOP_KLUSTER", "Seg", "SegCallable", "SegMap", "SegVn"]

ADVICE = ("normal", "random", "sequential")


class Seg:
    """A segment of an address space: a name and a kluster decision."""

    def __init__(self, kernel: Kernel, name: str) -> None:
        self.kernel = kernel
        self.name = name

    def kluster(self, addr: int, delta: int) -> int:
        """0 to accept ``addr + delta`` into a kluster with ``addr``, -1 to refuse."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class SegVn(Seg):
    """A segvn-like segment over ``[base, base + size)`` with madvise advice."""

    def __init__(
        self, kernel: Kernel, name: str, base: int, size: int, advice: str = "normal"
    ) -> None:
        super().__init__(kernel, name)
        if advice not in ADVICE:
            raise UsageError(f"advice must be one of {ADVICE}, not {advice!r}")
        if size <= 0 or base < 0:
            raise UsageError(f"segment range must be non-empty and non-negative: {base=}, {size=}")
        self.base = base
        self.size = size
        self.advice = advice

    def kluster(self, addr: int, delta: int) -> int:
        target = addr + delta
        if target < self.base or target >= self.base + self.size:
            return -1
        if self.advice == "random":
            return -1
        if self.advice == "sequential" and delta < 0:
            return -1
        return 0


class SegMap(Seg):
    """A segmap-like segment: klustering always makes sense."""

    def kluster(self, addr: int, delta: int) -> int:
        return 0


class SegCallable(Seg):
    """A segment whose kluster decision is ``fn(addr, delta)``."""

    def __init__(self, kernel: Kernel, name: str, fn: Callable[[int, int], int]) -> None:
        super().__init__(kernel, name)
        self.fn = fn

    def kluster(self, addr: int, delta: int) -> int:
        return int(self.fn(addr, delta))


@implements
def SEGOP_KLUSTER(seg: Seg, addr: int, delta: int) -> int:
    """Ask ``seg`` whether ``addr + delta`` may join a kluster with ``addr``."""
    k = seg.kernel
    if k.hooks is not None and k.hooks.entering != "SEGOP_KLUSTER":
        return k.hooks.around("SEGOP_KLUSTER", seg, addr, delta)  # type: ignore[no-any-return]
    if type(seg) is SegMap:
        return 0  # SegMap.kluster, inlined: read klusters through segkmap ask once per page
    return seg.kluster(addr, delta)
