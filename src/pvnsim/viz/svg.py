"""SVG drawings: a vnode's page ring, one page, a kluster, the memory gauge.

Theory of operation
-------------------
Every function takes captured records (:mod:`pvnsim.viz.state`) and returns
one self-contained ``<svg>`` string: no ``id`` attributes, no ``<defs>``, no
``url(#...)`` references (arrowheads and hatching are drawn as plain shapes),
so any number of drawings can sit in one notebook page, inside collapsed
``<details>`` too, without clashing.  The output is well-formed XML.

A page is a card: a coloured band with its offset and state word, badges for
the page lock (``X``/``S<n>``) and the i/o lock (``io``), the software R and M
bits, its translations, and its logical lock counts.  A marker page is a
narrower hatched, dashed card with a solid band of the marker colour
(purple, used for nothing else).  ``v_pages`` is drawn as a ring (few pages) or
as rows read left to right with an arrow from the tail back to the head.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from pvnsim.viz import palette as pal
from pvnsim.viz.shapes import (
    arrow,
    badge,
    badge_width,
    box_edge,
    esc,
    hatch,
    rect,
    svg_root,
    text,
)
from pvnsim.viz.state import KernelView, KlusterView, PageView, VnodeView

__all__ = [
    "Gap",
    "elide",
    "memory_svg",
    "page_svg",
    "pages_svg",
    "vnode_svg",
]

CELL_W = 104
CELL_H = 96
MARK_W = 74
GAP_X = 28
GAP_Y = 40
RING_MAX = 12

#: How the views say where freemem stands (:attr:`KernelView.zone`).
ZONE_WORDS = {
    "minfree": "below minfree",
    "desfree": "below desfree",
    "lotsfree": "below lotsfree",
    "plenty": "at or above lotsfree",
}


class Gap(int):
    """A run of pages left out of a drawing (its value is how many)."""

    __slots__ = ()


Item = PageView | Gap


def _offset_text(offset: int | None) -> str:
    return "NOIDENT" if offset is None else f"{offset:#x}"


def _owner_note(pv: PageView) -> str:
    notes = []
    if "@" in pv.lock:
        notes.append("lock@" + pv.lock.split("@", 1)[1])
    if pv.io and pv.io_owner not in (None, "main"):
        notes.append(f"io@{pv.io_owner}")
    return " ".join(notes)


def tooltip(pv: PageView) -> str:
    """The one-line description shown when the pointer rests on a page."""
    if pv.marker:
        return f"{pv.name}: pvn_vplist_dirty marker ({pv.role or 'marker'})"
    parts = [pv.name, f"lock={pv.lock}", f"state={pv.state}"]
    if pv.io:
        parts.append(f"io-locked by {pv.io_owner or 'main'}")
    parts.append(
        "nrm=" + ("R" if pv.ref else "") + ("M" if pv.mod else "") + ("ro" if pv.ro else "")
    )
    parts.append("maps=" + (",".join(pv.maps) or "none"))
    if pv.lckcnt or pv.cowcnt:
        parts.append(f"lckcnt={pv.lckcnt} cowcnt={pv.cowcnt}")
    return " ".join(parts)


def _page_cell(x: float, y: float, pv: PageView, kindex: int | None = None) -> str:
    """A page card with its top-left corner at (x, y)."""
    title = f"<title>{esc(tooltip(pv))}</title>"
    if pv.marker:
        w = MARK_W
        return (
            f'<g class="pv-marker" data-name="{esc(pv.name)}">{title}'
            + rect(x, y, w, CELL_H, "#FFFFFF", rx=6)
            + hatch(x, y, w, CELL_H, pal.PURPLE)
            # A solid band of the marker colour, as page cards have their state's band.
            + rect(x, y, w, 21, pal.PURPLE, rx=6)
            + rect(x, y + 11, w, 10, pal.PURPLE)
            + rect(x, y, w, CELL_H, "none", pal.PURPLE, 2.5, rx=6, dash="6 3")
            + text(x + w / 2, y + 15, "MARK", 12, weight="bold", anchor="middle")
            + rect(x + 7, y + 30, w - 14, 50, "#FFFFFF", rx=3)
            + text(x + w / 2, y + 50, pv.role or "marker", 11, anchor="middle")
            + text(x + w / 2, y + 68, pv.name[4:], 10, fill=pal.INK, anchor="middle")
            + "</g>"
        )
    state = pv.state
    band = pal.STATE_COLOURS[state]
    word = {"referenced": "ref"}.get(state, state)
    dashed = "4 3" if pv.free else None
    kl = kindex is not None
    out = [
        f'<g class="pv-page" data-name="{esc(pv.name)}" data-state="{state}" '
        f'data-lock="{esc(pv.lock)}" data-io="{int(pv.io)}">{title}',
        rect(x, y, CELL_W, CELL_H, "#FFFFFF", rx=6),
        rect(x, y, CELL_W, 21, band, rx=6),
        rect(x, y + 11, CELL_W, 10, band),
        rect(
            x,
            y,
            CELL_W,
            CELL_H,
            "none",
            pal.BLACK if kl else pal.INK,
            3.5 if kl else 1.2,
            rx=6,
            dash=dashed,
        ),
        text(x + 6, y + 15, _offset_text(pv.offset), 11.5, weight="bold"),
        text(x + CELL_W - 5, y + 15, word, 9.5, anchor="end"),
    ]
    lock = pv.lock.split("@", 1)[0]
    bx = x + 6
    if lock == "-":
        out.append(badge(bx, y + 27, "-", "#FFFFFF", pal.MUTED, pal.MUTED))
        bx += badge_width("-") + 4
    else:
        colour = pal.BLUE if lock.startswith("X") else pal.GREEN
        out.append(badge(bx, y + 27, lock, colour, "#FFFFFF"))
        bx += badge_width(lock) + 4
    if pv.io:
        out.append(badge(bx, y + 27, "io", pal.ORANGE, pal.BLACK))
    # Software ref/mod bits: set ones bold and dark, clear ones light.
    for i, (letter, on) in enumerate((("R", pv.ref), ("M", pv.mod))):
        out.append(
            text(
                x + CELL_W - 22 + i * 12,
                y + 40,
                letter if on else letter.lower(),
                12,
                weight="bold" if on else "normal",
                fill=pal.INK if on else "#9A9A9A",
                anchor="middle",
            )
        )
    maps = "map " + ",".join(pv.maps) if pv.maps else "unmapped"
    out.append(text(x + 6, y + 60, maps[:16], 9.5))
    if pv.lckcnt and pv.cowcnt:
        counts = f"lck {pv.lckcnt} cow {pv.cowcnt}"
    elif pv.lckcnt or pv.cowcnt:
        counts = f"lckcnt {pv.lckcnt}" if pv.lckcnt else f"cowcnt {pv.cowcnt}"
    else:
        counts = ""
    if pv.ro:
        counts = (counts + " ro").strip()
    out.append(text(x + 6, y + 74, counts[:16], 9.5))
    out.append(text(x + 6, y + 88, _owner_note(pv)[:16], 9.5, weight="bold"))
    if kl:
        label = f"k{kindex}"
        bw = badge_width(label)
        out.append(badge(x + CELL_W - bw + 4, y - 12, label, pal.BLACK, "#FFFFFF"))
    out.append("</g>")
    return "".join(out)


def _gap_cell(x: float, y: float, n: int) -> str:
    return (
        '<g class="pv-gap">'
        + rect(x, y, CELL_W, CELL_H, "#F4F4F4", pal.MUTED, 1, rx=6, dash="2 3")
        + text(x + CELL_W / 2, y + 40, "...", 14, weight="bold", anchor="middle")
        + text(x + CELL_W / 2, y + 60, f"{n} pages", 10, anchor="middle")
        + "</g>"
    )


def _width(item: Item) -> float:
    return MARK_W if isinstance(item, PageView) and item.marker else CELL_W


def _draw(x: float, y: float, item: Item, kindex: dict[str, int]) -> str:
    if isinstance(item, Gap):
        return _gap_cell(x, y, int(item))
    return _page_cell(x, y, item, kindex.get(item.name))


def elide(pages: Sequence[PageView], limit: int, keep: Iterable[str] = ()) -> list[Item]:
    """At most about ``limit`` pages: the head and tail ends, markers and ``keep``
    (with a neighbour each side); each run left out becomes one :class:`Gap`."""
    n = len(pages)
    if n <= limit:
        return list(pages)
    wanted = set(keep)
    shown: set[int] = set(range(limit // 2)) | set(range(n - limit // 2, n))
    for i, pv in enumerate(pages):
        if pv.marker or pv.name in wanted:
            shown.update(j for j in (i - 1, i, i + 1) if 0 <= j < n)
    out: list[Item] = []
    skipped = 0
    for i, pv in enumerate(pages):
        if i in shown:
            if skipped:
                out.append(Gap(skipped))
                skipped = 0
            out.append(pv)
        else:
            skipped += 1
    if skipped:
        out.append(Gap(skipped))
    return out


def _ring(items: list[Item], kindex: dict[str, int], title: str) -> tuple[str, float, float]:
    n = len(items)
    radius = max(150.0, (CELL_W + 30) / (2 * math.sin(math.pi / n))) if n > 1 else 150.0
    margin = 16.0
    cx = margin + radius + CELL_W / 2
    cy = margin + 22 + radius + CELL_H / 2
    centres = []
    for i in range(n):
        a = -math.pi / 2 + 2 * math.pi * i / n
        centres.append((cx + radius * math.cos(a), cy + radius * math.sin(a)))
    out = [text(margin, margin + 8, title, 12, weight="bold")]
    # Arrows first so the cards cover their ends.
    for i in range(n):
        j = (i + 1) % n
        (ax, ay), (bx, by) = centres[i], centres[j]
        wa, wb = _width(items[i]), _width(items[j])
        if n == 1:
            x0, y0 = ax + wa / 2, ay
            out.append(
                arrow(
                    [
                        (x0, y0),
                        (x0 + 22, y0),
                        (x0 + 22, ay - CELL_H / 2 - 16),
                        (ax, ay - CELL_H / 2 - 16),
                        (ax, ay - CELL_H / 2),
                    ]
                )
            )
            continue
        sx, sy = box_edge(ax, ay, wa, CELL_H, bx, by)
        ex, ey = box_edge(bx, by, wb, CELL_H, ax, ay)
        if n == 2:  # the two arrows would overlap: move each to its own side
            shift = 40 if i == 0 else -40
            sx, ex = sx + shift, ex + shift
        out.append(arrow([(sx, sy), (ex, ey)]))
    hx, hy = centres[0]
    out.append(text(cx, cy - 4, "v_pages", 11, weight="bold", anchor="middle"))
    out.append(text(cx, cy + 12, "(p_vpnext: clockwise)", 9.5, fill=pal.MUTED, anchor="middle"))
    ex, ey = box_edge(hx, hy, _width(items[0]), CELL_H, cx, cy - 16)
    out.append(arrow([(cx, cy - 16), (ex, ey)], pal.BLUE, 2))
    for (px, py), item in zip(centres, items, strict=True):
        out.append(_draw(px - _width(item) / 2, py - CELL_H / 2, item, kindex))
    size = 2 * (margin + radius) + CELL_W + 30
    return "".join(out), size, 2 * margin + 22 + 2 * radius + CELL_H + 8


def _rows(
    items: list[Item],
    kindex: dict[str, int],
    title: str,
    per_row: int,
    wrap_label: str,
    head_label: str,
) -> tuple[str, float, float]:
    left, top = 70.0, 50.0
    slot = CELL_W + GAP_X
    pos = []
    for i, item in enumerate(items):
        r, c = divmod(i, per_row)
        w = _width(item)
        pos.append((left + c * slot + (CELL_W - w) / 2, top + r * (CELL_H + GAP_Y), w))
    ncols = min(per_row, len(items))
    nrows = (len(items) + per_row - 1) // per_row
    right = left + ncols * slot - GAP_X
    out = [text(12, 18, title, 12, weight="bold")]
    for i in range(len(items) - 1):
        (x0, y0, w0), (x1, y1, _w1) = pos[i], pos[i + 1]
        if y1 == y0:
            out.append(arrow([(x0 + w0, y0 + CELL_H / 2), (x1, y1 + CELL_H / 2)]))
        else:
            mid = y0 + CELL_H + GAP_Y / 2
            out.append(
                arrow(
                    [
                        (x0 + w0 / 2, y0 + CELL_H),
                        (x0 + w0 / 2, mid),
                        (x1 + _width(items[i + 1]) / 2, mid),
                        (x1 + _width(items[i + 1]) / 2, y1),
                    ]
                )
            )
    # The ring closes: the tail's next is the head.
    (hx, hy, hw), (tx, ty, tw) = pos[0], pos[-1]
    rx, up = right + 16, top - 16
    out.append(
        arrow(
            [
                (tx + tw, ty + CELL_H / 2),
                (rx, ty + CELL_H / 2),
                (rx, up),
                (hx + hw / 2, up),
                (hx + hw / 2, hy),
            ],
            pal.MUTED,
        )
    )
    out.append(text(hx + hw / 2 + 8, up - 5, wrap_label, 9.5, fill=pal.MUTED))
    out.append(arrow([(8, hy + CELL_H / 2), (hx, hy + CELL_H / 2)], pal.BLUE, 2))
    out.append(text(8, hy + CELL_H / 2 - 6, head_label, 10, weight="bold", fill=pal.BLUE))
    for (x, y, _w), item in zip(pos, items, strict=True):
        out.append(_draw(x, y, item, kindex))
    return "".join(out), right + 40, top + nrows * (CELL_H + GAP_Y) - GAP_Y + 14


def _layout(
    items: list[Item],
    kindex: dict[str, int],
    title: str,
    layout: str,
    per_row: int,
    wrap_label: str,
    head_label: str = "v_pages",
) -> str:
    if layout not in ("auto", "ring", "rows"):
        from pvnsim.errors import UsageError

        raise UsageError(f"layout must be 'auto', 'ring' or 'rows', not {layout!r}")
    # A ring of one or two cards reads worse than a row with its wrap arrow.
    if layout == "ring" or (layout == "auto" and 3 <= len(items) <= RING_MAX):
        body, w, h = _ring(items, kindex, title)
    else:
        body, w, h = _rows(items, kindex, title, per_row, wrap_label, head_label)
    return svg_root(w, h, body, title)


def vnode_svg(
    vv: VnodeView,
    *,
    highlight: Sequence[str] = (),
    layout: str = "auto",
    limit: int = 64,
    per_row: int = 7,
) -> str:
    """Draw a vnode's ``v_pages`` ring.

    Args:
        vv: the captured vnode.
        highlight: names of pages to outline (a kluster), numbered in this order.
        layout: ``"ring"``, ``"rows"`` or ``"auto"`` (a ring of 3 to 12 pages,
            rows otherwise).
        limit: at most about this many pages are drawn; the middle of a
            longer ring is left out, markers and highlighted pages excepted.
        per_row: cards per row in the rows layout.

    Raises:
        UsageError: an unknown layout.
    """
    kindex = {name: i for i, name in enumerate(highlight)}
    plural = "" if vv.resident == 1 else "s"
    title = f"{vv.name}: {vv.resident} page{plural}" + (f" [{vv.flags}]" if vv.flags != "0" else "")
    if vv.walking:
        title += " - walk in progress"
    if not vv.pages:
        return svg_root(
            360,
            60,
            text(12, 18, title, 12, weight="bold")
            + text(12, 44, "v_pages = NULL (no pages)", 11, fill=pal.MUTED),
            title,
        )
    items = elide(vv.pages, limit, highlight)
    if vv.total > len(vv.pages):
        items.append(Gap(vv.total - len(vv.pages)))
    return _layout(items, kindex, title, layout, per_row, "tail.p_vpnext = head")


def pages_svg(kv: KlusterView, per_row: int = 7) -> str:
    """Draw a kluster's p_next ring, lowest offset first."""
    n = len(kv.pages)
    title = f"kluster off={kv.off:#x} len={kv.len:#x} ({n} page{'s' if n != 1 else ''})"
    kindex = {p.name: i for i, p in enumerate(kv.pages)}
    items: list[Item] = list(kv.pages)
    return _layout(items, kindex, title, "rows", per_row, "last.p_next = plist", "plist")


def page_svg(pv: PageView) -> str:
    """Draw one page card."""
    w = _width(pv)
    return svg_root(w + 8, CELL_H + 8, _page_cell(4, 4, pv), tooltip(pv))


def memory_svg(kv: KernelView, width: int = 640) -> str:
    """Draw freemem as a bar against minfree, desfree, lotsfree and throttlefree."""
    total = max(kv.total_pages, 1)
    left, bar_y, bar_h = 10.0, 30.0, 22.0
    span = width - 2 * left

    def x_of(pages: int) -> float:
        return left + span * min(max(pages, 0), total) / total

    colour = {
        "minfree": pal.VERMILLION,
        "desfree": pal.ORANGE,
        "lotsfree": pal.YELLOW,
        "plenty": pal.GREEN,
    }[kv.zone]
    out = [
        text(
            left,
            18,
            f"freemem {kv.freemem} of {kv.total_pages} pages ({ZONE_WORDS[kv.zone]})",
            12,
            weight="bold",
        ),
        text(
            width - left,
            18,
            f"free list {kv.freelist}, cache list {kv.cachelist}",
            10.5,
            anchor="end",
        ),
        rect(left, bar_y, span, bar_h, pal.GREY),
        f'<rect class="pv-freemem" x="{left:.1f}" y="{bar_y:.1f}" '
        f'width="{x_of(kv.freemem) - left:.1f}" height="{bar_h:.1f}" fill="{colour}"/>',
        rect(left, bar_y, span, bar_h, "none", pal.INK, 1),
    ]
    if kv.kernel_pages:
        kx = x_of(total - kv.kernel_pages)
        out.append(hatch(kx, bar_y, left + span - kx, bar_h, pal.INK, 6))
    ticks = [
        ("minfree", kv.minfree),
        ("desfree", kv.desfree),
        ("lotsfree", kv.lotsfree),
        ("throttlefree", kv.throttlefree),
        ("lotsfree+pages_before_pager", kv.write_free_at),
    ]
    # Thresholds of equal value share a label.  Labels hang below the bar on
    # leader lines; placed from the right, each goes below every label whose
    # leader would cross it, so no line crosses a label.
    grouped: dict[int, list[str]] = {}
    for name, value in ticks:
        grouped.setdefault(value, []).append(name)
    placed: list[tuple[float, float, float, int]] = []  # (x, start, end, row)
    for value, names in sorted(grouped.items(), reverse=True):
        x = x_of(value)
        label = f"{' = '.join(names)} {value}"
        w = 6.2 * len(label)
        lx = min(max(x - 2, left), left + span - w)
        row = 1 + max((r for px, _s, _e, r in placed if lx <= px <= lx + w + 6), default=-1)
        while any(r == row and s0 <= lx + w + 6 and lx <= e0 + 6 for _x, s0, e0, r in placed):
            row += 1
        placed.append((x, lx, lx + w, row))
        ly = bar_y + bar_h + 14 + 13 * row
        out.append(
            f'<line x1="{x:.1f}" y1="{bar_y - 4:.1f}" x2="{x:.1f}" y2="{ly - 10:.1f}" '
            f'stroke="{pal.INK}" stroke-width="1.3"/>'
        )
        out.append(text(lx, ly, label, 10))
    nrows = 1 + max((r for *_rest, r in placed), default=0)
    height = bar_y + bar_h + 14 + 13 * nrows + 4
    return svg_root(width, height, "".join(out), f"freemem {kv.freemem} of {kv.total_pages}")
