"""pvnsim.testing: property-based testing of the pvn layer and of file systems on it.

* :mod:`~pvnsim.testing.strategies`: Hypothesis strategies for kernels,
  vnodes with page populations, segment kluster policies, flag sets and
  memory pressure.
* :mod:`~pvnsim.testing.invariants`: one public check per invariant.
* :mod:`~pvnsim.testing.machine`: :class:`PvnStateMachine`, a ready
  RuleBasedStateMachine over the whole pvn layer.
* :mod:`~pvnsim.testing.pressure`: moving freemem between memory-pressure bands.
* :mod:`~pvnsim.testing.simplefs`: the fs kit's RefFs as a preset for raw vnodes
  (no disk, no file sizes, every kluster checked).
* :mod:`~pvnsim.testing.others`: a stand-in for the other threads.
* :mod:`~pvnsim.testing.plugin`: the pytest plugin (``pvn_kernel`` fixture,
  Hypothesis profiles ``pvnsim-dev``, ``pvnsim-ci``, ``pvnsim-deep``).

Every name below can be imported from ``pvnsim.testing``.  They are loaded on
first use, so the pytest plugin works even where Hypothesis is not installed;
the strategies and the state machine need it (``pip install 'pvnsim[test]'``).
See docs/testing.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pvnsim.testing.invariants import (
        INVARIANTS,
        PageRecord,
        VnodeState,
        check_invariants,
        check_list_wellformedness,
        check_lock_consistency,
        check_marker_safety,
        check_no_free_page_held,
        check_page_conservation,
        check_quiescent,
        check_read_kluster,
        check_vmodsort_ordering,
        check_write_kluster,
        is_dirty,
        vnode_state,
    )
    from pvnsim.testing.machine import MAX_OFFSET, PvnStateMachine, Setup, machine_setups
    from pvnsim.testing.others import OTHER, OtherThreads
    from pvnsim.testing.pressure import (
        PRESSURES,
        Pressure,
        apply_pressure,
        freemem_bands,
        held_memory,
        pressure_of,
        reclaim,
        release_memory,
        set_freemem,
        take_memory,
    )
    from pvnsim.testing.simplefs import SimpleFs
    from pvnsim.testing.strategies import (
        PORTS_WITH_FLAGS,
        REALISTIC_FLAGS,
        REALISTIC_V_FLAGS,
        SEG_BASE,
        KlusterPolicy,
        PageSpec,
        Population,
        build_population,
        flag_sets,
        kernels,
        kluster_policies,
        page_specs,
        populated_vnode,
        populations,
        pressure_trajectories,
        pressured_kernel,
        pressures,
        vnode_flags,
        vnodes,
    )

_MODULES = {
    "invariants": (
        "INVARIANTS",
        "PageRecord",
        "VnodeState",
        "check_invariants",
        "check_list_wellformedness",
        "check_lock_consistency",
        "check_marker_safety",
        "check_no_free_page_held",
        "check_page_conservation",
        "check_quiescent",
        "check_read_kluster",
        "check_vmodsort_ordering",
        "check_write_kluster",
        "is_dirty",
        "vnode_state",
    ),
    "machine": ("MAX_OFFSET", "PvnStateMachine", "Setup", "machine_setups"),
    "others": ("OTHER", "OtherThreads"),
    "pressure": (
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
    ),
    "simplefs": ("SimpleFs",),
    "strategies": (
        "PORTS_WITH_FLAGS",
        "REALISTIC_FLAGS",
        "REALISTIC_V_FLAGS",
        "SEG_BASE",
        "KlusterPolicy",
        "PageSpec",
        "Population",
        "build_population",
        "flag_sets",
        "kernels",
        "kluster_policies",
        "page_specs",
        "populated_vnode",
        "populations",
        "pressure_trajectories",
        "pressured_kernel",
        "pressures",
        "vnode_flags",
        "vnodes",
    ),
}

_WHERE = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "INVARIANTS",
    "MAX_OFFSET",
    "OTHER",
    "PORTS_WITH_FLAGS",
    "PRESSURES",
    "REALISTIC_FLAGS",
    "REALISTIC_V_FLAGS",
    "SEG_BASE",
    "KlusterPolicy",
    "OtherThreads",
    "PageRecord",
    "PageSpec",
    "Population",
    "Pressure",
    "PvnStateMachine",
    "Setup",
    "SimpleFs",
    "VnodeState",
    "apply_pressure",
    "build_population",
    "check_invariants",
    "check_list_wellformedness",
    "check_lock_consistency",
    "check_marker_safety",
    "check_no_free_page_held",
    "check_page_conservation",
    "check_quiescent",
    "check_read_kluster",
    "check_vmodsort_ordering",
    "check_write_kluster",
    "flag_sets",
    "freemem_bands",
    "held_memory",
    "is_dirty",
    "kernels",
    "kluster_policies",
    "machine_setups",
    "page_specs",
    "populated_vnode",
    "populations",
    "pressure_of",
    "pressure_trajectories",
    "pressured_kernel",
    "pressures",
    "reclaim",
    "release_memory",
    "set_freemem",
    "take_memory",
    "vnode_flags",
    "vnode_state",
    "vnodes",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'pvnsim.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"pvnsim.testing.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
