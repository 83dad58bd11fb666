"""The ``pvnsim simulate`` command: metrics table, JSON, traces, errors, progress bar."""

from __future__ import annotations

import io
import json

import pytest

from pvnsim.cli import main
from pvnsim.fs import Machine
from pvnsim.fs.cli_simulate import ProgressBar


def test_simulate_prints_the_metrics_table(capsys):
    """The default run prints a header and the metrics, klusters included."""
    rc = main(["simulate", "--memory", "1M", "--file-size", "64K", "--io-size", "16K"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "workload seq" in out and "memory 256 pages" in out
    # 64 KiB written by write-behind in 8 KiB blocks: 8 two-page klusters.
    assert "disk writes        8 (65,536 B)" in out
    assert "write klusters     2p:8" in out
    assert "cache hit ratio" in out and "vm.dfree" in out


def test_simulate_tunables_reach_the_kernel(capsys):
    """--pvn-write-noklust and --pvn-nofodklust change the kluster histograms."""
    args = ["simulate", "--memory", "1M", "--file-size", "64K", "--json", "--no-freebehind"]
    assert main([*args, "--pvn-write-noklust"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["write_klusters"] == {"1": 16}
    assert main([*args, "--workload", "seqread", "--pvn-nofodklust"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["read_klusters"] == {"1": 16}
    assert rec["disk_reads"] == 16


def test_simulate_maxcontig_clusters_blocks(capsys):
    """--maxcontig 8: a sequential 64 KiB write goes out as one 16-page write
    (write-behind pushes the whole cluster) instead of eight 2-page ones."""
    args = ["simulate", "--memory", "1M", "--file-size", "64K", "--io-size", "64K", "--json"]
    assert main([*args, "--workload", "seqwrite"]) == 0
    assert json.loads(capsys.readouterr().out)["write_klusters"] == {"2": 8}
    assert main([*args, "--workload", "seqwrite", "--maxcontig", "8"]) == 0
    assert json.loads(capsys.readouterr().out)["write_klusters"] == {"16": 1}


def test_simulate_replays_a_trace_and_verifies(tmp_path, capsys):
    """--trace runs the file's operations; --verify and --check pass on a sound run."""
    trace = tmp_path / "t.trace"
    trace.write_text("create a 32K 1\nwrite a 100 5000\nread a 0 32K\nfsync a\n")
    rc = main(["simulate", "--memory", "1M", "--trace", str(trace), "--verify", "--check"])
    out = capsys.readouterr().out
    assert rc == 0 and f"trace {trace}, 4 operations" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--memory", "lots"], "argument --memory: 'lots' is not a size"),
        (["--memory", "16K"], "memory must hold at least 64 pages"),
        (["--block-size", "3000"], "block size must be a power of two"),
        (["--workload", "nope"], "argument --workload: invalid choice"),
        (["--files", "0"], "files, file size and I/O size must be positive"),
        (["--trace", "/nonexistent/x.trace"], "cannot read trace file"),
        (["--write-free", "2"], "argument --write-free: invalid choice"),
        (["--maxcontig", "0"], "maxcontig must be an int of at least 1"),
    ],
)
def test_bad_options_fail_clearly(argv, message, capsys):
    """Bad options exit with status 2 and a message naming the problem."""
    with pytest.raises(SystemExit) as exc:
        main(["simulate", *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_bad_trace_content_names_the_line(tmp_path, capsys):
    """A trace that does not parse is refused with its line number."""
    trace = tmp_path / "bad.trace"
    trace.write_text("create a\nwrite a 0\n")
    with pytest.raises(SystemExit):
        main(["simulate", "--trace", str(trace)])
    assert "line 2: write takes" in capsys.readouterr().err


def test_runtime_usage_errors_exit_1(tmp_path, capsys):
    """An operation the simulation refuses (no such file) stops the run with status 1."""
    trace = tmp_path / "t.trace"
    trace.write_text("read missing 0 10\n")
    assert main(["simulate", "--trace", str(trace)]) == 1
    assert "no file named 'missing'" in capsys.readouterr().err


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_draws_only_on_a_terminal_after_its_delay():
    """The bar is silent on pipes and for short runs; on a TTY it redraws and clears."""
    pipe = io.StringIO()
    bar = ProgressBar(100, pipe, delay=0)
    bar.update(50)
    bar.finish()
    assert pipe.getvalue() == ""
    tty = _Tty()
    quick = ProgressBar(100, tty, delay=3600)
    quick.update(50)
    assert tty.getvalue() == ""
    bar = ProgressBar(100, tty, delay=0, width=10)
    bar.update(50)
    assert tty.getvalue() == "\r[#####.....]  50.0% 50/100 ops    0.0s"
    bar.finish()
    assert tty.getvalue().endswith("\r")


def test_metrics_table_and_dict_agree():
    """as_dict carries every counter of the table, ready for JSON."""
    sim = Machine(memory=1 << 20)
    sim.create("f", 16384, tag=1)
    sim.read("f", 0, 16384)
    m = sim.metrics()
    d = m.as_dict()
    assert d["disk_reads"] == m.disk_reads == 2
    assert d["read_klusters"] == {"2": 2}
    assert d["hit_ratio"] == round(m.hit_ratio, 6)
    assert m.vm_stat("pgfrec") == d["vm"]["pgfrec"]
    json.dumps(d)
    assert "read klusters      2p:2" in m.table()
