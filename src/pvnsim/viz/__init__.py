"""Notebook and terminal views of the paged-vnode layer, for teaching.

::

    from pvnsim.viz import Recorder, show

    show(vp)                       # the v_pages ring: offsets, locks, ref/mod, markers
    show(kl)                       # a kluster, and where its pages sit on the ring
    show(k.trace, source="vm_pvn.c")   # trace with vm_pvn.c lines and their C text
    with Recorder(k) as rec:       # one snapshot per trace event
        pvn_vplist_dirty(vp, 0, putapage, 0, None)
    rec.recording.compact().stepper()  # every step, as HTML that needs no JavaScript

A Kernel, a Vnode and a Page display themselves as HTML in a notebook.
Klusters and Traces do once this package is imported inside IPython (it then
registers formatters for them), or after ``%load_ext pvnsim.viz`` /
:func:`enable_notebook`.  Views only read the model.  See docs/teaching.md.
"""

from __future__ import annotations

import sys
from typing import Any

from pvnsim.viz.csource import CSource, c_line, load_c_source
from pvnsim.viz.display import View, enable_notebook, show
from pvnsim.viz.record import Frame, Recorder, Recording, record
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
from pvnsim.viz.stepper import Stepper, widgets_available

__all__ = [
    "CSource",
    "EventView",
    "Frame",
    "KernelView",
    "KlusterView",
    "PageView",
    "Recorder",
    "Recording",
    "Stepper",
    "View",
    "VnodeView",
    "c_line",
    "capture_kernel",
    "capture_kluster",
    "capture_page",
    "capture_vnode",
    "enable_notebook",
    "load_c_source",
    "load_ipython_extension",
    "record",
    "show",
    "widgets_available",
]


def load_ipython_extension(ip: Any) -> None:
    """``%load_ext pvnsim.viz``: register the HTML formatters (see :func:`enable_notebook`)."""
    enable_notebook(ip)


def _enable_if_in_ipython() -> None:
    # Inside a running IPython (a notebook), importing the views is enough to
    # display Klusters and Traces richly.  IPython itself is never imported here.
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if callable(get_ipython) else None
    if shell is not None and hasattr(shell, "display_formatter"):
        enable_notebook(shell)


_enable_if_in_ipython()
