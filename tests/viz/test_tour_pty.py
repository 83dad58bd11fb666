"""``pvnsim tour`` on a real 80x24 pseudo-terminal, driven by single key presses.

The tour runs as its own process with the pseudo-terminal as its controlling
terminal (so Ctrl-C reaches it as SIGINT, as in a shell), a window size set
with TIOCSWINSZ, and TERM=xterm-256color.  What it writes is split into
screens at each clear-screen and read without the escape codes.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time

import pytest

from pvnsim.viz.lessons import LESSONS

ROWS, COLS = 24, 80
CSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")
FOOTER = re.compile(rb"q: quit(  page \d+/\d+)? $")
# Make the pseudo-terminal the controlling terminal of the new session, then run the tour.
LAUNCH = (
    "import fcntl, os, sys, termios\n"
    "fcntl.ioctl(0, termios.TIOCSCTTY, 0)\n"
    "os.execv(sys.executable, [sys.executable, '-m', 'pvnsim', 'tour', *sys.argv[1:]])\n"
)


class Tour:
    """A tour process on a pseudo-terminal of ROWS x COLS."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.master, self.slave = pty.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        self.settings = termios.tcgetattr(self.slave)
        clean = {
            k: v
            for k, v in os.environ.items()
            if k not in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE")
        }
        clean["TERM"] = "xterm-256color"
        clean.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, *args],
            stdin=self.slave,
            stdout=self.slave,
            stderr=self.slave,
            start_new_session=True,
            close_fds=True,
            env=clean,
        )
        self.raw = b""

    def _read(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return b""
        try:
            return os.read(self.master, 65536)
        except OSError:
            return b""

    def screen(self, timeout: float = 60) -> list[str]:
        """Wait for the next full screen (up to its footer); return its lines."""
        start = len(self.raw)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.raw += self._read(0.5)
            tail = self.raw[start:]
            chunk = tail[tail.rfind(b"\x1b[2J") :] if b"\x1b[2J" in tail else b""
            if chunk and FOOTER.search(CSI.sub(b"", chunk)):
                more = self._read(0.1)  # a footer cut in the middle would go on
                if not more:
                    text = CSI.sub(b"", chunk).decode("utf-8").replace("\r", "")
                    return text.split("\n")
                self.raw += more
        raise AssertionError(f"no screen within {timeout}s; got {self.raw[start:][-2000:]!r}")

    def press(self, key: bytes) -> None:
        """Type one key, with no Enter after it."""
        os.write(self.master, key)

    def finish(self, timeout: float = 60) -> int:
        """Wait for the process to end; return its exit status (what it printed is in raw)."""
        status = self.proc.wait(timeout=timeout)
        while chunk := self._read(0.2):
            self.raw += chunk
        return status

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def tour_process():
    started: list[Tour] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Tour:
        started.append(Tour(*args, env=env))
        return started[-1]

    yield start
    for t in started:
        t.close()


def _fits(lines: list[str]) -> None:
    assert len(lines) <= ROWS, f"{len(lines)} lines on a {ROWS}-line terminal"
    for line in lines:
        assert len(line) <= COLS, f"{len(line)} columns: {line!r}"


def _ended_sanely(t: Tour) -> None:
    text = CSI.sub(b"", t.raw).decode("utf-8")
    assert "Traceback" not in text
    assert text.endswith("\r\n")  # the shell's prompt starts on a line of its own
    after = termios.tcgetattr(t.slave)
    assert after[3] == t.settings[3]  # lflag: echo and line editing are back
    assert after[3] & termios.ICANON and after[3] & termios.ECHO


def test_every_step_fits_80x24_and_shows_its_title(tour_process):
    """Space through the whole tour: every screen fits 80x24 and every step's title is shown."""
    t = tour_process()
    titles = [step.title for n in LESSONS for step in LESSONS[n][1](None)]
    seen: list[str] = []
    while True:
        lines = t.screen()
        _fits(lines)
        assert re.match(r"\[\d+/\d+\] Lesson \d: ", lines[0])
        if not seen or seen[-1] != lines[1]:
            seen.append(lines[1])
        last = "n/space: finish" in lines[-1]
        t.press(b" ")
        if last:
            break
    assert t.finish() == 0
    assert seen == titles
    _ended_sanely(t)
    assert b"\x1b[38;" in t.raw or re.search(rb"\x1b\[[0-9;]*3[0-7]m", t.raw)  # colour


def _next_step(t: Tour, title: str) -> list[str]:
    """Press n until a screen of another step than ``title`` shows; return it."""
    while True:
        t.press(b"n")
        lines = t.screen()
        _fits(lines)
        if lines[1] != title:
            return lines


def test_q_quits_without_enter(tour_process):
    """q ends the tour at once: no Enter, no further step, status 0, terminal restored."""
    t = tour_process("--lesson", "3")
    first = t.screen()
    assert first[1] == "Memory is short and a file is dirty"
    assert _next_step(t, first[1])[1] == "pvn_getdirty(pp, B_ASYNC|B_FREE)"
    t.press(b"q")
    assert t.finish() == 0
    assert b"putapage: pvn_write_kluster" not in t.raw
    _ended_sanely(t)


def test_b_goes_back(tour_process):
    """b shows the step before again (its last page)."""
    t = tour_process("--lesson", "3")
    first = t.screen()
    _next_step(t, first[1])
    t.press(b"b")
    back = t.screen()
    assert back[1] == first[1] and back != first
    t.press(b"q")
    assert t.finish() == 0


@pytest.mark.parametrize(
    ("key", "status"), [(b"\x03", 130), (b"\x04", 0)], ids=["ctrl-c", "ctrl-d"]
)
def test_ctrl_c_and_ctrl_d_exit_cleanly(tour_process, key, status):
    """Ctrl-C (SIGINT: status 130) and Ctrl-D (status 0) end the tour with no traceback."""
    t = tour_process("--lesson", "3")
    t.screen()
    t.press(key)
    assert t.finish() == status
    _ended_sanely(t)


def test_no_color_turns_colour_off(tour_process):
    """With NO_COLOR set the tour writes no colour codes (bold and reverse may stay)."""
    t = tour_process("--lesson", "2", env={"NO_COLOR": "1"})
    for _ in range(6):
        _fits(t.screen())
        t.press(b"n")
    t.screen()
    t.press(b"q")
    assert t.finish() == 0
    assert b"MARK(-1)" in t.raw
    assert not re.search(rb"\x1b\[[0-9;]*(3[0-8]|4[0-8]|9[0-7])[;m]", t.raw)
