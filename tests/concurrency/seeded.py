"""The seeded bugs: broken walks racing realistic mutators and another CPU.

Each entry is a scenario in which one deliberately broken walk of
``broken_walk.py`` races threads that change the vnode's page list (a
truncate destroying a page, a thread holding a page) and another CPU that
stores into the mapped dirty pages.  Each one fails under some
interleaving, and passes without preemption.  The strategies are compared on
them in docs/concurrency.md (``bench/explore_strategies.py``) and the tests
check that the default strategies find each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from pvnsim import Kernel, make_page, pvn_vplist_dirty, pvn_write_done
from pvnsim.concurrency import Run, other_cpu
from pvnsim.flags import B_WRITE, P_MOD, VVMLOCK

from .broken_walk import (
    broken_vplist_dirty,
    nobroadcast_vplist_dirty,
    norecheck_vplist_dirty,
    skipping_vplist_dirty,
    unlocked_vplist_dirty,
)
from .walk_scenario import WalkScenario

ROOMY: dict[str, Any] = dict(
    lotsfree=0, desfree=0, minfree=0, throttlefree=0, pageout_reserve=0, pages_before_pager=0
)


@attrs.frozen
class Seeded:
    """One seeded bug: how to run it and what its failure says."""

    name: str
    setup: Callable[[Run], Any]
    check: Callable[[Run], None] | None
    at_switch: Callable[[Run], None] | None
    #: How it may fail: (exception class name, a piece of the message).
    failures: tuple[tuple[str, str], ...]

    def expected(self, error: BaseException) -> bool:
        """Whether ``error`` is one of the ways this bug shows."""
        return any(
            type(error).__name__ == kind and piece in str(error) for kind, piece in self.failures
        )


def _walk(name: str, walk: Any, ops: list[tuple[str, int]], *failures: tuple[str, str]) -> Seeded:
    sc = WalkScenario("ccdddd", 0, ops, walk=walk, cpu=2)
    return Seeded(name, sc.setup, sc.check, sc.at_switch, failures)


def fsync_pair(first: Any, second: Any = pvn_vplist_dirty, pages: int = 3, cpu: int = 3) -> Any:
    """Two fsyncs of one vnode (``first`` and ``second``) over dirty mapped
    pages that another CPU keeps storing into."""

    def setup(run: Run) -> dict[str, Any]:
        k = run.attach(Kernel(total_pages=64, **ROOMY))
        vp = k.vnode("f")
        mapped = [make_page(vp, i * 4096, nrm=P_MOD, maps=["-"]) for i in range(pages)]

        def put(v: Any, pp: Any, offp: Any, lenp: Any, fl: int, cred: Any) -> int:
            pvn_write_done(pp, B_WRITE | fl)
            return 0

        run.spawn(first, vp, 0, put, 0, None, name="fsync1")
        run.spawn(second, vp, 0, put, 0, None, name="fsync2")
        other_cpu(run, pages=mapped, bits=("mod",), budget=cpu)
        return {"vp": vp}

    def check(run: Run) -> None:
        if run.data["vp"].v_flag & VVMLOCK:
            raise AssertionError("VVMLOCK is still set after both fsyncs")
        results = (run.results["fsync1"], run.results["fsync2"])
        if results != (0, 0):
            raise AssertionError(f"the fsyncs returned {results}")

    return setup, check


def _lost_wakeup() -> Seeded:
    setup, check = fsync_pair(nobroadcast_vplist_dirty)
    return Seeded(
        "lost-wakeup",
        setup,
        check,
        None,
        (
            (
                "LostWakeupError",
                "fsync2 waits for VVMLOCK of f, but it is already clear and nobody will "
                "broadcast v_cv(f)",
            ),
        ),
    )


#: Every seeded bug, by name.
SEEDED: dict[str, Seeded] = {
    s.name: s
    for s in (
        _walk(
            "no-markers",
            broken_vplist_dirty,
            [("destroy", 3)],
            ("KernelAssertionError", "pp->p_vnode == vp"),
        ),
        _walk(
            "no-recheck",
            norecheck_vplist_dirty,
            [("destroy", 3)],
            ("KernelAssertionError", "pp->p_vnode == vp"),
            ("InvariantViolation", ""),
        ),
        _walk(
            "unlocked-page-lock",
            unlocked_vplist_dirty,
            [("destroy", 3)],
            ("KernelAssertionError", "pp->p_vnode == vp"),
            ("InvariantViolation", "is locked by 'walker'"),
        ),
        _walk(
            "skips-a-page",
            skipping_vplist_dirty,
            [("lock", 4)],
            ("AssertionError", "was never handed to putapage"),
        ),
        _lost_wakeup(),
    )
}
