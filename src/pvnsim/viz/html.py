"""HTML views for notebooks: kernel, vnode, page, kluster and trace.

Every function renders captured records (:mod:`pvnsim.viz.state`) into a
fragment that is well-formed XML as well as HTML (all tags closed, attributes
quoted, only XML entities), wrapped in ``<div class="pvnsim">`` with its own
small style sheet, so it works in Jupyter, in nbconvert output and in a plain
browser alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from pvnsim.trace import Event
from pvnsim.viz import palette as pal
from pvnsim.viz.csource import SourceArg, resolve_source
from pvnsim.viz.state import (
    EventView,
    KernelView,
    KlusterView,
    PageView,
    VnodeView,
    capture_event,
)
from pvnsim.viz.svg import memory_svg, page_svg, pages_svg, tooltip, vnode_svg

__all__ = [
    "STYLE",
    "events_of",
    "kernel_body",
    "kernel_html",
    "kluster_html",
    "legend_html",
    "page_html",
    "stats_html",
    "trace_html",
    "trace_table",
    "vnode_html",
    "wrap",
]

# The doubled class outranks JupyterLab's right-aligned output tables
# (``:not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon td``), in nbconvert's HTML too.
# The views draw dark on light: they bring their own white ground (and light form
# controls), so a dark theme (furo's dark mode, JupyterLab's dark theme) leaves
# them readable.
STYLE = (
    ".pvnsim{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;font-size:13px;color:#222;"
    "background:#FFFFFF;color-scheme:light}"
    ".pvnsim h4{margin:8px 0 4px 0;font-size:14px}"
    ".pvnsim table{border-collapse:collapse;margin:4px 0}"
    ".pvnsim.pvnsim td,.pvnsim.pvnsim th{padding:1px 7px;text-align:left;vertical-align:top}"
    ".pvnsim th{border-bottom:1px solid #999}"
    ".pvnsim .pv-mono,.pvnsim table.pv-trace{font-family:DejaVu Sans Mono,Menlo,Consolas,monospace;"
    "font-size:12px}"
    ".pvnsim tr.pv-current{background:#FFF3B0;font-weight:bold}"
    ".pvnsim tr.pv-future{color:#9A9A9A}"
    ".pvnsim .pv-c{color:#333;white-space:pre}"
    ".pvnsim .pv-changed{font-weight:bold;background:#FFF3B0}"
    ".pvnsim .pv-swatch{display:inline-block;width:12px;height:12px;border:1px solid #222;"
    "vertical-align:middle;margin:0 4px 0 10px}"
    ".pvnsim .pv-note{color:#555;font-style:italic}"
    ".pvnsim details{margin:4px 0}"
)


def _esc(text: object) -> str:
    return escape(str(text), quote=True)


def wrap(body: str, title: str | None = None, *, style: str = "", cls: str = "") -> str:
    """Wrap a fragment in the ``pvnsim`` container with its style sheet.

    Args:
        body: the fragment.
        title: a heading above it.
        style: more CSS rules for this view (appended to :data:`STYLE`).
        cls: more classes for the container.
    """
    head = f"<h4>{_esc(title)}</h4>" if title else ""
    classes = f"pvnsim {cls}" if cls else "pvnsim"
    return f'<div class="{classes}"><style>{STYLE}{style}</style>{head}{body}</div>'


def legend_html() -> str:
    """The colour key of the page cards."""
    items = "".join(
        f'<span class="pv-swatch" style="background:{colour}"></span>{_esc(label)}'
        for colour, label in pal.LEGEND
    )
    return (
        f'<div class="pv-legend">{items}'
        '<span class="pv-note"> R M: software ref/mod bits (bold = set);'
        " map: hardware bits per translation (/w = writable)</span></div>"
    )


def stats_html(kv: KernelView, changed: Iterable[str] = ()) -> str:
    """The vm statistics counters as a one-row table; ``changed`` ones highlighted."""
    marked = set(changed)
    head = "".join(f"<th>{_esc(n)}</th>" for n, _ in kv.stats)
    cells = "".join(
        f'<td class="pv-changed">{v}</td>' if n in marked else f"<td>{v}</td>" for n, v in kv.stats
    )
    return f'<table class="pv-stats pv-mono"><tr>{head}</tr><tr>{cells}</tr></table>'


def _vnode_body(
    vv: VnodeView,
    highlight: Sequence[str] = (),
    layout: str = "auto",
    limit: int = 64,
    per_row: int = 7,
) -> str:
    walk = " - a pvn_vplist_dirty walk holds it (VVMLOCK)" if vv.vvmlock else ""
    summary = (
        f'<div class="pv-mono">vnode {_esc(vv.name)} v_flag={_esc(vv.flags)} '
        f"resident={vv.resident} on v_pages={vv.total}{_esc(walk)}</div>"
    )
    return summary + vnode_svg(vv, highlight=highlight, layout=layout, limit=limit, per_row=per_row)


def vnode_html(
    vv: VnodeView,
    *,
    highlight: Sequence[str] = (),
    layout: str = "auto",
    limit: int = 64,
    per_row: int = 7,
    legend: bool = True,
) -> str:
    """A vnode: its flags, its page ring and the colour key."""
    body = _vnode_body(vv, highlight, layout, limit, per_row)
    return wrap(body + (legend_html() if legend else ""))


def kernel_body(
    kv: KernelView,
    *,
    changed: Iterable[str] = (),
    limit: int = 64,
    layout: str = "auto",
    highlight: Sequence[str] = (),
) -> str:
    """The inside of :func:`kernel_html` (for composing with other views)."""
    parts = [
        f'<div class="pv-mono">kernel pagesize={kv.pagesize} total_pages={kv.total_pages} '
        f"kernel_pages={kv.kernel_pages} thread={_esc(kv.thread)}</div>",
        memory_svg(kv),
        stats_html(kv, changed),
    ]
    for vv in kv.vnodes:
        parts.append(_vnode_body(vv, highlight, layout, limit))
    if kv.hidden_vnodes:
        parts.append(f'<div class="pv-note">{kv.hidden_vnodes} more vnodes not shown</div>')
    if kv.vnodes:
        parts.append(legend_html())
    return "".join(parts)


def kernel_html(kv: KernelView, **options: object) -> str:
    """A kernel: memory against its thresholds, statistics, and every vnode."""
    return wrap(kernel_body(kv, **options))  # type: ignore[arg-type]


def page_html(pv: PageView) -> str:
    """One page: its card and its fields."""
    rows = [
        ("name", pv.name),
        ("p_offset", "-" if pv.offset is None else f"{pv.offset:#x} ({pv.offset})"),
        ("state", pv.state),
    ]
    if not pv.marker:
        rows += [
            ("page lock", pv.lock),
            ("i/o lock", f"held by {pv.io_owner or 'main'}" if pv.io else "-"),
            ("p_nrm", ("R" if pv.ref else "") + ("M" if pv.mod else "") + ("ro" if pv.ro else "")),
            ("translations", ", ".join(pv.maps) or "none"),
            ("lckcnt / cowcnt", f"{pv.lckcnt} / {pv.cowcnt}"),
        ]
    else:
        rows.append(("role", pv.role or "marker"))
    table = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows)
    return wrap(
        "<table><tr><td>"
        + page_svg(pv)
        + f'</td><td><table class="pv-mono" title="{_esc(tooltip(pv))}">{table}</table></td></tr></table>'
    )


def kluster_html(kv: KlusterView, *, limit: int = 64) -> str:
    """A kluster: its p_next ring, and where its pages sit on the vnode's ring."""
    body = pages_svg(kv)
    if kv.vnode is not None:
        order = [p.name for p in kv.pages]
        body += _vnode_body(kv.vnode, order, "auto", limit)
    return wrap(body + legend_html())


def events_of(trace: Iterable[Event | EventView]) -> list[EventView]:
    """Freeze trace events (a Trace, a list of Events or of EventViews)."""
    return [e if isinstance(e, EventView) else capture_event(e) for e in trace]


def _call_text(e: EventView) -> str:
    text = e.format()
    if not e.done and e.kind not in ("note", "switch"):
        text += " ... (running)"
    return text


def trace_html(
    trace: Iterable[Event | EventView],
    *,
    source: SourceArg = None,
    current: int | None = None,
    limit: int = 200,
) -> str:
    """A trace as a table, one row per event, with its vm_pvn.c line.

    See :func:`trace_table` for the arguments.
    """
    return wrap(trace_table(trace, source=source, current=current, limit=limit))


def trace_table(
    trace: Iterable[Event | EventView],
    *,
    source: SourceArg = None,
    current: int | None = None,
    limit: int = 200,
) -> str:
    """The trace table of :func:`trace_html`, without the container.

    Args:
        trace: a :class:`~pvnsim.trace.Trace` or a list of events.
        source: a copy of vm_pvn.c (path or :class:`~pvnsim.viz.csource.CSource`)
            to show each line's C text; ``None`` uses ``PVNSIM_VM_PVN_C`` if
            set, ``False`` shows none.
        current: the position of the event to emphasise; later ones are greyed.
        limit: at most this many rows (around ``current`` if given).
    """
    events = events_of(trace)
    src = resolve_source(source)
    start = 0
    if len(events) > limit:
        centre = current if current is not None else len(events) - 1
        start = max(0, min(centre - limit // 2, len(events) - limit))
    shown = events[start : start + limit]
    head = "<tr><th>#</th><th>thread</th><th>kind</th><th>call</th><th>vm_pvn.c</th>"
    head += "<th>C</th></tr>" if src is not None else "</tr>"
    rows = [head]
    for i, e in enumerate(shown, start):
        cls = ""
        if current is not None:
            cls = (
                ' class="pv-current"'
                if i == current
                else (' class="pv-future"' if i > current else "")
            )
        colour = pal.KIND_COLOURS.get(e.kind, pal.ORANGE)
        line = "" if e.line is None else str(e.line)
        # A call made inside another traced call is indented by its depth.
        indent = f' style="padding-left:{7 + 16 * e.depth}px"' if e.depth > 0 else ""
        cells = (
            f'<td style="border-left:4px solid {colour}">{e.seq}</td><td>{_esc(e.thread)}</td>'
            f"<td>{_esc(e.kind)}</td><td{indent}>{_esc(_call_text(e))}</td><td>{line}</td>"
        )
        if src is not None:
            cells += f'<td class="pv-c">{_esc(src.line(e.line) or "")}</td>'
        rows.append(f'<tr data-seq="{e.seq}" data-kind="{_esc(e.kind)}"{cls}>{cells}</tr>')
    notes = []
    if start:
        notes.append(f"{start} earlier events not shown")
    if start + len(shown) < len(events):
        notes.append(f"{len(events) - start - len(shown)} later events not shown")
    note = f'<div class="pv-note">{_esc("; ".join(notes))}</div>' if notes else ""
    table = f'<table class="pv-trace">{"".join(rows)}</table>'
    if not events:
        table = '<div class="pv-note">no events recorded</div>'
    return table + note
