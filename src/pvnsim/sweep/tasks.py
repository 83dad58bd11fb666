"""Running one task of a sweep, in whatever process the executor chose.

:func:`run_task` never raises for a problem of the task itself: it returns
the task's outcome as plain data (picklable, JSON-ready), with a status

``ok``
    the run finished and nothing failed;
``failed``
    the run found what it looks for: a failing schedule (explore), or a
    broken invariant or a kernel panic (fs, e.g. ``verify`` saw wrong data);
``error``
    the task could not run as asked (a value the kit refuses, a scenario
    whose setup raises outside any run, a bug).
"""

from __future__ import annotations

import functools
import statistics
import time
from typing import Any

import attrs

from pvnsim.concurrency import PCT, Exhaustive, RandomWalk, explore
from pvnsim.errors import InvariantViolation, KernelPanic
from pvnsim.fs.metrics import Metrics
from pvnsim.fs.sim import Machine, SimConfig
from pvnsim.fs.timeline import Timeline
from pvnsim.fs.workload import build_workload
from pvnsim.kernel import Kernel
from pvnsim.sched import Strategy
from pvnsim.sweep.scenarios import get_scenario
from pvnsim.sweep.spec import Task

__all__ = ["metric_columns", "run_task"]

_FS_DERIVED = (
    "hit_ratio",
    "read_klusters",
    "read_kluster_mean",
    "write_klusters",
    "write_kluster_mean",
    "fsync_count",
    "fsync_mean_ns",
    "fsync_max_ns",
    "freemem_min",
)
_HISTOGRAMS = ("read_klusters", "write_klusters", "vm")
#: Metrics whose names are also parameters (of the workload, of SimConfig).
_RENAMED = {"ops": "ops_done", "write_behind": "write_behind_count"}
_EXPLORE = ("runs", "exhausted", "failures", "first_failure_run")


@functools.cache
def metric_columns(kind: str) -> tuple[str, ...]:
    """The metric columns of a sweep of ``kind``, in order.

    For ``fs``: every scalar of :class:`~pvnsim.fs.Metrics` (``ops`` and
    ``write_behind`` as ``ops_done`` and ``write_behind_count``, since
    parameters have those names); the kluster
    histograms as counts and mean pages per kluster; fsync count, mean and
    largest latency and the lowest freemem (from a
    :class:`~pvnsim.fs.timeline.Timeline`); and each kernel vm counter as
    ``vm_<name>``.  For ``explore``: runs made, whether the search was
    exhausted, failing runs found and the index of the first.
    """
    if kind == "explore":
        return _EXPLORE
    vm = [f"vm_{name}" for name in Kernel(total_pages=64).vm.as_dict()]
    return (*_scalar_metrics(), *_FS_DERIVED, *vm)


def _scalar_metrics() -> list[str]:
    """The fields of Metrics that are plain numbers (not histograms)."""
    return [
        _RENAMED.get(f.name, f.name) for f in attrs.fields(Metrics) if f.name not in _HISTOGRAMS
    ]


def _mean_pages(histogram: tuple[tuple[int, int], ...]) -> float | None:
    count = sum(c for _, c in histogram)
    return round(sum(s * c for s, c in histogram) / count, 4) if count else None


def _fs_metrics(m: Metrics, tl: Timeline) -> dict[str, Any]:
    data = {_RENAMED.get(k, k): v for k, v in m.as_dict().items()}
    out: dict[str, Any] = {name: data[name] for name in _scalar_metrics()}
    out["hit_ratio"] = data["hit_ratio"]
    out["read_klusters"] = sum(c for _, c in m.read_klusters)
    out["read_kluster_mean"] = _mean_pages(m.read_klusters)
    out["write_klusters"] = sum(c for _, c in m.write_klusters)
    out["write_kluster_mean"] = _mean_pages(m.write_klusters)
    lat = tl.fsync_latencies()
    out["fsync_count"] = len(lat)
    out["fsync_mean_ns"] = round(statistics.fmean(lat)) if lat else None
    out["fsync_max_ns"] = max(lat, default=None)
    out["freemem_min"] = tl.freemem_min
    out.update({f"vm_{name}": value for name, value in m.vm})
    return out


def _run_fs(task: Task) -> dict[str, Any]:
    p = task.values
    workload = build_workload(
        p.pop("workload"),
        files=p.pop("files"),
        file_size=p.pop("file_size"),
        iosize=p.pop("io_size"),
        ops=p.pop("ops"),
        seed=task.run_seed,
        pagesize=p.get("pagesize", 4096),
    )
    sim = Machine(SimConfig(seed=task.run_seed, **p))
    sim.run(workload.setup)
    # Fsync latencies and the lowest freemem are kept whatever the period;
    # the series themselves are not reported, so sample them rarely.
    timeline = Timeline.attach(sim, every=1 << 20)
    try:
        metrics = sim.run(workload.ops)
    except (InvariantViolation, KernelPanic) as e:
        return {"status": "failed", "error": _describe(e)}
    return {"status": "ok", **_fs_metrics(metrics, timeline)}


def _strategy(p: dict[str, Any], seed: int) -> Strategy:
    name = p["strategy"]
    if name == "pct":
        return PCT(seed=seed, depth=p["depth"])
    if name == "random":
        if "switch_probability" in p:
            return RandomWalk(seed=seed, switch_probability=p["switch_probability"])
        return RandomWalk(seed=seed)
    return Exhaustive(preemption_bound=p["preemption_bound"])


def _run_explore(task: Task) -> dict[str, Any]:
    p = task.values
    scenario = get_scenario(p["scenario"])
    options: dict[str, Any] = {"max_runs": p["budget"]}
    if "max_steps" in p:
        options["max_steps"] = p["max_steps"]
    result = explore(
        scenario.setup, scenario.check, strategy=_strategy(p, task.run_seed), **options
    )
    out: dict[str, Any] = {
        "runs": result.runs,
        "exhausted": result.exhausted,
        "failures": len(result.failures),
        "first_failure_run": None,
        "status": "ok",
    }
    failure = result.failure
    if failure is not None:
        out.update(
            status="failed",
            first_failure_run=failure.run,
            error=_describe(failure.error),
            schedule=str(failure.schedule),
        )
    return out


def _describe(e: BaseException) -> str:
    """An exception as one line: its type and message."""
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def run_task(task: Task) -> dict[str, Any]:
    """Run one task; returns its status, metrics, wall time and any error.

    Returns:
        ``{"status", "wall_s", <metrics>, "error", "schedule"}`` (see the
        module docstring for the statuses); metrics a run did not reach are
        absent.
    """
    started = time.perf_counter()
    try:
        out = _run_fs(task) if task.kind == "fs" else _run_explore(task)
    except Exception as e:  # a task's own failure is a result, never a crash of the sweep
        out = {"status": "error", "error": _describe(e)}
    out["wall_s"] = round(time.perf_counter() - started, 4)
    return out
