"""Partial-order reduction figures: runs and seconds of DPOR against the naive search.

    python bench/explore_dpor.py          # every figure
    python bench/explore_dpor.py --json

Figures (targets from the exploration issue, docs/performance.md):

* ``dpor_6_pages_bound_2_runs``: the walker and destroyer of
  docs/concurrency.md's first example (pvn_vplist_dirty over six dirty
  pages with a one-page putapage, a thread destroying page 3), every
  schedule with at most two preemptions: runs of
  ``DPOR(preemption_bound=2)`` (at most 80) next to the naive
  ``Exhaustive(preemption_bound=2)`` (203 runs) and the classes of
  equivalent runs it finds; and the same for the walk scenario of the tests
  (``ccdddd``, WalkScenario's checks at every switch point);
* ``dpor_8_pages_unbounded``: the example on eight pages with ``DPOR()``
  and no bound: it completes; runs and seconds;
* ``lost_wakeup_runs``: the seeded lost wakeup (two fsyncs, one clearing
  VVMLOCK without cv_broadcast, another CPU storing into the pages), runs
  until the default exhaustive strategy (``IterativeBounding()``) finds it
  (at most 10,000), next to explore()'s default and the naive search with
  bound 2.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from tests.concurrency.seeded import SEEDED
from tests.concurrency.walk_scenario import WalkScenario

from pvnsim import Kernel, populate, pvn_vplist_dirty
from pvnsim.concurrency import DPOR, Exhaustive, IterativeBounding, Run, explore
from pvnsim.flags import P_MOD, SE_EXCL
from pvnsim.fs import make_putapage
from pvnsim.vm import page_destroy, page_lookup


class Example:
    """docs/concurrency.md's first scenario: fsync against a truncate of page 3."""

    at_switch = None

    def __init__(self, pages: int) -> None:
        self.pages = pages

    def setup(self, run: Run) -> Any:
        k = run.attach(Kernel(total_pages=64, lotsfree=0, pages_before_pager=0))
        vp = k.vnode("f")
        populate(vp, range(0, self.pages * 4096, 4096), nrm=P_MOD)

        def truncate_one() -> None:
            pp = page_lookup(vp, 3 * 4096, SE_EXCL)
            if pp is not None:
                page_destroy(pp, 0)

        run.spawn(pvn_vplist_dirty, vp, 0, make_putapage(4096), 0, None, name="fsync")
        run.spawn(truncate_one, name="truncate")
        return vp

    def check(self, run: Run) -> None:
        assert run.results["fsync"] == 0
        assert run.kernel.marker_cache is not None
        assert run.kernel.marker_cache.outstanding == set()


def _explore(sc: Any, strategy: Any, max_runs: int, classes: bool = False) -> Any:
    t0 = time.perf_counter()
    result = explore(
        sc.setup,
        sc.check,
        at_switch=sc.at_switch,
        strategy=strategy,
        max_runs=max_runs,
        classes=classes,
    )
    return result, time.perf_counter() - t0


def figures() -> list[dict[str, Any]]:
    """Every figure, as rows for the table."""
    rows: list[dict[str, Any]] = []
    for label, six in (
        ("dpor_6_pages_bound_2_runs", Example(6)),
        ("dpor_6_pages_bound_2_runs (tests' walk)", WalkScenario("ccdddd", 0, [("destroy", 3)])),
    ):
        naive, naive_s = _explore(six, Exhaustive(preemption_bound=2), 100_000, classes=True)
        dpor, dpor_s = _explore(six, DPOR(preemption_bound=2), 100_000)
        assert naive.ok and dpor.ok and naive.exhausted and dpor.exhausted
        rows.append(
            {
                "name": label,
                "value": dpor.runs,
                "unit": "runs",
                "target": "<= 80",
                "met": dpor.runs <= 80,
                "detail": f"{dpor.classes} classes, {dpor.pruned} pruned, {dpor_s:.2f} s; "
                f"Exhaustive(preemption_bound=2): {naive.runs} runs for {naive.classes} "
                f"classes, {naive_s:.2f} s",
            }
        )
    eight = Example(8)
    whole, whole_s = _explore(eight, DPOR(), 1_000_000)
    assert whole.ok
    rows.append(
        {
            "name": "dpor_8_pages_unbounded",
            "value": round(whole_s, 2),
            "unit": "s",
            "target": "completes",
            "met": whole.exhausted,
            "detail": f"{whole.runs} runs, {whole.classes} classes, {whole.pruned} pruned",
        }
    )
    lost = SEEDED["lost-wakeup"]
    found = {}
    for label, strategy in (
        ("IterativeBounding()", IterativeBounding()),
        ("explore() default", None),
        ("Exhaustive(preemption_bound=2)", Exhaustive(preemption_bound=2)),
    ):
        result, seconds = _explore(lost, strategy, 10_000)
        failure = result.failure
        assert failure is None or lost.expected(failure.error), failure
        found[label] = (failure.run + 1 if failure else None, seconds)
    runs, seconds = found["IterativeBounding()"]
    others = "; ".join(
        f"{label}: {'not found in 10,000 runs' if n is None else f'{n} runs'}, {s:.2f} s"
        for label, (n, s) in found.items()
        if label != "IterativeBounding()"
    )
    rows.append(
        {
            "name": "lost_wakeup_runs",
            "value": runs,
            "unit": "runs",
            "target": "<= 10,000",
            "met": runs is not None and runs <= 10_000,
            "detail": f"{seconds:.2f} s; {others}",
        }
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    for row in figures():
        if args.json:
            print(json.dumps(row))
        else:
            met = "ok  " if row["met"] else "MISS"
            print(
                f"{met} {row['name']:40} {row['value']!s:>8} {row['unit']:5} "
                f"target {row['target']:10} {row['detail']}"
            )


if __name__ == "__main__":
    main()
