"""Which strategy finds the seeded bugs, and how fast: runs and seconds to the first failure.

    python bench/explore_strategies.py                # 20 seeds, 2000 runs each
    python bench/explore_strategies.py --seeds 5 --budget 500
    python bench/explore_strategies.py --only lost-wakeup --json

The seeded bugs are the broken walks of ``tests/concurrency/seeded.py``
(each racing a truncate or a page holder and another CPU storing into the
mapped dirty pages) and a plain lost update of a shared counter between two
threads.  Deterministic strategies run once; random ones once per seed, and
the table gives how many seeds found the bug within the budget and the
median runs and seconds to the first failure (a seed that found nothing
counts as the whole budget).  docs/concurrency.md shows the table.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from tests.concurrency.seeded import SEEDED, Seeded

from pvnsim import Kernel
from pvnsim.concurrency import (
    DPOR,
    PCT,
    Exhaustive,
    IterativeBounding,
    RandomWalk,
    Run,
    default_strategy,
    explore,
)
from pvnsim.sched import Strategy


def _lost_update() -> Seeded:
    """Two threads add one to a shared counter: read, a switch point, write."""

    def setup(run: Run) -> dict[str, int]:
        k = run.attach(Kernel(total_pages=8))
        counter = {"n": 0}

        def add() -> None:
            run.note(reads={"counter"})
            n = counter["n"]
            k.yield_point("between read and write")
            run.note(writes={"counter"})
            counter["n"] = n + 1

        run.spawn(add, name="a")
        run.spawn(add, name="b")
        return counter

    def check(run: Run) -> None:
        if run.data["n"] != 2:
            raise AssertionError(f"lost update: the counter is {run.data['n']}")

    return Seeded("lost-update", setup, check, None, (("AssertionError", "lost update"),))


CASES: dict[str, Seeded] = {**SEEDED, "lost-update": _lost_update()}

#: (label, factory(seed) or a strategy, random?)
STRATEGIES: list[tuple[str, Callable[[int], Strategy], bool]] = [
    (
        "explore() default: Alternate(IterativeBounding(), RandomWalk())",
        lambda s: default_strategy(),
        False,
    ),
    ("IterativeBounding() (DPOR at bound 0, 1, 2, ...)", lambda s: IterativeBounding(), False),
    ("IterativeBounding(por=False)", lambda s: IterativeBounding(por=False), False),
    ("DPOR(preemption_bound=2)", lambda s: DPOR(2), False),
    ("DPOR() (unbounded)", lambda s: DPOR(), False),
    ("Exhaustive(preemption_bound=2)", lambda s: Exhaustive(2), False),
    ("RandomWalk() (default)", lambda s: RandomWalk(s), True),
    ("RandomWalk(switch_probability=None)", lambda s: RandomWalk(s, None), True),
    ("RandomWalk(switch_probability=0.02)", lambda s: RandomWalk(s, 0.02), True),
    ("RandomWalk(switch_probability=0.05)", lambda s: RandomWalk(s, 0.05), True),
    ("RandomWalk(switch_probability=0.1)", lambda s: RandomWalk(s, 0.1), True),
    ("RandomWalk(switch_probability=0.2)", lambda s: RandomWalk(s, 0.2), True),
    ("RandomWalk(switch_probability=0.3)", lambda s: RandomWalk(s, 0.3), True),
    ("PCT(depth=2)", lambda s: PCT(s, depth=2), True),
    ("PCT(depth=3) (default)", lambda s: PCT(s, depth=3), True),
]


def first_failure(case: Seeded, strategy: Strategy, budget: int) -> tuple[int | None, float]:
    """Runs and seconds to the first failure (None: none within the budget)."""
    t0 = time.perf_counter()
    result = explore(
        case.setup, case.check, at_switch=case.at_switch, strategy=strategy, max_runs=budget
    )
    seconds = time.perf_counter() - t0
    failure = result.failure
    if failure is None:
        return None, seconds
    if not case.expected(failure.error):
        raise AssertionError(f"{case.name}: unexpected failure {failure.error!r}")
    return failure.run + 1, seconds


def measure(
    case: Seeded, factory: Callable[[int], Strategy], random: bool, seeds: int, budget: int
) -> dict[str, Any]:
    """Found, median runs and seconds over the seeds (one seed if deterministic)."""
    runs: list[int] = []
    secs: list[float] = []
    found = 0
    for seed in range(seeds if random else 1):
        n, s = first_failure(case, factory(seed), budget)
        found += n is not None
        runs.append(n if n is not None else budget)
        secs.append(s)
    return {
        "found": found,
        "tries": seeds if random else 1,
        "runs": statistics.median(runs),
        "seconds": statistics.median(secs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", type=int, default=2000)
    parser.add_argument("--only", choices=sorted(CASES))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    names = [args.only] if args.only else list(CASES)
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for label, factory, random in STRATEGIES:
        row = table.setdefault(label, {})
        for name in names:
            row[name] = cell = measure(CASES[name], factory, random, args.seeds, args.budget)
            if args.json:
                print(json.dumps({"strategy": label, "bug": name, **cell}), flush=True)
    if args.json:
        return
    print("| strategy | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for label, row in table.items():
        cells = []
        for name in names:
            c = row[name]
            seen = f"{c['found']}/{c['tries']}, " if c["tries"] > 1 else ""
            runs = f"{c['runs']:g}" if c["found"] else f"none in {args.budget}"
            cells.append(f"{seen}{runs} runs, {c['seconds']:.2f} s")
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
