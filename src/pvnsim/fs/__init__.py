"""The filesystem-simulation kit: a reference file system on the pvn routines,
a simulated disk, memory pressure and workloads in virtual time.

Start with :class:`Machine` (see docs/fs.md)::

    >>> from pvnsim.fs import Machine
    >>> sim = Machine(memory=1 << 20, verify=True)
    >>> _ = sim.create("f")
    >>> sim.write("f", 0, b"hello"), sim.read("f", 0, 5)
    (0, (0, b'hello'))
"""

from pvnsim.fs.disk import Disk, DiskRequest, Fault
from pvnsim.fs.fs import FsStats, Inode, RefFs
from pvnsim.fs.inode import BlockMap
from pvnsim.fs.metrics import Metrics
from pvnsim.fs.pageout import Fsflush, Pageout
from pvnsim.fs.sim import Machine, SimConfig
from pvnsim.fs.tracefile import format_trace, load_trace, parse_trace, save_trace
from pvnsim.fs.ufslike import Pushed, UfsPutapage, make_putapage, putpage_range
from pvnsim.fs.workload import WORKLOADS, Op, Workload, build_workload, pattern

__all__ = [
    "WORKLOADS",
    "BlockMap",
    "Disk",
    "DiskRequest",
    "Fault",
    "FsStats",
    "Fsflush",
    "Inode",
    "Machine",
    "Metrics",
    "Op",
    "Pageout",
    "Pushed",
    "RefFs",
    "SimConfig",
    "UfsPutapage",
    "Workload",
    "build_workload",
    "format_trace",
    "load_trace",
    "make_putapage",
    "parse_trace",
    "pattern",
    "putpage_range",
    "save_trace",
]


def __getattr__(name: str) -> object:
    # Deprecated names, kept for one release: Machine's old name (see
    # pvnsim.fs.sim), and the clock and one-thread scheduler, which are now
    # pvnsim.sched's Clock and Simulation(switches=False).
    if name == "Simulation":
        from pvnsim.fs import sim

        return sim.__getattr__(name)
    if name in ("Clock", "IoScheduler"):
        import warnings

        from pvnsim.fs import compat

        warnings.warn(
            f"pvnsim.fs.{name} is deprecated: use {compat.NEW_NAMES[name]}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(compat, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
