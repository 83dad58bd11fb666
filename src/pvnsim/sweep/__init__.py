"""Sweeps and campaigns: many independent simulation runs from one TOML SPEC.

::

    from pvnsim.sweep import load_spec, run_sweep

    spec = load_spec("docs/examples/sweep.toml")
    result = run_sweep(spec, output="results/sweep", workers=2)
    result.count("ok"), len(result.rows)
    fig = result.plot(x="memory", y="read_kluster_mean")   # a matplotlib Figure

A SPEC names fs-kit runs (configuration x workload x seeds) or exploration
campaigns (scenario x strategy x budget x seeds); each task gets a seed
derived from its point, so every row of the results (CSV and JSON lines) can
be run again alone.  Tasks run on local processes, on a Dask cluster
(``scheduler="tcp://..."``) or on any ``concurrent.futures`` executor.
``pvnsim sweep SPEC`` is the command line.  See docs/sweeps.md.
"""

from __future__ import annotations

from pvnsim.sweep.results import columns, replay_command
from pvnsim.sweep.runner import SweepResult, default_output, plot_axes, run_sweep
from pvnsim.sweep.scenarios import SCENARIOS, Scenario, get_scenario
from pvnsim.sweep.spec import PlotSpec, Spec, SpecError, Task, load_spec, parse_spec
from pvnsim.sweep.tasks import metric_columns, run_task

__all__ = [
    "SCENARIOS",
    "PlotSpec",
    "Scenario",
    "Spec",
    "SpecError",
    "SweepResult",
    "Task",
    "columns",
    "default_output",
    "get_scenario",
    "load_spec",
    "metric_columns",
    "parse_spec",
    "plot_axes",
    "replay_command",
    "run_sweep",
    "run_task",
]
