"""One entry point for every view: :func:`show`, and the notebook hooks.

``show(obj)`` captures a kernel, vnode, page, kluster or trace and returns a
:class:`View` that IPython displays as HTML (``_repr_html_``) and a terminal
prints as text (``str``).  The model does not know the views: importing
:mod:`pvnsim` inside IPython calls :func:`enable_notebook`, which registers
HTML formatters for the model's objects (a Kernel, a Vnode, a Page, a
:class:`~pvnsim.vm.vm_pvn.Kluster`, a :class:`~pvnsim.trace.Trace`), so they
display richly by themselves; ``show`` works anywhere.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from pvnsim.errors import UsageError
from pvnsim.kernel import Kernel
from pvnsim.trace import Event, Trace
from pvnsim.viz import html as html_views
from pvnsim.viz import svg as svg_views
from pvnsim.viz import text as text_views
from pvnsim.viz.csource import SourceArg
from pvnsim.viz.record import Frame, Recording
from pvnsim.viz.state import (
    EventView,
    KernelView,
    KlusterView,
    PageView,
    VnodeView,
    capture_kernel,
    capture_kluster,
    capture_page,
    capture_vnode,
)
from pvnsim.viz.stepper import Stepper
from pvnsim.vm.page import Page
from pvnsim.vm.vm_pvn import Kluster
from pvnsim.vm.vnode import Vnode

__all__ = ["View", "enable_notebook", "show"]

Captured = KernelView | VnodeView | PageView | KlusterView | tuple[EventView, ...]


def capture(obj: Any) -> Captured:
    """Capture any object the views know (already captured records pass through).

    Raises:
        UsageError: an object no view knows.
    """
    if isinstance(obj, (KernelView, VnodeView, PageView, KlusterView)):
        return obj
    if isinstance(obj, Kernel):
        return capture_kernel(obj)
    if isinstance(obj, Vnode):
        return capture_vnode(obj)
    if isinstance(obj, Page):
        return capture_page(obj)
    if isinstance(obj, Kluster):
        return capture_kluster(obj)
    if isinstance(obj, (Trace, list, tuple)) and all(
        isinstance(e, (Event, EventView)) for e in obj
    ):
        return tuple(html_views.events_of(obj))
    raise UsageError(f"show: no view for {type(obj).__name__} objects")


class View:
    """A captured object with its HTML, SVG and text renderings.

    Args:
        obj: a Kernel, Vnode, Page, Kluster, Trace (or list of events), or a
            record of :mod:`pvnsim.viz.state`.  It is captured at once: the
            view keeps showing that moment.
        highlight: page names to outline (vnode views).
        layout: ``"auto"``, ``"ring"`` or ``"rows"`` for page rings.
        limit: at most about this many pages drawn per ring.
        source: a copy of vm_pvn.c for trace views (see :mod:`pvnsim.viz.csource`).
        vnodes: for a kernel, show only these vnodes (objects or names).
    """

    def __init__(
        self,
        obj: Any,
        *,
        highlight: Sequence[str] = (),
        layout: str = "auto",
        limit: int = 64,
        source: SourceArg = None,
        vnodes: Sequence[Vnode | str] | None = None,
    ) -> None:
        if layout not in ("auto", "ring", "rows"):
            raise UsageError(f"show: layout must be 'auto', 'ring' or 'rows', not {layout!r}")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 2:
            raise UsageError(f"show: limit must be an int >= 2, not {limit!r}")
        if vnodes is not None:
            if not isinstance(obj, Kernel):
                raise UsageError("show: vnodes= applies to a Kernel only")
            chosen = [obj.vnode_named(v) if isinstance(v, str) else v for v in vnodes]
            for vp in chosen:
                if not isinstance(vp, Vnode) or vp.kernel is not obj:
                    raise UsageError(f"show: {vp!r} is not a vnode of this kernel")
            self.data: Captured = capture_kernel(obj, chosen)
        else:
            self.data = capture(obj)
        self.highlight = tuple(highlight)
        self.layout = layout
        self.limit = limit
        self.source = source

    def html(self) -> str:
        """The HTML rendering (what a notebook shows)."""
        d = self.data
        if isinstance(d, KernelView):
            return html_views.kernel_html(
                d, limit=self.limit, layout=self.layout, highlight=self.highlight
            )
        if isinstance(d, VnodeView):
            return html_views.vnode_html(
                d, highlight=self.highlight, layout=self.layout, limit=self.limit
            )
        if isinstance(d, PageView):
            return html_views.page_html(d)
        if isinstance(d, KlusterView):
            return html_views.kluster_html(d, limit=self.limit)
        return html_views.trace_html(d, source=self.source)

    def svg(self) -> str:
        """The drawing alone: the ring, the page card, the kluster or the memory gauge.

        Raises:
            UsageError: a trace has no drawing.
        """
        d = self.data
        if isinstance(d, KernelView):
            return svg_views.memory_svg(d)
        if isinstance(d, VnodeView):
            return svg_views.vnode_svg(
                d, highlight=self.highlight, layout=self.layout, limit=self.limit
            )
        if isinstance(d, PageView):
            return svg_views.page_svg(d)
        if isinstance(d, KlusterView):
            return svg_views.pages_svg(d)
        raise UsageError("show: a trace has no SVG drawing; use html() or text()")

    def text(self) -> str:
        """The plain-text rendering (what a terminal shows)."""
        d = self.data
        if isinstance(d, KernelView):
            return text_views.kernel_text(d, limit=self.limit, highlight=self.highlight)
        if isinstance(d, VnodeView):
            return text_views.vnode_text(d, highlight=self.highlight, limit=self.limit)
        if isinstance(d, PageView):
            return text_views.page_text(d)
        if isinstance(d, KlusterView):
            return text_views.kluster_text(d, limit=self.limit)
        return text_views.trace_text(d, source=self.source)

    def _repr_html_(self) -> str:
        return self.html()

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return self.text()


def show(obj: Any, **options: Any) -> View | Stepper:
    """A displayable view of ``obj``.

    A :class:`~pvnsim.viz.record.Recording` gives a
    :class:`~pvnsim.viz.stepper.Stepper` (``options`` as Stepper's); a single
    :class:`~pvnsim.viz.record.Frame` shows its kernel; anything else a
    :class:`View` (``options`` as View's).

    Raises:
        UsageError: an object no view knows, or a bad option.
    """
    if isinstance(obj, Recording):
        return Stepper(obj, **options)
    if isinstance(obj, Frame):
        return View(obj.state, **options)
    return View(obj, **options)


def enable_notebook(ip: Any = None) -> None:
    """Have IPython display Kernels, Vnodes, Pages, Klusters and Traces as HTML.

    Importing :mod:`pvnsim` inside IPython does this by itself.

    Args:
        ip: the IPython shell; ``None`` means the running one.

    Raises:
        UsageError: not running under IPython.
    """
    if ip is None:
        try:
            ipython = importlib.import_module("IPython")
        except ImportError:
            raise UsageError("enable_notebook: IPython is not installed") from None
        ip = ipython.get_ipython()
        if ip is None:
            raise UsageError("enable_notebook: not running under IPython")
    formatter = ip.display_formatter.formatters["text/html"]
    for cls in (Kernel, Vnode, Page, Kluster, Trace):
        formatter.for_type(cls, lambda obj: View(obj).html())
