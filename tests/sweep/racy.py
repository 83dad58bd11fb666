"""A scenario with a lost update, for the sweep tests (importable as tests.sweep.racy).

Two threads each read a shared counter, reach a yield point and write the
value they read plus one.  Run one after the other they leave 2; if the
second runs between the first one's read and write, one increment is lost
and the check fails, so any search that preempts at the yield point finds it.
"""

from __future__ import annotations

from typing import Any

from pvnsim.concurrency import Run
from pvnsim.kernel import Kernel
from pvnsim.sweep import Scenario


def _setup(run: Run) -> dict[str, int]:
    k = run.attach(Kernel(total_pages=64))
    box = {"n": 0}

    def bump() -> None:
        n = box["n"]
        k.yield_point("between the read and the write")
        box["n"] = n + 1

    run.spawn(bump, name="a")
    run.spawn(bump, name="b")
    return box


def _check(run: Run) -> None:
    data: Any = run.data
    if data["n"] != 2:
        raise AssertionError(f"lost update: n = {data['n']}")


lost_update = Scenario(_setup, _check, "two unlocked increments of one counter")


def setup_only(run: Run) -> None:
    """A plain setup function (no check): one thread that does nothing."""
    run.attach(Kernel(total_pages=64))
    run.spawn(lambda: None, name="idle")
