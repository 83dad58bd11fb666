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
    ports = t.filter(kind="port")
    assert [e.format() for e in ports] == [
        "pvn_read_kluster(v1, 8192, s, 0x12000, 8192, 4096, 0) = plist=[v1@8192] off=8192 len=4096"
    ]


def test_unhooked_variants_replace_only_primitives_the_ports_call():
    """Each body the unhooked port variants call stands for a primitive that
    vm_pvn.py really imports, and every port has its unhooked variant."""
    from pvnsim.vm import vm_pvn

    for name, body in vm_pvn._UNHOOKED_PRIMITIVES.items():
        public = getattr(vm_pvn, name)
        assert callable(public) and callable(body)
        assert body.__name__.lstrip("_") in (name.lower(), "vn_dispose", f"{name}"), name
    # pvn_init runs at boot, before anything could hook the kernel.
    ports = {n for n in vm_pvn.__all__ if n.startswith("pvn_")} - {"pvn_init"}
    assert ports <= set(vm_pvn._PORT_NAMESPACES)
    for name in ports:
        variant = vm_pvn._PORT_NAMESPACES[name]["unhooked"]
        assert variant is not vm_pvn._PORT_NAMESPACES[name]["fn"], name
        assert variant.__code__ is vm_pvn._PORT_NAMESPACES[name]["fn"].__code__, name


def test_a_port_on_an_unhooked_kernel_still_refuses_bad_input():
    """The unhooked variant runs the same argument checks as the traced one."""
    import pytest

    from pvnsim import pvn_getdirty
    from pvnsim.errors import UsageError

    k = Kernel(total_pages=16)
    vp = k.vnode("v1")
    pp = make_page(vp, 0)
    assert not k.hooked
    with pytest.raises(UsageError, match="locked"):
        pvn_getdirty(pp, 0)
