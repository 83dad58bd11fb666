"""SPEC files: the points they name, and the refusal of bad ones with the line."""

from __future__ import annotations

import pytest

from pvnsim.cli import main
from pvnsim.fs import WORKLOADS
from pvnsim.sweep import SpecError, load_spec, metric_columns, parse_spec
from pvnsim.sweep.params import PARAMS

from .helpers import line_of, write_spec


def test_grid_is_the_product_of_its_axes_times_the_seeds():
    """Two axes of 3 and 2 values and 2 seeds give 12 tasks, last axis fastest, seeds innermost."""
    spec = parse_spec(
        """
        seeds = 2
        [grid]
        memory = ["4M", "8M", "16M"]
        maxcontig = [1, 16]
        """
    )
    assert len(spec.tasks) == 12
    order = [(t.values["memory"] >> 20, t.values["maxcontig"], t.seed) for t in spec.tasks]
    assert order[:5] == [(4, 1, 0), (4, 1, 1), (4, 16, 0), (4, 16, 1), (8, 1, 0)]
    assert spec.axes == ("memory", "maxcontig")
    # The workload parameters are always columns, with their defaults.
    assert spec.tasks[0].values["workload"] == "seq"
    assert spec.tasks[0].values["keep_log"] is False


def test_seeds_may_be_a_list_and_scalars_in_the_grid_are_fixed():
    """seeds = [5, 9] runs seeds 5 and 9; a scalar in [grid] is no axis."""
    spec = parse_spec(
        """
        seeds = [5, 9]
        [grid]
        workload = "mixed"
        memory = ["4M", "8M"]
        """
    )
    assert [t.seed for t in spec.tasks] == [5, 9, 5, 9]
    assert {t.values["workload"] for t in spec.tasks} == {"mixed"}
    assert spec.axes == ("memory",)


def test_sizes_are_normalised_so_equal_points_share_an_id():
    """memory = "8M" and memory = 8388608 are the same point: same id and run seed."""
    a = parse_spec('[grid]\nmemory = "8M"\n').tasks[0]
    b = parse_spec("[grid]\nmemory = 8388608\n").tasks[0]
    assert a.values["memory"] == 8 << 20
    assert (a.id, a.run_seed) == (b.id, b.run_seed)


def test_ids_and_run_seeds_differ_between_points_and_seeds():
    """Every task has its own id and run seed, and parsing again gives the same ones."""
    text = 'seeds = 3\n[grid]\nmemory = ["4M", "8M"]\n'
    tasks = parse_spec(text).tasks
    assert len({t.id for t in tasks}) == 6
    assert len({t.run_seed for t in tasks}) == 6
    assert all(len(t.id) == 12 and int(t.id, 16) >= 0 for t in tasks)
    assert [(t.id, t.run_seed) for t in parse_spec(text).tasks] == [
        (t.id, t.run_seed) for t in tasks
    ]


def test_points_tables_follow_the_grid_and_take_the_defaults():
    """[[points]] adds one point per table after the grid's, each over [defaults]."""
    spec = parse_spec(
        """
        [defaults]
        ops = 10
        [grid]
        memory = ["4M"]
        [[points]]
        memory = "8M"
        workload = "mmap"
        [[points]]
        memory = "16M"
        """
    )
    got = [(t.values["memory"] >> 20, t.values["workload"], t.values["ops"]) for t in spec.tasks]
    assert got == [(4, "seq", 10), (8, "mmap", 10), (16, "seq", 10)]


def test_an_explore_spec_names_scenarios_and_strategies():
    """kind = "explore": scenario x strategy x budget, with the strategy defaults."""
    spec = parse_spec(
        """
        kind = "explore"
        [grid]
        scenario = ["two-fsyncs", "lost_update:scenario"]
        strategy = ["pct", "exhaustive"]
        budget = 20
        """
    )
    assert spec.kind == "explore"
    assert len(spec.tasks) == 4
    assert spec.tasks[0].values == {
        "scenario": "two-fsyncs",
        "strategy": "pct",
        "budget": 20,
        "depth": 3,
        "preemption_bound": 2,
    }


def test_metric_columns_never_reuse_a_parameter_name():
    """A row holds parameters and metrics side by side, so their names must differ."""
    for kind, params in PARAMS.items():
        assert set(params) & set(metric_columns(kind)) == set()


# -- refusals ---------------------------------------------------------------------------


def _refused(tmp_path, text, needle):
    path = write_spec(tmp_path, text)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    line = line_of(path, needle)
    assert info.value.line == line
    assert str(info.value).startswith(f"{path}:{line}: ")
    return str(info.value)


def test_unknown_parameter_in_the_grid_is_refused_naming_its_line(tmp_path):
    """A misspelt parameter names its line and suggests the right name."""
    msg = _refused(
        tmp_path,
        """
        seeds = 2
        [grid]
        memory = ["4M"]
        maxcontg = [1, 4]
        """,
        "maxcontg",
    )
    assert "unknown parameter 'maxcontg'" in msg
    assert "did you mean 'maxcontig'?" in msg


def test_unknown_parameter_in_a_points_table_names_that_table_s_line(tmp_path):
    """In the second [[points]] table, the line is that table's key, not the first's."""
    msg = _refused(
        tmp_path,
        """
        [[points]]
        memory = "4M"
        [[points]]
        memory = "8M"
        colour = "blue"
        """,
        "colour",
    )
    assert "unknown parameter 'colour'" in msg


def test_seed_is_not_a_parameter(tmp_path):
    """The run seed is derived from the point; a seed in [defaults] is refused."""
    _refused(tmp_path, '[defaults]\nseed = 3\n[grid]\nmemory = ["4M"]\n', "seed = 3")


@pytest.mark.parametrize(
    ("line", "expect"),
    [
        ("memory = true", "memory must be a size"),
        ('maxcontig = "four"', "maxcontig must be an integer"),
        ("verify = 1", "verify must be true or false"),
        ('workload = "sequential"', "workload must be one of"),
        ('memory = "lots"', "is not a size"),
        ("readahead = -1", "readahead must be at least 0"),
        ('ns_per_byte = "fast"', "ns_per_byte must be a number"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_naming_its_line(tmp_path, line, expect):
    """Each parameter's type (and range) is checked when the SPEC is read."""
    msg = _refused(tmp_path, f"seeds = 1\n[grid]\nops = 10\n{line}\n", line)
    assert expect in msg


def test_a_wrong_type_inside_an_axis_is_refused_naming_its_line(tmp_path):
    """One bad value in a list names the axis's line."""
    msg = _refused(tmp_path, '[grid]\nfiles = [1, 2]\nmaxcontig = [1, "x"]\n', "maxcontig")
    assert "maxcontig must be an integer, not 'x'" in msg


def test_an_empty_axis_is_refused_naming_its_line(tmp_path):
    """memory = [] would make the grid empty."""
    msg = _refused(tmp_path, "[grid]\nmaxcontig = [1, 4]\nmemory = []\n", "memory")
    assert "empty" in msg


def test_an_empty_grid_table_is_refused_naming_its_header(tmp_path):
    """A [grid] with no keys (and no [[points]]) names the [grid] line."""
    msg = _refused(tmp_path, "seeds = 2\n\n[defaults]\nops = 3\n\n[grid]\n", "[grid]")
    assert "[grid] is empty" in msg


def test_a_spec_with_no_points_at_all_is_refused():
    """Neither [grid] nor [[points]]: nothing would run."""
    with pytest.raises(SpecError, match="names no points"):
        parse_spec("seeds = 2\n")


@pytest.mark.parametrize(
    ("text", "needle", "expect"),
    [
        ("seeds = []\n[grid]\nops = 1\n", "seeds", "seeds is empty"),
        ("seeds = 0\n[grid]\nops = 1\n", "seeds", "at least 1"),
        ("seeds = [1, 1]\n[grid]\nops = 1\n", "seeds", "repeats"),
        ('seeds = "many"\n[grid]\nops = 1\n', "seeds", "a count or a list"),
        ('kind = "walk"\n[grid]\nops = 1\n', "kind", "kind must be one of"),
        ("sweep = 1\n[grid]\nops = 1\n", "sweep", "unknown key 'sweep'"),
        ('[grid]\nops = 1\n[plot]\nx = "colour"\n', 'x = "colour"', "not a parameter"),
        ("[grid]\nops = 1\n[plot]\nzoom = 2\n", "zoom", "unknown key 'zoom' in [plot]"),
        ("[grid]\nops = [1]\nfiles = [1, 1]\n", "[grid]", "repeats the point"),
    ],
)
def test_other_bad_specs_are_refused_naming_the_line(tmp_path, text, needle, expect):
    """Seeds, kind, top-level keys, the plot table and repeated points are checked too."""
    assert expect in _refused(tmp_path, text, needle)


def test_invalid_toml_names_the_line(tmp_path):
    """A TOML syntax error is reported at its line."""
    msg = _refused(tmp_path, '[grid]\nmemory = ["4M"\n\nops = 3\n', "ops = 3")
    assert "not valid TOML" in msg


def test_an_unknown_scenario_is_refused_naming_its_line(tmp_path):
    """An explore SPEC's scenario must be a built-in or an importable module:attribute."""
    msg = _refused(
        tmp_path,
        'kind = "explore"\n[grid]\nbudget = 5\nscenario = ["two-fsyncs", "no.such.module:x"]\n',
        "scenario",
    )
    assert "cannot import 'no.such.module'" in msg
    msg = _refused(tmp_path, 'kind = "explore"\n[grid]\nscenario = "three-fsyncs"\n', "scenario")
    assert "unknown scenario 'three-fsyncs'" in msg


def test_a_missing_spec_file_is_refused(tmp_path):
    """load_spec of a path that does not exist says it cannot read it, with
    no line number: the problem is the file, not one of its lines."""
    path = tmp_path / "nope.toml"
    with pytest.raises(SpecError, match="cannot read the SPEC") as info:
        load_spec(path)
    assert str(info.value).startswith(f"{path}: cannot read the SPEC")
    assert info.value.line == 0


def test_the_command_line_refuses_a_bad_spec_with_the_line(tmp_path, capsys):
    """pvnsim sweep exits 2 and prints FILE:LINE: before running anything."""
    path = write_spec(tmp_path, '[grid]\nmemory = ["4M"]\nmaxcontig = [true]\n')
    with pytest.raises(SystemExit) as info:
        main(["sweep", str(path), "--workers", "0"])
    assert info.value.code == 2
    assert f"{path}:3: maxcontig must be an integer" in capsys.readouterr().err
    assert not (tmp_path / "spec.jsonl").exists()


def test_every_workload_is_accepted():
    """The workload parameter takes exactly the kit's workload names."""
    spec = parse_spec("[grid]\nworkload = [" + ", ".join(f'"{w}"' for w in WORKLOADS) + "]\n")
    assert [t.values["workload"] for t in spec.tasks] == list(WORKLOADS)
