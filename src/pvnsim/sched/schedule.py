"""Schedules: the list of choices a run made, as plain data and as a string.

Theory of operation
-------------------
A run meets a *choice point* whenever more than one thing could happen
next: several threads could run at a switch point, or a thread asks for a
data choice (which page the other CPU touches).  At each choice point the
options are ordered so that option 0 is the *default*:

* at a switch point, the running thread (no preemption), then the other
  runnable threads in spawn order;
* where the running thread blocks, finishes or yields, the runnable threads
  in spawn order;
* for a data choice, the values 0, 1, ...
* with ``interrupts="any"``, while an event is pending, the last option of
  a thread choice is the interrupt pseudo-thread (run the next event now).

A schedule is the tuple of the option indices chosen, one per choice point,
in order.  Trailing zeros are dropped: a run that runs out of recorded
choices takes the default from then on, so ``Schedule(())`` is the run
without any preemption, and every prefix of a schedule is itself a valid
schedule (which is what lets Hypothesis shrink one).

The text form writes a run of ``n`` defaults as the decimal number ``n``
and a non-zero index ``i`` as one letter: ``b``..``z`` for 1..25 and
``A``..``Z`` for 26..51 (``a`` is accepted for 0); larger indices are
written ``[i]``.  So ``"57b12b"`` is: 57 defaults, option 1, 12 defaults,
option 1, defaults to the end.

>>> s = Schedule.parse("3b2c")
>>> s.choices
(0, 0, 0, 1, 0, 0, 2)
>>> str(s)
'3b2c'
>>> str(Schedule((0, 0, 1, 0, 0)))
'2b'
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import attrs

from pvnsim.errors import UsageError

__all__ = ["Schedule"]

_LOWER = "abcdefghijklmnopqrstuvwxyz"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _canonical(choices: Iterable[int]) -> tuple[int, ...]:
    out = tuple(choices)
    for c in out:
        if isinstance(c, bool) or not isinstance(c, int) or c < 0:
            raise UsageError(f"a schedule holds non-negative ints, not {c!r}")
    end = len(out)
    while end and out[end - 1] == 0:
        end -= 1
    return out[:end]


def _letter(value: int) -> str:
    if value < 26:
        return _LOWER[value]
    if value < 52:
        return _UPPER[value - 26]
    return f"[{value}]"


@attrs.frozen
class Schedule:
    """The choices of one run (trailing defaults dropped); ``str()`` encodes it.

    Args:
        choices: the option index taken at each choice point.

    Raises:
        UsageError: a choice that is not a non-negative int.
    """

    choices: tuple[int, ...] = attrs.field(default=(), converter=_canonical)

    @classmethod
    def parse(cls, text: str | Schedule) -> Schedule:
        """Decode the text form (a :class:`Schedule` is returned unchanged).

        Raises:
            UsageError: a character that is not a digit, a letter, ``[n]``
                or white space.
        """
        if isinstance(text, Schedule):
            return text
        if not isinstance(text, str):
            raise UsageError(f"a schedule is a string or a Schedule, not {type(text).__name__}")
        choices: list[int] = []
        i = 0
        n = len(text)
        while i < n:
            ch = text[i]
            if ch.isdigit():
                j = i
                while j < n and text[j].isdigit():
                    j += 1
                choices.extend([0] * int(text[i:j]))
                i = j
            elif ch in _LOWER:
                choices.append(_LOWER.index(ch))
                i += 1
            elif ch in _UPPER:
                choices.append(26 + _UPPER.index(ch))
                i += 1
            elif ch == "[":
                j = text.find("]", i)
                if j < 0 or not text[i + 1 : j].isdigit():
                    raise UsageError(f"schedule {text!r}: bad [n] at position {i}")
                choices.append(int(text[i + 1 : j]))
                i = j + 1
            elif ch.isspace() or ch in ".,":
                i += 1
            else:
                raise UsageError(f"schedule {text!r}: unexpected {ch!r} at position {i}")
        return cls(tuple(choices))

    def __str__(self) -> str:
        parts: list[str] = []
        zeros = 0
        for c in self.choices:
            if c == 0:
                zeros += 1
                continue
            if zeros:
                parts.append(str(zeros))
                zeros = 0
            parts.append(_letter(c))
        return "".join(parts)

    def __len__(self) -> int:
        return len(self.choices)

    def __iter__(self) -> Iterator[int]:
        return iter(self.choices)

    @property
    def switches(self) -> int:
        """How many choice points took a non-default option."""
        return sum(1 for c in self.choices if c)
