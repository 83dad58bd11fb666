"""The C text of vm_pvn.c lines, from a copy the user points pvnsim at.

pvnsim ships none of the C.  Trace events carry the vm_pvn.c line they stand
for (:attr:`pvnsim.trace.Event.line`); with a copy of the file, the trace views
also show that line's text.  Name the copy with an argument or with the
environment variable ``PVNSIM_VM_PVN_C``.
"""

from __future__ import annotations

import os
import pathlib

import attrs

from pvnsim.errors import UsageError

__all__ = ["ENV_VAR", "CSource", "SourceArg", "c_line", "load_c_source", "resolve_source"]

#: The environment variable naming a copy of vm_pvn.c.
ENV_VAR = "PVNSIM_VM_PVN_C"

_CACHE: dict[tuple[str, int, int], CSource] = {}


@attrs.frozen
class CSource:
    """The lines of a C file.

    >>> src = CSource("x.c", ("int", "\\tmain(void)"))
    >>> src.line(2)
    'main(void)'
    >>> src.line(3) is None
    True
    """

    path: str
    lines: tuple[str, ...]

    def line(self, number: int | None) -> str | None:
        """Line ``number`` (from 1), tabs expanded and stripped; None if out of range."""
        if number is None or not 1 <= number <= len(self.lines):
            return None
        return self.lines[number - 1].expandtabs(8).strip()


SourceArg = CSource | str | os.PathLike[str] | bool | None


def load_c_source(path: str | os.PathLike[str] | None = None) -> CSource | None:
    """Read a copy of vm_pvn.c.

    Args:
        path: the file; ``None`` means the one ``PVNSIM_VM_PVN_C`` names.

    Returns:
        The source, or ``None`` when no path is given and the variable is unset.

    Raises:
        UsageError: the file does not exist or cannot be read as text.
    """
    if path is None:
        env = os.environ.get(ENV_VAR)
        if not env:
            return None
        path = env
    p = pathlib.Path(path)
    try:
        st = p.stat()
    except OSError:
        raise UsageError(f"no vm_pvn.c at {str(p)!r} (given as the C source)") from None
    key = (str(p.resolve()), st.st_mtime_ns, st.st_size)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise UsageError(f"cannot read the C source {str(p)!r}: {exc}") from None
    src = CSource(str(p), tuple(text.splitlines()))
    _CACHE[key] = src
    return src


def resolve_source(source: SourceArg) -> CSource | None:
    """Turn a view's ``source`` argument into lines.

    ``None`` uses ``PVNSIM_VM_PVN_C`` when set; ``False`` shows no C text; a
    path or a :class:`CSource` is used as given.
    """
    if source is False:
        return None
    if source is None or source is True:
        return load_c_source()
    if isinstance(source, CSource):
        return source
    return load_c_source(source)


def c_line(number: int | None, source: SourceArg = None) -> str | None:
    """The text of vm_pvn.c line ``number``, or None when unknown."""
    src = resolve_source(source)
    return src.line(number) if src is not None else None
