"""Hypothesis strategies that draw schedules.

Draw a :class:`~pvnsim.sched.Schedule` next to the operations of a property
and run the scenario with :func:`~pvnsim.concurrency.replay` and
``strict=False``: every drawn schedule is valid for every scenario (an index
too large for its choice point wraps around), so when the property fails
Hypothesis shrinks the operations and the interleaving together, towards
fewer and earlier preemptions.

A schedule is drawn as a few (gap, option) pairs: ``gap`` default choices,
then option ``option`` (1 = the first thread other than the default).  Needs
the ``hypothesis`` package (installed with ``pvnsim[test]``).
"""

from __future__ import annotations

from hypothesis import strategies as st

from pvnsim.errors import UsageError
from pvnsim.sched.schedule import Schedule

__all__ = ["schedules"]


def _expand(pairs: list[tuple[int, int]]) -> Schedule:
    choices: list[int] = []
    for gap, option in pairs:
        choices.extend([0] * gap)
        choices.append(option)
    return Schedule(tuple(choices))


def schedules(
    *, max_switches: int = 6, max_gap: int = 60, max_option: int = 3
) -> st.SearchStrategy[Schedule]:
    """Schedules with at most ``max_switches`` non-default choices.

    Args:
        max_switches: the most non-default choices (preemptions, mostly).
        max_gap: the most default choices between two of them.
        max_option: the largest option index drawn.

    Raises:
        UsageError: a bound that is not a positive int (``max_gap`` may be 0).

    >>> from hypothesis import find
    >>> s = find(schedules(), lambda s: s.switches >= 2)
    >>> str(s)
    'bb'
    """
    for name, value, low in (
        ("max_switches", max_switches, 1),
        ("max_gap", max_gap, 0),
        ("max_option", max_option, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise UsageError(f"schedules: {name} must be an int >= {low}, not {value!r}")
    pair = st.tuples(st.integers(0, max_gap), st.integers(1, max_option))
    return st.lists(pair, max_size=max_switches).map(_expand)
