"""Hypothesis draws the operations and the interleaving together.

The walk scenario of walk_scenario.py, with the page list, the walker's
flags, the mutator threads and the schedule all drawn; the schedule is
replayed leniently, so every draw is a valid run and a failure shrinks
towards fewer operations and fewer, earlier preemptions.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from pvnsim.concurrency import Schedule, replay
from pvnsim.concurrency.hypothesis_strategies import schedules
from pvnsim.flags import B_ASYNC, B_FREE, B_INVAL

from .broken_walk import broken_vplist_dirty
from .walk_scenario import WalkFn, WalkScenario

FLAGS = [0, B_ASYNC, B_INVAL, B_FREE]
MUTATORS = ["head", "free", "lock", "destroy"]


@st.composite
def walk_cases(draw: Any) -> tuple[str, int, list[tuple[str, int]], bool]:
    """A page list, walker flags, up to three mutators, and whether the vnode is VMODSORT."""
    vmodsort = draw(st.booleans())
    n = draw(st.integers(4, 8))
    if vmodsort:
        # VMODSORT keeps the clean pages ahead of the dirty ones.
        dirty = draw(st.integers(0, n))
        pages = "c" * (n - dirty) + "d" * dirty
        kinds = [*MUTATORS, "tail"]
    else:
        pages = "".join(draw(st.lists(st.sampled_from("cdC"), min_size=n, max_size=n)))
        kinds = MUTATORS
    ops = draw(
        st.lists(st.tuples(st.sampled_from(kinds), st.integers(0, n)), min_size=1, max_size=3)
    )
    return pages, draw(st.sampled_from(FLAGS)), ops, vmodsort


def run_case(
    case: tuple[str, int, list[tuple[str, int]], bool], schedule: Schedule, walk: WalkFn
) -> None:
    pages, flags, ops, vmodsort = case
    sc = WalkScenario(pages, flags, ops, vmodsort=vmodsort, walk=walk)
    replay(sc.setup, sc.check, schedule, strict=False, at_switch=sc.at_switch, max_steps=5000)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(case=walk_cases(), schedule=schedules())
def test_walk_properties_hold_for_drawn_operations_and_schedules(
    case: tuple[str, int, list[tuple[str, int]], bool], schedule: Schedule
) -> None:
    """Any drawn population, mutators and interleaving keep every walk property."""
    from pvnsim import pvn_vplist_dirty

    run_case(case, schedule, pvn_vplist_dirty)


def test_hypothesis_shrinks_a_broken_walk_failure_to_a_small_case() -> None:
    """Against the broken walk Hypothesis finds a failure and shrinks ops and schedule together.

    The smallest failing case needs one destroying (or page-locking) thread
    and a schedule with one or two non-default choices.
    """

    def fails(drawn: tuple[Any, Schedule]) -> bool:
        case, schedule = drawn
        try:
            run_case(case, schedule, broken_vplist_dirty)
        except Exception:
            return True
        return False

    case, schedule = find(
        st.tuples(walk_cases(), schedules()),
        fails,
        settings=settings(max_examples=2000, derandomize=True, database=None, deadline=None),
    )
    ops = case[2]
    assert len(ops) == 1
    assert ops[0][0] in ("destroy", "lock", "free", "head", "tail")
    assert 1 <= schedule.switches <= 2
    assert fails((case, schedule))
