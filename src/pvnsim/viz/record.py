"""Recording a run as a sequence of snapshots, one per trace event.

Theory of operation
-------------------
A :class:`Recorder` turns tracing on for its kernel and watches the kernel's
trace: just before any event is appended (a port entry, a primitive, a
callback or a note, in whichever simulated thread makes it), it captures the kernel (:func:`pvnsim.viz.state.capture_kernel`),
unless nothing was recorded since the last snapshot.  Snapshot *k* therefore
shows the state that the events since snapshot *k-1* led to, with the next
event about to start: with no ``kinds`` filter, snapshot *k* (k >= 1) follows
event *k-1* of the run.  One snapshot is taken at the start and one at the
end.

The watch is an observing list that replaces the trace's event list while
recording and gives it back (with every event in it) at the end, so the model
and the ports need no hook of their own and any way of appending an event is
seen.  Capturing only reads the model.

Events are filled in as their calls return (a port's result is known only at
its end), so each snapshot keeps the events *as they stood* when it was taken
(a running port shows no result yet), and the :class:`Recording` also keeps
every event as it stood at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, SupportsIndex

import attrs

from pvnsim.errors import InternalError, UsageError
from pvnsim.kernel import Kernel
from pvnsim.trace import Event
from pvnsim.viz.state import EventView, KernelView, capture_event, capture_kernel

if TYPE_CHECKING:
    from pvnsim.viz.stepper import Stepper
    from pvnsim.vm.vnode import Vnode

__all__ = ["Frame", "Recorder", "Recording", "record"]


@attrs.frozen
class Frame:
    """One snapshot of a recording.

    Attributes:
        index: position in the recording, from 0.
        state: the captured kernel.
        events: the events since the previous snapshot, as they stood at this one.
        label: ``"start"``, ``"end"``, or the last of ``events`` as text.
    """

    index: int
    state: KernelView
    events: tuple[EventView, ...]
    label: str

    @property
    def thread(self) -> str:
        """The simulated thread running at this snapshot (the one about to go on)."""
        return self.state.thread

    @property
    def actor(self) -> str:
        """The thread that made the call this frame is labelled with.

        That is the thread of the last of :attr:`events`; at the start and
        the end, the thread running then.  In a threaded run it may differ
        from :attr:`thread`: the snapshot is taken when the next event
        begins, often in the thread the scheduler switched to.
        """
        if self.events and self.label not in ("start", "end"):
            return self.events[-1].thread
        return self.state.thread


@attrs.frozen
class Recording:
    """The snapshots of a recorded run and every event it traced."""

    frames: tuple[Frame, ...]
    events: tuple[EventView, ...]
    truncated: bool = False

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: SupportsIndex) -> Frame:
        return self.frames[index]

    def __iter__(self) -> Iterator[Frame]:
        return iter(self.frames)

    def changed_stats(self, index: int) -> frozenset[str]:
        """The vm counters that frame ``index`` changed since the frame before it."""
        if index <= 0:
            return frozenset()
        before = dict(self.frames[index - 1].state.stats)
        return frozenset(n for n, v in self.frames[index].state.stats if before.get(n) != v)

    def compact(self) -> Recording:
        """Merge each snapshot that shows no change into the next one that does.

        The first and last snapshots stay; the merged snapshot lists all the
        events that led to it.
        """
        if len(self.frames) <= 2:
            return self
        kept = [self.frames[0]]
        pending: list[EventView] = []
        last = len(self.frames) - 1
        for i, frame in enumerate(self.frames[1:], 1):
            pending.extend(frame.events)
            if frame.state != kept[-1].state or i == last:
                kept.append(attrs.evolve(frame, index=len(kept), events=tuple(pending)))
                pending = []
        return attrs.evolve(self, frames=tuple(kept))

    def stepper(self, **options: Any) -> Stepper:
        """A :class:`~pvnsim.viz.stepper.Stepper` over this recording."""
        from pvnsim.viz.stepper import Stepper

        return Stepper(self, **options)

    def _repr_html_(self) -> str:
        return self.stepper()._repr_html_()

    def __str__(self) -> str:
        return f"<Recording of {len(self.frames)} snapshots, {len(self.events)} events>"


class _ObservedEvents(list[Event]):
    """The trace's event list while a recorder watches it."""

    __slots__ = ("hook",)

    def __init__(self, events: Iterable[Event], hook: Callable[[Event], None]) -> None:
        super().__init__(events)
        self.hook = hook

    def append(self, event: Event) -> None:
        self.hook(event)
        super().append(event)


class Recorder:
    """Record a run of ``kernel`` as snapshots; use as a context manager.

    >>> from pvnsim import Kernel, make_page, page_lookup
    >>> from pvnsim.flags import SE_SHARED
    >>> k = Kernel(total_pages=64)
    >>> vp = k.vnode("f")
    >>> _ = make_page(vp, 0)
    >>> with Recorder(k) as rec:
    ...     pp = page_lookup(vp, 0, SE_SHARED)
    >>> [f.label for f in rec.recording]
    ['start', 'end']
    >>> rec.recording[1].state.vnodes[0].pages[0].lock
    'S1'

    Args:
        kernel: the kernel to watch.
        vnodes: capture only these vnodes (objects or names); ``None`` means
            every vnode of the kernel at each snapshot.
        kinds: take a snapshot only before events of these kinds (e.g.
            ``{"port", "callback"}``; pvnsim traces ``"port"``, ``"prim"``,
            ``"callback"`` and ``"note"`` events); ``None`` means before every
            event.  Events in between are listed with the next snapshot.
        max_frames: stop taking snapshots after this many (the run goes on,
            and its later events go with the final snapshot).
        page_limit: capture at most this many pages of each ring.
        nested: also record the calls primitives make to other primitives
            (by default a recording shows what the ports' own statements
            call, as their C source reads).

    Raises:
        UsageError: bad arguments, or the kernel is already being recorded.
    """

    def __init__(
        self,
        kernel: Kernel,
        *,
        vnodes: Iterable[Vnode | str] | None = None,
        kinds: Iterable[str] | None = None,
        max_frames: int = 10_000,
        page_limit: int = 100_000,
        nested: bool = False,
    ) -> None:
        if not isinstance(kernel, Kernel):
            raise UsageError(f"Recorder: expected a Kernel, not {type(kernel).__name__}")
        if isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 2:
            raise UsageError(f"Recorder: max_frames must be an int >= 2, not {max_frames!r}")
        if isinstance(page_limit, bool) or not isinstance(page_limit, int) or page_limit < 1:
            raise UsageError(f"Recorder: page_limit must be a positive int, not {page_limit!r}")
        self.kernel = kernel
        self._vnodes: list[Vnode] | None = None
        if vnodes is not None:
            self._vnodes = [kernel.vnode_named(v) if isinstance(v, str) else v for v in vnodes]
            for vp in self._vnodes:
                if getattr(vp, "kernel", None) is not kernel:
                    raise UsageError(f"Recorder: {vp!r} is not a vnode of this kernel")
        self._kinds = None if kinds is None else frozenset(kinds)
        self._max_frames = max_frames
        self._nested = bool(nested)
        self._page_limit = page_limit
        self._frames: list[Frame] = []
        self._observed: _ObservedEvents | None = None
        self._start = 0
        self._mark = 0
        self._was_tracing = False
        self._truncated = False
        self._recording: Recording | None = None

    # -- control -------------------------------------------------------------

    def start(self) -> Recorder:
        """Begin recording: turn tracing on and take the first snapshot."""
        if self._observed is not None or self._recording is not None:
            raise UsageError("Recorder: a recorder records once; make a new one")
        trace = self.kernel.trace
        if isinstance(trace._events, _ObservedEvents):
            raise UsageError("Recorder: this kernel is already being recorded")
        self._observed = _ObservedEvents(trace._events, self._before_event)
        trace._events = self._observed
        self._start = self._mark = len(trace)
        self._was_tracing = self.kernel.tracing
        self.kernel.trace_on()
        self._snapshot("start")
        return self

    def stop(self) -> Recording:
        """End recording: take the last snapshot and give the trace back."""
        if self._observed is None:
            if self._recording is not None:
                return self._recording
            raise UsageError("Recorder: stop() before start()")
        self._snapshot("end")
        trace = self.kernel.trace
        events = list(self._observed)
        shown = [
            e
            for e in events[self._start :]
            if self._nested or e.parent is None or events[e.parent].kind != "prim"
        ]
        trace._events = events
        self._observed = None
        if not self._was_tracing:
            self.kernel.trace_off()
        self._recording = Recording(
            frames=tuple(self._frames),
            events=tuple(capture_event(e) for e in shown),
            truncated=self._truncated,
        )
        return self._recording

    def __enter__(self) -> Recorder:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Keep what was recorded even when the run raised (a deadlock, a panic).
        self.stop()

    @property
    def recording(self) -> Recording:
        """The recording (after :meth:`stop`)."""
        if self._recording is None:
            raise UsageError("Recorder: the recording is ready only after stop()")
        return self._recording

    # -- snapshots -----------------------------------------------------------

    def _inside_primitive(self, event: Event) -> bool:
        parent = event.parent
        observed = self._observed
        return parent is not None and observed is not None and observed[parent].kind == "prim"

    def _before_event(self, event: Event) -> None:
        if self._kinds is not None and event.kind not in self._kinds:
            return
        if not self._nested and self._inside_primitive(event):
            return
        observed = self._observed
        if observed is None or len(observed) == self._mark:
            return  # nothing happened since the last snapshot
        if len(self._frames) >= self._max_frames - 1:
            self._truncated = True
            return
        self._snapshot(None)

    def _snapshot(self, label: str | None) -> None:
        observed = self._observed
        if observed is None:  # pragma: no cover - start() and stop() guard this
            raise InternalError("Recorder: snapshot while not recording")
        since = tuple(
            capture_event(e)
            for e in observed[self._mark :]
            if self._nested or not self._inside_primitive(e)
        )
        self._mark = len(observed)
        if label is None:
            label = since[-1].format() if since else "start"
        state = capture_kernel(self.kernel, self._vnodes, self._page_limit)
        self._frames.append(Frame(len(self._frames), state, since, label))


def record(
    kernel: Kernel, fn: Callable[..., Any], *args: Any, **options: Any
) -> tuple[Any, Recording]:
    """Call ``fn(*args)`` while recording ``kernel``; return its result and the recording.

    ``options`` are those of :class:`Recorder`.  If ``fn`` raises, the
    exception propagates (the partial recording is lost; use a
    :class:`Recorder` block to keep it).
    """
    with Recorder(kernel, **options) as rec:
        result = fn(*args)
    return result, rec.recording
