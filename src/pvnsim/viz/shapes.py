"""Plain SVG shapes for the drawings of :mod:`pvnsim.viz.svg`.

Everything is drawn with basic elements only (no ``<defs>``, ids or
``url(#...)`` references), so drawings never clash in one document.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from pvnsim.viz import palette as pal

__all__ = [
    "FONT",
    "arrow",
    "arrowhead",
    "badge",
    "badge_width",
    "box_edge",
    "esc",
    "hatch",
    "rect",
    "svg_root",
    "text",
]

FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"


def esc(text: object) -> str:
    """Escape text for an XML text node or attribute."""
    return escape(str(text), quote=True)


def text(
    x: float,
    y: float,
    content: str,
    size: float = 11,
    *,
    weight: str = "normal",
    fill: str = pal.INK,
    anchor: str = "start",
) -> str:
    """A ``<text>`` element, escaped."""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" font-weight="{weight}" '
        f'fill="{fill}" text-anchor="{anchor}">{esc(content)}</text>'
    )


def rect(
    x: float,
    y: float,
    w: float,
    h: float,
    fill: str,
    stroke: str = "none",
    width: float = 1.0,
    *,
    rx: float = 0,
    dash: str | None = None,
) -> str:
    """A ``<rect>``; ``dash`` is a stroke-dasharray."""
    extra = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="{rx}" '
        f'fill="{fill}" stroke="{stroke}" stroke-width="{width}"{extra}/>'
    )


def arrowhead(x1: float, y1: float, x2: float, y2: float, colour: str) -> str:
    """A filled arrowhead at (x2, y2) pointing along (x1, y1) -> (x2, y2)."""
    dx, dy = x2 - x1, y2 - y1
    d = math.hypot(dx, dy) or 1.0
    ux, uy = dx / d, dy / d
    size = 8.0
    bx, by = x2 - ux * size, y2 - uy * size
    px, py = -uy * size * 0.45, ux * size * 0.45
    return (
        f'<polygon points="{x2:.1f},{y2:.1f} {bx + px:.1f},{by + py:.1f} '
        f'{bx - px:.1f},{by - py:.1f}" fill="{colour}"/>'
    )


def arrow(points: Sequence[tuple[float, float]], colour: str = pal.INK, width: float = 1.4) -> str:
    """A polyline with an arrowhead at its last point."""
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    (x1, y1), (x2, y2) = points[-2], points[-1]
    return (
        f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="{width}"/>'
        + arrowhead(x1, y1, x2, y2, colour)
    )


def hatch(x: float, y: float, w: float, h: float, colour: str, step: float = 9) -> str:
    """Diagonal hatching inside a rectangle, as clipped line segments."""
    out = []
    c = -h + step / 2
    while c < w:
        sx, sy = x + c, y + h
        if c < 0:
            sx, sy = x, y + h + c
        ex, ey = x + c + h, y
        if c + h > w:
            ex, ey = x + w, y + (c + h - w)
        out.append(f"M{sx:.1f},{sy:.1f}L{ex:.1f},{ey:.1f}")
        c += step
    return f'<path d="{"".join(out)}" stroke="{colour}" stroke-width="1.2" opacity="0.55"/>'


def badge(x: float, y: float, label: str, fill: str, ink: str, stroke: str = "none") -> str:
    """A small filled, rounded label (a lock or i/o badge)."""
    w = badge_width(label)
    return rect(x, y, w, 16, fill, stroke, 1, rx=3) + text(
        x + w / 2, y + 12, label, 11, weight="bold", fill=ink, anchor="middle"
    )


def badge_width(label: str) -> float:
    """The width of :func:`badge` for ``label``."""
    return 9 + 7.2 * len(label)


def svg_root(width: float, height: float, body: str, label: str) -> str:
    """A standalone ``<svg>`` that shrinks to its container's width."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" style="max-width:100%;height:auto;background:#FFFFFF" '
        f'font-family="{FONT}" role="img" '
        f'aria-label="{esc(label)}">{body}</svg>'
    )


def box_edge(cx: float, cy: float, w: float, h: float, tx: float, ty: float) -> tuple[float, float]:
    """Where the segment from a box's centre towards (tx, ty) leaves the box."""
    dx, dy = tx - cx, ty - cy
    if dx == 0 and dy == 0:
        return cx, cy
    t = min(
        (w / 2) / abs(dx) if dx else math.inf,
        (h / 2) / abs(dy) if dy else math.inf,
    )
    return cx + dx * t, cy + dy * t
