"""Plain-text views for terminals: the same information as the HTML views.

Each function renders captured records (:mod:`pvnsim.viz.state`) as ASCII
lines, so the output reads the same in any terminal, log or doctest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pvnsim.trace import Event
from pvnsim.viz.csource import SourceArg, resolve_source
from pvnsim.viz.state import EventView, KernelView, KlusterView, PageView, VnodeView
from pvnsim.viz.svg import ZONE_WORDS, Gap, elide

__all__ = [
    "kernel_text",
    "kluster_text",
    "memory_text",
    "page_text",
    "stats_text",
    "trace_text",
    "vnode_text",
]

_HEADER = f"  {'#':>4}  {'offset':<12} {'lock':<8} {'io':<8} {'R':<1} {'M':<1}  {'state':<10} {'maps':<12} counts"


def page_text(pv: PageView, index: int | None = None, mark: str = "") -> str:
    """One page on one line (a marker as a rule)."""
    num = f"{index:>4}" if index is not None else "    "
    if pv.marker:
        return f"  {num}  ---- {pv.name} {pv.role or 'marker'} ----"
    io = "-" if not pv.io else ("io" if pv.io_owner in (None, "main") else f"io@{pv.io_owner}")
    maps = ",".join(pv.maps) or "none"
    counts = f"lck={pv.lckcnt} cow={pv.cowcnt}" if pv.lckcnt or pv.cowcnt else ""
    if pv.ro:
        counts = (counts + " ro").strip()
    off = "NOIDENT" if pv.offset is None else f"{pv.offset:#x}"
    line = (
        f"  {num}  {off:<12} {pv.lock:<8} {io:<8} {'R' if pv.ref else '.'} {'M' if pv.mod else '.'}"
        f"  {pv.state:<10} {maps:<12} {counts}"
    )
    if mark:
        line += f"  <- {mark}"
    return line.rstrip()


def vnode_text(vv: VnodeView, *, highlight: Sequence[str] = (), limit: int = 64) -> str:
    """A vnode and its ring, head first, one page a line."""
    flags = f" v_flag={vv.flags}"
    lines = [f"vnode {vv.name}{flags} resident={vv.resident} on v_pages={vv.total}"]
    if vv.vvmlock:
        lines[0] += "  [VVMLOCK: a pvn_vplist_dirty walk holds it]"
    if not vv.pages:
        lines.append("  v_pages = NULL")
        return "\n".join(lines)
    kindex = {name: i for i, name in enumerate(highlight)}
    lines.append("  v_pages --> head (ring order, p_vpnext)")
    lines.append(_HEADER)
    index = 0
    for item in elide(vv.pages, limit, highlight):
        if isinstance(item, Gap):
            lines.append(f"  {'':>4}  ... {int(item)} pages ...")
            index += int(item)
            continue
        mark = f"k{kindex[item.name]}" if item.name in kindex else ""
        lines.append(page_text(item, index, mark))
        index += 1
    if vv.total > len(vv.pages):
        lines.append(f"  {'':>4}  ... {vv.total - len(vv.pages)} pages not captured ...")
    lines.append("  tail.p_vpnext --> head (the ring closes)")
    return "\n".join(lines)


def memory_text(kv: KernelView, width: int = 60) -> str:
    """freemem as an ASCII bar with the thresholds marked under it."""
    total = max(kv.total_pages, 1)

    def col(pages: int) -> int:
        return min(width - 1, max(0, pages * width // total))

    fill = min(width, max(0, kv.freemem) * width // total)
    bar = "#" * fill + "." * (width - fill)
    under = [" "] * width
    marks = [
        ("w", kv.write_free_at),
        ("l", kv.lotsfree),
        ("d", kv.desfree),
        ("t", kv.throttlefree),
        ("m", kv.minfree),
    ]
    for letter, value in marks:
        under[col(value)] = letter
    return "\n".join(
        [
            f"freemem {kv.freemem} of {kv.total_pages} pages (free list {kv.freelist}, "
            f"cache list {kv.cachelist}); {ZONE_WORDS[kv.zone]}",
            f"  [{bar}]",
            f"   {''.join(under).rstrip()}",
            f"  m=minfree {kv.minfree}  t=throttlefree {kv.throttlefree}  d=desfree {kv.desfree}  "
            f"l=lotsfree {kv.lotsfree}  w=lotsfree+pages_before_pager {kv.write_free_at}",
        ]
    )


def stats_text(kv: KernelView, changed: Iterable[str] = ()) -> str:
    """The vm counters on one line; changed ones are starred."""
    marked = set(changed)
    return "vm: " + " ".join(f"{n}={v}{'*' if n in marked else ''}" for n, v in kv.stats)


def kernel_text(
    kv: KernelView, *, changed: Iterable[str] = (), limit: int = 64, highlight: Sequence[str] = ()
) -> str:
    """Memory, statistics and every captured vnode."""
    parts = [
        f"kernel pagesize={kv.pagesize} total_pages={kv.total_pages} "
        f"kernel_pages={kv.kernel_pages} thread={kv.thread}",
        memory_text(kv),
        stats_text(kv, changed),
    ]
    parts += [vnode_text(vv, highlight=highlight, limit=limit) for vv in kv.vnodes]
    if kv.hidden_vnodes:
        parts.append(f"({kv.hidden_vnodes} more vnodes not shown)")
    return "\n".join(parts)


def kluster_text(kv: KlusterView, *, limit: int = 64) -> str:
    """A kluster: its range, its pages in p_next order, and the vnode's ring."""
    n = len(kv.pages)
    lines = [f"kluster off={kv.off:#x} len={kv.len:#x} ({n} page{'s' if n != 1 else ''})"]
    lines.append("  plist --> " + " --> ".join(p.name for p in kv.pages) + " --> (plist)")
    if kv.vnode is not None:
        lines.append(vnode_text(kv.vnode, highlight=[p.name for p in kv.pages], limit=limit))
    return "\n".join(lines)


def _event_line(e: EventView, c_text: str | None, marker: str) -> str:
    where = f"vm_pvn.c:{e.line:<5}" if e.line is not None else " " * 14
    call = "  " * e.depth + e.format()  # nested calls indented by their depth
    if not e.done and e.kind not in ("note", "switch"):
        call += " ... (running)"
    line = f"{marker}{e.seq:5d} {e.thread:>6} {where} {e.kind:<8} {call}"
    if c_text:
        line = f"{line:<100} | {c_text}"
    return line


def trace_text(
    trace: Iterable[Event | EventView],
    *,
    source: SourceArg = None,
    current: int | None = None,
    limit: int = 200,
) -> str:
    """The trace, one event a line, with vm_pvn.c lines (and their C text when known).

    Args: as :func:`pvnsim.viz.html.trace_html`.
    """
    from pvnsim.viz.html import events_of

    events = events_of(trace)
    src = resolve_source(source)
    start = 0
    if len(events) > limit:
        centre = current if current is not None else len(events) - 1
        start = max(0, min(centre - limit // 2, len(events) - limit))
    out = []
    if start:
        out.append(f"  ({start} earlier events not shown)")
    for i, e in enumerate(events[start : start + limit], start):
        c_text = src.line(e.line) if src is not None else None
        out.append(_event_line(e, c_text, ">" if i == current else " "))
    rest = len(events) - start - limit
    if rest > 0:
        out.append(f"  ({rest} later events not shown)")
    if not events:
        out.append("  (no events recorded)")
    return "\n".join(out)
