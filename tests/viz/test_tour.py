"""``pvnsim tour``: the three lessons, their numbers, and when it pauses."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time

import pytest

from pvnsim.cli import main
from pvnsim.errors import UsageError
from pvnsim.viz.tour import lesson_fsync, lesson_klustering, lesson_pageout, run_tour


def _steps(lesson):
    return {s.title: s.body for s in lesson(None)}


def test_lesson_one_shrinks_the_kluster_as_memory_runs_out():
    """16 pages with plenty of memory, 3 when 3 pages are above minfree, NULL then 1 page at minfree."""
    steps = _steps(lesson_klustering)
    assert (
        "kluster off=0x0 len=0x10000 (16 pages)"
        in steps["Plenty of memory: the whole block window"]
    )
    # pagesavail 3 < 16: start at the fault (5 pages to the window end), then 3 pages.
    shrink = steps["The kluster shrinks to fit"]
    assert "kluster off=0x1b000 len=0x3000 (3 pages)" in shrink
    assert "returns NULL" in steps["No memory to spare: read-ahead gives up"]
    assert "a kluster of 1 page: off=0x24000 len=0x1000" in steps["A demand fault gets one page"]


def test_lesson_two_walks_with_markers_and_stops_early():
    """The VMODSORT fsync shows the markers and needs 4 pvn_getdirty calls where a plain vnode needs 8."""
    steps = list(lesson_fsync(None))
    walk = [s for s in steps if s.title.startswith("walk step")]
    assert any("---- MARK(-1) mark ----" in s.body for s in walk)
    assert any("---- MARK(-2) end ----" in s.body for s in walk)
    assert "MARK" not in walk[-1].body.split("vnode file")[1]
    last = steps[-1].body
    # VMODSORT: 0x4000 and 0x1000 are written, each block probes one clean
    # neighbour, then the walk stops at the clean page 0x0.  Plain: all 6 pages
    # plus the same 2 probes.
    assert "called pvn_getdirty 4 times" in last and "8 pvn_getdirty calls" in last


def test_lesson_three_frees_the_unused_pages_and_keeps_the_used_one():
    """pvn_write_done frees the 7 pages nobody touched and reclaims the one read during the write."""
    steps = _steps(lesson_pageout)
    done = steps["The write completes: pvn_write_done(plist, B_WRITE|B_ASYNC|B_FREE)"]
    assert "dfree=7* pgrec=1*" in done and "pgpgout=8*" in done and "fsfree=7*" in done
    assert "cache list 7" in done
    assert (
        "kluster off=0x0 len=0x8000 (8 pages)"
        in steps["putapage: pvn_write_kluster gathers the dirty neighbours"]
    )


def test_tour_pauses_after_each_step_when_asked_and_q_quits():
    """With pause=True the tour asks after every step; answering q stops it."""
    out = io.StringIO()
    asked: list[str] = []
    shown = run_tour([3], write=out.write, pause=True, ask=lambda p: asked.append(p) or "")
    assert shown == len(asked) == 5  # lesson 3 has five steps
    asked.clear()
    shown = run_tour([1, 2], write=out.write, pause=True, ask=lambda p: asked.append(p) or "q")
    assert shown == 1 and len(asked) == 1


def test_tour_runs_straight_through_when_stdin_is_not_a_terminal(monkeypatch):
    """By default the tour pauses only when standard input is a terminal."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))

    def never(prompt: str) -> str:
        raise AssertionError("the tour paused without a terminal")

    assert run_tour([3], write=io.StringIO().write, ask=never) == 5

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Tty(""))
    asked: list[str] = []
    run_tour([3], write=io.StringIO().write, ask=lambda p: asked.append(p) or "")
    assert len(asked) == 5


def test_unknown_lessons_are_refused():
    """A lesson number outside 1-3 raises UsageError before anything is shown."""
    out = io.StringIO()
    with pytest.raises(UsageError, match="no lesson 4"):
        run_tour([1, 4], write=out.write, pause=False)
    assert out.getvalue() == ""


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
    """`python -m pvnsim tour` with no terminal on stdin runs every lesson to the end."""
    proc = subprocess.run(
        [sys.executable, "-m", "pvnsim", "tour", "--lesson", "3"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "=== The write completes" in proc.stdout and "Enter: next step" not in proc.stdout


def _read_until(fd: int, needle: bytes, timeout: float) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while needle not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
    return data


def test_tour_subprocess_on_a_terminal_pauses_and_quits():
    """On a terminal the tour stops after the first step until answered; q ends it."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pvnsim", "tour", "--lesson", "3"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    try:
        first = _read_until(master, b"Enter: next step", 60)
        assert b"=== Memory is short" in first
        assert b"=== pvn_getdirty" not in first
        os.write(master, b"\n")
        second = _read_until(master, b"Enter: next step", 60)
        assert b"=== pvn_getdirty(pp, B_ASYNC|B_FREE)" in second
        os.write(master, b"q\n")
        assert proc.wait(timeout=60) == 0
        rest = _read_until(master, b"never printed", 2)
        assert b"=== putapage" not in rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
