"""Running a sweep's tasks on an executor and collecting their rows.

Theory of operation
-------------------
Tasks go to a :class:`concurrent.futures.Executor`: local worker processes
(a :class:`~concurrent.futures.ProcessPoolExecutor`, ``workers`` of them),
the executor of a Dask distributed client when a scheduler address is given,
any executor the caller passes, or none at all (``workers=0``: one after the
other in this process).  Rows are written as tasks finish, in whatever
order that is; :attr:`SweepResult.rows` puts them back in SPEC order.

With an ``output`` base path, rows already in ``BASE.jsonl`` with status
``ok`` or ``failed`` are kept and their tasks skipped; ``error`` rows are
run again (a worker that died, a value fixed since), replacing the old row.

``KeyboardInterrupt`` (Ctrl-C) stops the sweep: tasks not started are
cancelled, local workers are stopped, every row that finished is already on
disk, and the result says ``interrupted``.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from pvnsim.errors import UsageError
from pvnsim.sweep.results import ResultsFiles, columns, make_row
from pvnsim.sweep.spec import Spec, Task
from pvnsim.sweep.tasks import metric_columns, run_task

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from rich.console import Console

__all__ = ["SweepResult", "default_output", "plot_axes", "run_sweep"]

#: Statuses whose rows a rerun keeps.
_KEPT = ("ok", "failed")
#: Failures reported one by one on the console; the rest are counted.
_REPORTED = 10


@attrs.frozen
class SweepResult:
    """What :func:`run_sweep` did.

    Attributes:
        spec: the SPEC.
        rows: one row per task that has one (run now or kept), SPEC order.
        ran: tasks run this time.
        skipped: tasks skipped because their rows were already there.
        interrupted: the sweep was stopped (Ctrl-C) before every task ran.
        elapsed: wall time of this call, in seconds.
    """

    spec: Spec
    rows: tuple[dict[str, Any], ...]
    ran: int
    skipped: int
    interrupted: bool
    elapsed: float

    def count(self, status: str) -> int:
        """Rows with ``status`` (``"ok"``, ``"failed"`` or ``"error"``)."""
        return sum(1 for r in self.rows if r["status"] == status)

    def plot(
        self, x: str | None = None, y: str | None = None, by: Sequence[str] | None = None
    ) -> Figure:
        """Draw metric ``y`` against parameter ``x``, one line per value of ``by``.

        Defaults as for :func:`plot_axes`.

        Raises:
            UsageError: see :func:`plot_axes`; or no row has a number for ``y``.
            ImportError: matplotlib is not installed.
        """
        from pvnsim.viz.plots import plot_sweep

        x, y, by = plot_axes(self.spec, x, y, by)
        return plot_sweep(self.rows, x, y, by=by, title=self.spec.name)


def plot_axes(
    spec: Spec, x: str | None = None, y: str | None = None, by: Sequence[str] | None = None
) -> tuple[str, str, tuple[str, ...]]:
    """What a plot of ``spec``'s rows draws: ``(x, y, by)``.

    Each defaults to the SPEC's ``[plot]`` table, then: ``x`` the first
    parameter that varies, ``y`` virtual time (fs) or failing runs found
    (explore), ``by`` every other parameter that varies.

    Raises:
        UsageError: ``x`` or a ``by`` is not a parameter of the sweep, ``y``
            is neither a metric nor a parameter, or nothing varies.
    """
    x = x or spec.plot.x or (spec.axes[0] if spec.axes else None)
    if x is None or x not in spec.columns:
        raise UsageError(
            f"plot: x must be a parameter of the sweep ({', '.join(spec.columns)}), not {x!r}"
        )
    y = y or spec.plot.y or ("virtual_ns" if spec.kind == "fs" else "failures")
    if y not in metric_columns(spec.kind) and y not in spec.columns:
        raise UsageError(f"plot: y {y!r} is not a metric of a {spec.kind} sweep")
    if by is None:
        by = spec.plot.by if spec.plot.by is not None else [a for a in spec.axes if a != x]
    bad = [b for b in by if b not in spec.columns]
    if bad:
        raise UsageError(f"plot: by {', '.join(bad)} is not a parameter of the sweep")
    return x, y, tuple(by)


def default_output(spec_path: str | Path) -> Path:
    """Where results go by default: the SPEC's path without its suffix."""
    path = Path(spec_path)
    return path.with_suffix("") if path.suffix else path.with_name(path.name + ".results")


def _ignore_interrupts() -> None:
    """Worker start-up: Ctrl-C is the sweep's to handle; it stops the workers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _local_pool(workers: int) -> cf.ProcessPoolExecutor:
    # A fork server (where there is one) starts workers without forking this
    # process, whose threads (the progress bar's) must not be copied
    # mid-flight.  As with spawn, each worker gets this process's sys.path
    # and imports its __main__ module, which must guard its own top-level
    # code with ``if __name__ == "__main__"``.
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return cf.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context(method),
        initializer=_ignore_interrupts,
    )


def _dask_client(address: str) -> Any:
    try:
        from distributed import Client
    except ImportError:
        raise UsageError("a Dask scheduler needs Dask: pip install 'pvnsim[dask]'") from None
    try:
        return Client(address, timeout="10s", set_as_default=False)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as e:
        raise UsageError(f"cannot reach the Dask scheduler at {address}: {e}") from None


@contextlib.contextmanager
def _executor(
    workers: int | None, scheduler: str | None, given: cf.Executor | None
) -> Iterator[tuple[cf.Executor | None, bool]]:
    """The executor to use, and whether to cancel its futures when stopped early."""
    if given is not None:
        yield given, True
    elif scheduler is not None:
        client = _dask_client(scheduler)
        try:
            yield client.get_executor(pure=False), True
        finally:
            client.close()
    elif workers == 0:
        yield None, False
    else:
        pool = _local_pool(workers or os.cpu_count() or 1)
        try:
            yield pool, False
        except BaseException:
            _stop_pool(pool)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _stop_pool(pool: cf.ProcessPoolExecutor) -> None:
    """End ``pool``'s workers without waiting for their tasks (Ctrl-C).

    The pool has no public way to stop a running task; its worker processes
    are ours, so they are terminated.  The pool then fails every future it
    still holds, so none may have been cancelled before (Python 3.11 raises
    InvalidStateError in its manager thread for a cancelled one).
    """
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        if proc.is_alive():
            proc.terminate()


def _outcomes(
    tasks: Sequence[Task], executor: cf.Executor | None, cancel: bool
) -> Iterator[tuple[Task, dict[str, Any]]]:
    """Each task with its outcome, as they finish."""
    if executor is None:
        for task in tasks:
            yield task, run_task(task)
        return
    futures = {executor.submit(run_task, task): task for task in tasks}
    try:
        for fut in cf.as_completed(futures):
            try:
                outcome = fut.result()
            except cf.CancelledError:
                continue
            except Exception as e:  # the worker died, or the executor failed
                hint = ""
                if isinstance(e, BrokenProcessPool):
                    hint = (
                        " (a worker process died: out of memory, killed, or a script that"
                        " starts a sweep from its top-level code without"
                        ' if __name__ == "__main__":)'
                    )
                outcome = {
                    "status": "error",
                    "error": f"the task did not return: {type(e).__name__}: {e}{hint}",
                }
            yield futures[fut], outcome
    finally:
        if cancel:
            for fut in futures:
                fut.cancel()


def _select(spec: Spec, only: Sequence[str] | None) -> list[Task]:
    if only is None:
        return list(spec.tasks)
    by_id = {t.id: t for t in spec.tasks}
    unknown = [i for i in only if i not in by_id]
    if unknown:
        raise UsageError(
            f"{spec.path}: no task with id {', '.join(unknown)} (ids are the results' id column)"
        )
    chosen = set(only)
    return [t for t in spec.tasks if t.id in chosen]


def run_sweep(
    spec: Spec,
    *,
    output: str | Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    executor: cf.Executor | None = None,
    only: Sequence[str] | None = None,
    console: Console | None = None,
    progress: bool = False,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> SweepResult:
    """Run a sweep's tasks and collect one row per task.

    Args:
        spec: the sweep (:func:`~pvnsim.sweep.load_spec`).
        output: base path of the results (``BASE.csv`` and ``BASE.jsonl``);
            rows already there are kept and their tasks skipped (see the
            module docstring).  None: keep rows in memory only.
        workers: local worker processes (default: one per CPU; 0: run in
            this process, one task after the other).
        scheduler: address of a Dask scheduler (``tcp://host:8786``): run
            the tasks on its cluster instead.
        executor: run the tasks on this executor instead (not shut down).
        only: run just these task ids.
        console: a rich console to report failures on (with their replay
            commands) and, with ``progress``, to draw the progress bar on.
        progress: draw a progress bar (done/total, failures) on ``console``.
        on_row: called with each new row as it arrives.

    Returns:
        A :class:`SweepResult`.

    Raises:
        UsageError: an unknown id in ``only``, bad ``workers``, more than one
            of ``workers``, ``scheduler`` and ``executor``, a scheduler that
            cannot be reached, or Dask not installed.
    """
    if sum(x is not None for x in (workers, scheduler, executor)) > 1:
        raise UsageError("give at most one of workers, scheduler and executor")
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 0
    ):
        raise UsageError(f"workers must be a non-negative int, not {workers!r}")
    started = time.perf_counter()
    tasks = _select(spec, only)
    files = ResultsFiles(output, columns(spec)) if output is not None else None
    old = files.load() if files is not None else []
    kept = {r["id"]: r for r in old if r.get("status") in _KEPT}
    todo = [t for t in tasks if t.id not in kept]
    rerun = {t.id for t in todo}
    rows = [r for r in old if r["id"] not in rerun]
    done: dict[str, dict[str, Any]] = {t.id: kept[t.id] for t in tasks if t.id in kept}
    interrupted = False
    bar = _Bar(console, progress, spec.name, len(tasks), list(done.values()))
    if files is not None:
        files.open(rows)
    try:
        with bar, _executor(workers, scheduler, executor) as (ex, cancel):
            for task, outcome in _outcomes(todo, ex, cancel):
                row = make_row(spec, task, outcome)
                done[task.id] = row
                if files is not None:
                    files.append(row)
                bar.add(row)
                if on_row is not None:
                    on_row(row)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if files is not None:
            files.close()
    ordered = tuple(done[t.id] for t in tasks if t.id in done)
    return SweepResult(
        spec,
        ordered,
        ran=len(done) - (len(tasks) - len(todo)),
        skipped=len(tasks) - len(todo),
        interrupted=interrupted,
        elapsed=time.perf_counter() - started,
    )


class _Bar:
    """The progress bar (rich) and the report of the first failures."""

    def __init__(
        self, console: Console | None, show: bool, name: str, total: int, kept: list[dict[str, Any]]
    ) -> None:
        self.console = console
        self.failed = sum(1 for r in kept if r["status"] != "ok")
        self.reported = 0
        self.progress: Any = None
        if console is not None and show:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[failed]} failed"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console,
            )
            self.task = self.progress.add_task(
                name, total=total, completed=len(kept), failed=self.failed
            )

    def say(self, text: str) -> None:
        if self.console is not None:
            self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def __enter__(self) -> _Bar:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def add(self, row: dict[str, Any]) -> None:
        if row["status"] != "ok":
            self.failed += 1
            self.reported += 1
            if self.reported <= _REPORTED:
                self.say(f"{row['status']} {row['id']}: {row['error']}\n  replay: {row['replay']}")
            elif self.reported == _REPORTED + 1:
                self.say("(more failures: the rows' error and replay columns have each one)")
        if self.progress is not None:
            self.progress.update(self.task, advance=1, failed=self.failed)
