"""The trace: a nested record of port, primitive and callback calls.

Theory of operation
-------------------
Each :class:`~pvnsim.kernel.Kernel` owns one :class:`Trace`.  While tracing is
off (the default) nothing is recorded and a primitive pays one attribute
test.  While it is on, the kernel's hook point (:mod:`pvnsim.hooks`) records
every call of a port, a primitive or a callback as an :class:`Event`,
including the calls primitives make to other primitives, in the order they
happen.  Each event knows its nesting ``depth`` on its thread (0: called by
user code) and its ``parent`` (the sequence number of the call it was made
from), so the record can be read flat, as a tree, or cut at the depth a
reader wants: ``trace.lines(depth=1)`` keeps a port and the calls its own
statements make, which is what the C source of the port shows.

An event is appended when its call *begins*, with its arguments already
rendered as text (a page's identity can change during the call), and its
result is filled in when the call returns.  So a callback's event
(``putapage(...) = 0``) precedes the events of the calls it made.
Subscribers (:meth:`Trace.subscribe`) are told of each event just before it
is appended, while the simulated state is still as it was before the call.

Events carry the vm_pvn.c line of the statement that made the call, found by
looking up the Python line of the nearest ``vm_pvn.py`` frame in a table that
the ports module registers (its ``# L<n>`` markers), and the name of the
simulated thread that made it.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Iterator

import attrs

__all__ = ["Event", "Trace", "register_line_map"]

_LINE_MAPS: dict[str, dict[int, int]] = {}
_MARKER = re.compile(r"#\s*L(\d+)\b")


def register_line_map(filename: str, source: str) -> None:
    """Record which C line each Python line of ``filename`` stands for.

    A Python line maps to the C line named by the nearest ``# L<n>`` marker at
    or above it, within the same indented block run; lines before the first
    marker of a function map to nothing.
    """
    table: dict[int, int] = {}
    current: int | None = None
    for number, line in enumerate(source.splitlines(), 1):
        stripped = line.lstrip()
        if stripped.startswith("def ") and not line.startswith(" "):
            current = None
        found = _MARKER.search(line)
        if found:
            current = int(found.group(1))
        if current is not None:
            table[number] = current
    _LINE_MAPS[filename] = table


def _c_line(depth: int) -> int | None:
    frame = sys._getframe(depth)
    for _ in range(64):
        if frame is None:
            return None
        table = _LINE_MAPS.get(frame.f_code.co_filename)
        if table is not None:
            line = table.get(frame.f_lineno)
            if line is not None:
                return line
        frame = frame.f_back  # type: ignore[assignment]
    return None


@attrs.define(slots=True, eq=False)
class Event:
    """One recorded call.

    Attributes:
        seq: position in the trace, from 0.
        kind: ``"port"`` (a vm_pvn.c routine), ``"prim"`` (a primitive),
            ``"callback"`` (putapage, getpage, page_check) or ``"note"``
            (free text from a user or a tool).
        name: the C name, e.g. ``"page_create_va"``.
        args: the arguments as rendered text.
        result: the rendered result, ``None`` for a void call or while the
            call is still running, ``"WOULDBLOCK"`` when it could not finish.
        line: the vm_pvn.c line the call corresponds to, when known.
        thread: the simulated thread that made the call.
        done: the call has returned.
        depth: how many recorded calls of the same thread enclose this one
            (0: called by user code).
        parent: ``seq`` of the enclosing call, or ``None`` at depth 0.
        why: why the call came back empty-handed (``NULL`` or 0), when the
            trace can tell: ``"absent"``, ``"free"``, ``"locked"``,
            ``"wanted exclusively"``, ``"exists, PG_EXCL"``, ...
    """

    seq: int
    kind: str
    name: str
    args: tuple[str, ...]
    result: str | None = None
    line: int | None = None
    thread: str = "main"
    done: bool = False
    depth: int = 0
    parent: int | None = None
    why: str | None = None

    def format(self) -> str:
        """Render as ``name(args) = result``, the syntax of docs/oracle.md."""
        text = f"{self.name}({', '.join(self.args)})"
        if self.result is not None:
            text += f" = {self.result}"
        return text

    def explain(self) -> str:
        """:meth:`format`, followed by why the call came back empty-handed
        when that is known: ``page_lookup_nowait(f, 0x1000, SE_SHARED) = NULL
        (absent)``."""
        text = self.format()
        return text if self.why is None else f"{text} ({self.why})"

    def __str__(self) -> str:
        return self.format()


Subscriber = Callable[[Event], None]


class Trace:
    """An append-only list of :class:`Event` with simple queries.

    >>> t = Trace()
    >>> e = t.begin("prim", "page_unlock", ("v1@0x0",))
    >>> t.end(e, None)
    >>> [ev.format() for ev in t]
    ['page_unlock(v1@0x0)']
    """

    __slots__ = ("_events", "_subscribers")

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._subscribers: list[Subscriber] = []

    def begin(
        self,
        kind: str,
        name: str,
        args: tuple[str, ...],
        thread: str = "main",
        line: int | None = None,
        *,
        depth: int = 0,
        parent: int | None = None,
        find_line: bool = True,
    ) -> Event:
        """Append an event for a call that starts now and return it."""
        if line is None and find_line:
            line = _c_line(2)
        event = Event(len(self._events), kind, name, args, None, line, thread, False, depth, parent)
        for subscriber in self._subscribers:
            subscriber(event)
        self._events.append(event)
        return event

    def end(self, event: Event, result: str | None) -> None:
        """Fill in the result of ``event``."""
        event.result = result
        event.done = True

    def note(self, text: str, thread: str = "main") -> Event:
        """Append a free-text note (for narration and tools)."""
        event = Event(len(self._events), "note", text, (), None, None, thread, True)
        for subscriber in self._subscribers:
            subscriber(event)
        self._events.append(event)
        return event

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber(event)`` just before each new event is appended.

        Returns a function that ends the subscription.
        """
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    def __iter__(self) -> Iterator[Event]:
        return iter(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def __getitem__(self, index: int) -> Event:
        return self._events[index]

    def clear(self) -> None:
        """Forget every event."""
        self._events.clear()

    def since(self, position: int) -> list[Event]:
        """Events recorded at or after ``position`` (a former ``len``)."""
        return self._events[position:]

    def children(self, event: Event) -> list[Event]:
        """The calls made directly from ``event``'s call, in order."""
        return [e for e in self._events[event.seq + 1 :] if e.parent == event.seq]

    def in_primitive(self, event: Event) -> bool:
        """Whether ``event``'s call was made by a primitive (not by a port, a
        callback or user code): the calls a reader of the C ports does not see."""
        parent = event.parent
        return parent is not None and self._events[parent].kind == "prim"

    def filter(
        self,
        name: str | Iterable[str] | None = None,
        kind: str | None = None,
        thread: str | None = None,
        depth: int | None = None,
        *,
        nested: bool = True,
    ) -> list[Event]:
        """Events whose name (one or several), kind and thread match.

        Args:
            depth: keep events at this depth or shallower (``None``: any).
            nested: keep calls that primitives make to other primitives;
                ``False`` keeps what the ports' (and callbacks') own
                statements call, as the C source of a port shows it.
        """
        names = {name} if isinstance(name, str) else set(name) if name else None
        return [
            e
            for e in self._events
            if (names is None or e.name in names)
            and (kind is None or e.kind == kind)
            and (thread is None or e.thread == thread)
            and (depth is None or e.depth <= depth)
            and (nested or not self.in_primitive(e))
        ]

    def lines(
        self,
        kinds: Iterable[str] = ("port", "prim", "callback", "note"),
        depth: int | None = None,
        *,
        nested: bool = True,
    ) -> list[str]:
        """The events of the given kinds as text lines (``depth`` and
        ``nested`` as for :meth:`filter`)."""
        wanted = set(kinds)
        return [
            e.format()
            for e in self._events
            if e.kind in wanted
            and (depth is None or e.depth <= depth)
            and (nested or not self.in_primitive(e))
        ]

    def format(self, depth: int | None = None) -> str:
        """The trace, one event per line, indented by depth, with C line numbers."""
        out = []
        for e in self._events:
            if depth is not None and e.depth > depth:
                continue
            where = f"vm_pvn.c:{e.line:<5}" if e.line is not None else " " * 14
            indent = "  " * e.depth
            out.append(f"{e.seq:5d} {e.thread:>6} {where} {e.kind:<8} {indent}{e.explain()}")
        return "\n".join(out)

    def __repr__(self) -> str:
        return f"<Trace of {len(self._events)} events>"
