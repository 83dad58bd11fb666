"""Rendering of trace arguments and the traced-call wrapper of the model.

Each argument of a traced primitive is rendered by a one-letter kind, so the
primitives' wrappers stay one line long:

====  ==============================================================
kind  rendering
====  ==============================================================
p     page: ``v1@4096``, ``MARK(-1)``, ``NOIDENT``, ``NULL``
v     vnode name
l     vnode-list link: ``&v1.v_pages`` or ``&v1@4096.p_vpnext``
i     decimal integer
a     address in hex
B     ``B_*`` buffer flags          G  ``PG_*`` page_create flags
H     ``HAT_SYNC_*`` flags          A  ``P_*`` attribute bits
M     ``SM_*`` segmap flags         e  an IntEnum member's name
w     ``S_*`` seg_rw name
r     page_release result name      s  segment name
m     mutex or condition variable   k  kmem cache name
x     text as is
====  ==============================================================
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pvnsim.errors import DeadlockError
from pvnsim.flags import BufFlag, HatAttr, HatSync, PageCreateFlag, PageRelease, SegRw, SmFlag

if TYPE_CHECKING:
    from pvnsim.kernel import Kernel
    from pvnsim.vm.page import Page

__all__ = ["fmt", "page_name", "traced"]

T = TypeVar("T")

_U64 = 1 << 64


class _HashTag:
    """The value vm/pvn.h stores in p_hash of marker pages."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "PVN_VPLIST_HASH_TAG"


#: Re-exported by pvnsim.vm.page, where the model's users find it.
PVN_VPLIST_HASH_TAG: Any = _HashTag()


def page_name(pp: Page | None) -> str:
    """Render a page as the trace and the dumps write it."""
    if pp is None:
        return "NULL"
    if pp.p_hash is PVN_VPLIST_HASH_TAG:
        off = pp.p_offset
        if off >= _U64 // 2:
            off -= _U64
        return f"MARK({off})"
    vp = pp.p_vnode
    if vp is None:
        return "NOIDENT"
    return f"{vp.v_name}@{pp.p_offset}"


def _flags(value: int, kind: type[enum.IntFlag]) -> str:
    value = int(value)
    if value == 0:
        return "0"
    parts = []
    rest = value
    for member in kind:
        bit = int(member)
        if bit and bit & (bit - 1) == 0 and value & bit:
            parts.append(str(member.name))
            rest &= ~bit
    if rest:
        parts.append(hex(rest))
    return "|".join(parts)


def fmt(kind: str, value: Any) -> str:
    """Render ``value`` according to the one-letter ``kind``."""
    if kind == "p":
        return page_name(value)
    if kind == "i":
        return str(int(value))
    if kind == "v":
        return str(value.v_name)
    if kind == "l":
        from pvnsim.vm.page import Page

        if isinstance(value, Page):
            return f"&{page_name(value)}.p_vpnext"
        return f"&{value.v_name}.v_pages"
    if kind == "a":
        return hex(int(value) & (_U64 - 1))
    if kind == "B":
        return _flags(value, BufFlag)
    if kind == "G":
        return _flags(value, PageCreateFlag)
    if kind == "H":
        return _flags(value, HatSync)
    if kind == "A":
        return _flags(value, HatAttr)
    if kind == "M":
        return _flags(value, SmFlag)
    if kind == "e":
        return str(getattr(value, "name", value))
    if kind == "w":
        try:
            return SegRw(value).name
        except ValueError:
            return str(value)
    if kind == "r":
        return PageRelease(value).name
    if kind in "smk":
        return "NULL" if value is None else str(value.name)
    if callable(value):
        return str(getattr(value, "__name__", type(value).__name__))
    return str(value)


def traced(k: Kernel, name: str, kinds: str, impl: Callable[..., T], *args: Any) -> T:
    """Call ``impl(*args)`` and record it, if it is a top-level call.

    ``kinds`` has one letter per argument, then optionally ``>`` and the
    letter of the result (e.g. ``"vi>p"``).  Calls made while another traced
    primitive runs are not recorded.
    """
    trace = k.trace
    if trace.depth:
        trace.depth += 1
        try:
            return impl(*args)
        finally:
            trace.depth -= 1
    arg_kinds, _, res_kind = kinds.partition(">")
    rendered = tuple(fmt(c, a) for c, a in zip(arg_kinds, args, strict=False))
    event = trace.begin("prim", name, rendered, k.curthread)
    trace.depth = 1
    try:
        result = impl(*args)
    except DeadlockError:
        trace.end(event, "WOULDBLOCK")
        raise
    finally:
        trace.depth = 0
    trace.end(event, fmt(res_kind, result) if res_kind else None)
    return result
