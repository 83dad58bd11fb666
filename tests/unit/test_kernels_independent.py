"""Several kernels live in one process without sharing anything."""

from __future__ import annotations

from pvnsim import (
    Kernel,
    SegMap,
    check_kernel,
    make_page,
    pvn_io_done,
    pvn_read_kluster,
    pvn_vplist_dirty,
)
from pvnsim.flags import P_MOD, P_REF, VMODSORT
from pvnsim.fs import make_putapage


def test_two_kernels_do_not_share_state():
    """Work in one kernel changes nothing in another, including tunables and markers."""
    a = Kernel(total_pages=64, minfree=0, throttlefree=0, pageout_reserve=0)
    b = Kernel(total_pages=64, pvn_vmodsort_disable=1)
    va = a.vnode("v1", v_flag=VMODSORT)
    vb = b.vnode("v1", v_flag=VMODSORT)  # same name, other kernel
    before = b.snapshot()
    kl = pvn_read_kluster(va, 0x3000, SegMap(a, "s"), 0x3000, 0, 0x8000, 0)
    assert kl is not None and len(kl.pages) == 8
    pvn_io_done(kl.plist)
    make_page(va, 0x10000, nrm=P_MOD | P_REF, at="tail")
    a.trace_on()
    assert pvn_vplist_dirty(va, 0x10000, make_putapage(8192), 0, None) == 0
    assert b.snapshot() == before
    assert len(b.trace) == 0
    assert a.pvn_vmodsort_supported == 1 and b.pvn_vmodsort_supported == 0
    assert a.marker_cache is not b.marker_cache
    assert b.freemem == 64
    assert vb.v_pages is None
    check_kernel(a)
    check_kernel(b)
