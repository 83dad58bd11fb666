"""Deterministic simulated threads: the scheduler the model switches through.

Plain functions run as simulated threads (on greenlets) that change only at
the switch points the model reports, in virtual time (a :class:`Clock` whose
timed events run as interrupts); a :class:`Strategy` makes every choice
and the run records them as a :class:`Schedule` that replays it exactly.
This package knows nothing about pages or vnodes; :mod:`pvnsim.concurrency`
connects it to a :class:`~pvnsim.kernel.Kernel` and is where the strategies,
schedules and explorations are exported.
"""

from __future__ import annotations

from pvnsim.sched.clock import Clock
from pvnsim.sched.core import Pruned, SimThread, Simulation, Strategy
from pvnsim.sched.interface import Scheduler

__all__ = ["Clock", "Pruned", "Scheduler", "SimThread", "Simulation", "Strategy"]
