"""Sweep throughput: ``python bench/sweep.py [--json] [--quick] [--repeat N]``.

A CPU-bound sweep of 16 fs-kit runs (the ``mixed`` workload, 4 memory sizes
x 4 seeds, about a second each) is timed on 1 local worker process, on 2,
and on a Dask ``LocalCluster`` of 2 single-threaded worker processes
started by the benchmark.  Each figure is the median of ``--repeat`` sweeps
(default 3; 1 with ``--quick``) and includes starting the worker processes;
the Dask cluster is started once, outside the timed region, and its start
is reported on its own.  The three ways are interleaved run by run, so a
busy neighbour slows them alike.  The target (issue 18): 2 workers take at
most 0.6x the time of 1.  Results go in docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from pvnsim.sweep import Spec, parse_spec, run_sweep

SPEC = """
name = "bench: 16 CPU-bound fs-kit runs"
seeds = 4
[defaults]
workload = "mixed"
files = 2
file_size = "8M"
io_size = "16K"
ops = {ops}
[grid]
memory = ["2M", "4M", "8M", "16M"]
"""


def _sweep(run: Callable[[], Any]) -> float:
    started = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - started
    if result.count("ok") != len(result.spec.tasks):
        raise SystemExit(f"bench: the sweep did not complete: {result.rows}")
    return seconds


def _measure(spec: Spec, runs: int) -> dict[str, Any]:
    """Median seconds of each way to run the sweep, the ways interleaved run by run.

    Interleaving spreads whatever else the machine does over all of them
    alike; the Dask cluster is started once, outside the timed region.
    """
    ways: dict[str, Callable[[], Any]] = {
        "1": lambda: run_sweep(spec, workers=1),
        "2": lambda: run_sweep(spec, workers=2),
    }
    out: dict[str, Any] = {"dask": None, "dask_start": None, "reason": None}
    with contextlib.ExitStack() as stack:
        try:
            from distributed import LocalCluster
        except ImportError:
            out["reason"] = "dask is not installed (pip install 'pvnsim[dask]')"
        else:
            started = time.perf_counter()
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
                )
            )
            out["dask_start"] = time.perf_counter() - started
            address = cluster.scheduler_address
            ways["dask"] = lambda: run_sweep(spec, scheduler=address)
        times: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(runs):
            for name, run in ways.items():
                times[name].append(_sweep(run))
    out.update({name: statistics.median(t) for name, t in times.items()})
    return out


def _row(name: str, value: float | None, unit: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "value": None if value is None else round(value, 3),
        "unit": unit,
        **extra,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its rows."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="one JSON object per line")
    ap.add_argument("--quick", action="store_true", help="shorter runs, one sweep each")
    ap.add_argument("--repeat", type=int, help="sweeps per figure (default 3, quick 1)")
    args = ap.parse_args(argv)
    runs = args.repeat or (1 if args.quick else 3)
    spec = parse_spec(SPEC.format(ops=8000 if args.quick else 25000), "bench-sweep.toml")
    load = os.getloadavg()[0]
    m = _measure(spec, runs)
    one, two, dask, dask_start, reason = m["1"], m["2"], m["dask"], m["dask_start"], m["reason"]
    ratio = two / one
    rows = [
        _row("sweep_16_runs_1_worker_s", one, "s"),
        _row("sweep_16_runs_2_workers_s", two, "s"),
        _row("sweep_2_over_1_workers", ratio, "x", target=0.6, met=ratio <= 0.6),
        _row("sweep_16_runs_dask_2_workers_s", dask, "s", reason=reason),
        _row("sweep_dask_over_1_worker", dask and dask / one, "x"),
        _row("dask_local_cluster_start_s", dask_start, "s"),
    ]
    header = (
        f"CPUs: {os.cpu_count()}, sweeps per figure: {runs}, "
        f"load average before {load:.2f}, after {os.getloadavg()[0]:.2f}"
    )
    if args.json:
        rows.append(_row("load_average_1min_before", load, ""))
        for row in rows:
            sys.stdout.write(json.dumps({k: v for k, v in row.items() if v is not None}) + "\n")
    else:
        sys.stdout.write(header + "\n")
        for row in rows:
            value = "n/a" if row["value"] is None else f"{row['value']:.3f} {row['unit']}"
            note = (
                f"  (target <= {row['target']}: {'met' if row['met'] else 'MISSED'})"
                if "target" in row
                else ""
            )
            sys.stdout.write(f"{row['name']:<34} {value}{note}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
