"""Screens for a terminal: text cut to the width, pages that fit the height, single keys.

Theory of operation
-------------------
The tour (:mod:`pvnsim.viz.tour`) shows each step as a *screen*: a header
naming the lesson and the step, the step's title and explanation, then its
exhibit (a page ring, a trace, the memory bar) as plain text from
:mod:`pvnsim.viz.text`.  :func:`fit` cuts every line to the terminal's width
at spaces, indenting the continuation lines so a table row still reads as one
row; a word longer than the width is shortened with an ellipsis, so no line
is ever wider than the terminal.  :func:`pages` keeps the header, title and
explanation at the top of every page and splits the exhibit into pages that
fit the height.  Colour comes from ``rich`` (a highlighter picks out markers,
states, locks and changed counters); rich leaves it out where the terminal
has none or ``NO_COLOR`` is set.  :class:`Keys` reads single key presses
from a terminal in cbreak mode and always gives the terminal its settings
back.
"""

from __future__ import annotations

import os
import select
import textwrap
from types import TracebackType
from typing import Any

import attrs
from rich.console import Console
from rich.highlighter import RegexHighlighter
from rich.text import Text
from rich.theme import Theme

from pvnsim.viz import palette as pal

__all__ = [
    "KEYS",
    "THEME",
    "Keys",
    "Screen",
    "ViewHighlighter",
    "fit",
    "pages",
    "print_steps",
    "reflow",
    "render",
]

#: Styles of :class:`ViewHighlighter`: the colours of the HTML views.
THEME = Theme(
    {
        "pv.marker": f"bold {pal.PURPLE}",
        "pv.dirty": pal.VERMILLION,
        "pv.ref": pal.SKY,
        "pv.cached": pal.YELLOW,
        "pv.xlock": f"bold {pal.BLUE}",
        "pv.slock": f"bold {pal.GREEN}",
        "pv.io": f"bold {pal.ORANGE}",
        "pv.changed": "bold yellow",
        "pv.cline": "cyan",
        "pv.port": pal.BLUE,
        "pv.callback": pal.GREEN,
        "pv.bar": pal.GREEN,
        "pv.header": "bold",
        "pv.title": "bold",
        "pv.rule": "dim",
        "pv.footer": "reverse",
    }
)


class ViewHighlighter(RegexHighlighter):
    """Colours the text views the way the HTML views do (markers purple, dirty vermillion...)."""

    base_style = "pv."
    highlights = [  # noqa: RUF012 - rich's RegexHighlighter reads this class attribute
        r"(?P<marker>-{4} MARK\(-\d\) \w+ -{4}|MARK\(-\d\))",
        r"\b(?P<dirty>dirty)\b",
        r"\b(?P<ref>referenced)\b",
        r"\b(?P<cached>cached)\b",
        r"(?<![\w@])(?P<xlock>X(@\w+)?)(?![\w(])",
        r"(?<![\w@])(?P<slock>S\d+(@\w+)?)(?![\w(])",
        r"(?<![\w@])(?P<io>io(@\w+)?)(?![\w(])",
        r"(?P<changed>\b\w+=\d+\*)",
        r"(?P<cline>vm_pvn\.c:\d+)",
        r"\s(?P<port>port)\s",
        r"\s(?P<callback>callback)\s",
        r"\[(?P<bar>#+)",
    ]


def _cut(word: str, width: int) -> str:
    """``word`` shortened to ``width`` columns with an ellipsis."""
    return word if len(word) <= width else word[: max(width - 1, 0)] + "\u2026"


def fit(text: str, width: int, indent: int = 4) -> list[str]:
    """Cut preformatted lines to ``width`` columns at spaces.

    Leading spaces and the runs of spaces that align columns are kept; a line
    that is too long breaks at a space and goes on, indented by ``indent``
    more than the line's own indentation.  A word that does not fit even so is
    shortened with an ellipsis.

    >>> fit("a long line of words", 10)
    ['a long', '    line', '    of', '    words']
    """
    width = max(width, 8)
    out: list[str] = []
    for line in text.splitlines() or [""]:
        line = line.rstrip()
        if len(line) <= width:
            out.append(line)
            continue
        lead = len(line) - len(line.lstrip(" "))
        hang = " " * min(lead + indent, width // 2)
        wrapper = textwrap.TextWrapper(
            width=width,
            subsequent_indent=hang,
            break_long_words=False,
            break_on_hyphens=False,
            replace_whitespace=False,
            drop_whitespace=True,
        )
        for piece in wrapper.wrap(line):
            if len(piece) > width:
                start = len(piece) - len(piece.lstrip(" "))
                piece = piece[:start] + _cut(piece[start:], width - start)
            out.append(piece)
    return out


def reflow(prose: str, width: int) -> list[str]:
    """Re-wrap prose to ``width``: paragraphs are separated by blank lines.

    >>> reflow("one two\\nthree\\n\\nfour", 9)
    ['one two', 'three', '', 'four']
    """
    width = max(width, 8)
    out: list[str] = []
    for i, para in enumerate(prose.strip("\n").split("\n\n")):
        if i:
            out.append("")
        words = " ".join(para.split())
        out += [_cut(w, width) for w in textwrap.wrap(words, width, break_long_words=False)]
    return out


@attrs.frozen
class Screen:
    """One page of a step, as lines no wider than the terminal.

    Attributes:
        header: the lesson and the step.
        title: the step's title, wrapped.
        intro: the explanation when it stays on every page (with a blank line after it).
        body: this page's part of the rest.
        page, pages: which page of the step this is, from 1, and how many.
    """

    header: str
    title: tuple[str, ...]
    intro: tuple[str, ...]
    body: tuple[str, ...]
    page: int
    pages: int

    def lines(self) -> list[str]:
        """Every line of the screen but the footer, top to bottom."""
        return [self.header, *self.title, *self.intro, *self.body]


def pages(
    header: str, title: str, text: str, exhibit: str, width: int, height: int
) -> list[Screen]:
    """Split a step into screens of ``width`` x ``height`` (one line kept for the footer).

    The header, the title and the explanation head every screen; only when
    they would leave fewer than 6 lines for the exhibit does the explanation
    scroll with it.
    """
    width = max(width - 1, 8)  # never write the last column: some terminals wrap there
    room = max(height - 1, 3)
    head = _cut(header, width)
    titled = reflow(title, width)[: room - 2]
    prose = reflow(text, width) if text.strip() else []
    rest = fit(exhibit, width) if exhibit.strip() else []
    intro: list[str] = []
    if prose and 1 + len(titled) + len(prose) + 1 + min(len(rest), 6) <= room:
        intro = [*prose, ""]
    elif prose:
        rest = ["", *prose, "", *rest]
    per_page = max(room - 1 - len(titled) - len(intro), 1)
    chunks = [rest[i : i + per_page] for i in range(0, len(rest), per_page)] or [[]]
    return [
        Screen(head, tuple(titled), tuple(intro), tuple(chunk), n, len(chunks))
        for n, chunk in enumerate(chunks, 1)
    ]


def render(console: Console, screen: Screen, footer: str) -> None:
    """Clear the terminal and draw ``screen`` with ``footer`` on its last line."""
    highlighter = ViewHighlighter()
    console.clear()
    lines = [Text(screen.header, style="pv.header")]
    lines += [Text(line, style="pv.title") for line in screen.title]
    lines += [highlighter(Text(line)) for line in (*screen.intro, *screen.body)]
    for text in lines:
        console.print(text, no_wrap=True, overflow="crop", crop=True, highlight=False)
    width = max(console.size.width - 1, 8)
    console.print(
        Text(_cut(footer, width), style="pv.footer"),
        end="",
        no_wrap=True,
        overflow="crop",
        highlight=False,
    )


def print_steps(console: Console, title: str, text: str, exhibit: str) -> None:
    """Print a step in full (no paging), every line cut to the terminal's width."""
    highlighter = ViewHighlighter()
    width = max(console.size.width - 1, 8)
    for line in reflow(title, width):
        console.print(Text(line, style="pv.title"), no_wrap=True, highlight=False)
    lines = (reflow(text, width) if text.strip() else []) + (
        ["", *fit(exhibit, width)] if exhibit.strip() else []
    )
    for line in lines:
        console.print(highlighter(Text(line)), no_wrap=True, overflow="crop", highlight=False)


#: What each key (or escape sequence) does in the tour.
KEYS = {
    "n": "next",
    " ": "next",
    "\r": "next",
    "\n": "next",
    "\x1b[C": "next",
    "\x1b[B": "next",
    "\x1b[6~": "next",
    "b": "back",
    "\x7f": "back",
    "\x1b[D": "back",
    "\x1b[A": "back",
    "\x1b[5~": "back",
    "q": "quit",
    "Q": "quit",
    "\x1b": "quit",
    "\x04": "quit",  # Ctrl-D
    "\x03": "quit",  # Ctrl-C, when the terminal passes it on as a key
    "": "quit",  # end of input
}


class Keys:
    """Single key presses from a terminal, without Enter (cbreak mode while in use).

    Use as a context manager: on leaving, the terminal's settings are put back
    exactly as they were, whatever ended the block (``q``, Ctrl-C, an error).
    Ctrl-C still raises KeyboardInterrupt.

    Args:
        fd: the terminal's file descriptor (standard input).
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._saved: list[Any] | None = None

    def __enter__(self) -> Keys:
        # POSIX only; imported here so that the rest of the views import anywhere.
        import termios
        import tty

        self._saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd, termios.TCSANOW)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._saved is not None:
            import termios

            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            self._saved = None

    def read(self) -> str:
        """The next key as text (an escape sequence whole); ``""`` at end of input."""
        first = os.read(self.fd, 1)
        if first != b"\x1b":
            return first.decode("latin-1")
        seq = first
        # An escape sequence arrives at once; a lone Esc has nothing behind it.
        while select.select([self.fd], [], [], 0.05)[0]:
            seq += os.read(self.fd, 1)
            if seq[-1:].isalpha() or seq[-1:] == b"~":
                break
        return seq.decode("latin-1")
