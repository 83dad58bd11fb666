"""Threaded scenarios an ``explore`` sweep can name.

A :class:`Scenario` is a ``setup(run)`` and an optional ``check(run)`` for
:func:`pvnsim.concurrency.explore`.  A SPEC names one of the built-in
scenarios below, or its own as ``"package.module:name"`` where ``name`` is a
:class:`Scenario`, or a plain ``setup(run)`` function (then nothing is
checked but what the validators check).  The module is looked for on
``sys.path``, then in the SPEC's directory (which is then added to
``sys.path``, so local workers find it too); it must be importable where the
tasks run (on every Dask worker).

==================  ==========================================================
built-in            what races
==================  ==========================================================
two-fsyncs          two ``pvn_vplist_dirty(vp, 0, ...)`` walks of one vnode
                    with six dirty pages
fsync-vs-truncate   an fsync walk against a thread that ``page_lookup``'s
                    three of the pages ``SE_EXCL`` and destroys them
fsync-vs-pageout    an fsync walk against a ``B_ASYNC | B_FREE`` walk, which
                    frees the pages it writes
kit-fsync-vs-       through the file-system kit: a process fsyncs an 8-page
pageout             dirty file while the pageout thread pushes its pages
                    (memory is short); the disk's completions come at any
                    switch point (``interrupts="any"``)
==================  ==========================================================

Each check states what must hold whatever the interleaving: the walks
return 0 (the ``B_ASYNC`` one may return ``EAGAIN``: it does not wait for a
vnode another walk holds), both walks' markers went back to their cache, and every page left
on the vnode is clean (everything dirty was written by someone).  The kit's:
fsync returns 0 with every byte on disk, nothing written is lost, and the
kit's validators hold.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

import attrs

from pvnsim.concurrency import Run
from pvnsim.errors import UsageError
from pvnsim.flags import B_ASYNC, B_FREE, EAGAIN, P_MOD, SE_EXCL, VMODSORT
from pvnsim.fs.sim import Machine
from pvnsim.fs.ufslike import make_putapage
from pvnsim.fs.workload import pattern
from pvnsim.kernel import Kernel
from pvnsim.vm.build import populate
from pvnsim.vm.hat import hat_ismod
from pvnsim.vm.vm_page import page_destroy, page_exists, page_lookup
from pvnsim.vm.vm_pvn import pvn_vplist_dirty
from pvnsim.vm.vnode import Vnode

__all__ = ["SCENARIOS", "Scenario", "get_scenario"]

PAGESIZE = 4096
PAGES = 6
KIT_PAGES = 8


@attrs.frozen
class Scenario:
    """A threaded scenario for :func:`pvnsim.concurrency.explore`.

    Attributes:
        setup: ``setup(run)`` builds and attaches a kernel and spawns threads.
        check: ``check(run)`` after the threads are done (raise to fail).
        description: one line for listings.
    """

    setup: Callable[[Run], Any]
    check: Callable[[Run], None] | None = None
    description: str = ""


def _dirty_vnode(run: Run) -> Vnode:
    k = run.attach(Kernel(total_pages=64, lotsfree=0, pages_before_pager=0))
    vp = k.vnode("f", v_flag=VMODSORT)
    populate(vp, range(0, PAGES * PAGESIZE, PAGESIZE), nrm=P_MOD)
    return vp


def _all_clean(run: Run) -> None:
    vp: Vnode = run.data
    for name, result in run.results.items():
        # An asynchronous walk gives up with EAGAIN when another walk holds
        # the vnode (VVMLOCK) instead of waiting; a synchronous one waits.
        allowed = (None, 0, EAGAIN) if name == "pageout" else (None, 0)
        if result not in allowed:
            raise AssertionError(f"{name} returned {result}, expected one of {allowed[1:]}")
    cache = run.kernel.marker_cache
    leftover = cache.outstanding if cache is not None else set()
    if leftover:
        raise AssertionError(f"{len(leftover)} marker page(s) never went back to their cache")
    for off in range(0, PAGES * PAGESIZE, PAGESIZE):
        pp = page_exists(vp, off)
        if pp is not None and hat_ismod(pp):
            raise AssertionError(f"{pp.name} is still dirty after the walks returned")


def _two_fsyncs(run: Run) -> Vnode:
    vp = _dirty_vnode(run)
    put = make_putapage(PAGESIZE)
    run.spawn(pvn_vplist_dirty, vp, 0, put, 0, None, name="fsync1")
    run.spawn(pvn_vplist_dirty, vp, 0, put, 0, None, name="fsync2")
    return vp


def _fsync_vs_truncate(run: Run) -> Vnode:
    vp = _dirty_vnode(run)

    def truncate() -> None:
        for off in (PAGESIZE, 3 * PAGESIZE, 5 * PAGESIZE):
            pp = page_lookup(vp, off, SE_EXCL)
            if pp is not None:
                page_destroy(pp, 0)

    run.spawn(pvn_vplist_dirty, vp, 0, make_putapage(PAGESIZE), 0, None, name="fsync")
    run.spawn(truncate, name="truncate")
    return vp


def _fsync_vs_pageout(run: Run) -> Vnode:
    vp = _dirty_vnode(run)
    put = make_putapage(PAGESIZE)
    run.spawn(pvn_vplist_dirty, vp, 0, put, 0, None, name="fsync")
    run.spawn(pvn_vplist_dirty, vp, 0, put, B_ASYNC | B_FREE, None, name="pageout")
    return vp


def _kit_fsync_vs_pageout(run: Run) -> Machine:
    run.sim.interrupts = "any"
    m = Machine(
        memory=64 * PAGESIZE,
        run=run,
        verify=True,
        write_behind=False,
        fsflush_interval_ns=0,
        lotsfree=60,
        desfree=30,
        minfree=15,
        throttlefree=8,
        pageout_reserve=4,
        handspread=0,
        pages_before_pager=0,
    )
    m.create("f")
    m.write("f", 0, pattern(1, 0, KIT_PAGES * PAGESIZE))  # dirty (the set-up, in main)

    def fsync(m: Machine) -> int:
        err = m.fsync("f")
        if err == 0:
            m.check_data("f", disk=True)  # fsync returned: every byte is on disk
        return err

    m.process("fsync", fsync)
    return m


def _kit_check(run: Run) -> None:
    m: Machine = run.data
    if run.results["fsync"] != 0:
        raise AssertionError(f"fsync returned {run.results['fsync']}")
    m.check()
    m.check_data()


#: The built-in scenarios by name.
SCENARIOS: dict[str, Scenario] = {
    "two-fsyncs": Scenario(_two_fsyncs, _all_clean, "two fsync walks of one vnode"),
    "fsync-vs-truncate": Scenario(
        _fsync_vs_truncate, _all_clean, "an fsync walk against page_lookup + page_destroy"
    ),
    "fsync-vs-pageout": Scenario(
        _fsync_vs_pageout, _all_clean, "an fsync walk against a B_ASYNC|B_FREE walk"
    ),
    "kit-fsync-vs-pageout": Scenario(
        _kit_fsync_vs_pageout,
        _kit_check,
        "the fs kit: fsync of an 8-page file against the pageout thread and the disk",
    ),
}


def _import_beside(module: str, beside: str | None) -> Any:
    """Import ``module`` from the directory ``beside`` (a SPEC's), adding it
    to ``sys.path``; None when it is not there."""
    top = module.partition(".")[0]
    if beside is None:
        return None
    where = os.path.abspath(beside)
    if not (
        os.path.isfile(os.path.join(where, top + ".py")) or os.path.isdir(os.path.join(where, top))
    ):
        return None
    if where not in sys.path:
        sys.path.append(where)
    importlib.invalidate_caches()
    return importlib.import_module(module)


def get_scenario(name: str, *, beside: str | None = None) -> Scenario:
    """The scenario a SPEC names: a built-in name or ``"package.module:attribute"``.

    Args:
        name: the name.
        beside: a directory (the SPEC's) where a module not found on
            ``sys.path`` is looked for; when it is there, the directory is
            added to ``sys.path``.

    Raises:
        UsageError: no such built-in, the module cannot be imported, or the
            attribute is missing or neither a Scenario nor callable.
    """
    if name in SCENARIOS:
        return SCENARIOS[name]
    module, sep, attr = name.partition(":")
    if not sep or not module or not attr:
        raise UsageError(
            f"unknown scenario {name!r}: name a built-in ({', '.join(SCENARIOS)}) "
            "or your own as 'package.module:name'"
        )
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        found = _import_beside(module, beside) if e.name == module.partition(".")[0] else None
        if found is None:
            raise UsageError(f"scenario {name!r}: cannot import {module!r}: {e}") from None
        mod = found
    except ImportError as e:
        raise UsageError(f"scenario {name!r}: cannot import {module!r}: {e}") from None
    obj = getattr(mod, attr, None)
    if isinstance(obj, Scenario):
        return obj
    if callable(obj):
        return Scenario(obj, None, obj.__doc__ or "")
    raise UsageError(f"scenario {name!r}: {module} has no Scenario or setup function {attr!r}")
