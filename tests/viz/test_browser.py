"""A real browser draws the views: headless Chromium takes a screenshot of a vnode view.

See tests/viz/chromium.py for how Chromium runs (and when a missing one fails).
"""

from __future__ import annotations

import re

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


# The page colours of a dark theme (furo's dark mode, JupyterLab's dark theme).
DARK_PAGE, DARK_TEXT = "#131416", "#FFFFFF"


def _on_a_dark_page(html: str, out) -> list:
    page = f'<div style="background:{DARK_PAGE};color:{DARK_TEXT};min-height:100vh">{html}</div>'
    return screenshot_html(page, out)


def test_views_stay_readable_on_a_dark_page(tmp_path):
    """On a dark theme the views keep their own white ground.

    Their text, arrows and outlines are dark: on the page's dark ground they
    would vanish.  A stepper frame (the memory gauge, the counters, the ring)
    fills the 640 x 640 window, so almost none of it may show the page's
    colour; the ring's drawing alone (``svg()``) has its ground too.
    """
    k = Kernel(total_pages=64)
    vp = k.vnode("f")
    for i in range(8):
        make_page(vp, i * 0x1000, nrm=P_MOD | P_REF)
    from pvnsim.viz import Recorder

    with Recorder(k) as rec:
        pvn_vplist_dirty(vp, 0, make_putapage(4096), 0, None)
    stepper = rec.recording.stepper(source=False)
    rows = _on_a_dark_page(stepper.frame_html(3), tmp_path / "frame.png")
    area = [px for row in rows[:600] for px in row[:600]]
    dark = sum(1 for px in area if matches(px, DARK_PAGE))
    assert dark < 0.01 * len(area), f"{dark} of {len(area)} pixels show the dark page"
    svg = show(vp).svg()
    width, height = (int(re.search(rf' {a}="(\d+)"', svg).group(1)) for a in ("width", "height"))
    rows = _on_a_dark_page(svg, tmp_path / "ring.png")
    area = [px for row in rows[: min(height, 600)] for px in row[: min(width, 600)]]
    dark = sum(1 for px in area if matches(px, DARK_PAGE))
    assert dark < 0.01 * len(area), f"{dark} of {len(area)} pixels show the dark page"
