"""fsync racing pageout on an 8-page file, explored: through the file-system kit
and as the bare walk (the benchmarks of bench/run.py and bench/instructions.py).

* ``kit``: the built-in sweep scenario ``kit-fsync-vs-pageout``
  (:mod:`pvnsim.sweep.scenarios`): a :class:`pvnsim.fs.Machine` on the run's
  simulation, a file of 8 dirty pages (written through the kit in the
  set-up), a process fsyncing it (and checking the disk after) and the
  pageout thread pushing its pages (memory is short), the disk's completions
  explorable (``interrupts="any"``): 2 threads plus interrupts.
* ``bare``: the same walk without the kit: a kernel and a VMODSORT vnode with
  8 dirty pages, ``pvn_vplist_dirty(flags 0)`` (fsync) against
  ``pvn_vplist_dirty(B_ASYNC | B_FREE)`` (pageout), both with the stand-alone
  ufs-like putapage (writes complete at once: no disk, no interrupts).

Both under :func:`pvnsim.concurrency.explore`'s defaults (its default
strategy, the validators at every switch point and after each run); each
run's set-up (building the kernel, and for the kit the machine, the file and
its dirty pages) counts.
"""

from __future__ import annotations

import time
from typing import Any

from pvnsim import Kernel, populate, pvn_vplist_dirty
from pvnsim.concurrency import explore
from pvnsim.flags import B_ASYNC, B_FREE, P_MOD, VMODSORT
from pvnsim.fs import make_putapage
from pvnsim.sweep.scenarios import SCENARIOS as SCENARIOS_BUILT_IN

PS = 4096
PAGES = 8


#: The kit's scenario: the sweep's built-in ``kit-fsync-vs-pageout`` (its set-up).
kit = SCENARIOS_BUILT_IN["kit-fsync-vs-pageout"].setup


def bare(run: Any) -> None:
    """The bare walk's scenario (see the module docstring)."""
    run.sim.interrupts = "any"
    k = run.attach(Kernel(total_pages=64, lotsfree=0, pages_before_pager=0))
    vp = k.vnode("f", v_flag=VMODSORT)
    populate(vp, range(0, PAGES * PS, PS), nrm=P_MOD)
    put = make_putapage(8192)
    run.spawn(pvn_vplist_dirty, vp, 0, put, 0, None, name="fsync")
    run.spawn(pvn_vplist_dirty, vp, 0, put, B_ASYNC | B_FREE, None, name="pageout")


SCENARIOS = {"kit": kit, "bare": bare}


def runs_per_second(name: str, runs: int) -> float:
    """Explored runs per second of wall time (every run must pass)."""
    t0 = time.perf_counter()
    result = explore(SCENARIOS[name], max_runs=runs)
    seconds = time.perf_counter() - t0
    if not result.ok:
        raise AssertionError(str(result))
    return result.runs / seconds
