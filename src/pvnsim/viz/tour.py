"""``pvnsim tour``: the lessons of :mod:`pvnsim.viz.lessons`, on a terminal or as plain text.

On a terminal (standard input and output both a terminal) the tour is a small
full-screen program: one step at a time, its title and explanation kept at
the top, its exhibit in pages that fit the window, every line cut to the
window's width, single keys (``n``/space/Enter/right: next, ``b``/left: back,
``q``/Esc/Ctrl-D: quit; Ctrl-C quits too), colour where the terminal has it
and ``NO_COLOR`` is unset.  Piped or redirected, it prints every step as plain
text, as scripts expect.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from rich.console import Console
from rich.text import Text

from pvnsim.errors import UsageError
from pvnsim.viz.csource import CSource, SourceArg, resolve_source
from pvnsim.viz.lessons import LESSONS, Step
from pvnsim.viz.terminal import KEYS, THEME, Keys, pages, print_steps, render

__all__ = [
    "add_tour_command",
    "print_tour",
    "run_tour",
    "run_tour_command",
    "run_tour_interactive",
]


def _chosen(lessons: Sequence[int] | None) -> list[int]:
    chosen = list(LESSONS) if lessons is None else list(lessons)
    for n in chosen:
        if n not in LESSONS:
            raise UsageError(f"tour: no lesson {n!r}; lessons are {sorted(LESSONS)}")
    return chosen


def run_tour(
    lessons: Sequence[int] | None = None,
    *,
    write: Callable[[str], object] | None = None,
    source: SourceArg = None,
) -> int:
    """Print the lessons as plain text, one step after another.

    Args:
        lessons: which lessons (1-3), in order; ``None`` means all.
        write: where the text goes (default: standard output).
        source: a copy of vm_pvn.c to show the C text of traced calls.

    Returns:
        The number of steps printed.

    Raises:
        UsageError: an unknown lesson number, or no vm_pvn.c at ``source``.
    """
    chosen = _chosen(lessons)
    src = resolve_source(source)
    out = write if write is not None else sys.stdout.write
    shown = 0
    for n in chosen:
        title, lesson = LESSONS[n]
        out(f"\n######## Lesson {n}: {title}\n")
        for step in lesson(src):
            shown += 1
            out(f"\n=== {step.title}\n{step.body}\n")
    return shown


def print_tour(
    lessons: Sequence[int] | None = None,
    *,
    console: Console | None = None,
    source: SourceArg = None,
) -> int:
    """Print the lessons through ``console``: in colour, cut to its width, without pauses.

    Returns:
        The number of steps printed.

    Raises:
        UsageError: as :func:`run_tour`.
    """
    chosen = _chosen(lessons)
    src = resolve_source(source)
    con = console if console is not None else Console(theme=THEME, highlight=False)
    shown = 0
    for n in chosen:
        title, lesson = LESSONS[n]
        con.print()
        con.rule(Text(f"Lesson {n}: {title}", style="pv.header"), style="pv.rule")
        for step in lesson(src):
            shown += 1
            con.print()
            print_steps(con, step.title, step.text, step.exhibit)
    return shown


class _Tour:
    """Where the reader is: lesson, step and page; lessons are run when first reached."""

    def __init__(self, chosen: list[int], source: CSource | None) -> None:
        self.chosen = chosen
        self.source = source
        self._steps: dict[int, list[Step]] = {}
        self.lesson = self.step = self.page = 0
        self.seen: set[tuple[int, int]] = set()

    def steps(self, lesson: int) -> list[Step]:
        if lesson not in self._steps:
            self._steps[lesson] = list(LESSONS[self.chosen[lesson]][1](self.source))
        return self._steps[lesson]

    def header(self) -> str:
        n = self.chosen[self.lesson]
        count = len(self.steps(self.lesson))
        return f"[{self.step + 1}/{count}] Lesson {n}: {LESSONS[n][0]}"

    def at_end(self, npages: int) -> bool:
        return (
            self.page + 1 >= npages
            and self.step + 1 >= len(self.steps(self.lesson))
            and self.lesson + 1 >= len(self.chosen)
        )

    def forward(self, npages: int) -> bool:
        """Move one page on; False at the end of the tour."""
        if self.page + 1 < npages:
            self.page += 1
        elif self.step + 1 < len(self.steps(self.lesson)):
            self.step, self.page = self.step + 1, 0
        elif self.lesson + 1 < len(self.chosen):
            self.lesson, self.step, self.page = self.lesson + 1, 0, 0
        else:
            return False
        return True

    def backward(self) -> None:
        """Move one page back (to the last page of the step before)."""
        if self.page > 0:
            self.page -= 1
        elif self.step > 0:
            self.step, self.page = self.step - 1, -1
        elif self.lesson > 0:
            self.lesson -= 1
            self.step, self.page = len(self.steps(self.lesson)) - 1, -1


def run_tour_interactive(
    lessons: Sequence[int] | None = None,
    *,
    console: Console | None = None,
    read_key: Callable[[], str] | None = None,
    source: SourceArg = None,
) -> int:
    """Show the lessons one screen at a time and follow the reader's keys.

    Args:
        lessons: which lessons (1-3), in order; ``None`` means all.
        console: where to draw (default: a rich Console on standard output).
        read_key: the next key press (default: single keys from standard
            input, which must be a terminal; it is put back as it was).
        source: a copy of vm_pvn.c to show the C text of traced calls.

    Returns:
        The number of steps shown.

    Raises:
        UsageError: as :func:`run_tour`.
        KeyboardInterrupt: Ctrl-C; the terminal is restored and the cursor is
            on a fresh line first.
    """
    tour = _Tour(_chosen(lessons), resolve_source(source))
    con = console if console is not None else Console(theme=THEME, highlight=False)
    if read_key is not None:
        return _loop(tour, con, read_key)
    with Keys(sys.stdin.fileno()) as keys:
        return _loop(tour, con, keys.read)


def _loop(tour: _Tour, con: Console, read_key: Callable[[], str]) -> int:
    con.show_cursor(False)
    try:
        while True:
            step = tour.steps(tour.lesson)[tour.step]
            size = con.size
            screens = pages(
                tour.header(), step.title, step.text, step.exhibit, size.width, size.height
            )
            if tour.page < 0 or tour.page >= len(screens):
                tour.page = len(screens) - 1
            tour.seen.add((tour.lesson, tour.step))
            screen = screens[tour.page]
            more = f"  page {screen.page}/{screen.pages}" if screen.pages > 1 else ""
            finish = "finish" if tour.at_end(len(screens)) else "next"
            render(con, screen, f" n/space: {finish}  b: back  q: quit{more} ")
            action = KEYS.get(read_key())
            if action == "quit" or (action == "next" and not tour.forward(len(screens))):
                return len(tour.seen)
            if action == "back":
                tour.backward()
    finally:
        con.show_cursor(True)
        con.print()


def add_tour_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``pvnsim tour`` on the command line's subparsers."""
    p = sub.add_parser(
        "tour",
        help="three lessons on vm_pvn.c, step by step",
        description="Walk through three lessons: klustering under memory pressure; fsync, "
        "VMODSORT and the marker walk; pageout through pvn_write_done.  On a terminal it "
        "shows one step at a time (n or space: next, b: back, q: quit); piped, it prints "
        "every step as plain text.",
    )
    p.add_argument(
        "--lesson",
        type=int,
        action="append",
        choices=sorted(LESSONS),
        help="run only this lesson (repeatable); default: all three",
    )
    p.add_argument(
        "--no-pause",
        action="store_true",
        help="print every step straight through, even on a terminal",
    )
    p.add_argument(
        "--c-source",
        metavar="VM_PVN_C",
        help="a copy of vm_pvn.c, to show the C text of traced calls "
        "(default: $PVNSIM_VM_PVN_C when set)",
    )


def run_tour_command(args: argparse.Namespace) -> int:
    """Run ``pvnsim tour`` with parsed arguments; returns the exit status (130 after Ctrl-C)."""
    on_terminal = sys.stdout is not None and sys.stdout.isatty()
    # A terminal that cannot clear its screen (TERM=dumb) gets the printed tour.
    keys = sys.stdin is not None and sys.stdin.isatty() and not Console().is_dumb_terminal
    try:
        if on_terminal and keys and not args.no_pause:
            run_tour_interactive(args.lesson, source=args.c_source)
        elif on_terminal:
            print_tour(args.lesson, source=args.c_source)
        else:
            run_tour(args.lesson, source=args.c_source)
    except UsageError as exc:
        sys.stderr.write(f"pvnsim tour: {exc}\n")
        return 2
    except KeyboardInterrupt:
        if not (on_terminal and keys and not args.no_pause):
            sys.stdout.write("\n")  # the interactive tour has ended its line already
        return 130
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly.
        return 0
    return 0
