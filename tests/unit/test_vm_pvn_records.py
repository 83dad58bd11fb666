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
    assert str(kl) == "plist=[v1@0x0 v1@0x1000] off=0x0 len=8192"


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


def test_ports_accept_keyword_arguments_traced_or_not():
    """Ports take the C's parameter names as keywords, with tracing on or off."""
    k = Kernel(total_pages=64, minfree=0, throttlefree=0, pageout_reserve=0)
    vp = k.vnode("v1")
    seg = SegMap(k, "s")
    kl = pvn_read_kluster(vp, off=0, seg=seg, addr=0x10000, vp_off=0, vp_len=4096, isra=0)
    assert kl is not None and kl.len == 4096
    t = k.trace_on()
    kl2 = pvn_read_kluster(vp, 8192, seg, addr=0x12000, vp_off=8192, vp_len=4096, isra=0)
    assert kl2 is not None
    ports = t.filter(kind="port", nested=False)
    assert [e.format() for e in ports] == [
        "pvn_read_kluster(v1, 0x2000, s, 0x12000, 0x2000, 4096, 0) = plist=[v1@0x2000] off=0x2000 len=4096"
    ]


def test_a_port_on_an_unhooked_kernel_still_refuses_bad_input():
    """Without tracing or a scheduler a port still checks its arguments."""
    import pytest

    from pvnsim import pvn_getdirty
    from pvnsim.errors import UsageError

    k = Kernel(total_pages=16)
    vp = k.vnode("v1")
    pp = make_page(vp, 0)
    assert k.hooks is None
    with pytest.raises(UsageError, match="locked"):
        pvn_getdirty(pp, 0)
