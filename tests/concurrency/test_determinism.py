"""Same scenario, same seed: byte-identical traces; a difference is named."""

from __future__ import annotations

import itertools
from typing import Any

from pvnsim import Kernel, make_page
from pvnsim.concurrency import PCT, Exhaustive, RandomWalk, Run, check_determinism
from pvnsim.flags import B_ASYNC, SE_EXCL
from pvnsim.vm import page_destroy, page_lookup

from .walk_scenario import WalkScenario


def test_walk_exploration_is_deterministic() -> None:
    """Two passes of a PCT exploration record identical traces, schedules and outcomes."""
    sc = WalkScenario("cdcddd", 0, [("destroy", 3), ("head", 6)])
    report = check_determinism(sc.setup, sc.check, strategy=PCT(seed=7, depth=3), max_runs=10)
    assert report.identical, str(report)
    assert report.difference is None
    assert report.lines > 500
    assert str(report).startswith("deterministic")


def test_determinism_holds_for_random_and_exhaustive_strategies() -> None:
    """The random walk and the exhaustive search are as reproducible as PCT."""
    sc = WalkScenario("ccdddd", B_ASYNC, [("lock", 4)])
    for strategy in (RandomWalk(seed=3), Exhaustive(preemption_bound=1)):
        assert check_determinism(sc.setup, sc.check, strategy=strategy, max_runs=8).identical


def test_a_scenario_that_reads_outside_state_is_reported_with_its_first_difference() -> None:
    """A setup that names a thread from a global counter differs between the passes.

    The first pass names the destroyer d0, the second d1 (the counter has
    moved on), so the first differing line is the first trace line of that
    thread in run 0, and both versions are shown.
    """
    counter = itertools.count()

    def setup(run: Run) -> None:
        k = run.attach(Kernel(total_pages=16))
        vp = k.vnode("f")
        make_page(vp, 0)
        name = f"d{next(counter)}"

        def destroy() -> None:
            pp: Any = page_lookup(vp, 0, SE_EXCL)
            page_destroy(pp, 0)

        run.spawn(destroy, name=name)

    report = check_determinism(setup, strategy=Exhaustive(0), max_runs=1)
    assert not report.identical
    d = report.difference
    assert d is not None
    assert d.first is not None and d.second is not None
    assert "d0" in d.first and "d1" in d.second
    assert str(report).startswith("NOT deterministic")
