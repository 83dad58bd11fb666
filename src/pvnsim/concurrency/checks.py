"""Validation at switch points, where a walk may be half way through.

:func:`~pvnsim.check_kernel` checks a kernel between calls.  At a switch
point one rule is too strict: pvn_vplist_dirty allocates its two markers
before it takes the vnode-list mutex to insert them (vm_pvn.c L788-808) and
frees them after it has removed them and dropped the mutex (L970-979), so
for a moment markers are allocated but on no list.  :func:`check_in_flight`
runs every other validator unchanged and this rule in the form that holds at
every switch point.

Like :func:`~pvnsim.check_kernel`, :func:`check_in_flight` first asks the
fused one-pass :func:`~pvnsim.vm.validate.invariants_hold` and runs the
separate checks, which name the problem, only when it answers no.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pvnsim.errors import InvariantViolation
from pvnsim.flags import VVMLOCK
from pvnsim.vm.validate import (
    check_conservation,
    check_hash,
    check_lists,
    check_locks,
    check_vmodsort,
    count_markers,
    invariants_hold,
)

if TYPE_CHECKING:
    from pvnsim.kernel import Kernel

__all__ = ["check_in_flight", "check_markers_in_flight"]


def check_markers_in_flight(k: Kernel) -> None:
    """Markers only on vnodes being walked, at most two each, and at most two
    allocated per walk; every marker on a list was allocated.

    Raises:
        InvariantViolation: naming the vnode or the cache.
    """
    on_lists = 0
    walks = 0
    for vp in k.vnodes:
        walking = bool(vp.v_flag & VVMLOCK)
        walks += walking
        count = count_markers(vp.v_pages)
        if count and not walking:
            raise InvariantViolation(
                f"vnode {vp.v_name} holds {count} marker page(s) but no pvn_vplist_dirty is running"
            )
        if count > 2:
            raise InvariantViolation(f"vnode {vp.v_name} holds {count} marker pages (at most 2)")
        on_lists += count
    cache = k.marker_cache
    out = len(cache.outstanding) if cache is not None else 0
    if on_lists > out:
        raise InvariantViolation(
            f"the vnode lists hold {on_lists} markers but marker_cache has only {out} allocated"
        )
    if out > 2 * walks:
        raise InvariantViolation(
            f"marker_cache has {out} markers allocated but only {walks} vnode(s) have "
            "VVMLOCK set: a walk that uses marker pages must hold VVMLOCK (at most two "
            "markers per walk), as pvn_vplist_dirty does"
        )


def check_in_flight(k: Kernel) -> None:
    """Every validator of :func:`~pvnsim.check_kernel`, with the marker rule
    of :func:`check_markers_in_flight`.

    Raises:
        InvariantViolation: at the first broken invariant.
    """
    if invariants_hold(k, in_flight=True):
        return
    check_lists(k)
    check_hash(k)
    check_conservation(k)
    check_markers_in_flight(k)
    check_vmodsort(k)
    check_locks(k)
