"""``pvnsim simulate`` refuses bad input in one line with status 2, and warns before slow runs.

The cases are the ones a new user ran into (issue 17): each must name the
option or trace line, the value, and what is allowed, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys

import pytest

import pvnsim.fs.cli_plan as cli_plan
import pvnsim.fs.cli_simulate as cli_simulate
from pvnsim.cli import main
from pvnsim.errors import InvariantViolation

SMALL = ["--memory", "1M", "--file-size", "64K", "--io-size", "16K"]


def simulate(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``pvnsim simulate ARGV`` in this process: (status, stdout, stderr)."""
    try:
        status = main(["simulate", *argv])
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else 1
    out, err = capsys.readouterr()
    return status, out, err


def assert_refused(status: int, err: str, *fragments: str) -> None:
    assert status == 2, err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("pvnsim simulate: error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["--memory", "99999999999999999999T"], ["argument --memory", "2**63 - 1 bytes"]),
        (["--file-size", "99999999999999999999T"], ["argument --file-size", "too large"]),
        (["--io-size", "99999999999999999999T"], ["argument --io-size", "too large"]),
        (["--pagesize", "0"], ["--pagesize 0:", "power of two from 512 to 1M"]),
        (["--pagesize", "3"], ["--pagesize 3:", "power of two"]),
        (["--fsflush-ms", "-5"], ["argument --fsflush-ms", "'-5'", "must not be negative"]),
        (["--fsflush-ms", "inf"], ["argument --fsflush-ms", "'inf' is not a duration"]),
        (["--seek-ns", "4x"], ["argument --seek-ns", "'4x' is not a duration", "in ns"]),
        (["--ns-per-byte", "nan"], ["argument --ns-per-byte", "from 0 to 1e9"]),
        (["--ns-per-byte", "inf"], ["argument --ns-per-byte", "from 0 to 1e9"]),
        (["--seed", "x"], ["argument --seed", "'x' is not an integer"]),
        (["--memory", "lots"], ["argument --memory", "'lots' is not a size"]),
        (["--memory", "16K"], ["--memory 16K: holds 4 pages", "at least 64 (--memory 256K)"]),
        (["--block-size", "3000"], ["--block-size 3000:", "from --pagesize (4K) to 1M"]),
        (["--files", "0"], ["--files 0: must be at least 1"]),
        (["--io-size", "0"], ["--io-size 0: must be at least 1"]),
        (["--readahead", "-1"], ["argument --readahead", "must be at least 0"]),
        (["--maxcontig", "0"], ["argument --maxcontig", "must be at least 1"]),
        (["--workload", "nope"], ["argument --workload: invalid choice"]),
        (["--write-free", "2"], ["argument --write-free: invalid choice"]),
        (["--trace", "/nonexistent/x.trace"], ["cannot read trace file", "/nonexistent/x.trace"]),
        (["--trace", "."], ["cannot read trace file '.'"]),
        # 64M of 4 KiB pages is 16,384 pages: lotsfree = max(16384/64, 128) = 256,
        # desfree = lotsfree/2 = 128, minfree = desfree/2 = 64.
        (["--lotsfree", "1", "--minfree", "100"], ["--minfree 100 is above desfree 0"]),
        (["--desfree", "500"], ["--desfree 500 is above lotsfree 256 (the default)"]),
        (["--throttlefree", "100"], ["--throttlefree 100 is above minfree 64 (the default)"]),
        (["--pages-before-pager", "99999"], ["must be below the 16,384 pages of --memory 64M"]),
        (["--lotsfree", "16384"], ["--lotsfree 16384: must be below the 16,384 pages"]),
        # Sizes no machine holds: 64 PiB of file data is 2**40 writes of 64 KiB
        # and as many reads (plus the create and the fsync), 200 B each.
        (["--file-size", "64P"], ["needs about", "2,199,023,255,554 operations", "available"]),
        (["--files", "99999999999999999"], ["needs about", "--files 99999999999999999"]),
    ],
)
def test_bad_options_are_refused_in_one_line(
    argv: list[str], fragments: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Each bad option gives one error line naming it, its value and what is allowed; status 2."""
    status, out, err = simulate(capsys, *argv)
    assert_refused(status, err, *fragments)
    assert out == ""


def test_internal_field_names_never_reach_the_user(capsys: pytest.CaptureFixture[str]) -> None:
    """The messages speak of options, not SimConfig fields (fsflush_interval_ns, ...)."""
    for argv in (["--fsflush-ms", "-5"], ["--pagesize", "0"], ["--pages-before-pager", "-3"]):
        _status, _out, err = simulate(capsys, *argv)
        assert "_ns" not in err and "memory must hold" not in err, err
        assert "pages_before_pager" not in err, err


def test_file_data_beyond_the_temporary_directory_is_refused_before_running(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--file-size 64G with 8 GiB free where the disk's store goes is refused,
    naming TMPDIR and a size that fits.

    A seq run writes the whole file, so the store (a sparse temporary file)
    comes to hold 64 GiB; 8G fits exactly in 8 GiB, 16G does not.  Memory is
    no object: the data is not kept in memory.
    """
    monkeypatch.setattr(cli_plan, "available_memory", lambda: 8 << 30)
    monkeypatch.setattr(cli_plan, "store_room", lambda: 8 << 30)
    status, _out, err = simulate(capsys, "--file-size", "64G")
    assert_refused(
        status,
        err,
        "this run stores about 64 GiB of file data (--files 1 --file-size 64G) in a temporary",
        "8 GiB is free in",
        "set TMPDIR to a larger file system",
        "--file-size 8G would fit",
    )


def test_a_file_larger_than_memory_runs_in_bounded_memory(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """64G of file data with 8 GiB of memory and room on disk passes the checks:
    the data goes to the disk's store, not into memory."""
    monkeypatch.setattr(cli_plan, "available_memory", lambda: 8 << 30)
    monkeypatch.setattr(cli_plan, "store_room", lambda: 100 << 30)
    status, out, _err = simulate(capsys, "--file-size", "64G", "--dry-run")
    assert status == 0 and "workload seq" in out


def test_verify_keeps_a_copy_of_the_files_in_memory(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--verify keeps a copy of every file in memory, and the refusal says so.

    With 8 GiB available, 6G and its copy fit; 12G does not, nor does 8G (the
    copy, 64 MiB of simulated pages and the interpreter are above 8 GiB);
    4G does.
    """
    monkeypatch.setattr(cli_plan, "available_memory", lambda: 8 << 30)
    monkeypatch.setattr(cli_plan, "store_room", lambda: 100 << 30)
    assert simulate(capsys, "--file-size", "6G", "--verify", "--dry-run")[0] == 0
    status, _out, err = simulate(capsys, "--file-size", "12G", "--verify")
    assert_refused(
        status, err, "a copy of 12 GiB of file data for --verify", "--file-size 4G would fit"
    )


def test_tiny_io_sizes_suggest_a_larger_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--io-size 1 over 4G is billions of operations: the message names --io-size."""
    monkeypatch.setattr(cli_plan, "available_memory", lambda: 8 << 30)
    monkeypatch.setattr(cli_plan, "store_room", lambda: 100 << 30)
    status, _out, err = simulate(capsys, "--file-size", "4G", "--io-size", "1")
    # 4 GiB / 1 B = 2**32 writes and as many reads, plus a create and an fsync.
    assert_refused(status, err, "8,589,934,594 operations (--io-size 1)", "--io-size")


def test_unknown_memory_skips_the_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Where the machine's free memory and disk space cannot be read, the sizes
    are not refused."""
    monkeypatch.setattr(cli_plan, "available_memory", lambda: None)
    monkeypatch.setattr(cli_plan, "store_room", lambda: None)
    status, out, _err = simulate(capsys, "--file-size", "64G", "--dry-run")
    assert status == 0 and "workload seq" in out


def test_slow_configurations_are_warned_about(capsys: pytest.CaptureFixture[str]) -> None:
    """--io-size 3 over the default 16M file: a warning with the operation count, then the run.

    16M / 3 B is 5,592,406 writes (the last one short) and as many reads,
    plus a create and an fsync: 11,184,814 operations.
    """
    status, out, err = simulate(capsys, "--io-size", "3", "--dry-run")
    assert status == 0
    (warning,) = err.splitlines()
    assert warning.startswith("pvnsim simulate: warning: this run may take about ")
    assert "11,184,814 operations" in warning
    assert "--io-size 3 moves less than a page per operation" in warning
    assert "11,184,814 operations" in out


def test_quick_runs_get_no_warning(capsys: pytest.CaptureFixture[str]) -> None:
    """The default run is well under the threshold: stderr stays empty."""
    status, _out, err = simulate(capsys, "--dry-run")
    assert status == 0 and err == ""


def _defaults_in_help() -> list[tuple[str, str]]:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    p = cli_simulate.add_simulate_parser(sub)
    shown = []
    for action in p._actions:
        m = re.search(r"\(default: ([^,;)\s]+)", action.help or "")
        if m and action.option_strings and action.default is not None:
            shown.append((action.option_strings[0], m.group(1)))
    return shown


def test_every_default_the_help_shows_is_accepted() -> None:
    """The help's ``default: 4ms``, ``50us``, ``30s``, ``16M`` ... parse to the defaults."""
    shown = dict(_defaults_in_help())
    assert shown["--seek-ns"] == "4ms" and shown["--fsflush-ms"] == "30s"
    assert shown["--overhead-ns"] == "50us" and shown["--file-size"] == "16M"
    parser = argparse.ArgumentParser()
    p = cli_simulate.add_simulate_parser(parser.add_subparsers())
    defaults = p.parse_args([])
    for option, text in shown.items():
        args = p.parse_args([option, text])
        dest = option.removeprefix("--").replace("-", "_")
        assert getattr(args, dest) == getattr(defaults, dest), (option, text)


def test_units_reach_the_simulation(capsys: pytest.CaptureFixture[str]) -> None:
    """--seek-ns 4ms is --seek-ns 4000000; --seek-ns 8ms changes the virtual time."""
    runs = {}
    for seek in ("4ms", "4000000", "8ms"):
        argv = [*SMALL, "--workload", "randread", "--ops", "20", "--seek-ns", seek, "--json"]
        status, out, _err = simulate(capsys, *argv)
        assert status == 0
        runs[seek] = json.loads(out)
    assert runs["4ms"] == {**runs["4000000"], "wall_s": runs["4ms"]["wall_s"]}
    assert runs["4ms"]["seeks"] > 0
    assert runs["8ms"]["virtual_ns"] > runs["4ms"]["virtual_ns"]


def test_a_trace_that_is_not_utf8_names_line_and_byte(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A non-UTF-8 byte is reported with its line and column, not a UnicodeDecodeError."""
    trace = tmp_path / "latin1.trace"
    trace.write_bytes(b"create a 8K\nwrite a\xff 0 10\n")
    status, _out, err = simulate(capsys, "--trace", str(trace))
    assert_refused(status, err, f"{trace} line 2: not UTF-8 text (byte 0xff at column 8)")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("sleep 1e400ms\n", "line 1: '1e400ms' is not a duration"),
        ("create a 8K 99999999999999999999999\n", "line 1: create: the tag"),
        ("create a\nwrite a 0x7fffffffffffffff 2\n", "line 2: write: offset"),
        ("create a\nwrite a 0\n", "line 2: write takes write F O L [T]"),
        ("create a 64P\n", "stores about 64 PiB of file data"),
    ],
)
def test_bad_trace_lines_are_refused_in_one_line(
    tmp_path, text: str, fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Trace values no run could use are refused before the run, naming the line."""
    trace = tmp_path / "t.trace"
    trace.write_text(text)
    status, _out, err = simulate(capsys, "--trace", str(trace))
    assert_refused(status, err, fragment)


def test_a_trace_too_big_to_parse_is_refused_before_reading(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A trace whose operations could not fit in memory is refused from its size alone."""
    trace = tmp_path / "t.trace"
    trace.write_text("sync\n" * 1000)  # 5,000 bytes, about 195 KiB once parsed
    monkeypatch.setattr(cli_plan, "available_memory", lambda: 100_000)
    status, _out, err = simulate(capsys, "--trace", str(trace))
    assert_refused(status, err, "4.9 KiB of text is about 195 KiB of operations")


@pytest.mark.parametrize(
    ("exc", "status", "fragment"),
    [
        (KeyboardInterrupt(), 130, "interrupted after"),
        (MemoryError(), 1, "ran out of memory"),
        (InvariantViolation("page v1@0 is lost"), 1, "check failed after"),
    ],
)
def test_a_run_that_stops_says_why_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    exc: BaseException,
    status: int,
    fragment: str,
) -> None:
    """Ctrl-C, exhausted memory and a failed --check end the run with one line, no traceback."""

    def stop(*args: object) -> None:
        raise exc

    monkeypatch.setattr(cli_simulate, "_run", stop)
    got, _out, err = simulate(capsys, *SMALL, "--no-progress")
    assert got == status
    assert len(err.splitlines()) == 1 and fragment in err, err


@pytest.mark.parametrize(
    "argv",
    [
        ["--memory", "99999999999999999999T"],
        ["--file-size", "64P"],
        ["--pagesize", "0"],
        ["--trace", "@latin1"],
    ],
)
def test_the_installed_command_prints_no_traceback(tmp_path, argv: list[str]) -> None:
    """In a real process too: status 2, one line on stderr, nothing on stdout."""
    trace = tmp_path / "latin1.trace"
    trace.write_bytes(b"\xe9crire a 0 10\n")
    argv = [str(trace) if a == "@latin1" else a for a in argv]
    run = subprocess.run(
        [sys.executable, "-m", "pvnsim", "simulate", *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2, run.stderr
    assert len(run.stderr.splitlines()) == 1, run.stderr
    assert run.stderr.startswith("pvnsim simulate: error: ") and run.stdout == ""


def test_dry_run_prints_the_plan_and_runs_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    """--dry-run: one line with the operation count; 64K in 16K I/O is 4 writes, 4 reads,
    a create and an fsync."""
    status, out, err = simulate(capsys, *SMALL, "--dry-run")
    assert status == 0 and err == ""
    assert re.fullmatch(r"pvnsim simulate: workload seq: 10 operations; about .*\n", out)


def test_the_mixed_workload_s_count_is_given_as_a_bound(capsys: pytest.CaptureFixture[str]) -> None:
    """mixed draws its operations: one roll in a hundred is a truncate-and-regrow (two
    operations), so --ops 100 over 2 files is at most 2 creates + 200 + 2 munmaps + 2
    fsyncs; the plan says "up to", and the run's own count (at least 2 + 100 + 4 = 106,
    far below the bound) is below it."""
    mixed = [
        "--workload",
        "mixed",
        "--files",
        "2",
        "--file-size",
        "64K",
        "--ops",
        "100",
        "--memory",
        "1M",
    ]
    status, out, err = simulate(capsys, *mixed, "--dry-run")
    assert status == 0 and err == ""
    assert re.fullmatch(r"pvnsim simulate: workload mixed: up to 206 operations; about .*\n", out)
    status, out, err = simulate(capsys, *mixed, "--no-progress")
    assert status == 0
    m = re.search(r"([\d,]+) operations \(2 setup \+ ([\d,]+)\)", out)
    assert m is not None, out
    assert 106 <= int(m.group(1)) < 206


def test_option_errors_of_other_commands_are_one_line_too(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The top-level parser (and so every subcommand's) prints errors as one line."""
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert len(err.splitlines()) == 1
    assert err.startswith("pvnsim: error: argument command: invalid choice")
