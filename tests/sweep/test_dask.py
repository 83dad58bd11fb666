"""Sweeps on a Dask cluster: a LocalCluster of two worker processes started by the tests."""

from __future__ import annotations

import json

import pytest
from distributed import LocalCluster

from pvnsim.cli import main
from pvnsim.sweep import load_spec, run_sweep

from .helpers import SMALL_FS, without_wall_time, write_spec

EXPLORE = """
    kind = "explore"
    seeds = 2
    [grid]
    scenario = ["fsync-vs-truncate", "lost_update:scenario"]
    strategy = ["pct", "exhaustive"]
    budget = 30
"""


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as c:
        yield c


def test_a_dask_sweep_gives_exactly_the_rows_of_the_local_executor(cluster, tmp_path):
    """Same SPEC, same rows (wall time aside), failures included, on Dask and locally."""
    spec = load_spec(write_spec(tmp_path, SMALL_FS))
    on_dask = run_sweep(spec, scheduler=cluster.scheduler_address)
    local = run_sweep(spec, workers=2)
    assert len(on_dask.rows) == 12
    assert on_dask.count("error") == 4
    assert without_wall_time(on_dask.rows) == without_wall_time(local.rows)


def test_exploration_campaigns_on_dask_match_the_local_ones(cluster, tmp_path):
    """Explore rows (runs, failures, schedules) do not depend on where they ran."""
    spec = load_spec(write_spec(tmp_path, EXPLORE))
    on_dask = run_sweep(spec, scheduler=cluster.scheduler_address)
    local = run_sweep(spec, workers=0)
    assert without_wall_time(on_dask.rows) == without_wall_time(local.rows)
    # The exhaustive search finds the lost update on its second run, whatever the seed.
    found = [
        (r["status"], r["first_failure_run"], bool(r["schedule"]))
        for r in on_dask.rows
        if r["scenario"] == "lost_update:scenario" and r["strategy"] == "exhaustive"
    ]
    assert found == [("failed", 1, True)] * 2


def test_the_command_line_runs_on_a_scheduler_and_resumes(cluster, tmp_path, capsys):
    """pvnsim sweep --scheduler writes the results; a second run skips the finished rows."""
    path = write_spec(tmp_path, SMALL_FS)
    argv = ["sweep", str(path), "--scheduler", cluster.scheduler_address, "--no-progress"]
    assert main(argv) == 1  # the 64K rows are errors
    err = capsys.readouterr().err
    assert "12 of 12 rows (8 ok, 0 failed, 4 error); ran 12, skipped 0" in err
    rows = [json.loads(line) for line in (tmp_path / "spec.jsonl").read_text().splitlines()]
    assert len(rows) == 12
    assert main(argv) == 1
    assert "ran 4, skipped 8" in capsys.readouterr().err
