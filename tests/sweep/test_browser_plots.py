"""A real browser draws a figure: headless Chromium renders a sweep plot's SVG.

Chromium is Debian's ``chromium`` package, run by tests/viz/chromium.py
(which .ci/run installs and requires with ``PVNSIM_REQUIRE_BROWSER=1``).
"""

from __future__ import annotations

from pvnsim.viz import palette as pal
from pvnsim.viz.plots import plot_sweep, save_figure
from tests.viz.chromium import matches, screenshot_html

MiB = 1 << 20


def test_a_sweep_plot_renders_in_headless_chromium(tmp_path):
    """The SVG, inlined in a page, shows its two lines' Okabe-Ito colours and is not blank."""
    rows = [
        {"memory": m * MiB, "maxcontig": c, "virtual_ns": (64 - m) * c * 1_000_000}
        for m in (2, 8, 32)
        for c in (1, 16)
    ]
    svg = save_figure(
        plot_sweep(rows, "memory", "virtual_ns", by=["maxcontig"]), tmp_path / "s.svg"
    )
    markup = svg.read_text()
    markup = markup[markup.index("<svg") :]  # drop the XML declaration and doctype
    rows_px = screenshot_html(markup, tmp_path / "s.png", size="900,600")
    area = [px for row in rows_px[:450] for px in row[:800]]
    white = sum(1 for px in area if px == (255, 255, 255))
    assert white < 0.99 * len(area), "the plot is blank"
    colours = set(area)
    assert any(matches(p, pal.BLUE) for p in colours)
    assert any(matches(p, pal.VERMILLION) for p in colours)
