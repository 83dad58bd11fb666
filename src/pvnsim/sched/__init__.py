"""Deterministic simulated threads: the scheduler the model switches through.

Plain functions run as simulated threads (on greenlets) that change only at
the switch points the model reports; a :class:`Strategy` makes every choice
and the run records them as a :class:`Schedule` that replays it exactly.
This package knows nothing about pages or vnodes; :mod:`pvnsim.concurrency`
connects it to a :class:`~pvnsim.kernel.Kernel`.
"""

from __future__ import annotations

from pvnsim.sched.core import SimThread, Simulation, StepLimitExceeded, Strategy
from pvnsim.sched.explore import Difference, Exploration, Failure, explore, first_difference
from pvnsim.sched.interface import Scheduler
from pvnsim.sched.schedule import Schedule, ScheduleDivergence
from pvnsim.sched.strategies import PCT, Exhaustive, RandomWalk, Replay

__all__ = [
    "PCT",
    "Difference",
    "Exhaustive",
    "Exploration",
    "Failure",
    "RandomWalk",
    "Replay",
    "Schedule",
    "ScheduleDivergence",
    "Scheduler",
    "SimThread",
    "Simulation",
    "StepLimitExceeded",
    "Strategy",
    "explore",
    "first_difference",
]
