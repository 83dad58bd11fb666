"""Inputs for fuzzing ``pvnsim simulate`` and the trace parser, and what each must do.

Shared by the CI fuzz test (tests/cli/test_fuzz.py) and the soak script
(tools/soak_cli.py).  The contract being checked: bad input is refused with
one line naming the problem (``UsageError`` from the parser, exit status 2
from the command), never with any other exception.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

from hypothesis import strategies as st

from pvnsim.cli import main
from pvnsim.errors import UsageError
from pvnsim.fs.tracefile import load_trace, parse_trace

__all__ = [
    "argv_lists",
    "check_argv",
    "check_trace_bytes",
    "check_trace_text",
    "trace_bytes",
    "trace_texts",
]

_KINDS = [
    "create",
    "write",
    "read",
    "fsync",
    "sync",
    "truncate",
    "invalidate",
    "free",
    "load",
    "store",
    "munmap",
    "sleep",
    "pressure",
    "fail",
]
_SUFFIXES = ["", "k", "K", "M", "G", "T", "P", "E", "KiB", "gb", "b", "ms", "us", "ns", "s", "x"]

# One word without white space: what a hand-written file or a typo could hold.
_junk = st.text(
    alphabet=st.characters(blacklist_categories=["Zs", "Cc"], blacklist_characters="#"),
    min_size=1,
    max_size=8,
)
_number = st.builds(
    lambda n, hexa, suffix: (hex(n) if hexa and n >= 0 else str(n)) + suffix,
    st.integers(-(2**70), 2**70)
    | st.integers(0, 1 << 20)
    | st.sampled_from([0, 1, 3, 4096, 2**63 - 1, 2**63, 2**64]),
    st.booleans(),
    st.sampled_from(_SUFFIXES),
)
_unit = st.sampled_from(["", "ns", "us", "ms", "s"])
_real = st.builds(
    lambda f, unit: f"{f!r}{unit}", st.floats(allow_nan=True, allow_infinity=True), _unit
) | st.builds(
    lambda whole, frac, exp, unit: f"{whole}.{frac}e{exp}{unit}",
    st.integers(0, 99),
    st.integers(0, 99),
    st.integers(-400, 400),
    _unit,
)
_special = st.sampled_from(
    [
        *["nan", "inf", "-inf", "1e400", "1e400ms", "1.5ms", "0x", "0x_", "1__0", "-0", ".5"],
        *["4 ms", "permanent", "read", "write", "any", "a", "b", "-", "--", "010", "٣", "1_000"],
    ]
)
_word = _number | _real | _special | _junk


# What each kind takes (as in pvnsim.fs.tracefile): F file, O offset, L length,
# T tag, D duration, P pages, A fault kind.
_FIELDS = {
    "create": "FLT",
    "write": "FOLT",
    "read": "FOL",
    "fsync": "F",
    "sync": "",
    "truncate": "FL",
    "invalidate": "F",
    "free": "FOL",
    "load": "FOL",
    "store": "FOLT",
    "munmap": "F",
    "sleep": "D",
    "pressure": "P",
    "fail": "AFOT",
}
_fine = st.builds(
    lambda n, hexa, suffix: (hex(n) if hexa else str(n)) + suffix,
    st.integers(0, 1 << 16) | st.sampled_from([2**62, 2**63 - 1, 2**63, 2**64 - 1, 2**64]),
    st.booleans(),
    st.sampled_from(["", "", "K", "M", "G", "T"]),
)
_FIELD = {
    "F": st.sampled_from(["a", "b"]),
    "O": st.one_of(_fine, _fine, _fine, _number, _special),
    "L": st.one_of(_fine, _fine, _fine, _number, _special),
    "T": st.one_of(_fine, _fine, st.just("permanent"), _number),
    "D": st.one_of(_real, _real, _fine, _special),
    "P": st.one_of(_fine, _number),
    "A": st.sampled_from(["read", "write", "any"]),
}


@st.composite
def _line(draw: st.DrawFn) -> str:
    """A line shaped like its kind's syntax, with odd values, one word more or less."""
    kind = draw(st.sampled_from(_KINDS))
    words = [draw(_FIELD[code]) for code in _FIELDS[kind]]
    shape = draw(st.integers(0, 9))
    if shape == 0 and words:
        words.pop(draw(st.integers(0, len(words) - 1)))
    elif shape == 1:
        words.append(draw(_word))
    elif shape == 2:
        kind = draw(_junk)
    elif shape == 3:
        words = draw(st.lists(_word, max_size=6))
    comment = draw(st.sampled_from(["", " # note", "#"]))
    return " ".join([kind, *words]) + comment


def trace_texts() -> st.SearchStrategy[str]:
    """Trace files as text: mostly near-valid lines, some arbitrary text."""
    lines = st.lists(_line() | st.sampled_from(["", "   ", "# c", "\r"]), max_size=6)
    endings = st.sampled_from(["\n", "\r\n"])
    structured = st.builds(lambda ls, nl: nl.join(ls), lines, endings)
    return st.one_of(structured, structured, structured, st.text(max_size=200))


def trace_bytes() -> st.SearchStrategy[bytes]:
    """Trace files as bytes: encoded texts, some broken by bytes that are not UTF-8."""
    encoded = trace_texts().map(lambda t: t.encode("utf-8", "surrogatepass"))
    broken = st.builds(
        lambda b, at, bad: b[:at] + bad + b[at:],
        encoded,
        st.integers(0, 200),
        st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80abc", b"\x00"]),
    )
    return encoded | broken | st.binary(max_size=200)


def _one_line_refusal(message: str, where: str) -> None:
    assert message, f"{where}: an empty message"
    assert "\n" not in message, f"{where}: more than one line: {message!r}"
    assert "Traceback" not in message, message


def check_trace_text(text: str) -> int:
    """Parse ``text``; a refusal must be one UsageError line naming the line.

    Returns:
        the number of operations parsed, or -1 if refused.
    """
    try:
        ops = parse_trace(text, source="t")
    except UsageError as e:
        _one_line_refusal(str(e), "parse_trace")
        assert str(e).startswith("t line "), str(e)
        return -1
    return len(ops)


def check_trace_bytes(data: bytes, directory: Path) -> int:
    """Load ``data`` as a trace file: how many operations, or -1 for a one-line UsageError."""
    path = directory / "fuzz.trace"
    path.write_bytes(data)
    try:
        ops = load_trace(path)
    except UsageError as e:
        _one_line_refusal(str(e), "load_trace")
        assert str(e).startswith(str(path)), str(e)
        return -1
    return len(ops)


# -- the command line --------------------------------------------------------------

_SIZE_OPTIONS = ["--memory", "--pagesize", "--block-size", "--file-size", "--io-size"]
_COUNT_OPTIONS = ["--files", "--ops", "--seed", "--readahead", "--maxcontig", "--write-free"]
_PAGE_OPTIONS = ["--pages-before-pager", "--lotsfree", "--desfree", "--minfree", "--throttlefree"]
_TIME_OPTIONS = ["--seek-ns", "--overhead-ns", "--fsflush-ms", "--ns-per-byte"]
_FLAGS = [
    "--pvn-nofodklust",
    "--pvn-write-noklust",
    "--pvn-vmodsort-disable",
    "--no-vmodsort",
    "--no-write-behind",
    "--no-freebehind",
    "--verify",
    "--check",
    "--json",
    "--no-progress",
]
_WORKLOADS = ["seq", "seqwrite", "seqread", "randread", "randwrite", "mmap", "mixed", "nope"]

_plausible = st.sampled_from(
    ["0", "1", "3", "8", "64", "512", "4096", "8K", "64K", "1M", "16M", "64M", "1G", "64G"]
)
_value = _plausible | _number | _real | _special | _junk | st.text(max_size=12)


@st.composite
def _option(draw: st.DrawFn) -> list[str]:
    group = draw(st.integers(0, 6))
    if group == 0:
        return [draw(st.sampled_from(_SIZE_OPTIONS)), draw(_value)]
    if group == 1:
        return [draw(st.sampled_from(_COUNT_OPTIONS)), draw(_value)]
    if group == 2:
        return [draw(st.sampled_from(_PAGE_OPTIONS)), draw(_value)]
    if group == 3:
        return [draw(st.sampled_from(_TIME_OPTIONS)), draw(_value)]
    if group == 4:
        return [draw(st.sampled_from(_FLAGS))]
    if group == 5:
        return ["--workload", draw(st.sampled_from(_WORKLOADS) | _junk)]
    return ["--trace", draw(st.sampled_from(["@trace", "/nonexistent/t", "."]))]


def argv_lists() -> st.SearchStrategy[list[str]]:
    """Argument lists for ``pvnsim simulate``: options with odd values, in any order."""
    return st.lists(_option(), max_size=6).map(lambda opts: [w for o in opts for w in o])


def check_argv(argv: list[str], trace: bytes, directory: Path) -> int:
    """Run ``pvnsim simulate ARGV --dry-run``; ``@trace`` names a file holding ``trace``.

    Returns:
        the exit status: 0 (accepted) or 2 (refused with one line).
    """
    path = directory / "argv.trace"
    path.write_bytes(trace)
    argv = [str(path) if a == "@trace" else a for a in argv]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(["simulate", *argv, "--dry-run", "--no-progress"])
        except SystemExit as e:
            status = e.code if isinstance(e.code, int) else 1
    if status == 2:
        lines = [ln for ln in err.getvalue().splitlines() if ": warning: " not in ln]
        assert len(lines) == 1, f"{argv}: {err.getvalue()!r}"
        assert lines[0].startswith(("pvnsim simulate: error: ", "pvnsim: error: ")), lines[0]
        _one_line_refusal(lines[0], repr(argv))
    else:
        assert status == 0, f"{argv}: status {status}: {err.getvalue()}"
        assert "error" not in err.getvalue(), err.getvalue()
    return status


def scratch_directory() -> Path:
    """A directory for the fuzzed files (the tests' tmp_path is per test, not per example)."""
    return Path(tempfile.mkdtemp(prefix="pvnsim-fuzz-", dir=os.environ.get("TMPDIR")))
