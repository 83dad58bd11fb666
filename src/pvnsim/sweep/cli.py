"""``pvnsim sweep``: run a SPEC's tasks, write tidy results, draw them.

Registered by :mod:`pvnsim.cli`; see docs/sweeps.md.  Exit status: 0 when
every task ran (failures found are results), 1 when a task could not run
(``error`` rows), 2 for a bad SPEC or option, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from pvnsim.errors import UsageError
from pvnsim.sweep.runner import SweepResult, default_output, plot_axes, run_sweep
from pvnsim.sweep.spec import load_spec

__all__ = ["add_sweep_parser", "run_sweep_command"]


def add_sweep_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``sweep`` subcommand to the ``pvnsim`` parser's subparsers."""
    p: argparse.ArgumentParser = sub.add_parser(
        "sweep",
        help="run a grid of simulations or exploration campaigns from a TOML SPEC",
        description=(
            "Run every task of a SPEC (fs-kit runs or exploration campaigns, each with a "
            "seed derived from its point) on local processes or a Dask cluster, appending "
            "one row per task to BASE.csv and BASE.jsonl.  Rerunning skips the rows "
            "already there.  See docs/sweeps.md."
        ),
    )
    p.add_argument("spec", metavar="SPEC", help="the sweep's TOML file")
    p.add_argument(
        "-o", "--output", metavar="BASE", help="results base path (default: SPEC without .toml)"
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "-w", "--workers", type=int, help="local worker processes (default: one per CPU; 0: none)"
    )
    where.add_argument(
        "--scheduler", metavar="ADDRESS", help="run on this Dask scheduler (tcp://host:8786)"
    )
    p.add_argument(
        "--only",
        metavar="ID",
        action="append",
        help="run just this task (repeatable) and print its row; writes no results",
    )
    p.add_argument("--no-progress", action="store_true", help="never draw the progress bar")
    g = p.add_argument_group("plot (needs pvnsim[plot])")
    g.add_argument("--plot", metavar="FILE", help="draw the results to FILE (.svg or .png)")
    g.add_argument("-x", metavar="PARAM", help="parameter on the x axis (default: SPEC [plot])")
    g.add_argument("-y", metavar="METRIC", help="metric on the y axis (default: SPEC [plot])")
    g.add_argument(
        "--by", metavar="PARAM", action="append", help="split lines by PARAM (repeatable)"
    )
    p.set_defaults(_sweep_parser=p)
    return p


def _summary(result: SweepResult, base: str | None) -> str:
    counts = ", ".join(f"{result.count(s)} {s}" for s in ("ok", "failed", "error"))
    lines = [
        f"sweep {result.spec.name}: {len(result.rows)} of {len(result.spec.tasks)} rows "
        f"({counts}); ran {result.ran}, skipped {result.skipped}, {result.elapsed:.1f} s"
    ]
    if base is not None:
        lines.append(f"results: {base}.csv, {base}.jsonl")
    if result.interrupted:
        lines.append("interrupted: the rows above are kept; run the same command to resume")
    return "\n".join(lines)


def run_sweep_command(
    args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run ``pvnsim sweep`` with parsed ``args``; returns the exit status."""
    from rich.console import Console

    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    parser: argparse.ArgumentParser = args._sweep_parser
    try:
        spec = load_spec(args.spec)
        if args.plot:
            from pvnsim.viz.plots import check_figure_path

            check_figure_path(args.plot)
            plot_axes(spec, args.x, args.y, args.by)
    except (UsageError, ImportError) as e:
        parser.error(str(e))
    console = Console(file=err, highlight=False)
    base = None if args.only else str(args.output or default_output(args.spec))
    workers = 0 if args.only and args.workers is None and not args.scheduler else args.workers
    try:
        result = run_sweep(
            spec,
            output=base,
            workers=workers,
            scheduler=args.scheduler,
            only=args.only,
            console=console,
            progress=not args.no_progress and console.is_terminal,
        )
    except UsageError as e:
        parser.error(str(e))
    if args.only:
        for row in result.rows:
            out.write(json.dumps(row) + "\n")
    else:
        err.write(_summary(result, base) + "\n")
    if result.interrupted:
        return 130
    if args.plot:
        from pvnsim.viz.plots import save_figure

        try:
            save_figure(result.plot(args.x, args.y, args.by), args.plot)
        except UsageError as e:
            parser.error(str(e))
        err.write(f"plot: {args.plot}\n")
    return 1 if result.count("error") else 0
