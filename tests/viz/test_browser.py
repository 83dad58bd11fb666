"""A real browser draws the views: headless Chromium takes a screenshot of a vnode view.

See tests/viz/chromium.py for how Chromium runs (and when a missing one fails).
"""

from __future__ import annotations

from pvnsim import Kernel, make_page, pvn_vplist_dirty
from pvnsim.flags import P_MOD, P_REF
from pvnsim.fs import make_putapage
from pvnsim.viz import palette as pal
from pvnsim.viz import show
from tests.viz.chromium import matches, screenshot_html


def _screenshot(html, out):
    return screenshot_html(html, out)


def _present(pixels, colour):
    return any(matches(p, colour) for p in pixels)


def test_vnode_view_renders_in_headless_chromium(tmp_path):
    """Chromium draws the ring: its page area is not blank and shows each state's colour."""
    k = Kernel(total_pages=64)
    vp = k.vnode("f")
    make_page(vp, 0x0, nrm=P_MOD | P_REF)  # dirty: vermillion band
    make_page(vp, 0x1000, nrm=P_REF, lock="X", io="me")  # ref: sky band, X blue, io orange
    make_page(vp, 0x2000, lock="S")  # clean: S green
    make_page(vp, 0x3000, cached=True)  # cached: yellow band
    shot = tmp_path / "vnode.png"
    rows = _screenshot(show(vp).html(), shot)
    # The ring of four cards lies in the top-left 600 x 600 pixels of the 640 x 640 window.
    area = [px for row in rows[:600] for px in row[:600]]
    white = sum(1 for px in area if px == (255, 255, 255))
    assert white < 0.97 * len(area), "the page area is blank"
    colours = set(area)
    assert len(colours) > 30
    for colour in (pal.VERMILLION, pal.SKY, pal.YELLOW, pal.BLUE, pal.GREEN, pal.ORANGE):
        assert _present(colours, colour), f"{colour} is not on the screenshot {shot}"


def test_markers_render_in_headless_chromium(tmp_path):
    """The ring drawn during a walk shows the markers' purple; drawn after it, none."""
    k = Kernel(total_pages=64)
    vp = k.vnode("f")
    make_page(vp, 0x0, nrm=P_MOD)
    drawings: list[str] = []
    write = make_putapage(4096)

    def putapage(vp, pp, offp, lenp, flags, cred):
        drawings.append(show(vp).svg())  # the drawing alone: no legend swatches
        return write(vp, pp, offp, lenp, flags, cred)

    pvn_vplist_dirty(vp, 0, putapage, 0, None)
    during = _screenshot(drawings[0], tmp_path / "walk.png")
    assert _present({px for row in during for px in row}, pal.PURPLE)
    after = _screenshot(show(vp).svg(), tmp_path / "after.png")
    assert not _present({px for row in after for px in row}, pal.PURPLE)
