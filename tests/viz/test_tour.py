"""``pvnsim tour``: printed plainly, printed to a terminal's width, and paged one screen at a time."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import pytest
from rich.console import Console

from pvnsim.cli import main
from pvnsim.errors import UsageError
from pvnsim.viz.lessons import LESSONS
from pvnsim.viz.terminal import THEME, fit, pages, reflow
from pvnsim.viz.tour import print_tour, run_tour, run_tour_interactive

CSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _titles(n):
    return [s.title for s in LESSONS[n][1](None)]


def _console(width=80, height=24, colour=False):
    return Console(
        file=io.StringIO(),
        width=width,
        height=height,
        theme=THEME,
        force_terminal=True,
        color_system="truecolor" if colour else None,
        highlight=False,
    )


def _screens(console):
    """The screens drawn, as lists of lines without escape codes (split at each clear)."""
    out = console.file.getvalue()
    screens = [CSI.sub("", chunk).split("\n") for chunk in out.split("\x1b[2J")[1:]]
    if screens and screens[-1][-1] == "":
        screens[-1].pop()  # the newline printed on leaving
    return screens


def test_fit_breaks_at_spaces_and_never_exceeds_the_width():
    """Long lines go on indented after a space; a word longer than the width ends in an ellipsis."""
    row = "     6   main vm_pvn.c:807   prim     page_vpadd(&file@0x4000.p_vpnext, MARK(-1))"
    # The call does not fit after the 37 columns before it: it goes on the next
    # line, indented 4 past the row's own 5 leading spaces.
    assert fit(row, 60) == [
        "     6   main vm_pvn.c:807   prim",
        "         page_vpadd(&file@0x4000.p_vpnext, MARK(-1))",
    ]
    assert all(len(line) <= 40 for line in fit(row, 40))
    assert fit("x" * 30, 10) == ["x" * 9 + "\u2026"]
    assert fit("short", 10) == ["short"]
    # Column alignment (runs of spaces) survives in a line that fits.
    assert fit("a     b", 10) == ["a     b"]


def test_reflow_rewraps_paragraphs():
    """Prose is joined within paragraphs and wrapped anew; blank lines stay between paragraphs."""
    text = "The walk takes VVMLOCK,\nputs two markers\n\nand visits pages."
    assert reflow(text, 20) == [
        "The walk takes",
        "VVMLOCK, puts two",
        "markers",
        "",
        "and visits pages.",
    ]


def test_pages_keep_the_title_and_explanation_on_every_page():
    """A long exhibit is split into pages; each starts with the header, title and explanation."""
    exhibit = "\n".join(f"line {i}" for i in range(40))
    screens = pages("[1/1] Lesson", "A title", "Some words to explain.", exhibit, 80, 24)
    assert len(screens) > 1
    body = [line for s in screens for line in s.body]
    assert [line for line in body if line] == [f"line {i}" for i in range(40)]
    for s in screens:
        assert s.lines()[:3] == ["[1/1] Lesson", "A title", "Some words to explain."]
        assert len(s.lines()) <= 23  # the 24th line is the footer


def test_interactive_tour_steps_with_single_keys():
    """n shows the next step, b the one before, q quits; each screen ends with the key help."""
    con = _console(height=60)  # tall enough for each of these steps to fit on one page
    keys = iter(["n", "n", "b", "q"])
    shown = run_tour_interactive([1], console=con, read_key=lambda: next(keys))
    screens = _screens(con)
    titles = _titles(1)
    assert shown == 3
    assert len(screens) == 4
    shown_titles = [s[1] for s in screens]
    assert shown_titles == [titles[0], titles[1], titles[2], titles[1]]
    for s in screens:
        assert "b: back  q: quit" in s[-1]
    assert con.file.getvalue().endswith("\n")  # the shell prompt starts on a fresh line


@pytest.mark.parametrize(("width", "height"), [(80, 24), (60, 16), (100, 40)])
def test_every_step_of_every_lesson_fits_and_is_reached(width, height):
    """Pressing space to the end shows every step's title, on screens that fit the window."""
    con = _console(width, height)
    shown = run_tour_interactive(console=con, read_key=lambda: " ")
    screens = _screens(con)
    every = [t for n in LESSONS for t in _titles(n)]
    assert shown == len(every)
    seen = []
    for s in screens:
        assert len(s) <= height and all(len(line) <= width - 1 for line in s)
        assert s[0].startswith("[") and "Lesson" in s[0] and "q: quit" in s[-1]
        if not seen or seen[-1] != s[1]:
            seen.append(s[1])
    assert seen == [reflow(t, width - 1)[0] for t in every]
    assert "n/space: finish" in screens[-1][-1]


def test_colour_follows_the_terminal():
    """With a colour terminal the marker rows carry the marker's purple; without, no colour codes."""
    con = _console(colour=True)
    keys = iter(["n"] * 5 + ["q"])
    run_tour_interactive([2], console=con, read_key=lambda: next(keys))
    out = con.file.getvalue()
    assert "\x1b[1;38;2;204;121;167m---- MARK(-1) mark ----" in out  # bold #CC79A7
    plain = _console(colour=False)
    keys = iter(["n"] * 5 + ["q"])
    run_tour_interactive([2], console=plain, read_key=lambda: next(keys))
    assert not re.search(r"\x1b\[[0-9;]*3[0-8][;m]", plain.file.getvalue())


def test_printed_tour_fits_the_terminal_width():
    """Without pauses on a terminal every step is printed, no line wider than the terminal."""
    con = _console(width=70)
    assert print_tour([3], console=con) == 5
    text = CSI.sub("", con.file.getvalue())
    assert all(len(line) <= 70 for line in text.splitlines())
    for title in _titles(3):
        assert title in text


def test_plain_tour_prints_every_step():
    """run_tour writes each lesson and step heading, then the step's text and exhibit."""
    out = io.StringIO()
    assert run_tour([3], write=out.write) == 5
    text = out.getvalue()
    assert "######## Lesson 3: Pageout through pvn_write_done" in text
    for title in _titles(3):
        assert f"=== {title}\n" in text


def test_unknown_lessons_are_refused():
    """A lesson number outside 1-3 raises UsageError before anything is shown."""
    out = io.StringIO()
    with pytest.raises(UsageError, match="no lesson 4"):
        run_tour([1, 4], write=out.write)
    assert out.getvalue() == ""
    with pytest.raises(UsageError, match="no lesson 0"):
        run_tour_interactive([0], console=_console(), read_key=lambda: "q")


def test_cli_tour_command(capsys, tmp_path):
    """`pvnsim tour --lesson 1 --no-pause` prints lesson 1 only; a bad C path exits 2."""
    assert main(["tour", "--lesson", "1", "--no-pause"]) == 0
    out = capsys.readouterr().out
    assert "Lesson 1: Klustering under memory pressure" in out and "Lesson 2" not in out
    assert main(["tour", "--c-source", str(tmp_path / "none.c"), "--no-pause"]) == 2
    assert "no vm_pvn.c at" in capsys.readouterr().err


def test_cli_tour_shows_c_text_with_a_copy(capsys, tmp_path):
    """With --c-source the traced calls of the tour carry their C text."""
    c = tmp_path / "vm_pvn.c"
    c.write_text("".join(f"/* C line {n} */\n" for n in range(1, 1300)))
    assert main(["tour", "--lesson", "3", "--no-pause", "--c-source", str(c)]) == 0
    out = capsys.readouterr().out
    line = next(text for text in out.splitlines() if "main vm_pvn.c:468" in text)
    assert line.endswith("| /* C line 468 */")


def test_tour_subprocess_without_a_terminal_finishes():
    """`python -m pvnsim tour` piped, with no terminal on stdin, prints every lesson plainly."""
    proc = subprocess.run(
        [sys.executable, "-m", "pvnsim", "tour"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    for n in LESSONS:
        assert f"=== {_titles(n)[-1]}\n" in proc.stdout
    assert "q: quit" not in proc.stdout and "\x1b[" not in proc.stdout
