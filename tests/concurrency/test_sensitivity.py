"""The checks can fail: a deliberately broken walk is caught, with a replayable schedule.

broken_walk.py keeps a plain pointer to the next page across the lock drop
instead of a marker.  Single-threaded it passes every check; the exhaustive
search, PCT and the random walk each find a failing interleaving within a
bounded number of runs, and the schedule printed in the failure report
replays that failure exactly.
"""

from __future__ import annotations

import pytest

from pvnsim.concurrency import PCT, Exhaustive, RandomWalk, replay
from pvnsim.concurrency import explore as explore_runs
from pvnsim.errors import KernelAssertionError
from pvnsim.flags import B_ASYNC, B_INVAL

from .broken_walk import broken_vplist_dirty, skipping_vplist_dirty
from .walk_scenario import WalkScenario

CASES = [
    ("ccdddd", 0, [("destroy", 3)]),
    ("cCdddd", B_INVAL, [("destroy", 2)]),
    ("ccdddd", B_ASYNC, [("destroy", 4)]),
    ("ccddddcd", 0, [("destroy", 2), ("head", 8)]),
]


@pytest.mark.parametrize(("pages", "flags", "ops"), CASES)
def test_broken_walk_passes_single_threaded(
    pages: str, flags: int, ops: list[tuple[str, int]]
) -> None:
    """Without preemption the broken walk satisfies every property (so only interleavings break it)."""
    sc = WalkScenario(pages, flags, ops, walk=broken_vplist_dirty)
    replay(sc.setup, sc.check, "", at_switch=sc.at_switch)


STRATEGIES = [
    ("exhaustive", Exhaustive(preemption_bound=2), 500),
    ("pct", PCT(seed=0, depth=2), 500),
    ("random", RandomWalk(seed=0, switch_probability=0.1), 1000),
]


@pytest.mark.parametrize(
    ("strategy", "budget", "pages", "flags", "ops"),
    [
        pytest.param(strategy, budget, *case, id=f"{name}-{i}")
        for name, strategy, budget in STRATEGIES
        for i, case in enumerate(CASES)
        # Depth-first search varies the last choices first: with three
        # threads it needs far more runs to reach an early preemption.
        if not (name == "exhaustive" and len(case[2]) > 1)
    ],
)
def test_explorer_finds_the_broken_walk_and_its_schedule_replays(
    strategy: object,
    budget: int,
    pages: str,
    flags: int,
    ops: list[tuple[str, int]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each strategy finds a failure within its budget; the printed schedule reproduces it."""
    sc = WalkScenario(pages, flags, ops, walk=broken_vplist_dirty)
    result = explore_runs(
        sc.setup,
        sc.check,
        at_switch=sc.at_switch,
        strategy=strategy.fresh(),  # type: ignore[attr-defined]
        max_runs=budget,
    )
    failure = result.failure
    assert failure is not None, f"no failure in {result.runs} runs"
    print(failure.report())
    printed = capsys.readouterr().out
    assert f"schedule: {str(failure.schedule)!r}" in printed
    # The string alone is enough to get the same failure back.
    with pytest.raises(type(failure.error)) as again:
        replay(sc.setup, sc.check, str(failure.schedule), at_switch=sc.at_switch)
    assert str(again.value) == str(failure.error)


def test_the_real_walk_survives_the_schedules_that_break_the_broken_one() -> None:
    """Every schedule that fails the broken walk (up to 2 preemptions) is harmless to the port."""
    broken = WalkScenario("ccdddd", 0, [("destroy", 3)], walk=broken_vplist_dirty)
    real = WalkScenario("ccdddd", 0, [("destroy", 3)])
    result = explore_runs(
        broken.setup,
        broken.check,
        at_switch=broken.at_switch,
        strategy=Exhaustive(preemption_bound=2),
        max_runs=5000,
        stop_at_first=False,
    )
    assert result.exhausted
    assert len(result.failures) >= 3
    assert all(isinstance(f.error, KernelAssertionError) for f in result.failures)
    for f in result.failures:
        replay(real.setup, real.check, f.schedule, at_switch=real.at_switch)


def test_end_of_walk_check_catches_a_walk_that_skips_a_page_it_slept_on() -> None:
    """A sync walk that moves on after page_lock slept leaves a dirty page unwritten.

    No assertion inside the walk fires; the scenario's end check reports it,
    and PCT and the exhaustive search both find it.
    """
    sc = WalkScenario("ccdddd", 0, [("lock", 4)], walk=skipping_vplist_dirty)
    replay(sc.setup, sc.check, "", at_switch=sc.at_switch)
    for strategy in (Exhaustive(preemption_bound=2), PCT(seed=0, depth=2)):
        result = explore_runs(
            sc.setup, sc.check, at_switch=sc.at_switch, strategy=strategy, max_runs=500
        )
        assert result.failure is not None
        assert "dirty page at 16384 was never handed to putapage" in str(result.failure.error)
