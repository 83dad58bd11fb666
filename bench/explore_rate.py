"""Explored runs per second: 16 pages, 2 threads, validation at every switch point.

    python bench/explore_rate.py            # median of 5 passes of 400 runs
    python bench/explore_rate.py --quick    # 3 passes of 100 runs
    python bench/explore_rate.py --json
    python bench/explore_rate.py --instructions   # callgrind: instructions per run

Wall time on a shared machine moves by a quarter from one run to the next;
``--instructions`` counts, with callgrind, the instructions of 100 runs of
each row minus those of 0 runs (imports and set-up), per run: the measure
to compare two versions.

The scenario is ``interleavings_per_s`` of bench/run.py: pvn_vplist_dirty
over 16 dirty pages (one-page putapage, ``pvn_write_done(pp, B_WRITE)``)
against a thread that destroys page 8, each run building its own kernel.
Rows: the search ``Exhaustive(preemption_bound=2)`` (depth first, every
schedule) and ``DPOR(preemption_bound=2)``, each with ``validate=True``
(incremental validation at every switch point, the full check at the end
of every run: the figure of the target, at least 4,000 runs/s), and the
same search with ``validate="full"``, ``"end"`` and ``False``; then the
same work single-threaded (no scheduler, ``check_kernel`` at the end), so
ratios taken in one run show what the exploration costs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from pvnsim import Kernel, check_kernel, make_page, pvn_vplist_dirty, pvn_write_done
from pvnsim.concurrency import DPOR, Exhaustive, explore
from pvnsim.flags import B_WRITE, P_MOD, SE_EXCL
from pvnsim.vm import page_destroy, page_lookup

ROOMY: dict[str, Any] = dict(
    lotsfree=0, desfree=0, minfree=0, throttlefree=0, pageout_reserve=0, pages_before_pager=0
)
PAGES = 16


def put(vp: Any, pp: Any, offp: Any, lenp: Any, flags: int, cred: Any) -> int:
    pvn_write_done(pp, B_WRITE | flags)
    return 0


def destroy(vp: Any) -> None:
    pp = page_lookup(vp, 8 * 4096, SE_EXCL)
    if pp is not None:
        page_destroy(pp, 0)


def setup(run: Any) -> None:
    k = run.attach(Kernel(total_pages=32, **ROOMY))
    vp = k.vnode("f")
    for i in range(PAGES):
        make_page(vp, i * 4096, nrm=P_MOD)
    run.spawn(pvn_vplist_dirty, vp, 0, put, 0, None, name="walker")
    run.spawn(destroy, vp, name="destroyer")


def single_threaded() -> None:
    k = Kernel(total_pages=32, **ROOMY)
    vp = k.vnode("f")
    for i in range(PAGES):
        make_page(vp, i * 4096, nrm=P_MOD)
    pvn_vplist_dirty(vp, 0, put, 0, None)
    destroy(vp)
    check_kernel(k)


def rate(make: Callable[[], Any], validate: bool | str, runs: int, passes: int) -> float:
    """Median runs/s over ``passes`` explorations of ``runs`` runs."""

    def once() -> float:
        result = explore(setup, strategy=make(), max_runs=runs, validate=validate)
        assert result.ok and (result.runs == runs or result.exhausted), result
        return result.runs / result.seconds

    once()  # warm-up
    return statistics.median(once() for _ in range(passes))


def single_rate(runs: int, passes: int) -> float:
    """The same work single-threaded, runs/s."""

    def once() -> float:
        t0 = time.perf_counter()
        for _ in range(runs):
            single_threaded()
        return runs / (time.perf_counter() - t0)

    once()
    return statistics.median(once() for _ in range(passes))


SEARCHES: dict[str, Callable[[], Any]] = {
    "Exhaustive(preemption_bound=2)": lambda: Exhaustive(2),
    "DPOR(preemption_bound=2)": lambda: DPOR(2),
}
MODES: tuple[bool | str, ...] = (True, "full", "end", False)


def _instructions(search: str, validate: str, runs: int) -> int:
    from instructions import callgrind

    return callgrind(__file__, "--run", search, validate, str(runs))


def _run(search: str, validate: str, runs: int) -> None:
    mode: bool | str = {"True": True, "False": False}.get(validate, validate)
    if search == "single":
        for _ in range(runs):
            single_threaded()
    elif runs:
        explore(setup, strategy=SEARCHES[search](), max_runs=runs, validate=mode)


def main() -> None:
    if sys.argv[1:2] == ["--run"]:
        _run(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--instructions", action="store_true")
    args = parser.parse_args()
    runs, passes = (100, 3) if args.quick else (400, 5)
    rows: list[tuple[str, float, str]] = []
    if args.instructions:
        if shutil.which("valgrind") is None:
            raise SystemExit("valgrind is not installed")
        n = 100
        for label in (*SEARCHES, "single"):
            for validate in MODES if label != "single" else ("end",):
                base = _instructions(label, str(validate), 0)
                per = (_instructions(label, str(validate), n) - base) / n
                name = f"{label}, validate={validate!r}" if label != "single" else "single-threaded"
                rows.append((name, per, "instructions/run"))
    else:
        for label, make in SEARCHES.items():
            for validate in MODES:
                name = f"{label}, validate={validate!r}"
                rows.append((name, rate(make, validate, runs, passes), "runs/s"))
        rows.append(
            ("single-threaded, check_kernel at the end", single_rate(runs, passes), "runs/s")
        )
    for label, value, unit in rows:
        if args.json:
            print(json.dumps({"name": label, "value": round(value, 1), "unit": unit}))
        else:
            print(f"{label:60} {value:12,.0f} {unit}")


if __name__ == "__main__":
    main()
