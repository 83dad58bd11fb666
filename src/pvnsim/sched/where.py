"""Where a failure happened: the source line of the code under test.

A failure's traceback runs through the library (the scheduler, the hook
point, the primitives, the validators) before it reaches the code that
made the failing call.  Reports name that code: the innermost frame that
is not library machinery.  The ports (``pvnsim/vm/vm_pvn.py``) and the
file-system kit (``pvnsim/fs``, ``pvnsim/testing/simplefs.py``) count as
code under test: they are the C routines and the file system being
exercised.

Code typed into IPython or a notebook cell is named as IPython's own
tracebacks name it, ``Cell In[7], line 12``, not by the temporary file
(or ``<ipython-input-...>`` name) it was compiled under.
"""

from __future__ import annotations

import os
import sys
from types import FrameType, TracebackType

__all__ = ["source_line", "source_line_of"]

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_UNDER_TEST = (
    os.path.join(_PACKAGE, "vm", "vm_pvn.py"),
    os.path.join(_PACKAGE, "fs") + os.sep,
    os.path.join(_PACKAGE, "testing", "simplefs.py"),
)


def _ipython_cell(filename: str) -> str | None:
    """``Cell In[n]`` when ``filename`` is code run by IPython (a notebook cell), else None."""
    ipython = sys.modules.get("IPython")  # never imported here: only if already running
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if callable(get_ipython) else None
    name_of = getattr(getattr(shell, "compile", None), "format_code_name", None)
    if not callable(name_of):
        return None
    try:
        named = name_of(filename)
    except Exception:  # an IPython of another shape: keep the file name
        return None
    if not isinstance(named, tuple) or len(named) != 2:
        return None
    return f"{named[0]} {named[1]}"


def _under_test(filename: str) -> bool:
    path = os.path.abspath(filename)
    if not path.startswith(_PACKAGE + os.sep):
        if filename.startswith("<"):  # <frozen ...>, greenlet internals; or an IPython cell
            return _ipython_cell(filename) is not None
        return True
    return path.startswith(_UNDER_TEST)


def _short(filename: str, line: int) -> str:
    cell = _ipython_cell(filename)
    if cell is not None:
        return f"{cell}, line {line}"
    path = os.path.abspath(filename)
    if path.startswith(_PACKAGE + os.sep):
        path = os.path.join("pvnsim", os.path.relpath(path, _PACKAGE))
    else:
        try:
            rel = os.path.relpath(path)
        except ValueError:  # another drive (Windows)
            rel = path
        path = rel if not rel.startswith("..") else path
    return f"{path}:{line}"


def source_line(frame: FrameType | None) -> str | None:
    """``file:line`` of the innermost frame of code under test, from ``frame`` outwards."""
    while frame is not None:
        if _under_test(frame.f_code.co_filename):
            return _short(frame.f_code.co_filename, frame.f_lineno)
        frame = frame.f_back
    return None


def source_line_of(exc: BaseException) -> str | None:
    """``file:line`` where ``exc`` was raised, in the code under test (or None).

    The innermost traceback entry of code under test; for an error raised in
    a simulated thread this is the statement of the thread (or of a port) that
    made the failing call.
    """
    tb: TracebackType | None = exc.__traceback__
    found = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if _under_test(filename):
            found = _short(filename, tb.tb_lineno)
        tb = tb.tb_next
    return found
