"""The records the ports hand back: Kluster and PageSlots."""

from __future__ import annotations

from pvnsim import Kernel, Kluster, PageSlots, SegMap, make_page, pvn_read_kluster


def test_kluster_unpacks_like_the_c_results():
    """A Kluster unpacks to (plist, *offp, *lenp) and lists its ring."""
    k = Kernel(total_pages=64, minfree=0, throttlefree=0, pageout_reserve=0)
    vp = k.vnode("v1")
    kl = pvn_read_kluster(vp, 4096, SegMap(k, "s"), 0x10000, 0, 8192, 0)
    assert kl is not None
    plist, off, length = kl
    assert plist is kl.plist
    assert (off, length) == (0, 8192)
    assert [p.p_offset for p in kl.pages] == [0, 4096]
    assert str(kl) == "plist=[v1@0 v1@4096] off=0 len=8192"


def test_page_slots_is_a_window_on_the_callers_array():
    """PageSlots reads and writes the caller's list from its start index on."""
    k = Kernel(total_pages=16)
    vp = k.vnode("v1")
    pp = make_page(vp, 0)
    pl = [None, None, None, None]
    view = PageSlots(pl, 2)
    view[0] = pp
    assert pl[2] is pp
    assert view[0] is pp
    assert view[1] is None
    assert len(view) == 2
    assert Kluster(pp, 0, 4096).pages == [pp]
