"""Run the ports in simulated kernel threads and explore the interleavings.

>>> from pvnsim import Kernel, populate
>>> from pvnsim.concurrency import Exhaustive, explore
>>> from pvnsim.flags import P_MOD
>>> from pvnsim.fs import make_putapage
>>> from pvnsim import pvn_vplist_dirty
>>> def setup(run):
...     k = run.attach(Kernel(total_pages=64, lotsfree=0, pages_before_pager=0))
...     vp = k.vnode("f")
...     populate(vp, [0, 4096], nrm=P_MOD)
...     put = make_putapage(4096)
...     run.spawn(pvn_vplist_dirty, vp, 0, put, 0, None, name="fsync1")
...     run.spawn(pvn_vplist_dirty, vp, 0, put, 0, None, name="fsync2")
>>> result = explore(setup, strategy=Exhaustive(preemption_bound=1))
>>> result.ok, result.exhausted
(True, True)

See docs/concurrency.md.
"""

from __future__ import annotations

from pvnsim.concurrency.cpu import other_cpu
from pvnsim.concurrency.run import (
    CPU_ONLY_KINDS,
    SPIN_KINDS,
    Determinism,
    Run,
    check_determinism,
    default_strategy,
    explore,
    replay,
)
from pvnsim.sched.dpor import DPOR
from pvnsim.sched.explore import Exploration, Failure
from pvnsim.sched.schedule import Schedule
from pvnsim.sched.strategies import (
    PCT,
    Alternate,
    Exhaustive,
    IterativeBounding,
    RandomWalk,
    Replay,
)

__all__ = [
    "CPU_ONLY_KINDS",
    "DPOR",
    "PCT",
    "SPIN_KINDS",
    "Alternate",
    "Determinism",
    "Exhaustive",
    "Exploration",
    "Failure",
    "IterativeBounding",
    "RandomWalk",
    "Replay",
    "Run",
    "Schedule",
    "check_determinism",
    "default_strategy",
    "explore",
    "other_cpu",
    "replay",
]
