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
import itertools
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import attrs
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
from pvnsim.fs.cli_plan import (
    BYTES_PER_OP,
    Demand,
    available_memory,
    estimate_seconds,
    footprint,
    format_bytes,
    format_seconds,
    format_size,
    trace_demand,
    workload_demand,
)
from pvnsim.fs.sim import SimConfig, Simulation
from pvnsim.fs.tracefile import load_trace, parse_duration, parse_size
from pvnsim.fs.workload import WORKLOADS, Op, build_workload

__all__ = ["Plan", "add_simulate_parser", "check_options", "prepare", "run_simulate"]

#: Runs expected to last longer than this many seconds are warned about.
SLOW_SECONDS = 20.0
_MIN_PAGES = 64
_MAX_BLOCK = 1 << 20


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
    g.add_argument("--files", type=_count, default=1, help="number of files (default: 1)")
    g.add_argument(
        "--file-size", type=_size, default="16M", metavar="SIZE", help="per file (default: 16M)"
    )
    g.add_argument(
        "--io-size", type=_size, default="64K", metavar="SIZE", help="per read/write (default: 64K)"
    )
    g.add_argument("--ops", type=_count, default=1000, help="random operations (default: 1000)")
    g.add_argument("--seed", type=_seed, default=0, help="random seed (default: 0)")
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
        "--ns-per-byte", type=_rate, default=10.0, help="transfer (default: 10, 100 MB/s)"
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
        "--readahead", type=_natural, default=1, help="klusters of read-ahead (default: 1)"
    )
    g.add_argument(
        "--maxcontig",
        type=_positive,
        default=1,
        help="most blocks per kluster, ufs's fs_maxcontig (default: 1, a block)",
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
    g.add_argument(
        "--dry-run",
        action="store_true",
        help="check the options, print what the run would need, and stop",
    )
    p.set_defaults(_simulate_parser=p)
    return p


# -- checks that involve several options ---------------------------------------------


def _power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def check_options(args: argparse.Namespace) -> None:
    """Check what depends on several options, before anything is built.

    Raises:
        UsageError: naming the options, their values and what is allowed.
    """
    ps = args.pagesize
    if not (_power_of_two(ps) and 512 <= ps <= _MAX_BLOCK):
        raise UsageError(
            f"--pagesize {format_size(ps)}: must be a power of two from 512 to 1M "
            "(4096 on x86, 8192 on SPARC)"
        )
    if not (_power_of_two(args.block_size) and ps <= args.block_size <= _MAX_BLOCK):
        raise UsageError(
            f"--block-size {format_size(args.block_size)}: must be a power of two from "
            f"--pagesize ({format_size(ps)}) to 1M"
        )
    pages = args.memory // ps
    if pages < _MIN_PAGES:
        raise UsageError(
            f"--memory {format_size(args.memory)}: holds {pages} pages of {ps} bytes; the "
            f"simulation needs at least {_MIN_PAGES} (--memory {format_size(_MIN_PAGES * ps)})"
        )
    if args.trace is None:
        for option, value in (
            ("--files", args.files),
            ("--file-size", args.file_size),
            ("--io-size", args.io_size),
        ):
            if value < 1:
                raise UsageError(f"{option} {value}: must be at least 1")
    for option, value in (
        ("--pages-before-pager", args.pages_before_pager),
        ("--lotsfree", args.lotsfree),
        ("--desfree", args.desfree),
        ("--minfree", args.minfree),
        ("--throttlefree", args.throttlefree),
    ):
        if value is not None and value >= pages:
            raise UsageError(
                f"{option} {value}: must be below the {pages:,} pages of "
                f"--memory {format_size(args.memory)}"
            )


def _check_thresholds(args: argparse.Namespace, sim: Simulation) -> None:
    """lotsfree >= desfree >= minfree >= throttlefree, as illumos's setupclock keeps them."""
    k = sim.kernel
    chain = [
        ("lotsfree", k.lotsfree),
        ("desfree", k.desfree),
        ("minfree", k.minfree),
        ("throttlefree", k.throttlefree),
    ]
    for (big, bv), (small, sv) in itertools.pairwise(chain):
        assert bv is not None and sv is not None
        if sv > bv:

            def said(name: str, value: int) -> str:
                given = getattr(args, name) is not None
                return f"--{name} {value}" if given else f"{name} {value} (the default)"

            hint = "" if getattr(args, big) is not None else f" (set --{big} too)"
            raise UsageError(
                f"{said(small, sv)} is above {said(big, bv)}: the thresholds must keep "
                f"lotsfree >= desfree >= minfree >= throttlefree{hint}"
            )


def _config(args: argparse.Namespace) -> SimConfig:
    return SimConfig(
        memory=args.memory,
        pagesize=args.pagesize,
        bsize=args.block_size,
        seek_ns=args.seek_ns,
        overhead_ns=args.overhead_ns,
        ns_per_byte=args.ns_per_byte,
        keep_log=False,
        vmodsort=not args.no_vmodsort,
        readahead=args.readahead,
        maxcontig=args.maxcontig,
        write_behind=not args.no_write_behind,
        freebehind=not args.no_freebehind,
        pvn_nofodklust=int(args.pvn_nofodklust),
        pvn_write_noklust=int(args.pvn_write_noklust),
        pvn_vmodsort_disable=int(args.pvn_vmodsort_disable),
        write_free=args.write_free,
        pages_before_pager=args.pages_before_pager,
        lotsfree=args.lotsfree,
        desfree=args.desfree,
        minfree=args.minfree,
        throttlefree=args.throttlefree,
        fsflush_interval_ns=args.fsflush_ms,
        verify=args.verify,
        seed=args.seed,
    )


# -- the plan ------------------------------------------------------------------------


@attrs.define
class Plan:
    """A checked run: the simulation, what it will run, and what it will cost.

    Attributes:
        sim: the simulation, built.
        what: the summary's words for the workload.
        demand: what the run asks for.
        needs: bytes of host memory at the peak (estimate).
        seconds: wall time (estimate).
        trace_ops: a trace's operations; None for a built-in workload, which
            :meth:`operations` builds.
    """

    sim: Simulation
    what: str
    demand: Demand
    needs: int
    seconds: float
    trace_ops: list[Op] | None
    args: argparse.Namespace

    def operations(self) -> tuple[list[Op], list[Op]]:
        """The setup operations (file creation) and the timed ones."""
        if self.trace_ops is not None:
            return [], self.trace_ops
        a = self.args
        w = build_workload(
            a.workload,
            files=a.files,
            file_size=a.file_size,
            iosize=a.io_size,
            ops=a.ops,
            seed=a.seed,
            pagesize=a.pagesize,
        )
        return list(w.setup), list(w.ops)


def _shown(path: str) -> str:
    """A path as text any terminal can print (undecodable bytes escaped)."""
    return path.encode("utf-8", "backslashreplace").decode("utf-8")


def _read_trace(path: str, avail: int | None) -> list[Op]:
    # A parsed line costs about 40 times its text; refuse before reading a
    # file whose operations alone could not fit.
    try:
        size = os.stat(path).st_size
    except OSError:
        size = 0  # load_trace reports why it cannot be read
    if avail is not None and size * 40 > avail:
        raise UsageError(
            f"--trace {_shown(path)}: {format_bytes(size)} of text is about {format_bytes(size * 40)} "
            f"of operations in memory; {format_bytes(avail)} is available"
        )
    return load_trace(path)


def prepare(args: argparse.Namespace) -> Plan:
    """Check every option, build the simulation and estimate the run's cost.

    Raises:
        UsageError: one line naming the option (or trace line) and what is allowed.
    """
    check_options(args)
    sim = Simulation(_config(args))
    _check_thresholds(args, sim)
    avail = available_memory()
    trace_ops: list[Op] | None = None
    if args.trace is not None:
        trace_ops = _read_trace(args.trace, avail)
        shown = _shown(args.trace)
        demand = trace_demand(trace_ops, f"--trace {shown}")
        what = f"trace {shown}"
    else:
        what = f"workload {args.workload}"
        demand = _demand(args, args.file_size, args.io_size)
    needs = _footprint(demand, args)
    if avail is not None and needs > avail:
        raise UsageError(
            f"this run needs about {format_bytes(needs)} of this machine's memory, for "
            f"{_needs_why(demand, args)}; {format_bytes(avail)} is available"
            f"{_what_fits(args, avail)}"
        )
    seconds = estimate_seconds(demand, memory=args.memory, pagesize=args.pagesize, check=args.check)
    return Plan(sim, what, demand, needs, seconds, trace_ops, args)


def _demand(args: argparse.Namespace, file_size: int, iosize: int) -> Demand:
    return workload_demand(
        args.workload, files=args.files, file_size=file_size, iosize=iosize, ops=args.ops
    )


def _footprint(demand: Demand, args: argparse.Namespace) -> int:
    return footprint(demand, memory=args.memory, pagesize=args.pagesize, verify=args.verify)


def _what_fits(args: argparse.Namespace, avail: int) -> str:
    """For a built-in workload: a larger --io-size or a smaller --file-size that fits."""
    if args.trace is not None:
        return ""
    io = args.io_size
    while io < args.file_size:
        io = 1 << io.bit_length()  # the next power of two
        if _footprint(_demand(args, args.file_size, io), args) <= avail:
            return f"; --io-size {format_size(io)} would fit"
    size = 1 << (args.file_size.bit_length() - 1)
    while size >= 1 << 20:
        if _footprint(_demand(args, size, min(args.io_size, size)), args) <= avail:
            return f"; --file-size {format_size(size)} would fit"
        size >>= 1
    return ""


def _needs_why(demand: Demand, args: argparse.Namespace) -> str:
    parts = [f"{format_bytes(demand.stored)} of file data ({demand.data_cause})"]
    if args.verify:
        parts.append("as much again for --verify")
    if demand.ops * BYTES_PER_OP >= 1 << 30:
        parts.append(f"{demand.ops:,} operations ({demand.ops_cause})")
    if demand.buffer >= 1 << 30:
        parts.append(f"{format_bytes(demand.buffer)} moved by one operation")
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]


def _warnings(plan: Plan) -> list[str]:
    out = []
    a = plan.args
    if plan.seconds >= SLOW_SECONDS:
        why = [f"{plan.demand.ops:,} operations"]
        if a.trace is None and a.io_size < a.pagesize:
            why.append(f"--io-size {a.io_size} moves less than a page per operation")
        if a.check:
            why.append("--check validates every page after every operation")
        out.append(
            f"this run may take about {format_seconds(plan.seconds)} ({'; '.join(why)}); "
            "Ctrl-C stops it"
        )
    avail = available_memory()
    if avail is not None and plan.needs > avail * 3 // 4:
        out.append(
            f"this run needs about {format_bytes(plan.needs)} of the {format_bytes(avail)} "
            "of memory available"
        )
    return out


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
    except UsageError as e:
        parser.error(str(e))
    for warning in _warnings(plan):
        err.write(f"pvnsim simulate: warning: {warning}\n")
    if args.dry_run:
        out.write(
            f"pvnsim simulate: {plan.what}: {plan.demand.ops:,} operations; about "
            f"{format_bytes(plan.needs)} of memory and {format_seconds(plan.seconds)}\n"
        )
        return 0
    started = time.monotonic()
    try:
        setup, ops = plan.operations()
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
