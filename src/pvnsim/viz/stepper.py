"""Stepping forward and back through a recording.

A :class:`Stepper` shows snapshot *k* of a :class:`~pvnsim.viz.record.Recording`
with the events that led to it (their vm_pvn.c lines, and the C text when a
copy of vm_pvn.c is known).  In a notebook with ipywidgets installed (the
``notebook`` extra) it displays as a slider with a play button; without
ipywidgets it displays as a static sequence of frames, and in a terminal
:meth:`Stepper.frame_text` gives each frame as text.
"""

from __future__ import annotations

import importlib
import importlib.util
from html import escape
from typing import Any

from pvnsim.errors import UsageError
from pvnsim.viz.csource import SourceArg, resolve_source
from pvnsim.viz.html import kernel_body, trace_table, wrap
from pvnsim.viz.record import Recording
from pvnsim.viz.text import kernel_text, trace_text

__all__ = ["Stepper", "widgets_available"]


def widgets_available() -> bool:
    """Whether ipywidgets can be imported (the ``notebook`` extra)."""
    return importlib.util.find_spec("ipywidgets") is not None


class Stepper:
    """Show the snapshots of a recording one at a time.

    Args:
        recording: what to step through.
        source: a copy of vm_pvn.c for the C text of each event (a path or a
            :class:`~pvnsim.viz.csource.CSource`); ``None`` uses
            ``PVNSIM_VM_PVN_C`` when set, ``False`` shows none.
        limit: at most about this many pages of each ring are drawn.
        layout: ``"auto"``, ``"ring"`` or ``"rows"`` (see :func:`~pvnsim.viz.svg.vnode_svg`).
        max_static: at most this many frames in the static (no-widget) display.

    Raises:
        UsageError: ``recording`` is not a Recording or is empty.
    """

    def __init__(
        self,
        recording: Recording,
        *,
        source: SourceArg = None,
        limit: int = 64,
        layout: str = "auto",
        max_static: int = 40,
    ) -> None:
        if not isinstance(recording, Recording):
            raise UsageError(f"Stepper: expected a Recording, not {type(recording).__name__}")
        if not recording.frames:
            raise UsageError("Stepper: the recording has no snapshots")
        self.recording = recording
        self.source = resolve_source(source)
        self.limit = limit
        self.layout = layout
        self.max_static = max_static
        self._html: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self.recording.frames)

    def _check(self, index: int) -> int:
        n = len(self)
        if isinstance(index, bool) or not isinstance(index, int) or not -n <= index < n:
            raise UsageError(f"Stepper: no snapshot {index!r} (there are {n})")
        return index % n

    def _heading(self, index: int) -> str:
        frame = self.recording.frames[index]
        return f"step {index} of {len(self) - 1} [thread {frame.thread}]: {frame.label}"

    def frame_html(self, index: int) -> str:
        """Snapshot ``index`` as HTML: the events that led to it, then the kernel."""
        index = self._check(index)
        cached = self._html.get(index)
        if cached is not None:
            return cached
        frame = self.recording.frames[index]
        if frame.events:
            events = "<div><b>events that led here</b></div>" + trace_table(
                frame.events, source=self.source or False, limit=40
            )
        else:
            events = '<div class="pv-note">the state when recording started</div>'
        body = events + kernel_body(
            frame.state,
            changed=self.recording.changed_stats(index),
            limit=self.limit,
            layout=self.layout,
        )
        html = wrap(body, self._heading(index))
        self._html[index] = html
        return html

    def frame_text(self, index: int) -> str:
        """Snapshot ``index`` as text."""
        index = self._check(index)
        frame = self.recording.frames[index]
        parts = [f"== {self._heading(index)}"]
        if frame.events:
            parts.append(trace_text(frame.events, source=self.source or False, limit=40))
        parts.append(
            kernel_text(frame.state, changed=self.recording.changed_stats(index), limit=self.limit)
        )
        return "\n".join(parts)

    def static_html(self) -> str:
        """Every frame (up to ``max_static``), each in a collapsible section."""
        n = len(self)
        shown = min(n, self.max_static)
        sections = []
        for i in range(shown):
            is_open = ' open="open"' if i in (0, n - 1) else ""
            sections.append(
                f"<details{is_open}><summary>{escape(self._heading(i))}</summary>"
                f"{self.frame_html(i)}</details>"
            )
        if shown < n:
            sections.append(
                f'<div class="pv-note">{n - shown} more frames: use frame_html(i), '
                "or install ipywidgets for a slider</div>"
            )
        return wrap("".join(sections), f"recording: {n} snapshots")

    def widget(self) -> Any:
        """An ipywidgets box: play button, back/forward buttons, a slider and the frame.

        ``box.children[0].children`` are (play, back, slider, forward);
        ``box.children[1]`` is the HTML of the current frame.

        Raises:
            UsageError: ipywidgets is not installed.
        """
        if not widgets_available():
            raise UsageError("Stepper.widget needs ipywidgets: pip install 'pvnsim[notebook]'")
        w = importlib.import_module("ipywidgets")

        last = len(self) - 1
        slider = w.IntSlider(value=0, min=0, max=last, description="step", continuous_update=True)
        play = w.Play(value=0, min=0, max=last, interval=900, description="play")
        w.jslink((play, "value"), (slider, "value"))
        back = w.Button(description="<", tooltip="previous step", layout=w.Layout(width="40px"))
        forward = w.Button(description=">", tooltip="next step", layout=w.Layout(width="40px"))
        view = w.HTML(value=self.frame_html(0))

        def on_change(change: dict[str, Any]) -> None:
            view.value = self.frame_html(int(change["new"]))

        def step(delta: int) -> None:
            slider.value = max(0, min(last, slider.value + delta))

        slider.observe(on_change, names="value")
        back.on_click(lambda _b: step(-1))
        forward.on_click(lambda _b: step(1))
        return w.VBox([w.HBox([play, back, slider, forward]), view])

    def _repr_html_(self) -> str:
        return self.static_html()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        if widgets_available():
            bundle = dict(self.widget()._repr_mimebundle_())
            # Front ends without a widget manager show the first frame instead.
            bundle["text/html"] = self.frame_html(0)
            return bundle
        return {"text/html": self.static_html(), "text/plain": repr(self)}

    def __repr__(self) -> str:
        return f"<Stepper over {len(self)} snapshots>"
