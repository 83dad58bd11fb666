"""``pvnsim simulate``: run a workload on the file-system kit and print its metrics.

Registered by :mod:`pvnsim.cli`; see docs/fs.md for the options.

Theory of operation
-------------------
Nothing the user types may end in a traceback.  Each option is parsed by a
``type=`` function that says what it accepts (argparse names the option in
its message); :func:`check_options` then checks what depends on several
options (memory against page size, the free-memory thresholds against each
other); :func:`prepare` builds the simulation, reads the trace, and compares
the run's demand with what this machine can hold (:mod:`pvnsim.fs.cli_plan`).
Every refusal is one line on standard error and exit status 2.  Only then
does the run start, with a progress display on a terminal.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from pvnsim.errors import DeadlockError, InvariantViolation, KernelPanic, UsageError
from pvnsim.fs.cli_plan import Plan, format_bytes, format_seconds, prepare, warnings_for
from pvnsim.fs.timeline import Timeline
from pvnsim.fs.tracefile import parse_duration, parse_size
from pvnsim.fs.workload import WORKLOADS, Op
from pvnsim.viz.plots import check_figure_path, plot_timeline, save_figure

__all__ = ["add_simulate_parser", "run_simulate"]


# -- option types: each names what it accepts --------------------------------------


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except UsageError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _whole(text: str, *, least: int) -> int:
    try:
        value = int(text.strip(), 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"{text!r}: must be at least {least}")
    return value


def _count(text: str) -> int:
    """A count; takes K and M like a size (``10K`` is 10240)."""
    return _size(text)


def _natural(text: str) -> int:
    return _whole(text, least=0)


def _positive(text: str) -> int:
    return _whole(text, least=1)


def _seed(text: str) -> int:
    try:
        return int(text.strip(), 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def _duration(unit: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            return parse_duration(text, unit=unit)
        except UsageError as e:
            raise argparse.ArgumentTypeError(f"{e}; a plain number is in {unit}") from None

    parse.__name__ = f"duration in {unit}"
    return parse


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 <= value <= 1e9):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of nanoseconds per byte from 0 to 1e9 (10 is 100 MB/s)"
        )
    return value


# -- the parser --------------------------------------------------------------------


def add_simulate_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``simulate`` subcommand to the ``pvnsim`` parser's subparsers."""
    p: argparse.ArgumentParser = sub.add_parser(
        "simulate",
        help="run a file-system workload under memory pressure and print metrics",
        description=(
            "Run a workload on the reference file system (ufs-like getpage/putpage over "
            "the pvn routines) with a simulated disk and memory pressure in virtual time, "
            "then print the metrics. Sizes are bytes and take K, M, G, T suffixes (64K, "
            "1G); durations take ns, us, ms, s (4ms, 50us)."
        ),
    )
    g = p.add_argument_group("workload")
    g.add_argument("--workload", default="seq", choices=sorted(WORKLOADS), help="(default: seq)")
    g.add_argument("--trace", metavar="FILE", help="replay a trace file instead of --workload")
    g.add_argument(
        "--files", type=_count, default=1, metavar="N", help="number of files (default: 1)"
    )
    g.add_argument(
        "--file-size", type=_size, default="16M", metavar="SIZE", help="per file (default: 16M)"
    )
    g.add_argument(
        "--io-size", type=_size, default="64K", metavar="SIZE", help="per read/write (default: 64K)"
    )
    g.add_argument(
        "--ops", type=_count, default=1000, metavar="N", help="random operations (default: 1000)"
    )
    g.add_argument("--seed", type=_seed, default=0, metavar="N", help="random seed (default: 0)")
    g = p.add_argument_group("machine")
    g.add_argument(
        "--memory", type=_size, default="64M", metavar="SIZE", help="physical memory (default: 64M)"
    )
    g.add_argument(
        "--pagesize", type=_size, default=4096, metavar="SIZE", help="PAGESIZE (default: 4096)"
    )
    g.add_argument(
        "--block-size",
        type=_size,
        default="8K",
        metavar="SIZE",
        help="fs block = kluster window (default: 8K)",
    )
    g.add_argument(
        "--seek-ns",
        type=_duration("ns"),
        default=4_000_000,
        metavar="TIME",
        help="disk seek (default: 4ms)",
    )
    g.add_argument(
        "--overhead-ns",
        type=_duration("ns"),
        default=50_000,
        metavar="TIME",
        help="per request (default: 50us)",
    )
    g.add_argument(
        "--ns-per-byte",
        type=_rate,
        default=10.0,
        metavar="X",
        help="transfer time per byte, in ns (default: 10, 100 MB/s)",
    )
    g = p.add_argument_group("pvn tunables and thresholds")
    g.add_argument("--pvn-nofodklust", action="store_true", help="no read klustering")
    g.add_argument("--pvn-write-noklust", action="store_true", help="no write klustering")
    g.add_argument("--pvn-vmodsort-disable", action="store_true", help="turn VMODSORT off")
    g.add_argument("--write-free", type=int, choices=(0, 1), default=1, help="(default: 1)")
    g.add_argument(
        "--pages-before-pager", type=_natural, default=200, metavar="PAGES", help="(default: 200)"
    )
    for name in ("lotsfree", "desfree", "minfree", "throttlefree"):
        g.add_argument(
            f"--{name}",
            type=_natural,
            default=None,
            metavar="PAGES",
            help="(default: illumos's rule from --memory)",
        )
    g = p.add_argument_group("file system")
    g.add_argument("--no-vmodsort", action="store_true", help="do not set VMODSORT on files")
    g.add_argument(
        "--readahead",
        type=_natural,
        default=1,
        metavar="N",
        help="klusters of read-ahead (default: 1)",
    )
    g.add_argument(
        "--maxcontig",
        type=_positive,
        default=16,
        metavar="N",
        help="most blocks per kluster, ufs's fs_maxcontig (default: 16; 1: a block)",
    )
    g.add_argument("--no-write-behind", action="store_true", help="no async write of full blocks")
    g.add_argument(
        "--no-freebehind", action="store_true", help="no free-behind on sequential reads"
    )
    g.add_argument(
        "--fsflush-ms",
        type=_duration("ms"),
        default=30_000_000_000,
        metavar="TIME",
        help="fsflush period (default: 30s; 0: off; a plain number is in ms)",
    )
    g = p.add_argument_group("output")
    g.add_argument("--verify", action="store_true", help="check every byte read against the writes")
    g.add_argument("--check", action="store_true", help="run the validators after every step")
    g.add_argument("--json", action="store_true", help="print the metrics as JSON")
    g.add_argument("--no-progress", action="store_true", help="never draw the progress bar")
    g.add_argument("--plot", metavar="FILE", help="draw the run over virtual time (.svg/.png)")
    g.add_argument(
        "--dry-run",
        action="store_true",
        help="check the options, print what the run would need, and stop",
    )
    p.set_defaults(_simulate_parser=p)
    return p


# -- running -------------------------------------------------------------------------


@contextmanager
def _progress(err: TextIO, enabled: bool) -> Iterator[Progress]:
    """A live progress display on ``err`` when it is a terminal, cleared at the end."""
    console = Console(file=err)
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
        disable=not (enabled and console.is_terminal),
    )
    with progress:
        yield progress


def _run(plan: Plan, setup: list[Op], ops: list[Op], err: TextIO) -> Any:
    sim, args = plan.sim, plan.args
    with _progress(err, not args.no_progress) as progress:
        if setup:
            size = format_bytes(plan.demand.created)
            task = progress.add_task(f"preloading files ({size})", total=len(setup))
            for op in setup:
                sim.apply(op)
                progress.advance(task)
            progress.remove_task(task)
        task = progress.add_task("operations", total=len(ops))
        return sim.run(
            ops,
            check=args.check,
            progress=lambda done: progress.update(task, completed=done),
            every=256,
        )


def _summary(plan: Plan, n_setup: int, n_ops: int) -> str:
    k = plan.sim.kernel
    a = plan.args
    if a.trace is None:
        files = f"{a.files:,} file{'s' if a.files != 1 else ''}"
        shape = f"{files} of {format_bytes(a.file_size)}, {format_bytes(a.io_size)} per I/O; "
    else:
        shape = ""
    setup = f" ({n_setup:,} setup + {n_ops:,})" if n_setup else ""
    return (
        f"pvnsim simulate: {plan.what}: {shape}{n_setup + n_ops:,} operations{setup}; "
        f"memory {k.total_pages:,} pages of {k.pagesize} B, block {plan.sim.fs.bsize} B"
    )


def run_simulate(
    args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run ``pvnsim simulate`` with parsed ``args``; returns the exit status.

    Bad options and runs this machine cannot hold exit through the parser's
    ``error`` (status 2); an operation the simulation refuses, a deadlock, a
    kernel panic or a failed check is status 1; Ctrl-C is 130.  Each is one
    line on ``err``.
    """
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    parser: argparse.ArgumentParser = args._simulate_parser
    try:
        plan = prepare(args)
        if args.plot:
            check_figure_path(args.plot)
    except (UsageError, ImportError) as e:
        parser.error(str(e))
    for warning in warnings_for(plan):
        err.write(f"pvnsim simulate: warning: {warning}\n")
    if args.dry_run:
        out.write(
            f"pvnsim simulate: {plan.what}: {plan.demand.ops_text()}; about "
            f"{format_bytes(plan.needs)} of memory and {format_seconds(plan.seconds)}\n"
        )
        return 0
    started = time.monotonic()
    try:
        setup, ops = plan.operations()
        timeline = (
            Timeline.attach(plan.sim, every=max(1, len(ops) // 20_000)) if args.plot else None
        )
        metrics = _run(plan, setup, ops, err)
    except (UsageError, DeadlockError) as e:
        err.write(f"pvnsim simulate: error: {e}\n")
        return 1
    except (KernelPanic, InvariantViolation) as e:
        what = "the simulated kernel panicked" if isinstance(e, KernelPanic) else "check failed"
        err.write(f"pvnsim simulate: error: {what} after {plan.sim.ops:,} operations: {e}\n")
        return 1
    except MemoryError:
        err.write(
            "pvnsim simulate: error: this machine ran out of memory; use smaller files, "
            "fewer operations or less --memory\n"
        )
        return 1
    except KeyboardInterrupt:
        err.write(f"pvnsim simulate: interrupted after {plan.sim.ops:,} operations\n")
        return 130
    if timeline is not None:
        save_figure(plot_timeline(timeline, title=f"pvnsim simulate: {plan.what}"), args.plot)
    if args.json:
        record = metrics.as_dict()
        record["wall_s"] = round(time.monotonic() - started, 3)
        out.write(json.dumps(record, sort_keys=True) + "\n")
    else:
        out.write(_summary(plan, len(setup), len(ops)) + "\n\n")
        console = Console(file=out)
        if console.is_terminal:
            console.print(metrics.rich_table())
        else:
            out.write(metrics.table(width=console.width) + "\n")
    return 0
