"""pvn_vplist_dirty against one mutator thread: every schedule with <= 2 preemptions.

Each case is a six-page vnode (see walk_scenario.py for the page letters,
the mutator operations and the properties checked at every switch point and
at the end) and one mutator that changes the list while the walker drops
vphm around page_lock, page_io_wait, page_destroy_free, pvn_getdirty and
putapage.  The exploration must finish (``exhausted``) without a failure.
"""

from __future__ import annotations

import pytest

from pvnsim.concurrency import Exhaustive, explore
from pvnsim.flags import B_ASYNC, B_FREE, B_INVAL

from .walk_scenario import WalkScenario

# (id, pages, flags, mutator ops, vmodsort, off in pages)
CASES = [
    ("sync-head", "ccdddd", 0, [("head", 6)], False, 0),
    ("sync-destroy-dirty", "ccdddd", 0, [("destroy", 3)], False, 0),
    ("sync-destroy-clean", "cdcddd", 0, [("destroy", 2)], False, 0),
    ("sync-lock", "ccdddd", 0, [("lock", 4)], False, 0),
    ("sync-free", "cdcddd", 0, [("free", 0)], False, 0),
    ("sync-off-destroy", "dcdcdd", 0, [("destroy", 1)], False, 2),
    ("async-lock", "ccdddd", B_ASYNC, [("lock", 4)], False, 0),
    ("async-head", "ccdddd", B_ASYNC, [("head", 6)], False, 0),
    ("async-destroy", "ccdddd", B_ASYNC, [("destroy", 5)], False, 0),
    ("inval-destroy", "cCdddd", B_INVAL, [("destroy", 3)], False, 0),
    ("inval-free", "cCdddd", B_INVAL, [("free", 0)], False, 0),
    ("free-lock", "ccdddd", B_FREE, [("lock", 2)], False, 0),
    ("free-destroy", "ccdddd", B_FREE, [("destroy", 5)], False, 0),
    ("vmodsort-tail", "ccdddd", 0, [("tail", 6)], True, 0),
    ("vmodsort-head", "ccdddd", 0, [("head", 6)], True, 0),
    ("vmodsort-lock", "ccdddd", 0, [("lock", 4)], True, 0),
    ("vmodsort-async-tail", "ccdddd", B_ASYNC, [("tail", 6)], True, 0),
    ("vmodsort-inval-tail", "ccdddd", B_INVAL, [("tail", 6)], True, 0),
]


@pytest.mark.parametrize(
    ("pages", "flags", "ops", "vmodsort", "off"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_walk_survives_every_schedule_up_to_two_preemptions(
    pages: str, flags: int, ops: list[tuple[str, int]], vmodsort: bool, off: int
) -> None:
    """All schedules with at most 2 preemptions keep every walk property."""
    sc = WalkScenario(pages, flags, ops, vmodsort=vmodsort, off=off)
    result = explore(
        sc.setup,
        sc.check,
        at_switch=sc.at_switch,
        strategy=Exhaustive(preemption_bound=2),
        max_runs=20_000,
    )
    assert result.ok, str(result)
    assert result.exhausted
    # Two threads and dozens of switch points: far more than the handful of
    # schedules the walk would have if it never dropped a lock.
    assert result.runs > 40


def test_walk_with_two_mutators_every_schedule_up_to_one_preemption() -> None:
    """A tail insert and a destruction at once, on a VMODSORT vnode.

    With three threads the bound of 2 gives about 4,500 schedules (20 s or
    more here); the random and PCT tests cover more preemptions.
    """
    sc = WalkScenario("ccdddd", 0, [("tail", 6), ("destroy", 3)], vmodsort=True)
    result = explore(
        sc.setup,
        sc.check,
        at_switch=sc.at_switch,
        strategy=Exhaustive(preemption_bound=1),
        max_runs=50_000,
    )
    assert result.ok, str(result)
    assert result.exhausted
    assert result.runs > 100
