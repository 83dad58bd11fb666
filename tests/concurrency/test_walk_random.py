"""pvn_vplist_dirty against four mutator threads: thousands of random and PCT schedules.

Twelve-page vnodes, a walker and four threads creating at the head (and, on
the VMODSORT vnode, at the tail), freeing, locking and destroying pages.
The walk properties of walk_scenario.py are checked at every switch point
and at the end of every run.  Running every validator at every switch point
costs about twice as much as the rest of a run, so 1,000 runs (100 per case
and strategy) validate at every switch point and 1,200 more (on the two
richest cases) at the end of each run.
"""

from __future__ import annotations

import pytest

from pvnsim.concurrency import PCT, RandomWalk, explore
from pvnsim.flags import B_ASYNC, B_FREE, B_INVAL

from .walk_scenario import WalkScenario

CASES = {
    "plain": ("ccCcddcddddd", 0, [("destroy", 5), ("head", 12), ("lock", 8), ("free", 0)], False),
    "vmodsort": (
        "ccccdddddddd",
        0,
        [("tail", 12), ("destroy", 6), ("lock", 9), ("head", 13)],
        True,
    ),
    "async": (
        "cdcdcdcddddd",
        B_ASYNC,
        [("lock", 3), ("destroy", 9), ("head", 12), ("lock", 10)],
        False,
    ),
    "inval": (
        "cCcdddcCdddd",
        B_INVAL,
        [("free", 2), ("destroy", 4), ("head", 12), ("lock", 9)],
        False,
    ),
    "free": (
        "ccccdddddddd",
        B_FREE,
        [("lock", 6), ("destroy", 2), ("head", 12), ("free", 1)],
        False,
    ),
}

STRATEGIES = {
    "random": RandomWalk(seed=11, switch_probability=0.1),
    "pct": PCT(seed=11, depth=3),
}


def explore_case(case: str, strategy: str, runs: int, validate: bool | str) -> None:
    pages, flags, ops, vmodsort = CASES[case]
    sc = WalkScenario(pages, flags, ops, vmodsort=vmodsort)
    result = explore(
        sc.setup,
        sc.check,
        at_switch=sc.at_switch,
        strategy=STRATEGIES[strategy].fresh(),
        max_runs=runs,
        validate=validate,
    )
    assert result.ok, str(result)
    assert result.runs == runs


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
@pytest.mark.parametrize("case", sorted(CASES))
def test_walk_properties_with_validators_at_every_switch(case: str, strategy: str) -> None:
    """100 runs per case and strategy, every validator at every switch point."""
    explore_case(case, strategy, 100, True)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
@pytest.mark.parametrize("case", ["plain", "vmodsort"])
def test_walk_properties_over_thousands_of_schedules(case: str, strategy: str) -> None:
    """300 runs per case and strategy (1,200 in all), validators at the end of each."""
    explore_case(case, strategy, 300, "end")
