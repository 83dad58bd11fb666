"""Deprecated names of the kit, kept for one release (see CHANGELOG 0.2)."""

from __future__ import annotations

from typing import Any

from pvnsim.sched import Simulation
from pvnsim.sched.clock import Clock

__all__ = ["NEW_NAMES", "Clock", "IoScheduler"]

#: What replaces each deprecated name.
NEW_NAMES = {
    "Clock": "pvnsim.sched.Clock",
    "IoScheduler": "pvnsim.sched.Simulation(clock=clock, switches=False)",
}


def IoScheduler(kernel: Any, clock: Clock) -> Simulation:
    """The one-thread scheduler on ``clock``: ``Simulation(clock=clock, switches=False)``."""
    return Simulation(clock=clock, switches=False)
