"""Fuzzing the trace parser and the ``pvnsim simulate`` options: refusals only, never a crash.

Each property runs 1,000 inputs in CI whatever the profile; tools/soak_cli.py
runs the same checks 100,000 times.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from tests.cli.fuzz_inputs import (
    argv_lists,
    check_argv,
    check_trace_bytes,
    check_trace_text,
    scratch_directory,
    trace_bytes,
    trace_texts,
)

_DIR = scratch_directory()
_FUZZ = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(trace_texts())
def test_trace_text_is_parsed_or_refused_in_one_line(text: str) -> None:
    """Any text: a list of operations, or one UsageError line naming the line."""
    check_trace_text(text)


@_FUZZ
@given(trace_bytes())
def test_trace_file_bytes_are_loaded_or_refused_in_one_line(data: bytes) -> None:
    """Any file contents, UTF-8 or not: operations, or one UsageError line naming the file."""
    check_trace_bytes(data, _DIR)


@_FUZZ
@given(argv_lists(), trace_bytes())
def test_simulate_options_are_accepted_or_refused_in_one_line(
    argv: list[str], trace: bytes
) -> None:
    """Any options (and trace file): status 0, or status 2 with one error line."""
    check_argv(argv, trace, _DIR)


def test_the_fuzz_reaches_both_outcomes() -> None:
    """The inputs are not all refused (nor all accepted): both paths get exercised."""
    assert check_trace_text("create a 8K\nwrite a 0 4K\n") == 2
    assert check_trace_text("write a\n") == -1
    assert check_argv(["--memory", "1M", "--file-size", "64K"], b"", _DIR) == 0
    assert check_argv(["--memory", "nope"], b"", _DIR) == 2
    assert check_argv(["--trace", "@trace"], b"sync\n", _DIR) == 0
    assert check_argv(["--trace", "@trace"], b"\xff\n", _DIR) == 2
