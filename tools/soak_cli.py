"""Soak the trace parser and ``pvnsim simulate``'s options with fuzzed input.

Runs the checks of the CI fuzz test (tests/cli/test_fuzz.py) on many more
inputs, 100,000 per target by default, and reports how many inputs each
target ran and how many crashed (any outcome other than success or a
one-line refusal).  Exit status 0 when nothing crashed.

    python tools/soak_cli.py                 # 100,000 inputs per target
    python tools/soak_cli.py --examples 5000 --only argv
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from tests.cli.fuzz_inputs import (
    argv_lists,
    check_argv,
    check_trace_bytes,
    check_trace_text,
    scratch_directory,
    trace_bytes,
    trace_texts,
)


def _targets(directory: Path) -> dict[str, tuple[tuple[Any, ...], Callable[..., int]]]:
    return {
        "trace-text": ((trace_texts(),), check_trace_text),
        "trace-file": ((trace_bytes(),), lambda data: check_trace_bytes(data, directory)),
        "argv": (
            (argv_lists(), trace_bytes()),
            lambda argv, data: check_argv(argv, data, directory),
        ),
    }


def soak(name: str, strategies: tuple[Any, ...], check: Callable[..., int], n: int) -> int:
    """Run ``check`` on ``n`` generated inputs; print a summary; return the crashes."""
    ran = crashed = refused = 0
    first: str | None = None

    @settings(
        max_examples=n,
        deadline=None,
        database=None,
        derandomize=False,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.tuples(*strategies))
    def run(inputs: tuple[Any, ...]) -> None:
        nonlocal ran, crashed, refused, first
        ran += 1
        try:
            result = check(*inputs)
        except Exception:  # a crash: count it, keep going
            crashed += 1
            if first is None:
                first = f"input {inputs!r}\n{traceback.format_exc()}"
            return
        refused += result == (2 if name == "argv" else -1)

    started = time.monotonic()
    run()
    took = time.monotonic() - started
    print(
        f"{name:>10}: {ran:,} inputs, {refused:,} refused in one line, "
        f"{crashed} crashes ({took:.0f} s)"
    )
    if first:
        print(first)
    return crashed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000, help="inputs per target")
    parser.add_argument("--only", choices=["trace-text", "trace-file", "argv"], action="append")
    args = parser.parse_args()
    directory = scratch_directory()
    crashes = 0
    for name, (strategies, check) in _targets(directory).items():
        if args.only and name not in args.only:
            continue
        crashes += soak(name, strategies, check, args.examples)
    print(f"total: {crashes} crashes")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
