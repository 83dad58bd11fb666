"""HTML and SVG views: well-formed, and showing the offsets and states of the pages."""

from __future__ import annotations

import pytest

from pvnsim import Kernel, SegMap, make_page, pvn_read_kluster, pvn_vplist_dirty
from pvnsim.errors import UsageError
from pvnsim.flags import B_ASYNC, P_MOD, P_REF, VMODSORT
from pvnsim.fs import make_putapage
from pvnsim.viz import View, show
from pvnsim.viz import palette as pal
from tests.viz.helpers import SVG, all_text, cards, markers, parse, pname


def test_vnode_view_shows_offset_lock_io_and_state_of_each_page(roomy):
    """Each page of the ring gets a card naming its offset, page lock, i/o lock and state."""
    vp = roomy.vnode("f")
    make_page(vp, 0x0, nrm=P_MOD | P_REF)
    make_page(vp, 0x1000, nrm=P_REF, lock="X", io="me")
    make_page(vp, 0x2000, lock="S@other", lckcnt=2)
    make_page(vp, 0x3000, cached=True)
    root = parse(show(vp).html())
    c = cards(root)
    assert set(c) == {pname("f", 0x0), pname("f", 0x1000), pname("f", 0x2000), pname("f", 0x3000)}
    assert (
        c[pname("f", 0x0)]["data-state"],
        c[pname("f", 0x0)]["data-lock"],
        c[pname("f", 0x0)]["data-io"],
    ) == (
        "dirty",
        "-",
        "0",
    )
    assert "0x0" in c[pname("f", 0x0)]["text"] and "dirty" in c[pname("f", 0x0)]["text"]
    assert (c[pname("f", 0x1000)]["data-lock"], c[pname("f", 0x1000)]["data-io"]) == ("X", "1")
    assert "0x1000" in c[pname("f", 0x1000)]["text"] and "io" in c[pname("f", 0x1000)]["text"]
    assert c[pname("f", 0x2000)]["data-lock"] == "S1@other"
    assert (
        "lckcnt 2" in c[pname("f", 0x2000)]["text"]
        and "lock@other" in c[pname("f", 0x2000)]["text"]
    )
    assert c[pname("f", 0x3000)]["data-state"] == "cached"
    assert markers(root) == []


def test_cards_follow_the_ring_from_the_head(roomy):
    """Cards are drawn in v_pages order: make_page puts each new page at the head."""
    vp = roomy.vnode("f")
    for off in (0x0, 0x1000, 0x2000):
        make_page(vp, off)
    make_page(vp, 0x3000, at="tail")
    assert list(cards(parse(show(vp).html()))) == [
        pname("f", 0x2000),
        pname("f", 0x1000),
        pname("f", 0x0),
        pname("f", 0x3000),
    ]


def _drawn_during_walk(k, render):
    """A one-page vnode, and ``render(show(vp))`` as its putapage saw it during an fsync."""
    vp = k.vnode("f")
    make_page(vp, 0x0, nrm=P_MOD)
    seen: list[str] = []
    write = make_putapage(4096)

    def putapage(vp, pp, offp, lenp, flags, cred):
        seen.append(render(show(vp)))
        return write(vp, pp, offp, lenp, flags, cred)

    pvn_vplist_dirty(vp, 0, putapage, 0, None)
    return vp, seen[0]


def test_markers_are_drawn_while_a_walk_is_in_progress(roomy):
    """During pvn_vplist_dirty both markers are on the ring and drawn as markers."""
    vp, drawn = _drawn_during_walk(roomy, lambda view: view.html())
    during = parse(drawn)
    # The only page was the head, so the walking marker moved to the head (v_pages)
    # and the end marker stayed behind the page.
    assert markers(during) == ["MARK(-1)", "MARK(-2)"]
    assert list(cards(during)) == [pname("f", 0x0)]
    assert "walk in progress" in all_text(during)
    after = parse(show(vp).html())
    assert markers(after) == []
    assert "walk in progress" not in all_text(after)


def test_kernel_view_shows_freemem_against_the_thresholds():
    """The kernel view draws freemem as a bar scaled to memory, with each threshold."""
    k = Kernel(total_pages=1024)  # lotsfree 128, desfree 64, minfree 32, throttlefree 32
    vp = k.vnode("f")
    for i in range(10):
        make_page(vp, i * 4096)
    root = parse(View(k).html())
    text = all_text(root)
    assert "freemem 1014 of 1024 pages (at or above lotsfree)" in text
    # Thresholds of the same value share one label.
    for label in ("minfree = throttlefree 32", "desfree 64", "lotsfree 128"):
        assert label in text
    assert "lotsfree+pages_before_pager 328" in text
    bar = next(r for r in root.iter(f"{SVG}rect") if r.get("class") == "pv-freemem")
    # The bar spans 620 px for 1024 pages.
    assert float(bar.get("width", "0")) == pytest.approx(620 * 1014 / 1024, abs=0.1)
    assert bar.get("fill") == pal.GREEN  # 1014 pages is above lotsfree


def test_kernel_view_shows_the_statistics_counters(pvn_kernel):
    """Every vm counter appears with its value in the statistics table."""
    pvn_kernel.vm.pgrec = 7
    pvn_kernel.vm.dfree = 3
    root = parse(show(pvn_kernel).html())
    table = next(t for t in root.iter("table") if t.get("class", "").startswith("pv-stats"))
    head, values = list(table)
    counts = dict(zip([th.text for th in head], [td.text for td in values], strict=True))
    assert counts["pgrec"] == "7" and counts["dfree"] == "3" and counts["fsfree"] == "0"
    assert len(counts) == 11


def test_memory_bar_colour_follows_the_zone():
    """Below minfree the bar is vermillion, below desfree orange, below lotsfree yellow."""
    k = Kernel(
        total_pages=100, lotsfree=40, desfree=20, minfree=10, throttlefree=0, pageout_reserve=0
    )
    vp = k.vnode("f")
    colours = []
    for used in (65, 85, 95):  # freemem 35, 15, 5
        while len(k.page_hash[vp]) < used:
            make_page(vp, len(k.page_hash[vp]) * 4096)
        root = parse(show(k).html())
        bar = next(r for r in root.iter(f"{SVG}rect") if r.get("class") == "pv-freemem")
        colours.append(bar.get("fill"))
    assert colours == [pal.YELLOW, pal.ORANGE, pal.VERMILLION]


def test_page_view_shows_the_fields_of_a_page(roomy):
    """A page's view shows the card and a table with offset, locks and counts."""
    vp = roomy.vnode("f")
    pp = make_page(vp, 0x5000, nrm=P_REF, maps=["rm"], lock="X", io="other", lckcnt=1)
    root = parse(View(pp).html())
    text = all_text(root)
    assert "0x5000 (20480)" in text
    assert "held by other" in text and "1 / 0" in text and "rm/w" in text
    assert cards(root)[pname("f", 0x5000)]["data-lock"] == "X"


def test_kluster_view_numbers_the_kluster_pages_on_the_ring(roomy):
    """A kluster is drawn as its p_next ring and outlined, k0.., on the vnode's ring."""
    vp = roomy.vnode("f")
    make_page(vp, 0x8000)
    kl = pvn_read_kluster(vp, 0x3000, SegMap(roomy, "seg"), 0x3000, 0, 0x10000, 0)
    # The window [0, 0x10000) stops at the existing page 0x8000: pages 0..7 are new.
    root = parse(show(kl).html())
    text = all_text(root)
    assert "kluster off=0x0 len=0x8000 (8 pages)" in text
    for i in range(8):
        assert f"k{i}" in text
    ring = cards(root)
    assert (
        ring[pname("f", 0x3000)]["data-lock"] == "X" and ring[pname("f", 0x3000)]["data-io"] == "1"
    )
    assert ring[pname("f", 0x8000)]["data-lock"] == "-"


def test_long_rings_are_elided_in_the_middle(roomy):
    """A 200-page ring drawn with limit=64 shows 32 pages at each end and one gap of 136."""
    vp = roomy.vnode("f")
    for i in range(200):
        make_page(vp, i * 4096, at="tail")
    root = parse(show(vp, limit=64).html())
    c = cards(root)
    assert len(c) == 64
    # Kept: indexes 0-31 and 168-199 (offsets are index * 4096).
    assert pname("f", 0x0) in c and pname("f", 0x1F000) in c and pname("f", 0x20000) not in c
    assert pname("f", 0xA7000) not in c and pname("f", 0xA8000) in c and pname("f", 0xC7000) in c
    assert "136 pages" in all_text(root)


def test_layout_is_a_ring_for_few_pages_and_rows_for_many(roomy):
    """Up to 12 pages the ring is drawn as a circle; beyond, as rows with a wrap arrow."""
    vp = roomy.vnode("f")
    for i in range(12):
        make_page(vp, i * 4096)
    assert "clockwise" in all_text(parse(show(vp).html()))
    make_page(vp, 12 * 4096)
    text = all_text(parse(show(vp).html()))
    assert "tail.p_vpnext = head" in text and "clockwise" not in text
    assert "clockwise" in all_text(parse(show(vp, layout="ring").html()))


def test_bad_view_options_are_refused(roomy):
    """Unknown layouts, limits and objects raise UsageError."""
    vp = roomy.vnode("f")
    with pytest.raises(UsageError, match="layout"):
        show(vp, layout="spiral")
    with pytest.raises(UsageError, match="limit"):
        show(vp, limit=0)
    with pytest.raises(UsageError, match="no view for int"):
        show(3)
    with pytest.raises(UsageError, match="Kernel only"):
        show(vp, vnodes=[vp])


def test_kernel_view_can_show_chosen_vnodes_only(roomy):
    """show(k, vnodes=[...]) draws only those vnodes."""
    a, b = roomy.vnode("a"), roomy.vnode("b")
    make_page(a, 0)
    make_page(b, 0)
    assert list(cards(parse(show(roomy, vnodes=["b"]).html()))) == [pname("b", 0x0)]
    with pytest.raises(UsageError, match="no vnode named"):
        show(roomy, vnodes=["zz"])


def test_markup_in_names_is_escaped(roomy):
    """A vnode name with markup characters does not break the document."""
    vp = roomy.vnode("<b>&x")
    make_page(vp, 0)
    root = parse(show(roomy).html())
    assert "<b>&x" in all_text(root)


def test_drawings_use_no_ids_so_many_fit_in_one_page(roomy):
    """No element of a view carries an id (several views share a notebook page)."""
    vp = roomy.vnode("f", v_flag=VMODSORT)
    make_page(vp, 0, nrm=P_MOD)
    root = parse(show(roomy).html())
    assert [e.tag for e in root.iter() if "id" in e.attrib] == []


def test_page_colours_are_okabe_ito_with_words_beside_them(roomy):
    """Dirty, referenced and cached bands use the palette and also say their state."""
    vp = roomy.vnode("f")
    make_page(vp, 0, nrm=P_MOD)
    make_page(vp, 0x1000, nrm=P_REF)
    make_page(vp, 0x2000, cached=True)
    root = parse(show(vp).html())
    bands = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "pv-page":
            bands[g.get("data-name")] = [r.get("fill") for r in g.iter(f"{SVG}rect")][1]
    assert bands == {
        pname("f", 0x0): pal.VERMILLION,
        pname("f", 0x1000): pal.SKY,
        pname("f", 0x2000): pal.YELLOW,
    }
    c = cards(root)
    assert "dirty" in c[pname("f", 0x0)]["text"] and "ref" in c[pname("f", 0x1000)]["text"]
    assert "cached" in c[pname("f", 0x2000)]["text"]


def test_async_walk_leaves_busy_page_and_view_reports_it(roomy):
    """After an async fsync that skipped a page locked by another thread, the view still shows it dirty."""
    vp = roomy.vnode("f")
    make_page(vp, 0, nrm=P_MOD, lock="X@other")
    pvn_vplist_dirty(vp, 0, make_putapage(4096), B_ASYNC, None)
    c = cards(parse(show(vp).html()))
    assert (
        c[pname("f", 0x0)]["data-state"] == "dirty" and c[pname("f", 0x0)]["data-lock"] == "X@other"
    )


def test_marker_cards_have_their_own_colour(roomy):
    """A marker card carries a solid band of the marker purple, a colour no other part uses."""
    _vp, drawn = _drawn_during_walk(roomy, lambda view: view.svg())
    root = parse(drawn)
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "pv-marker":
            fills = [r.get("fill") for r in g.iter(f"{SVG}rect")]
            assert pal.PURPLE in fills, g.get("data-name")
    others = [c for k, c in pal.STATE_COLOURS.items() if k != "marker"]
    assert pal.PURPLE not in others and pal.PURPLE not in pal.KIND_COLOURS.values()
    assert [label for colour, label in pal.LEGEND if colour == pal.PURPLE] == ["walk marker"]
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "pv-page":
            assert pal.PURPLE not in {e.get("fill") for e in g.iter()} | {
                e.get("stroke") for e in g.iter()
            }
