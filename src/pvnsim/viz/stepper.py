"""Stepping forward and back through a recording.

A :class:`Stepper` shows snapshot *k* of a :class:`~pvnsim.viz.record.Recording`
with the events that led to it (their vm_pvn.c lines, and the C text when a
copy of vm_pvn.c is known).

Theory of operation
-------------------
A notebook displays a stepper as one piece of static HTML that holds every
frame (up to ``max_static``) and needs no JavaScript, so it works in a live
notebook, in nbconvert's HTML, on a static notebook viewer and in print alike.
Each frame is a ``<section>`` preceded by a radio button of one group; a
style sheet shows only the frame whose radio button is checked, and the
*first*, *back*, *next* and *last* buttons of each frame are ``<label>`` s of
the neighbouring radio buttons.  Once one of them has been clicked, the arrow
keys step too (they move the checked radio button).  A check box shows every
frame, one under another; printing does the same; a link to a frame's id
(``#<id>-<k>``) shows that frame (``:target``).  Where the style sheet is
stripped, all frames simply follow one another.

In a running notebook with ipywidgets (the ``notebook`` extra),
:meth:`Stepper.widget` adds a slider with a play button.  It is not the
default display: a widget needs its kernel, and a saved notebook would show
nothing of it.  In a terminal :meth:`Stepper.frame_text` gives each frame as
text.
"""

from __future__ import annotations

import importlib
import importlib.util
import uuid
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


#: The rules of the static stepper (see the module's theory of operation).
STEPPER_STYLE = (
    ".pvnsim .pv-pick{position:absolute;opacity:0;width:1px;height:1px;margin:0}"
    ".pvnsim .pv-frame{display:none;border-top:2px solid #BBBBBB;margin-top:6px;padding-top:4px}"
    ".pvnsim .pv-pick:checked+.pv-frame{display:block}"
    ".pvnsim .pv-all:checked~.pv-frames>.pv-frame{display:block}"
    ".pvnsim .pv-frames>.pv-frame:target{display:block}"
    ".pvnsim .pv-frames:has(>.pv-frame:target)>.pv-pick:checked+.pv-frame:not(:target)"
    "{display:none}"
    ".pvnsim .pv-all{vertical-align:middle;margin:0 4px 0 0}"
    ".pvnsim .pv-head{font-weight:bold;margin:2px 0 4px 0}"
    ".pvnsim .pv-btn{display:inline-block;border:1px solid #767676;border-radius:3px;"
    "padding:0 8px;margin:0 4px 2px 0;background:#F2F2F2;cursor:pointer;user-select:none}"
    ".pvnsim .pv-btn.pv-off{color:#B0B0B0;border-color:#D0D0D0;cursor:default}"
    ".pvnsim .pv-pick:focus-visible+.pv-frame .pv-nav{outline:2px solid #0072B2}"
    ".pvnsim .pv-all:checked~.pv-frames .pv-nav .pv-btn{display:none}"
    "@media print{.pvnsim .pv-frame{display:block}.pvnsim .pv-btn,.pvnsim .pv-all,"
    ".pvnsim .pv-all-label{display:none}}"
)


class Stepper:
    """Show the snapshots of a recording one at a time.

    Args:
        recording: what to step through.
        source: a copy of vm_pvn.c for the C text of each event (a path or a
            :class:`~pvnsim.viz.csource.CSource`); ``None`` uses
            ``PVNSIM_VM_PVN_C`` when set, ``False`` shows none.
        limit: at most about this many pages of each ring are drawn.
        layout: ``"auto"``, ``"ring"`` or ``"rows"`` (see :func:`~pvnsim.viz.svg.vnode_svg`).
        max_static: at most this many frames in the static display (the
            notebook display); a note says how many more there are.

    Raises:
        UsageError: ``recording`` is not a Recording or is empty, or
            ``max_static`` is not a positive int.
    """

    def __init__(
        self,
        recording: Recording,
        *,
        source: SourceArg = None,
        limit: int = 64,
        layout: str = "auto",
        max_static: int = 200,
    ) -> None:
        if not isinstance(recording, Recording):
            raise UsageError(f"Stepper: expected a Recording, not {type(recording).__name__}")
        if not recording.frames:
            raise UsageError("Stepper: the recording has no snapshots")
        if isinstance(max_static, bool) or not isinstance(max_static, int) or max_static < 1:
            raise UsageError(f"Stepper: max_static must be a positive int, not {max_static!r}")
        self.recording = recording
        self.source = resolve_source(source)
        self.limit = limit
        self.layout = layout
        self.max_static = max_static
        self._bodies: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self.recording.frames)

    def _check(self, index: int) -> int:
        n = len(self)
        if isinstance(index, bool) or not isinstance(index, int) or not -n <= index < n:
            raise UsageError(f"Stepper: no snapshot {index!r} (there are {n})")
        return index % n

    def heading(self, index: int) -> str:
        """``step k of n [thread t]: label``: what frame ``index`` shows.

        ``t`` is the thread that made the labelling call (:attr:`Frame.actor`).
        """
        index = self._check(index)
        frame = self.recording.frames[index]
        return f"step {index} of {len(self) - 1} [thread {frame.actor}]: {frame.label}"

    def _body(self, index: int) -> str:
        cached = self._bodies.get(index)
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
        self._bodies[index] = body
        return body

    def frame_html(self, index: int) -> str:
        """Snapshot ``index`` alone as HTML: the events that led to it, then the kernel."""
        index = self._check(index)
        return wrap(self._body(index), self.heading(index))

    def frame_text(self, index: int) -> str:
        """Snapshot ``index`` as text."""
        index = self._check(index)
        frame = self.recording.frames[index]
        parts = [f"== {self.heading(index)}"]
        if frame.events:
            parts.append(trace_text(frame.events, source=self.source or False, limit=40))
        parts.append(
            kernel_text(frame.state, changed=self.recording.changed_stats(index), limit=self.limit)
        )
        return "\n".join(parts)

    def static_html(self) -> str:
        """Every frame (up to ``max_static``) in one piece of HTML that needs no JavaScript.

        The frames are ``<section class="pv-frame" id="ID-k" data-step="k">``;
        each call makes a new ``ID``, so the same stepper can be shown twice
        on one page.  See the module's theory of operation.
        """
        n = len(self)
        shown = min(n, self.max_static)
        uid = f"pvs{uuid.uuid4().hex[:12]}"
        parts = [
            '<div class="pv-note">Use the buttons to step through the run (then the arrow '
            'keys step too), or tick "every step" to see all of them, one under another.</div>',
            f'<input type="checkbox" class="pv-all" id="{uid}-all"/>'
            f'<label class="pv-all-label" for="{uid}-all">every step</label>',
            '<div class="pv-frames">',
        ]
        for i in range(shown):
            checked = ' checked="checked"' if i == 0 else ""
            parts.append(
                f'<input type="radio" class="pv-pick" name="{uid}" id="{uid}-r{i}" '
                f'aria-label="step {i}"{checked}/>'
                f'<section class="pv-frame" id="{uid}-{i}" data-step="{i}">'
                f"{self._nav(uid, i, shown)}{self._body(i)}</section>"
            )
        parts.append("</div>")
        if shown < n:
            parts.append(
                f'<div class="pv-note">{n - shown} more frames not shown: step through fewer '
                "(Recording.compact(), Recorder(kinds=...)), raise max_static, or read any "
                "frame with frame_html(k)</div>"
            )
        return wrap(
            "".join(parts),
            f"recording: {n} snapshots",
            style=STEPPER_STYLE,
            cls="pv-stepper",
        )

    def _nav(self, uid: str, i: int, shown: int) -> str:
        last = shown - 1

        def button(text: str, target: int, enabled: bool) -> str:
            if not enabled:
                return f'<span class="pv-btn pv-off">{text}</span>'
            return f'<label class="pv-btn" for="{uid}-r{target}">{text}</label>'

        return (
            '<div class="pv-nav">'
            + button("\u00ab first", 0, i > 0)
            + button("\u2039 back", i - 1, i > 0)
            + button("next \u203a", i + 1, i < last)
            + button("last \u00bb", last, i < last)
            + f'<div class="pv-head">{escape(self.heading(i))}</div></div>'
        )

    def widget(self) -> Any:
        """An ipywidgets box: play button, back/forward buttons, a slider and the frame.

        ``box.children[0].children`` are (play, back, slider, forward);
        ``box.children[1]`` is the HTML of the current frame.  It needs a
        running kernel: a saved notebook shows the static display instead.

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

    def __repr__(self) -> str:
        return f"<Stepper over {len(self)} snapshots>"
