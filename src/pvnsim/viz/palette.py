"""The colours of the views: the Okabe-Ito palette, safe for colour-blind readers.

Colour is never the only cue: every coloured thing also carries a word or a
letter (``dirty``, ``X``, ``io``, ``mark``), so a grey-scale print reads the same.

=====================  ==============  ==========================================
what                   colour          also shown as
=====================  ==============  ==========================================
dirty page             vermillion      band text ``dirty``, ``M`` bit
referenced page        sky blue        band text ``ref``, ``R`` bit
clean page             light grey      band text ``clean``
cached (free) page     yellow          band text ``cached``, dashed border
exclusive page lock    blue            badge ``X``
shared page lock       bluish green    badge ``S<n>``
i/o lock               orange          badge ``io``
walk marker            reddish purple  dashed, hatched, label ``mark``/``end``
                                       (purple marks walk markers only)
kluster member         black           thick outline, index ``k0``, ``k1``...
=====================  ==============  ==========================================
"""

from __future__ import annotations

__all__ = [
    "BLACK",
    "BLUE",
    "GREEN",
    "GREY",
    "KIND_COLOURS",
    "LEGEND",
    "ORANGE",
    "PURPLE",
    "SKY",
    "STATE_COLOURS",
    "VERMILLION",
    "YELLOW",
]

# Okabe & Ito (2008), "Color Universal Design".
BLACK = "#000000"
ORANGE = "#E69F00"
SKY = "#56B4E9"
GREEN = "#009E73"
YELLOW = "#F0E442"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
#: Not an Okabe-Ito colour: the neutral of clean pages and empty bars.
GREY = "#D9D9D9"
INK = "#222222"
MUTED = "#767676"

#: Band colour of a page by :attr:`pvnsim.viz.state.PageView.state`.
STATE_COLOURS = {
    "dirty": VERMILLION,
    "referenced": SKY,
    "clean": GREY,
    "cached": YELLOW,
    "free": YELLOW,
    "marker": PURPLE,
}

#: Left-border colour of a trace row by event kind (anything else: black).
KIND_COLOURS = {
    "port": BLUE,
    "prim": MUTED,
    "callback": GREEN,
    "note": BLACK,
    # Not purple: that colour belongs to the walk markers alone.
    "switch": BLACK,
}

#: (colour, label) pairs the legend shows, in order.
LEGEND = (
    (VERMILLION, "dirty (P_MOD)"),
    (SKY, "referenced"),
    (GREY, "clean"),
    (YELLOW, "cached / free"),
    (BLUE, "X: exclusive lock"),
    (GREEN, "S: shared lock"),
    (ORANGE, "io: i/o lock"),
    (PURPLE, "walk marker"),
)
