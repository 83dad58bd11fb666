"""The default strategies find every seeded bug, and the report says what happened.

seeded.py races each broken walk of broken_walk.py against a truncate (or
a page holder) and another CPU storing into the mapped dirty pages; the
lost wakeup runs two fsyncs under the same other CPU.  Without preemption
each passes.  Each must be found by explore()'s default strategy, by each
default strategy on its own (iterative bounding with DPOR, the random walk,
PCT), with the failure it is known for, a source line and a replay call
that brings the same failure back.
"""

from __future__ import annotations

import pathlib
import re
from typing import Any

import pytest

from pvnsim.concurrency import PCT, IterativeBounding, RandomWalk, explore, replay

from .seeded import SEEDED, Seeded

NAMES = sorted(SEEDED)


@pytest.mark.parametrize("name", NAMES)
def test_each_seeded_bug_passes_without_preemption(name: str) -> None:
    """Only an interleaving breaks it: the run without preemption is fine."""
    s = SEEDED[name]
    replay(s.setup, s.check, "", at_switch=s.at_switch)


def _found(s: Seeded, strategy: Any, budget: int) -> Any:
    result = explore(s.setup, s.check, at_switch=s.at_switch, strategy=strategy, max_runs=budget)
    failure = result.failure
    assert failure is not None, f"{s.name}: no failure in {result.runs} runs of {strategy!r}"
    assert s.expected(failure.error), f"{s.name}: {failure.error!r}"
    return result


@pytest.mark.parametrize("name", NAMES)
def test_explore_with_its_default_strategy_finds_each_seeded_bug(name: str) -> None:
    """explore() alone finds it, and the schedule it reports replays the same failure."""
    s = SEEDED[name]
    failure = _found(s, None, 1000).failure
    with pytest.raises(type(failure.error)) as again:
        replay(s.setup, s.check, str(failure.schedule), at_switch=s.at_switch)
    assert str(again.value) == str(failure.error)


STRATEGIES = [
    pytest.param(IterativeBounding(), 2000, id="iterative-bounding"),
    pytest.param(RandomWalk(), 500, id="random-walk"),
    pytest.param(PCT(), 500, id="pct"),
]


@pytest.mark.parametrize(("strategy", "budget"), STRATEGIES)
@pytest.mark.parametrize("name", NAMES)
def test_each_default_strategy_finds_each_seeded_bug(name: str, strategy: Any, budget: int) -> None:
    """Iterative bounding (DPOR), RandomWalk() and PCT() with their defaults each find it."""
    _found(SEEDED[name], strategy, budget)


def test_the_lost_wakeup_is_reported_as_such() -> None:
    """The sleeper, the condition already clear, the cv nobody will broadcast,
    where the sleeper waits, and the call that replays it."""
    s = SEEDED["lost-wakeup"]
    failure = _found(s, IterativeBounding(), 10_000).failure
    assert type(failure.error).__name__ == "LostWakeupError"
    assert str(failure.error) == (
        "lost wakeup: fsync2 waits for VVMLOCK of f, but it is already clear and "
        "nobody will broadcast v_cv(f)"
    )
    report = failure.report()
    # fsync2 sleeps in cv_wait of the port (vm_pvn.c L774).
    assert re.search(r"fsync2 waits at pvnsim/vm/vm_pvn\.py:\d+", report)
    # (fsync_pair builds setup and check as closures: their own names.)
    assert "replay it with replay(setup, check, " in report
    assert f"'{failure.schedule}')" in report


def test_an_assertion_is_reported_with_its_source_line_and_replay_call() -> None:
    """A KernelAssertionError in a walk names the walk's line that raised it."""
    s = SEEDED["no-markers"]
    failure = _found(s, RandomWalk(), 500).failure
    report = failure.report()
    assert report.startswith(
        f"run {failure.run} failed: KernelAssertionError: assertion failed: pp->p_vnode == vp"
    )
    assert failure.where is not None
    assert re.fullmatch(r"tests/concurrency/broken_walk\.py:\d+", failure.where)
    line = int(failure.where.split(":")[1])
    source = pathlib.Path("tests/concurrency/broken_walk.py").read_text().splitlines()[line - 1]
    assert "KernelAssertionError" in source
    assert f"at {failure.where}" in report
    assert (
        f"replay it with replay(WalkScenario.setup, WalkScenario.check, "
        f"'{failure.schedule}', at_switch=WalkScenario.at_switch)"
    ) in report
