"""Plain-text and minimal HTML descriptions of kernels, vnodes and pages,
and whole-state snapshots.

These only read the model.  Richer notebook views live in ``pvnsim.viz``.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import attrs

from pvnsim.flags import P_FREE, P_MOD, P_REF, P_RO, PAGE_IO_INUSE, HatAttr, VFlag, flag_names
from pvnsim.vm.page import page_name

if TYPE_CHECKING:
    from pvnsim.kernel import Kernel
    from pvnsim.vm.page import Page
    from pvnsim.vm.vnode import Vnode

__all__ = [
    "KernelSnapshot",
    "kernel_html",
    "kernel_text",
    "lock_text",
    "page_html",
    "page_summary",
    "snapshot",
    "vnode_html",
    "vnode_pages",
    "vnode_summary",
    "vnode_text",
]


def lock_text(pp: Page) -> str:
    """``-``, ``S<n>`` or ``X``, with ``@other`` style holder names."""
    if pp.p_selock == 0:
        return "-"
    owner = pp.p_sowner
    if pp.p_selock < 0:
        return "X" if owner in (None, "main") else f"X@{owner}"
    names = owner if isinstance(owner, list) else [owner]
    mine = [n for n in names if n in (None, "main")]
    text = f"S{pp.p_selock}"
    if not mine:
        text += f"@{','.join(str(n) for n in names)}"
    return text


def _bits(pp: Page) -> str:
    return flag_names(pp.p_nrm & (P_MOD | P_REF | P_RO), HatAttr)


def _maps(pp: Page) -> str:
    if not pp.p_mapping:
        return "-"
    out = []
    for m in pp.p_mapping:
        bits = ("r" if m.hw & P_REF else "") + ("m" if m.hw & P_MOD else "")
        out.append(bits or "-")
    return ",".join(out)


def page_summary(pp: Page) -> str:
    """One line: identity, lock, i/o lock, attributes, translations, counts."""
    io = " io" if pp.p_iolock_state & PAGE_IO_INUSE else ""
    free = ""
    if pp.p_state & P_FREE:
        free = " cached" if pp.p_vnode is not None else " free"
    extra = ""
    if pp.p_lckcnt or pp.p_cowcnt:
        extra = f" lck={pp.p_lckcnt} cow={pp.p_cowcnt}"
    wanted = " ewanted" if pp.p_ewanted else ""
    return (
        f"{page_name(pp)} lock={lock_text(pp)}{wanted}{io} nrm={_bits(pp)} "
        f"map={_maps(pp)}{extra}{free}"
    )


def vnode_pages(vp: Vnode) -> list[Page]:
    """The pages on ``v_pages``, head first, markers included."""
    out: list[Page] = []
    head = vp.v_pages
    if head is None:
        return out
    pp = head
    while True:
        out.append(pp)
        pp = pp.p_vpnext
        if pp is head or len(out) > 10_000_000:
            return out


def vnode_summary(vp: Vnode) -> str:
    """One line: name, flags, number of pages."""
    n = len(vp.kernel.page_hash.get(vp, {}))
    return f"{vp.v_name} flags={flag_names(vp.v_flag, VFlag)} pages={n}"


def vnode_text(vp: Vnode, limit: int = 64) -> str:
    """The vnode and its page list, head first, one page a line."""
    pages = vnode_pages(vp)
    lines = [f"vnode {vnode_summary(vp)}  (v_pages, head first)"]
    for pp in pages[:limit]:
        lines.append(f"  {page_summary(pp)}")
    if len(pages) > limit:
        lines.append(f"  ... {len(pages) - limit} more")
    return "\n".join(lines)


def kernel_text(k: Kernel) -> str:
    """Memory levels, list lengths, statistics and vnodes."""
    stats = " ".join(f"{n}={v}" for n, v in k.vm.as_dict().items())
    lines = [
        f"kernel pagesize={k.pagesize} total={k.total_pages} freemem={k.freemem} "
        f"(free list {k.freelist_count + k.unused_pages}, cache list {k.cachelist_count})",
        f"  minfree={k.minfree} desfree={k.desfree} lotsfree={k.lotsfree} "
        f"throttlefree={k.throttlefree} pageout_reserve={k.pageout_reserve}",
        f"  vm: {stats}",
    ]
    for vp in k.vnodes:
        lines.append("  " + vnode_summary(vp))
    return "\n".join(lines)


def page_html(pp: Page) -> str:
    """A one-row HTML table for a page."""
    return f"<code>{html.escape(page_summary(pp))}</code>"


def vnode_html(vp: Vnode) -> str:
    """An HTML table of a vnode's page list."""
    rows = "".join(
        f"<tr><td>{i}</td><td><code>{html.escape(page_summary(pp))}</code></td></tr>"
        for i, pp in enumerate(vnode_pages(vp)[:256])
    )
    return (
        f"<div><b>{html.escape(vnode_summary(vp))}</b>"
        f"<table><tr><th>#</th><th>page</th></tr>{rows}</table></div>"
    )


def kernel_html(k: Kernel) -> str:
    """An HTML rendering of :func:`kernel_text`."""
    return f"<pre>{html.escape(kernel_text(k))}</pre>"


@attrs.frozen
class KernelSnapshot:
    """A comparable record of a kernel's whole simulated state."""

    memory: tuple[int, ...]
    cachelist: tuple[str, ...]
    vnodes: tuple[tuple[str, int, tuple[str, ...]], ...]
    pages: tuple[tuple[object, ...], ...]
    stats: tuple[tuple[str, int], ...]
    markers: tuple[int, int]

    def diff(self, other: KernelSnapshot) -> list[str]:
        """Human-readable differences from ``other``."""
        out = []
        for field in attrs.fields(KernelSnapshot):
            a = getattr(self, field.name)
            b = getattr(other, field.name)
            if a != b:
                out.append(f"{field.name}: {a!r} != {b!r}")
        return out


def _page_state(pp: Page) -> tuple[object, ...]:
    return (
        page_name(pp),
        pp.p_selock,
        pp.p_ewanted,
        repr(pp.p_sowner),
        pp.p_iolock_state,
        pp.p_nrm,
        _maps(pp),
        pp.p_lckcnt,
        pp.p_cowcnt,
        pp.p_state,
        page_name(pp.p_next),
        page_name(pp.p_prev),
        bytes(pp.p_data) if pp.p_data is not None else None,
    )


def snapshot(k: Kernel) -> KernelSnapshot:
    """Everything observable about ``k``'s simulated state."""
    cache: list[str] = []
    head = k.page_cachelist
    if head is not None:
        pp = head
        while True:
            cache.append(page_name(pp))
            pp = pp.p_next
            if pp is head:
                break
    vnodes = tuple(
        (vp.v_name, vp.v_flag, tuple(page_name(p) for p in vnode_pages(vp))) for vp in k.vnodes
    )
    pages = tuple(_page_state(pp) for pp in k.pages)
    cache_obj = k.marker_cache
    markers = (len(cache_obj.outstanding), cache_obj.built) if cache_obj else (0, 0)
    return KernelSnapshot(
        memory=(
            k.freemem,
            k.freelist_count,
            k.unused_pages,
            k.cachelist_count,
            k.total_pages,
        ),
        cachelist=tuple(cache),
        vnodes=vnodes,
        pages=pages,
        stats=tuple(sorted(k.vm.as_dict().items())),
        markers=markers,
    )
