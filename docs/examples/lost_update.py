"""A scenario of your own for an exploration campaign (docs/sweeps.md).

Two simulated threads add one to a shared counter without a lock: each
reads it, reaches a switch point, and writes back what it read plus one.
Some interleavings lose an update; the check says so.  A SPEC names it as
``"lost_update:scenario"``: a SPEC in this directory finds it beside itself
(elsewhere, put this directory on ``PYTHONPATH``).
"""

from __future__ import annotations

from pvnsim import Kernel
from pvnsim.concurrency import Run
from pvnsim.sweep import Scenario


def setup(run: Run) -> dict[str, int]:
    """Two threads, each incrementing ``counter["n"]`` with a switch point inside."""
    k = run.attach(Kernel(total_pages=64))
    counter = {"n": 0}

    def increment() -> None:
        n = counter["n"]
        k.yield_point("after reading the counter")
        counter["n"] = n + 1

    run.spawn(increment, name="t1")
    run.spawn(increment, name="t2")
    return counter


def check(run: Run) -> None:
    """Both increments must count."""
    n = run.data["n"]
    assert n == 2, f"lost update: counter is {n}, not 2"


scenario = Scenario(setup, check, "two unlocked increments of one counter")
