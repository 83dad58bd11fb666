"""``pvnsim simulate``: run a workload on the file-system kit and print its metrics.

Registered by :mod:`pvnsim.cli`; see docs/fs.md for the options.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, TextIO

from pvnsim.errors import DeadlockError, UsageError
from pvnsim.fs.sim import Machine, SimConfig
from pvnsim.fs.timeline import Timeline
from pvnsim.fs.tracefile import load_trace, parse_size
from pvnsim.fs.workload import WORKLOADS, Op, build_workload
from pvnsim.viz.plots import check_figure_path, plot_timeline, save_figure

__all__ = ["ProgressBar", "add_simulate_parser", "run_simulate"]


class ProgressBar:
    """A one-line progress bar on a terminal; silent when ``stream`` is not one.

    It appears only once a run has lasted ``delay`` seconds, so short runs
    print nothing.
    """

    def __init__(self, total: int, stream: TextIO, *, delay: float = 0.5, width: int = 30) -> None:
        self.total = max(total, 1)
        self.stream = stream
        self.enabled = bool(getattr(stream, "isatty", lambda: False)())
        self.delay = delay
        self.width = width
        self.start = time.monotonic()
        self.shown = False

    def update(self, done: int) -> None:
        """Redraw with ``done`` operations finished."""
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.start
        if elapsed < self.delay and not self.shown:
            return
        self.shown = True
        frac = min(done / self.total, 1.0)
        filled = int(frac * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r[{bar}] {frac:6.1%} {done:,}/{self.total:,} ops {elapsed:6.1f}s")
        self.stream.flush()

    def finish(self) -> None:
        """Clear the bar's line if it was drawn."""
        if self.shown:
            self.stream.write("\r" + " " * (self.width + 48) + "\r")
            self.stream.flush()


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except UsageError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _count(text: str) -> int:
    value = _size(text)
    return value


def add_simulate_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``simulate`` subcommand to the ``pvnsim`` parser's subparsers."""
    p: argparse.ArgumentParser = sub.add_parser(
        "simulate",
        help="run a file-system workload under memory pressure and print metrics",
        description=(
            "Run a workload on the reference file system (ufs-like getpage/putpage over "
            "the pvn routines) with a simulated disk and memory pressure in virtual time, "
            "then print the metrics. Sizes take K, M, G suffixes."
        ),
    )
    g = p.add_argument_group("workload")
    g.add_argument("--workload", default="seq", choices=sorted(WORKLOADS), help="(default: seq)")
    g.add_argument("--trace", metavar="FILE", help="replay a trace file instead of --workload")
    g.add_argument("--files", type=_count, default=1, help="number of files (default: 1)")
    g.add_argument("--file-size", type=_size, default="16M", help="bytes per file (default: 16M)")
    g.add_argument(
        "--io-size", type=_size, default="64K", help="bytes per read/write (default: 64K)"
    )
    g.add_argument("--ops", type=_count, default=1000, help="random operations (default: 1000)")
    g.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    g = p.add_argument_group("machine")
    g.add_argument("--memory", type=_size, default="64M", help="physical memory (default: 64M)")
    g.add_argument("--pagesize", type=_size, default=4096, help="PAGESIZE (default: 4096)")
    g.add_argument(
        "--block-size", type=_size, default="8K", help="fs block = kluster window (default: 8K)"
    )
    g.add_argument("--seek-ns", type=int, default=4_000_000, help="disk seek (default: 4 ms)")
    g.add_argument("--overhead-ns", type=int, default=50_000, help="per request (default: 50 us)")
    g.add_argument(
        "--ns-per-byte", type=float, default=10.0, help="transfer (default: 10, 100 MB/s)"
    )
    g = p.add_argument_group("pvn tunables and thresholds")
    g.add_argument("--pvn-nofodklust", action="store_true", help="no read klustering")
    g.add_argument("--pvn-write-noklust", action="store_true", help="no write klustering")
    g.add_argument("--pvn-vmodsort-disable", action="store_true", help="turn VMODSORT off")
    g.add_argument("--write-free", type=int, choices=(0, 1), default=1, help="(default: 1)")
    g.add_argument("--pages-before-pager", type=int, default=200, help="(default: 200)")
    for name in ("lotsfree", "desfree", "minfree", "throttlefree"):
        g.add_argument(f"--{name}", type=int, default=None, help="pages (default: illumos rule)")
    g = p.add_argument_group("file system")
    g.add_argument("--no-vmodsort", action="store_true", help="do not set VMODSORT on files")
    g.add_argument("--readahead", type=int, default=1, help="klusters of read-ahead (default: 1)")
    g.add_argument(
        "--maxcontig",
        type=int,
        default=1,
        help="most blocks per kluster, ufs's fs_maxcontig (default: 1, a block)",
    )
    g.add_argument("--no-write-behind", action="store_true", help="no async write of full blocks")
    g.add_argument(
        "--no-freebehind", action="store_true", help="no free-behind on sequential reads"
    )
    g.add_argument(
        "--fsflush-ms", type=float, default=30000.0, help="fsflush period (default 30 s; 0: off)"
    )
    g = p.add_argument_group("output")
    g.add_argument("--verify", action="store_true", help="check every byte read against the writes")
    g.add_argument("--check", action="store_true", help="run the validators after every step")
    g.add_argument("--json", action="store_true", help="print the metrics as JSON")
    g.add_argument("--no-progress", action="store_true", help="never draw the progress bar")
    g.add_argument("--plot", metavar="FILE", help="draw the run over virtual time (.svg/.png)")
    p.set_defaults(_simulate_parser=p)
    return p


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
        fsflush_interval_ns=int(args.fsflush_ms * 1_000_000),
        verify=args.verify,
        seed=args.seed,
    )


def _ops(args: argparse.Namespace) -> tuple[list[Op], list[Op], str]:
    if args.trace:
        return [], load_trace(args.trace), f"trace {args.trace}"
    w = build_workload(
        args.workload,
        files=args.files,
        file_size=args.file_size,
        iosize=args.io_size,
        ops=args.ops,
        seed=args.seed,
        pagesize=args.pagesize,
    )
    return list(w.setup), list(w.ops), f"workload {w.name}"


def run_simulate(
    args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run ``pvnsim simulate`` with parsed ``args``; returns the exit status."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    parser: argparse.ArgumentParser = args._simulate_parser
    try:
        sim = Machine(_config(args))
        setup, ops, what = _ops(args)
        if args.plot:
            check_figure_path(args.plot)
    except (UsageError, ImportError) as e:
        parser.error(str(e))
    bar = ProgressBar(len(ops), err)
    if args.no_progress:
        bar.enabled = False
    started = time.monotonic()
    try:
        sim.run(setup)
        timeline = Timeline.attach(sim, every=max(1, len(ops) // 20_000)) if args.plot else None
        metrics = sim.run(ops, check=args.check, progress=bar.update, every=256)
    except (UsageError, DeadlockError) as e:
        bar.finish()
        err.write(f"pvnsim simulate: error: {e}\n")
        return 1
    bar.finish()
    if timeline is not None:
        save_figure(plot_timeline(timeline, title=f"pvnsim simulate: {what}"), args.plot)
    if args.json:
        record = metrics.as_dict()
        record["wall_s"] = round(time.monotonic() - started, 3)
        out.write(json.dumps(record, sort_keys=True) + "\n")
    else:
        k = sim.kernel
        out.write(
            f"pvnsim simulate: {what}, {len(ops):,} operations, memory {k.total_pages:,} pages "
            f"of {k.pagesize} B, block {sim.fs.bsize} B\n\n"
        )
        out.write(metrics.table() + "\n")
    return 0
