"""The ``pvnsim simulate`` command: metrics table, JSON, traces, errors, progress bar."""

from __future__ import annotations

import io
import json
import re
import sys

import pytest

from pvnsim.cli import main
from pvnsim.fs import Machine


def _row(text: str, name: str) -> str:
    """The value column of the table row called ``name``."""
    m = re.search(rf"^\s*{re.escape(name)}\s{{2,}}(.*?)\s*$", text, re.MULTILINE)
    assert m, (name, text)
    return m.group(1)


def test_simulate_prints_the_metrics_table(capsys):
    """The default run prints a header and the metrics, klusters included."""
    rc = main(["simulate", "--memory", "1M", "--file-size", "64K", "--io-size", "16K"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "workload seq" in out and "memory 256 pages" in out
    # 64 KiB written by write-behind in 8 KiB blocks: 8 two-page klusters.
    assert _row(out, "disk writes") == "8 (65,536 B)"
    assert _row(out, "write klusters") == "2p:8"
    assert "cache hit ratio" in out and "vm.dfree" in out


def test_header_and_table_count_the_same_operations(capsys):
    """The header's count is the table's: the create that sets the file up counts in both.

    64K in 16K writes and reads: 4 + 4, an fsync, and the create.
    """
    assert main(["simulate", "--memory", "1M", "--file-size", "64K", "--io-size", "16K"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0]
    assert "10 operations (1 setup + 9)" in header
    assert _row(out, "operations") == "10"


def test_the_kluster_notation_is_explained(capsys):
    """Under the table, a note says what ``2p:8`` means."""
    assert main(["simulate", "--memory", "1M", "--file-size", "64K"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Np:C means C disk requests of N pages each (2p:8 is 8 requests of 2 pages)" in out


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
    (write-behind pushes the whole cluster) instead of eight 2-page ones
    (--maxcontig 1)."""
    args = ["simulate", "--memory", "1M", "--file-size", "64K", "--io-size", "64K", "--json"]
    assert main([*args, "--workload", "seqwrite", "--maxcontig", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["write_klusters"] == {"2": 8}
    assert main([*args, "--workload", "seqwrite", "--maxcontig", "8"]) == 0
    assert json.loads(capsys.readouterr().out)["write_klusters"] == {"16": 1}


def test_simulate_replays_a_trace_and_verifies(tmp_path, capsys):
    """--trace runs the file's operations; --verify and --check pass on a sound run."""
    trace = tmp_path / "t.trace"
    trace.write_text("create a 32K 1\nwrite a 100 5000\nread a 0 32K\nfsync a\n")
    rc = main(["simulate", "--memory", "1M", "--trace", str(trace), "--verify", "--check"])
    out = capsys.readouterr().out
    assert rc == 0 and f"trace {trace}: 4 operations" in out


def test_bad_trace_content_names_the_line(tmp_path, capsys):
    """A trace that does not parse is refused with its line number."""
    trace = tmp_path / "bad.trace"
    trace.write_text("create a\nwrite a 0\n")
    with pytest.raises(SystemExit) as exc:
        main(["simulate", "--trace", str(trace)])
    assert exc.value.code == 2
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


def test_progress_is_drawn_on_a_terminal_only(monkeypatch, capsys):
    """On a terminal, stderr shows the preload and the operations; on a pipe, nothing."""
    args = ["simulate", "--memory", "1M", "--file-size", "256K", "--workload", "seqread"]
    assert main(args) == 0
    assert capsys.readouterr().err == ""
    tty = _Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    assert main(args) == 0
    shown = tty.getvalue()
    assert "preloading files (256 KiB)" in shown
    assert "operations" in shown and "4/4" in shown  # 256K in 64K reads
    tty.truncate(0)
    assert main([*args, "--no-progress"]) == 0
    assert tty.getvalue() == ""


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
    assert _row(m.table(), "read klusters") == "2p:2"
