"""Figures of a run and of a sweep: written, well-formed, labelled, colour-blind-safe."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from pvnsim.cli import main
from pvnsim.errors import UsageError
from pvnsim.fs import Machine, SimConfig, build_workload
from pvnsim.fs.timeline import Timeline
from pvnsim.viz import palette as pal
from pvnsim.viz.plots import plot_sweep, plot_timeline, save_figure
from tests.viz.helpers import SVG, all_text
from tests.viz.png import read_png

from .helpers import write_spec

MiB = 1 << 20


@pytest.fixture(scope="module")
def timeline():
    # A 3 MiB file written then read in 2 MiB of memory: pageout, klusters and an fsync.
    sim = Machine(SimConfig(memory=2 * MiB, keep_log=False))
    w = build_workload("seq", files=1, file_size=3 * MiB, iosize=65536, ops=0, seed=0)
    sim.run(w.setup)
    tl = Timeline.attach(sim)
    sim.run(w.ops)
    return tl


def _svg(path):
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    return root, all_text(root)


def _colours_used(path):
    return path.read_text().lower()


def test_the_run_figure_has_four_labelled_panels(timeline):
    """freemem with its thresholds, disk traffic, kluster sizes, fsync latency; every axis labelled."""
    fig = plot_timeline(timeline, title="seq")
    ax_mem, ax_io, ax_kl, ax_fs = fig.axes
    for ax in fig.axes:
        assert ax.get_ylabel()
        assert ax.get_title()
    assert ax_fs.get_xlabel() == "virtual time"
    labels = [line.get_label() for line in ax_mem.get_lines()]
    assert labels == ["freemem", "lotsfree", "desfree", "minfree"]
    levels = {line.get_label(): line.get_ydata()[0] for line in ax_mem.get_lines()[1:]}
    assert levels == {
        "lotsfree": timeline.lotsfree,
        "desfree": timeline.desfree,
        "minfree": timeline.minfree,
    }
    assert [line.get_label() for line in ax_io.get_lines()] == ["read", "written"]
    assert len(ax_kl.collections) == 2  # read and write klusters
    assert len(ax_fs.collections[0].get_offsets()) == len(timeline.fsyncs) == 1


def test_the_run_figure_as_svg_is_well_formed_and_keeps_its_text(timeline, tmp_path):
    """The SVG parses as XML, its labels are text, and its lines use Okabe-Ito colours."""
    path = save_figure(plot_timeline(timeline, title="a seq run"), tmp_path / "run.svg")
    _root, text = _svg(path)
    for label in (
        "a seq run",
        "virtual time",
        "free pages",
        "lotsfree",
        "desfree",
        "minfree",
        "pages (cumulative)",
        "pages per kluster",
        "fsync latency",
    ):
        assert label in text, label
    svg = _colours_used(path)
    for colour in (pal.BLUE, pal.VERMILLION, pal.GREEN, pal.ORANGE):
        assert colour.lower() in svg


def test_the_run_figure_as_png_is_decoded_and_not_blank(timeline, tmp_path):
    """The PNG decodes; much of it is drawn, in several colours, the freemem blue among them."""
    path = save_figure(plot_timeline(timeline), tmp_path / "run.png")
    width, height, rows = read_png(path.read_bytes())
    assert width > 500 and height > 500
    pixels = [px for row in rows for px in row]
    white = sum(1 for px in pixels if px == (255, 255, 255))
    assert white < 0.97 * len(pixels)
    assert len(set(pixels)) > 30
    assert (0x00, 0x72, 0xB2) in set(pixels)


def _rows():
    rows = []
    for memory in (2 * MiB, 8 * MiB, 32 * MiB):
        for maxcontig in (1, 16):
            for seed, y in ((0, 10), (1, 20)):
                rows.append(
                    {
                        "memory": memory,
                        "maxcontig": maxcontig,
                        "seed": seed,
                        "status": "ok",
                        "virtual_ns": memory // MiB * 1_000_000 * maxcontig + y,
                    }
                )
    rows.append(
        {"memory": 4 * MiB, "maxcontig": 1, "seed": 0, "status": "error", "virtual_ns": None}
    )
    return rows


def test_the_sweep_figure_draws_one_line_per_value_and_averages_the_seeds():
    """Two maxcontig values: two lines over three memory sizes, each point the seeds' mean."""
    fig = plot_sweep(_rows(), "memory", "virtual_ns", by=["maxcontig"])
    (ax,) = fig.axes
    # Each line is an error-bar container: its data line, then the bars.
    lines = {c.get_label(): c.lines[0] for c in ax.containers}
    data = {label: (list(ln.get_xdata()), list(ln.get_ydata())) for label, ln in lines.items()}
    assert set(data) == {"maxcontig=1", "maxcontig=16"}
    xs, ys = data["maxcontig=16"]
    assert xs == [2 * MiB, 8 * MiB, 32 * MiB]  # the error row (no value) is left out
    # Seeds give +10 and +20 ns: the mean is +15 ns, drawn in seconds.
    assert ys == pytest.approx([(m * 16_000_000 + 15) / 1e9 for m in (2, 8, 32)])
    assert ax.get_xlabel() == "memory (bytes)"
    assert ax.get_ylabel() == "virtual_ns"
    assert ax.get_xscale() == "log"  # 2M to 32M spans 16x
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2M", "8M", "32M"]
    assert ax.get_legend().get_title().get_text() == "maxcontig"
    assert {ln.get_color() for ln in lines.values()} == {pal.BLUE, pal.VERMILLION}
    assert len({ln.get_marker() for ln in lines.values()}) == 2  # not colour alone
    # Two seeds, 10 ns apart: standard deviation 10/sqrt(2), standard error 5 ns either side.
    bars = ax.containers[0].lines[2][0].get_segments()
    assert [round((seg[1][1] - seg[0][1]) * 1e9, 6) for seg in bars] == [10, 10, 10]


def test_a_size_axis_of_a_narrow_span_is_ticked_at_the_sizes_swept():
    """1M and 4M span less than 8x, so the axis stays linear; its ticks are the two
    sizes, read as 1M and 4M, not round decimal byte counts (976.562K, 1.43051M, ...)."""
    rows = [r for r in _rows() if r["memory"] != 32 * MiB]
    for r in rows:
        r["memory"] //= 2  # 1M and 4M (the error row: 2M)
    fig = plot_sweep(rows, "memory", "virtual_ns", by=["maxcontig"])
    (ax,) = fig.axes
    assert ax.get_xscale() == "linear"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1M", "4M"]


def test_the_sweep_figure_takes_string_parameters_as_categories():
    """Workload names on the x axis, in the order they first appear."""
    rows = [
        {"workload": w, "seed": s, "hit_ratio": h}
        for w, h in (("seq", 1.0), ("randread", 0.4), ("mixed", 0.3))
        for s in (0, 1)
    ]
    (ax,) = plot_sweep(rows, "workload", "hit_ratio").axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["seq", "randread", "mixed"]
    assert list(ax.containers[0].lines[0].get_ydata()) == [1.0, 0.4, 0.3]


def test_plots_refuse_what_they_cannot_draw(tmp_path):
    """No numeric metric, or a file that is neither .svg nor .png, is refused."""
    with pytest.raises(UsageError, match="no row has a number for 'colour'"):
        plot_sweep(_rows(), "memory", "colour")
    fig = plot_sweep(_rows(), "memory", "virtual_ns")
    with pytest.raises(UsageError, match=r"must end in \.svg or \.png"):
        save_figure(fig, tmp_path / "plot.pdf")


def test_simulate_plot_writes_the_run(tmp_path, capsys):
    """pvnsim simulate --plot FILE.svg draws the run it simulated."""
    out = tmp_path / "run.svg"
    code = main(
        [
            "simulate",
            "--workload",
            "seqwrite",
            "--file-size",
            "1M",
            "--memory",
            "1M",
            "--no-progress",
            "--plot",
            str(out),
        ]
    )
    assert code == 0
    _root, text = _svg(out)
    assert "pvnsim simulate: workload seqwrite" in text
    assert "free pages" in text


def test_simulate_refuses_a_plot_file_it_cannot_write_before_running(tmp_path, capsys):
    """--plot run.gif is a usage error (exit 2), and nothing runs."""
    with pytest.raises(SystemExit) as info:
        main(["simulate", "--plot", str(tmp_path / "run.gif")])
    assert info.value.code == 2
    assert "must end in .svg or .png" in capsys.readouterr().err


def test_sweep_plot_draws_the_spec_s_plot(tmp_path, capsys):
    """pvnsim sweep --plot uses the SPEC's [plot] table; -y picks another metric."""
    spec = write_spec(
        tmp_path,
        """
        name = "memory sweep"
        seeds = 2
        [defaults]
        workload = "randread"
        file_size = "1M"
        ops = 30
        [grid]
        memory = ["512K", "1M", "4M"]
        maxcontig = [1, 4]
        [plot]
        x = "memory"
        y = "hit_ratio"
        """,
    )
    png = tmp_path / "sweep.png"
    assert main(["sweep", str(spec), "--workers", "0", "--plot", str(png)]) == 0
    width, _h, rows = read_png(png.read_bytes())
    assert width > 500
    assert len({px for row in rows for px in row}) > 30
    svg = tmp_path / "sweep.svg"
    assert main(["sweep", str(spec), "--plot", str(svg), "-y", "disk_reads"]) == 0
    _root, text = _svg(svg)
    assert "memory sweep" in text
    assert "disk_reads" in text and "memory (bytes)" in text
    assert "maxcontig=1" in text and "maxcontig=4" in text
    assert "ran 0, skipped 12" in capsys.readouterr().err  # the plot reused the results


def test_a_figure_shows_itself_in_a_notebook_without_pyplot(timeline):
    """IPython's display machinery gets a PNG from the figure, pyplot never imported."""
    from IPython.core.formatters import DisplayFormatter

    data, _meta = DisplayFormatter().format(plot_timeline(timeline))
    width, height, _rows = read_png(data["image/png"])
    assert (width, height) == (800, 900)  # 8 x 9 inches at 100 dpi


def test_sweep_refuses_a_plot_it_could_not_draw_before_running(tmp_path, capsys):
    """An unknown -x, -y or --by is a usage error (exit 2) and no task runs."""
    spec = write_spec(tmp_path, '[grid]\nmemory = ["1M", "2M"]\nops = 1\n')
    for extra, expect in (
        (["-x", "colour"], "x must be a parameter"),
        (["-y", "speed"], "y 'speed' is not a metric of a fs sweep"),
        (["--by", "colour"], "by colour is not a parameter"),
    ):
        with pytest.raises(SystemExit) as info:
            main(["sweep", str(spec), "--plot", str(tmp_path / "p.svg"), *extra])
        assert info.value.code == 2
        assert expect in capsys.readouterr().err
    assert not (tmp_path / "spec.jsonl").exists()
