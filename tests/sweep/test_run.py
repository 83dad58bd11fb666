"""Running sweeps locally: rows, failures and their replay, resume, interruption, progress."""

from __future__ import annotations

import csv
import io
import json
import os
import shlex
import signal
import subprocess
import sys
import time

import pytest
from rich.console import Console

from pvnsim.cli import main
from pvnsim.concurrency import PCT, RandomWalk, explore, replay
from pvnsim.errors import UsageError
from pvnsim.sweep import columns, get_scenario, load_spec, run_sweep

from .helpers import EXAMPLES, SMALL_FS, without_wall_time, write_spec


@pytest.fixture
def small(tmp_path):
    return load_spec(write_spec(tmp_path, SMALL_FS))


def _rows_of_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_in_process_and_a_process_pool_give_the_same_rows(small):
    """Two worker processes produce exactly the rows of a run in this process, in SPEC order."""
    here = run_sweep(small, workers=0)
    pool = run_sweep(small, workers=2)
    assert len(here.rows) == len(small.tasks) == 12
    assert [r["id"] for r in here.rows] == [t.id for t in small.tasks]
    assert without_wall_time(pool.rows) == without_wall_time(here.rows)
    assert all(r["wall_s"] > 0 for r in pool.rows)


def test_the_same_task_gives_the_same_row_and_seeds_change_the_run(small):
    """A row depends only on its task: rerunning gives it again; another seed differs."""
    first = run_sweep(small, workers=0).rows
    again = run_sweep(small, workers=0).rows
    assert without_wall_time(first) == without_wall_time(again)
    ok = [
        r for r in first if r["status"] == "ok" and r["memory"] == 1 << 20 and r["maxcontig"] == 1
    ]
    assert [r["seed"] for r in ok] == [0, 1]
    # randread draws its offsets from the run seed, so the two seeds hit the cache differently.
    assert ok[0]["getpage_hits"] != ok[1]["getpage_hits"] or ok[0]["seeks"] != ok[1]["seeks"]


def test_a_failing_task_is_reported_with_its_replay_command_and_the_sweep_goes_on(small, tmp_path):
    """64K of memory is refused by the kit: those rows say so, with a command, and the rest run."""
    out = io.StringIO()
    result = run_sweep(small, workers=2, console=Console(file=out, width=200))
    bad = [r for r in result.rows if r["status"] != "ok"]
    assert len(result.rows) == 12
    assert len(bad) == 4  # 64K x 2 maxcontig x 2 seeds
    assert {r["memory"] for r in bad} == {64 << 10}
    for r in bad:
        assert r["status"] == "error"
        assert r["error"] == "UsageError: memory must hold at least 64 pages, not 16"
        assert r["replay"] == f"pvnsim sweep {shlex.quote(small.path)} --only {r['id']}"
        assert r["virtual_ns"] is None
        assert f"error {r['id']}: UsageError" in out.getvalue()
        assert f"replay: {r['replay']}" in out.getvalue()
    assert result.count("ok") == 8
    assert all(r["virtual_ns"] > 0 for r in result.rows if r["status"] == "ok")


def test_the_replay_command_of_a_row_reproduces_it(small, capsys):
    """Running a row's replay command prints that same row (but its wall time)."""
    rows = run_sweep(small, workers=0).rows
    for row in (rows[0], rows[-1]):  # an error row and an ok row
        argv = shlex.split(row["replay"])
        assert argv[:2] == ["pvnsim", "sweep"]
        code = main(argv[1:])
        printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert code == (1 if row["status"] == "error" else 0)
        assert without_wall_time(printed) == without_wall_time([row])


def test_only_runs_the_named_tasks_and_writes_no_results(small, tmp_path, capsys):
    """--only selects tasks by id (rows in SPEC order); nothing is written next to the SPEC."""
    ids = [small.tasks[5].id, small.tasks[2].id]
    result = run_sweep(small, only=ids, workers=0)
    assert [r["id"] for r in result.rows] == [small.tasks[2].id, small.tasks[5].id]
    assert result.ran == 2
    # Task 2 is a 64K point, which the kit refuses: an error row, so exit status 1.
    assert main(["sweep", small.path, "--only", ids[0], "--only", ids[1]]) == 1
    printed = [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()]
    assert printed == [small.tasks[2].id, small.tasks[5].id]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.toml"]
    with pytest.raises(UsageError, match="no task with id 123456789abc"):
        run_sweep(small, only=["123456789abc"], workers=0)


def test_results_files_hold_one_row_per_task_in_csv_and_jsonl(small, tmp_path):
    """BASE.jsonl and BASE.csv get the same rows, with the columns in order."""
    base = tmp_path / "out" / "small"
    result = run_sweep(small, output=base, workers=2)
    jsonl = _rows_of_jsonl(tmp_path / "out" / "small.jsonl")
    with (tmp_path / "out" / "small.csv").open(newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames
        table = list(reader)
    assert header == columns(small)
    assert header[:4] == ["id", "kind", "workload", "files"]
    assert header[-3:] == ["error", "schedule", "replay"]
    assert sorted(r["id"] for r in jsonl) == sorted(t.id for t in small.tasks)
    assert {r["id"]: r for r in jsonl} == {r["id"]: r for r in result.rows}
    by_id = {r["id"]: r for r in jsonl}
    for row in table:
        want = by_id[row["id"]]
        assert row["status"] == want["status"]
        assert row["memory"] == str(want["memory"])
        assert row["virtual_ns"] == ("" if want["virtual_ns"] is None else str(want["virtual_ns"]))
        assert row["keep_log"] == "false"


def test_rerunning_skips_the_rows_already_there(small, tmp_path):
    """A second run of the same SPEC with the same output runs only the error rows again."""
    base = tmp_path / "res"
    first = run_sweep(small, output=base, workers=2)
    assert (first.ran, first.skipped) == (12, 0)
    second = run_sweep(small, output=base, workers=2)
    # ok rows are kept; error rows (a value the kit refused) are tried again.
    assert (second.ran, second.skipped) == (4, 8)
    kept = {r["id"]: r for r in first.rows if r["status"] == "ok"}
    for row in second.rows:
        if row["id"] in kept:
            assert row == kept[row["id"]]  # wall time included: not run again
    assert len(_rows_of_jsonl(tmp_path / "res.jsonl")) == 12
    assert len((tmp_path / "res.csv").read_text().splitlines()) == 13


def test_resume_after_partial_results_runs_only_the_missing_tasks(small, tmp_path):
    """Rows cut off (and a torn last line) are run again; the others are kept as they were."""
    base = tmp_path / "res"
    run_sweep(small, output=base, workers=0)
    path = tmp_path / "res.jsonl"
    lines = path.read_text().splitlines()
    ok_lines = [line for line in lines if '"status": "ok"' in line]
    path.write_text("\n".join(ok_lines[:3]) + "\n" + ok_lines[3][:40])  # the fourth torn
    kept = [json.loads(line) for line in ok_lines[:3]]
    result = run_sweep(small, output=base, workers=2)
    assert (result.ran, result.skipped) == (9, 3)
    assert len(result.rows) == 12
    by_id = {r["id"]: r for r in result.rows}
    for row in kept:
        assert by_id[row["id"]] == row
    assert len(_rows_of_jsonl(path)) == 12
    assert len({r["id"] for r in _rows_of_jsonl(path)}) == 12


def test_an_interrupted_sweep_keeps_finished_rows_and_resumes(small, tmp_path):
    """KeyboardInterrupt stops the sweep; the rows so far are on disk and a rerun completes it."""
    base = tmp_path / "res"
    seen = []

    def stop_after_three(row):
        seen.append(row["id"])
        if len(seen) == 3:
            raise KeyboardInterrupt

    started = time.perf_counter()
    result = run_sweep(small, output=base, workers=2, on_row=stop_after_three)
    assert time.perf_counter() - started < 60
    assert result.interrupted
    assert result.ran == 3
    assert sorted(r["id"] for r in _rows_of_jsonl(tmp_path / "res.jsonl")) == sorted(seen)
    rest = run_sweep(small, output=base, workers=2)
    assert not rest.interrupted
    assert rest.skipped == sum(1 for r in result.rows if r["status"] == "ok")
    assert len(rest.rows) == 12


SLOW = """
    seeds = 12
    [defaults]
    workload = "randread"
    file_size = "8M"
    io_size = "16K"
    ops = 6000
    [grid]
    memory = ["2M", "4M"]
"""


def test_ctrl_c_stops_the_command_cleanly_and_keeps_what_finished(tmp_path):
    """SIGINT to the process group (a terminal's Ctrl-C): exit 130, rows kept, no traceback."""
    spec = write_spec(tmp_path, SLOW)
    jsonl = tmp_path / "spec.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pvnsim", "sweep", str(spec), "--workers", "2"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if jsonl.exists() and jsonl.read_text().count("\n") >= 2:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted" in err
    rows = _rows_of_jsonl(jsonl)
    assert 2 <= len(rows) < 24
    assert all(r["status"] == "ok" for r in rows)
    assert len(rows) == len({r["id"] for r in rows})


def test_the_progress_bar_counts_done_total_and_failures(small):
    """On a terminal the bar shows done/total and how many failed."""
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=160)
    run_sweep(small, workers=0, console=console, progress=True)
    text = out.getvalue()
    assert "12/12" in text
    assert "4 failed" in text


def test_a_failing_exploration_row_carries_a_schedule_that_replays_it(tmp_path):
    """A lost update is found; its schedule replays the same failure with pvnsim.concurrency.replay."""
    spec = load_spec(
        write_spec(
            tmp_path,
            """
            kind = "explore"
            [grid]
            scenario = ["lost_update:scenario", "lost_update:setup"]
            strategy = "exhaustive"
            preemption_bound = 1
            budget = 50
            """,
        )
    )
    rows = run_sweep(spec, workers=2).rows
    racy, idle = rows
    assert racy["status"] == "failed"
    assert racy["failures"] == 1
    assert racy["error"] == "AssertionError: lost update: counter is 1, not 2"
    assert racy["schedule"]
    assert racy["replay"].endswith(f"--only {racy['id']}")
    scenario = get_scenario("lost_update:scenario")
    with pytest.raises(AssertionError, match="lost update: counter is 1, not 2"):
        replay(scenario.setup, scenario.check, racy["schedule"])
    # The same threads named as a plain setup function have no check: the update is lost
    # in some of the schedules, but nothing looks, so every schedule passes.
    assert (idle["status"], idle["failures"], idle["exhausted"]) == ("ok", 0, True)
    assert idle["runs"] >= 2 and idle["schedule"] is None


def test_the_built_in_scenarios_hold_under_an_exhaustive_search(tmp_path):
    """Every interleaving with up to 2 preemptions of the built-in scenarios passes its check."""
    spec = load_spec(
        write_spec(
            tmp_path,
            """
            kind = "explore"
            [grid]
            scenario = ["two-fsyncs", "fsync-vs-truncate", "fsync-vs-pageout"]
            strategy = "exhaustive"
            budget = 5000
            """,
        )
    )
    rows = run_sweep(spec, workers=2).rows
    for row in rows:
        assert (row["status"], row["exhausted"], row["failures"]) == ("ok", True, 0), row
        assert row["runs"] > 10


def test_seeded_strategies_run_with_the_task_s_run_seed(tmp_path):
    """Each row is what explore() finds with the strategy seeded by the row's run_seed."""
    spec = load_spec(
        write_spec(
            tmp_path,
            """
            kind = "explore"
            seeds = 3
            [grid]
            scenario = "lost_update:scenario"
            strategy = ["pct", "random"]
            depth = 2
            budget = 6
            """,
        )
    )
    s = get_scenario("lost_update:scenario")
    rows = run_sweep(spec, workers=0).rows
    assert len({r["run_seed"] for r in rows}) == 6
    for row in rows:
        seed = row["run_seed"]
        strategy = PCT(seed=seed, depth=2) if row["strategy"] == "pct" else RandomWalk(seed=seed)
        found = explore(s.setup, s.check, strategy=strategy, max_runs=6)
        failure = found.failure
        assert (row["runs"], row["failures"]) == (found.runs, len(found.failures))
        assert row["schedule"] == (str(failure.schedule) if failure else None)


def test_workers_must_be_a_non_negative_int(small):
    """A negative or non-int worker count is refused before anything runs."""
    for bad in (-1, 1.5, True):
        with pytest.raises(UsageError, match="workers must be"):
            run_sweep(small, workers=bad)
    with pytest.raises(UsageError, match="at most one of workers, scheduler and executor"):
        run_sweep(small, workers=2, scheduler="tcp://127.0.0.1:8786")


def _pvnsim(*args, cwd):
    # ``-c`` puts cwd on sys.path, not the SPEC's directory (cwd is elsewhere).
    code = "import sys; from pvnsim.cli import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )


def test_a_scenario_module_beside_the_spec_is_found_and_its_replay_command_runs(tmp_path):
    """A user's scenario module next to the SPEC needs no PYTHONPATH: the sweep
    (on a worker process) finds it, and so does the replay command the row
    gives, run from another directory.  The exhaustive search with one
    preemption finds the lost update; its replay is the same failed row."""
    spec_dir = tmp_path / "study"
    spec_dir.mkdir()
    # lost_update.py under a name no sys.path entry of the tests holds.
    (spec_dir / "beside_spec_race.py").write_text((EXAMPLES / "lost_update.py").read_text())
    spec = spec_dir / "race.toml"
    spec.write_text(
        'kind = "explore"\n[grid]\nscenario = "beside_spec_race:scenario"\n'
        'strategy = "exhaustive"\npreemption_bound = 1\nbudget = 50\n'
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = _pvnsim("sweep", str(spec), "--workers", "1", "--no-progress", cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    (row,) = [json.loads(line) for line in (spec_dir / "race.jsonl").read_text().splitlines()]
    assert (
        row["status"] == "failed"
        and row["error"] == "AssertionError: lost update: counter is 1, not 2"
    )
    replayed = _pvnsim(*shlex.split(row["replay"])[1:], cwd=elsewhere)
    assert replayed.returncode == 0, replayed.stderr
    again = json.loads(replayed.stdout)
    assert (again["id"], again["status"], again["schedule"]) == (
        row["id"],
        "failed",
        row["schedule"],
    )
    # A module that is neither on sys.path nor beside the SPEC is still refused by line.
    (spec_dir / "beside_spec_race.py").unlink()
    refused = _pvnsim("sweep", str(spec), "--workers", "0", cwd=elsewhere)
    assert refused.returncode == 2
    assert f"{spec}:3: scenario 'beside_spec_race:scenario': cannot import" in refused.stderr


def test_a_script_that_starts_workers_from_its_top_level_code_is_told_why_they_died(tmp_path):
    """Worker processes import the script that started them; one that runs
    run_sweep from its top-level code (no ``if __name__ == "__main__":``)
    breaks the pool, and each row says what probably went wrong."""
    spec = tmp_path / "s.toml"
    spec.write_text('kind = "explore"\n[grid]\nscenario = "two-fsyncs"\nbudget = [1, 2]\n')
    script = tmp_path / "unguarded.py"
    script.write_text(
        "import json\n"
        "from pvnsim.sweep import load_spec, run_sweep\n"
        f"rows = run_sweep(load_spec({str(spec)!r}), workers=1).rows\n"
        "print(json.dumps([r['status'] + ': ' + (r['error'] or '') for r in rows]))\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    errors = json.loads(done.stdout.splitlines()[-1])
    assert len(errors) == 2
    for error in errors:
        assert error.startswith("error: the task did not return: BrokenProcessPool")
        assert 'without if __name__ == "__main__":' in error
